//! Starts the real server on port 0 against a fresh database of either
//! backend, and talks to it over HTTP like any client.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use server::app::App;
use server::config::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test function once per backend: `backend_tests!(a, b, c);`
/// makes `sqlite::a`, `postgres::a`, … from `async fn a(b: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn pg_url() -> String {
    std::env::var("CHORUS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/chorus_test".into())
}

/// The PostgreSQL server's maintenance database, for tests that create
/// databases of their own.
pub fn pg_admin_url() -> String {
    let url = pg_url();
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => format!("{}/postgres", &url[..i]),
        _ => url,
    }
}

/// Opens a database directly, beside (or without) a running server, with
/// `connections` connections (SQLite: readers) and default settings.
pub async fn open_db(url: &str, connections: usize) -> store::Db {
    store::Db::open(
        url,
        &store::Options {
            max_connections: connections,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// A fresh, empty database URL: a temporary SQLite file, or a new schema in
/// the PostgreSQL test database.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("chorus.db").display()),
        Backend::Postgres => {
            static N: AtomicU64 = AtomicU64::new(0);
            let schema = format!(
                "t_{}_{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            );
            let url = pg_url();
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL tests need a server at {url} ({e}); run scripts/test")
                });
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create test schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

pub struct TestApp {
    pub addr: String,
    /// Where the server's SMTP listener takes mail.
    pub smtp: std::net::SocketAddr,
    pub backend: Backend,
    pub database_url: String,
    pub client: Client,
    pub csrf: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(backend, dir.path()).await;
        Self::start(backend, dir, database_url, tweak).await
    }

    /// [`TestApp::spawn_with`], running the test's own job kinds too.
    pub async fn spawn_with_jobs(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        jobs: impl FnOnce(&mut server::jobs::Registry),
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(backend, dir.path()).await;
        Self::start_with_jobs(backend, dir, database_url, tweak, jobs).await
    }

    /// Starts another server process-internal node on the same database.
    pub async fn start(
        backend: Backend,
        dir: tempfile::TempDir,
        database_url: String,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        Self::start_with_jobs(backend, dir, database_url, tweak, |_| {}).await
    }

    /// [`TestApp::start`], running the test's own job kinds too.
    pub async fn start_with_jobs(
        backend: Backend,
        dir: tempfile::TempDir,
        database_url: String,
        tweak: impl FnOnce(&mut Settings),
        jobs: impl FnOnce(&mut server::jobs::Registry),
    ) -> TestApp {
        let mut settings = Settings {
            data_dir: dir.path().to_owned(),
            database_url: Some(database_url.clone()),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            smtp_addr: "127.0.0.1:0".parse().unwrap(),
            db_max_connections: 4,
            query_count_header: true,
            // Tests write fast as one member; the limit has its own test.
            writes_per_minute: 0,
            ..Settings::default()
        };
        tweak(&mut settings);
        let mut app = App::build(settings).await.expect("server starts");
        jobs(app.jobs_mut());
        let addr = format!("http://{}", app.local_addr());
        let smtp = app.smtp_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            addr,
            smtp,
            backend,
            database_url,
            client: new_client(),
            csrf: None,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// A second client with its own cookie jar, for another person.
    pub fn browser(&self) -> TestApp {
        TestApp {
            addr: self.addr.clone(),
            smtp: self.smtp,
            backend: self.backend,
            database_url: self.database_url.clone(),
            client: new_client(),
            csrf: None,
            stop: None,
            task: None,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Stops the server gracefully and starts it again on the same
    /// database, address and data directory; this client keeps its session.
    pub async fn restart(mut self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
        let addr: std::net::SocketAddr = self.addr.trim_start_matches("http://").parse().unwrap();
        let TestApp {
            backend,
            database_url,
            client,
            csrf,
            _dir,
            ..
        } = self;
        let mut app = TestApp::start(backend, _dir, database_url, |s| {
            s.http_addr = addr;
            tweak(s)
        })
        .await;
        app.client = client;
        app.csrf = csrf;
        app
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else if path.starts_with("/api") || !path.starts_with('/') {
            self.url(path)
        } else {
            self.url(&format!("/api/v1{path}"))
        };
        let mut req = self.client.request(method, url);
        if let Some(csrf) = &self.csrf {
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// GET a page or other non-API path.
    pub async fn page(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// Issues a setup token and creates the owner @owner; this client is
    /// then logged in as them.
    pub async fn setup_owner(&mut self) -> Value {
        let token = self.setup_token().await;
        let res = self
            .post(
                "/setup",
                json!({"token": token, "handle": "owner", "display_name": "Olga Owner",
                       "email": "owner@acme.test", "password": PASSWORD}),
            )
            .await;
        let body = expect(res, StatusCode::CREATED).await;
        self.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
        body["member"].clone()
    }

    /// A setup token, as `chorus serve` would print it.
    pub async fn setup_token(&self) -> String {
        let db = open_db(&self.database_url, 1).await;
        let token = server::service::signup::issue_setup_token(&server::context::Ctx::new(
            db.clone(),
            Default::default(),
        ))
        .await
        .unwrap()
        .expect("no owner yet");
        db.close().await;
        token
    }

    /// Logs this client in.
    pub async fn login(&mut self, login: &str, password: &str) -> Value {
        let res = self
            .post("/session", json!({"login": login, "password": password}))
            .await;
        let body = expect(res, StatusCode::OK).await;
        self.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
        body
    }

    /// Follows the member `handle` (204 expected).
    pub async fn follow_member(&self, handle: &str) {
        expect(
            self.put(
                "/follows",
                json!({"target_type": "member", "target": handle}),
            )
            .await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }

    /// Posts an item (201 expected) and returns its id.
    pub async fn post_item(&self, body: Value) -> String {
        let item = expect(self.post("/items", body).await, StatusCode::CREATED).await;
        item["id"].as_str().unwrap().to_owned()
    }

    /// Comments `body` on item `item` (201 expected) and returns the comment.
    pub async fn comment(&self, item: &str, body: &str) -> Value {
        expect(
            self.post(&format!("/items/{item}/comments"), json!({"body": body}))
                .await,
            StatusCode::CREATED,
        )
        .await
    }

    /// Creates a space (201 expected) and returns it.
    pub async fn create_space(&self, body: Value) -> Value {
        expect(self.post("/spaces", body).await, StatusCode::CREATED).await
    }

    /// Adds `handle` to the space `slug` as this client's member, one of
    /// its admins (200 expected).
    pub async fn add_to_space(&self, slug: &str, handle: &str) {
        expect(
            self.post(
                &format!("/spaces/{slug}/members"),
                json!({"handle": handle}),
            )
            .await,
            StatusCode::OK,
        )
        .await;
    }

    /// Joins the open space `slug` (200 expected).
    pub async fn join(&self, slug: &str) -> Value {
        expect(
            self.post(&format!("/spaces/{slug}/join"), json!({})).await,
            StatusCode::OK,
        )
        .await
    }

    /// Invites `email` as this client's member and returns the link token.
    pub async fn invite(&self, email: &str, role: &str) -> String {
        let res = self
            .post("/invitations", json!({"email": email, "role": role}))
            .await;
        let body = expect(res, StatusCode::CREATED).await;
        let url = body["url"].as_str().unwrap();
        url.rsplit('/').next().unwrap().to_owned()
    }

    /// Marks a member's address verified, as opening a link mailed to it
    /// would (for tests whose members join by the link the inviter sees).
    pub async fn verify_address(&self, handle: &str) {
        let db = open_db(&self.database_url, 1).await;
        let mut tx = db.write().await.unwrap();
        tx.execute(
            "UPDATE members SET email_verified_at = 1 WHERE handle = $1",
            store::params![handle],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
    }

    /// [`TestApp::new_member`] with a verified address (mail from it posts).
    pub async fn new_verified_member(&self, handle: &str, role: &str) -> TestApp {
        let m = self.new_member(handle, role).await;
        self.verify_address(handle).await;
        m
    }

    /// Invites and signs up a new member in a new client, logged in.
    pub async fn new_member(&self, handle: &str, role: &str) -> TestApp {
        let token = self.invite(&format!("{handle}@acme.test"), role).await;
        let mut other = self.browser();
        let res = other
            .post(
                &format!("/invitations/{token}/accept"),
                json!({"handle": handle, "display_name": format!("{handle} Person"), "password": PASSWORD}),
            )
            .await;
        let body = expect(res, StatusCode::CREATED).await;
        other.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
        other
    }
}

pub const PASSWORD: &str = "correct horse battery";

fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts the status and returns the JSON body (Null when empty).
/// The ids of the items in a stream page's entries, in page order.
pub fn item_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["item"]["id"].as_str().map(str::to_owned))
        .collect()
}

pub async fn expect(res: Response, status: StatusCode) -> Value {
    let got = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    if got.is_client_error() || got.is_server_error() {
        assert_eq!(
            ct, "application/problem+json",
            "errors are problems: {text}"
        );
    }
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Asserts a problem with this status and type slug; returns it.
pub async fn expect_problem(res: Response, status: StatusCode, slug: &str) -> Value {
    let body = expect(res, status).await;
    assert_eq!(body["type"], format!("/problems/{slug}"), "problem: {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| d.len() > 10),
        "a problem says what to do: {body}"
    );
    body
}

/// A Server-Sent Events connection, read event by event.
pub struct Sse {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

impl TestApp {
    /// Opens an SSE stream (an API path), optionally resuming after an id.
    pub async fn sse(&self, path: &str, last_event_id: Option<&str>) -> Sse {
        self.sse_as(path, last_event_id, None).await
    }

    /// Opens an SSE stream with an API token instead of the session.
    pub async fn sse_as(
        &self,
        path: &str,
        last_event_id: Option<&str>,
        token: Option<&str>,
    ) -> Sse {
        let mut req = self.client.get(self.url(&format!("/api/v1{path}")));
        if let Some(t) = token {
            req = reqwest::Client::new()
                .get(self.url(&format!("/api/v1{path}")))
                .bearer_auth(t);
        }
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.expect("sse request");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Sse {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }
}

impl Sse {
    /// Whether the server ends the stream within `wait` (events before
    /// the end are returned to be looked at).
    pub async fn ends_within(&mut self, wait: std::time::Duration) -> (bool, Vec<SseEvent>) {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                    seen.push(SseEvent {
                        id: None,
                        event: String::new(),
                        data: serde_json::from_str(data.trim()).unwrap_or(Value::Null),
                    });
                }
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return (false, seen),
                Ok(None) | Ok(Some(Err(_))) => return (true, seen),
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
            }
        }
    }

    /// The next event (keep-alive comments skipped), or None after `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<SseEvent> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent {
                    id: None,
                    event: "message".into(),
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                ev.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(ev);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buf.push_str(&String::from_utf8_lossy(&chunk.ok()?));
        }
    }
}
