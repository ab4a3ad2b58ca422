//! What a member may see stays what they may see: open live streams lose
//! the right with the credential, activities without an item pass the one
//! rule, counts equal what the viewer can open, and list mail, digests,
//! search and followed searches reach only who may see.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, open_db};

backend_tests!(
    trust_visibility_live_streams_close_when_the_right_goes,
    trust_visibility_activities_without_an_item_pass_the_rule,
    trust_visibility_counts_equal_what_can_be_opened,
    trust_visibility_mail_reaches_only_who_may_see,
    trust_visibility_search_suggestions_offer_only_what_may_be_seen,
    trust_visibility_search_finds_only_what_may_be_seen,
    trust_visibility_followed_searches_deliver_only_what_may_be_seen,
);

const WAIT: Duration = Duration::from_secs(5);

/// How the right to see can go while a stream is open.
#[derive(Debug, Clone, Copy)]
enum Loss {
    Deactivated,
    TokenRevoked,
    LoggedOut,
    PasswordChanged,
    DemotedToGuest,
}

async fn trust_visibility_live_streams_close_when_the_right_goes(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let losses = [
        Loss::Deactivated,
        Loss::TokenRevoked,
        Loss::LoggedOut,
        Loss::PasswordChanged,
        Loss::DemotedToGuest,
    ];
    for (n, loss) in losses.into_iter().enumerate() {
        let handle = format!("viewer{n}");
        let mut who = owner.new_member(&handle, "member").await;
        let token = match loss {
            Loss::TokenRevoked => {
                let t = expect(
                    who.post("/tokens", json!({"name": "live"})).await,
                    StatusCode::CREATED,
                )
                .await;
                Some((
                    t["id"].as_str().unwrap().to_owned(),
                    t["secret"].as_str().unwrap().to_owned(),
                ))
            }
            _ => None,
        };
        let bearer = token.as_ref().map(|t| t.1.as_str());
        let mut everything = who.sse_as("/streams/everything/events", None, bearer).await;
        let mut count = who.sse_as("/notifications/events", None, bearer).await;
        let first = count.next(WAIT).await.expect("the count on connect");
        assert_eq!(first.data["unread"], 0);
        // The stream works before: a profile post arrives.
        let before = owner
            .post_item(json!({"body": format!("before {n}")}))
            .await;
        let ev = everything.next(WAIT).await.expect("an event before");
        assert_eq!(ev.data["item"]["id"], before.as_str(), "{loss:?}");
        match loss {
            Loss::Deactivated => {
                expect(
                    owner
                        .patch(
                            &format!("/admin/members/{handle}"),
                            json!({"deactivated": true}),
                        )
                        .await,
                    StatusCode::OK,
                )
                .await;
            }
            Loss::TokenRevoked => {
                let id = &token.as_ref().unwrap().0;
                expect(
                    who.delete(&format!("/tokens/{id}")).await,
                    StatusCode::NO_CONTENT,
                )
                .await;
            }
            Loss::LoggedOut => {
                expect(who.delete("/session").await, StatusCode::NO_CONTENT).await;
            }
            Loss::PasswordChanged => {
                expect(
                    who.put(
                        "/me/password",
                        json!({"current_password": PASSWORD, "new_password": "another long secret"}),
                    )
                    .await,
                    StatusCode::NO_CONTENT,
                )
                .await;
            }
            Loss::DemotedToGuest => {
                expect(
                    owner
                        .patch(
                            &format!("/admin/members/{handle}"),
                            json!({"role": "guest"}),
                        )
                        .await,
                    StatusCode::OK,
                )
                .await;
            }
        }
        // A profile post, which a guest may not see, and a mention, which
        // wakes the notification count.
        let secret = format!("after-loss-{n} words");
        owner
            .post_item(json!({"body": format!("{secret} for @{handle}")}))
            .await;
        let (ended, events) = everything.ends_within(WAIT).await;
        assert!(ended, "{loss:?}: the stream closes once the right is gone");
        let shown: Vec<&Value> = events.iter().map(|e| &e.data).collect();
        assert!(
            !shown.iter().any(|d| d.to_string().contains(&secret)),
            "{loss:?}: nothing arrives after the right went: {shown:?}"
        );
        let (ended, events) = count.ends_within(WAIT).await;
        assert!(ended, "{loss:?}: the unread count closes too");
        assert!(
            events.is_empty(),
            "{loss:?}: no count after the loss: {events:?}"
        );
        // A new stream with the same credential is refused, except where
        // the credential itself still stands (a new role, a password
        // changed from this very session).
        match loss {
            Loss::DemotedToGuest | Loss::PasswordChanged => {}
            _ => {
                let res = match bearer {
                    Some(t) => reqwest::Client::new()
                        .get(who.url("/api/v1/streams/everything/events"))
                        .bearer_auth(t)
                        .send()
                        .await
                        .unwrap(),
                    None => who.page("/api/v1/streams/everything/events").await,
                };
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{loss:?}");
            }
        }
        if let Loss::DemotedToGuest = loss {
            // Reconnected as a guest, the profile post stays hidden.
            let mut again = who.sse("/streams/everything/events", Some(&before)).await;
            let shown = again.next(Duration::from_millis(800)).await;
            assert!(
                shown.is_none_or(|e| !e.data.to_string().contains(&secret)),
                "a guest never gets the profile post"
            );
        }
        who.csrf = None;
    }
    owner.stop().await;
}

