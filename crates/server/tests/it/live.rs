//! Live updates over Server-Sent Events, on one node and across two.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, item_ids};

backend_tests!(
    live_home_resumes_without_gaps_or_repeats,
    live_notification_count,
    live_respects_visibility,
    big_fanout_goes_through_the_worker,
    home_deliveries_fold_and_survive_restarts,
);

const WAIT: Duration = Duration::from_secs(5);

async fn live_home_resumes_without_gaps_or_repeats(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    bo.follow_member("ana").await;
    let mut live = bo.sse("/streams/home/events", None).await;
    let first = ana.post_item(json!({"body": "one"})).await;
    let ev = live.next(WAIT).await.expect("an event");
    assert_eq!(ev.event, "activity");
    assert_eq!(ev.data["item"]["id"], first.as_str());
    let resume_from = ev.id.clone().unwrap();
    drop(live);
    // While disconnected, two more arrive.
    let second = ana.post_item(json!({"body": "two"})).await;
    let third = ana.post_item(json!({"body": "three"})).await;
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
    owner.post_item(json!({"body": "welcome @ana"})).await;
    let ev = badge.next(WAIT).await.expect("count after a mention");
    assert_eq!(ev.data["unread"], 1);
    expect(
        ana.post("/notifications/read-all", json!({})).await,
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
    ana.post_item(json!({"space": "secret-plans", "body": "hidden #plans"}))
        .await;
    let public = ana.post_item(json!({"body": "public #plans"})).await;
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
    bo2.follow_member("ana").await;
    let mut live = bo2.sse("/streams/home/events", None).await;
    for i in 0..3 {
        let start = Instant::now();
        let id = ana
            .post_item(json!({"body": format!("from node one #{i}x")}))
            .await;
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

/// Audiences above `fanout_inline_max` are delivered by the background
/// worker: home and live still get the post.
async fn big_fanout_goes_through_the_worker(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| s.fanout_inline_max = 1).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let cy = owner.new_member("cy", "member").await;
    ana.create_space(json!({"name": "Everyone"})).await;
    for m in [&bo, &cy] {
        m.join("everyone").await;
    }
    let mut live = cy.sse("/streams/home/events", None).await;
    let id = ana
        .post_item(json!({"space": "everyone", "body": "all hands at 4"}))
        .await;
    let ev = live.next(WAIT).await.expect("delivered live by the worker");
    assert_eq!(ev.data["item"]["id"], id.as_str());
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert_eq!(home["items"][0]["item"]["id"], id.as_str());
    // Delivery order: a later small post arrives after, and resuming from
    // the first event gets exactly what followed.
    let resume = ev.id.unwrap();
    drop(live);
    let id2 = ana
        .post_item(json!({"space": "everyone", "body": "moved to 5"}))
        .await;
    let mut live = cy.sse("/streams/home/events", Some(&resume)).await;
    let ev = live.next(WAIT).await.expect("the second post");
    assert_eq!(ev.data["item"]["id"], id2.as_str());
    assert!(live.next(Duration::from_millis(300)).await.is_none());
    owner.stop().await;
}

/// A home page's item ids and its next-page cursor.
async fn home_page(app: &TestApp, path: &str) -> (Vec<String>, Option<String>) {
    let page = expect(app.get(path).await, StatusCode::OK).await;
    (item_ids(&page), page["next"].as_str().map(str::to_owned))
}

/// Home deliveries on SQLite go to a log kept in memory and are folded
/// into the inboxes later (ARCHITECTURE.md): a restart reads the log back,
/// a fold loses and repeats nothing, and pages and live resumption read
/// across the two. On PostgreSQL the same steps check plain inboxes.
async fn home_deliveries_fold_and_survive_restarts(b: Backend) {
    let no_fold = |s: &mut server::config::Settings| s.fold_deliveries_at = usize::MAX;
    let mut owner = TestApp::spawn_with(b, no_fold).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner.follow_member("ana").await;
    let log_rows = |url: String| async move {
        let db = crate::harness::open_db(&url, 1).await;
        let mut c = db.read().await.unwrap();
        let n = c
            .query_one("SELECT COUNT(*) FROM deliveries", &[])
            .await
            .unwrap()
            .i64(0)
            .unwrap();
        drop(c);
        db.close().await;
        n
    };
    let mut posted = Vec::new();
    for i in 0..3 {
        posted.push(
            ana.post_item(json!({"body": format!("before the restart {i}")}))
                .await,
        );
    }
    // Unfolded deliveries come back from the log after a restart.
    let owner = owner.restart(no_fold).await;
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
    assert_eq!(home_page(&owner, "/streams/home").await.0, newest_first);
    for i in 3..6 {
        posted.push(
            ana.post_item(json!({"body": format!("before the fold {i}")}))
                .await,
        );
    }
    // A server that folds at once empties the log into the inboxes.
    let owner = owner.restart(|s| s.fold_deliveries_at = 1).await;
    if b == Backend::Sqlite {
        assert!(log_rows(owner.database_url.clone()).await > 0);
        let start = std::time::Instant::now();
        while log_rows(owner.database_url.clone()).await > 0 {
            assert!(start.elapsed() < WAIT, "the log was folded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Newer deliveries stay in memory beside the folded ones.
    let owner = owner.restart(no_fold).await;
    for i in 6..9 {
        posted.push(
            ana.post_item(json!({"body": format!("after the fold {i}")}))
                .await,
        );
    }
    if b == Backend::Sqlite {
        assert_eq!(log_rows(owner.database_url.clone()).await, 3);
    }
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(c) => format!("/streams/home?limit=2&before={c}"),
            None => "/streams/home?limit=2".into(),
        };
        let (ids, n) = home_page(&owner, &path).await;
        seen.extend(ids);
        match n {
            Some(c) => next = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen, newest_first,
        "every post once, newest first, in pages of two"
    );
    // Live resumption from the second post gets the rest, in order, once.
    let (first_page, cursor) = home_page(&owner, "/streams/home?limit=8").await;
    assert_eq!(first_page, newest_first[..8]);
    // A page cursor is the position, base64url-encoded; an event id is the
    // position itself.
    let position = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor.expect("a next page"))
            .unwrap();
        String::from_utf8(raw).unwrap()
    };
    let mut live = owner.sse("/streams/home/events", Some(&position)).await;
    for want in &posted[2..] {
        let ev = live.next(WAIT).await.expect("a resumed event");
        assert_eq!(ev.data["item"]["id"], want.as_str());
    }
    assert!(live.next(Duration::from_millis(300)).await.is_none());
    drop(live);
    owner.stop().await;
}

/// A tiny run of the whole benchmark, so it keeps working (timing is not
/// checked: benchmarks are not tests). The `bench` crate runs in this
/// process and measures this build's `chorus` binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_smoke_run() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let pg_db = format!("chorus_bench_smoke_{}", std::process::id());
    let cli = bench::Cli::try_parse_from([
        "chorus-bench",
        "all",
        "--smoke",
        "--backend",
        "both",
        "--pg-database",
        &pg_db,
        "--dir",
        dir.path().to_str().unwrap(),
        "--pg-admin-url",
        &crate::harness::pg_admin_url(),
        "--chorus",
        env!("CARGO_BIN_EXE_chorus"),
    ])
    .unwrap();
    let out = bench::run(cli.command).await;
    // The run made a database of its own; leave nothing behind.
    if let Ok((client, conn)) =
        tokio_postgres::connect(&crate::harness::pg_admin_url(), tokio_postgres::NoTls).await
    {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"))
            .await;
    }
    let stdout = match out {
        Ok(table) => table,
        Err(e) => panic!("bench failed: {e:#}"),
    };
    for row in [
        "M1 ratio home/hello",
        "M2 in every home",
        "M3 writes/s sustained at 90/10, everyday writes",
        "M3 writes/s sustained at 90/10, comments only",
        "M3 comments only, last rate: read p99 ms with / without writes",
        "M4 search p50 / p99 ms",
        "M4 search index on disk",
        "M5 RSS",
        "CPU time stolen by the host while measuring",
    ] {
        assert!(stdout.contains(row), "{row} in:\n{stdout}");
    }
    // Linux tells the stolen time: a figure, not NaN.
    let stolen = stdout
        .lines()
        .find(|l| l.contains("CPU time stolen"))
        .unwrap();
    assert!(stolen.contains('%') && !stolen.contains("NaN"), "{stolen}");
    assert!(
        stdout.contains("| errors | 0 | 0 | 0 |"),
        "no errors:\n{stdout}"
    );
    // The run wrote posts and comments; reset puts the data set back as
    // generated, so the next run starts from the same data.
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .expect("the SQLite data set");
    let db = store::Db::open(
        &format!("sqlite://{}", file.display()),
        &store::Options::default(),
    )
    .await
    .unwrap();
    let counts = |db: store::Db| async move {
        let mut c = db.read().await.unwrap();
        let r = c
            .query_one(
                "SELECT (SELECT COUNT(*) FROM activities), (SELECT COUNT(*) FROM items),
                        (SELECT COUNT(*) FROM comments), (SELECT SUM(comment_count) FROM items),
                        (SELECT COUNT(*) FROM inbox), (SELECT COUNT(*) FROM follows),
                        (SELECT COUNT(*) FROM deliveries)",
                &[],
            )
            .await
            .unwrap();
        (0..7).map(|i| r.i64(i).unwrap()).collect::<Vec<_>>()
    };
    let after_run = counts(db.clone()).await;
    assert!(store::bench_data::reset(&db).await.unwrap());
    let reset = counts(db.clone()).await;
    assert!(
        reset.iter().zip(&after_run).all(|(r, a)| r <= a) && reset != after_run,
        "reset removed the run's writes: {after_run:?} → {reset:?}"
    );
    assert_eq!(reset[2], reset[3], "comment counts match the comments left");
    assert!(
        after_run[6] > 0 && reset[6] == 0,
        "the run's deliveries were logged, and reset removed them: {after_run:?} → {reset:?}"
    );
    assert!(store::bench_data::reset(&db).await.unwrap());
    assert_eq!(
        counts(db.clone()).await,
        reset,
        "a second reset changes nothing"
    );
    db.close().await;
}
