//! Mail out, into a real SMTP sink the tests run (a small SMTP server that
//! keeps what it is given and answers 4xx or 5xx when told to); what
//! arrives is read with mail-parser as a mail client would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::MessageParser;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, expect_problem, open_db};

backend_tests!(
    mail_off_sends_nothing_and_the_admin_page_says_so,
    invitations_are_mailed_and_resent,
    notifications_thread_link_and_unsubscribe_in_one_click,
    permanent_failures_bounce_and_stop_mail,
    a_relay_down_or_busy_delays_mail_and_loses_none,
    no_mail_reaches_who_can_no_longer_see,
    choices_through_the_api,
    a_reply_by_mail_comes_back_threaded,
);

// ---- the sink ----

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender (MAIL FROM).
    pub from: String,
    pub rcpt: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.data)
            .expect("the mail parses")
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct SinkState {
    received: Vec<Received>,
    /// Recipients refused with this reply line ("550 5.1.1 …").
    refuse: HashMap<String, String>,
    /// RCPT commands seen, refused or not.
    attempts: Vec<String>,
}

/// A local SMTP server: accepts every message unless told otherwise.
#[derive(Clone)]
pub struct Sink {
    pub port: u16,
    state: Arc<Mutex<SinkState>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Sink {
    pub async fn start() -> Sink {
        Sink::serve(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    fn serve(listener: TcpListener) -> Sink {
        let sink = Sink {
            port: listener.local_addr().unwrap().port(),
            state: Default::default(),
            arrived: Default::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(conn).await;
                });
            }
        });
        sink
    }

    pub fn relay(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers RCPT for `address` with `reply` (a whole reply line).
    pub fn refuse(&self, address: &str, reply: &str) {
        self.state
            .lock()
            .unwrap()
            .refuse
            .insert(address.to_ascii_lowercase(), reply.to_owned());
    }

    pub fn accept(&self, address: &str) {
        self.state
            .lock()
            .unwrap()
            .refuse
            .remove(&address.to_ascii_lowercase());
    }

    /// Forgets what arrived so far.
    pub fn clear(&self) {
        let mut st = self.state.lock().unwrap();
        st.received.clear();
        st.attempts.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// RCPT commands for `address` so far.
    pub fn attempts(&self, address: &str) -> usize {
        let a = address.to_ascii_lowercase();
        self.state
            .lock()
            .unwrap()
            .attempts
            .iter()
            .filter(|r| **r == a)
            .count()
    }

    /// Waits until `n` messages arrived in all (panics after `wait`).
    pub async fn wait_for(&self, n: usize, wait: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{n} mails expected, {} arrived: {:?}",
                    got.len(),
                    got.iter().map(|r| &r.rcpt).collect::<Vec<_>>()
                );
            }
        }
    }

    /// The next message to `to` after the first `seen` messages.
    pub async fn next_to(&self, to: &str, seen: usize) -> Received {
        let got = self.wait_for(seen + 1, Duration::from_secs(20)).await;
        let m = got[seen].clone();
        assert_eq!(m.rcpt, vec![to.to_owned()], "the next mail's recipient");
        m
    }

    async fn session(&self, conn: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = conn.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut rcpt = Vec::new();
        let mut from = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_owned();
            let upper = cmd.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") {
                "250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                "250 ok".to_owned()
            } else if upper.starts_with("RSET") || upper.starts_with("MAIL FROM") {
                rcpt.clear();
                from = cmd
                    .get(10..)
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                "250 ok".to_owned()
            } else if upper.starts_with("RCPT TO") {
                let addr = cmd[8..]
                    .trim()
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let mut st = self.state.lock().unwrap();
                st.attempts.push(addr.clone());
                match st.refuse.get(&addr) {
                    Some(reply) => reply.clone(),
                    None => {
                        rcpt.push(addr);
                        "250 ok".to_owned()
                    }
                }
            } else if upper == "DATA" {
                if rcpt.is_empty() {
                    "554 no valid recipients".to_owned()
                } else {
                    w.write_all(b"354 go ahead\r\n").await?;
                    let mut data = Vec::new();
                    loop {
                        let mut l = Vec::new();
                        if r.read_until(b'\n', &mut l).await? == 0 {
                            return Ok(());
                        }
                        if l == b".\r\n" {
                            break;
                        }
                        // Dot-stuffing (RFC 5321 4.5.2).
                        if l.starts_with(b"..") {
                            l.remove(0);
                        }
                        data.extend_from_slice(&l);
                    }
                    self.state.lock().unwrap().received.push(Received {
                        from: from.clone(),
                        rcpt: std::mem::take(&mut rcpt),
                        data,
                    });
                    self.arrived.notify_waiters();
                    "250 queued".to_owned()
                }
            } else if upper.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                "502 not here".to_owned()
            };
            w.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

