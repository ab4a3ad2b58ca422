//! Nobody sees what they may not, on any surface. A fixture holds one
//! hidden thing per audience, each carrying secret words of its own in
//! every text field it has; every kind of viewer then reads every GET route
//! of the OpenAPI document, every page and fragment of the web router and
//! every live stream, and no response may hold a word its viewer may not
//! see (nor answer 5xx).
//!
//! New routes cannot escape: the API routes come from the served OpenAPI
//! document, and the pages from the test's own list, which must name every
//! GET route the router sources declare (`.route("…", get(…))` in
//! `src/http/{mod.rs,api/mod.rs,web/mod.rs}`, read by this test).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect};

backend_tests!(
    trust_surfaces_nobody_sees_what_they_may_not,
    trust_surfaces_concurrent_audience_previews_finish,
);

/// The viewers who are members (not guests) when the probes run.
const MEMBERS: &[&str] = &["owner", "adm", "ana", "sec", "clo", "opn", "out", "left"];

/// Each secret word, who may see it (from the rule in ARCHITECTURE.md,
/// "The social core", written out here rather than asked of the server),
/// and one of them who must see it somewhere (so the probe is not blind).
///
/// The cast: `owner` and `adm` (an admin) belong to no space; `ana` made the three
/// spaces and writes nearly everything; `sec`, `clo` and `opn` belong to the
/// secret, closed and open space; `out` to none (and asks to join the
/// closed one); `gin` is a guest in the open space, `gout` a guest in none.
/// Once everything is written, `left` is removed from the secret and the
/// closed space, `dem` (in no space) is made a guest, `gone` is deactivated
/// and `rev`'s API token is revoked; `gone` and `rev` were in every space
/// and named in the direct item.
fn secrets() -> Vec<(&'static str, Vec<&'static str>, Option<&'static str>)> {
    let members_and = |extra: &[&'static str]| {
        let mut v = MEMBERS.to_vec();
        v.extend_from_slice(extra);
        v
    };
    vec![
        // The secret space's name, description and slug.
        (SNAME, vec!["ana", "sec"], Some("sec")),
        (SSLUG, vec!["ana", "sec"], Some("sec")),
        // A closed space's name is known to members, not to guests outside.
        (CNAME, members_and(&[]), Some("out")),
        (CSLUG, members_and(&[]), Some("out")),
        (ONAME, members_and(&["gin"]), Some("gin")),
        (OSLUG, members_and(&["gin"]), Some("gin")),
        // Items (title, body, edit, comment, topic) by audience.
        (SITEM, vec!["ana", "sec"], Some("sec")),
        (STAG, vec!["ana", "sec"], Some("sec")),
        (CITEM, vec!["ana", "clo"], Some("clo")),
        (CTAG, vec!["ana", "clo"], Some("clo")),
        (OITEM, members_and(&["gin"]), Some("gin")),
        (OTAG, members_and(&["gin"]), Some("gin")),
        (PITEM, members_and(&[]), Some("out")),
        (PTAG, members_and(&[]), Some("out")),
        (DITEM, vec!["ana", "gin", "sec"], Some("gin")),
        (DTAG, vec!["ana", "gin", "sec"], Some("gin")),
        (AITEM, vec!["ana", "clo"], Some("clo")),
        (ATAG, vec!["ana", "clo"], Some("clo")),
        // A request and an offer in the closed space, between ana and clo.
        (REQ, vec!["ana", "clo"], Some("clo")),
        (OFFER, vec!["ana", "clo"], Some("clo")),
        // To-dos: ana's private one, one shared in the secret space, and
        // one of the member who is deactivated.
        (TODO, vec!["ana"], Some("ana")),
        (STODO, vec!["ana", "sec"], Some("sec")),
        (GTODO, vec![], None),
        // Out's request to join the closed space: seen as the space's
        // content is, by the one who asked, and by whoever decides it: the
        // space's admins and the org's (who administer every space but
        // the secret ones).
        (JOIN, vec!["ana", "clo", "out", "owner", "adm"], Some("ana")),
        // An item deleted after an edit: its text is gone for everyone
        // (the streams open while it was written saw it, as they should).
        (XITEM, vec![], None),
    ]
}

