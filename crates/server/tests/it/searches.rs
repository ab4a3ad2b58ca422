//! Followed searches: following through the API and the results page's
//! form, and the matching job (driven here, run by the server) bringing
//! new matches home, named, and at "watching" as notifications.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, item_ids, open_db};

backend_tests!(
    followed_search_brings_new_matches_home,
    followed_searches_through_the_api,
    follow_a_search_from_the_results_page,
    a_watched_search_mails_when_chosen,
);

/// Makes the server's `searches` job due now and waits until it has run
/// once since: the job is claimed after this write, so it sees every write
/// made before the call.
pub(crate) async fn run_matching(app: &TestApp) {
    let db = open_db(&app.database_url, 1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Due now (a sentinel time no run leaves), once it is queued.
    loop {
        let mut tx = db.write().await.unwrap();
        let n = tx
            .execute(
                "UPDATE jobs SET run_at = 0 WHERE kind = 'searches' AND state = 'queued'",
                &[],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if n == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no queued searches job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        let mut c = db.read().await.unwrap();
        let row = c
            .query_one(
                "SELECT state, run_at, last_error FROM jobs WHERE kind = 'searches'",
                &[],
            )
            .await
            .unwrap();
        let (state, run_at, error) = (
            row.text(0).unwrap(),
            row.i64(1).unwrap(),
            row.opt_text(2).unwrap(),
        );
        drop(c);
        if state == "queued" && run_at > 0 {
            assert_eq!(error, None, "the searches job failed");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the searches job did not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
}

/// The items of `app`'s home stream.
async fn home(app: &TestApp) -> Vec<String> {
    item_ids(&expect(app.get("/streams/home?limit=100").await, StatusCode::OK).await)
}

/// The items of `app`'s notifications for followed searches.
async fn search_notes(app: &TestApp) -> Vec<String> {
    let n = expect(app.get("/notifications?limit=100").await, StatusCode::OK).await;
    n["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["reason"] == "search_match")
        .map(|n| n["activity"]["item"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn follow(app: &TestApp, query: &str, level: &str, status: StatusCode) -> Value {
    expect(
        app.post("/searches", json!({"query": query, "level": level}))
            .await,
        status,
    )
    .await
}

/// Ana follows "deploy"; Bo's profile posts (Ana follows neither Bo nor
/// anything he posts in) reach her home only through the search: what
/// came before she followed stays out, a match comes once however often
/// the job runs, named by the search on her home page; at "watching" also
/// a notification; her own posts do not notify her; muted, nothing; a
/// post in a secret space she is not in, never.
async fn followed_search_brings_new_matches_home(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let old = bo.post_item(json!({"body": "Old deploy notes"})).await;
    let s = follow(&ana, "deploy", "following", StatusCode::CREATED).await;
    let id = s["id"].as_str().unwrap().to_owned();
    let first = bo.post_item(json!({"body": "We deploy on Friday"})).await;
    let lunch = bo.post_item(json!({"body": "Lunch is at noon"})).await;
    run_matching(&owner).await;
    let h = home(&ana).await;
    assert!(h.contains(&first), "the new match arrives: {h:?}");
    assert!(!h.contains(&old), "nothing from before the follow");
    assert!(!h.contains(&lunch), "only matches");
    assert!(
        search_notes(&ana).await.is_empty(),
        "following: no notification"
    );
    // Named on the home page, linking to the results.
    let page = ana.page("/").await.text().await.unwrap();
    test_support::safety::assert_safe_page(&page);
    assert!(page.contains("Matches your search"), "{page}");
    assert!(page.contains("href=\"/search?q=deploy\""), "{page}");
    // A second run delivers nothing again.
    run_matching(&owner).await;
    let again = home(&ana).await;
    assert_eq!(
        again.iter().filter(|i| **i == first).count(),
        1,
        "once: {again:?}"
    );
    assert_eq!(again.len(), h.len());

    // Watching: a notification too; her own post notifies no one.
    expect(
        ana.put(&format!("/searches/{id}"), json!({"level": "watching"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let second = bo.post_item(json!({"body": "deploy rollback plan"})).await;
    let mine = ana.post_item(json!({"body": "my deploy checklist"})).await;
    let c = bo.comment(&lunch, "after the deploy, lunch").await;
    run_matching(&owner).await;
    let notes = search_notes(&ana).await;
    assert!(notes.contains(&second), "{notes:?}");
    assert!(!notes.contains(&mine), "her own post: {notes:?}");
    assert!(
        notes.contains(&lunch),
        "a matching comment {c} notifies on its item"
    );
    run_matching(&owner).await;
    assert_eq!(search_notes(&ana).await.len(), notes.len(), "no repeat");
    let page = ana.page("/notifications").await.text().await.unwrap();
    test_support::safety::assert_safe_page(&page);
    assert!(
        page.contains("wrote what your search “deploy” matches"),
        "{page}"
    );

    // Muted: nothing comes.
    expect(
        ana.put(&format!("/searches/{id}"), json!({"level": "muted"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let muted = bo.post_item(json!({"body": "deploy number three"})).await;
    run_matching(&owner).await;
    assert!(!home(&ana).await.contains(&muted), "muted: not delivered");
    assert!(!search_notes(&ana).await.contains(&muted));
    // Watching again: what came while muted is not caught up.
    expect(
        ana.put(&format!("/searches/{id}"), json!({"level": "watching"}))
            .await,
        StatusCode::OK,
    )
    .await;
    // A secret space Ana is not in: never, however it is matched.
    bo.create_space(json!({"name": "Hush", "slug": "hush", "visibility": "secret"}))
        .await;
    let secret = bo
        .post_item(json!({"space": "hush", "body": "secret deploy"}))
        .await;
    run_matching(&owner).await;
    let h = home(&ana).await;
    assert!(!h.contains(&muted), "muted time is not caught up");
    assert!(!h.contains(&secret), "a secret space's post: {h:?}");
    assert!(!search_notes(&ana).await.contains(&secret));
    let db = open_db(&owner.database_url, 1).await;
    let mut c = db.read().await.unwrap();
    let leaked = c
        .query_one(
            "SELECT COUNT(*) FROM search_deliveries d JOIN activities a ON a.id = d.activity_id
             WHERE a.item_id = $1",
            store::params![secret.parse::<i64>().unwrap()],
        )
        .await
        .unwrap()
        .i64(0)
        .unwrap();
    assert_eq!(leaked, 0, "not even delivered to be filtered on reading");
    drop(c);
    db.close().await;
    // Unfollowed: what it brought stays home.
    expect(
        ana.delete(&format!("/searches/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let later = bo.post_item(json!({"body": "deploy four"})).await;
    run_matching(&owner).await;
    let h = home(&ana).await;
    assert!(h.contains(&first) && !h.contains(&later), "{h:?}");
}

/// The API: follow (again: the level changes), list, read, change, unfollow;
/// another member's search is not found; bad input is 422 and changes
/// nothing; a member follows at most 50.
async fn followed_searches_through_the_api(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let s = follow(
        &ana,
        "  deploy   FROM:@Bo type:Question ",
        "following",
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(s["query"], "deploy from:@bo type:question", "canonical");
    assert_eq!(s["level"], "following");
    assert_eq!(s["url"], "/search?q=deploy+from%3A%40bo+type%3Aquestion");
    let id = s["id"].as_str().unwrap().to_owned();
    // The same query again (however typed) is the same search.
    let again = expect(
        ana.post(
            "/searches",
            json!({"query": "type:question deploy from:bo", "level": "watching"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["level"], "watching");
    let list = expect(ana.get("/searches").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next"], Value::Null);
    let one = expect(ana.get(&format!("/searches/{id}")).await, StatusCode::OK).await;
    assert_eq!(one["level"], "watching");
    // Bo knows nothing of it.
    assert!(
        expect(bo.get("/searches").await, StatusCode::OK).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for res in [
        bo.get(&format!("/searches/{id}")).await,
        bo.put(&format!("/searches/{id}"), json!({"level": "muted"}))
            .await,
        bo.delete(&format!("/searches/{id}")).await,
        ana.get("/searches/999999").await,
        ana.get("/searches/nine").await,
    ] {
        expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    }
    // Bad input: 422 naming the field, nothing changed.
    for (body, field) in [
        (json!({"query": ""}), "query"),
        (json!({"query": "  * ( - "}), "query"),
        (json!({"query": "deploy", "level": "loud"}), "level"),
        (json!({"query": "deploy", "colour": "red"}), "colour"),
    ] {
        let p = expect_problem(
            ana.post("/searches", body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    let p = expect_problem(
        ana.post("/searches", json!({"query": ""})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Type what to look for"),
        "{p}"
    );
    for body in [json!({"level": "loud"}), json!({"level": "muted", "x": 1})] {
        expect_problem(
            ana.put(&format!("/searches/{id}"), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
    }
    let list = expect(ana.get("/searches").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["level"], "watching");
    // Change, unfollow; gone is gone.
    let changed = expect(
        ana.put(&format!("/searches/{id}"), json!({"level": "following"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["level"], "following");
    expect(
        ana.delete(&format!("/searches/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_problem(
        ana.delete(&format!("/searches/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // At most 50.
    for k in 0..50 {
        follow(&ana, &format!("word{k}"), "following", StatusCode::CREATED).await;
    }
    let p = expect_problem(
        ana.post("/searches", json!({"query": "one more"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert!(p["detail"].as_str().is_some(), "{p}");
    assert_eq!(
        expect(ana.get("/searches").await, StatusCode::OK).await["items"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    // Following one already followed still changes its level.
    expect(
        ana.post("/searches", json!({"query": "word3", "level": "muted"}))
            .await,
        StatusCode::OK,
    )
    .await;
}

/// A form post from `app`'s session, with its CSRF token.
async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = app.csrf.clone().unwrap();
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    app.client
        .post(app.url(path))
        .form(&all)
        .send()
        .await
        .unwrap()
}

/// The results page's form (`POST /searches`: q, level) follows and goes
/// back to the results; the followed-searches page lists, re-levels and
/// unfollows; a form without the token or with nothing to look for changes
/// nothing.
async fn follow_a_search_from_the_results_page(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let res = form(
        &ana,
        "/searches",
        &[("q", "release #ops"), ("level", "following")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()["location"],
        "/search?q=release+%23ops&followed=1"
    );
    // The results page says so, and offers to unfollow instead.
    let html = ana
        .page("/search?q=release+%23ops")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Following: new matches come to Home") && html.contains(">Unfollow<"),
        "{html}"
    );
    let html = ana.page("/search?q=other").await.text().await.unwrap();
    assert!(html.contains(">Follow this search<"), "{html}");
    let list = expect(ana.get("/searches").await, StatusCode::OK).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["query"], "release #ops");
    // The list page's own form comes back to it.
    let res = form(
        &ana,
        "/searches",
        &[
            ("q", "budget"),
            ("level", "watching"),
            ("back", "/searches"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("You follow “budget”."), "{html}");
    let list = expect(ana.get("/searches").await, StatusCode::OK).await;
    assert_eq!(list["items"][0]["query"], "budget");
    let budget = list["items"][0]["id"].as_str().unwrap().to_owned();
    expect(
        ana.delete(&format!("/searches/{budget}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let page = ana.page("/searches").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    assert!(html.contains("href=\"/search?q=release+%23ops\""), "{html}");
    assert!(
        html.contains("<option value=\"following\" selected>"),
        "{html}"
    );
    // The page's level form.
    let res = form(&ana, &format!("/searches/{id}"), &[("level", "watching")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<option value=\"watching\" selected>"),
        "{html}"
    );
    // No token, or nothing to look for: nothing changes.
    let res = ana
        .client
        .post(ana.url("/searches"))
        .form(&[("q", "sneaky"), ("level", "watching")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "no csrf field"
    );
    let res = ana
        .client
        .post(ana.url("/searches"))
        .form(&[("csrf", "wrong"), ("q", "sneaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = form(&ana, "/searches", &[("q", "   "), ("level", "following")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    assert!(html.contains("Type what to look for"), "{html}");
    assert_eq!(
        expect(ana.get("/searches").await, StatusCode::OK).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Unfollow from the results page (level none), and from the list.
    let res = form(
        &ana,
        "/searches",
        &[("q", "release #ops"), ("level", "none")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = form(&ana, "/searches", &[("q", "deploy"), ("level", "watching")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = expect(ana.get("/searches").await, StatusCode::OK).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = form(&ana, &format!("/searches/{id}"), &[("level", "none")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Search unfollowed."));
    assert!(
        expect(ana.get("/searches").await, StatusCode::OK).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Bo chooses mail at once for his watched searches (the default is the
/// digest): a match by the owner comes by mail, naming the search and
/// linking to the post.
async fn a_watched_search_mails_when_chosen(b: Backend) {
    let sink = crate::mail::Sink::start().await;
    let (owner, bo) = crate::mail::mailing_app(b, sink.relay(), Some(&sink)).await;
    let choices = expect(bo.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(choices["choices"]["search_match"], "digest", "the default");
    expect(
        bo.put("/me/mail", json!({"choices": {"search_match": "now"}}))
            .await,
        StatusCode::OK,
    )
    .await;
    follow(&bo, "budget", "watching", StatusCode::CREATED).await;
    let id = owner
        .post_item(json!({"title": "Q3", "body": "The budget for Q3"}))
        .await;
    run_matching(&owner).await;
    let got = sink.wait_for(1, Duration::from_secs(30)).await;
    let mail = got
        .iter()
        .find(|m| m.rcpt == vec!["bo@acme.test".to_owned()])
        .expect("the match's mail");
    let text = mail.text();
    assert!(text.contains("matches your search “budget”"), "{text}");
    assert!(text.contains(&format!("/items/{id}")), "{text}");
    crate::mail::mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 1, "one mail");
}