/// A relay that is down: its port is bound but not listening, so a
/// connection to it is refused, and no other test's server or sink can
/// take the port (and receive this test's mail) before [`DownRelay::up`]
/// starts a sink on it (a relay that comes back where it was).
pub(crate) struct DownRelay {
    socket: tokio::net::TcpSocket,
    port: u16,
}

impl DownRelay {
    pub fn new() -> DownRelay {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = socket.local_addr().unwrap().port();
        DownRelay { socket, port }
    }

    pub fn relay(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn up(self) -> Sink {
        Sink::serve(self.socket.listen(64).unwrap())
    }
}

pub(crate) const BASE: &str = "http://chorus.test";

/// An owner on a server that mails through `relay`, and @bo; Bo's
/// invitation is settled (sent, or dropped once he accepted it), and the
/// sink, if any, cleared.
pub(crate) async fn mailing_app(
    b: Backend,
    relay: String,
    sink: Option<&Sink>,
) -> (TestApp, TestApp) {
    let mut owner = TestApp::spawn_with(b, |s| {
        s.mail_relay = Some(relay);
        s.base_url = Some(BASE.into());
        s.mail_domain = Some("lists.chorus.test".into());
    })
    .await;
    owner.setup_owner().await;
    let bo = owner.new_verified_member("bo", "member").await;
    mail_settled(&owner).await;
    if let Some(s) = sink {
        s.clear();
    }
    (owner, bo)
}

/// The `mail` jobs in the queue, in any state.
pub(crate) async fn mail_jobs(app: &TestApp) -> i64 {
    let db = open_db(&app.database_url, 1).await;
    let n = db
        .read()
        .await
        .unwrap()
        .query_one(
            "SELECT COUNT(*) FROM jobs WHERE kind IN ('mail', 'list_mail')",
            &[],
        )
        .await
        .unwrap()
        .i64(0)
        .unwrap();
    db.close().await;
    n
}

/// Waits until no `mail` job is left.
/// Answers a mail as Bo's mail program does: to its `Reply-To`, threaded
/// under its `Message-ID`, through the app's SMTP listener.
pub(crate) async fn answer_as_bo(app: &TestApp, reply_to: &str, message_id: &str, body: &str) {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let answer = Message::builder()
        .from("bo Person <bo@acme.test>".parse().unwrap())
        .to(reply_to.parse().unwrap())
        .subject("Re: Launch plan")
        .in_reply_to(format!("<{message_id}>"))
        .references(format!("<{message_id}>"))
        .body(body.to_owned())
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(app.smtp.port())
        .build()
        .send(answer)
        .await
        .expect("the listener takes Bo's answer");
}

pub(crate) async fn mail_settled(app: &TestApp) {
    for _ in 0..200 {
        if mail_jobs(app).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mail jobs are still queued");
}

/// The one link in `text` that starts with `prefix`.
pub(crate) fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link {prefix} in {text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '<' | '>'))
        .next()
        .unwrap()
        .to_owned()
}

async fn mail_off_sends_nothing_and_the_admin_page_says_so(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let bo = owner.new_member("bo", "member").await;
    let page = owner.page("/admin").await.text().await.unwrap();
    assert!(
        page.contains("Mail is off: no relay is set (mail_relay)"),
        "{page}"
    );
    owner
        .post_item(json!({"body": "Hello @bo", "title": "Hi"}))
        .await;
    let settings = bo.page("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("Mail is off on this Chorus"),
        "{settings}"
    );
    assert_eq!(mail_jobs(&owner).await, 0, "nothing is enqueued");
}