const SNAME: &str = "qzsnameqz";
const SSLUG: &str = "qzsslugqz";
const CNAME: &str = "qzcnameqz";
const CSLUG: &str = "qzcslugqz";
const ONAME: &str = "qzonameqz";
const OSLUG: &str = "qzoslugqz";
const SITEM: &str = "qzsitemqz";
const STAG: &str = "qzstagqz";
const CITEM: &str = "qzcitemqz";
const CTAG: &str = "qzctagqz";
const OITEM: &str = "qzoitemqz";
const OTAG: &str = "qzotagqz";
const PITEM: &str = "qzpitemqz";
const PTAG: &str = "qzptagqz";
const DITEM: &str = "qzditemqz";
const DTAG: &str = "qzdtagqz";
const AITEM: &str = "qzaitemqz";
const ATAG: &str = "qzatagqz";
const REQ: &str = "qzreqqz";
const OFFER: &str = "qzofferqz";
const TODO: &str = "qztodoqz";
const STODO: &str = "qzstodoqz";
const GTODO: &str = "qzgtodoqz";
const JOIN: &str = "qzjoinqz";
const XITEM: &str = "qzxitemqz";

const DUE: &str = "2031-03-04T09:00:00Z";

/// Every GET route of the web router (and the operational ones beside it),
/// as the router writes it. The test fails if the router has one more.
const PAGES: &[&str] = &[
    "/",
    "/setup",
    "/login",
    "/signup",
    "/signup/{token}",
    "/password/forgot",
    "/password/reset/{token}",
    "/address/confirm/{token}",
    "/invite/{token}",
    "/mail/unsubscribe/{token}",
    "/items/{id}",
    "/spaces",
    "/spaces/{slug}",
    "/spaces/{slug}/about",
    "/spaces/{slug}/settings",
    "/spaces/{slug}/members",
    "/topics/{tag}",
    "/members/{handle}",
    "/members/{handle}/{tab}",
    "/directory",
    "/search",
    "/notifications",
    "/searches",
    "/work",
    "/requests/{id}",
    "/settings",
    "/admin",
    "/fragments/activities/{id}",
    "/fragments/items/{id}/comments",
    "/static/style.css",
    "/static/app.js",
    "/healthz",
    "/hello",
    "/metrics",
    "/api/v1/openapi.json",
];

/// Query strings pages take, each probed too.
const PAGE_QUERIES: &[(&str, &[&str])] = &[(
    "/",
    &[
        "?filter=all",
        "?filter=people",
        "?filter=spaces",
        "?filter=mentions",
        "?filter=everything",
    ],
)];

/// How long a replayed live stream is read: its first event may take this
/// long (a busy machine)…
const SSE_FIRST: Duration = Duration::from_millis(1500);
/// …after which it is read until quiet this long…
const SSE_QUIET: Duration = Duration::from_millis(300);
/// …or at most this long.
const SSE_MAX: Duration = Duration::from_millis(3000);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Surface {
    Api,
    Page,
    Fragment,
    /// A live stream read from the start (`Last-Event-ID: 0`).
    Replay,
    /// A live stream open while the fixture was written.
    Live,
}

struct Viewer {
    name: &'static str,
    client: Client,
    /// `<secret>.ics` of their calendar feed.
    calendar: Option<String>,
}

