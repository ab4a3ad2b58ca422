//! The social core through the API: spaces, items, follows, streams,
//! audiences, notifications, and the visibility rule on every read path.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, item_ids};

backend_tests!(
    acceptance_closed_space_mention_and_topic,
    visibility_table,
    items_edit_history_delete_and_comments,
    reactions_and_notifications,
    follows_levels_and_mute,
    spaces_lifecycle,
    audience_preview,
    stream_pages_and_query_counts,
    xss_corpus_never_reaches_html,
    seen_and_acknowledgements,
    stream_entries_show_every_change,
    notifications_show_plain_text,
);

/// The reactions shown with item `id` in `author`'s stream, as `who` sees it.
async fn stream_reactions(who: &TestApp, author: &str, id: &str) -> Value {
    let s = expect(
        who.get(&format!("/members/{author}/stream")).await,
        StatusCode::OK,
    )
    .await;
    post_entry(&s, id)["item"]["reactions"].clone()
}

/// The entry for the post of item `id` on a stream page.
fn post_entry<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["verb"] == "post" && e["item"]["id"] == id)
        .expect("the post on the page")
}

async fn acceptance_closed_space_mention_and_topic(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let a = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let cy = owner.new_member("cy", "member").await;
    let space = expect(
        a.post(
            "/spaces",
            json!({"name": "Launch crew", "visibility": "closed"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(space["slug"], "launch-crew");
    assert_eq!(space["membership"], "admin");
    // Bo asks to join; Ana is notified and approves.
    let j = expect(
        bo.post("/spaces/launch-crew/join", json!({"message": "me too"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(j["outcome"], "requested");
    let n = expect(a.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "join_request");
    let reqs = expect(a.get("/spaces/launch-crew/requests").await, StatusCode::OK).await;
    assert_eq!(reqs["items"][0]["handle"], "bo");
    expect(
        a.post("/spaces/launch-crew/requests/bo", json!({"approve": true}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let s = expect(bo.get("/spaces/launch-crew").await, StatusCode::OK).await;
    assert_eq!(s["membership"], "member");
    assert_eq!(s["member_count"], 2);
    // Bo posts mentioning Ana with a topic.
    let id = bo
        .post_item(json!({"space": "launch-crew", "body": "Ready for go, @ana? #launch"}))
        .await;
    let item = expect(bo.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert!(
        item["body_html"]
            .as_str()
            .unwrap()
            .contains("href=\"/members/ana\"")
    );
    assert_eq!(item["topics"], json!(["launch"]));
    assert_eq!(item["visible_to"]["count"], 2);
    // Ana sees it in home, the space, the topic, and has a mention.
    for path in [
        "/streams/home",
        "/spaces/launch-crew/stream",
        "/topics/launch/stream",
        "/streams/everything",
    ] {
        let page = expect(a.get(path).await, StatusCode::OK).await;
        assert!(item_ids(&page).contains(&id), "{path}: {page}");
    }
    let n = expect(a.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "mention");
    assert_eq!(n["items"][0]["activity"]["item"]["id"], id.as_str());
    assert_eq!(n["unread"], 2);
    // Cy, not a member, sees none of it anywhere.
    for path in [
        "/streams/home",
        "/topics/launch/stream",
        "/streams/everything",
        "/members/bo/stream",
    ] {
        let page = expect(cy.get(path).await, StatusCode::OK).await;
        assert!(
            !item_ids(&page).contains(&id),
            "{path} leaks to a non-member: {page}"
        );
    }
    expect_problem(
        cy.get(&format!("/items/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        cy.get(&format!("/items/{id}/comments")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        cy.get("/spaces/launch-crew/stream").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let res = cy
        .post(&format!("/items/{id}/comments"), json!({"body": "hi"}))
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    let res = cy
        .post(
            "/items",
            json!({"space": "launch-crew", "body": "let me in"}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let n = expect(cy.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["unread"], 0);
    owner.stop().await;
}

/// Every role × space kind × audience kind × membership, checked on the
/// item itself and on the Everything stream (both go through the rule).
async fn visibility_table(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let author = owner.new_member("author", "member").await;
    let admin = owner.new_member("adm", "admin").await;
    let insider = owner.new_member("insider", "member").await;
    let outsider = owner.new_member("outsider", "member").await;
    let guest_in = owner.new_member("guestin", "guest").await;
    let guest_out = owner.new_member("guestout", "guest").await;
    let gone = owner.new_member("gone", "member").await;
    let mut items = Vec::new();
    for vis in ["open", "closed", "secret"] {
        author
            .create_space(
                json!({"name": format!("S {vis}"), "slug": format!("s-{vis}"), "visibility": vis}),
            )
            .await;
        for h in ["insider", "guestin", "gone"] {
            author.add_to_space(&format!("s-{vis}"), h).await;
        }
        items.push((
            format!("space-{vis}"),
            author
                .post_item(json!({"space": format!("s-{vis}"), "body": format!("in {vis} #vt")}))
                .await,
        ));
    }
    items.push((
        "profile".into(),
        author.post_item(json!({"body": "on my profile #vt"})).await,
    ));
    items.push((
        "direct".into(),
        author
            .post_item(json!({"to": ["insider", "guestin", "gone"], "body": "just you #vt"}))
            .await,
    ));
    // Deactivate one member: they see nothing (their requests fail at the door).
    expect(
        owner
            .patch("/admin/members/gone", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    let viewers: Vec<(&str, &TestApp)> = vec![
        ("owner", &owner),
        ("admin", &admin),
        ("author", &author),
        ("insider", &insider),
        ("outsider", &outsider),
        ("guestin", &guest_in),
        ("guestout", &guest_out),
    ];
    // expected: which (viewer, item kind) pairs may see.
    let expect_visible = |viewer: &str, kind: &str| -> bool {
        match (viewer, kind) {
            ("author", _) => true,
            (_, "space-open") => viewer != "guestout",
            (_, "space-closed" | "space-secret") => viewer == "insider" || viewer == "guestin",
            (_, "profile") => !viewer.starts_with("guest"),
            (_, "direct") => viewer == "insider" || viewer == "guestin",
            _ => unreachable!(),
        }
    };
    for (vname, viewer) in &viewers {
        let everything = expect(
            viewer.get("/streams/everything?limit=100").await,
            StatusCode::OK,
        )
        .await;
        let topic = expect(
            viewer.get("/topics/vt/stream?limit=100").await,
            StatusCode::OK,
        )
        .await;
        let profile = expect(
            viewer.get("/members/author/stream?limit=100").await,
            StatusCode::OK,
        )
        .await;
        for (kind, id) in &items {
            let want = expect_visible(vname, kind);
            let res = viewer.get(&format!("/items/{id}")).await;
            assert_eq!(res.status() == StatusCode::OK, want, "{vname} GET {kind}");
            if !want {
                expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
            }
            for (name, page) in [
                ("everything", &everything),
                ("topic", &topic),
                ("profile", &profile),
            ] {
                assert_eq!(
                    item_ids(page).contains(id),
                    want,
                    "{vname} {name} stream, {kind}"
                );
            }
        }
    }
    // Secret space: a 404 to non-members, whatever their role.
    for v in [&owner, &admin, &outsider, &guest_out] {
        expect_problem(
            v.get("/spaces/s-secret").await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        expect_problem(
            v.get("/spaces/s-secret/stream").await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        expect_problem(
            v.post("/spaces/s-secret/join", json!({})).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        let res = v
            .post("/items", json!({"space": "s-secret", "body": "x"}))
            .await;
        expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    }
    // Closed: the name is visible to members of the org, not the content.
    expect(outsider.get("/spaces/s-closed").await, StatusCode::OK).await;
    expect_problem(
        guest_out.get("/spaces/s-closed").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let listed = expect(guest_in.get("/spaces").await, StatusCode::OK).await;
    let slugs: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["s-closed", "s-open", "s-secret"],
        "guests see only their spaces"
    );
    let listed = expect(outsider.get("/spaces").await, StatusCode::OK).await;
    let slugs: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["s-closed", "s-open"]);
    // The deactivated member's session no longer works at all.
    expect_problem(
        gone.get("/streams/everything").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    owner.stop().await;
}

async fn items_edit_history_delete_and_comments(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let id = ana
        .post_item(json!({"title": "Plan", "body": "First draft, ask @nobody"}))
        .await;
    let item = expect(ana.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert!(item["body_html"].as_str().unwrap().contains("@nobody"));
    assert!(
        !item["body_html"]
            .as_str()
            .unwrap()
            .contains("/members/nobody"),
        "unknown handles stay plain text"
    );
    let edited = expect(
        ana.patch(&format!("/items/{id}"), json!({"body": "Second draft"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["body"], "Second draft");
    assert!(edited["edited_at"].is_string());
    let revs = expect(
        ana.get(&format!("/items/{id}/revisions")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(revs["items"][0]["body"], "First draft, ask @nobody");
    // Only the author edits; others get 403 (they can see it).
    let res = owner
        .patch(&format!("/items/{id}"), json!({"body": "hijack"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = ana
        .patch(&format!("/items/{id}"), json!({"body": "   "}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = ana
        .post("/items", json!({"body": "x".repeat(20_001)}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Comments, oldest first.
    let c1 = owner.comment(&id, "Looks good").await;
    ana.comment(&id, "Thanks").await;
    let list = expect(
        ana.get(&format!("/items/{id}/comments")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"][0]["id"], c1["id"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Delete: tombstone, thread stays readable.
    let res = owner.browser().delete(&format!("/items/{id}")).await;
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect(
        ana.delete(&format!("/items/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let gone = expect(owner.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(gone["deleted"], true);
    assert_eq!(gone["body"], "");
    let list = expect(
        owner.get(&format!("/items/{id}/comments")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let res = owner
        .post(&format!("/items/{id}/comments"), json!({"body": "late"}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    let history = expect(
        owner.get(&format!("/items/{id}/stream")).await,
        StatusCode::OK,
    )
    .await;
    let verbs: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["delete", "comment", "comment", "update", "post"]);
    expect_problem(
        owner.get("/items/999999").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        owner.get("/items/abc").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    owner.stop().await;
}

async fn reactions_and_notifications(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let id = ana.post_item(json!({"body": "Shipped it"})).await;
    expect(
        bo.post(&format!("/items/{id}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect(
        bo.post(&format!("/items/{id}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect(
        owner
            .post(&format!("/items/{id}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let res = bo
        .post(&format!("/items/{id}/reactions"), json!({"emoji": "lol"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let item = expect(bo.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(
        item["reactions"],
        json!([{"emoji": "🎉", "count": 2, "me": true}])
    );
    expect(
        ana.post(&format!("/items/{id}/reactions"), json!({"emoji": "👍"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Streams read the counts kept with the item; they agree with the
    // item page, in first-used order, with the viewer's own marked.
    let item = expect(bo.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(
        item["reactions"],
        json!([{"emoji": "🎉", "count": 2, "me": true}, {"emoji": "👍", "count": 1, "me": false}])
    );
    assert_eq!(stream_reactions(&bo, "ana", &id).await, item["reactions"]);
    assert_eq!(
        stream_reactions(&ana, "ana", &id).await,
        json!([{"emoji": "🎉", "count": 2, "me": false}, {"emoji": "👍", "count": 1, "me": true}])
    );
    expect(
        ana.delete(&format!("/items/{id}/reactions/%F0%9F%91%8D"))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Comment reply → author notified; watcher (commenter) notified of later comments.
    let c = bo.comment(&id, "Congrats").await;
    owner.comment(&id, "Indeed").await;
    expect(
        ana.post(
            &format!("/items/{id}/reactions"),
            json!({"emoji": "👍", "comment_id": c["id"]}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let n = expect(ana.get("/notifications").await, StatusCode::OK).await;
    let reasons: Vec<&str> = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["reply", "reply", "reaction", "reaction"]);
    let n = expect(bo.get("/notifications").await, StatusCode::OK).await;
    let reasons: Vec<&str> = n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["reaction", "watching"]);
    assert_eq!(n["unread"], 2);
    let first = n["items"][0]["id"].as_str().unwrap();
    let u = expect(
        bo.post("/notifications/read", json!({"ids": [first]}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(u["unread"], 1);
    // Marking everything read is its own call: no ids is an error.
    let res = bo.post("/notifications/read", json!({})).await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("read-all"), "{p}");
    let n = expect(bo.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["unread"], 1, "nothing changed");
    let u = expect(
        bo.post("/notifications/read-all", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(u["unread"], 0);
    expect(
        bo.delete(&format!("/items/{id}/reactions/%F0%9F%8E%89"))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let item = expect(bo.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(
        item["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": false}])
    );
    assert_eq!(stream_reactions(&bo, "ana", &id).await, item["reactions"]);
    owner.stop().await;
}

async fn follows_levels_and_mute(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let before = ana.post_item(json!({"body": "before the follow"})).await;
    bo.follow_member("ana").await;
    let n = expect(ana.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "follower");
    let followers = expect(bo.get("/members/ana/followers").await, StatusCode::OK).await;
    assert_eq!(followers["items"][0]["handle"], "bo");
    let after = ana.post_item(json!({"body": "after the follow"})).await;
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert!(item_ids(&home).contains(&after));
    assert!(
        !item_ids(&home).contains(&before),
        "home is what arrived since following"
    );
    // A topic follow brings posts from people you do not follow.
    expect(
        bo.put(
            "/follows",
            json!({"target_type": "topic", "target": "#Hiring"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let hiring = owner.post_item(json!({"body": "We are #hiring"})).await;
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert!(item_ids(&home).contains(&hiring));
    let following = expect(bo.get("/members/bo/following").await, StatusCode::OK).await;
    let names: Vec<&str> = following["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"ana") && names.contains(&"hiring"),
        "{following}"
    );
    // Muting the author removes their activity from home.
    expect(
        bo.put(
            "/follows",
            json!({"target_type": "member", "target": "ana", "level": "muted"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert!(!item_ids(&home).contains(&after));
    // Bad input.
    let res = bo
        .put(
            "/follows",
            json!({"target_type": "planet", "target": "mars"}),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = bo
        .put(
            "/follows",
            json!({"target_type": "member", "target": "ana", "level": "stalking"}),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = bo
        .put(
            "/follows",
            json!({"target_type": "member", "target": "ghost"}),
        )
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    let res = bo
        .put("/follows", json!({"target_type": "member", "target": "bo"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    expect(
        bo.delete("/follows/topic/hiring").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_problem(
        bo.delete("/follows/topic/hiring").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    owner.stop().await;
}

async fn spaces_lifecycle(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let guest = owner.new_member("gil", "guest").await;
    let s = expect(
        ana.post(
            "/spaces",
            json!({"name": "Design Review!", "description": "Crits"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(s["slug"], "design-review");
    assert_eq!(s["visibility"], "open");
    assert!(s["address"].as_str().unwrap().starts_with("design-review@"));
    let res = bo.post("/spaces", json!({"name": "Design review"})).await;
    let p = expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(p["errors"][0]["field"], "slug");
    let res = bo
        .post("/spaces", json!({"name": "", "visibility": "public"}))
        .await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 2);
    let res = guest.post("/spaces", json!({"name": "Mine"})).await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Open: join at once; the space is then followed.
    let j = bo.join("design-review").await;
    assert_eq!(j["outcome"], "joined");
    let id = ana
        .post_item(json!({"space": "design-review", "body": "crit at 3"}))
        .await;
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert!(item_ids(&home).contains(&id));
    let members = expect(
        bo.get("/spaces/design-review/members").await,
        StatusCode::OK,
    )
    .await;
    let roles: Vec<(&str, &str)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["handle"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("ana", "admin"), ("bo", "member")]);
    // Members cannot edit; admins can; the only admin cannot leave.
    let res = bo
        .patch("/spaces/design-review", json!({"name": "Mine now"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = ana.post("/spaces/design-review/leave", json!({})).await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    expect(
        bo.post("/spaces/design-review/leave", json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Guests join only when added; adding notifies them.
    expect_problem(
        guest.get("/spaces/design-review").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect(
        ana.post("/spaces/design-review/members", json!({"handle": "gil"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let n = expect(guest.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "added_to_space");
    expect(
        guest.get("/spaces/design-review/stream").await,
        StatusCode::OK,
    )
    .await;
    // Archive: read-only.
    let s = expect(
        ana.patch("/spaces/design-review", json!({"archived": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["archived"], true);
    let res = ana
        .post(
            "/items",
            json!({"space": "design-review", "body": "still here?"}),
        )
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    expect(
        ana.patch("/spaces/design-review", json!({"archived": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    // Deny a request to a closed space.
    expect(
        ana.patch("/spaces/design-review", json!({"visibility": "closed"}))
            .await,
        StatusCode::OK,
    )
    .await;
    bo.join("design-review").await;
    expect(
        ana.post(
            "/spaces/design-review/requests/bo",
            json!({"approve": false}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let s = expect(bo.get("/spaces/design-review").await, StatusCode::OK).await;
    assert!(s["membership"].is_null());
    expect_problem(
        ana.post(
            "/spaces/design-review/requests/bo",
            json!({"approve": true}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    owner.stop().await;
}

async fn audience_preview(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner.new_member("bo", "member").await;
    owner.new_member("gus", "guest").await;
    ana.create_space(json!({"name": "Design", "visibility": "closed"}))
        .await;
    let a = expect(ana.get("/audience?profile").await, StatusCode::OK).await;
    assert_eq!(a["count"], 3, "everyone but the guest: {a}");
    assert!(a["label"].as_str().unwrap().starts_with("everyone at"));
    let a = expect(ana.get("/audience?space=design").await, StatusCode::OK).await;
    assert_eq!(a["count"], 1);
    assert_eq!(a["label"], "1 member of Design");
    let a = expect(ana.get("/audience?direct=bo").await, StatusCode::OK).await;
    assert_eq!(a["count"], 2);
    assert_eq!(a["label"], "bo and you");
    let people: Vec<&str> = a["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["handle"].as_str().unwrap())
        .collect();
    assert_eq!(people, ["bo", "ana"]);
    expect_problem(
        ana.get("/audience").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_problem(
        ana.get("/audience?space=nope").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // The same on the item.
    let id = ana
        .post_item(json!({"space": "design", "body": "hello"}))
        .await;
    let item = expect(ana.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(item["visible_to"]["label"], "1 member of Design");
    let res = ana
        .post("/items", json!({"to": ["ghost"], "body": "hello"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    owner.stop().await;
}

async fn stream_pages_and_query_counts(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner.follow_member("ana").await;
    let mut posted = Vec::new();
    for i in 0..25 {
        posted.push(
            ana.post_item(json!({"body": format!("post {i} #count")}))
                .await,
        );
    }
    posted.reverse();
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut counts = Vec::new();
    loop {
        let path = match &next {
            Some(c) => format!("/streams/home?limit=10&before={c}"),
            None => "/streams/home?limit=10".into(),
        };
        let res = owner.get(&path).await;
        counts.push(
            res.headers()["x-query-count"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
        let page = expect(res, StatusCode::OK).await;
        seen.extend(item_ids(&page));
        match page["next"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, posted, "every item once, newest first");
    assert!(
        counts.iter().all(|c| *c == counts[0]),
        "a page costs the same queries whatever it holds: {counts:?}"
    );
    let res = owner.get("/streams/home?limit=1000").await;
    let page = expect(res, StatusCode::OK).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        25,
        "capped at 100, 25 exist"
    );
    expect_problem(
        owner.get("/streams/home?before=bogus").await,
        StatusCode::BAD_REQUEST,
        "bad-cursor",
    )
    .await;
    owner.stop().await;
}

async fn xss_corpus_never_reaches_html(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let corpus = include_str!("../../../../testdata/xss-payloads.txt");
    let mut payloads: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();
    payloads.push(corpus);
    let id = owner.post_item(json!({"body": "thread"})).await;
    for p in payloads {
        let item = expect(owner.post("/items", json!({"title": p.lines().next().unwrap_or("").chars().take(200).collect::<String>(), "body": p})).await, StatusCode::CREATED).await;
        test_support::safety::assert_safe_html(item["body_html"].as_str().unwrap());
        let c = expect(
            owner
                .post(&format!("/items/{id}/comments"), json!({"body": p}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        test_support::safety::assert_safe_html(c["body_html"].as_str().unwrap());
    }
    owner.stop().await;
}

async fn seen_and_acknowledgements(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    owner.new_member("cy", "member").await;
    ana.create_space(json!({"name": "Ops", "visibility": "closed"}))
        .await;
    for h in ["bo", "cy"] {
        expect(
            ana.post("/spaces/ops/members", json!({"handle": h})).await,
            StatusCode::OK,
        )
        .await;
    }
    let id = ana.post_item(json!({"space": "ops", "body": "New on-call rota, please confirm", "ack_requested": true}),
    )
    .await;
    expect(
        bo.post(&format!("/items/{id}/seen"), json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect(
        bo.post(&format!("/items/{id}/seen"), json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let s = expect(bo.get(&format!("/items/{id}/seen")).await, StatusCode::OK).await;
    assert_eq!(s["count"], 1);
    assert!(
        s["people"].as_array().unwrap().is_empty(),
        "only the author sees who"
    );
    let s = expect(ana.get(&format!("/items/{id}/seen")).await, StatusCode::OK).await;
    assert_eq!(s["people"][0]["handle"], "bo");
    expect(
        bo.post(&format!("/items/{id}/acknowledgements"), json!({}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let a = expect(
        ana.get(&format!("/items/{id}/acknowledgements")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["count"], 1);
    assert_eq!(a["acknowledged"][0]["handle"], "bo");
    assert_eq!(a["pending_count"], 1);
    assert_eq!(a["pending"][0]["handle"], "cy");
    let a = expect(
        bo.get(&format!("/items/{id}/acknowledgements")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["me"], true);
    assert!(a["pending"].as_array().unwrap().is_empty());
    let res = ana
        .post(&format!("/items/{id}/acknowledgements"), json!({}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    let plain = ana.post_item(json!({"space": "ops", "body": "fyi"})).await;
    let res = bo
        .post(&format!("/items/{plain}/acknowledgements"), json!({}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    // Outsiders: not found.
    let res = owner.post(&format!("/items/{id}/seen"), json!({})).await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    owner.stop().await;
}

/// A stream page, read twice: on SQLite the second comes from rendered
/// entries, and must say exactly what the first said.
async fn twice(who: &TestApp, stream: &str) -> Value {
    let first = expect(who.get(stream).await, StatusCode::OK).await;
    let again = expect(who.get(stream).await, StatusCode::OK).await;
    assert_eq!(first, again, "a page read twice says the same");
    first
}

async fn home_twice(who: &TestApp) -> Value {
    twice(who, "/streams/home").await
}

/// Every change to what an entry shows (its text, its author's name, its
/// space's name, its comments, reactions, deletion) is on the next page
/// read, however the page is put together; and what is one viewer's own
/// (the reactions they made, whether they may see it) is never another's.
async fn stream_entries_show_every_change(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let cy = owner.new_member("cy", "member").await;
    ana.create_space(json!({"name": "Field notes"})).await;
    for who in [&bo, &cy] {
        who.join("field-notes").await;
    }
    let id = ana
        .post_item(json!({"space": "field-notes", "title": "Survey", "body": "First count"}))
        .await;
    let page = home_twice(&bo).await;
    let e = post_entry(&page, &id);
    assert_eq!(e["item"]["title"], "Survey");
    assert_eq!(e["actor"]["display_name"], "ana Person");
    assert_eq!(e["item"]["space"]["name"], "Field notes");

    expect(
        ana.patch(
            &format!("/items/{id}"),
            json!({"title": "Survey, day 2", "body": "Second count"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let page = home_twice(&bo).await;
    let e = post_entry(&page, &id);
    assert_eq!(e["item"]["title"], "Survey, day 2");
    assert!(
        e["item"]["body_html"]
            .as_str()
            .unwrap()
            .contains("Second count")
    );
    assert!(e["item"]["edited_at"].is_string());

    expect(
        ana.patch("/me", json!({"display_name": "Ana Lima"})).await,
        StatusCode::OK,
    )
    .await;
    let page = home_twice(&bo).await;
    let e = post_entry(&page, &id);
    assert_eq!(e["actor"]["display_name"], "Ana Lima");
    assert_eq!(e["item"]["author"]["display_name"], "Ana Lima");

    expect(
        ana.patch("/spaces/field-notes", json!({"name": "Field notes 2027"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let page = home_twice(&bo).await;
    assert_eq!(
        post_entry(&page, &id)["item"]["space"]["name"],
        "Field notes 2027"
    );

    // Reactions: the count is everyone's, `me` is each viewer's own.
    expect(
        cy.post(&format!("/items/{id}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let page = home_twice(&bo).await;
    assert_eq!(
        post_entry(&page, &id)["item"]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": false}])
    );
    let page = home_twice(&cy).await;
    assert_eq!(
        post_entry(&page, &id)["item"]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": true}])
    );

    // A comment counts on the post's entry, and has its own.
    cy.comment(&id, "Counted 12").await;
    let page = home_twice(&bo).await;
    assert_eq!(post_entry(&page, &id)["item"]["comment_count"], 1);

    // The space closes: Bo and Cy still belong, a newcomer does not.
    let dee = owner.new_member("dee", "member").await;
    let seen = twice(&dee, "/streams/everything").await;
    assert!(item_ids(&seen).contains(&id), "an open space's post");
    expect(
        ana.patch("/spaces/field-notes", json!({"visibility": "closed"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let seen = twice(&dee, "/streams/everything").await;
    assert!(
        !item_ids(&seen).contains(&id),
        "a closed space's post is not shown to one outside it"
    );
    assert!(item_ids(&home_twice(&bo).await).contains(&id));

    expect(
        ana.delete(&format!("/items/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let page = home_twice(&bo).await;
    let e = post_entry(&page, &id);
    assert_eq!(e["item"]["deleted"], true);
    assert_eq!(e["item"]["title"], "");
    assert_eq!(e["item"]["body_html"], "");
    owner.stop().await;
}

/// Where an item or a comment shows as text (a notification's item label
/// and comment excerpt, a stream entry's quoted item), it is the plain text
/// of its Markdown.
async fn notifications_show_plain_text(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let id = ana
        .post_item(json!({"body": "**Plan** for [the launch](https://x.io/l) & more"}))
        .await;
    bo.comment(&id, "Looks *good*:\n\n- `a < b`\n- [ok](https://x.io/ok)")
        .await;
    let res = ana.page("/notifications").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    assert!(
        html.contains("Plan for the launch (https://x.io/l) &#38; more"),
        "{html}"
    );
    assert!(
        html.contains("Looks good: a &#60; b ok (https://x.io/ok)"),
        "{html}"
    );
    // The home page's comment entry quotes the untitled item by its text,
    // though stream rows carry only the item's HTML.
    let home = ana.page("/").await.text().await.unwrap();
    assert!(
        home.contains("Plan for the launch (https://x.io/l)"),
        "{home}"
    );
    assert!(!home.contains(&format!(">item {id}<")), "{home}");
}
