//! Conversations for action through the API: every (state, actor, act)
//! combination, concurrent acts, My work along the whole conversation,
//! to-dos, reminders and the calendar feed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem};

backend_tests!(
    every_state_actor_act_combination,
    concurrent_acts_one_wins,
    scenario_my_work_at_every_step,
    requests_to_several_people_and_spaces,
    todos_private_shared_and_promises,
    pages_my_work_and_request_forms,
    reminders_once_across_restarts,
    calendar_feed_parses,
);

const ACTS: [&str; 12] = [
    "request", "offer", "promise", "counter", "accept", "decline", "withdraw", "report", "renege",
    "cancel", "approve", "reject",
];

/// The design's table, written out independently of the domain crate:
/// (start, actor, act, resulting state). Starts name how the request got
/// there, so `countered_by_b` is A's turn to answer.
const TABLE: &[(&str, char, &str, &str)] = &[
    ("requested", 'B', "promise", "promised"),
    ("requested", 'B', "counter", "countered"),
    ("requested", 'B', "decline", "declined"),
    ("requested", 'A', "withdraw", "withdrawn"),
    ("offered", 'A', "accept", "promised"),
    ("offered", 'A', "counter", "countered"),
    ("offered", 'A', "decline", "declined"),
    ("offered", 'B', "withdraw", "withdrawn"),
    ("countered_by_b", 'A', "accept", "promised"),
    ("countered_by_b", 'A', "counter", "countered"),
    ("countered_by_b", 'A', "decline", "declined"),
    ("countered_by_b", 'B', "withdraw", "withdrawn"),
    ("countered_by_a", 'B', "accept", "promised"),
    ("countered_by_a", 'B', "counter", "countered"),
    ("countered_by_a", 'B', "decline", "declined"),
    ("countered_by_a", 'A', "withdraw", "withdrawn"),
    ("promised", 'B', "report", "reported"),
    ("promised", 'B', "renege", "reneged"),
    ("promised", 'A', "cancel", "cancelled"),
    ("reported", 'A', "approve", "completed"),
    ("reported", 'A', "reject", "promised"),
    ("reported", 'A', "cancel", "cancelled"),
];