fn bearer_client(token: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn plain_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts a fixture step that may be refused was not a server error.
async fn not_5xx(res: reqwest::Response, what: &str) {
    let s = res.status();
    let text = res.text().await.unwrap_or_default();
    assert!(s.as_u16() < 500, "{what}: {s} {text}");
}

async fn created(res: reqwest::Response) -> Value {
    expect(res, StatusCode::CREATED).await
}

/// Every `{name}` of `template` replaced by each of its values.
fn expand(template: &str, values: &BTreeMap<&str, Vec<String>>) -> Vec<String> {
    let Some(i) = template.find('{') else {
        return vec![template.to_owned()];
    };
    let j = i + template[i..].find('}').unwrap();
    let name = &template[i + 1..j];
    let vals = values.get(name).unwrap_or_else(|| {
        panic!("no values for the path parameter {{{name}}} of {template}: give the test some")
    });
    vals.iter()
        .flat_map(|v| {
            expand(
                &format!("{}{v}{}", &template[..i], &template[j + 1..]),
                values,
            )
        })
        .collect()
}

/// Values for a query parameter of the OpenAPI document.
fn query_values(name: &str, path: &str, values: &BTreeMap<&str, Vec<String>>) -> Vec<String> {
    match name {
        "mine" | "profile" => vec!["true".into()],
        // An avatar's version, for caching.
        "v" => vec!["1".into()],
        "space" => values["slug"].clone(),
        "direct" => values["handle"].clone(),
        // The admin's list of background jobs.
        "state" => ["queued", "running", "dead"].map(String::from).to_vec(),
        // Search: every secret word, by every viewer.
        "q" => secrets().into_iter().map(|s| s.0.to_owned()).collect(),
        "type" => [
            "post", "request", "comment", "person", "space", "topic", "todo",
        ]
        .map(String::from)
        .to_vec(),
        "tab" => ["everything", "posts", "people", "spaces"]
            .map(String::from)
            .to_vec(),
        _ => panic!("no values for the query parameter `{name}` of {path}: give the test some"),
    }
}

/// The URLs (under /api/v1) of every GET operation in the document, with
/// every path parameter replaced by each value of its kind; lists with
/// `limit=100`, and once per value of each other query parameter.
fn api_urls(doc: &Value, values: &BTreeMap<&str, Vec<String>>) -> Vec<String> {
    let mut urls = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(get) = item.get("get") else { continue };
        let queries: Vec<&str> = get["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let limit = if queries.contains(&"limit") {
            "?limit=100"
        } else {
            ""
        };
        for base in expand(path, values) {
            let base = format!("/api/v1{base}");
            urls.push(format!("{base}{limit}"));
            for q in &queries {
                if matches!(*q, "limit" | "before" | "after" | "cursor") {
                    continue;
                }
                for v in query_values(q, path, values) {
                    let sep = if limit.is_empty() { '?' } else { '&' };
                    urls.push(format!("{base}{limit}{sep}{q}={v}"));
                }
            }
        }
    }
    urls
}

/// The GET routes a router source declares: `.route("PATH", …get(…)…)`.
fn get_routes(src: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(t) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let end = t.find('"').unwrap();
        let path = &t[..end];
        let args = &t[end + 1..];
        let mut depth = 1;
        let mut close = args.len();
        for (n, c) in args.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = n;
                        break;
                    }
                }
                _ => {}
            }
        }
        let handler = &args[..close];
        let is_get = handler.match_indices("get(").any(|(n, _)| {
            handler[..n]
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        });
        if is_get {
            out.push(format!("{prefix}{path}"));
        }
    }
    out
}

/// GETs `url`; a live stream is read until quiet (from the start when
/// `replay`). Returns the status and everything answered, with the
/// `Location` header.
async fn fetch(client: &Client, url: &str, replay: bool) -> (u16, String) {
    // A server that never answers is a failure to report, not a hang.
    let mut req = client.get(url).timeout(Duration::from_secs(30));
    if replay {
        req = req.header("last-event-id", "0");
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) => return (0, format!("no answer: {e}")),
    };
    let status = res.status().as_u16();
    let mut text = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(|l| format!("Location: {l}\n"))
        .unwrap_or_default();
    let live = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    if live {
        let mut body = res.bytes_stream();
        let now = tokio::time::Instant::now();
        let cap = now + SSE_MAX;
        let mut until = now + SSE_FIRST;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(until, body.next()).await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            until = (tokio::time::Instant::now() + SSE_QUIET).min(cap);
        }
    } else {
        let body = res.bytes().await.unwrap_or_default();
        text.push_str(&String::from_utf8_lossy(&body));
    }
    (status, text)
}

