//! Strict input and honest answers: unknown fields are refused, every
//! error under /api/v1 is a problem, the OpenAPI document validates, and
//! what an answer shows is complete (the member's own email, the topics and
//! recipients of items in stream entries).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, expect_problem};

backend_tests!(
    unknown_fields_in_bodies_are_refused,
    unknown_query_parameters_are_refused,
    query_and_path_errors_are_problems,
    wrong_methods_and_unknown_paths_are_problems,
    openapi_document_validates,
    own_email_in_session_answers,
    stream_entries_show_topics_and_recipients
);

/// Asserts a 422 validation problem naming `field` as unknown.
async fn expect_unknown_field(res: reqwest::Response, field: &str) -> Value {
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let errors = p["errors"].as_array().expect("errors");
    let e = errors
        .iter()
        .find(|e| e["field"] == field)
        .unwrap_or_else(|| panic!("`errors` names {field}: {p}"));
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("accept"),
        "the message says which fields are accepted: {p}"
    );
    assert!(
        p["detail"].as_str().unwrap().contains(field),
        "the detail names the field: {p}"
    );
    p
}

async fn unknown_fields_in_bodies_are_refused(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let bob = app.new_member("bob", "member").await;

    // A misspelled visibility does not make an open space.
    let p = expect_unknown_field(
        app.post(
            "/spaces",
            json!({"name": "Board", "slug": "board", "visbility": "secret"}),
        )
        .await,
        "visbility",
    )
    .await;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("visibility"),
        "the accepted fields are listed: {p}"
    );
    expect_problem(
        app.get("/spaces/board").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    // `direct` is not `to`: nothing is posted on the profile.
    expect_unknown_field(
        app.post("/items", json!({"body": "for bob only", "direct": ["bob"]}))
            .await,
        "direct",
    )
    .await;
    let page = expect(app.get("/members/owner/stream").await, StatusCode::OK).await;
    assert!(
        !page.to_string().contains("for bob only"),
        "nothing posted: {page}"
    );
    let page = expect(bob.get("/streams/everything").await, StatusCode::OK).await;
    assert!(!page.to_string().contains("for bob only"));

    // An invitation with a field it does not know is not sent.
    expect_unknown_field(
        app.post(
            "/invitations",
            json!({"email": "cy@acme.test", "spaces": ["board"]}),
        )
        .await,
        "spaces",
    )
    .await;
    let list = expect(app.get("/invitations").await, StatusCode::OK).await;
    assert!(!list.to_string().contains("cy@acme.test"), "{list}");

    // Nested objects too, and a follow, and a PATCH.
    expect_unknown_field(
        app.put(
            "/follows",
            json!({"target_type": "member", "target": "bob", "levle": "muted"}),
        )
        .await,
        "levle",
    )
    .await;
    expect_unknown_field(
        app.patch("/me", json!({"display_name": "Olga", "nickname": "O"}))
            .await,
        "nickname",
    )
    .await;
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["display_name"], "Olga Owner", "nothing changed");
    // Known fields still work.
    app.create_space(json!({"name": "Board", "slug": "board", "visibility": "secret"}))
        .await;
}

