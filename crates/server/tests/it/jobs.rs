//! The job queue and its runner: retries with backoff, dead jobs an admin
//! sees and retries, unique keys, payloads that no longer parse, leases
//! that run out (a claim left behind, and a `chorus serve` killed in the
//! middle of a job), and two PostgreSQL nodes sharing the queue. The test
//! kinds are registered through the registry, as a feature's would be.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::jobs::{Context, Outcome, Registry};
use store::jobs::{self as q, Enqueued, JobRow, NewJob, State};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, fresh_database, open_db};
use crate::ops::{Child, chorus, free_port, wait_healthy};

backend_tests!(
    failed_jobs_are_retried_with_backoff,
    dead_jobs_are_shown_to_admins_and_retried,
    a_unique_key_queues_one_job,
    an_unreadable_payload_or_a_panic_does_not_stop_the_runner,
    a_claim_whose_lease_ran_out_runs_again,
    a_job_of_a_killed_node_runs_again,
    pending_fan_outs_become_fanout_jobs,
);

const WAIT: Duration = Duration::from_secs(10);

/// One run of a test job: its id, attempt, node and time.
type Run = (i64, i64, &'static str, Instant);

/// What test jobs did.
#[derive(Clone, Default)]
struct Runs(Arc<Mutex<Vec<Run>>>);

impl Runs {
    fn note(&self, ctx: &Context, node: &'static str) {
        self.0
            .lock()
            .unwrap()
            .push((ctx.id(), ctx.attempts(), node, Instant::now()));
    }

    fn all(&self) -> Vec<Run> {
        self.0.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Registers `kind`: notes each run, then answers what `answer` says for
/// the attempt.
fn counted(
    jobs: &mut Registry,
    kind: &'static str,
    runs: &Runs,
    node: &'static str,
    answer: fn(i64) -> anyhow::Result<Outcome>,
) {
    let runs = runs.clone();
    jobs.register(kind, move |ctx: Context, _: Value| {
        runs.note(&ctx, node);
        async move { answer(ctx.attempts()) }
    });
}

fn done(_: i64) -> anyhow::Result<Outcome> {
    Ok(Outcome::Done)
}

async fn enqueue_job(db: &store::Db, job: NewJob<'_>) -> Enqueued {
    let mut tx = db.write().await.unwrap();
    let e = q::enqueue(&mut tx, &job, store::now_micros())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

async fn enqueue(db: &store::Db, kind: &str, payload: Value) -> i64 {
    enqueue_job(db, new_job(kind, payload)).await.id
}

fn new_job(kind: &str, payload: Value) -> NewJob<'_> {
    NewJob::new(kind, &payload, store::now_micros()).unwrap()
}

async fn job(db: &store::Db, id: i64) -> Option<JobRow> {
    q::get(&mut db.read().await.unwrap(), id).await.unwrap()
}

/// Polls `look` until it answers, for at most `within`.
async fn wait_for<T>(what: &str, within: Duration, mut look: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = look().await {
            return v;
        }
        assert!(start.elapsed() < within, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of a metric line with these labels in `/metrics`.
async fn metric(app: &TestApp, name: &str, labels: &[&str]) -> Option<f64> {
    let text = app.page("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A handler that fails twice is tried again after one second, then two,
/// and its third attempt ends it; the row says why it failed meanwhile.
async fn failed_jobs_are_retried_with_backoff(b: Backend) {
    let runs = Runs::default();
    let r = runs.clone();
    let app = TestApp::spawn_with_jobs(
        b,
        |_| {},
        move |jobs| {
            counted(jobs, "flaky", &r, "node", |attempt| {
                if attempt < 3 {
                    anyhow::bail!("the flaky service said no (attempt {attempt})")
                }
                Ok(Outcome::Done)
            })
        },
    )
    .await;
    let db = open_db(&app.database_url, 2).await;
    let id = enqueue(&db, "flaky", json!({})).await;
    for attempt in [1, 2] {
        let row = wait_for("a failed attempt", WAIT, async || {
            job(&db, id)
                .await
                .filter(|j| j.attempts == attempt && j.state == State::Queued)
        })
        .await;
        let error = row.last_error.unwrap();
        assert!(
            error.contains(&format!("the flaky service said no (attempt {attempt})")),
            "{error}"
        );
        assert_eq!(
            row.run_at - row.updated_at,
            q::backoff(attempt),
            "due again after the backoff"
        );
        assert_eq!(q::backoff(attempt), 1_000_000 << (attempt - 1));
    }
    wait_for("the job to finish", WAIT, async || {
        job(&db, id).await.is_none().then_some(())
    })
    .await;
    let all = runs.all();
    let attempts: Vec<i64> = all.iter().map(|r| r.1).collect();
    assert_eq!(attempts, [1, 2, 3]);
    let gaps: Vec<Duration> = all.windows(2).map(|w| w[1].3 - w[0].3).collect();
    assert!(gaps[0] >= Duration::from_millis(900), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1900), "{gaps:?}");
    assert_eq!(
        metric(
            &app,
            "chorus_jobs_runs_total",
            &["kind=\"flaky\"", "outcome=\"failed\""]
        )
        .await,
        Some(2.0)
    );
    assert_eq!(
        metric(
            &app,
            "chorus_jobs_runs_total",
            &["kind=\"flaky\"", "outcome=\"done\""]
        )
        .await,
        Some(1.0)
    );
    db.close().await;
    app.stop().await;
}

/// After its last attempt a job is dead with its error; owners and admins
/// see it in the API and on the admin page, and retry it there.
async fn dead_jobs_are_shown_to_admins_and_retried(b: Backend) {
    let runs = Runs::default();
    let r = runs.clone();
    let mut app = TestApp::spawn_with_jobs(
        b,
        |_| {},
        move |jobs| {
            counted(jobs, "doomed", &r, "node", |attempt| {
                anyhow::bail!("the printer is on fire (attempt {attempt})")
            })
        },
    )
    .await;
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    let db = open_db(&app.database_url, 2).await;
    let id = enqueue_job(&db, new_job("doomed", json!({})).max_attempts(2))
        .await
        .id;
    let dead = |n: usize| {
        let (db, runs) = (&db, &runs);
        async move {
            wait_for("the job to die", WAIT, async || {
                job(db, id)
                    .await
                    .filter(|j| j.state == State::Dead && runs.len() == n)
            })
            .await
        }
    };
    let row = dead(2).await;
    assert_eq!(row.attempts, 2);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("the printer is on fire (attempt 2)")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(runs.len(), 2, "a dead job is not run again");

    // The API lists it, with the dead filter and without.
    let list = expect(app.get("/admin/jobs?state=dead").await, StatusCode::OK).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let j = &items[0];
    assert_eq!(j["id"], id.to_string());
    assert_eq!(j["kind"], "doomed");
    assert_eq!(j["state"], "dead");
    assert_eq!(j["attempts"], 2);
    assert_eq!(j["max_attempts"], 2);
    assert!(
        j["last_error"]
            .as_str()
            .unwrap()
            .contains("the printer is on fire")
    );
    assert!(j.get("payload").is_none(), "payloads stay in the database");
    let all = expect(app.get("/admin/jobs").await, StatusCode::OK).await;
    let kinds: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"doomed") && kinds.contains(&"reminders"),
        "{all}"
    );
    // Pages of one.
    let first = expect(app.get("/admin/jobs?limit=1").await, StatusCode::OK).await;
    let next = first["next"].as_str().expect("a next page");
    let second = expect(
        app.get(&format!("/admin/jobs?limit=1&before={next}")).await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    // Strict query strings.
    expect_problem(
        app.get("/admin/jobs?state=finished").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_problem(
        app.get("/admin/jobs?stat=dead").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    // A member sees nothing of it and retries nothing.
    expect_problem(
        ana.get("/admin/jobs").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        ana.post(&format!("/admin/jobs/{id}/retry"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        ana.page("/admin").await.status(),
        StatusCode::FORBIDDEN,
        "the admin page is for admins"
    );
    // The metrics count it.
    assert_eq!(
        metric(&app, "chorus_jobs_dead", &["kind=\"doomed\""]).await,
        Some(1.0)
    );
    assert!(
        metric(&app, "chorus_jobs_oldest_queued_seconds", &[])
            .await
            .is_some()
    );

    // The admin page shows it with a Retry button.
    let html = app.page("/admin").await.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    assert!(html.contains("Background jobs"));
    assert!(html.contains("the printer is on fire (attempt 2)"));
    assert!(html.contains(&format!("action=\"/admin/jobs/{id}/retry\"")));

    // Only a dead job is retried: 409 for a queued one, 404 for none.
    let reminders = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["kind"] == "reminders")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_problem(
        app.post(&format!("/admin/jobs/{reminders}/retry"), json!({}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    expect_problem(
        app.post("/admin/jobs/999999/retry", json!({})).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.post("/admin/jobs/nine/retry", json!({})).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    // Retried through the API: queued with its attempts anew, it runs
    // twice more and is dead again.
    let retried = expect(
        app.post(&format!("/admin/jobs/{id}/retry"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["attempts"], 0);
    dead(4).await;

    // Retried from the page's form, which needs the CSRF token.
    let form = |csrf: String| {
        app.client
            .post(app.url(&format!("/admin/jobs/{id}/retry")))
            .form(&[("csrf", csrf)])
            .send()
    };
    let res = form("wrong".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(runs.len(), 4, "a refused form retries nothing");
    let res = form(app.csrf.clone().unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("Job {id} is queued again.")),
        "{html}"
    );
    dead(6).await;
    db.close().await;
    app.stop().await;
}

/// While a job with a unique key is queued or running, enqueueing the
/// key again (even at the same moment) finds it; a dead job no longer
/// holds its key, and retrying it while another holds it is a conflict.
async fn a_unique_key_queues_one_job(b: Backend) {
    // Nobody runs kind "idle" here, so its jobs stay queued.
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let db = open_db(&app.database_url, 4).await;
    let keyed = |n: i64| new_job("idle", json!({"n": n})).unique("idle:one");
    let first = enqueue_job(&db, keyed(1)).await;
    assert!(first.new);
    let again = enqueue_job(&db, keyed(2)).await;
    assert_eq!(
        again,
        Enqueued {
            id: first.id,
            new: false
        }
    );
    // Twice in one transaction.
    let mut tx = db.write().await.unwrap();
    let now = store::now_micros();
    let a = q::enqueue(&mut tx, &keyed(3).unique("idle:two"), now)
        .await
        .unwrap();
    let b2 = q::enqueue(&mut tx, &keyed(4).unique("idle:two"), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(a.new && !b2.new && a.id == b2.id);
    // At the same time, from two connections.
    let (x, y) = tokio::join!(
        enqueue_job(&db, keyed(5).unique("idle:three")),
        enqueue_job(&db, keyed(6).unique("idle:three"))
    );
    assert_eq!(x.id, y.id);
    assert!(x.new != y.new, "one of the two queued it");
    // Without a key, each enqueue is a job.
    let (p, r) = (
        enqueue(&db, "idle", json!({})).await,
        enqueue(&db, "idle", json!({})).await,
    );
    assert_ne!(p, r);
    let count = |rows: Vec<JobRow>| rows.iter().filter(|j| j.kind == "idle").count();
    let listed = q::list(&mut db.read().await.unwrap(), None, None, 100)
        .await
        .unwrap();
    assert_eq!(count(listed), 5);

    // A dead job gives its key up.
    let mut tx = db.write().await.unwrap();
    let now = store::now_micros();
    let claimed = q::claim(&mut tx, &["idle"], "test/0", now + 60_000_000, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, first.id, "the oldest due job first");
    assert!(q::bury(&mut tx, &claimed, "given up", now).await.unwrap());
    tx.commit().await.unwrap();
    let fresh = enqueue_job(&db, keyed(7)).await;
    assert!(fresh.new && fresh.id != first.id);
    // Retrying the dead one now would make two jobs with one key.
    let res = app
        .post(&format!("/admin/jobs/{}/retry", first.id), json!({}))
        .await;
    let problem = expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("key"));
    assert_eq!(job(&db, first.id).await.unwrap().state, State::Dead);
    db.close().await;
    app.stop().await;
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Typed {
    n: i64,
}

/// A payload an older version wrote that this one cannot read is dead at
/// once, the error naming the kind and what serde found; a handler that
/// panics fails its attempt. Either way the runner goes on with the next
/// job.
async fn an_unreadable_payload_or_a_panic_does_not_stop_the_runner(b: Backend) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let app = TestApp::spawn_with_jobs(
        b,
        |_| {},
        move |jobs| {
            let s = s.clone();
            jobs.register("typed", move |_: Context, p: Typed| {
                s.lock().unwrap().push(p.n);
                async { Ok(Outcome::Done) }
            });
            jobs.register("panicky", |ctx: Context, _: Value| async move {
                if ctx.attempts() > 0 {
                    panic!("the handler tripped over attempt {}", ctx.attempts());
                }
                Ok(Outcome::Done)
            });
        },
    )
    .await;
    let db = open_db(&app.database_url, 2).await;
    let old = enqueue(&db, "typed", json!({"count": 1})).await;
    let wrong = enqueue(&db, "typed", json!({"n": "seven"})).await;
    let panicky = enqueue_job(&db, new_job("panicky", json!({})).max_attempts(1))
        .await
        .id;
    let good = enqueue(&db, "typed", json!({"n": 2})).await;
    wait_for("the good job to run", WAIT, async || {
        job(&db, good).await.is_none().then_some(())
    })
    .await;
    assert_eq!(seen.lock().unwrap().as_slice(), [2]);
    for (id, words) in [
        (old, ["typed", "unknown field `count`"]),
        (wrong, ["typed", "invalid type: string \"seven\""]),
        (panicky, ["panicked", "the handler tripped over attempt 1"]),
    ] {
        let row = wait_for("a dead job", WAIT, async || {
            job(&db, id).await.filter(|j| j.state == State::Dead)
        })
        .await;
        assert_eq!(row.attempts, 1, "dead at the first attempt");
        let error = row.last_error.unwrap();
        for w in words {
            assert!(error.contains(w), "{w:?} in {error:?}");
        }
    }
    // Still running jobs after all that.
    let after = enqueue(&db, "typed", json!({"n": 3})).await;
    wait_for("a later job to run", WAIT, async || {
        job(&db, after).await.is_none().then_some(())
    })
    .await;
    assert_eq!(seen.lock().unwrap().as_slice(), [2, 3]);
    db.close().await;
    app.stop().await;
}

/// A runner that claimed a job and then died leaves it running until its
/// lease runs out; then a live runner takes it (a second attempt), and
/// the dead runner's late writes change nothing.
async fn a_claim_whose_lease_ran_out_runs_again(b: Backend) {
    let runs = Runs::default();
    let r = runs.clone();
    let app = TestApp::spawn_with_jobs(
        b,
        |_| {},
        move |jobs| counted(jobs, "counted", &r, "live", done),
    )
    .await;
    let db = open_db(&app.database_url, 2).await;
    // Once the runner has started (on SQLite its start ends every lease
    // a former server left behind)…
    wait_for("the runner to start", WAIT, async || {
        q::list(&mut db.read().await.unwrap(), None, None, 10)
            .await
            .unwrap()
            .iter()
            .any(|j| j.kind == "reminders")
            .then_some(())
    })
    .await;
    // …a job is enqueued and claimed in one transaction, so the live
    // runner never sees it unclaimed.
    let mut tx = db.write().await.unwrap();
    let id = q::enqueue(&mut tx, &new_job("counted", json!({})), store::now_micros())
        .await
        .unwrap()
        .id;
    let now = store::now_micros();
    let gone = q::claim(&mut tx, &["counted"], "gone-node/0", now + 2_000_000, now)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let claimed_at = Instant::now();
    assert_eq!(gone.id, id);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(runs.len(), 0, "not while the lease holds");
    let row = job(&db, id).await.unwrap();
    assert_eq!(row.state, State::Running);
    assert_eq!(row.locked_by.as_deref(), Some("gone-node/0"));
    wait_for("the job to run again", WAIT, async || {
        job(&db, id).await.is_none().then_some(())
    })
    .await;
    let all = runs.all();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].0, all[0].1), (id, 2), "its second attempt");
    assert!(all[0].3 - claimed_at >= Duration::from_millis(1900));
    // The runner that lost it cannot finish or record it.
    let mut tx = db.write().await.unwrap();
    let now = store::now_micros();
    assert!(!q::complete(&mut tx, &gone).await.unwrap());
    assert!(!q::extend(&mut tx, &gone, now + 1, now).await.unwrap());
    assert!(matches!(
        q::save_progress(&mut tx, &gone, &json!({}), now).await,
        Err(store::Error::ClaimLost { .. })
    ));
    drop(tx);
    db.close().await;
    app.stop().await;
}

/// `chorus serve` processes with the test job kinds and a 2 s lease.
fn serve(dir: &std::path::Path, url: &str, port: u16) -> Child {
    Child(
        chorus()
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--database-url", url])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .env("CHORUS_TEST_JOB_KINDS", "1")
            .env("CHORUS_JOB_LEASE_SECONDS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `kill -9` of the node running a job: the job runs again. On SQLite
/// the restarted server takes it at once (it holds the file alone); on
/// PostgreSQL the other node takes it once the lease has run out.
async fn a_job_of_a_killed_node_runs_again(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(b, dir.path()).await;
    let ports = [free_port(), free_port()];
    let mut nodes = vec![serve(dir.path(), &url, ports[0])];
    wait_healthy(&format!("http://127.0.0.1:{}", ports[0])).await;
    if b == Backend::Postgres {
        nodes.push(serve(dir.path(), &url, ports[1]));
        wait_healthy(&format!("http://127.0.0.1:{}", ports[1])).await;
    }
    let db = open_db(&url, 2).await;
    let kind = server::jobs::kinds::TEST_SLEEP;
    let id = enqueue(&db, kind, json!({"ms": 3000})).await;
    let held = wait_for("a node to claim the job", WAIT, async || {
        job(&db, id).await.filter(|j| j.state == State::Running)
    })
    .await;
    let owner: u32 = held
        .locked_by
        .as_deref()
        .and_then(|l| l.split('-').next())
        .and_then(|p| p.parse().ok())
        .expect("the claim names the process");
    let victim = nodes
        .iter()
        .position(|n| n.0.id() == owner)
        .expect("one of the nodes holds it");
    nodes[victim].0.kill().unwrap();
    nodes[victim].0.wait().unwrap();
    let row = job(&db, id).await.unwrap();
    assert_eq!(row.state, State::Running, "nobody finished it");
    assert_eq!(row.locked_by, held.locked_by);
    if b == Backend::Sqlite {
        nodes[victim] = serve(dir.path(), &url, ports[0]);
    }
    let again = wait_for("another node to take the job", WAIT, async || {
        job(&db, id)
            .await
            .filter(|j| j.state == State::Running && j.locked_by != held.locked_by)
    })
    .await;
    assert_eq!(again.attempts, 2);
    let survivor: u32 = again
        .locked_by
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(survivor, owner);
    wait_for("the job to finish", WAIT, async || {
        job(&db, id).await.is_none().then_some(())
    })
    .await;
    db.close().await;
    drop(nodes);
}

/// Migration 0008 turns the fan-outs pending in `fanout_jobs` into
/// `fanout` jobs with their progress, on both backends.
async fn pending_fan_outs_become_fanout_jobs(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(b, dir.path()).await;
    let db = open_db(&url, 1).await;
    store::migrate::run(&db).await.unwrap();
    // The table as 0002 made it (without its reference to `activities`),
    // with two fan-outs in it, then 0008 again.
    let mut tx = db.write().await.unwrap();
    tx.batch(
        "DROP TABLE jobs;
         CREATE TABLE fanout_jobs (
             activity_id  BIGINT PRIMARY KEY,
             item_id      BIGINT NOT NULL,
             targets      TEXT NOT NULL,
             next_target  BIGINT NOT NULL DEFAULT 0,
             after_member BIGINT NOT NULL DEFAULT 0,
             created_at   BIGINT NOT NULL
         );
         INSERT INTO fanout_jobs VALUES (7, 3, 'space:2', 0, 0, 1000);",
    )
    .await
    .unwrap();
    tx.execute(
        "INSERT INTO fanout_jobs VALUES (9, 4, $1, 1, 250, 2000)",
        store::params!["member:5\ntopic:say \"hi\" \\ there\nitem:4"],
    )
    .await
    .unwrap();
    tx.batch(match b {
        Backend::Sqlite => include_str!("../../../store/migrations/sqlite/0008_jobs.sql"),
        Backend::Postgres => include_str!("../../../store/migrations/postgres/0008_jobs.sql"),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut c = db.read().await.unwrap();
    let rows = c
        .query(
            "SELECT kind, payload, unique_key, state, run_at, attempts FROM jobs ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let jobs: Vec<(String, store::fanout::FanoutJob, String, String, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.text(0).unwrap(),
                serde_json::from_str(&r.text(1).unwrap()).unwrap(),
                r.text(2).unwrap(),
                r.text(3).unwrap(),
                r.i64(4).unwrap(),
                r.i64(5).unwrap(),
            )
        })
        .collect();
    let fanout =
        |activity, item, targets: &[&str], next_target, after_member| store::fanout::FanoutJob {
            activity,
            item,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            next_target,
            after_member,
        };
    assert_eq!(
        jobs,
        [
            (
                "fanout".into(),
                fanout(7, domain::ItemId(3), &["space:2"], 0, 0),
                "fanout:7".into(),
                "queued".into(),
                1000,
                0
            ),
            (
                "fanout".into(),
                fanout(
                    9,
                    domain::ItemId(4),
                    &["member:5", "topic:say \"hi\" \\ there", "item:4"],
                    1,
                    250
                ),
                "fanout:9".into(),
                "queued".into(),
                2000,
                0
            ),
        ]
    );
    assert!(
        c.query_opt("SELECT 1 FROM fanout_jobs", &[]).await.is_err(),
        "fanout_jobs is gone"
    );
    drop(c);
    db.close().await;
}

/// Two nodes on one PostgreSQL database share the queue: each job runs
/// once, and both nodes run some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_nodes_take_disjoint_jobs() {
    let runs = Runs::default();
    let slow = |jobs: &mut Registry, runs: &Runs, node: &'static str| {
        let runs = runs.clone();
        jobs.register("tally", move |ctx: Context, _: Value| {
            runs.note(&ctx, node);
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(Outcome::Done)
            }
        });
    };
    let (r1, r2) = (runs.clone(), runs.clone());
    let one = TestApp::spawn_with_jobs(Backend::Postgres, |_| {}, |j| slow(j, &r1, "one")).await;
    let two = TestApp::start_with_jobs(
        Backend::Postgres,
        tempfile::tempdir().unwrap(),
        one.database_url.clone(),
        |_| {},
        |j| slow(j, &r2, "two"),
    )
    .await;
    let db = open_db(&one.database_url, 2).await;
    let mut tx = db.write().await.unwrap();
    let now = store::now_micros();
    let mut ids = Vec::new();
    for n in 0..120 {
        ids.push(
            q::enqueue(&mut tx, &new_job("tally", json!({"n": n})), now)
                .await
                .unwrap()
                .id,
        );
    }
    tx.commit().await.unwrap();
    wait_for("every job to run", Duration::from_secs(30), async || {
        let left = q::list(&mut db.read().await.unwrap(), None, None, 500)
            .await
            .unwrap()
            .iter()
            .any(|j| j.kind == "tally");
        (!left).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = runs.all();
    let mut times: HashMap<i64, usize> = HashMap::new();
    for r in &all {
        *times.entry(r.0).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(times.get(id), Some(&1), "job {id} ran once");
    }
    assert_eq!(all.len(), ids.len());
    for node in ["one", "two"] {
        assert!(
            all.iter().any(|r| r.2 == node),
            "node {node} ran some of the jobs"
        );
    }
    assert!(all.iter().all(|r| r.1 == 1), "each at its first attempt");
    db.close().await;
    two.stop().await;
    one.stop().await;
}
