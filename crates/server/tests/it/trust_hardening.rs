//! Hardening that a probe can measure: limits on live connections,
//! credentials that end with a password change or deactivation, and text
//! that cannot pretend to be what it is not.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, expect_problem};

backend_tests!(
    trust_hardening_live_connections_per_member_are_limited,
    trust_hardening_password_change_and_deactivation_revoke_tokens,
    trust_hardening_invisible_and_reversed_text_is_refused,
);

async fn trust_hardening_live_connections_per_member_are_limited(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| s.live_per_member = 2).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let mut first = ana.sse("/streams/everything/events", None).await;
    let mut second = ana.sse("/notifications/events", None).await;
    assert!(
        second.next(Duration::from_secs(5)).await.is_some(),
        "the count"
    );
    // A third connection pushes the oldest out; the others stay.
    let mut third = ana.sse("/streams/everything/events", None).await;
    let (ended, _) = first.ends_within(Duration::from_secs(5)).await;
    assert!(ended, "the oldest connection closes");
    let id = owner.post_item(json!({"body": "still live"})).await;
    let ev = third
        .next(Duration::from_secs(5))
        .await
        .expect("the newest still gets events");
    assert_eq!(ev.data["item"]["id"], id.as_str());
    let (ended, _) = second.ends_within(Duration::from_millis(300)).await;
    assert!(!ended, "the second stays open");
    // Another member's connections do not count against Ana's.
    let mut owners = owner.sse("/streams/everything/events", None).await;
    let id = owner.post_item(json!({"body": "for everyone"})).await;
    let ev = owners.next(Duration::from_secs(5)).await.expect("owner's");
    assert_eq!(ev.data["item"]["id"], id.as_str());
    owner.stop().await;
}

/// Whether `token` still authenticates.
async fn token_works(app: &TestApp, token: &str) -> bool {
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    match res.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        s => panic!("GET /me with a token: {s}"),
    }
}

async fn new_token(app: &TestApp, name: &str) -> String {
    let t = expect(
        app.post("/tokens", json!({"name": name})).await,
        StatusCode::CREATED,
    )
    .await;
    t["secret"].as_str().unwrap().to_owned()
}

async fn trust_hardening_password_change_and_deactivation_revoke_tokens(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let script = new_token(&ana, "script").await;
    assert!(token_works(&ana, &script).await);
    // A password change revokes every token of the member.
    expect(
        ana.put(
            "/me/password",
            json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert!(
        !token_works(&ana, &script).await,
        "revoked by the password change"
    );
    let list = expect(ana.get("/tokens").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    // Deactivation revokes them too, and reactivation does not revive them.
    let again = new_token(&ana, "again").await;
    assert!(token_works(&ana, &again).await);
    for deactivated in [true, false] {
        expect(
            owner
                .patch("/admin/members/ana", json!({"deactivated": deactivated}))
                .await,
            StatusCode::OK,
        )
        .await;
    }
    assert!(
        !token_works(&ana, &again).await,
        "not revived by reactivation"
    );
    owner.stop().await;
}

async fn trust_hardening_invisible_and_reversed_text_is_refused(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    for name in ["\u{200B}", "\u{200B}\u{200D} \u{FEFF}", "\u{3164}"] {
        let res = owner.patch("/me", json!({"display_name": name})).await;
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        let res = owner
            .post("/spaces", json!({"name": name, "slug": "blank"}))
            .await;
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        let res = owner.post("/items", json!({"body": name})).await;
        expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    }
    // Direction overrides in a body or a title.
    let res = owner
        .post("/items", json!({"body": "invoice \u{202E}fdp.exe"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = owner.patch("/me", json!({"title": "CEO\u{202E}"})).await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Nothing was created.
    let page = expect(owner.get("/streams/everything").await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
    let me = expect(owner.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["display_name"], "Olga Owner");
    owner.stop().await;
}