/// How to reach each start: the opening (A requests or B offers) and the
/// acts after it.
/// (start, who opens, the acts after the opening).
type Start = (&'static str, char, &'static [(char, &'static str)]);

const STARTS: &[Start] = &[
    ("requested", 'A', &[]),
    ("offered", 'B', &[]),
    ("countered_by_b", 'A', &[('B', "counter")]),
    ("countered_by_a", 'B', &[('A', "counter")]),
    ("promised", 'A', &[('B', "promise")]),
    ("reported", 'A', &[('B', "promise"), ('B', "report")]),
    (
        "completed",
        'A',
        &[('B', "promise"), ('B', "report"), ('A', "approve")],
    ),
    ("declined", 'A', &[('B', "decline")]),
    ("withdrawn", 'A', &[('A', "withdraw")]),
    ("reneged", 'A', &[('B', "promise"), ('B', "renege")]),
    ("cancelled", 'A', &[('B', "promise"), ('A', "cancel")]),
];

struct Pair {
    a: TestApp,
    b: TestApp,
    _owner: TestApp,
}

async fn pair(b: Backend) -> Pair {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let a = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    Pair {
        a,
        b: bo,
        _owner: owner,
    }
}

impl Pair {
    fn who(&self, c: char) -> &TestApp {
        if c == 'A' { &self.a } else { &self.b }
    }
}

async fn open(p: &Pair, by: char, title: &str, due: Option<&str>) -> Value {
    let (kind, to) = if by == 'A' {
        ("request", "bo")
    } else {
        ("offer", "ana")
    };
    let mut body = json!({"kind": kind, "to": [to], "title": title,
        "conditions": "Numbers **checked**", "message": "hello"});
    if let Some(d) = due {
        body["due"] = json!(d);
    }
    let r = expect(p.who(by).post("/requests", body).await, StatusCode::CREATED).await;
    r["items"][0].clone()
}

async fn act(app: &TestApp, id: &str, act: &str) -> reqwest::Response {
    app.post(
        &format!("/requests/{id}/acts"),
        json!({"act": act, "message": format!("{act}!"),
               "terms": {"due": "2031-01-02T10:00:00Z"}}),
    )
    .await
}

async fn every_state_actor_act_combination(b: Backend) {
    let p = pair(b).await;
    let mut checked = 0;
    for (start, opener, path) in STARTS {
        let allowed_here: Vec<(String, String)> = TABLE
            .iter()
            .filter(|r| r.0 == *start)
            .map(|r| {
                let role = if r.1 == 'A' { "requester" } else { "performer" };
                (r.2.to_owned(), role.to_owned())
            })
            .collect();
        for actor in ['A', 'B'] {
            for a in ACTS {
                let r = open(&p, *opener, &format!("{start} {actor} {a}"), None).await;
                let id = r["id"].as_str().unwrap().to_owned();
                for (who, step) in *path {
                    expect(act(p.who(*who), &id, step).await, StatusCode::OK).await;
                }
                let before =
                    expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
                let res = act(p.who(actor), &id, a).await;
                match TABLE
                    .iter()
                    .find(|r| r.0 == *start && r.1 == actor && r.2 == a)
                {
                    Some(row) => {
                        let after = expect(res, StatusCode::OK).await;
                        assert_eq!(after["state"], row.3, "{start} {actor} {a}");
                        assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
                        let last = after["acts"].as_array().unwrap().last().unwrap().clone();
                        assert_eq!(last["act"], a);
                        assert_eq!(last["message"], format!("{a}!"));
                    }
                    None => {
                        let pr = expect_problem(res, StatusCode::CONFLICT, "act-not-allowed").await;
                        let mut got: Vec<(String, String)> = pr["allowed"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| {
                                (
                                    x["act"].as_str().unwrap().to_owned(),
                                    x["role"].as_str().unwrap().to_owned(),
                                )
                            })
                            .collect();
                        got.sort();
                        let mut want = allowed_here.clone();
                        want.sort();
                        assert_eq!(got, want, "{start} {actor} {a}: {pr}");
                        let after =
                            expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
                        assert_eq!(after["state"], before["state"], "{start} {actor} {a}");
                        assert_eq!(after["version"], before["version"]);
                        assert_eq!(after["acts"], before["acts"]);
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, STARTS.len() * 2 * ACTS.len());
    // The requester may ask for a progress report while the promise stands,
    // and the performer is told; nobody else may.
    let r = open(&p, 'A', "Progress?", None).await;
    let id = r["id"].as_str().unwrap();
    expect_problem(
        act(&p.a, id, "ask_progress").await,
        StatusCode::CONFLICT,
        "act-not-allowed",
    )
    .await;
    expect(act(&p.b, id, "promise").await, StatusCode::OK).await;
    expect_problem(
        act(&p.b, id, "ask_progress").await,
        StatusCode::CONFLICT,
        "act-not-allowed",
    )
    .await;
    let after = expect(act(&p.a, id, "ask_progress").await, StatusCode::OK).await;
    assert_eq!(after["state"], "promised");
    let n = expect(p.b.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["activity"]["verb"], "ask_progress", "{n}");
    // Unknown acts are a validation error.
    expect_problem(
        act(&p.a, id, "nudge").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
}

async fn concurrent_acts_one_wins(b: Backend) {
    let p = pair(b).await;
    for round in 0..5 {
        let r = open(&p, 'A', &format!("Race {round}"), None).await;
        let id = r["id"].as_str().unwrap().to_owned();
        let r = expect(act(&p.b, &id, "promise").await, StatusCode::OK).await;
        let version = r["version"].as_i64().unwrap();
        // A cancels while B reports, both from the version they saw.
        let path = format!("/requests/{id}/acts");
        let (x, y) = tokio::join!(
            p.a.post(&path, json!({"act": "cancel", "version": version})),
            p.b.post(&path, json!({"act": "report", "version": version})),
        );
        let mut statuses = [x.status(), y.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}"
        );
        let after = expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
        assert!(
            after["state"] == "cancelled" || after["state"] == "reported",
            "{after}"
        );
        assert_eq!(after["version"], version + 1);
        // The same act twice at once, without versions: one wins.
        let r = open(&p, 'A', &format!("Twice {round}"), None).await;
        let id = r["id"].as_str().unwrap().to_owned();
        let path = format!("/requests/{id}/acts");
        let (x, y) = tokio::join!(
            p.b.post(&path, json!({"act": "promise"})),
            p.b.post(&path, json!({"act": "promise"})),
        );
        let mut statuses = [x.status(), y.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    }
    // A stale version is a conflict even without a race.
    let r = open(&p, 'A', "Stale", None).await;
    let id = r["id"].as_str().unwrap();
    expect_problem(
        p.b.post(
            &format!("/requests/{id}/acts"),
            json!({"act": "promise", "version": 99}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
}

fn counts(w: &Value) -> [i64; 5] {
    let c = &w["counts"];
    [
        c["waiting_on_me"].as_i64().unwrap(),
        c["i_promised"].as_i64().unwrap(),
        c["promised_to_me"].as_i64().unwrap(),
        c["overdue"].as_i64().unwrap(),
        c["done_recently"].as_i64().unwrap(),
    ]
}

async fn work(app: &TestApp) -> Value {
    expect(app.get("/work").await, StatusCode::OK).await
}

/// The scenario: A requests → B counters with a later due → A
/// accepts → B reports → A rejects with a reason → B reports → A approves;
/// My work is right for both at every step.
async fn scenario_my_work_at_every_step(b: Backend) {
    let p = pair(b).await;
    assert_eq!(counts(&work(&p.a).await), [0, 0, 0, 0, 0]);
    let r = open(&p, 'A', "Q3 numbers", Some("2030-05-01T17:00:00Z")).await;
    let id = r["id"].as_str().unwrap().to_owned();
    assert_eq!(r["state"], "requested");
    assert_eq!(r["waiting_on"], "bo");
    // [waiting on me, I promised, promised to me, overdue, done recently]
    assert_eq!(counts(&work(&p.a).await), [0, 0, 0, 0, 0]);
    let wb = work(&p.b).await;
    assert_eq!(counts(&wb), [1, 0, 0, 0, 0]);
    assert_eq!(wb["waiting_on_me"][0]["id"], id.as_str());
    assert_eq!(wb["waiting_on_me"][0]["with"], "ana");
    assert_eq!(work(&p.a).await["waiting_on_others"][0]["id"], id.as_str());
    let n = expect(p.b.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "request", "{n}");

    let path = format!("/requests/{id}/acts");
    let r = expect(
        p.b.post(
            &path,
            json!({"act": "counter", "message": "Need more time",
                   "terms": {"due": "2030-05-08T17:00:00Z"}}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["state"], "countered");
    assert_eq!(r["turn"], "requester");
    assert_eq!(r["terms"]["due"], "2030-05-08T17:00:00Z");
    assert_eq!(r["terms"]["title"], "Q3 numbers");
    assert_eq!(counts(&work(&p.a).await), [1, 0, 0, 0, 0]);
    assert_eq!(counts(&work(&p.b).await), [0, 0, 0, 0, 0]);
    let ra = expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
    assert_eq!(ra["viewer_acts"], json!(["counter", "accept", "decline"]));

    let r = expect(
        p.a.post(&path, json!({"act": "accept"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["state"], "promised");
    assert_eq!(
        r["terms"]["due"], "2030-05-08T17:00:00Z",
        "the counter's terms"
    );
    assert_eq!(counts(&work(&p.a).await), [0, 0, 1, 0, 0]);
    assert_eq!(counts(&work(&p.b).await), [1, 1, 0, 0, 0]);
    let todos = expect(p.b.get("/todos").await, StatusCode::OK).await;
    assert_eq!(todos["items"][0]["kind"], "promise");
    assert_eq!(todos["items"][0]["request"], id.as_str());

    let r = expect(
        p.b.post(&path, json!({"act": "report"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["state"], "reported");
    assert_eq!(counts(&work(&p.a).await), [1, 0, 1, 0, 0]);
    assert_eq!(counts(&work(&p.b).await), [0, 1, 0, 0, 0]);

    let r = expect(
        p.a.post(&path, json!({"act": "reject", "message": "Missing EMEA"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["state"], "promised");
    let n = expect(p.b.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["activity"]["verb"], "reject", "{n}");
    assert_eq!(counts(&work(&p.a).await), [0, 0, 1, 0, 0]);
    assert_eq!(counts(&work(&p.b).await), [1, 1, 0, 0, 0]);

    // B reports again by checking the promise off in the to-dos.
    let t = expect(
        p.b.patch(&format!("/todos/r{id}"), json!({"completed": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["completed"], true);
    let r = expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
    assert_eq!(r["state"], "reported");
    assert_eq!(counts(&work(&p.a).await), [1, 0, 1, 0, 0]);

    let r = expect(
        p.a.post(&path, json!({"act": "approve"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["state"], "completed");
    assert_eq!(r["turn"], Value::Null);
    assert_eq!(r["viewer_acts"], json!([]));
    assert_eq!(counts(&work(&p.a).await), [0, 0, 0, 0, 1]);
    assert_eq!(counts(&work(&p.b).await), [0, 0, 0, 0, 1]);
    let verbs: Vec<String> = r["acts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["act"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        verbs,
        [
            "request", "counter", "accept", "report", "reject", "report", "approve"
        ]
    );
    // Every act is in the item's own stream.
    let s = expect(
        p.a.get(&format!("/items/{id}/stream")).await,
        StatusCode::OK,
    )
    .await;
    assert!(s["items"].as_array().unwrap().len() >= 7, "{s}");
}

async fn requests_to_several_people_and_spaces(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let a = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    let cy = owner.new_member("cy", "member").await;
    let r = expect(
        a.post(
            "/requests",
            json!({"to": ["bo", "@cy"], "title": "Review the deck", "due": "2030-01-01T09:00:00Z"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "one request per person");
    assert_eq!(items[0]["performer"]["handle"], "bo");
    assert_eq!(items[1]["performer"]["handle"], "cy");
    // Direct: Cy cannot see Bo's request, the owner neither.
    let bo_id = items[0]["id"].as_str().unwrap();
    expect_problem(
        cy.get(&format!("/requests/{bo_id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        owner.get(&format!("/requests/{bo_id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // Comments work on it like on any item.
    bo.comment(bo_id, "On it").await;
    // In an open space, everyone sees it; only the parties act.
    a.create_space(json!({"name": "Finance", "visibility": "open"}))
        .await;
    let r = expect(
        a.post(
            "/requests",
            json!({"to": ["bo"], "space": "finance", "title": "Close the books"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let sid = r["items"][0]["id"].as_str().unwrap();
    assert_eq!(r["items"][0]["space"], "finance");
    let seen = expect(cy.get(&format!("/requests/{sid}")).await, StatusCode::OK).await;
    assert_eq!(seen["viewer_role"], Value::Null);
    assert_eq!(seen["viewer_acts"], json!([]));
    expect_problem(
        cy.post(&format!("/requests/{sid}/acts"), json!({"act": "promise"}))
            .await,
        StatusCode::CONFLICT,
        "act-not-allowed",
    )
    .await;
    // Offers make the viewer the performer.
    let r = expect(
        bo.post(
            "/requests",
            json!({"kind": "offer", "to": ["ana"], "title": "I can host"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(r["items"][0]["state"], "offered");
    assert_eq!(r["items"][0]["performer"]["handle"], "bo");
    assert_eq!(r["items"][0]["waiting_on"], "ana");
    // Bad input changes nothing.
    expect_problem(
        a.post("/requests", json!({"to": ["nobody"], "title": "x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_problem(
        a.post("/requests", json!({"to": ["ana"], "title": "me"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_problem(
        a.post(
            "/requests",
            json!({"to": ["bo"], "title": "x", "due": "someday"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let w = work(&bo).await;
    assert_eq!(w["counts"]["waiting_on_me"], 2, "{w}");
    // The OpenAPI document describes the new endpoints.
    let doc = expect(a.get("/openapi.json").await, StatusCode::OK).await;
    for path in [
        "/requests",
        "/requests/{id}",
        "/requests/{id}/acts",
        "/work",
        "/todos",
        "/todos/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

async fn todos_private_shared_and_promises(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let a = owner.new_member("ana", "member").await;
    let bo = owner.new_member("bo", "member").await;
    expect(
        bo.put(
            "/follows",
            json!({"target_type": "member", "target": "ana", "level": "following"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let private = expect(
        a.post(
            "/todos",
            json!({"title": "Call the bank", "due": "2030-03-01T10:00:00Z"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(private["shared"], false);
    let shared = expect(
        a.post("/todos", json!({"title": "Draft Q3 plan", "shared": true}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let list = expect(a.get("/todos").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Others never see someone's to-dos.
    let pid = private["id"].as_str().unwrap();
    expect_problem(
        bo.patch(&format!("/todos/{pid}"), json!({"completed": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // Checking off a private to-do tells nobody.
    let before = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    let t = expect(
        a.patch(&format!("/todos/{pid}"), json!({"completed": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["completed"], true);
    let t = expect(
        a.patch(
            &format!("/todos/{pid}"),
            json!({"completed": false, "title": "Call the bank today"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(t["completed"], false);
    assert_eq!(t["title"], "Call the bank today");
    let after = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert_eq!(before["items"], after["items"]);
    // Checking off a shared one tells Ana's followers.
    let sid = shared["id"].as_str().unwrap();
    expect(
        a.patch(&format!("/todos/{sid}"), json!({"completed": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    let first = &home["items"][0];
    assert_eq!(first["verb"], "completed", "{home}");
    assert_eq!(first["actor"]["handle"], "ana");
    assert_eq!(first["item"]["title"], "Draft Q3 plan", "{first}");
    // Delete.
    expect(
        a.delete(&format!("/todos/{pid}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let list = expect(a.get("/todos").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    expect_problem(
        a.post("/todos", json!({"title": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
}

async fn page_text(app: &TestApp, path: &str) -> String {
    let res = app.page(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let html = res.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    html
}

async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = app.csrf.clone().unwrap();
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    app.client
        .post(app.url(path))
        .form(&all)
        .send()
        .await
        .unwrap()
}

/// The count of a My work section as the page shows it.
fn section_count(html: &str, key: &str) -> usize {
    let marker = format!("data-count=\"{key}\">");
    let at = html.find(&marker).expect(key) + marker.len();
    html[at..].split('<').next().unwrap().parse().unwrap()
}

/// (who, act, extra form fields, resulting state, [A, B] waiting on me).
type Step = (
    char,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    [usize; 2],
);

/// The scenario through the pages: forms for every act, My work and the
/// header count right for both people at every step.
async fn pages_my_work_and_request_forms(b: Backend) {
    let p = pair(b).await;
    let res = form(
        &p.a,
        "/requests",
        &[
            ("to", "bo"),
            ("title", "Q3 <numbers>"),
            ("conditions", "All *regions*"),
            ("due", "2030-05-01T17:00"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let loc = res.headers()["location"].to_str().unwrap().to_owned();
    let id = loc.rsplit('/').next().unwrap().to_owned();
    let steps: [Step; 6] = [
        (
            'B',
            "counter",
            &[("due", "2030-05-08T17:00"), ("message", "Need a week")],
            "countered",
            [1, 0],
        ),
        ('A', "accept", &[], "promised", [0, 1]),
        ('B', "report", &[], "reported", [1, 0]),
        (
            'A',
            "reject",
            &[("message", "EMEA is missing")],
            "promised",
            [0, 1],
        ),
        ('B', "report", &[], "reported", [1, 0]),
        ('A', "approve", &[], "completed", [0, 0]),
    ];
    // [A waiting on me, B waiting on me] before any act: B must answer.
    let html = page_text(&p.b, "/work").await;
    assert_eq!(section_count(&html, "waiting_on_me"), 1);
    assert!(
        html.contains("Q3 &lt;numbers&gt;") || html.contains("Q3 &#60;numbers&#62;"),
        "escaped"
    );
    // The notification is a sentence that links to the request.
    let notes = page_text(&p.b, "/notifications").await;
    assert!(notes.contains("asked you:"), "{notes}");
    assert!(
        notes.contains(&format!("href=\"/requests/{id}\"")),
        "{notes}"
    );
    for (who, act, extra, state, waiting) in steps {
        let page = page_text(p.who(who), &format!("/requests/{id}")).await;
        assert!(
            page.contains(&format!("value=\"{act}\"")),
            "{act} button for {who}"
        );
        let mut fields = vec![("act", act)];
        fields.extend_from_slice(extra);
        let res = form(p.who(who), &format!("/requests/{id}/acts"), &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{act}");
        let r = expect(p.a.get(&format!("/requests/{id}")).await, StatusCode::OK).await;
        assert_eq!(r["state"], state);
        let wa = page_text(&p.a, "/work").await;
        let wb = page_text(&p.b, "/work").await;
        assert_eq!(
            section_count(&wa, "waiting_on_me"),
            waiting[0],
            "A after {act}"
        );
        assert_eq!(
            section_count(&wb, "waiting_on_me"),
            waiting[1],
            "B after {act}"
        );
        for (html, n) in [(&wa, waiting[0]), (&wb, waiting[1])] {
            assert_eq!(
                html.contains(&format!("title=\"waiting on you\">{n}</span>")),
                n > 0,
                "header count after {act}"
            );
        }
    }
    let wa = page_text(&p.a, "/work").await;
    assert_eq!(section_count(&wa, "done_recently"), 1);
    let notes = page_text(&p.b, "/notifications").await;
    assert!(notes.contains("accepted your terms for"), "{notes}");
    assert!(notes.contains("approved your work on"), "{notes}");
    // A refused act from a stale page changes nothing.
    let res = form(&p.b, &format!("/requests/{id}/acts"), &[("act", "report")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // To-dos on My work: add, check off, reopen, delete.
    let res = form(&p.a, "/todos", &[("title", "Call the bank"), ("due", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let list = expect(p.a.get("/todos").await, StatusCode::OK).await;
    let tid = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(page_text(&p.a, "/work").await.contains("Call the bank"));
    form(&p.a, &format!("/todos/{tid}"), &[("done", "1")]).await;
    let list = expect(p.a.get("/todos").await, StatusCode::OK).await;
    assert_eq!(list["items"][0]["completed"], true);
    form(&p.a, &format!("/todos/{tid}"), &[("done", "delete")]).await;
    let list = expect(p.a.get("/todos").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

async fn open_db(app: &TestApp) -> store::Db {
    crate::harness::open_db(&app.database_url, 2).await
}

fn reasons(n: &Value) -> Vec<String> {
    n["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["reason"].as_str().unwrap().to_owned())
        .collect()
}

async fn reminders_once_across_restarts(b: Backend) {
    let p = pair(b).await;
    let hour: i64 = 3600 * 1_000_000;
    let now = store::now_micros();
    let due = jiff::Timestamp::from_microsecond(now + 2 * hour)
        .unwrap()
        .to_string();
    let r = open(&p, 'A', "Due soon", Some(&due)).await;
    let id = r["id"].as_str().unwrap().to_owned();
    // Not promised yet: no reminder.
    let db = open_db(&p.a).await;
    server::service::requests::run_reminders(
        &server::context::Ctx::new(db.clone(), Default::default()),
        now,
    )
    .await
    .unwrap();
    expect(act(&p.b, &id, "promise").await, StatusCode::OK).await;
    // A promise with a far due time is not reminded.
    let far = jiff::Timestamp::from_microsecond(now + 72 * hour)
        .unwrap()
        .to_string();
    let r2 = open(&p, 'A', "Far away", Some(&far)).await;
    expect(
        act(&p.b, r2["id"].as_str().unwrap(), "promise").await,
        StatusCode::OK,
    )
    .await;
    server::service::requests::run_reminders(
        &server::context::Ctx::new(db.clone(), Default::default()),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        server::service::requests::run_reminders(
            &server::context::Ctx::new(db.clone(), Default::default()),
            now
        )
        .await
        .unwrap(),
        0
    );
    db.close().await;
    // A restart (a new connection, as a new node would have) sends nothing again.
    let db = open_db(&p.a).await;
    assert_eq!(
        server::service::requests::run_reminders(
            &server::context::Ctx::new(db.clone(), Default::default()),
            now + hour
        )
        .await
        .unwrap(),
        0
    );
    let nb = expect(p.b.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(
        reasons(&nb).iter().filter(|r| *r == "due_soon").count(),
        1,
        "{nb}"
    );
    // Past due: both are told, once.
    assert_eq!(
        server::service::requests::run_reminders(
            &server::context::Ctx::new(db.clone(), Default::default()),
            now + 3 * hour
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        server::service::requests::run_reminders(
            &server::context::Ctx::new(db.clone(), Default::default()),
            now + 4 * hour
        )
        .await
        .unwrap(),
        0
    );
    db.close().await;
    let nb = expect(p.b.get("/notifications").await, StatusCode::OK).await;
    let na = expect(p.a.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(
        reasons(&nb).iter().filter(|r| *r == "overdue").count(),
        1,
        "{nb}"
    );
    assert_eq!(
        reasons(&na).iter().filter(|r| *r == "overdue").count(),
        1,
        "{na}"
    );
    assert_eq!(reasons(&na).iter().filter(|r| *r == "due_soon").count(), 0);
    let notes = page_text(&p.b, "/notifications").await;
    assert!(notes.contains("Due within 24 hours:"), "{notes}");
    assert!(notes.contains("Overdue:"), "{notes}");
    // A counter with a new due time would re-arm reminders; a completed one never.
    expect(act(&p.b, &id, "report").await, StatusCode::OK).await;
    expect(act(&p.a, &id, "approve").await, StatusCode::OK).await;
    let db = open_db(&p.a).await;
    assert_eq!(
        server::service::requests::run_reminders(
            &server::context::Ctx::new(db.clone(), Default::default()),
            now + 100 * hour
        )
        .await
        .unwrap(),
        1,
        "only the far one"
    );
    db.close().await;
}

async fn calendar_feed_parses(b: Backend) {
    let p = pair(b).await;
    let r = open(
        &p,
        'A',
        "Budget, final; v2 — ünïcode and a long title that needs folding across lines",
        Some("2030-05-01T17:00:00Z"),
    )
    .await;
    let id = r["id"].as_str().unwrap().to_owned();
    expect(act(&p.b, &id, "promise").await, StatusCode::OK).await;
    open(&p, 'A', "Not promised yet", Some("2030-06-01T17:00:00Z")).await;
    expect(
        p.b.post(
            "/todos",
            json!({"title": "Book the room", "due": "2030-04-30T09:00:00Z"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        p.b.post("/todos", json!({"title": "No due"})).await,
        StatusCode::CREATED,
    )
    .await;
    let feed = expect(p.b.post("/calendar", json!({})).await, StatusCode::CREATED).await;
    let url = feed["url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/api/v1/").unwrap()..];
    // No session needed: the secret is the key.
    let anon = p.b.browser();
    let res = anon.page(path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = res.text().await.unwrap();
    assert!(text.ends_with("\r\n"));
    for l in text.split("\r\n") {
        assert!(l.len() <= 75, "folded: {l:?}");
        assert!(!l.contains('\n'), "CRLF only");
    }
    let unfolded = icalendar::parser::unfold(&text);
    let cal = icalendar::parser::read_calendar(&unfolded).expect("valid iCalendar");
    let events: Vec<_> = cal
        .components
        .iter()
        .filter(|c| c.name.as_str() == "VEVENT")
        .collect();
    assert_eq!(events.len(), 2, "{text}");
    let prop = |c: &icalendar::parser::Component, name: &str| {
        c.properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.val.as_str().to_owned())
            .unwrap_or_default()
    };
    let mut got: Vec<(String, String)> = events
        .iter()
        .map(|e| (prop(e, "DTSTART"), prop(e, "SUMMARY")))
        .collect();
    got.sort();
    assert_eq!(got[0].0, "20300430T090000Z");
    assert_eq!(got[0].1, "To-do: Book the room");
    assert_eq!(got[1].0, "20300501T170000Z");
    // The parser unescapes what the feed escaped.
    assert!(
        got[1]
            .1
            .starts_with("Due: Budget, final; v2 — ünïcode and a long title"),
        "{}",
        got[1].1
    );
    assert!(
        unfolded.contains("SUMMARY:Due: Budget\\, final\\; v2"),
        "escaped on the wire"
    );
    // A description is the plain text of the conditions' Markdown.
    let descriptions: Vec<String> = events
        .iter()
        .map(|e| prop(e, "DESCRIPTION"))
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(descriptions, ["Numbers checked"]);
    // The requester's feed holds it too, as owed to them.
    let fa = expect(p.a.post("/calendar", json!({})).await, StatusCode::CREATED).await;
    let ua = fa["url"].as_str().unwrap();
    let ta = anon
        .page(&ua[ua.find("/api/v1/").unwrap()..])
        .await
        .text()
        .await
        .unwrap();
    assert!(ta.contains("SUMMARY:Due to you: Budget"), "{ta}");
    // Revoked: the address stops working; a new one replaces it.
    expect(p.b.delete("/calendar").await, StatusCode::NO_CONTENT).await;
    assert_eq!(anon.page(path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        anon.page("/api/v1/calendar/nonsense.ics").await.status(),
        StatusCode::NOT_FOUND
    );
    // The settings page: create an address, subscribe to it, revoke it.
    let settings = page_text(&p.b, "/settings").await;
    assert!(
        settings.contains("Create calendar address"),
        "no address yet"
    );
    let res = form(&p.b, "/settings/calendar", &[]).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let html = res.text().await.unwrap();
    test_support::safety::assert_safe_page(&html);
    let marker = "<code id=\"calendar-url\">";
    let at = html.find(marker).expect("the page shows the address") + marker.len();
    let url = html[at..].split('<').next().unwrap().to_owned();
    let path = &url[url.find("/api/v1/").unwrap()..];
    let res = anon.page(path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("SUMMARY:To-do: Book the room")
    );
    let settings = page_text(&p.b, "/settings").await;
    assert!(
        settings.contains("You have a calendar address"),
        "{settings}"
    );
    assert!(!settings.contains(path), "the secret is shown only once");
    let res = form(&p.b, "/settings/calendar/revoke", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Calendar address revoked")
    );
    assert_eq!(anon.page(path).await.status(), StatusCode::NOT_FOUND);
    // A form without the CSRF field changes nothing.
    let res =
        p.b.client
            .post(p.b.url("/settings/calendar"))
            .form(&[("csrf", "wrong")])
            .send()
            .await
            .unwrap();
    assert_ne!(res.status(), StatusCode::CREATED);
    assert!(
        page_text(&p.b, "/settings")
            .await
            .contains("Create calendar address")
    );
}