struct Fixture {
    slugs: Vec<String>,
    handles: Vec<String>,
    tags: Vec<String>,
    items: Vec<String>,
    /// `(item, word)` of the items written here.
    main_items: Vec<(String, &'static str)>,
}

async fn trust_surfaces_nobody_sees_what_they_may_not(b: Backend) {
    let started = Instant::now();
    let mut owner = TestApp::spawn_with(b, |s| {
        // Every viewer holds dozens of live streams at once here.
        s.live_per_member = 10_000;
        s.db_max_connections = 8;
    })
    .await;
    owner.setup_owner().await;
    let admin = owner.new_member("adm", "admin").await;
    let ana = owner.new_member("ana", "member").await;
    let sec = owner.new_member("sec", "member").await;
    let clo = owner.new_member("clo", "member").await;
    let opn = owner.new_member("opn", "member").await;
    let out = owner.new_member("out", "member").await;
    let gin = owner.new_member("gin", "guest").await;
    let gout = owner.new_member("gout", "guest").await;
    let left = owner.new_member("left", "member").await;
    let dem = owner.new_member("dem", "member").await;
    let gone = owner.new_member("gone", "member").await;
    let rev = owner.new_member("rev", "member").await;

    // Three spaces, one per visibility, made by ana.
    for (name, slug, vis) in [
        (SNAME, SSLUG, "secret"),
        (CNAME, CSLUG, "closed"),
        (ONAME, OSLUG, "open"),
    ] {
        ana.create_space(json!({
            "name": format!("Space {name}"),
            "slug": slug,
            "description": format!("What {name} is for"),
            "visibility": vis,
        }))
        .await;
    }
    for (slug, handles) in [
        (SSLUG, &["sec", "left", "gone", "rev"][..]),
        (CSLUG, &["clo", "left", "gone", "rev"][..]),
        (OSLUG, &["opn", "gin", "gone", "rev"][..]),
    ] {
        for h in handles {
            ana.add_to_space(slug, h).await;
        }
    }

    // Everyone follows ana, the shared topic and every space they may.
    let everyone: Vec<(&str, &TestApp)> = vec![
        ("owner", &owner),
        ("adm", &admin),
        ("ana", &ana),
        ("sec", &sec),
        ("clo", &clo),
        ("opn", &opn),
        ("out", &out),
        ("gin", &gin),
        ("gout", &gout),
        ("left", &left),
        ("dem", &dem),
        ("gone", &gone),
        ("rev", &rev),
    ];
    for (name, who) in &everyone {
        let mut targets = vec![("member", "ana"), ("topic", "vis")];
        targets.extend([SSLUG, CSLUG, OSLUG].map(|s| ("space", s)));
        for (kind, target) in targets {
            let res = who
                .put("/follows", json!({"target_type": kind, "target": target}))
                .await;
            not_5xx(res, &format!("{name} follows {kind} {target}")).await;
        }
    }

    // Credentials: API tokens for gone and rev, a calendar feed each.
    let gone_token = created(gone.post("/tokens", json!({"name": "probe"})).await).await;
    let rev_token = created(rev.post("/tokens", json!({"name": "probe"})).await).await;
    let mut calendars = BTreeMap::new();
    for (name, who) in &everyone {
        let feed = created(who.post("/calendar", json!({})).await).await;
        let url = feed["url"].as_str().unwrap();
        calendars.insert(*name, url.rsplit('/').next().unwrap().to_owned());
    }

    // The viewers, one client each.
    let session = |name: &'static str, who: &TestApp| Viewer {
        name,
        client: who.client.clone(),
        calendar: calendars.get(name).cloned(),
    };
    let viewers = vec![
        session("owner", &owner),
        session("adm", &admin),
        session("ana", &ana),
        session("sec", &sec),
        session("clo", &clo),
        session("opn", &opn),
        session("out", &out),
        session("gin", &gin),
        session("gout", &gout),
        session("left", &left),
        session("dem", &dem),
        Viewer {
            name: "gone(session)",
            client: gone.client.clone(),
            calendar: calendars.get("gone").cloned(),
        },
        Viewer {
            name: "gone(token)",
            client: bearer_client(gone_token["secret"].as_str().unwrap()),
            calendar: calendars.get("gone").cloned(),
        },
        Viewer {
            name: "rev(token)",
            client: bearer_client(rev_token["secret"].as_str().unwrap()),
            calendar: None,
        },
        Viewer {
            name: "anonymous",
            client: plain_client(),
            calendar: None,
        },
    ];
    let stable = 9; // the first nine keep their standing throughout

    let doc = expect(owner.get("/openapi.json").await, StatusCode::OK).await;

