//! The pages in a real browser: Debian's headless Chromium driven through
//! ChromeDriver, against the real server; plus the pages' budgets (size,
//! queries) and the XSS corpus through every page.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect};

backend_tests!(
    newcomer_path,
    request_scenario_in_two_browsers,
    closed_space_hides_content_from_non_members,
    composer_audience_follows_the_target,
    home_page_weighs_under_100_kb,
    pages_make_a_fixed_number_of_queries,
    xss_corpus_is_inert_on_every_page,
    notification_choices_save_and_take_effect,
    search_box_suggests_and_reaches_results,
    followed_search_match_arrives_live,
);

// ---- the browser ----

/// One browser session: a ChromeDriver of its own on a free port, and a
/// fresh Chromium profile. Both go away when it is dropped.
struct Browser {
    client: Client,
    base: String,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the tests save screenshots of the pages they visit.
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CHORUS_TEST_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("chorus-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    async fn open(app: &TestApp) -> Browser {
        let driver_bin = std::env::var("CHORUS_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium =
            std::env::var("CHORUS_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = tokio::process::Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {driver_bin} ({e}): install chromium-driver, or run scripts/test"
                )
            });
        let profile = tempfile::tempdir().unwrap();
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        base: app.addr.clone(),
                        _driver: driver,
                        _profile: profile,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ChromeDriver did not start: {last:?}");
    }

    async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let page = self.client.source().await.unwrap_or_default();
                panic!("no element {css} ({e}) at {url:?}:\n{page}")
            }
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The page's text, with runs of white space made one space.
    async fn body(&self) -> String {
        self.text("body")
            .await
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until the script returns true.
    async fn until(&self, what: &str, script: &str) {
        for _ in 0..100 {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; page: {}", self.body().await);
    }

    async fn login(&self, login: &str, password: &str) {
        self.goto("/login").await;
        self.fill("input[name=login]", login).await;
        self.fill("input[name=password]", password).await;
        self.click("form button[type=submit]").await;
        self.until("home after login", "return location.pathname === '/'")
            .await;
    }

    /// Presses a key where the focus is (`fantoccini::key::Key` for the
    /// special ones).
    async fn press(&self, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let keys = KeyActions::new("keys".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    async fn screenshot(&self, name: &str, backend: Backend) {
        if backend != Backend::Sqlite {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

// ---- the search box ----

/// Whether the search box offers an option whose text holds `text`.
fn offers(text: &str) -> String {
    format!(
        "return !document.getElementById('q-list').hidden && \
         !!Array.from(document.querySelectorAll('#q-list [role=option]')).find(o => o.innerText.includes({text:?}))"
    )
}

async fn search_box_suggests_and_reaches_results(b: Backend) {
    use fantoccini::key::Key;
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    expect(
        ana.patch("/me", json!({"display_name": "Ana Lima"})).await,
        StatusCode::OK,
    )
    .await;
    app.create_space(json!({"name": "Launchpad", "slug": "launchpad"}))
        .await;
    let olga = Browser::open(&app).await;
    olga.login("owner", PASSWORD).await;

    // `/` anywhere outside a field goes to the box; suggestions come as
    // one types (Ana by the second word of her name).
    olga.press('/').await;
    olga.until(
        "the box has the focus",
        "return document.activeElement.id === 'q-box'",
    )
    .await;
    olga.find("#q-box").await.send_keys("lim").await.unwrap();
    olga.until("Ana offered", &offers("Ana Lima")).await;
    assert_eq!(
        olga.js("return document.getElementById('q-box').getAttribute('aria-expanded')")
            .await,
        "true"
    );
    olga.screenshot("search-suggestions", b).await;
    // The arrows move through the options; Enter opens the one chosen.
    olga.press(Key::Down.into()).await;
    olga.until(
        "the first option chosen",
        "const o = document.querySelector('#q-list [aria-selected=true]'); \
         return !!o && o.innerText.includes('Ana Lima') && \
         document.getElementById('q-box').getAttribute('aria-activedescendant') === o.id",
    )
    .await;
    olga.press(Key::Enter.into()).await;
    olga.until("Ana's page", "return location.pathname === '/members/ana'")
        .await;

    // Escape closes the list; Enter then searches what is typed.
    olga.press('/').await;
    olga.find("#q-box").await.send_keys("launch").await.unwrap();
    olga.until("the space offered", &offers("Launchpad")).await;
    olga.press(Key::Escape.into()).await;
    olga.until(
        "the list closed",
        "return document.getElementById('q-list').hidden && document.activeElement.id === 'q-box'",
    )
    .await;
    olga.press(Key::Enter.into()).await;
    olga.until(
        "the results page",
        "return location.pathname === '/search' && location.search === '?q=launch'",
    )
    .await;
    assert!(olga.body().await.contains("Results"));
    assert_eq!(
        olga.js("return document.getElementById('q-box').value")
            .await,
        "launch"
    );
    olga.screenshot("search-results", b).await;

    // An operator's word is completed, not opened.
    olga.goto("/").await;
    olga.press('/').await;
    olga.find("#q-box")
        .await
        .send_keys("plan from:@an")
        .await
        .unwrap();
    olga.until("Ana offered for from:", &offers("Ana Lima"))
        .await;
    olga.press(Key::Down.into()).await;
    olga.press(Key::Enter.into()).await;
    olga.until(
        "the word completed",
        "return document.getElementById('q-box').value === 'plan from:@ana ' && location.pathname === '/'",
    )
    .await;

    // The empty box offers the recent searches; a click opens one.
    olga.goto("/spaces").await;
    olga.press('/').await;
    olga.until("the recent search offered", &offers("launch"))
        .await;
    olga.click("#q-list [role=option]").await;
    olga.until(
        "the recent search run again",
        "return location.pathname === '/search' && location.search === '?q=launch'",
    )
    .await;
    olga.close().await;
    app.stop().await;
}

// ---- followed searches ----

/// Ana follows a search; Bo, whom she does not follow, posts a match; the
/// job brings it to her open home page live, named by the search. On the
/// followed-searches page she sets it to watching with the select alone.
async fn followed_search_match_arrives_live(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    let bo = app.new_member("bo", "member").await;
    expect(
        ana.post(
            "/searches",
            json!({"query": "quokka", "level": "following"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let browser = Browser::open(&app).await;
    browser.login("ana", PASSWORD).await;
    browser.js("window.noReload = true; return true").await;
    // Let the live connection open before the match comes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    bo.post_item(json!({"body": "The quokka release is out"}))
        .await;
    crate::searches::run_matching(&app).await;
    browser
        .until(
            "the match arrives live, named by the search",
            "return !!Array.from(document.querySelectorAll('#stream .entry')).find(e => \
             e.innerText.includes('quokka release') && e.innerText.includes('Matches your search'))",
        )
        .await;
    assert_eq!(
        browser
            .find("#stream .entry .why a")
            .await
            .attr("href")
            .await
            .unwrap()
            .as_deref(),
        Some("/search?q=quokka")
    );
    browser.screenshot("home-search-match", b).await;
    browser.goto("/searches").await;
    browser
        .find(".searches select[name=level]")
        .await
        .select_by_value("watching")
        .await
        .unwrap();
    browser
        .until(
            "the level saved",
            "return document.body.innerText.includes('Saved.')",
        )
        .await;
    let list = expect(ana.get("/searches").await, StatusCode::OK).await;
    assert_eq!(list["items"][0]["level"], "watching");
    browser.screenshot("searches", b).await;
    browser.close().await;
    app.stop().await;
}

// ---- notification choices ----

/// Bo chooses on the Notifications settings: mentions in the page only,
/// reactions by mail at once. They save, and the mail follows them; the
/// pause stops everything.
async fn notification_choices_save_and_take_effect(b: Backend) {
    let sink = crate::mail::Sink::start().await;
    let (owner, bo_api) = crate::mail::mailing_app(b, sink.relay(), Some(&sink)).await;
    let bo = Browser::open(&owner).await;
    bo.login("bo", PASSWORD).await;
    bo.goto("/settings#notifications").await;
    let checked =
        |kind: &str| format!("return document.querySelector(\"input[name={kind}]:checked\").value");
    assert_eq!(bo.js(&checked("mention")).await, "now", "the default");
    assert_eq!(bo.js(&checked("reaction")).await, "digest", "the default");
    bo.click("input[name=mention][value=page]").await;
    bo.click("input[name=reaction][value=now]").await;
    assert_eq!(
        bo.js("return document.getElementById('digest-hour').value")
            .await,
        "8",
        "the digest's default hour"
    );
    assert!(
        bo.js("return document.getElementById('digest-zone').textContent")
            .await
            .as_str()
            .unwrap()
            .contains("UTC"),
        "the profile's zone, UTC by default"
    );
    bo.js(
        "const s = document.getElementById('digest-hour'); s.value = '7'; \
           s.dispatchEvent(new Event('change')); return true",
    )
    .await;
    bo.click("form[action='/settings/notifications'] button")
        .await;
    bo.until(
        "the saved notice",
        "return document.body.textContent.includes('Notification choices saved.')",
    )
    .await;
    bo.goto("/settings").await;
    assert_eq!(bo.js(&checked("mention")).await, "page");
    assert_eq!(bo.js(&checked("reaction")).await, "now");
    assert_eq!(
        bo.js("return document.getElementById('digest-hour').value")
            .await,
        "7"
    );
    let api = expect(bo_api.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(api["digest_hour"], 7, "the hour saved");
    bo.js("document.getElementById('notifications').scrollIntoView(); return true")
        .await;
    bo.screenshot("settings-notifications", b).await;

    // A mention is not mailed; a reaction is.
    let mine = bo_api.post_item(json!({"body": "My plan"})).await;
    owner.post_item(json!({"body": "Look, @bo"})).await;
    expect(
        owner
            .post(&format!("/items/{mine}/reactions"), json!({"emoji": "🎉"}))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let m = sink.next_to("bo@acme.test", 0).await;
    assert!(
        m.text().contains("Olga Owner reacted to My plan"),
        "{}",
        m.text()
    );

    // Paused, nothing goes.
    bo.click("input[name=paused]").await;
    bo.click("form[action='/settings/notifications'] button")
        .await;
    bo.until(
        "the saved notice",
        "return document.body.textContent.includes('Notification choices saved.')",
    )
    .await;
    owner
        .post_item(json!({"body": "Just for you", "to": ["bo"]}))
        .await;
    crate::mail::mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 1, "nothing more while paused");
    bo.close().await;
}

// ---- a conversation for action ----

/// A's and B's counts on their My work pages: [waiting on me, promised
/// (to me for A, by me for B), done recently].
async fn my_work_counts(who: &Browser, promised: &str) -> [u64; 3] {
    who.goto("/work").await;
    let v = who
        .js(&format!(
            "return ['waiting_on_me', '{promised}', 'done_recently'].map(k => \
             Number(document.querySelector(`[data-count=${{k}}]`).textContent))"
        ))
        .await;
    let n = |i: usize| v[i].as_u64().unwrap();
    [n(0), n(1), n(2)]
}

/// The scenario, clicked through by two people in two browsers:
/// A requests from B → B counters with a later due time → A accepts → B
/// reports → A rejects with a reason → B reports again → A approves. Both
/// My work pages are checked after every step.
async fn request_scenario_in_two_browsers(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner.new_member("ana", "member").await;
    owner.new_member("bo", "member").await;
    let ana = Browser::open(&owner).await;
    ana.login("ana", PASSWORD).await;
    let bo = Browser::open(&owner).await;
    bo.login("bo", PASSWORD).await;

    // A asks B.
    ana.goto("/work").await;
    ana.fill("form[action='/requests'] input[name=to]", "bo")
        .await;
    ana.fill("form[action='/requests'] input[name=title]", "Q3 numbers")
        .await;
    ana.js(
        "document.querySelector(\"form[action='/requests'] input[name=due]\").value = \
         '2030-05-01T17:00'; return true",
    )
    .await;
    ana.click("form[action='/requests'] button").await;
    ana.until(
        "the request page",
        "return /^\\/requests\\/\\d+$/.test(location.pathname)",
    )
    .await;
    let page = ana.path().await;
    assert_eq!(ana.text("#state").await, "requested");
    assert_eq!(my_work_counts(&ana, "promised_to_me").await, [0, 0, 0]);
    assert_eq!(my_work_counts(&bo, "i_promised").await, [1, 0, 0]);
    assert!(bo.body().await.contains("Q3 numbers"));

    // (who, act, message, later due time, state after, A's counts, B's counts)
    type Step<'a> = (
        &'a Browser,
        &'a str,
        &'a str,
        Option<&'a str>,
        &'a str,
        [u64; 3],
        [u64; 3],
    );
    let steps: [Step; 6] = [
        (
            &bo,
            "counter",
            "Need a week",
            Some("2030-05-08T17:00"),
            "countered",
            [1, 0, 0],
            [0, 0, 0],
        ),
        (&ana, "accept", "", None, "promised", [0, 1, 0], [1, 1, 0]),
        (&bo, "report", "", None, "reported", [1, 1, 0], [0, 1, 0]),
        (
            &ana,
            "reject",
            "EMEA is missing",
            None,
            "promised",
            [0, 1, 0],
            [1, 1, 0],
        ),
        (
            &bo,
            "report",
            "EMEA added",
            None,
            "reported",
            [1, 1, 0],
            [0, 1, 0],
        ),
        (&ana, "approve", "", None, "completed", [0, 0, 1], [0, 0, 1]),
    ];
    for (who, act, message, due, state, a_counts, b_counts) in steps {
        who.goto(&page).await;
        if !message.is_empty() {
            who.fill("form.acts textarea[name=message]", message).await;
        }
        if let Some(due) = due {
            who.js(&format!(
                "document.querySelector('form.acts input[name=due]').value = '{due}'; return true"
            ))
            .await;
        }
        who.click(&format!("form.acts button[value={act}]")).await;
        who.until(
            &format!("the state after {act}"),
            &format!("return document.getElementById('state')?.textContent === '{state}'"),
        )
        .await;
        assert_eq!(
            my_work_counts(&ana, "promised_to_me").await,
            a_counts,
            "A's My work after {act}"
        );
        assert_eq!(
            my_work_counts(&bo, "i_promised").await,
            b_counts,
            "B's My work after {act}"
        );
    }
    // The history keeps the counter's new terms and the reason for rejecting.
    bo.goto(&page).await;
    let history = bo.text(".acts-history").await;
    assert!(history.contains("EMEA is missing"), "{history}");
    assert!(history.contains("Need a week"), "{history}");
    assert!(
        bo.body().await.contains("due 2030-05-08"),
        "the later due time holds"
    );
    bo.screenshot("request-completed", b).await;
    ana.close().await;
    bo.close().await;
}

// ---- the newcomer path ----

async fn newcomer_path(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.setup_token().await;

    // The owner sets Chorus up.
    let olga = Browser::open(&app).await;
    olga.goto(&format!("/setup?token={token}")).await;
    olga.fill("input[name=display_name]", "Olga Owner").await;
    olga.fill("input[name=handle]", "owner").await;
    olga.fill("input[name=email]", "owner@acme.test").await;
    olga.fill("input[name=password]", PASSWORD).await;
    olga.click("form button[type=submit]").await;
    olga.until("home", "return location.pathname === '/'").await;
    assert!(olga.body().await.contains("Welcome, Olga Owner"));

    // …invites a colleague…
    olga.fill(".welcome input[name=email]", "ana@acme.test")
        .await;
    olga.click(".welcome form button").await;
    let link = olga
        .find(".notice a")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();

    // …who accepts in a browser of her own…
    let ana = Browser::open(&app).await;
    ana.goto(&link).await;
    ana.fill("input[name=display_name]", "Ana Lima").await;
    ana.fill("input[name=handle]", "ana").await;
    ana.fill("input[name=password]", PASSWORD).await;
    ana.click("form button[type=submit]").await;
    ana.until("home", "return location.pathname === '/'").await;

    // …creates a closed space and adds Olga to it…
    ana.goto("/spaces").await;
    ana.fill("#new-space input[name=name]", "Design review")
        .await;
    ana.find("#new-space select[name=visibility]")
        .await
        .select_by_value("closed")
        .await
        .unwrap();
    ana.click("#new-space button").await;
    ana.until(
        "the space page",
        "return location.pathname === '/spaces/design-review'",
    )
    .await;
    ana.goto("/spaces/design-review/settings").await;
    ana.fill("input[name=handle]", "owner").await;
    ana.click("form[action$='/members'] button").await;
    ana.until(
        "Olga in the space",
        "return document.body.innerText.includes('@owner')",
    )
    .await;

    // Olga looks at her home; it stays open while Ana posts.
    olga.goto("/").await;
    olga.until(
        "the badge shows the added-to-space notification",
        "return document.getElementById('badge').textContent.trim() === '1'",
    )
    .await;
    olga.js("window.noReload = true; return true").await;
    // Let the live connections open before Ana posts.
    tokio::time::sleep(Duration::from_millis(800)).await;

    ana.goto("/spaces/design-review").await;
    ana.fill(
        "#body",
        "Hello @owner, the new #mockups are ready for review.",
    )
    .await;
    ana.click("#composer button[type=submit]").await;
    ana.until(
        "the post on the space page",
        "return document.body.innerText.includes('mockups are ready')",
    )
    .await;
    ana.screenshot("space", b).await;

    // Olga's home shows it live, and the badge counts the mention.
    olga.until(
        "the post arrives live",
        "return !!Array.from(document.querySelectorAll('#stream .entry')).find(e => e.innerText.includes('mockups are ready'))",
    )
    .await;
    olga.until(
        "the badge counts the mention",
        "return document.getElementById('badge').textContent.trim() === '2'",
    )
    .await;
    assert!(olga.js("return window.noReload === true").await == Value::Bool(true));
    let entry = olga
        .js("return Array.from(document.querySelectorAll('#stream .entry')).find(e => e.innerText.includes('mockups are ready')).id")
        .await;
    let entry = format!("#{}", entry.as_str().unwrap());

    // She replies inline…
    olga.click(&format!("{entry} details.reply summary")).await;
    olga.fill(&format!("{entry} textarea"), "Looks great, @ana!")
        .await;
    olga.click(&format!("{entry} .comment-form button")).await;
    olga.until(
        "the reply appears inline",
        &format!("return !!Array.from(document.querySelectorAll('{entry} .comment')).find(c => c.innerText.includes('Looks great'))"),
    )
    .await;
    // …and reacts inline.
    olga.click(&format!("{entry} > footer details.picker summary"))
        .await;
    olga.click(&format!(
        "{entry} > footer details.picker button[value='+🎉']"
    ))
    .await;
    olga.until(
        "the reaction shows",
        &format!("return !!Array.from(document.querySelectorAll('{entry} > footer .chip')).find(c => c.innerText.includes('🎉') && c.getAttribute('aria-pressed') === 'true')"),
    )
    .await;
    assert!(olga.js("return window.noReload === true").await == Value::Bool(true));
    assert_eq!(olga.path().await, "/");
    olga.screenshot("home", b).await;

    // Ana's item page has both.
    let item = olga
        .find(&entry)
        .await
        .attr("data-href")
        .await
        .unwrap()
        .unwrap();
    ana.goto(&item).await;
    let body = ana.body().await;
    assert!(body.contains("Looks great, @ana!"), "{body}");
    assert!(body.contains("🎉 1"), "{body}");
    assert!(
        body.contains("Visible to 2 members of Design review"),
        "{body}"
    );
    ana.screenshot("item", b).await;

    olga.goto("/notifications").await;
    assert!(olga.body().await.contains("mentioned you in"));
    olga.screenshot("notifications", b).await;
    olga.goto("/members/ana").await;
    assert!(olga.body().await.contains("Ana Lima"));
    olga.screenshot("profile", b).await;
    olga.client.set_window_size(390, 844).await.unwrap();
    olga.goto("/").await;
    olga.screenshot("mobile-home", b).await;

    olga.close().await;
    ana.close().await;
    app.stop().await;
}

// ---- a non-member ----

/// Owner, @ana and @cleo; Ana has a closed space with one post. Returns
/// the post's id.
async fn closed_space_with_a_post(app: &mut TestApp) -> (TestApp, TestApp, String) {
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    let cleo = app.new_member("cleo", "member").await;
    expect(
        ana.post(
            "/spaces",
            json!({"name": "Design review", "slug": "design-review", "visibility": "closed"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let item = expect(
        ana.post(
            "/items",
            json!({"space": "design-review", "body": "The secret mockups are here."}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    (ana, cleo, item["id"].as_str().unwrap().to_owned())
}

async fn closed_space_hides_content_from_non_members(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let (_ana, _cleo, item) = closed_space_with_a_post(&mut app).await;
    let cleo = Browser::open(&app).await;
    cleo.login("cleo", PASSWORD).await;

    cleo.goto("/spaces/design-review").await;
    let body = cleo.body().await;
    assert!(
        body.contains("Design review"),
        "the name is visible: {body}"
    );
    assert!(body.contains("Only members read"), "{body}");
    assert!(!body.contains("secret mockups"), "{body}");
    assert!(cleo.client.find(Locator::Css("#stream")).await.is_err());
    cleo.screenshot("closed-space", b).await;

    for path in [
        format!("/items/{item}"),
        "/spaces/design-review/members".to_owned(),
        "/spaces/design-review/settings".to_owned(),
        format!("/fragments/items/{item}/comments"),
    ] {
        cleo.goto(&path).await;
        let body = cleo.body().await;
        assert!(!body.contains("secret mockups"), "{path}: {body}");
    }
    cleo.goto(&format!("/items/{item}")).await;
    assert!(cleo.body().await.contains("Not found"));
    // Nor in any stream.
    for path in ["/", "/?filter=everything", "/members/ana"] {
        cleo.goto(path).await;
        assert!(!cleo.body().await.contains("secret mockups"), "{path}");
    }
    cleo.close().await;
    app.stop().await;
}

// ---- the composer's audience line ----

async fn composer_audience_follows_the_target(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let _ana = app.new_member("ana", "member").await;
    for (name, slug, vis) in [
        ("Engineering", "engineering", "open"),
        ("Leadership", "leadership", "closed"),
    ] {
        expect(
            app.post(
                "/spaces",
                json!({"name": name, "slug": slug, "visibility": vis}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let olga = Browser::open(&app).await;
    olga.login("owner", PASSWORD).await;
    let label = "#audience-label";
    assert_eq!(olga.text(label).await, "everyone at Chorus (2)");
    let wait_label = |want: &'static str| {
        let olga = &olga;
        async move {
            olga.until(
                want,
                &format!(
                    "return document.getElementById('audience-label').textContent === {}",
                    serde_json::to_string(want).unwrap()
                ),
            )
            .await;
        }
    };
    let select = olga.find("#target").await;
    select.select_by_value("space:engineering").await.unwrap();
    wait_label("everyone at Chorus (2), in Engineering").await;
    select.select_by_value("space:leadership").await.unwrap();
    wait_label("1 member of Leadership").await;
    select.select_by_value("direct").await.unwrap();
    wait_label("only you").await;
    assert!(olga.find("#to").await.is_displayed().await.unwrap());
    olga.fill("#to", "@ana").await;
    wait_label("ana and you").await;
    olga.screenshot("composer-direct", b).await;
    select.select_by_value("profile").await.unwrap();
    wait_label("everyone at Chorus (2)").await;
    assert!(!olga.find("#to").await.is_displayed().await.unwrap());
    olga.close().await;
    app.stop().await;
}

// ---- budgets ----

async fn home_page_weighs_under_100_kb(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    app.create_space(json!({"name": "Engineering", "slug": "eng"}))
        .await;
    let para = "We moved the build to the new runners and it is **twice as fast**. \
                Thanks @owner for the push, see #ci for the numbers and the graphs. ";
    for n in 0..25 {
        let item = expect(
            app.post(
                "/items",
                json!({"space": "eng", "title": format!("Update {n}"), "body": para.repeat(3)}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        let id = item["id"].as_str().unwrap();
        expect(
            app.post(&format!("/items/{id}/reactions"), json!({"emoji": "🎉"}))
                .await,
            StatusCode::NO_CONTENT,
        )
        .await;
    }
    let html = app.page("/").await.text().await.unwrap();
    assert_eq!(html.matches("class=\"entry").count(), 20, "a full page");
    let css = app.page("/static/style.css").await.text().await.unwrap();
    let js = app.page("/static/app.js").await.text().await.unwrap();
    let total = html.len() + css.len() + js.len();
    println!(
        "home page: HTML {} B + CSS {} B + JS {} B = {total} B",
        html.len(),
        css.len(),
        js.len()
    );
    assert!(total < 100 * 1024, "home page weighs {total} bytes");
    app.stop().await;
}

async fn query_count(app: &TestApp, path: &str) -> u64 {
    let res = app.page(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.headers()["x-query-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn pages_make_a_fixed_number_of_queries(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let ana = app.new_member("ana", "member").await;
    app.create_space(json!({"name": "Engineering", "slug": "eng"}))
        .await;
    ana.join("eng").await;
    let first = expect(
        app.post("/items", json!({"space": "eng", "body": "The thread"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let thread = first["id"].as_str().unwrap().to_owned();
    let add = |n: usize| {
        let (app, ana, thread) = (&app, &ana, thread.clone());
        async move {
            for i in 0..n {
                let who = if i % 2 == 0 { app } else { ana };
                let item = expect(
                    who.post(
                        "/items",
                        json!({"space": "eng", "body": format!("Item {i} for @owner #quality")}),
                    )
                    .await,
                    StatusCode::CREATED,
                )
                .await;
                let id = item["id"].as_str().unwrap();
                expect(
                    who.post(&format!("/items/{id}/reactions"), json!({"emoji": "👍"}))
                        .await,
                    StatusCode::NO_CONTENT,
                )
                .await;
                expect(
                    who.post(
                        &format!("/items/{thread}/comments"),
                        json!({"body": format!("Comment {i}, @ana")}),
                    )
                    .await,
                    StatusCode::CREATED,
                )
                .await;
            }
        }
    };
    let pages = [
        "/".to_owned(),
        "/?filter=spaces".to_owned(),
        "/?filter=mentions".to_owned(),
        "/spaces/eng".to_owned(),
        format!("/items/{thread}"),
        "/members/ana".to_owned(),
        "/topics/quality".to_owned(),
        "/notifications".to_owned(),
        "/search?q=item".to_owned(),
        "/directory?q=ana".to_owned(),
    ];
    add(5).await;
    let mut with_5 = Vec::new();
    for p in &pages {
        with_5.push(query_count(&app, p).await);
    }
    add(15).await;
    let mut with_20 = Vec::new();
    for p in &pages {
        with_20.push(query_count(&app, p).await);
    }
    println!("queries per page (5 shown, 20 shown): {:?}", {
        pages
            .iter()
            .zip(with_5.iter().zip(&with_20))
            .collect::<Vec<_>>()
    });
    for (p, (a, z)) in pages.iter().zip(with_5.iter().zip(&with_20)) {
        assert_eq!(a, z, "{p}: {a} queries with 5 shown, {z} with 20");
    }
    let html = app
        .page(&format!("/items/{thread}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("class=\"comment\"").count(), 20);
    app.stop().await;
}

// ---- XSS ----

async fn xss_corpus_is_inert_on_every_page(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let corpus: Vec<&str> = include_str!("../../../../testdata/xss-payloads.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mallory = app.new_member("mallory", "member").await;
    // Display names, titles and about texts.
    let mut named = 0;
    for p in &corpus {
        let res = mallory
            .patch(
                "/me",
                json!({"display_name": p.chars().take(80).collect::<String>(),
                       "title": p.chars().take(80).collect::<String>(), "about": p}),
            )
            .await;
        if res.status() == StatusCode::OK {
            named += 1;
        }
    }
    assert!(named > 0, "some payload is a valid display name");
    let res = mallory
        .patch(
            "/me",
            json!({"display_name": "<img src=x onerror=alert(1)>", "team": "<script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Space names and descriptions.
    let mut spaces = Vec::new();
    for (n, p) in corpus.iter().enumerate().take(12) {
        let slug = format!("x{n}");
        let res = mallory
            .post(
                "/spaces",
                json!({"name": p.chars().take(80).collect::<String>(), "slug": slug, "description": p}),
            )
            .await;
        if res.status() == StatusCode::CREATED {
            spaces.push(slug);
        }
    }
    assert!(!spaces.is_empty());
    // Followed searches (their queries show on the searches page and name
    // the home entries they bring).
    for who in [&app, &mallory] {
        for p in corpus.iter().take(50) {
            let res = who
                .post("/searches", json!({"query": p, "level": "watching"}))
                .await;
            assert!(
                [
                    StatusCode::CREATED,
                    StatusCode::OK,
                    StatusCode::UNPROCESSABLE_ENTITY
                ]
                .contains(&res.status()),
                "{p}: {}",
                res.status()
            );
        }
    }
    // Items, titles and comments, mentioning the owner so notifications
    // carry them too.
    let mut items = Vec::new();
    for (n, p) in corpus.iter().enumerate() {
        let space = &spaces[n % spaces.len()];
        let item = expect(
            mallory
                .post(
                    "/items",
                    json!({"space": space, "title": p.chars().take(200).collect::<String>(),
                           "body": format!("{p} @owner #xss")}),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
        let id = item["id"].as_str().unwrap().to_owned();
        expect(
            mallory
                .post(&format!("/items/{id}/comments"), json!({"body": p}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        items.push(id);
    }
    app.follow_member("mallory").await;
    crate::searches::run_matching(&app).await;
    let mut pages = vec![
        "/searches".to_owned(),
        "/".to_owned(),
        "/?filter=people".to_owned(),
        "/?filter=spaces".to_owned(),
        "/?filter=mentions".to_owned(),
        "/?filter=everything".to_owned(),
        "/spaces".to_owned(),
        "/directory".to_owned(),
        "/notifications".to_owned(),
        "/settings".to_owned(),
        "/topics/xss".to_owned(),
        "/members/mallory".to_owned(),
        "/members/mallory/followers".to_owned(),
        "/members/owner/following".to_owned(),
    ];
    // Searches: the payloads as typed (chips, the box, the empty state),
    // and words that find mallory's items, names and spaces.
    for p in corpus.iter().take(12) {
        let q: String = form_urlencoded::byte_serialize(p.as_bytes()).collect();
        pages.push(format!("/search?q={q}"));
        pages.push(format!("/directory?q={q}"));
    }
    for tab in ["everything", "posts", "people", "spaces"] {
        pages.push(format!("/search?q=xss&tab={tab}"));
        pages.push(format!("/search?q=mallory&tab={tab}"));
    }
    pages.push("/search?q=%23xss".to_owned());
    pages.push("/directory?q=mallory".to_owned());
    for s in &spaces {
        for tab in ["", "/about", "/members", "/settings"] {
            pages.push(format!("/spaces/{s}{tab}"));
        }
    }
    for id in &items {
        pages.push(format!("/items/{id}"));
        pages.push(format!("/fragments/items/{id}/comments"));
    }
    let stream = expect(app.get("/streams/home?limit=100").await, StatusCode::OK).await;
    for a in stream["items"].as_array().unwrap().iter().take(20) {
        pages.push(format!(
            "/fragments/activities/{}",
            a["id"].as_str().unwrap()
        ));
        pages.push(format!(
            "/fragments/activities/{}?home=1",
            a["id"].as_str().unwrap()
        ));
    }
    for (n, p) in pages.iter().enumerate() {
        for viewer in [&app, &mallory] {
            if n == 0 {
                let html = app.page("/admin").await.text().await.unwrap();
                assert!(html.contains("mallory"));
                test_support::safety::assert_safe_page(&html);
                for q in ["mallory", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"] {
                    let html = app
                        .page(&format!("/admin?q={q}"))
                        .await
                        .text()
                        .await
                        .unwrap();
                    test_support::safety::assert_safe_page(&html);
                }
            }
            let res = viewer.page(p).await;
            assert_eq!(res.status(), StatusCode::OK, "{p}");
            let html = res.text().await.unwrap();
            test_support::safety::assert_safe_page(&html);
        }
    }
    app.stop().await;
}
