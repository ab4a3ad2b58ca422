//! Health, metrics, the OpenAPI document, pages of the first run,
//! graceful shutdown, crash safety and start-up errors.

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect};

backend_tests!(
    health_metrics_and_request_ids,
    openapi_lists_every_route,
    first_run_pages,
    members_list_pages,
    a_failed_commit_keeps_nothing_and_writing_goes_on,
    a_statement_not_waited_for_fails_its_transaction,
    unique_keys_are_typed
);

/// A taken handle, email or space slug is a conflict on that key, named
/// by the store from the database's error code, table and columns.
async fn unique_keys_are_typed(b: Backend) {
    use store::signup::{NewMember, insert_member};
    use store::spaces::{NewSpace, insert_space};
    use store::{Error, Unique};

    let dir = tempfile::tempdir().unwrap();
    let url = crate::harness::fresh_database(b, dir.path()).await;
    let db = crate::harness::open_db(&url, 2).await;
    store::migrate::run(&db).await.unwrap();
    let member = |handle: &'static str, email: &'static str| NewMember {
        handle,
        email,
        display_name: "Ana",
        role: domain::Role::Member,
        password_hash: "x",
    };
    let now = store::now_micros();
    let mut tx = db.write().await.unwrap();
    let ana = insert_member(&mut tx, &member("ana", "ana@example.com"), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (m, key) in [
        (member("ana", "other@example.com"), Unique::MemberHandle),
        (member("other", "ana@example.com"), Unique::MemberEmail),
    ] {
        let mut tx = db.write().await.unwrap();
        let e = insert_member(&mut tx, &m, now).await.unwrap_err();
        assert!(
            matches!(&e, Error::Conflict(k) if *k == key),
            "{key:?}: {e:?}"
        );
    }
    let space = NewSpace {
        slug: "eng",
        name: "Engineering",
        description: "",
        visibility: domain::social::SpaceVisibility::Open,
        created_by: ana.id,
    };
    let mut tx = db.write().await.unwrap();
    insert_space(&mut tx, &space, now).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.write().await.unwrap();
    let e = insert_space(&mut tx, &space, now).await.unwrap_err();
    assert!(
        matches!(e, Error::Conflict(Unique::SpaceSlug)),
        "a taken slug: {e:?}"
    );
    drop(tx);
    db.close().await;
}

/// A COMMIT that fails (here a constraint checked only at COMMIT) keeps
/// nothing of its transaction, and the next transaction starts clean: on
/// SQLite a failed COMMIT leaves the transaction open until it is rolled
/// back, and the writer used to be handed on inside it.
async fn a_failed_commit_keeps_nothing_and_writing_goes_on(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with(
        b,
        dir.path(),
        "CREATE TABLE late_parent (id BIGINT PRIMARY KEY);
         CREATE TABLE late_child (parent BIGINT REFERENCES late_parent (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    .await;
    for _ in 0..2 {
        let mut tx = db.write().await.unwrap();
        tx.execute("INSERT INTO late_child (parent) VALUES (7)", &[])
            .await
            .unwrap();
        assert!(tx.commit().await.is_err(), "a child without its parent");
    }
    let mut tx = db.write().await.unwrap();
    tx.execute("INSERT INTO late_parent (id) VALUES (7)", &[])
        .await
        .unwrap();
    tx.execute("INSERT INTO late_child (parent) VALUES (7)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        rows_in(&db, "late_child").await,
        1,
        "only the committed child"
    );
    db.close().await;
}

/// A fresh database of the backend with the tables of `ddl` created.
async fn database_with(b: Backend, dir: &std::path::Path, ddl: &str) -> store::Db {
    let url = crate::harness::fresh_database(b, dir).await;
    let db = crate::harness::open_db(&url, 2).await;
    let mut tx = db.write().await.unwrap();
    tx.batch(ddl).await.unwrap();
    tx.commit().await.unwrap();
    db
}

/// The rows committed in `table`.
async fn rows_in(db: &store::Db, table: &str) -> i64 {
    let mut c = db.read().await.unwrap();
    let rows = c
        .query(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .await
        .unwrap();
    rows[0].i64(0).unwrap()
}

/// A statement the transaction did not wait for (`Tx::execute_later`) that
/// fails makes the transaction fail, at the next statement waited for or
/// at the latest its COMMIT; nothing of it is kept, not even what came
/// before it, and the next transaction writes as usual.
async fn a_statement_not_waited_for_fails_its_transaction(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with(
        b,
        dir.path(),
        "CREATE TABLE later_t (id BIGINT PRIMARY KEY)",
    )
    .await;
    // Failing before a statement that is waited for: that one reports it.
    let mut tx = db.write().await.unwrap();
    tx.execute_later("INSERT INTO later_t (id) VALUES (1)", &[])
        .await
        .unwrap();
    let failed = match tx
        .execute_later("INSERT INTO later_t (id) VALUES (1)", &[])
        .await
    {
        Err(e) => Some(e), // PostgreSQL runs it at once
        Ok(()) => tx.query("SELECT 1", &[]).await.err(),
    };
    assert!(
        matches!(failed, Some(store::Error::Conflict(_))),
        "a repeated key: {failed:?}"
    );
    drop(tx);
    assert_eq!(rows_in(&db, "later_t").await, 0, "nothing of it kept");
    // Failing last: the COMMIT reports it.
    let mut tx = db.write().await.unwrap();
    tx.execute("INSERT INTO later_t (id) VALUES (2)", &[])
        .await
        .unwrap();
    let failed = match tx
        .execute_later("INSERT INTO later_t (id) VALUES (2)", &[])
        .await
    {
        Err(_) => true,
        Ok(()) => tx.commit().await.is_err(),
    };
    assert!(failed, "the COMMIT of a failed transaction fails");
    assert_eq!(rows_in(&db, "later_t").await, 0, "nothing of it kept");
    // The next transaction writes as usual, statements not waited for too.
    let mut tx = db.write().await.unwrap();
    tx.execute_later("INSERT INTO later_t (id) VALUES (3)", &[])
        .await
        .unwrap();
    tx.execute_later("INSERT INTO later_t (id) VALUES (4)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows_in(&db, "later_t").await, 2);
    db.close().await;
}

async fn health_metrics_and_request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.page("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.page("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains("chorus_http_requests_total"), "{text}");
    if b == Backend::Sqlite {
        // The first run's writes were committed, by group commit.
        for name in [
            "chorus_sqlite_writes_committed_total",
            "chorus_sqlite_commits_total",
        ] {
            assert!(text.contains(name), "{name} in {text}");
        }
    }
    app.stop().await;
}

/// Every `$ref` in the document points at something that exists.
fn check_refs(doc: &Value, v: &Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let path = r
                    .strip_prefix("#/")
                    .unwrap_or_else(|| panic!("local ref {r}"));
                let mut at = doc;
                for part in path.split('/') {
                    at = at.get(part).unwrap_or_else(|| panic!("dangling $ref {r}"));
                }
            }
            m.values().for_each(|x| check_refs(doc, x));
        }
        Value::Array(a) => a.iter().for_each(|x| check_refs(doc, x)),
        _ => {}
    }
}

async fn openapi_lists_every_route(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = expect(app.get("/openapi.json").await, StatusCode::OK).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    check_refs(&doc, &doc);
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/setup", vec!["get", "post"]),
        ("/session", vec!["post", "delete"]),
        ("/signup", vec!["post"]),
        ("/me", vec!["get", "patch"]),
        ("/me/password", vec!["put"]),
        ("/me/avatar", vec!["put", "delete"]),
        ("/members", vec!["get"]),
        ("/members/{handle}", vec!["get"]),
        ("/members/{handle}/avatar", vec!["get"]),
        ("/tokens", vec!["get", "post"]),
        ("/tokens/{id}", vec!["delete"]),
        ("/invitations", vec!["get", "post"]),
        ("/invitations/{id}", vec!["delete"]),
        ("/invitations/{token}/accept", vec!["get", "post"]),
        ("/admin/settings", vec!["get", "patch"]),
        ("/admin/members/{handle}", vec!["patch"]),
        ("/admin/jobs", vec!["get"]),
        ("/admin/jobs/{id}/retry", vec!["post"]),
    ];
    for (path, methods) in &expected {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the document"));
        for m in methods {
            let op = item.get(*m).unwrap_or_else(|| panic!("{m} {path} missing"));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {path} has responses"
            );
        }
    }
    // And every documented operation answers something other than the
    // router's own 404/405 (so the document describes real routes).
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let concrete = path
                .replace("{handle}", "owner")
                .replace("{id}", "1")
                .replace("{token}", "x");
            let res = app
                .request(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    Some(json!({})),
                )
                .await;
            assert_ne!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            if res.status() == StatusCode::NOT_FOUND {
                let body: Value = res.json().await.unwrap();
                assert_ne!(
                    body["detail"], "There is no such API endpoint. See /api/v1/openapi.json.",
                    "{method} {path}"
                );
            }
        }
    }
    app.stop().await;
}