async fn unknown_query_parameters_are_refused(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    for path in [
        "/streams/everything?limit=5&befor=abc",
        "/spaces?mine=true&min=true",
        "/audience?profile=true&spaces=x",
    ] {
        let p = expect_problem(
            app.get(path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        let name = path.rsplit('&').next().unwrap().split('=').next().unwrap();
        assert_eq!(p["errors"][0]["field"], name, "{path}: {p}");
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("accept")
        );
    }
    expect(app.get("/streams/everything?limit=5").await, StatusCode::OK).await;
}

async fn query_and_path_errors_are_problems(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let p = expect_problem(
        app.get("/streams/everything?limit=abc").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "limit", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("limit"), "{p}");
    let p = expect_problem(
        app.get("/spaces?mine=perhaps").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "mine", "{p}");
    // Invalid UTF-8 in a path.
    let res = app.get("/spaces/%FF").await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let status = res.status();
    expect_problem(res, status, "bad-request").await;
    let res = app.get("/spaces/%FF/stream").await;
    let status = res.status();
    expect(res, status).await;
}

async fn wrong_methods_and_unknown_paths_are_problems(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let res = app.delete("/streams/home").await;
    let allow = res
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(allow.contains("GET"), "Allow: {allow:?}");
    let p = expect_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    assert!(p["detail"].as_str().unwrap().contains("GET"), "{p}");
    let res = app.request(Method::PUT, "/items", Some(json!({}))).await;
    assert!(res.headers().contains_key("allow"));
    expect_problem(res, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    for path in ["/no/such/thing", "/api/v1", "/api/v1/", "/streams"] {
        expect_problem(app.get(path).await, StatusCode::NOT_FOUND, "not-found").await;
    }
}

/// The served document is valid OpenAPI (checked by a real validator), and
/// its path parameters match the path templates.
async fn openapi_document_validates(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = expect(app.get("/openapi.json").await, StatusCode::OK).await;

    // Every `{name}` in a template is declared `in: path`, and every path
    // parameter appears in its template.
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_template: std::collections::BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(n, _)| n))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared: std::collections::BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if in_template != declared {
                problems.push(format!(
                    "{method} {path}: template has {in_template:?}, declared in path {declared:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let validator = std::env::var("CHORUS_TEST_OPENAPI_VALIDATOR").unwrap_or_else(|_| {
        panic!(
            "CHORUS_TEST_OPENAPI_VALIDATOR is not set: run the tests with scripts/test, which \
             installs openapi-spec-validator, or point it at an `openapi-spec-validator` \
             executable (pip install openapi-spec-validator)"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {validator}: {e}"));
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn own_email_in_session_answers(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let owner = app.setup_owner().await;
    assert_eq!(owner["email"], "owner@acme.test", "setup: {owner}");
    let mut other = app.browser();
    let session = other.login("owner", PASSWORD).await;
    assert_eq!(
        session["member"]["email"], "owner@acme.test",
        "login: {session}"
    );
    let token = app.invite("dee@acme.test", "guest").await;
    let body = expect(
        app.browser()
            .post(
                &format!("/invitations/{token}/accept"),
                json!({"handle": "dee", "display_name": "Dee", "password": PASSWORD}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["member"]["email"], "dee@acme.test", "accept: {body}");
}

/// The entry of `item` in a stream page.
fn entry<'a>(page: &'a Value, item: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["item"]["id"] == item)
        .map(|a| &a["item"])
        .unwrap_or_else(|| panic!("{item} not in {page}"))
}

fn handles(v: &Value) -> Vec<&str> {
    v["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["handle"].as_str().unwrap())
        .collect()
}

async fn stream_entries_show_topics_and_recipients(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let bob = app.new_member("bob", "member").await;
    let _cy = app.new_member("cy", "member").await;
    app.create_space(json!({"name": "Launch", "slug": "launch"}))
        .await;
    let tagged = app
        .post_item(json!({"space": "launch", "body": "Ready for #release and #Q3"}))
        .await;
    let direct = app
        .post_item(json!({"to": ["bob", "cy"], "body": "just us #secretplan"}))
        .await;
    let single = expect(app.get(&format!("/items/{tagged}")).await, StatusCode::OK).await;
    let topics = single["topics"].clone();
    assert_eq!(topics.as_array().unwrap().len(), 2, "{single}");
    let single_direct = expect(app.get(&format!("/items/{direct}")).await, StatusCode::OK).await;
    assert_eq!(handles(&single_direct), ["bob", "cy"]);

    // Live events and notifications carry them too: Bob replays his home
    // and sees the direct post in his notifications.
    let mut live = bob.sse("/streams/home/events", Some("0")).await;
    let mut found = false;
    while let Some(ev) = live.next(std::time::Duration::from_secs(2)).await {
        if ev.data["item"]["id"] == direct.as_str() {
            assert_eq!(
                handles(&ev.data["item"]),
                ["bob", "cy"],
                "live: {}",
                ev.data
            );
            assert_eq!(
                ev.data["item"]["topics"],
                json!(["secretplan"]),
                "live: {}",
                ev.data
            );
            found = true;
            break;
        }
    }
    assert!(found, "the direct post arrives live");
    let notes = expect(bob.get("/notifications").await, StatusCode::OK).await;
    let n = notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["activity"]["item"]["id"] == direct.as_str())
        .unwrap_or_else(|| panic!("a notification of the direct post: {notes}"));
    assert_eq!(handles(&n["activity"]["item"]), ["bob", "cy"], "{n}");
    assert_eq!(
        n["activity"]["item"]["topics"],
        json!(["secretplan"]),
        "{n}"
    );

    // Twice each: the second page may come from kept renderings.
    for _ in 0..2 {
        for (who, path) in [
            (&app, "/streams/everything"),
            (&app, "/streams/home"),
            (&bob, "/streams/home"),
            (&app, "/members/owner/stream"),
        ] {
            let page = expect(who.get(path).await, StatusCode::OK).await;
            if path != "/streams/home" || who.csrf == app.csrf {
                let e = entry(&page, &tagged);
                assert_eq!(e["topics"], topics, "{path}: {e}");
                assert_eq!(e["recipients"], json!([]), "{path}: {e}");
            }
            let e = entry(&page, &direct);
            assert_eq!(handles(e), ["bob", "cy"], "{path}: {e}");
            assert_eq!(e["topics"], json!(["secretplan"]), "{path}: {e}");
        }
        let page = expect(app.get("/spaces/launch/stream").await, StatusCode::OK).await;
        assert_eq!(entry(&page, &tagged)["topics"], topics);
        let page = expect(app.get("/topics/release/stream").await, StatusCode::OK).await;
        assert_eq!(entry(&page, &tagged)["topics"], topics);
    }

    // An edit that changes the topics shows in the next page.
    expect(
        app.patch(
            &format!("/items/{tagged}"),
            json!({"body": "Ready for #launchday"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let page = expect(app.get("/streams/everything").await, StatusCode::OK).await;
    assert_eq!(entry(&page, &tagged)["topics"], json!(["launchday"]));

    // A recipient's new name shows in the next page.
    expect(
        bob.patch("/me", json!({"display_name": "Robert"})).await,
        StatusCode::OK,
    )
    .await;
    let page = expect(app.get("/streams/everything").await, StatusCode::OK).await;
    let e = entry(&page, &direct);
    assert_eq!(e["recipients"][0]["display_name"], "Robert", "{e}");
}