async fn invitations_are_mailed_and_resent(b: Backend) {
    let sink = Sink::start().await;
    let (owner, _bo) = mailing_app(b, sink.relay(), Some(&sink)).await;

    let res = owner
        .post(
            "/invitations",
            json!({"email": "cy@acme.test", "message": "Come *help* with launch"}),
        )
        .await;
    let inv = expect(res, StatusCode::CREATED).await;
    let m = sink.next_to("cy@acme.test", 0).await;
    let parsed = m.parsed();
    assert!(parsed.subject().unwrap().contains("invites you"));
    assert!(
        parsed.header_raw("Auto-Submitted").is_none(),
        "an invitation is a person's"
    );
    // The mail carries its own link, minted when the job sent it (the
    // job's payload held only the invitation's id); the inviter's works too.
    let url = inv["url"].as_str().unwrap();
    let mailed = link(&m.text(), &format!("{BASE}/invite/"));
    assert_ne!(mailed, url);
    assert!(m.text().contains("Come help with launch"), "{}", m.text());
    assert!(
        m.html().contains(&format!("href=\"{mailed}\"")),
        "{}",
        m.html()
    );
    assert!(m.html().contains("<em>help</em>"), "{}", m.html());
    let token = |u: &str| u.rsplit('/').next().unwrap().to_owned();
    for t in [token(url), token(&mailed)] {
        let res = owner.get(&format!("/invitations/{t}/accept")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    // Resent: a new link, and the old ones stop working.
    let id = inv["id"].as_str().unwrap();
    let again = expect(
        owner
            .post(&format!("/invitations/{id}/resend"), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let m2 = sink.next_to("cy@acme.test", 1).await;
    let new_url = again["url"].as_str().unwrap();
    assert_ne!(new_url, url);
    let new_mailed = link(&m2.text(), &format!("{BASE}/invite/"));
    assert_ne!(new_mailed, mailed);
    for old in [token(url), token(&mailed)] {
        let res = owner.get(&format!("/invitations/{old}/accept")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    for new in [token(new_url), token(&new_mailed)] {
        let res = owner.get(&format!("/invitations/{new}/accept")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}

async fn notifications_thread_link_and_unsubscribe_in_one_click(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;

    // A mention in a post: the post's own Message-ID.
    let item = owner
        .post_item(json!({"title": "Launch plan", "body": "Please look, @bo: **soon**"}))
        .await;
    let m = sink.next_to("bo@acme.test", 0).await;
    let p = m.parsed();
    let item_mid = format!("chorus.item.{item}@lists.chorus.test");
    assert_eq!(p.message_id(), Some(item_mid.as_str()));
    assert_eq!(p.subject(), Some("Launch plan"));
    assert_eq!(
        p.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        p.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        p.header_raw("X-Chorus-Mail").map(str::trim),
        Some("notification"),
        "the listener knows Chorus's own mail"
    );
    let reply_to = p
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_owned();
    assert!(
        reply_to.starts_with("reply+") && reply_to.ends_with("@lists.chorus.test"),
        "{reply_to}"
    );
    let item_url = format!("{BASE}/items/{item}");
    let text = m.text();
    assert!(
        text.contains("Olga Owner mentioned you in Launch plan"),
        "{text}"
    );
    assert!(text.contains(&item_url), "{text}");
    assert!(!text.contains("**"), "the text part has no markup: {text}");
    let html = m.html();
    assert!(html.contains(&format!("href=\"{item_url}\"")), "{html}");
    assert!(html.contains("<strong>soon</strong>"), "{html}");

    // A mention in a comment threads under the post.
    let c = owner.comment(&item, "And this, @bo").await;
    let m = sink.next_to("bo@acme.test", 1).await;
    let p = m.parsed();
    let cid = c["id"].as_str().unwrap();
    assert_eq!(
        p.message_id(),
        Some(format!("chorus.comment.{cid}@lists.chorus.test").as_str())
    );
    assert_eq!(p.in_reply_to().as_text(), Some(item_mid.as_str()));
    assert_eq!(p.references().as_text(), Some(item_mid.as_str()));
    assert_eq!(p.subject(), Some("Re: Launch plan"));
    assert!(m.text().contains("And this, @bo"), "{}", m.text());

    // One click, no session: mentions stop; posts to Bo still come.
    let unsubscribe = p
        .header_raw("List-Unsubscribe")
        .unwrap()
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(unsubscribe.starts_with(&format!("{BASE}/mail/unsubscribe/")));
    let path = unsubscribe.trim_start_matches(BASE);
    let stranger = reqwest::Client::new();
    let page = stranger.get(owner.url(path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Stop these mails"));
    let res = stranger
        .post(owner.url(path))
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
            .contains("no longer mails you about mentions")
    );
    let forged = stranger
        .post(owner.url(&format!(
            "{}x",
            path.trim_end_matches(char::is_alphanumeric)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    owner.post_item(json!({"body": "Another look, @bo"})).await;
    let direct = owner
        .post_item(json!({"body": "Just for you", "to": ["bo"]}))
        .await;
    let m = sink.next_to("bo@acme.test", 2).await;
    assert_eq!(
        m.parsed().message_id(),
        Some(format!("chorus.item.{direct}@lists.chorus.test").as_str()),
        "the mention was not mailed; the direct post was"
    );
    let settings = bo.page("/settings").await.text().await.unwrap();
    assert!(
        settings
            .contains(r#"name="mention" value="page" aria-label="mentions: page only" checked"#),
        "{settings}"
    );
}

async fn permanent_failures_bounce_and_stop_mail(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    sink.refuse("bo@acme.test", "550 5.1.1 no such mailbox");
    for i in 0..3 {
        owner
            .post_item(json!({"body": format!("Look {i}, @bo")}))
            .await;
        mail_settled(&owner).await;
    }
    assert_eq!(sink.attempts("bo@acme.test"), 3, "one each, none retried");
    let settings = bo.page("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("Mail to bo@acme.test bounces; fix your address"),
        "{settings}"
    );
    // A fourth is not even queued.
    owner.post_item(json!({"body": "Look again, @bo"})).await;
    assert_eq!(mail_jobs(&owner).await, 0);
    assert_eq!(sink.attempts("bo@acme.test"), 3);
    // The admin sees no dead mail: a bounce is an answer, not a failure.
    let admin = owner.page("/admin").await.text().await.unwrap();
    assert!(admin.contains("No dead jobs"), "{admin}");
}

async fn a_relay_down_or_busy_delays_mail_and_loses_none(b: Backend) {
    let down = DownRelay::new();
    let relay = down.relay();
    let (owner, _bo) = mailing_app(b, relay.clone(), None).await;
    let item = owner
        .post_item(json!({"body": "While the relay is down, @bo"}))
        .await;
    // The mention waits through a restart.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mail_jobs(&owner).await, 1);
    let owner = owner
        .restart(|s| {
            s.mail_relay = Some(relay);
            s.base_url = Some(BASE.into());
            s.mail_domain = Some("lists.chorus.test".into());
        })
        .await;
    let sink = down.up();
    // A busy answer is retried too.
    sink.refuse("bo@acme.test", "451 4.3.0 try again later");
    for _ in 0..300 {
        if sink.attempts("bo@acme.test") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        sink.attempts("bo@acme.test") >= 1,
        "the relay was tried again"
    );
    assert!(sink.received().is_empty());
    sink.accept("bo@acme.test");
    let got = sink.wait_for(1, Duration::from_secs(60)).await;
    let mention = got
        .iter()
        .find(|m| {
            m.parsed().message_id() == Some(&*format!("chorus.item.{item}@lists.chorus.test"))
        })
        .expect("the mention arrived");
    assert_eq!(mention.rcpt, vec!["bo@acme.test".to_owned()]);
    mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 1, "each mail once");
}

async fn no_mail_reaches_who_can_no_longer_see(b: Backend) {
    let down = DownRelay::new();
    let (owner, bo) = mailing_app(b, down.relay(), None).await;
    owner
        .create_space(json!({"name": "Launch", "visibility": "closed"}))
        .await;
    owner.add_to_space("launch", "bo").await;
    // Queued while the relay is down; Bo leaves the space before it is up.
    owner
        .post_item(json!({"space": "launch", "body": "Secret plan, @bo"}))
        .await;
    assert_eq!(mail_jobs(&owner).await, 1, "the mention's mail is queued");
    expect(
        bo.post("/spaces/launch/leave", json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let sink = down.up();
    let direct = owner
        .post_item(json!({"body": "Still here?", "to": ["bo"]}))
        .await;
    mail_settled(&owner).await;
    let to_bo: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.rcpt == vec!["bo@acme.test".to_owned()])
        .collect();
    assert_eq!(to_bo.len(), 1, "only the direct post");
    assert_eq!(
        to_bo[0].parsed().message_id(),
        Some(format!("chorus.item.{direct}@lists.chorus.test").as_str())
    );
}

async fn choices_through_the_api(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let got = expect(owner.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["mail_on"], false);
    assert_eq!(got["paused"], false);
    assert_eq!(got["choices"]["mention"], "now");
    assert_eq!(got["choices"]["reaction"], "digest");
    let got = expect(
        owner
            .put(
                "/me/mail",
                json!({"paused": true, "choices": {"mention": "page", "reaction": "now"}}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["paused"], true);
    assert_eq!(got["choices"]["mention"], "page");
    assert_eq!(got["choices"]["reaction"], "now");
    assert_eq!(got["choices"]["reply"], "digest");
    // Bad input changes nothing.
    let p = expect_problem(
        owner
            .put(
                "/me/mail",
                json!({"paused": false, "choices": {"mention": "now", "gossip": "now"}}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert!(p["detail"].as_str().is_some());
    expect_problem(
        owner
            .put("/me/mail", json!({"choices": {"mention": "often"}}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    expect_problem(
        owner.put("/me/mail", json!({"pause": true})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let got = expect(owner.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["paused"], true);
    assert_eq!(got["choices"]["mention"], "page");
}

/// Both ways: Bo answers his mention mail from a mail client (to its
/// Reply-To, through the listener); the answer is a comment, and Olga's
/// mail about it threads under her post.
async fn a_reply_by_mail_comes_back_threaded(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    expect(
        owner
            .put("/me/mail", json!({"choices": {"reply": "now"}}))
            .await,
        StatusCode::OK,
    )
    .await;
    let item = owner
        .post_item(json!({"title": "Launch plan", "body": "Ready, @bo?"}))
        .await;
    let m = sink.next_to("bo@acme.test", 0).await;
    let p = m.parsed();
    let reply_to = p
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_owned();
    let item_mid = p.message_id().unwrap().to_owned();
    answer_as_bo(
        &owner,
        &reply_to,
        &item_mid,
        "Ready.\n\nOn Mon, Olga Owner wrote:\n> Ready, @bo?\n",
    )
    .await;
    let comments = expect(
        bo.get(&format!("/items/{item}/comments")).await,
        StatusCode::OK,
    )
    .await;
    let c = &comments["items"][0];
    assert_eq!(c["author"]["handle"], "bo");
    assert_eq!(c["body"], "Ready.");
    let m = sink.next_to("owner@acme.test", 1).await;
    let p = m.parsed();
    assert_eq!(
        p.message_id(),
        Some(
            format!(
                "chorus.comment.{}@lists.chorus.test",
                c["id"].as_str().unwrap()
            )
            .as_str()
        )
    );
    assert_eq!(p.in_reply_to().as_text(), Some(item_mid.as_str()));
    assert!(
        m.text().contains("bo Person replied to Launch plan"),
        "{}",
        m.text()
    );
    mail_settled(&owner).await;
    assert_eq!(
        sink.received().len(),
        2,
        "nothing to Bo about his own comment"
    );
}