async fn first_run_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.page("/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = app.page("/login").await.text().await.unwrap();
    assert!(
        login.contains("setup link"),
        "the login page points to setup"
    );
    let token = app.setup_token().await;
    let page = app.page(&format!("/setup?token={token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let res = app.page("/setup?token=wrong").await;
    assert_eq!(res.status(), StatusCode::GONE);
    // A form post with errors shows the form again with the messages.
    let res = app
        .client
        .post(app.url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("display_name", "Ana"),
            ("handle", "9"),
            ("email", "ana@acme.test"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Handles are") && html.contains("value=\"Ana\""),
        "{html}"
    );
    let res = app
        .client
        .post(app.url("/setup"))
        .form(&[
            ("token", token.as_str()),
            ("display_name", "Ana Lima"),
            ("handle", "ana"),
            ("email", "ana@acme.test"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let home = app.page("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(html.contains("Welcome, Ana Lima"), "{html}");
    test_support::safety::assert_safe_page(&html);
    app.stop().await;
}

async fn members_list_pages(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    for h in ["amy", "ben", "cat", "dov"] {
        app.new_member(h, "member").await;
    }
    let first = expect(app.get("/members?limit=2").await, StatusCode::OK).await;
    let handles = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["handle"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(handles(&first), ["amy", "ben"]);
    let next = first["next"].as_str().unwrap();
    let second = expect(
        app.get(&format!("/members?limit=2&before={next}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(handles(&second), ["cat", "dov"]);
    let third = expect(
        app.get(&format!(
            "/members?limit=2&before={}",
            second["next"].as_str().unwrap()
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(handles(&third), ["owner"]);
    assert!(third["next"].is_null());
    app.stop().await;
}

pub(crate) fn chorus() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chorus"));
    c.env_remove("CHORUS_DATABASE_URL")
        .env_remove("CHORUS_CONFIG")
        // Servers run side by side: each takes mail on a free port.
        .env("CHORUS_SMTP_ADDR", "127.0.0.1:0");
    c
}

#[tokio::test]
async fn unreachable_database_url_is_named() {
    let out = chorus()
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--database-url",
            "postgres://chorus:hunter2@127.0.0.1:1/chorus",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postgres://chorus:***@127.0.0.1:1/chorus"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("Check that PostgreSQL is running"), "{err}");
}

/// One server serves a SQLite file: a second `chorus serve` on it is
/// refused with a message naming the first, while commands that run
/// beside a server (`chorus migrate`) still work, and a restarted server
/// takes the file over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    app.setup_owner().await;
    // Should it start after all, it is stopped rather than left running.
    let mut second = Child(
        chorus()
            .args(["serve", "--http-addr", "127.0.0.1:0", "--database-url"])
            .arg(&app.database_url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "a second server started on the same file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("another Chorus server"), "{err}");
    assert!(
        err.contains(&format!("(process {})", std::process::id())),
        "names the serving process: {err}"
    );
    assert!(err.contains("--database-url"), "says what to do: {err}");
    let out = chorus()
        .args(["migrate", "--database-url"])
        .arg(&app.database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first server answers as before, and one started after it has
    // stopped serves the same file.
    let app = app.restart(|_| {}).await;
    expect(app.get("/me").await, StatusCode::OK).await;
    app.stop().await;
}

#[tokio::test]
async fn serve_help_documents_every_setting() {
    let out = chorus().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for s in [
        "--data-dir",
        "--database-url",
        "--http-addr",
        "--base-url",
        "CHORUS_DATA_DIR",
        "CHORUS_DATABASE_URL",
        "CHORUS_HTTP_ADDR",
        "CHORUS_BASE_URL",
        "--config",
    ] {
        assert!(help.contains(s), "{s} in --help:\n{help}");
    }
}

/// Settings precedence: file < environment < flags.
#[tokio::test]
async fn settings_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chorus.toml");
    std::fs::write(
        &file,
        "base_url = \"https://from-file.test\"\nsession_days = 3\ninvitation_days = 4\n",
    )
    .unwrap();
    let args = server::config::SettingsArgs {
        config: Some(file.clone()),
        invitation_days: Some(9),
        ..Default::default()
    };
    let s = args.load().unwrap();
    assert_eq!(s.base_url(), "https://from-file.test");
    assert!(s.secure_cookies());
    assert_eq!(s.session_days, 3);
    assert_eq!(s.invitation_days, 9);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "http_addr = \"not an address\"\n").unwrap();
    let err = server::config::SettingsArgs {
        config: Some(bad),
        ..Default::default()
    }
    .load()
    .unwrap_err();
    assert!(err.contains("http_addr"), "{err}");
    // A misspelt key is an error that names it, not a setting ignored.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "htp_addr = \"0.0.0.0:80\"\n").unwrap();
    let err = server::config::SettingsArgs {
        config: Some(typo),
        ..Default::default()
    }
    .load()
    .unwrap_err();
    assert!(err.contains("htp_addr"), "{err}");
}

pub(crate) struct Child(pub(crate) std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_serve(data_dir: &std::path::Path, port: u16) -> Child {
    Child(
        chorus()
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn wait_healthy(base: &str) {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not become healthy");
}

/// Acknowledged writes survive `kill -9` (SQLite).
#[tokio::test]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_serve(dir.path(), port);
    // The setup link is printed on stdout.
    let stdout = child.0.stdout.take().unwrap();
    // Read the setup link, then keep draining the output in the background.
    let (link_tx, link_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("/setup?token=") {
                let _ = link_tx.send(line);
            }
        }
    });
    let link = tokio::task::spawn_blocking(move || link_rx.recv().expect("setup link printed"))
        .await
        .unwrap();
    let token = link.trim().rsplit("token=").next().unwrap().to_owned();
    wait_healthy(&base).await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/setup"))
        .json(&json!({"token": token, "handle": "owner", "display_name": "O", "email": "o@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"login": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A stream of writes; the process is killed while they are in flight.
    let writer = {
        let (client, base, cookie, csrf) =
            (client.clone(), base.clone(), cookie.clone(), csrf.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..10_000 {
                let res = client
                    .post(format!("{base}/api/v1/tokens"))
                    .header("cookie", &cookie)
                    .header("x-csrf-token", &csrf)
                    .json(&json!({"name": format!("t{i}")}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == StatusCode::CREATED => acked.push(format!("t{i}")),
                    _ => break,
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    // SIGKILL: no shutdown code runs.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let acked = writer.await.unwrap();
    assert!(
        acked.len() > 5,
        "some writes were acknowledged before the kill"
    );
    let _child = spawn_serve(dir.path(), port);
    wait_healthy(&base).await;
    let res = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"login": "owner", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let list: Value = client
        .get(format!("{base}/api/v1/tokens"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: std::collections::HashSet<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    for a in &acked {
        assert!(
            names.contains(a),
            "acknowledged write {a} was lost ({} acked)",
            acked.len()
        );
    }
}

/// Graceful shutdown lets an in-flight request finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    app.setup_owner().await;
    // A login takes a while (argon2); start one and stop the server meanwhile.
    let client = app.browser();
    let req = tokio::spawn(async move {
        client
            .post("/session", json!({"login": "owner", "password": PASSWORD}))
            .await
            .status()
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.stop().await;
    assert_eq!(req.await.unwrap(), StatusCode::OK);
}

/// `chorus serve --demo` fills a living company through the services.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_company_fills_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let db = store::Db::open(&url, &store::Options::default())
        .await
        .unwrap();
    store::migrate::run(&db).await.unwrap();
    let ctx = server::context::Ctx::new(db.clone(), Default::default());
    assert!(server::demo::fill(&ctx).await.unwrap());
    assert!(
        !server::demo::fill(&ctx).await.unwrap(),
        "a database with members is left alone"
    );
    let mut c = db.read().await.unwrap();
    for (sql, at_least) in [
        ("SELECT COUNT(*) FROM members", 40),
        ("SELECT COUNT(*) FROM spaces", 8),
        ("SELECT COUNT(*) FROM items WHERE kind = 'post'", 100),
        ("SELECT COUNT(*) FROM comments", 50),
        (
            "SELECT COUNT(*) FROM items WHERE kind IN ('request', 'offer')",
            5,
        ),
    ] {
        let n = c
            .query_one(sql, store::params![])
            .await
            .unwrap()
            .i64(0)
            .unwrap();
        assert!(n >= at_least, "{sql}: {n}");
    }
    drop(c);
    db.close().await;
}

/// Under steady reads and writes a PASSIVE checkpoint never quite
/// finishes, and SQLite only starts the WAL over after one that does: the
/// WAL grew without end (2.5 GB in a minute of the benchmark) until the
/// checkpoint thread learned to restart it. Readers here overlap all the
/// time, as on a busy server; the WAL must start over, and stay well
/// short of what it reaches without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_starts_over_under_steady_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wal.db");
    let db = crate::harness::open_db(&format!("sqlite://{}", file.display()), 4).await;
    let mut tx = db.write().await.unwrap();
    tx.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (db, stop) = (db.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut c = db.read().await.unwrap();
                c.query("SELECT COUNT(*) FROM t", store::params![])
                    .await
                    .unwrap();
                drop(c);
                tokio::task::yield_now().await;
            }
        }));
    }
    // 3,000 rows in 750 transactions over two seconds or more: without
    // restarts the WAL reaches some 35 MB.
    let wal = dir.path().join("wal.db-wal");
    let mut largest = 0;
    let mut n = 0i64;
    for _ in 0..750 {
        let mut tx = db.write().await.unwrap();
        for _ in 0..4 {
            n += 1;
            tx.execute(
                "INSERT INTO t (id, v) VALUES ($1, $2)",
                store::params![n * 7919 % 1_000_003, "x".repeat(1000)],
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    // How often the WAL started over is in its header (bytes 12–15, the
    // checkpoint sequence number). Its largest size depends on how soon
    // the checkpoint thread, at the lowest priority, gets a core: on a
    // machine busy with other tests it may run late, but the WAL must
    // still start over, and stay well short of the 35 MB it reaches
    // without.
    let restarts = std::fs::read(&wal).map_or(0, |h| {
        u32::from_be_bytes(h[12..16].try_into().expect("a WAL header"))
    });
    assert!(
        restarts >= 1 && largest < 24 << 20,
        "the WAL started over {restarts} times and reached {largest} bytes after {n} rows"
    );
    db.close().await;
}

/// A second handle on a server's SQLite file (the benchmark's) opens with
/// `checkpoints: false`: only the server folds the WAL back, so two
/// checkpoint threads never race over one WAL without sharing a writer.
#[tokio::test]
async fn sqlite_handle_without_checkpoints_leaves_the_wal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quiet.db");
    let db = store::Db::open(
        &format!("sqlite://{}", file.display()),
        &store::Options {
            max_connections: 1,
            checkpoints: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut tx = db.write().await.unwrap();
    tx.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .await
        .unwrap();
    for id in 0..500 {
        tx.execute(
            "INSERT INTO t (id, v) VALUES ($1, $2)",
            store::params![id, "x".repeat(1000)],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // Longer than a few checkpoint intervals: the rows stay in the WAL.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let main = std::fs::metadata(&file).unwrap().len();
    assert!(main < 64 << 10, "nothing folded back yet: {main} bytes");
    // Closing still folds the WAL into the file.
    db.close().await;
    let main = std::fs::metadata(&file).unwrap().len();
    assert!(main > 400 << 10, "folded back on close: {main} bytes");
}

/// A write run whole on SQLite's writer thread (`Db::on_writer`) starts
/// after what an earlier transaction left there (its rollback, sent
/// without a wait), and one that panics rolls back and leaves the writer
/// working for the next.
#[tokio::test]
async fn sqlite_whole_writes_on_the_writer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with(
        Backend::Sqlite,
        dir.path(),
        "CREATE TABLE t (id INTEGER PRIMARY KEY)",
    )
    .await;
    for round in 0..20i64 {
        // Begun here; the whole write waits on the writer's thread for
        // it and wakes when it is dropped, as the ROLLBACK it sent
        // without a wait arrives there: the ROLLBACK must run first.
        let mut tx = db.write().await.unwrap();
        tx.execute("INSERT INTO t (id) VALUES ($1)", store::params![-1 - round])
            .await
            .unwrap();
        let db2 = db.clone();
        let whole = tokio::spawn(async move {
            db2.on_writer(|d| async move {
                let mut tx = d.write().await?;
                tx.execute("INSERT INTO t (id) VALUES ($1)", store::params![round])
                    .await?;
                tx.commit().await
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(tx);
        whole.await.unwrap().unwrap();
    }
    assert_eq!(
        rows_in(&db, "t").await,
        20,
        "every whole write, no dropped one"
    );
    let panicked: Result<(), store::Error> = db
        .on_writer(|d| async move {
            let mut tx = d.write().await.unwrap();
            tx.execute("INSERT INTO t (id) VALUES (1000)", store::params![])
                .await
                .unwrap();
            panic!("a write that fails halfway");
        })
        .await;
    assert!(panicked.is_err(), "a panicked write answers with an error");
    db.on_writer(|d| async move {
        let mut tx = d.write().await?;
        tx.execute("INSERT INTO t (id) VALUES (2000)", store::params![])
            .await?;
        tx.commit().await
    })
    .await
    .unwrap();
    assert_eq!(
        rows_in(&db, "t").await,
        21,
        "the panicked write rolled back"
    );
    db.close().await;
}

/// SQLite's group commit (`sqlite::Commits`): writes that wait for the
/// writer while another holds it share its COMMIT. Each write answers only
/// once it is committed, a reader sees it then, and one that fails rolls
/// back alone while the rest of its group is kept.
#[tokio::test]
async fn sqlite_writes_waiting_for_the_writer_share_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with(
        Backend::Sqlite,
        dir.path(),
        "CREATE TABLE g (id INTEGER PRIMARY KEY)",
    )
    .await;
    let ids = |db: store::Db| async move {
        let mut c = db.read().await.unwrap();
        c.query("SELECT id FROM g ORDER BY id", store::params![])
            .await
            .unwrap()
            .iter()
            .map(|r| r.i64(0).unwrap())
            .collect::<Vec<_>>()
    };
    let (writes_before, commits_before) = db.commit_counts().unwrap();
    // Three writes wait while the first holds the writer; the second of
    // them repeats the first's key, which it sees inside the shared
    // transaction, and fails.
    let mut first = db.write().await.unwrap();
    first
        .execute("INSERT INTO g (id) VALUES (1)", store::params![])
        .await
        .unwrap();
    let mut waiting = Vec::new();
    for id in [2i64, 1, 3] {
        let db = db.clone();
        waiting.push(tokio::spawn(async move {
            let mut tx = db.write().await?;
            tx.execute("INSERT INTO g (id) VALUES ($1)", store::params![id])
                .await?;
            tx.commit().await
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.commit().await.unwrap();
    assert!(
        ids(db.clone()).await.contains(&1),
        "a write is committed when it answers"
    );
    let answers: Vec<_> = futures_util::future::join_all(waiting)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert!(answers[0].is_ok(), "{:?}", answers[0]);
    assert!(
        matches!(answers[1], Err(store::Error::Conflict(_))),
        "{:?}",
        answers[1]
    );
    assert!(answers[2].is_ok(), "{:?}", answers[2]);
    assert_eq!(
        ids(db.clone()).await,
        vec![1, 2, 3],
        "all but the failed one"
    );
    let (writes, commits) = db.commit_counts().unwrap();
    assert_eq!(writes - writes_before, 3, "three writes committed");
    assert!(
        commits - commits_before < 3,
        "in fewer COMMITs: {} for three writes",
        commits - commits_before
    );
    // A write alone commits at once, as ever.
    let mut tx = db.write().await.unwrap();
    tx.execute("INSERT INTO g (id) VALUES (4)", store::params![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(db.clone()).await, vec![1, 2, 3, 4]);
    db.close().await;
}

/// The writer's thread runs in `SCHED_BATCH`, so its wake-ups do not
/// preempt the async workers in the middle of reads.
#[tokio::test]
async fn sqlite_writer_thread_runs_in_batch_scheduling() {
    let dir = tempfile::tempdir().unwrap();
    // A write has run on the thread: it has started and set its policy.
    let db = database_with(
        Backend::Sqlite,
        dir.path(),
        "CREATE TABLE b (id INTEGER PRIMARY KEY)",
    )
    .await;
    let mut policies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() != "sqlite-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap();
        // Fields after the command's closing parenthesis start at the
        // third; the policy is the 41st (SCHED_BATCH is 3).
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let policy: i32 = after.split(' ').nth(41 - 3).unwrap().parse().unwrap();
        policies.push(policy);
    }
    assert!(!policies.is_empty(), "a writer's thread");
    assert!(policies.iter().all(|p| *p == 3), "policies {policies:?}");
    db.close().await;
}
