//! Accounts and what they reveal, probed as an attacker would: where a
//! login sends you, login throttling under concurrency and from other
//! addresses, the client address behind a proxy, sign-up by domain, taken
//! space addresses, and the audience preview against the post.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, expect_problem};

backend_tests!(
    login_next_stays_on_this_site,
    login_throttle_survives_concurrent_attempts,
    login_throttle_is_per_account_and_address,
    forwarded_for_uses_the_proxy_entry,
    forwarded_for_counts_trusted_hops,
    domain_signup_is_off_until_mail,
    invitation_cannot_be_blocked_by_signup,
    taken_space_address_reveals_nothing,
    audience_preview_matches_the_post,
);

/// Posts the login form with a raw (already encoded) `next` and returns
/// the response.
async fn login_form(app: &TestApp, next: &str) -> reqwest::Response {
    app.client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "login=owner&password={}&next={next}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .expect("request")
}

async fn login_next_stays_on_this_site(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    for bad in [
        "/%09/evil.example/page",
        "//evil.example",
        "/%5Cevil.example",
        "/\\evil.example",
        "https://evil.example",
        "https:%2F%2Fevil.example",
        "/ok%0Aevil",
        "/ok%0Bevil",
        "/ok%0Devil",
        "/ok%20evil",
        "/%2509/evil.example",
        "%2F%2Fevil.example",
        "evil.example",
    ] {
        let res = login_form(&app.browser(), bad).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "next={bad}");
        assert_eq!(res.headers()["location"], "/", "next={bad}");
    }
    let res = login_form(&app.browser(), "/spaces").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/spaces");
    let res = login_form(&app.browser(), "/items/1%3Fx%3D1%23c2").await;
    assert_eq!(res.headers()["location"], "/items/1?x=1#c2");
    app.stop().await;
}

fn login_body(login: &str, password: &str) -> Value {
    json!({"login": login, "password": password})
}

/// A login from the given client address (the proxy in front appends it).
async fn login_from(app: &TestApp, address: &str, password: &str) -> reqwest::Response {
    login_via(app, &format!("203.0.113.66, {address}"), "owner", password).await
}

/// A login through a proxy that sent `X-Forwarded-For: forwarded`.
async fn login_via(
    app: &TestApp,
    forwarded: &str,
    login: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", forwarded)
        .json(&login_body(login, password))
        .send()
        .await
        .expect("request")
}