    // Live streams that need no item, open before anything is written.
    let mut before_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    before_values.insert("slug", [SSLUG, CSLUG, OSLUG].map(String::from).to_vec());
    before_values.insert("tag", vec!["vis".into()]);
    before_values.insert("handle", vec!["ana".into()]);
    let live_paths: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, item)| p.ends_with("/events") && item.get("get").is_some())
        .map(|(p, _)| p.clone())
        .filter(|p| !p.contains("{id}"))
        .collect();
    assert!(
        live_paths.len() >= 5,
        "live streams in the document: {live_paths:?}"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut live = Vec::new();
    for v in &viewers[..stable] {
        for p in &live_paths {
            for path in expand(p, &before_values) {
                let url = owner.url(&format!("/api/v1{path}"));
                let res = v.client.get(&url).send().await.expect("live stream");
                let status = res.status().as_u16();
                let mut stopped = stopped.clone();
                let task = tokio::spawn(async move {
                    let mut text = String::new();
                    if status != 200 {
                        text = res.text().await.unwrap_or_default();
                        return text;
                    }
                    let mut body = res.bytes_stream();
                    loop {
                        tokio::select! {
                            c = body.next() => match c {
                                Some(Ok(c)) => text.push_str(&String::from_utf8_lossy(&c)),
                                _ => break,
                            },
                            _ = stopped.changed() => break,
                        }
                    }
                    text
                });
                live.push((v.name, path, status, task));
            }
        }
    }

    let fixture = write_fixture(&owner, &ana, &sec, &clo, &opn, &out, &gin, &gone).await;

    // The others use their credentials once the fixture stands (so any
    // cache holds them), then lose some of their rights.
    for v in &viewers[stable..stable + 5] {
        for path in ["/api/v1/streams/home", "/api/v1/spaces", "/"] {
            let (s, _) = fetch(&v.client, &owner.url(path), false).await;
            assert!(s == 200, "{} {path} before losing the right: {s}", v.name);
        }
    }
    expect(
        owner
            .patch("/admin/members/gone", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        rev.delete(&format!("/tokens/{}", rev_token["id"].as_str().unwrap()))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    for slug in [SSLUG, CSLUG] {
        expect(
            ana.delete(&format!("/spaces/{slug}/members/left")).await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    expect(
        owner
            .patch("/admin/members/dem", json!({"role": "guest"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let written = started.elapsed();

    // Every surface, for every viewer.
    let activities = max_activity(&ana, &fixture).await;
    let mut values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut slugs = fixture.slugs.clone();
    slugs.push("no-such-space".into());
    values.insert("slug", slugs);
    values.insert("handle", fixture.handles.clone());
    values.insert("tag", fixture.tags.clone());
    values.insert("id", fixture.items.clone());
    values.insert("token", vec!["no-such-invitation".into()]);
    values.insert("tab", vec!["followers".into(), "following".into()]);
    let mut fragment_values = values.clone();
    fragment_values.insert("id", (1..=activities + 2).map(|i| i.to_string()).collect());

    // The pages' list covers every GET route of the routers.
    let mut routes = get_routes(include_str!("../../src/http/web/mod.rs"), "");
    routes.extend(get_routes(include_str!("../../src/http/mod.rs"), ""));
    routes.extend(get_routes(
        include_str!("../../src/http/api/mod.rs"),
        "/api/v1",
    ));
    let listed: BTreeSet<&str> = PAGES.iter().copied().collect();
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| !listed.contains(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "GET routes of the router that this test does not probe; add them to PAGES: {missing:?}"
    );
    let routed: BTreeSet<&str> = routes.iter().map(String::as_str).collect();
    let stale: Vec<&&str> = PAGES.iter().filter(|p| !routed.contains(**p)).collect();
    assert!(
        stale.is_empty(),
        "PAGES lists routes the router no longer has: {stale:?}"
    );

    let mut probes: Vec<(usize, String, Surface)> = Vec::new();
    for (n, v) in viewers.iter().enumerate() {
        let mut mine = values.clone();
        let mut feeds = vec!["no-such-feed.ics".to_owned()];
        feeds.extend(v.calendar.iter().map(|c| c.to_string()));
        mine.insert("file", feeds);
        for url in api_urls(&doc, &mine) {
            let surface = if url.split('?').next().unwrap().ends_with("/events") {
                Surface::Replay
            } else {
                Surface::Api
            };
            probes.push((n, url, surface));
        }
        for page in PAGES {
            let (vals, surface) = if page.starts_with("/fragments/activities/") {
                (&fragment_values, Surface::Fragment)
            } else if page.starts_with("/fragments/") {
                (&mine, Surface::Fragment)
            } else {
                (&mine, Surface::Page)
            };
            for url in expand(page, vals) {
                probes.push((n, url, surface));
            }
        }
        for (page, queries) in PAGE_QUERIES {
            for q in *queries {
                probes.push((n, format!("{page}{q}"), Surface::Page));
            }
        }
        // The results page (its Everything tab holds every kind and every
        // tab's count) and the lists filtered by search: every secret
        // word, by every viewer.
        for (word, _, _) in secrets() {
            for page in ["/search?q=", "/directory?q=", "/admin?q="] {
                probes.push((n, format!("{page}{word}"), Surface::Page));
            }
        }
    }
    let probe_started = Instant::now();
    let base = owner.addr.clone();
    let viewers = &viewers;
    let run = |(n, url, surface): (usize, String, Surface)| {
        let full = format!("{base}{url}");
        async move {
            let (status, text) = fetch(&viewers[n].client, &full, surface == Surface::Replay).await;
            (n, url, surface, status, text)
        }
    };
    // Requests 24 at a time; live streams, which mostly wait, 128 at a time.
    let (replays, others): (Vec<_>, Vec<_>) =
        probes.into_iter().partition(|p| p.2 == Surface::Replay);
    let (mut answers, replayed): (Vec<_>, Vec<_>) = tokio::join!(
        futures_util::stream::iter(others)
            .map(run)
            .buffer_unordered(24)
            .collect(),
        futures_util::stream::iter(replays)
            .map(run)
            .buffer_unordered(128)
            .collect(),
    );
    answers.extend(replayed);
    let probed = probe_started.elapsed();

    // The live streams that were open all along.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.send(true).unwrap();
    let names: Vec<&str> = viewers.iter().map(|v| v.name).collect();
    for (name, path, status, task) in live {
        let text = task.await.unwrap();
        let n = names.iter().position(|x| *x == name).unwrap();
        answers.push((
            n,
            format!("/api/v1{path} (open)"),
            Surface::Live,
            status,
            text,
        ));
    }

    // Judge.
    let secrets = secrets();
    let mut leaks = BTreeSet::new();
    let mut errors = BTreeSet::new();
    let mut seen: BTreeMap<(&str, &str), BTreeSet<Surface>> = BTreeMap::new();
    for (n, url, surface, status, text) in &answers {
        let who = viewers[*n].name;
        if *status == 0 || *status >= 500 {
            let snip: String = text.chars().take(200).collect();
            errors.insert(format!("{who} GET {url}: {status} {snip}"));
        }
        for (word, allowed, _) in &secrets {
            // A word the request itself names may come back (a 404 saying
            // which space it did not find); other words still count.
            if url.contains(word) || !text.contains(word) {
                continue;
            }
            let then = *word == XITEM && *surface == Surface::Live;
            if allowed.contains(&who) || (then && (MEMBERS.contains(&who) || who == "gin")) {
                seen.entry((who, word)).or_default().insert(*surface);
            } else {
                leaks.insert(format!("{who} saw {word} at {url}"));
            }
        }
    }
    let mut kinds: BTreeMap<Surface, usize> = BTreeMap::new();
    for a in &answers {
        *kinds.entry(a.2).or_default() += 1;
    }
    eprintln!(
        "{b:?}: {} probes ({kinds:?}) by {} viewers; fixture {written:?}, probes {probed:?}, \
         total {:?}; {} leaks, {} server errors",
        answers.len(),
        viewers.len(),
        started.elapsed(),
        leaks.len(),
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} server errors:\n{}",
        errors.len(),
        errors
            .iter()
            .take(100)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        leaks.is_empty(),
        "{} leaks (viewer, word, where):\n{}",
        leaks.len(),
        leaks
            .iter()
            .take(300)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The probe is not blind: each word reaches someone who may see it,
    // and the secret item reaches its space's member on every kind of
    // surface.
    for (word, _, must) in &secrets {
        if let Some(who) = must {
            assert!(
                seen.contains_key(&(*who, *word)),
                "{who} should see {word} somewhere, and did not"
            );
        }
    }
    let all = BTreeSet::from([
        Surface::Api,
        Surface::Page,
        Surface::Fragment,
        Surface::Replay,
        Surface::Live,
    ]);
    assert_eq!(
        seen.get(&("sec", SITEM)),
        Some(&all),
        "sec sees the secret space's item on every kind of surface"
    );
    assert!(fixture.main_items.len() >= 6);
    owner.stop().await;
}

/// The newest activity id ana can find (ids are sequential, so every id up
/// to it is probed as a fragment).
async fn max_activity(ana: &TestApp, f: &Fixture) -> u64 {
    let mut paths = vec!["/streams/home?limit=100".to_owned()];
    paths.extend(
        f.slugs
            .iter()
            .map(|s| format!("/spaces/{s}/stream?limit=100")),
    );
    paths.extend(
        f.handles
            .iter()
            .map(|h| format!("/members/{h}/stream?limit=100")),
    );
    let mut max = 0;
    for p in paths {
        let page = expect(ana.get(&p).await, StatusCode::OK).await;
        for a in page["items"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap();
            let id = id.rsplit('-').next().unwrap().parse::<u64>().unwrap();
            max = max.max(id);
        }
    }
    assert!(max > 20, "activities found: {max}");
    max
}

#[allow(clippy::too_many_arguments)]
async fn write_fixture(
    owner: &TestApp,
    ana: &TestApp,
    sec: &TestApp,
    clo: &TestApp,
    opn: &TestApp,
    out: &TestApp,
    gin: &TestApp,
    gone: &TestApp,
) -> Fixture {
    let body = |word: &str, tag: &str| {
        format!("{word} body #vis #{tag}, for the record @out @gout @gin @left @dem")
    };
    // (word, tag, where, insider who comments, reacts and has seen it)
    let posts: Vec<(&str, &str, Value, &TestApp)> = vec![
        (SITEM, STAG, json!({"space": SSLUG}), sec),
        (CITEM, CTAG, json!({"space": CSLUG}), clo),
        (OITEM, OTAG, json!({"space": OSLUG}), opn),
        (PITEM, PTAG, json!({}), out),
        (
            DITEM,
            DTAG,
            json!({"to": ["gin", "sec", "gone", "rev"]}),
            gin,
        ),
        (
            AITEM,
            ATAG,
            json!({"space": CSLUG, "ack_requested": true}),
            clo,
        ),
    ];
    let mut main_items = Vec::new();
    for (word, tag, mut target, insider) in posts {
        target["title"] = json!(format!("{word} title"));
        target["body"] = json!(body(word, tag));
        let id = ana.post_item(target).await;
        expect(
            ana.patch(
                &format!("/items/{id}"),
                json!({"title": format!("{word} title, edited"), "body": format!("{} (edited)", body(word, tag))}),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let c = insider.comment(&id, &format!("{word} comment @out")).await;
        for reaction in [
            json!({"emoji": "👍"}),
            json!({"emoji": "🎉", "comment_id": c["id"]}),
        ] {
            expect(
                insider
                    .post(&format!("/items/{id}/reactions"), reaction)
                    .await,
                StatusCode::NO_CONTENT,
            )
            .await;
        }
        expect(
            insider.post(&format!("/items/{id}/seen"), json!({})).await,
            StatusCode::NO_CONTENT,
        )
        .await;
        main_items.push((id, word));
    }
    let ack = &main_items[5].0;

    // An item in the open space, edited, commented on, then deleted.
    let gone_item = ana
        .post_item(json!({"space": OSLUG, "title": format!("{XITEM} title"), "body": format!("{XITEM} body #vis")}))
        .await;
    expect(
        ana.patch(
            &format!("/items/{gone_item}"),
            json!({"body": format!("{XITEM} body, edited #vis")}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    opn.comment(&gone_item, "a comment that stays").await;
    expect(
        ana.delete(&format!("/items/{gone_item}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect(
        clo.post(&format!("/items/{ack}/acknowledgements"), json!({}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;

    // A request from ana to clo and an offer from clo to ana, in the
    // closed space; clo promises the request.
    let req = created(
        ana.post(
            "/requests",
            json!({"to": ["clo"], "space": CSLUG, "title": format!("{REQ} title"),
                   "conditions": format!("{REQ} conditions"), "due": DUE,
                   "message": format!("{REQ} message")}),
        )
        .await,
    )
    .await;
    let req = req["items"][0]["id"].as_str().unwrap().to_owned();
    expect(
        clo.post(
            &format!("/requests/{req}/acts"),
            json!({"act": "promise", "message": format!("{REQ} promised")}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    clo.comment(&req, &format!("{REQ} comment")).await;
    let offer = created(
        clo.post(
            "/requests",
            json!({"kind": "offer", "to": ["ana"], "space": CSLUG,
                   "title": format!("{OFFER} title"), "conditions": format!("{OFFER} conditions"),
                   "due": DUE, "message": format!("{OFFER} message")}),
        )
        .await,
    )
    .await;
    let offer = offer["items"][0]["id"].as_str().unwrap().to_owned();
    ana.comment(&offer, &format!("{OFFER} comment")).await;

    // To-dos: private, shared in the secret space, and gone's own.
    for (who, body) in [
        (
            ana,
            json!({"title": format!("{TODO} title"), "notes": format!("{TODO} notes"), "due": DUE}),
        ),
        (
            ana,
            json!({"title": format!("{STODO} title"), "notes": format!("{STODO} notes"),
                   "due": DUE, "space": SSLUG, "shared": true}),
        ),
        (
            gone,
            json!({"title": format!("{GTODO} title"), "notes": format!("{GTODO} notes"), "due": DUE}),
        ),
    ] {
        created(who.post("/todos", body).await).await;
    }
    // The shared one is checked off: its space sees that.
    let todos = expect(ana.get("/todos").await, StatusCode::OK).await;
    let shared = todos["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["shared"] == true)
        .expect("the shared to-do");
    expect(
        ana.patch(
            &format!("/todos/{}", shared["id"].as_str().unwrap()),
            json!({"completed": true}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Out asks to join the closed space.
    let j = expect(
        out.post(
            &format!("/spaces/{CSLUG}/join"),
            json!({"message": format!("{JOIN} please let me in")}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(j["outcome"], "requested");

    // Every item ana can find (the shared to-do's too).
    let mut items: BTreeSet<String> = main_items.iter().map(|(i, _)| i.clone()).collect();
    items.insert(req);
    items.insert(offer);
    items.insert(gone_item);
    for s in [SSLUG, CSLUG, OSLUG] {
        let page = expect(
            ana.get(&format!("/spaces/{s}/stream?limit=100")).await,
            StatusCode::OK,
        )
        .await;
        for a in page["items"].as_array().unwrap() {
            if let Some(id) = a["item"]["id"].as_str() {
                items.insert(id.to_owned());
            }
        }
    }
    let members = expect(owner.get("/members?limit=100").await, StatusCode::OK).await;
    let handles = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["handle"].as_str().unwrap().to_owned())
        .collect();
    Fixture {
        slugs: [SSLUG, CSLUG, OSLUG].map(String::from).to_vec(),
        handles,
        tags: ["vis", STAG, CTAG, OTAG, PTAG, DTAG, ATAG]
            .map(String::from)
            .to_vec(),
        items: items.into_iter().collect(),
        main_items,
    }
}

/// Found by the probe above: the audience preview of a space held one
/// database connection while it waited for a second, so as many previews
/// at once as the pool has connections waited for each other for ever.
async fn trust_surfaces_concurrent_audience_previews_finish(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| s.db_max_connections = 2).await;
    owner.setup_owner().await;
    for (slug, vis) in [("field", "open"), ("circle", "closed")] {
        owner
            .create_space(json!({"name": format!("Space {slug}"), "slug": slug, "visibility": vis}))
            .await;
    }
    let app = &owner;
    let all = futures_util::stream::iter(0..40)
        .map(|n| async move {
            let slug = if n % 2 == 0 { "field" } else { "circle" };
            let res = app.get(&format!("/audience?space={slug}")).await;
            expect(res, StatusCode::OK).await
        })
        .buffer_unordered(20)
        .collect::<Vec<_>>();
    let answers = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("40 previews, 20 at a time, finish");
    assert!(answers.iter().all(|a| a["count"].as_i64().unwrap() >= 1));
    owner.stop().await;
}
