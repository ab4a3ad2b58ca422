//! Search through the API: every operator, ranking, snippets, the index
//! kept by every write (findable as soon as the 201 is answered, edits and
//! deletes), and hostile queries. Who may find what is `trust_visibility`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, open_db};

backend_tests!(
    search_operators,
    search_ranks_recent_exact_above_old_partial,
    search_index_follows_edits_and_deletes,
    search_snippets_are_safe_html,
    search_survives_hostile_queries,
    search_pages_with_a_cursor,
    search_reindex_rebuilds_while_serving,
    search_matches_after_an_activity,
);

/// The results for `q` (200 expected).
pub async fn search(app: &TestApp, q: &str) -> Value {
    search_with(app, &[("q", q)]).await
}

pub async fn search_with(app: &TestApp, params: &[(&str, &str)]) -> Value {
    let qs = serde_urlencoded::to_string(params).unwrap();
    expect(app.get(&format!("/search?{qs}")).await, StatusCode::OK).await
}

/// The titles of the results, in order.
pub fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn search_operators(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    ana.create_space(json!({"name": "Design", "slug": "design"}))
        .await;
    owner
        .create_space(json!({"name": "Finance", "slug": "finance"}))
        .await;
    // Findable as soon as the 201 is answered.
    let budget = owner
        .post_item(json!({"space": "finance", "title": "Quarterly budget", "body": "The budget for Q3 #money"}))
        .await;
    let page = search(&owner, "budget").await;
    assert_eq!(titles(&page), vec!["Quarterly budget"]);
    assert_eq!(page["items"][0]["item_id"], json!(budget));
    assert_eq!(page["items"][0]["space"]["slug"], "finance");
    assert_eq!(page["items"][0]["author"]["handle"], "owner");
    assert_eq!(page["counts"]["posts"], 1);

    ana.post_item(json!({"space": "design", "title": "Logo draft", "body": "A budget logo in blue, draft two"}))
        .await;
    ana.post_item(json!({"title": "Blue sky", "body": "Thinking about the budgets of colour"}))
        .await;
    ana.comment(&budget, "The budget looks thin to me").await;
    expect(
        ana.post(
            "/requests",
            json!({"kind": "request", "to": ["owner"], "title": "Approve the budget",
                   "conditions": "Signed off by finance"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Words (stemmed: budgets), AND.
    let all = search(&owner, "budget").await;
    assert_eq!(
        sorted(titles(&all)),
        sorted(vec![
            "Quarterly budget".into(),
            "Logo draft".into(),
            "Blue sky".into(),
            "Quarterly budget".into(),
            "Approve the budget".into(),
        ]),
        "{all}"
    );
    assert_eq!(all["counts"]["posts"], 5);
    assert_eq!(
        titles(&search(&owner, "budget logo").await),
        vec!["Logo draft"]
    );
    // A phrase.
    assert_eq!(
        titles(&search(&owner, "\"budget logo\"").await),
        vec!["Logo draft"]
    );
    assert!(titles(&search(&owner, "\"logo budget\"").await).is_empty());
    // Exclusion.
    let not_draft = search(&owner, "budget -draft -thin").await;
    assert_eq!(
        sorted(titles(&not_draft)),
        sorted(vec![
            "Quarterly budget".into(),
            "Blue sky".into(),
            "Approve the budget".into()
        ])
    );
    // from:, in:, type:, #topic, is:.
    assert_eq!(
        sorted(titles(&search(&owner, "budget from:@ana").await)),
        sorted(vec![
            "Logo draft".into(),
            "Blue sky".into(),
            "Quarterly budget".into(),
            "Approve the budget".into()
        ])
    );
    assert_eq!(
        titles(&search(&owner, "budget in:design").await),
        vec!["Logo draft"]
    );
    let comments = search(&owner, "budget type:comment").await;
    assert_eq!(titles(&comments), vec!["Quarterly budget"], "{comments}");
    assert_eq!(comments["items"][0]["kind"], "comment");
    assert!(comments["items"][0]["url"].as_str().unwrap().contains("#c"));
    assert_eq!(
        titles(&search_with(&owner, &[("q", "budget"), ("type", "request")]).await),
        vec!["Approve the budget"]
    );
    assert_eq!(
        titles(&search(&owner, "finance type:request").await),
        vec!["Approve the budget"],
        "a request's conditions are searched"
    );
    assert_eq!(
        titles(&search(&owner, "#money").await),
        vec!["Quarterly budget"]
    );
    assert_eq!(
        titles(&search(&owner, "budget is:open").await),
        vec!["Approve the budget"]
    );
    assert!(titles(&search(&owner, "budget is:done").await).is_empty());
    // Dates: everything was written today.
    assert_eq!(
        search(&owner, "budget after:2000-01-01").await["counts"]["posts"],
        5
    );
    assert!(titles(&search(&owner, "budget before:2000-01-01").await).is_empty());
    // Filters alone list by recency.
    assert_eq!(
        search(&owner, "from:@ana type:post").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Unknown names match nothing; unknown operators are words.
    assert!(titles(&search(&owner, "budget from:@nobody").await).is_empty());
    assert!(titles(&search(&owner, "budget in:nowhere").await).is_empty());
    assert_eq!(
        titles(&search(&owner, "draft:two").await),
        vec!["Logo draft"]
    );

    // People, spaces, topics; their tabs.
    let people = search(&owner, "ana").await;
    assert!(
        people["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "person" && h["url"] == "/members/ana")
    );
    assert_eq!(people["counts"]["people"], 1);
    let spaces = search_with(&owner, &[("q", "design"), ("tab", "spaces")]).await;
    assert_eq!(titles(&spaces), vec!["Design"]);
    assert_eq!(spaces["items"][0]["url"], "/spaces/design");
    let topics = search(&owner, "money type:topic").await;
    assert_eq!(titles(&topics), vec!["#money"]);
    let posts_tab = search_with(&owner, &[("q", "design"), ("tab", "posts")]).await;
    assert!(
        posts_tab["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["kind"] != "space")
    );

    // To-dos: only their owner finds them.
    expect(
        ana.post("/todos", json!({"title": "Renew the budget spreadsheet"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        titles(&search(&ana, "spreadsheet").await),
        vec!["Renew the budget spreadsheet"]
    );
    assert_eq!(
        search(&ana, "spreadsheet type:todo").await["items"][0]["item_kind"],
        "todo"
    );
    assert!(titles(&search(&owner, "spreadsheet").await).is_empty());

    // Bad parameters are problems; an empty query an empty page.
    for bad in [
        "/search?q=x&tab=nope",
        "/search?q=x&type=nope",
        "/search?q=x&sort=new",
    ] {
        let res = owner.get(bad).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(
        owner.get("/search?q=x&cursor=zz").await.status(),
        StatusCode::BAD_REQUEST
    );
    let empty = search(&owner, "").await;
    assert!(empty["items"].as_array().unwrap().is_empty());
    assert_eq!(empty["next"], Value::Null);
    owner.stop().await;
}

/// Moves a post back in time, as if written `days` ago.
async fn age(app: &TestApp, item: &str, days: i64) {
    let db = open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    let id: i64 = item.parse().unwrap();
    let t = store::now_micros() - days * 86_400_000_000;
    tx.execute(
        "UPDATE items SET created_at = $2 WHERE id = $1",
        store::params![id, t],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE search_docs SET created_at = $2 WHERE doc = 'item' AND source_id = $1",
        store::params![id, t],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
}

async fn search_ranks_recent_exact_above_old_partial(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let old = owner
        .post_item(json!({"title": "Notes", "body": format!(
            "The review went long. {} Later someone mentioned the launch again.",
            "Other things were said. ".repeat(20))}))
        .await;
    age(&owner, &old, 400).await;
    owner
        .post_item(json!({"title": "Launch review", "body": "The launch review is on Friday."}))
        .await;
    let page = search(&owner, "launch review").await;
    assert_eq!(titles(&page), vec!["Launch review", "Notes"], "{page}");
    // And a much older exact match still comes before an old partial one
    // of the same age.
    let exact_old = owner
        .post_item(json!({"title": "Launch review (2024)", "body": "launch review"}))
        .await;
    age(&owner, &exact_old, 400).await;
    let page = search(&owner, "\"launch review\"").await;
    assert_eq!(
        titles(&page),
        vec!["Launch review", "Launch review (2024)"],
        "{page}"
    );
    owner.stop().await;
}

async fn search_index_follows_edits_and_deletes(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let id = owner
        .post_item(json!({"title": "Offsite", "body": "We meet in Lisbon"}))
        .await;
    assert_eq!(titles(&search(&owner, "lisbon").await), vec!["Offsite"]);
    expect(
        owner
            .patch(&format!("/items/{id}"), json!({"body": "We meet in Porto"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(titles(&search(&owner, "lisbon").await).is_empty());
    assert_eq!(titles(&search(&owner, "porto").await), vec!["Offsite"]);

    let c = owner.comment(&id, "Bring a raincoat").await;
    assert_eq!(titles(&search(&owner, "raincoat").await), vec!["Offsite"]);
    // Comments have no edit in the API yet; the index follows the table.
    let cid: i64 = c["id"].as_str().unwrap().parse().unwrap();
    let db = open_db(&owner.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    tx.execute(
        "UPDATE comments SET body = 'Bring an umbrella' WHERE id = $1",
        store::params![cid],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(titles(&search(&owner, "raincoat").await).is_empty());
    assert_eq!(titles(&search(&owner, "umbrella").await), vec!["Offsite"]);
    let mut tx = db.write().await.unwrap();
    tx.execute(
        "UPDATE comments SET deleted_at = 1 WHERE id = $1",
        store::params![cid],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    assert!(titles(&search(&owner, "umbrella").await).is_empty());

    expect(
        owner.delete(&format!("/items/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(titles(&search(&owner, "porto").await).is_empty());

    // A profile.
    expect(
        owner
            .patch("/me", json!({"title": "Chief volcanologist"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        titles(&search(&owner, "volcanologist").await),
        vec!["Olga Owner"]
    );
    expect(
        owner.patch("/me", json!({"title": "Geologist"})).await,
        StatusCode::OK,
    )
    .await;
    assert!(titles(&search(&owner, "volcanologist").await).is_empty());

    // A space.
    owner
        .create_space(
            json!({"name": "Rockets", "slug": "rockets", "description": "Propulsion talk"}),
        )
        .await;
    assert_eq!(titles(&search(&owner, "propulsion").await), vec!["Rockets"]);
    expect(
        owner
            .patch("/spaces/rockets", json!({"description": "Engines"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(titles(&search(&owner, "propulsion").await).is_empty());
    assert_eq!(titles(&search(&owner, "engines").await), vec!["Rockets"]);
    owner.stop().await;
}

async fn search_snippets_are_safe_html(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner
        .post_item(json!({"title": "Markup", "body": "Try `<script>alert(1)</script>` and <b>bold</b> zebra & co"}))
        .await;
    let page = search(&owner, "zebra").await;
    let snippet = page["items"][0]["snippet_html"].as_str().unwrap();
    assert!(snippet.contains("<mark>zebra</mark>"), "{snippet}");
    assert!(
        !snippet.contains("<script") && !snippet.contains("<b>"),
        "{snippet}"
    );
    assert!(snippet.contains("&amp;"), "{snippet}");
    test_support::safety::assert_safe_html(snippet);

    let corpus = include_str!("../../../../testdata/xss-payloads.txt");
    for (n, p) in corpus.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let title: String = p.chars().take(200).collect();
        owner
            .post_item(json!({"title": title, "body": format!("{p} xssneedle{n}")}))
            .await;
    }
    let mut seen = 0;
    for (n, p) in corpus.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let page = search(&owner, &format!("xssneedle{n}")).await;
        let hits = page["items"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{p}");
        test_support::safety::assert_safe_html(hits[0]["snippet_html"].as_str().unwrap());
        // And the payload's own words as the query.
        let page = search(&owner, p).await;
        for h in page["items"].as_array().unwrap() {
            test_support::safety::assert_safe_html(h["snippet_html"].as_str().unwrap());
        }
        seen += 1;
    }
    assert!(seen > 10);
    owner.stop().await;
}

async fn search_survives_hostile_queries(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner
        .post_item(
            json!({"title": "Résumé", "body": "Ça marche 😀 שלום NEAR AND OR NOT budget* col:x"}),
        )
        .await;
    let corpus = include_str!("search_corpus.txt");
    let mut queries: Vec<String> = corpus.lines().map(str::to_owned).collect();
    queries.push("x".repeat(10_000));
    queries.push("\"".repeat(10_000));
    queries.push("a\u{0}b".into());
    queries.push("word ".repeat(2_000));
    for q in &queries {
        let qs = serde_urlencoded::to_string([("q", q.as_str())]).unwrap();
        let res = owner.get(&format!("/search?{qs}")).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
        assert!(body["items"].is_array(), "{q:?}: {body}");
    }
    // The accented, emoji and RTL words are found.
    for q in ["resume", "ca", "שלום", "near", "budget"] {
        assert_eq!(titles(&search(&owner, q).await), vec!["Résumé"], "{q}");
    }
    owner.stop().await;
}

async fn search_pages_with_a_cursor(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    for n in 0..7 {
        owner
            .post_item(json!({"title": format!("Pager {n}"), "body": "pagination test"}))
            .await;
    }
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let mut params = vec![("q", "pagination".to_owned()), ("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = search_with(&owner, &params).await;
        assert_eq!(page["counts"]["posts"], 7, "{page}");
        all.extend(titles(&page));
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], "Pager 6", "newest first among equals");
    assert_eq!(sorted(all.clone()).len(), {
        let mut d = all.clone();
        d.sort();
        d.dedup();
        d.len()
    });
    owner.stop().await;
}

/// Damages the index behind the server's back: drops every comment's
/// row, makes an item's text stale and adds a row for nothing.
async fn damage_index(app: &TestApp) {
    let db = open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    for sql in [
        "DELETE FROM search_docs WHERE doc = 'comment'",
        "UPDATE search_docs SET body = 'stale words' WHERE doc = 'item'",
        "INSERT INTO search_docs (doc, kind, source_id, item_id, created_at, title, body) \
         VALUES ('item', 'post', 999999, 999999, 1, 'Ghost', 'ghostly')",
    ] {
        tx.execute(sql, store::params![]).await.unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await;
}

async fn healthy(app: &TestApp) -> bool {
    titles(&search(app, "tugboats").await) == vec!["Harbour"]
        && titles(&search(app, "containers").await) == vec!["Harbour"]
        && titles(&search(app, "stale").await).is_empty()
        && {
            let db = open_db(&app.database_url, 1).await;
            let mut c = db.read().await.unwrap();
            let ghosts = c
                .query_one(
                    "SELECT COUNT(*) FROM search_docs WHERE source_id = 999999",
                    &[],
                )
                .await
                .unwrap()
                .i64(0)
                .unwrap();
            drop(c);
            db.close().await;
            ghosts == 0
        }
}

async fn search_reindex_rebuilds_while_serving(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let id = owner
        .post_item(json!({"title": "Harbour", "body": "Cranes and containers"}))
        .await;
    owner.comment(&id, "Tugboats at dawn").await;
    assert!(healthy(&owner).await);

    // Queued: the running server's job rebuilds it.
    damage_index(&owner).await;
    assert!(!healthy(&owner).await);
    let out = crate::ops::chorus()
        .args(["admin", "--database-url"])
        .arg(&owner.database_url)
        .arg("reindex")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Queued"));
    let started = std::time::Instant::now();
    while !healthy(&owner).await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "not rebuilt"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Now, in the command's own process, beside the server.
    damage_index(&owner).await;
    let out = crate::ops::chorus()
        .args(["admin", "--database-url"])
        .arg(&owner.database_url)
        .args(["reindex", "--now"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(healthy(&owner).await);
    owner.stop().await;
}

/// What a followed search delivers: the activities after N that made an
/// item or a comment the query matches and the viewer may see, ascending.
async fn search_matches_after_an_activity(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner
        .create_space(json!({"name": "Vault", "slug": "vault", "visibility": "closed"}))
        .await;
    let open = owner
        .post_item(json!({"title": "Harbour news", "body": "New cranes"}))
        .await;
    owner
        .post_item(json!({"space": "vault", "body": "Harbour secrets"}))
        .await;
    owner.post_item(json!({"body": "Nothing to see"})).await;
    let c = owner.comment(&open, "The harbour is busy").await;
    owner.comment(&open, "unrelated words").await;
    ana.post_item(json!({"body": "harbour -- mine"})).await;

    let db = open_db(&owner.database_url, 2).await;
    let ctx = server::context::Ctx::new(db.clone(), Default::default());
    let viewer = server::service::viewer::act_as(&ctx, &"ana".parse().unwrap())
        .await
        .unwrap();
    let q = domain::search::Query::parse("harbour");
    let found = server::service::search::matches_after(&ctx, &viewer, &q, 0, 10)
        .await
        .unwrap();
    let mut c2 = db.read().await.unwrap();
    let mut objects = Vec::new();
    for a in &found {
        let r = c2
            .query_one(
                "SELECT object_type, object_id FROM activities WHERE id = $1",
                store::params![*a],
            )
            .await
            .unwrap();
        objects.push((r.text(0).unwrap(), r.i64(1).unwrap().to_string()));
    }
    drop(c2);
    let cid = c["id"].as_str().unwrap().to_owned();
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert_eq!(objects[0], ("item".to_owned(), open.clone()));
    assert_eq!(objects[1], ("comment".to_owned(), cid));
    assert_eq!(objects[2].0, "item");
    assert!(found.windows(2).all(|w| w[0] < w[1]));
    // After the first, at most one.
    let rest = server::service::search::matches_after(&ctx, &viewer, &q, found[0], 1)
        .await
        .unwrap();
    assert_eq!(rest, vec![found[1]]);
    // The owner also gets the closed space's post.
    let owner_v = server::service::viewer::act_as(&ctx, &"owner".parse().unwrap())
        .await
        .unwrap();
    let all = server::service::search::matches_after(&ctx, &owner_v, &q, 0, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    // A filter holds too.
    let from_ana = domain::search::Query::parse("harbour from:@ana");
    let mine = server::service::search::matches_after(&ctx, &viewer, &from_ana, 0, 10)
        .await
        .unwrap();
    assert_eq!(mine, vec![found[2]]);
    db.close().await;
    owner.stop().await;
}
