//! The daily digest, into the real SMTP sink of `mail.rs`: the `digests`
//! job is run here with the time given (as two nodes would run it), and the
//! server's own `mail` job renders and sends what it enqueues.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, open_db};
use crate::mail::{Received, Sink, mail_jobs, mail_settled, mailing_app};

backend_tests!(
    a_digest_comes_once_at_the_hour_with_only_what_may_be_seen,
    digest_hour_through_the_api,
);

const BASE: &str = "http://chorus.test";

/// Runs the `digests` job at `now` as a node on the app's database would.
pub(crate) async fn run_at(app: &TestApp, now: i64) -> usize {
    let db = open_db(&app.database_url, 1).await;
    let n = server::service::digest::run_digests(
        &server::context::Ctx::new(db.clone(), Default::default()),
        now,
    )
    .await
    .unwrap();
    db.close().await;
    n
}

/// The same moment claimed by two nodes at once.
async fn run_twice_at_once(app: &TestApp, now: i64) -> usize {
    let (a, b) = tokio::join!(run_at(app, now), run_at(app, now));
    a + b
}

fn berlin_at(day: Date, h: i8, m: i8, s: i8) -> i64 {
    day.at(h, m, s, 0)
        .to_zoned(TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
        .as_microsecond()
}

/// The digests in the sink so far.
fn digests(sink: &Sink) -> Vec<Received> {
    sink.received()
        .into_iter()
        .filter(|m| {
            m.parsed()
                .subject()
                .is_some_and(|s| s.starts_with("Your Chorus digest"))
        })
        .collect()
}

/// Waits until the queue has sent or dropped every mail.
async fn settle(app: &TestApp) {
    // The runner looks at jobs other nodes queued every second.
    tokio::time::sleep(Duration::from_millis(300)).await;
    mail_settled(app).await;
}

/// Bo, in Berlin with the digest at 08:00, follows the space `launch` and
/// Olga; Cy follows nothing; Olga has paused her mail. Bo gets one digest
/// when 08:00 passes in Berlin, and not before, not twice: grouped by
/// space with counts, without what he cannot see (a closed space he is not
/// in) or has opened already, with his digest notifications and the
/// request waiting on him. Cy gets nothing. Pause, and the digest's own
/// one-click unsubscribe, stop it.
async fn a_digest_comes_once_at_the_hour_with_only_what_may_be_seen(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    let _cy = owner.new_member("cy", "member").await;
    expect(
        owner.put("/me/mail", json!({"paused": true})).await,
        StatusCode::OK,
    )
    .await;
    expect(
        bo.patch("/me", json!({"time_zone": "Europe/Berlin"})).await,
        StatusCode::OK,
    )
    .await;
    let got = expect(
        bo.put("/me/mail", json!({"digest_hour": 8})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["digest_time_zone"], "Europe/Berlin");
    // The first run starts everyone's clock: it sends nothing.
    let start = store::now_micros();
    assert_eq!(run_at(&owner, start).await, 0);

    // The first 08:00 in Berlin from now.
    let tz = TimeZone::get("Europe/Berlin").unwrap();
    let mut day = Timestamp::from_microsecond(start)
        .unwrap()
        .to_zoned(tz)
        .date();
    if berlin_at(day, 8, 0, 0) <= start {
        day = day.tomorrow().unwrap();
    }

    owner
        .create_space(json!({"name": "Launch", "visibility": "open"}))
        .await;
    bo.join("launch").await;
    owner
        .create_space(json!({"name": "Board", "visibility": "closed"}))
        .await;
    bo.follow_member("owner").await;
    let plan = owner
        .post_item(json!({"space": "launch", "title": "Launch plan", "body": "Steps"}))
        .await;
    let budget = owner
        .post_item(json!({"space": "launch", "title": "Launch budget", "body": "Money"}))
        .await;
    for i in 0..3 {
        owner.comment(&plan, &format!("Step {i}")).await;
    }
    let notes = bo
        .post_item(json!({"space": "launch", "title": "Bo notes", "body": "Mine"}))
        .await;
    owner.comment(&notes, "Nice notes").await;
    expect(
        owner
            .post(&format!("/items/{notes}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    owner
        .post_item(json!({"space": "board", "title": "Secret plan", "body": "Hush"}))
        .await;
    owner
        .post_item(json!({"title": "Hello from Olga", "body": "Hi all"}))
        .await;
    // Bo has opened the budget already.
    expect(
        bo.post(&format!("/items/{budget}/seen"), json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let due = jiff::Timestamp::from_microsecond(start + 72 * 3600 * 1_000_000)
        .unwrap()
        .to_string();
    expect(
        owner
            .post(
                "/requests",
                json!({"kind": "request", "to": ["bo"], "title": "Review the budget",
                       "conditions": "Numbers checked", "due": due}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    settle(&owner).await;
    let before = sink.received().len();

    // 07:59 in Berlin: not yet.
    assert_eq!(run_at(&owner, berlin_at(day, 7, 59, 0)).await, 0);
    assert_eq!(mail_jobs(&owner).await, 0);

    // 08:00:30: one digest, though two nodes claim it at once.
    assert_eq!(run_twice_at_once(&owner, berlin_at(day, 8, 0, 30)).await, 1);
    settle(&owner).await;
    let got = digests(&sink);
    assert_eq!(got.len(), 1, "one digest");
    let m = &got[0];
    assert_eq!(m.rcpt, vec!["bo@acme.test".to_owned()]);
    let p = m.parsed();
    let date = day.strftime("%A %-d %B").to_string();
    assert_eq!(
        p.subject(),
        Some(
            format!("Your Chorus digest for {date}: 6 new, 2 notifications, 1 waiting on you")
                .as_str()
        )
    );
    assert_eq!(
        p.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        p.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    let text = m.text();
    let html = m.html();
    assert!(
        text.contains(&format!(
            "Launch ({BASE}/spaces/launch) — 1 new post, 4 comments"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "To you and from people you follow ({BASE}/) — 1 new post"
        )),
        "{text}"
    );
    assert!(text.contains("Launch plan"), "{text}");
    assert!(
        html.contains(&format!("href=\"{BASE}/items/{plan}\"")),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{BASE}/spaces/launch\"")));
    assert!(text.contains("Hello from Olga"), "{text}");
    assert!(!text.contains("Secret plan"), "a closed space: {text}");
    assert!(!text.contains("Board"), "{text}");
    assert!(!text.contains("Launch budget"), "opened already: {text}");
    assert!(
        text.contains("Olga Owner replied to Bo notes"),
        "the digest notifications: {text}"
    );
    assert!(text.contains("Olga Owner reacted to Bo notes"), "{text}");
    assert!(text.contains("Review the budget"), "{text}");
    assert!(text.contains("with Olga Owner, due "), "{text}");
    assert!(
        text.contains("Your daily digest comes at 08:00 (Europe/Berlin)"),
        "{text}"
    );
    assert!(!text.contains("**"), "{text}");

    // Not twice that day, however late or often the job runs; Cy's hour
    // (08:00 UTC) comes and he has nothing: nothing is sent.
    assert_eq!(run_at(&owner, berlin_at(day, 8, 30, 0)).await, 0);
    assert_eq!(run_at(&owner, berlin_at(day, 9, 0, 30)).await, 1, "Cy's");
    assert_eq!(run_at(&owner, berlin_at(day, 23, 0, 0)).await, 0);
    settle(&owner).await;
    assert_eq!(digests(&sink).len(), 1);
    assert_eq!(sink.received().len(), before + 1, "nothing to Cy");

    // The next day only what is new since the last digest (nothing), and
    // the request still waiting.
    let next = day.tomorrow().unwrap();
    assert_eq!(run_at(&owner, berlin_at(next, 8, 5, 0)).await, 1);
    settle(&owner).await;
    let got = digests(&sink);
    assert_eq!(got.len(), 2);
    let text = got[1].text();
    assert!(text.contains("Review the budget"), "{text}");
    assert!(!text.contains("Launch plan"), "told already: {text}");
    assert!(!text.contains("Hello from Olga"), "told already: {text}");
    assert!(!text.contains("reacted"), "told already: {text}");

    // Paused: no digest.
    expect(
        bo.put("/me/mail", json!({"paused": true})).await,
        StatusCode::OK,
    )
    .await;
    let third = next.tomorrow().unwrap();
    assert_eq!(run_at(&owner, berlin_at(third, 8, 5, 0)).await, 0);
    expect(
        bo.put("/me/mail", json!({"paused": false})).await,
        StatusCode::OK,
    )
    .await;

    // One click on the digest's List-Unsubscribe, no session: the digest
    // stops (its kinds move to the page only).
    let unsubscribe = got[1]
        .parsed()
        .header_raw("List-Unsubscribe")
        .unwrap()
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let path = unsubscribe.trim_start_matches(BASE).to_owned();
    let stranger = reqwest::Client::new();
    let page = stranger.get(owner.url(&path)).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Chorus mails you the daily digest")
    );
    let res = stranger
        .post(owner.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("no longer mails you the daily digest")
    );
    let choices = expect(bo.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(choices["choices"]["reaction"], "page");
    assert_eq!(choices["choices"]["reply"], "page");
    assert_eq!(choices["choices"]["mention"], "now", "mail at once stays");
    assert_eq!(run_at(&owner, berlin_at(third, 8, 30, 0)).await, 0);
    settle(&owner).await;
    assert_eq!(digests(&sink).len(), 2);
}

async fn digest_hour_through_the_api(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let got = expect(owner.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["digest_hour"], 8, "the default");
    assert_eq!(got["digest_time_zone"], "UTC");
    let got = expect(
        owner.put("/me/mail", json!({"digest_hour": 17})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["digest_hour"], 17);
    for bad in [json!(24), json!(-1)] {
        let p = expect_problem(
            owner
                .put(
                    "/me/mail",
                    json!({"digest_hour": bad, "choices": {"reaction": "now"}}),
                )
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "digest_hour", "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains("0 to 23")
                || p["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("0 to 23"),
            "{p}"
        );
    }
    expect_problem(
        owner.put("/me/mail", json!({"digest_hour": "8"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let got = expect(owner.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["digest_hour"], 17, "bad input changed nothing");
    assert_eq!(got["choices"]["reaction"], "digest");
    expect(
        owner
            .patch("/me", json!({"time_zone": "America/New_York"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let got = expect(owner.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["digest_time_zone"], "America/New_York");
}
