//! Live updates over Server-Sent Events, on one node and across two.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect};

backend_tests!(
    live_home_resumes_without_gaps_or_repeats,
    live_notification_count,
    live_respects_visibility
);

const WAIT: Duration = Duration::from_secs(5);

async fn post(app: &TestApp, body: serde_json::Value) -> String {
    let item = expect(app.post("/items", body).await, StatusCode::CREATED).await;
    item["id"].as_str().unwrap().to_owned()
}

async fn live_home_resumes_without_gaps_or_repeats(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    expect(
        bo.put(
            "/follows",
            json!({"target_type": "member", "target": "ana"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let mut live = bo.sse("/streams/home/events", None).await;
    let first = post(&ana, json!({"body": "one"})).await;
    let ev = live.next(WAIT).await.expect("an event");
    assert_eq!(ev.event, "activity");
    assert_eq!(ev.data["item"]["id"], first.as_str());
    let resume_from = ev.id.clone().unwrap();
    drop(live);
    // While disconnected, two more arrive.
    let second = post(&ana, json!({"body": "two"})).await;
    let third = post(&ana, json!({"body": "three"})).await;
    let mut live = bo.sse("/streams/home/events", Some(&resume_from)).await;
    let a = live.next(WAIT).await.expect("second");
    let c = live.next(WAIT).await.expect("third");
    assert_eq!(a.data["item"]["id"], second.as_str());
    assert_eq!(c.data["item"]["id"], third.as_str());
    assert!(
        live.next(Duration::from_millis(300)).await.is_none(),
        "nothing twice"
    );
    owner.stop().await;
}

async fn live_notification_count(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let mut badge = ana.sse("/notifications/events", None).await;
    let ev = badge.next(WAIT).await.expect("initial count");
    assert_eq!(ev.event, "notification");
    assert_eq!(ev.data["unread"], 0);
    post(&owner, json!({"body": "welcome @ana"})).await;
    let ev = badge.next(WAIT).await.expect("count after a mention");
    assert_eq!(ev.data["unread"], 1);
    expect(
        ana.post("/notifications/read", json!({})).await,
        StatusCode::OK,
    )
    .await;
    let ev = badge.next(WAIT).await.expect("count after reading");
    assert_eq!(ev.data["unread"], 0);
    owner.stop().await;
}

async fn live_respects_visibility(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let cy = owner.new_member("cy", "member").await;
    expect(
        ana.post(
            "/spaces",
            json!({"name": "Secret plans", "visibility": "secret"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mut everything = cy.sse("/streams/everything/events", None).await;
    post(
        &ana,
        json!({"space": "secret-plans", "body": "hidden #plans"}),
    )
    .await;
    let public = post(&ana, json!({"body": "public #plans"})).await;
    let ev = everything.next(WAIT).await.expect("the public post");
    assert_eq!(
        ev.data["item"]["id"],
        public.as_str(),
        "the secret post never arrives"
    );
    let res = cy
        .client
        .get(cy.url("/api/v1/spaces/secret-plans/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    owner.stop().await;
}

/// Two `chorus serve` nodes on one PostgreSQL database: an item created on
/// one reaches a live connection on the other within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_within_a_second() {
    let mut node1 = TestApp::spawn(Backend::Postgres).await;
    node1.setup_owner().await;
    let ana = node1.new_member("ana", "member").await;
    let node2 = TestApp::start(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        node1.database_url.clone(),
        |_| {},
    )
    .await;
    let mut bo2 = node2.browser();
    let token = node1.invite("bo@acme.test", "member").await;
    let body = expect(
        bo2.post(
            &format!("/invitations/{token}/accept"),
            json!({"handle": "bo", "display_name": "Bo", "password": crate::harness::PASSWORD}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    bo2.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
    expect(
        bo2.put(
            "/follows",
            json!({"target_type": "member", "target": "ana"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let mut live = bo2.sse("/streams/home/events", None).await;
    for i in 0..3 {
        let start = Instant::now();
        let id = post(&ana, json!({"body": format!("from node one #{i}x")})).await;
        let ev = live
            .next(Duration::from_secs(1))
            .await
            .expect("delivered on the other node within a second");
        assert_eq!(ev.data["item"]["id"], id.as_str());
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
    node2.stop().await;
    node1.stop().await;
}
