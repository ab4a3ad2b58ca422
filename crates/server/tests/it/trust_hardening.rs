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
    trust_hardening_security_headers_and_metrics,
    trust_hardening_forms_before_login_check_the_origin,
    trust_hardening_writes_per_member_are_limited,
    trust_hardening_a_request_that_hangs_gets_an_answer,
    trust_hardening_avatars_are_reencoded,
    trust_hardening_following_lists_page_through_everything,
    trust_hardening_page_forms_refuse_unknown_fields,
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

async fn trust_hardening_security_headers_and_metrics(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| {
        s.query_count_header = false;
        s.metrics_token = Some("metrics-secret".into());
    })
    .await;
    app.setup_owner().await;
    for path in ["/", "/api/v1/me"] {
        let res = app.page(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(
            h.get("x-query-count").is_none(),
            "{path}: only when asked for"
        );
        assert!(h.get("strict-transport-security").is_none(), "{path}: http");
    }
    // Static files keep their own caching.
    let res = app.page("/static/app.js").await;
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    // A 401 says how to authenticate.
    let res = reqwest::get(app.url("/api/v1/me")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    // Metrics need the token once one is set.
    let res = app.page("/metrics").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = reqwest::Client::new()
        .get(app.url("/metrics"))
        .bearer_auth("metrics-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("chorus_http_requests_total")
    );
    app.stop().await;
    // Over https, browsers are told to keep to it.
    let mut app =
        TestApp::spawn_with(b, |s| s.base_url = Some("https://chorus.example".into())).await;
    let res = app.page("/login").await;
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    app.setup_owner().await;
    app.stop().await;
}

async fn trust_hardening_forms_before_login_check_the_origin(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let login = |origin: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(app.url("/login"))
            .header("origin", origin.to_owned())
            .form(&[("login", "owner"), ("password", PASSWORD)])
            .send()
    };
    for foreign in [
        "http://evil.example",
        "null",
        "https://127.0.0.1.evil.example",
    ] {
        let res = login(foreign).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{foreign}");
        assert!(res.headers().get("set-cookie").is_none(), "{foreign}");
    }
    let own = app.addr.clone();
    let res = login(&own).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "own origin {own}");
    app.stop().await;
}

async fn trust_hardening_writes_per_member_are_limited(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| s.writes_per_minute = 3).await;
    owner.setup_owner().await; // a write, before the owner has a session
    let ana = owner.new_member("ana", "member").await;
    for n in 0..3 {
        ana.post_item(json!({"body": format!("post {n}")})).await;
    }
    let res = ana.post("/items", json!({"body": "one too many"})).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Reading goes on; the refused post was not made; others may write.
    let page = expect(ana.get("/streams/everything").await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3, "{page}");
    owner.post_item(json!({"body": "the owner's own"})).await;
    // Page forms are counted too.
    let form = ana
        .client
        .post(ana.url("/items"))
        .form(&[
            ("csrf", ana.csrf.clone().unwrap()),
            ("target", "profile".into()),
            ("body", "from the page".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(form.headers().get("retry-after").is_some());
    owner.stop().await;
}

async fn trust_hardening_a_request_that_hangs_gets_an_answer(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| s.request_timeout_seconds = 1).await;
    app.setup_owner().await;
    // Another connection holds the items table, so posting waits for it.
    let db = crate::harness::open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    match b {
        Backend::Sqlite => {
            tx.execute("UPDATE members SET team = team", store::params![])
                .await
                .unwrap();
        }
        Backend::Postgres => {
            tx.execute("LOCK TABLE items IN EXCLUSIVE MODE", store::params![])
                .await
                .unwrap();
        }
    }
    let started = std::time::Instant::now();
    let res = app.post("/items", json!({"body": "waits"})).await;
    let took = started.elapsed();
    let p = expect_problem(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(took < Duration::from_secs(5), "answered in {took:?}: {p}");
    drop(tx);
    db.close().await;
    // The server goes on.
    app.post_item(json!({"body": "after the wait"})).await;
    app.stop().await;
}

async fn trust_hardening_avatars_are_reencoded(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let put = |body: Vec<u8>| {
        app.client
            .put(app.url("/api/v1/me/avatar"))
            .header("x-csrf-token", app.csrf.clone().unwrap())
            .header("content-type", "image/jpeg")
            .body(body)
            .send()
    };
    // Only the first bytes of an image, then a page.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let res = put(fake).await.unwrap();
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // A real photo with a script after it: kept as its pixels only, smaller.
    let photo = image::RgbImage::from_fn(1000, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let mut upload = jpeg.into_inner();
    upload.extend_from_slice(b"<script>alert(1)</script>");
    let me = expect(put(upload).await.unwrap(), StatusCode::OK).await;
    let res = app.get(me["avatar_url"].as_str().unwrap()).await;
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let bytes = res.bytes().await.unwrap();
    assert!(
        !bytes.windows(7).any(|w| w == b"<script"),
        "nothing but pixels"
    );
    let served = image::load_from_memory(&bytes).unwrap();
    assert_eq!((served.width(), served.height()), (256, 154));
    app.stop().await;
}

/// What a member follows is a list like any other: cursor pages, every
/// follow reachable (it used to stop at the newest 500, with no `next`).
async fn trust_hardening_following_lists_page_through_everything(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    for n in 0..25 {
        expect(
            app.put(
                "/follows",
                json!({"target_type": "topic", "target": format!("t{n}")}),
            )
            .await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/members/owner/following?limit=10".to_owned();
    for _ in 0..10 {
        let page = expect(app.get(&path).await, StatusCode::OK).await;
        for f in page["items"].as_array().unwrap() {
            seen.push(f["target"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/members/owner/following?limit=10&before={next}"),
            None => break,
        }
    }
    let mut want: Vec<String> = (0..25).map(|n| format!("t{n}")).collect();
    want.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, want, "every follow once, newest first: {seen:?}");
    assert_eq!(seen.first().map(String::as_str), Some("t24"), "{seen:?}");
    let res = app.get("/members/owner/following?before=bm9wZQ").await;
    expect_problem(res, StatusCode::BAD_REQUEST, "bad-cursor").await;
    app.stop().await;
}

/// Page forms are as strict as the API: a field the form does not have
/// (a misspelt one, or one meant for another form) changes nothing.
async fn trust_hardening_page_forms_refuse_unknown_fields(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let csrf = app.csrf.clone().unwrap();
    let post =
        |path: &str, form: Vec<(&str, &str)>| app.client.post(app.url(path)).form(&form).send();
    let res = post(
        "/items",
        vec![
            ("csrf", &csrf),
            ("target", "profile"),
            ("body", "hello"),
            ("direct", "ana"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().await.unwrap().contains("direct"),
        "names the field"
    );
    let res = post(
        "/spaces",
        vec![("csrf", &csrf), ("name", "Quiet"), ("visbility", "secret")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = expect(app.get("/streams/everything").await, StatusCode::OK).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        0,
        "nothing posted: {page}"
    );
    let spaces = expect(app.get("/spaces").await, StatusCode::OK).await;
    assert_eq!(
        spaces["items"].as_array().unwrap().len(),
        0,
        "no space: {spaces}"
    );
    // The same forms with their own fields work.
    let res = post(
        "/items",
        vec![("csrf", &csrf), ("target", "profile"), ("body", "hello")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}
