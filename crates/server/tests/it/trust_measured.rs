//! Measured, and kept measured: schemathesis fuzzes every operation of the
//! served OpenAPI document with a token (no server error, no answer that
//! breaks its own schema, status or content type), and a short run of the
//! crash-safety soak (`scripts/soak`) kills the real binary under a write
//! load and finds every acknowledged write.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, pg_admin_url};

backend_tests!(
    schemathesis_finds_nothing,
    soak_loses_no_acknowledged_write,
    nul_characters_are_refused
);

/// Operations left out of the fuzzing (schemathesis options), and why.
const EXCLUDED: &[(&str, &str)] = &[
    // Live streams answer 200 and never end.
    ("--exclude-path-regex", "/events$"),
    // A password change ends every API token, the run's own included.
    ("--exclude-name", "PUT /me/password"),
    // Token ids are small numbers: the run's own token would be revoked.
    ("--exclude-name", "DELETE /tokens/{id}"),
];

/// Test cases per operation; the run takes about half a minute per
/// backend on two cores.
const MAX_EXAMPLES: &str = "25";

async fn schemathesis_finds_nothing(b: Backend) {
    let schemathesis = std::env::var("CHORUS_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!(
            "CHORUS_TEST_SCHEMATHESIS is not set: run the tests with scripts/test, which \
             installs schemathesis, or point it at a `schemathesis` executable \
             (pip install schemathesis)"
        )
    });
    // Something behind every path parameter, so that operations get past
    // their 404s: a space, an item in it with a topic, a comment, a
    // request, and a second member (the one `{handle}` names, so that
    // admin changes to a member never demote or deactivate the owner).
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    app.create_space(json!({"name": "Design", "slug": "design", "visibility": "open"}))
        .await;
    ana.join("design").await;
    let item = app
        .post_item(json!({"space": "design", "body": "Plans for #launch, @ana"}))
        .await;
    ana.comment(&item, "Looks good").await;
    let request = expect(
        app.post(
            "/requests",
            json!({"to": ["ana"], "title": "Review the plans"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = expect(
        app.post("/tokens", json!({"name": "schemathesis"})).await,
        StatusCode::CREATED,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[parameters]
"path.slug" = "design"
"path.handle" = "ana"
"path.tag" = "launch"

[[operations]]
include-path-regex = "^/items/"
parameters = {{ "path.id" = "{item}" }}

[[operations]]
include-path-regex = "^/requests/"
parameters = {{ "path.id" = "{request}" }}
"#
        ),
    )
    .unwrap();
    let mut cmd = Command::new(&schemathesis);
    cmd.current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(app.url("/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,\
             content_type_conformance",
        ])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", "27", "--workers", "2", "--request-timeout", "10"])
        .args(["--output-sanitize", "false"]);
    for (option, value) in EXCLUDED {
        cmd.args([option, value]);
    }
    // One more run when schemathesis itself crashed (a Python traceback,
    // e.g. CPython's "AST constructor recursion depth mismatch" under
    // load), never when it found a problem in Chorus.
    let (out, report) = tokio::task::spawn_blocking(move || {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out = cmd
                .output()
                .unwrap_or_else(|e| panic!("cannot run {schemathesis}: {e}"));
            let report = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let crashed = report.contains("Traceback (most recent call last)")
                || report.contains("SystemError");
            if out.status.success() || !crashed || attempt == 2 {
                break (out, report);
            }
            eprintln!("schemathesis crashed; running it once more:\n{report}");
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    app.stop().await;
}

/// `scripts/soak --kills 3` on this backend.
async fn soak_loses_no_acknowledged_write(b: Backend) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new("python3");
    cmd.arg(root.join("scripts/soak")).args([
        "--kills",
        "3",
        "--chorus",
        env!("CARGO_BIN_EXE_chorus"),
    ]);
    match b {
        Backend::Sqlite => cmd.args(["--backend", "sqlite"]),
        Backend::Postgres => cmd.args([
            "--backend",
            "postgres",
            "--pg-url",
            &pg_admin_url(),
            "--pg-db",
            &format!("chorus_soak_{}", std::process::id()),
        ]),
    };
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("python3 runs scripts/soak");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the soak failed:\n{report}");
    assert!(report.contains("LOST acknowledged writes: 0"), "{report}");
}

/// The NUL character, which PostgreSQL refuses in text, is refused in
/// JSON bodies, query strings and paths alike (found by schemathesis: a
/// post `to` a handle with a NUL answered 500 on PostgreSQL).
async fn nul_characters_are_refused(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let p = expect_problem(
        app.post("/items", json!({"to": ["a\u{0}b"], "body": "hi"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "body", "{p}");
    expect_problem(
        app.post("/session", json!({"login": "owner\u{0}", "password": "x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let p = expect_problem(
        app.get("/audience?direct=a%00b").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "direct", "{p}");
    for path in [
        "/members/a%00b",
        "/spaces/a%00b/stream",
        "/topics/a%00/stream",
    ] {
        expect_problem(
            app.get(path).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
    }
    // Forms: the login form, before anyone is logged in.
    let res = app
        .browser()
        .client
        .post(app.url("/login"))
        .form(&[("login", "own\u{0}er"), ("password", "xxxxxxxxxxxx")])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // An escaped backslash before `u0000` is text, not a NUL.
    let item = app
        .post_item(json!({"body": "a literal \\u0000 in code"}))
        .await;
    let got = expect(app.get(&format!("/items/{item}")).await, StatusCode::OK).await;
    assert_eq!(got["body"], "a literal \\u0000 in code");
    app.stop().await;
}