async fn login_throttle_survives_concurrent_attempts(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let attempts = (0..40).map(|_| {
        let other = app.browser();
        async move {
            other
                .post("/session", login_body("owner", "wrong password!"))
                .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut refused = 0;
    let mut throttled = 0;
    for res in answers {
        match res.status() {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"));
                expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
                throttled += 1;
            }
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(refused, 5, "only the limit's worth of guesses are checked");
    assert_eq!(throttled, 35);
    app.stop().await;
}

async fn login_throttle_is_per_account_and_address(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| {
        s.trust_proxy_headers = true;
        s.login_max_failures_per_account = 12;
    })
    .await;
    app.setup_owner().await;
    let attacker = app.browser();
    for _ in 0..5 {
        let res = login_from(&attacker, "198.51.100.1", "wrong password!").await;
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let res = login_from(&attacker, "198.51.100.1", PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // The login page says so too, with when to try again.
    let page = attacker
        .client
        .post(attacker.url("/login"))
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("login", "owner"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    // The owner, elsewhere, still logs in.
    let owner = app.browser();
    expect(
        login_from(&owner, "198.51.100.2", PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    // Their success forgets nothing of the attacker's failures.
    let res = login_from(&attacker, "198.51.100.1", "wrong password!").await;
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Past the per-account backstop (12 from all addresses), every address
    // waits.
    for i in 0..7 {
        let res = login_from(
            &attacker,
            &format!("198.51.100.{}", 10 + i),
            "wrong password!",
        )
        .await;
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let res = login_from(&owner, "198.51.100.3", PASSWORD).await;
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    app.stop().await;
}

async fn forwarded_for_uses_the_proxy_entry(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| {
        s.trust_proxy_headers = true;
        s.login_max_failures_per_address = 3;
    })
    .await;
    app.setup_owner().await;
    let other = app.browser();
    // The client writes its own X-Forwarded-For; the proxy appends the
    // address it saw.
    for i in 0..3 {
        let res = login_via(
            &other,
            &format!("10.0.0.{i}, 192.0.2.7"),
            &format!("nobody{i}"),
            "wrong password!",
        )
        .await;
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let res = login_via(&other, "10.0.0.99, 192.0.2.7", "owner", PASSWORD).await;
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Another address behind the same proxy is not throttled.
    let res = login_via(&other, "192.0.2.8", "owner", PASSWORD).await;
    expect(res, StatusCode::OK).await;
    app.stop().await;
}

async fn forwarded_for_counts_trusted_hops(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| {
        s.trust_proxy_headers = true;
        s.trusted_proxy_hops = 2;
        s.login_max_failures_per_address = 2;
    })
    .await;
    app.setup_owner().await;
    let other = app.browser();
    let send = |xff: String, login: &str| {
        other
            .client
            .post(other.url("/api/v1/session"))
            .header("x-forwarded-for", xff)
            .json(&login_body(login, "wrong password!"))
            .send()
    };
    // Two proxies: the client is the second entry from the right.
    for i in 0..2 {
        let res = send(format!("10.1.1.{i}, 192.0.2.9, 10.0.0.1"), "nobody")
            .await
            .unwrap();
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let res = send("10.1.1.77, 192.0.2.9, 10.0.0.1".into(), "nobody")
        .await
        .unwrap();
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Multiple header lines are one list.
    let res = other
        .client
        .post(other.url("/api/v1/session"))
        .header("x-forwarded-for", "192.0.2.9")
        .header("x-forwarded-for", "10.0.0.2")
        .json(&login_body("nobody", "wrong password!"))
        .send()
        .await
        .unwrap();
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    app.stop().await;
}

/// The first step of sign-up: the work address only.
fn signup(_handle: &str, email: &str) -> Value {
    json!({"email": email})
}

async fn domain_signup_is_off_until_mail(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let s = expect(
        app.patch("/admin/settings", json!({"signup_domains": "acme.test"}))
            .await,
        StatusCode::OK,
    )
    .await;
    // The setting is kept, and said not to be in effect, and why.
    assert_eq!(s["signup_domains"], json!(["acme.test"]));
    assert_eq!(s["signup_domains_in_effect"], false);
    assert!(
        s["signup_domains_note"]
            .as_str()
            .unwrap()
            .contains("outgoing mail")
    );
    let s = expect(app.get("/admin/settings").await, StatusCode::OK).await;
    assert_eq!(s["signup_domains_in_effect"], false);
    let res = app
        .browser()
        .post("/signup", signup("ceo", "ceo@acme.test"))
        .await;
    let p = expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(p["detail"].as_str().unwrap().contains("invit"), "{p}");
    expect_problem(
        app.get("/members/ceo").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // The pages say so too.
    let page = app.browser().page("/signup").await.text().await.unwrap();
    assert!(page.contains("outgoing mail"), "{page}");
    assert!(!page.contains("<form method=\"post\" action=\"/signup\""));
    let res = app
        .browser()
        .client
        .post(app.url("/signup"))
        .form(&[("email", "ceo@acme.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());
    let admin = app.page("/admin").await.text().await.unwrap();
    assert!(
        admin.contains("not in effect") && admin.contains("outgoing mail"),
        "{admin}"
    );
    let login = app.browser().page("/login").await.text().await.unwrap();
    assert!(!login.contains("href=\"/signup\""));
    app.stop().await;
}

async fn invitation_cannot_be_blocked_by_signup(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    expect(
        app.patch("/admin/settings", json!({"signup_domains": "acme.test"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let token = app.invite("dana@acme.test", "member").await;
    // Someone else tries to take Dana's address first.
    let res = app
        .browser()
        .post("/signup", signup("impostor", "dana@acme.test"))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let dana = app.browser();
    let body = expect(
        dana.post(
            &format!("/invitations/{token}/accept"),
            json!({"handle": "dana", "display_name": "Dana", "password": PASSWORD}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["member"]["handle"], "dana");
    app.stop().await;
}

async fn taken_space_address_reveals_nothing(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    app.create_space(json!({"name": "Hidden", "slug": "hidden", "visibility": "secret"}))
        .await;
    app.create_space(json!({"name": "Lobby", "slug": "lobby", "visibility": "open"}))
        .await;
    let mia = app.new_member("mia", "member").await;
    expect_problem(
        mia.get("/spaces/hidden").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let secret = expect(
        mia.post(
            "/spaces",
            json!({"name": "Mine", "slug": "hidden", "visibility": "open"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    let open = expect(
        mia.post(
            "/spaces",
            json!({"name": "Mine", "slug": "lobby", "visibility": "open"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(secret, open);
    let detail = secret["detail"].as_str().unwrap();
    assert!(
        !detail.contains("hidden") && !detail.contains("already"),
        "{detail}"
    );
    assert!(detail.contains("not available"), "{detail}");
    app.stop().await;
}

async fn audience_preview_matches_the_post(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let alice = app.new_member("alice", "member").await;
    let bob = app.new_member("bob", "member").await;
    let _dora = app.new_member("dora", "member").await;
    expect(
        app.patch("/admin/members/dora", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;

    // Repeats, in any case, with or without @, count once; so does the
    // viewer named among the recipients.
    for direct in [
        "alice,alice",
        "alice,%40ALICE",
        "alice,owner",
        "Alice,@owner,alice",
    ] {
        let a = expect(
            app.get(&format!("/audience?direct={direct}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(a["count"], 2, "{direct}: {a}");
        assert_eq!(a["label"], "alice and you", "{direct}: {a}");
    }
    let a = expect(
        app.get("/audience?direct=alice,bob,alice").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["count"], 3);
    assert_eq!(a["label"], "alice and bob (3 people with you)");

    // Whatever the post refuses, the preview refuses the same way.
    for (direct, to) in [
        ("alice,nobody", json!(["alice", "nobody"])),
        ("alice,dora", json!(["alice", "dora"])),
        ("owner", json!(["owner"])),
        ("@owner,OWNER", json!(["@owner", "OWNER"])),
    ] {
        let preview = expect_problem(
            app.get(&format!("/audience?direct={direct}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        let post = expect_problem(
            app.post("/items", json!({"to": to, "body": "hello"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        assert_eq!(preview, post, "{direct}");
    }

    // The preview's count is the number of people who can see the post.
    let a = expect(
        app.get("/audience?direct=alice,%40Alice,owner").await,
        StatusCode::OK,
    )
    .await;
    let id = app
        .post_item(json!({"to": ["alice", "@Alice", "owner"], "body": "just us"}))
        .await;
    let mut can_see = 0;
    for who in [&app, &alice, &bob] {
        if who.get(&format!("/items/{id}")).await.status() == StatusCode::OK {
            can_see += 1;
        }
    }
    assert_eq!(a["count"], can_see);
    let item = expect(alice.get(&format!("/items/{id}")).await, StatusCode::OK).await;
    assert_eq!(item["visible_to"]["count"], a["count"], "{item}");
    assert_eq!(item["visible_to"]["label"], "Olga and you", "{item}");
    app.stop().await;
}