/// The ids of a space's activities, as one of its members reads them.
async fn space_activities(member: &TestApp, slug: &str) -> Vec<(String, String)> {
    let page = expect(
        member
            .get(&format!("/spaces/{slug}/stream?limit=100"))
            .await,
        StatusCode::OK,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["actor"]["handle"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Whether `who` gets the page fragment of activity `id`.
async fn sees_fragment(who: &TestApp, id: &str) -> bool {
    let res = who.page(&format!("/fragments/activities/{id}")).await;
    match res.status() {
        StatusCode::OK => true,
        StatusCode::NO_CONTENT => false,
        s => panic!("fragment {id}: {s}"),
    }
}

async fn trust_visibility_activities_without_an_item_pass_the_rule(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let gus = owner.new_member("gus", "guest").await;
    for (slug, vis) in [("hush", "secret"), ("circle", "closed"), ("field", "open")] {
        owner
            .create_space(json!({"name": format!("Space {slug}"), "slug": slug, "visibility": vis}))
            .await;
    }
    for slug in ["hush", "circle"] {
        owner.add_to_space(slug, "ana").await;
    }
    // Bo asks to join the closed space; Ana joins the open one.
    let j = expect(
        bo.post("/spaces/circle/join", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(j["outcome"], "requested");
    ana.join("field").await;

    let hush = space_activities(&ana, "hush").await;
    let circle = space_activities(&ana, "circle").await;
    let field = space_activities(&ana, "field").await;
    assert!(hush.len() >= 2 && circle.len() >= 3 && field.len() >= 2);
    for (id, _) in hush.iter().chain(&circle).chain(&field) {
        assert!(sees_fragment(&ana, id).await, "a member sees activity {id}");
    }
    for (id, actor) in hush.iter().chain(&circle) {
        // Bo sees his own request to join, nothing else of either space.
        assert_eq!(
            sees_fragment(&bo, id).await,
            actor == "bo",
            "an outsider and activity {id} by {actor}"
        );
        assert!(!sees_fragment(&gus, id).await, "a guest and activity {id}");
    }
    for (id, _) in &field {
        assert!(
            sees_fragment(&bo, id).await,
            "the open space's activity {id}"
        );
        assert!(
            !sees_fragment(&gus, id).await,
            "a guest outside the open space, {id}"
        );
    }
    // Nor do they reach Bo's or the guest's home and notifications.
    for who in [&bo, &gus] {
        let home = expect(who.get("/streams/home").await, StatusCode::OK).await;
        let notes = expect(who.get("/notifications").await, StatusCode::OK).await;
        let shown: Vec<&str> = home["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .chain(
                notes["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["activity"]["id"].as_str().unwrap()),
            )
            .collect();
        for (id, actor) in hush.iter().chain(&circle) {
            assert!(
                actor == "bo" || !shown.contains(&id.as_str()),
                "{id} shown: {shown:?}"
            );
        }
    }
    owner.stop().await;
}

async fn trust_visibility_counts_equal_what_can_be_opened(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner
        .create_space(
            json!({"name": "Closedcircle Team", "slug": "circle", "visibility": "closed"}),
        )
        .await;
    owner.add_to_space("circle", "ana").await;
    // A request to Ana in the closed space, and a mention of her there.
    expect(
        owner
            .post(
                "/requests",
                json!({"to": ["ana"], "title": "Review the plan", "space": "circle"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    owner
        .post_item(json!({"body": "over to you @ana", "space": "circle"}))
        .await;
    let work = expect(ana.get("/work").await, StatusCode::OK).await;
    assert_eq!(work["counts"]["waiting_on_me"], 1, "{work}");
    let notes = expect(ana.get("/notifications").await, StatusCode::OK).await;
    assert!(notes["unread"].as_i64().unwrap() >= 2, "{notes}");

    // Ana is removed from the space: what she can no longer open is no
    // longer counted or listed.
    expect(
        owner.delete("/spaces/circle/members/ana").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let work = expect(ana.get("/work").await, StatusCode::OK).await;
    assert_eq!(work["counts"]["waiting_on_me"], 0, "{work}");
    assert!(
        !work.to_string().contains("Review the plan"),
        "My work lists nothing she cannot open: {work}"
    );
    let notes = expect(ana.get("/notifications").await, StatusCode::OK).await;
    let listed = notes["items"].as_array().unwrap();
    let unread_listed = listed.iter().filter(|n| n["read"] == false).count() as i64;
    assert_eq!(
        notes["unread"].as_i64().unwrap(),
        unread_listed,
        "the unread count is what the list shows: {notes}"
    );
    let page = ana.page("/").await.text().await.unwrap();
    assert!(!page.contains("Review the plan"));
    owner.stop().await;
}

/// Mail as a surface: list mode on in every space for every viewer (by the
/// API where they may turn it on, forced in the store where they may not,
/// and again after they lost the right), one post in each space, and the
/// SMTP sink gets each post for exactly those the rule lets see it; the
/// next day's digests name a post only to those too.
async fn trust_visibility_mail_reaches_only_who_may_see(b: Backend) {
    use std::collections::BTreeSet;
    let sink = crate::mail::Sink::start().await;
    let relay = sink.relay();
    let mut owner = TestApp::spawn_with(b, |s| {
        s.mail_relay = Some(relay);
        s.base_url = Some("http://chorus.test".into());
        s.mail_domain = Some("lists.chorus.test".into());
    })
    .await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let mut cast = Vec::new();
    for (h, role) in [
        ("sec", "member"),
        ("clo", "member"),
        ("opn", "member"),
        ("out", "member"),
        ("gin", "guest"),
        ("gout", "guest"),
        ("left", "member"),
        ("gone", "member"),
        ("dem", "member"),
    ] {
        cast.push((h, owner.new_member(h, role).await));
    }
    let spaces = [("hush", "secret"), ("circle", "closed"), ("field", "open")];
    for (slug, vis) in spaces {
        ana.create_space(json!({"name": format!("Space {slug}"), "slug": slug, "visibility": vis}))
            .await;
    }
    for (slug, who) in [
        ("hush", "sec"),
        ("hush", "left"),
        ("hush", "gone"),
        ("circle", "clo"),
        ("circle", "left"),
        ("circle", "gone"),
        ("field", "opn"),
        ("field", "gin"),
        ("field", "gone"),
    ] {
        ana.add_to_space(slug, who).await;
    }
    // Who may turn list mode on now: who may read the space's content.
    let may_read = |slug: &str, who: &str| match slug {
        "hush" => ["sec", "left", "gone"].contains(&who),
        "circle" => ["clo", "left", "gone"].contains(&who),
        _ => !["gout"].contains(&who),
    };
    let mut everyone: Vec<(&str, &TestApp)> = vec![("owner", &owner)];
    everyone.extend(cast.iter().map(|(h, a)| (*h, a)));
    for (who, app) in &everyone {
        for (slug, _) in spaces {
            let res = app
                .put(&format!("/spaces/{slug}/mail"), json!({"list_mode": true}))
                .await;
            if may_read(slug, who) {
                assert_eq!(res.status(), StatusCode::OK, "{who} in {slug}");
            } else {
                assert!(
                    [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&res.status()),
                    "{who} in {slug}: {}",
                    res.status()
                );
            }
        }
    }
    // The rights go: removed from the secret and closed spaces,
    // deactivated, made a guest.
    for slug in ["hush", "circle"] {
        expect(
            ana.delete(&format!("/spaces/{slug}/members/left")).await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    for (who, change) in [
        ("gone", json!({"deactivated": true})),
        ("dem", json!({"role": "guest"})),
    ] {
        expect(
            owner.patch(&format!("/admin/members/{who}"), change).await,
            StatusCode::OK,
        )
        .await;
    }
    // Everyone in list mode everywhere, whatever the page allowed.
    let db = open_db(&owner.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    tx.execute(
        "INSERT INTO list_mode (space_id, member_id, created_at)
         SELECT s.id, m.id, 0 FROM spaces s, members m WHERE 1 = 1
         ON CONFLICT (space_id, member_id) DO NOTHING",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    // The digests' clock starts before the posts (a first run sends
    // nothing), so tomorrow's digests cover them.
    let start = store::now_micros();
    crate::digest::run_at(&owner, start).await;
    crate::mail::mail_settled(&owner).await;
    sink.clear();
    for (slug, _) in spaces {
        ana.post_item(json!({"space": slug, "body": format!("qz{slug}qz")}))
            .await;
    }
    crate::mail::mail_settled(&owner).await;
    let expected = |slug: &str| -> BTreeSet<String> {
        let who: &[&str] = match slug {
            "hush" => &["sec"],
            "circle" => &["clo"],
            _ => &["owner", "sec", "clo", "opn", "out", "gin", "left"],
        };
        who.iter().map(|w| format!("{w}@acme.test")).collect()
    };
    let got = sink.received();
    for (slug, _) in spaces {
        let to: BTreeSet<String> = got
            .iter()
            .filter(|m| m.text().contains(&format!("qz{slug}qz")))
            .flat_map(|m| m.rcpt.clone())
            .collect();
        assert_eq!(to, expected(slug), "the list mail of {slug}");
    }
    assert_eq!(
        got.len(),
        spaces.iter().map(|(s, _)| expected(s).len()).sum::<usize>(),
        "each mail once"
    );
    // The daily digest (everyone's hour is 08:00 UTC by default) names a
    // post only to whom may see it.
    sink.clear();
    let tomorrow = jiff::Timestamp::from_microsecond(start)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .tomorrow()
        .unwrap()
        .at(8, 30, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_microsecond();
    crate::digest::run_at(&owner, tomorrow).await;
    crate::mail::mail_settled(&owner).await;
    let got = sink.received();
    for (slug, _) in spaces {
        let to: BTreeSet<String> = got
            .iter()
            .filter(|m| m.text().contains(&format!("qz{slug}qz")))
            .flat_map(|m| m.rcpt.clone())
            .collect();
        assert!(
            to.is_subset(&expected(slug)),
            "the digests of {slug}: {to:?}"
        );
    }
    // Not empty by accident: members of the secret and closed spaces, who
    // follow them, are told of their posts.
    for (slug, who) in [("hush", "sec"), ("circle", "clo")] {
        assert!(
            got.iter()
                .any(|m| m.rcpt == vec![format!("{who}@acme.test")]
                    && m.text().contains(&format!("qz{slug}qz"))),
            "{who}'s digest names the post in {slug}"
        );
    }
    owner.stop().await;
}

/// The search box's suggestions as a surface: every viewer × every kind of
/// space and audience, typing a prefix that all the spaces, topics and
/// people share, is offered exactly what the rule lets them see.
async fn trust_visibility_search_suggestions_offer_only_what_may_be_seen(b: Backend) {
    use std::collections::BTreeSet;
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let mut cast = Vec::new();
    for (h, role) in [
        ("sec", "member"),
        ("clo", "member"),
        ("opn", "member"),
        ("out", "member"),
        ("gin", "guest"),
        ("gout", "guest"),
        ("left", "member"),
        ("dem", "member"),
    ] {
        let who = owner.new_member(h, role).await;
        expect(
            who.patch("/me", json!({"display_name": format!("Qz {h}")}))
                .await,
            StatusCode::OK,
        )
        .await;
        cast.push((h, who));
    }
    for (slug, vis) in [
        ("qzhush", "secret"),
        ("qzcircle", "closed"),
        ("qzfield", "open"),
    ] {
        owner
            .create_space(json!({"name": format!("Qz {slug}"), "slug": slug, "visibility": vis}))
            .await;
        owner
            .post_item(json!({"space": slug, "body": format!("in {slug} #{slug}-topic")}))
            .await;
    }
    for (slug, who) in [
        ("qzhush", "sec"),
        ("qzhush", "left"),
        ("qzcircle", "clo"),
        ("qzcircle", "left"),
        ("qzfield", "opn"),
        ("qzfield", "gin"),
    ] {
        owner.add_to_space(slug, who).await;
    }
    owner
        .post_item(json!({"body": "on a profile #qzprofile-topic"}))
        .await;
    owner
        .post_item(json!({"to": ["sec"], "body": "just us #qzdirect-topic"}))
        .await;
    for slug in ["qzhush", "qzcircle"] {
        expect(
            owner.delete(&format!("/spaces/{slug}/members/left")).await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    expect(
        owner
            .patch("/admin/members/dem", json!({"role": "guest"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let set = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<BTreeSet<_>>();
    let everyone = ["sec", "clo", "opn", "out", "gin", "gout", "left", "dem"];
    let member_topics = ["qzcircle-topic", "qzfield-topic", "qzprofile-topic"];
    let mut viewers: Vec<(&str, &TestApp)> = vec![("owner", &owner)];
    viewers.extend(cast.iter().map(|(h, a)| (*h, a)));
    for (who, app) in viewers {
        let (spaces, topics, people): (Vec<&str>, Vec<&str>, Vec<&str>) = match who {
            "owner" => (
                vec!["qzhush", "qzcircle", "qzfield"],
                [&member_topics[..], &["qzhush-topic", "qzdirect-topic"]].concat(),
                everyone.to_vec(),
            ),
            "sec" => (
                vec!["qzhush", "qzcircle", "qzfield"],
                vec![
                    "qzhush-topic",
                    "qzdirect-topic",
                    "qzfield-topic",
                    "qzprofile-topic",
                ],
                everyone.to_vec(),
            ),
            "clo" => (
                vec!["qzcircle", "qzfield"],
                member_topics.to_vec(),
                everyone.to_vec(),
            ),
            "gin" => (vec!["qzfield"], vec!["qzfield-topic"], vec!["opn", "gin"]),
            "gout" | "dem" => (vec![], vec![], vec![who]),
            // Open and closed spaces, topics on what every member sees;
            // not the closed space's topic (its items are members' only).
            _ => (
                vec!["qzcircle", "qzfield"],
                vec!["qzfield-topic", "qzprofile-topic"],
                everyone.to_vec(),
            ),
        };
        let s = expect(app.get("/suggestions/search?q=qz").await, StatusCode::OK).await;
        let got = |key: &str, field: &str| -> BTreeSet<String> {
            s[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| match field {
                    "" => x.as_str().unwrap().to_owned(),
                    f => x[f].as_str().unwrap().to_owned(),
                })
                .collect()
        };
        // A few of each kind are offered (4 spaces, 4 topics, 5 people),
        // all of them among those allowed.
        for (key, field, allowed, most) in [
            ("spaces", "slug", &spaces, 4),
            ("topics", "", &topics, 4),
            ("people", "handle", &people, 5),
        ] {
            let offered = got(key, field);
            assert!(
                offered.is_subset(&set(allowed)) && offered.len() == allowed.len().min(most),
                "{who}'s {key}: {s}"
            );
        }
        // By an operator, each kind alone (8 at most), all of them.
        for (typed, key, field, want) in [
            ("in:qz", "spaces", "slug", set(&spaces)),
            ("#qz", "topics", "", set(&topics)),
        ] {
            let s2 = expect(
                app.get(&format!(
                    "/suggestions/search?q={}",
                    typed.replace('#', "%23")
                ))
                .await,
                StatusCode::OK,
            )
            .await;
            let got: BTreeSet<String> = s2[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| match field {
                    "" => x.as_str().unwrap().to_owned(),
                    f => x[f].as_str().unwrap().to_owned(),
                })
                .collect();
            assert_eq!(got, want, "{who} typing {typed}: {s2}");
        }
    }
    owner.stop().await;
}

/// Search as a surface: every viewer × every kind of space and audience,
/// searching a word only the hidden item holds (and one only a comment on
/// it holds): those who may see it find it, the others find nothing, and
/// no count reveals it. A word every item holds counts exactly what the
/// viewer may open. A space's name, a to-do and a person follow their own
/// rules.
async fn trust_visibility_search_finds_only_what_may_be_seen(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let author = owner.new_member("author", "member").await;
    let admin = owner.new_member("adm", "admin").await;
    let insider = owner.new_member("insider", "member").await;
    let outsider = owner.new_member("outsider", "member").await;
    let guest_in = owner.new_member("guestin", "guest").await;
    let guest_out = owner.new_member("guestout", "guest").await;
    owner.new_member("gone", "member").await;
    // (audience, the item's word, its comment's word)
    let mut hidden: Vec<(String, String, String)> = Vec::new();
    for vis in ["open", "closed", "secret"] {
        author
            .create_space(
                json!({"name": format!("Zqname{vis}zq"), "slug": format!("s-{vis}"),
                "visibility": vis, "description": format!("zqdesc{vis}zq")}),
            )
            .await;
        for h in ["insider", "guestin", "gone"] {
            author.add_to_space(&format!("s-{vis}"), h).await;
        }
        let id = author
            .post_item(
                json!({"space": format!("s-{vis}"), "title": "Shared word zqallzq",
                "body": format!("zqitem{vis}zq #zqtag{vis}zq")}),
            )
            .await;
        author.comment(&id, &format!("zqcomment{vis}zq")).await;
        hidden.push((
            format!("space-{vis}"),
            format!("zqitem{vis}zq"),
            format!("zqcomment{vis}zq"),
        ));
    }
    let id = author
        .post_item(json!({"title": "Shared word zqallzq", "body": "zqitemprofilezq"}))
        .await;
    author.comment(&id, "zqcommentprofilezq").await;
    hidden.push((
        "profile".into(),
        "zqitemprofilezq".into(),
        "zqcommentprofilezq".into(),
    ));
    let id = author
        .post_item(
            json!({"to": ["insider", "guestin", "gone"], "title": "Shared word zqallzq",
            "body": "zqitemdirectzq"}),
        )
        .await;
    author.comment(&id, "zqcommentdirectzq").await;
    hidden.push((
        "direct".into(),
        "zqitemdirectzq".into(),
        "zqcommentdirectzq".into(),
    ));
    expect(
        author
            .post("/todos", json!({"title": "zqtodozq private"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
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
    let may_see = |viewer: &str, audience: &str| -> bool {
        match (viewer, audience) {
            ("author", _) => true,
            (_, "space-open") => viewer != "guestout",
            (_, "space-closed" | "space-secret") => viewer == "insider" || viewer == "guestin",
            (_, "profile") => !viewer.starts_with("guest"),
            (_, "direct") => viewer == "insider" || viewer == "guestin",
            _ => unreachable!(),
        }
    };
    let total = |page: &Value| page["counts"]["everything"].as_u64().unwrap();
    async fn search(who: &TestApp, q: String) -> Value {
        let qs = serde_urlencoded::to_string([("q", q)]).unwrap();
        expect(
            who.get(&format!("/search?{qs}&limit=100")).await,
            StatusCode::OK,
        )
        .await
    }
    for (vname, viewer) in &viewers {
        let mut visible_docs = 0;
        for (audience, item_word, comment_word) in &hidden {
            let allowed = may_see(vname, audience);
            for (word, kind) in [(item_word, "item"), (comment_word, "comment")] {
                let page = search(viewer, word.clone()).await;
                let hits = page["items"].as_array().unwrap();
                // The results page: the same hits, the same counts.
                let shown = results_page(viewer, word).await;
                assert_eq!(
                    shown,
                    (usize::from(allowed), u64::from(allowed)),
                    "{vname}'s page for the {audience} {kind}"
                );
                if allowed {
                    assert_eq!(hits.len(), 1, "{vname} finds the {audience} {kind}: {page}");
                    assert_eq!(hits[0]["kind"], kind);
                    assert_eq!(total(&page), 1, "{vname}: {page}");
                } else {
                    assert!(
                        hits.is_empty(),
                        "{vname} finds the {audience} {kind}: {page}"
                    );
                    assert_eq!(total(&page), 0, "{vname}: {page}");
                    assert_eq!(page["counts"]["posts"], 0);
                    assert!(!page.to_string().contains(word.as_str()));
                }
            }
            // By topic, and among the words of every item.
            let tag = audience
                .strip_prefix("space-")
                .map(|v| format!("#zqtag{v}zq"));
            if let Some(tag) = tag {
                let page = search(viewer, tag.clone()).await;
                assert_eq!(total(&page), u64::from(allowed), "{vname} {tag}: {page}");
                let topic = search(viewer, format!("{} type:topic", &tag[1..])).await;
                assert_eq!(
                    total(&topic),
                    u64::from(allowed),
                    "{vname} topic {tag}: {topic}"
                );
            }
            if allowed {
                visible_docs += 1;
            }
        }
        // The shared word: exactly the items the viewer may open.
        let page = search(viewer, "zqallzq".into()).await;
        assert_eq!(total(&page), visible_docs, "{vname}: {page}");
        assert_eq!(page["items"].as_array().unwrap().len() as u64, visible_docs);

        // Spaces: a secret one only for its members, none for a guest
        // outside them.
        for vis in ["open", "closed", "secret"] {
            let knows = match (*vname, vis) {
                ("author" | "insider" | "guestin", _) => true,
                ("guestout", _) => false,
                (_, "secret") => false,
                _ => true,
            };
            for word in [format!("zqname{vis}zq"), format!("zqdesc{vis}zq")] {
                let page = search(viewer, word.clone()).await;
                assert_eq!(total(&page), u64::from(knows), "{vname} {word}: {page}");
                assert_eq!(page["counts"]["spaces"], u64::from(knows));
            }
        }
        // A to-do: its owner only.
        let page = search(viewer, "zqtodozq".into()).await;
        assert_eq!(
            total(&page),
            u64::from(*vname == "author"),
            "{vname}: {page}"
        );
        // People: a guest finds only the people of their spaces; nobody
        // finds a deactivated member.
        for (person, found) in [
            (
                "outsider",
                !vname.starts_with("guest") || *vname == "outsider",
            ),
            ("insider", *vname != "guestout"),
            ("gone", false),
        ] {
            let page = search(viewer, format!("{person} type:person")).await;
            assert_eq!(
                total(&page),
                u64::from(found),
                "{vname} finds {person}: {page}"
            );
        }
    }
    owner.stop().await;
}

/// The results page's hits and its Everything count, for `q`.
async fn results_page(who: &TestApp, q: &str) -> (usize, u64) {
    let qs = serde_urlencoded::to_string([("q", q)]).unwrap();
    let res = who.page(&format!("/search?{qs}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let count = html
        .split("aria-current=\"page\">Everything <span class=\"n\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the Everything tab's count: {html}"));
    (html.matches("class=\"hit card\"").count(), count)
}

/// Followed searches as a surface: every viewer follows (at "watching") a
/// search for a word only the posts and comments of this test hold, in
/// every kind of space and audience; the job delivers to each exactly what
/// they may see (never their own, nothing to the deactivated), and notifies
/// of the same.
async fn trust_visibility_followed_searches_deliver_only_what_may_be_seen(b: Backend) {
    use std::collections::{BTreeMap, BTreeSet};
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let author = owner.new_member("author", "member").await;
    let admin = owner.new_member("adm", "admin").await;
    let insider = owner.new_member("insider", "member").await;
    let outsider = owner.new_member("outsider", "member").await;
    let guest_in = owner.new_member("guestin", "guest").await;
    let guest_out = owner.new_member("guestout", "guest").await;
    let gone = owner.new_member("gone", "member").await;
    let viewers: Vec<(&str, &TestApp)> = vec![
        ("owner", &owner),
        ("author", &author),
        ("adm", &admin),
        ("insider", &insider),
        ("outsider", &outsider),
        ("guestin", &guest_in),
        ("guestout", &guest_out),
        ("gone", &gone),
    ];
    for (_, app) in &viewers {
        expect(
            app.post(
                "/searches",
                json!({"query": "qzfindmeqz", "level": "watching"}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let mut items: Vec<(&str, String)> = Vec::new();
    for vis in ["open", "closed", "secret"] {
        let slug = format!("f-{vis}");
        author
            .create_space(json!({"name": format!("F {vis}"), "slug": slug, "visibility": vis}))
            .await;
        for h in ["insider", "guestin", "gone"] {
            author.add_to_space(&slug, h).await;
        }
        let kind = match vis {
            "open" => "space-open",
            "closed" => "space-closed",
            _ => "space-secret",
        };
        items.push((
            kind,
            author
                .post_item(json!({"space": slug, "body": format!("post qzfindmeqz in {vis}")}))
                .await,
        ));
    }
    items.push((
        "profile",
        author
            .post_item(json!({"body": "qzfindmeqz on my profile"}))
            .await,
    ));
    items.push((
        "direct",
        author
            .post_item(json!({"to": ["insider", "guestin", "gone"], "body": "qzfindmeqz for you"}))
            .await,
    ));
    // A matching comment on an item whose post does not match.
    let quiet = author
        .post_item(json!({"space": "f-secret", "body": "nothing to see"}))
        .await;
    author.comment(&quiet, "but qzfindmeqz here").await;
    items.push(("space-secret", quiet));
    expect(
        owner
            .patch("/admin/members/gone", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    crate::searches::run_matching(&owner).await;
    let may_see = |viewer: &str, kind: &str| -> bool {
        match (viewer, kind) {
            // Never one's own, nothing to the deactivated.
            ("author" | "gone", _) => false,
            (_, "space-open") => viewer != "guestout",
            (_, "space-closed" | "space-secret") => viewer == "insider" || viewer == "guestin",
            (_, "profile") => !viewer.starts_with("guest"),
            (_, "direct") => viewer == "insider" || viewer == "guestin",
            _ => unreachable!(),
        }
    };
    // What the job delivered, as the database holds it.
    let db = open_db(&owner.database_url, 1).await;
    let mut c = db.read().await.unwrap();
    let rows = c
        .query(
            "SELECT m.handle, a.item_id FROM search_deliveries d
             JOIN members m ON m.id = d.member_id JOIN activities a ON a.id = d.activity_id",
            &[],
        )
        .await
        .unwrap();
    drop(c);
    db.close().await;
    let mut delivered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        delivered
            .entry(r.text(0).unwrap())
            .or_default()
            .insert(r.i64(1).unwrap().to_string());
    }
    for (who, app) in &viewers {
        let expected: BTreeSet<String> = items
            .iter()
            .filter(|(kind, _)| may_see(who, kind))
            .map(|(_, id)| id.clone())
            .collect();
        let got = delivered.get(*who).cloned().unwrap_or_default();
        assert_eq!(got, expected, "delivered to {who}");
        if *who == "gone" {
            continue;
        }
        let notes = expect(app.get("/notifications?limit=100").await, StatusCode::OK).await;
        let noted: BTreeSet<String> = notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["reason"] == "search_match")
            .map(|n| n["activity"]["item"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(noted, expected, "notified to {who}");
    }
    // Not empty by accident.
    assert_eq!(delivered.get("insider").map(BTreeSet::len), Some(6));
    owner.stop().await;
}
