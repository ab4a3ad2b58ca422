//! Mail in: real SMTP conversations with the server's listener (lettre's
//! client, Python's smtplib over STARTTLS, and a raw client that reads
//! every reply), on both backends: posts to spaces, replies as comments,
//! refusals, loop guards, and a corpus of hostile messages.

use std::net::SocketAddr;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, item_ids, open_db};

backend_tests!(
    mail_posts_to_a_space_and_replies_become_comments,
    refusals_say_why,
    automatic_mail_never_posts,
    hostile_corpus_gets_clear_replies,
    smtplib_over_starttls_posts,
    shutdown_tells_open_sessions_to_come_back,
);

const DOMAIN: &str = "lists.acme.test";

/// A server whose space addresses are at `lists.acme.test`, with its owner
/// and an open space `launch`.
async fn start(b: Backend, tweak: impl FnOnce(&mut server::config::Settings)) -> TestApp {
    let mut owner = TestApp::spawn_with(b, |s| {
        s.mail_domain = Some(DOMAIN.into());
        tweak(s)
    })
    .await;
    owner.setup_owner().await;
    owner
        .create_space(json!({"name": "Launch", "visibility": "open"}))
        .await;
    owner
}

fn mailer(app: &TestApp) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(app.smtp.port())
        .build()
}

/// The items of a space's stream, newest first.
async fn space_items(app: &TestApp, slug: &str) -> Vec<Value> {
    let page = expect(
        app.get(&format!("/spaces/{slug}/stream")).await,
        StatusCode::OK,
    )
    .await;
    let ids = item_ids(&page);
    let mut items = Vec::new();
    for id in ids {
        let item = expect(app.get(&format!("/items/{id}")).await, StatusCode::OK).await;
        if !items.iter().any(|i: &Value| i["id"] == item["id"]) {
            items.push(item);
        }
    }
    items
}

async fn comments(app: &TestApp, item: &str) -> Vec<Value> {
    let c = expect(
        app.get(&format!("/items/{item}/comments")).await,
        StatusCode::OK,
    )
    .await;
    c["items"].as_array().cloned().unwrap_or_default()
}

/// The reply address the server would give `member` for `item`.
async fn reply_address(app: &TestApp, member: i64, item: i64) -> String {
    let db = open_db(&app.database_url, 1).await;
    let ctx = server::context::Ctx::new(db.clone(), Default::default());
    let key = server::service::mail::key(&ctx).await.unwrap();
    db.close().await;
    domain::mail::ReplyAddress {
        member,
        item,
        epoch: 0,
    }
    .address(&key, DOMAIN)
}

async fn member_id(app: &TestApp, handle: &str) -> i64 {
    let m = expect(app.get(&format!("/members/{handle}")).await, StatusCode::OK).await;
    m["id"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| m["id"].as_i64())
        .unwrap_or_else(|| panic!("member id: {m}"))
}

async fn mail_posts_to_a_space_and_replies_become_comments(b: Backend) {
    let owner = start(b, |_| {}).await;
    let ana = owner.new_verified_member("ana", "member").await;
    let mailer = mailer(&owner);
    // The space page shows its address.
    let page = ana.page("/spaces/launch").await.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "<a href=\"mailto:launch@{DOMAIN}\">launch@{DOMAIN}</a>"
        )),
        "{page}"
    );
    // Ana mails the space: subject → title, text → markdown, no signature.
    let m = Message::builder()
        .from("Ana Person <ana@acme.test>".parse().unwrap())
        .to(format!("launch@{DOMAIN}").parse().unwrap())
        .subject("Launch plan")
        .body("We ship on **Friday**.\n\nSee the checklist.\n-- \nAna\nAcme Inc.\n".to_owned())
        .unwrap();
    let r = mailer.send(m).await.expect("the space takes Ana's mail");
    assert_eq!(r.code().to_string(), "250");
    let items = space_items(&ana, "launch").await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["title"], "Launch plan");
    assert_eq!(item["body"], "We ship on **Friday**.\n\nSee the checklist.");
    assert!(
        item["body_html"]
            .as_str()
            .unwrap()
            .contains("<strong>Friday</strong>")
    );
    assert_eq!(item["author"]["handle"], "ana");
    let id = item["id"].as_str().unwrap().to_owned();
    let n: i64 = id.parse().unwrap();
    // The owner answers from a mail client: In-Reply-To names the item,
    // the quote and attribution are trimmed, the attachment listed.
    let body = MultiPart::mixed()
        .singlepart(SinglePart::plain(
            "Great, thanks!\n\nOn Mon, 7 Dec 2026 at 10:00, Ana Person <ana@acme.test> wrote:\n> We ship on **Friday**.\n"
                .to_owned(),
        ))
        .singlepart(
            Attachment::new("plan.pdf".into())
                .body(b"%PDF-1.4".to_vec(), ContentType::parse("application/pdf").unwrap()),
        );
    let m = Message::builder()
        .from("owner@acme.test".parse().unwrap())
        .to(format!("launch@{DOMAIN}").parse().unwrap())
        .subject("Re: Launch plan")
        .in_reply_to(format!("<chorus.item.{n}@{DOMAIN}>"))
        .references(format!("<chorus.item.{n}@{DOMAIN}>"))
        .multipart(body)
        .unwrap();
    mailer.send(m).await.expect("the reply is taken");
    // Ana replies to her reply address with HTML only.
    let ana_id = member_id(&owner, "ana").await;
    let to = reply_address(&owner, ana_id, n).await;
    let m = Message::builder()
        .from("ana@acme.test".parse().unwrap())
        .to(to.parse().unwrap())
        .subject("Re: Launch plan")
        .header(ContentType::TEXT_HTML)
        .body(
            "<div>Noted, <b>see you Friday</b>.</div><blockquote>Great, thanks!</blockquote>"
                .to_owned(),
        )
        .unwrap();
    mailer
        .send(m)
        .await
        .expect("the reply address takes Ana's mail");
    let c = comments(&ana, &id).await;
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0]["author"]["handle"], "owner");
    assert_eq!(
        c[0]["body"],
        "Great, thanks!\n\n(attachments not kept: plan.pdf)"
    );
    assert_eq!(c[1]["author"]["handle"], "ana");
    let text = c[1]["body"].as_str().unwrap();
    assert!(
        text.contains("Noted") && text.contains("see you Friday"),
        "{text}"
    );
    assert!(
        !text.contains("Great, thanks"),
        "the quote is trimmed: {text}"
    );
    assert!(!text.contains('<'), "{text}");
    // The item's author was notified of the owner's reply, as in the page.
    let n = expect(ana.get("/notifications").await, StatusCode::OK).await;
    assert_eq!(n["items"][0]["reason"], "reply", "{n}");
    // A reply to a comment's Message-ID lands on its item too.
    let cid = c[0]["id"].as_str().unwrap();
    let m = Message::builder()
        .from("ana@acme.test".parse().unwrap())
        .to(format!("launch@{DOMAIN}").parse().unwrap())
        .subject("Re: Launch plan")
        .in_reply_to(format!("<chorus.comment.{cid}@{DOMAIN}>"))
        .body("Third.".to_owned())
        .unwrap();
    mailer.send(m).await.unwrap();
    assert_eq!(comments(&ana, &id).await.len(), 3);
    assert_eq!(space_items(&ana, "launch").await.len(), 1);
    owner.stop().await;
}

/// A raw SMTP client that reads whole replies.
pub(crate) struct Raw {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

/// A reply: its code and its lines' text.
#[derive(Debug)]
pub(crate) struct Said {
    pub(crate) code: u16,
    pub(crate) text: String,
}

impl Said {
    /// A refusal or acceptance with an enhanced status code and a reason.
    pub(crate) fn clear(&self, code: u16, esc: &str) {
        assert_eq!(self.code, code, "{self:?}");
        assert!(
            self.text.starts_with(esc),
            "enhanced status code {esc}: {self:?}"
        );
        if code >= 400 {
            assert!(self.text.len() > esc.len() + 20, "a reason: {self:?}");
        }
    }
}

impl Raw {
    pub(crate) async fn connect(addr: SocketAddr) -> Raw {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut raw = Raw {
            r: BufReader::new(r),
            w,
        };
        assert_eq!(raw.read().await.code, 220);
        raw
    }

    async fn read(&mut self) -> Said {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                self.r.read_line(&mut line),
            )
            .await
            .expect("a reply within 30 s")
            .unwrap();
            assert!(n > 0, "the server closed the connection; so far: {text}");
            assert!(line.ends_with("\r\n"), "{line:?}");
            let code: u16 = line[..3].parse().unwrap();
            text.push_str(line[4..].trim_end());
            if line.as_bytes()[3] == b' ' {
                return Said { code, text };
            }
            text.push('\n');
        }
    }

    pub(crate) async fn cmd(&mut self, line: &str) -> Said {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.read().await
    }

    /// DATA, the message dot-stuffed, and the final reply.
    pub(crate) async fn data(&mut self, message: &[u8]) -> Said {
        let go = self.cmd("DATA").await;
        assert_eq!(go.code, 354, "{go:?}");
        let mut wire = Vec::with_capacity(message.len() + 16);
        let mut start = true;
        for &b in message {
            if start && b == b'.' {
                wire.push(b'.');
            }
            wire.push(b);
            start = b == b'\n';
        }
        if !message.is_empty() && !message.ends_with(b"\r\n") {
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".\r\n");
        self.w.write_all(&wire).await.unwrap();
        self.read().await
    }

    /// A whole transaction; the first reply that is not a success.
    pub(crate) async fn send(&mut self, from: &str, to: &[&str], message: &[u8]) -> Said {
        let r = self.cmd(&format!("MAIL FROM:<{from}>")).await;
        if r.code != 250 {
            return r;
        }
        for t in to {
            let r = self.cmd(&format!("RCPT TO:<{t}>")).await;
            if r.code != 250 {
                self.cmd("RSET").await;
                return r;
            }
        }
        self.data(message).await
    }
}

async fn refusals_say_why(b: Backend) {
    let owner = start(b, |s| s.smtp_max_bytes = 4096).await;
    let ana = owner.new_verified_member("ana", "member").await;
    let _bo = owner.new_verified_member("bo", "member").await;
    owner.new_verified_member("dan", "member").await;
    ana.create_space(json!({"name": "Board", "visibility": "closed"}))
        .await;
    ana.create_space(json!({"name": "Hush", "visibility": "secret"}))
        .await;
    let mut c = Raw::connect(owner.smtp).await;
    let ehlo = c.cmd("EHLO client.acme.test").await;
    assert_eq!(ehlo.code, 250);
    for cap in ["PIPELINING", "8BITMIME", "SIZE 4096", "ENHANCEDSTATUSCODES"] {
        assert!(ehlo.text.lines().any(|l| l == cap), "{cap}: {ehlo:?}");
    }
    assert!(!ehlo.text.contains("STARTTLS"), "no certificate: {ehlo:?}");
    let launch = format!("launch@{DOMAIN}");
    let msg = |from: &str| format!("From: {from}\r\nSubject: Hi\r\n\r\nHello.\r\n").into_bytes();
    // An unknown sender is refused, saying why.
    let r = c
        .send(
            "stranger@elsewhere.test",
            &[&launch],
            &msg("stranger@elsewhere.test"),
        )
        .await;
    r.clear(550, "5.7.1");
    assert!(
        r.text.contains("No member of Chorus has the address"),
        "{r:?}"
    );
    // Bo is no member of the closed space: refused; the secret one does
    // not exist for him, as an unknown space does not.
    let r = c
        .send(
            "bo@acme.test",
            &[&format!("board@{DOMAIN}")],
            &msg("bo@acme.test"),
        )
        .await;
    r.clear(550, "5.7.1");
    assert!(r.text.contains("Only members of Board"), "{r:?}");
    let hush = c
        .send(
            "bo@acme.test",
            &[&format!("hush@{DOMAIN}")],
            &msg("bo@acme.test"),
        )
        .await;
    let nope = c
        .send(
            "bo@acme.test",
            &[&format!("nope@{DOMAIN}")],
            &msg("bo@acme.test"),
        )
        .await;
    hush.clear(550, "5.1.1");
    assert_eq!(hush.text.replace("hush", "nope"), nope.text);
    // No relaying, no forged reply addresses.
    c.send(
        "bo@acme.test",
        &["someone@gmail.test"],
        &msg("bo@acme.test"),
    )
    .await
    .clear(550, "5.7.1");
    c.send(
        "bo@acme.test",
        &[&format!("reply+2.1.0.00112233445566778899@{DOMAIN}")],
        &msg("bo@acme.test"),
    )
    .await
    .clear(550, "5.1.1");
    // A reply address is its member's alone.
    let item = ana
        .post_item(json!({"space": "launch", "body": "Ana's post"}))
        .await;
    let ana_id = member_id(&owner, "ana").await;
    let anas = reply_address(&owner, ana_id, item.parse().unwrap()).await;
    let r = c.send("bo@acme.test", &[&anas], &msg("bo@acme.test")).await;
    r.clear(550, "5.7.1");
    assert!(r.text.contains("another member"), "{r:?}");
    // The From header must be the sender's own address.
    c.send("bo@acme.test", &[&launch], &msg("ana@acme.test"))
        .await
        .clear(550, "5.7.1");
    // Too large, declared or sent.
    c.cmd("MAIL FROM:<bo@acme.test> SIZE=5000")
        .await
        .clear(552, "5.3.4");
    let big = format!(
        "From: bo@acme.test\r\nSubject: Big\r\n\r\n{}\r\n",
        "x".repeat(70).repeat(80).as_str()
    );
    let r = c.send("bo@acme.test", &[&launch], big.as_bytes()).await;
    r.clear(552, "5.3.4");
    // Too many recipients: the 101st and later wait for another message.
    c.cmd("MAIL FROM:<bo@acme.test>").await.clear(250, "2.1.0");
    for i in 0..100 {
        let r = c.cmd(&format!("RCPT TO:<launch@{DOMAIN}>")).await;
        assert_eq!(r.code, 250, "{i}: {r:?}");
    }
    c.cmd(&format!("RCPT TO:<launch@{DOMAIN}>"))
        .await
        .clear(452, "4.5.3");
    c.cmd("RSET").await;
    // A deactivated member posts nothing.
    expect(
        owner
            .patch("/admin/members/dan", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    let r = c
        .send("dan@acme.test", &[&launch], &msg("dan@acme.test"))
        .await;
    r.clear(550, "5.7.1");
    assert!(r.text.contains("deactivated"), "{r:?}");
    // Commands out of order.
    c.cmd("DATA").await.clear(503, "5.5.1");
    c.cmd(&format!("RCPT TO:<{launch}>"))
        .await
        .clear(503, "5.5.1");
    assert_eq!(c.cmd("QUIT").await.code, 221);
    // Nothing of it was posted.
    assert_eq!(space_items(&owner, "launch").await.len(), 1);
    assert!(comments(&owner, &item).await.is_empty());
    // A sender past 30 messages a minute waits.
    let mut c = Raw::connect(owner.smtp).await;
    c.cmd("HELO x").await;
    let mut limited = None;
    for i in 0..40 {
        let r = c.cmd("MAIL FROM:<bo@acme.test>").await;
        if r.code != 250 {
            limited = Some((i, r));
            break;
        }
        c.cmd("RSET").await;
    }
    let (i, r) = limited.expect("the sender is limited");
    r.clear(451, "4.7.1");
    assert!(i >= 20, "limited after {i}");
    owner.stop().await;
}

async fn automatic_mail_never_posts(b: Backend) {
    let owner = start(b, |s| s.mail_from = Some("chorus@acme.test".into())).await;
    let launch = format!("launch@{DOMAIN}");
    let mut c = Raw::connect(owner.smtp).await;
    c.cmd("EHLO x").await;
    let base = "From: owner@acme.test\r\nSubject: Out of office\r\n";
    for extra in [
        "Auto-Submitted: auto-replied\r\n",
        "Auto-Submitted: auto-generated\r\n",
        "Precedence: bulk\r\n",
        "Precedence: list\r\n",
        "Precedence: junk\r\n",
        &format!("Message-ID: <chorus.item.1@{DOMAIN}>\r\n"),
        "X-Chorus-Item: 1\r\n",
    ] {
        let m = format!("{base}{extra}\r\nI am away.\r\n");
        let r = c.send("owner@acme.test", &[&launch], m.as_bytes()).await;
        r.clear(250, "2.0.0");
        assert!(r.text.contains("dropped"), "{extra}: {r:?}");
    }
    // A bounce: the null reverse path.
    let r = c
        .send(
            "",
            &[&launch],
            b"From: MAILER-DAEMON@elsewhere.test\r\nSubject: Undeliverable\r\n\r\nGone.\r\n",
        )
        .await;
    r.clear(250, "2.0.0");
    assert!(r.text.contains("dropped"), "{r:?}");
    // Mail that claims to be from Chorus's own sender.
    let r = c
        .send(
            "owner@acme.test",
            &[&launch],
            b"From: chorus@acme.test\r\nSubject: A notification\r\n\r\nYou have mail.\r\n",
        )
        .await;
    r.clear(250, "2.0.0");
    // "Auto-Submitted: no" is a person's mail.
    let r = c
        .send(
            "owner@acme.test",
            &[&launch],
            b"From: owner@acme.test\r\nAuto-Submitted: no\r\nSubject: Real\r\n\r\nA person wrote this.\r\n",
        )
        .await;
    r.clear(250, "2.0.0");
    // PIPELINING: the envelope and DATA in one write, the replies in order.
    c.w.write_all(
        format!("MAIL FROM:<owner@acme.test>\r\nRCPT TO:<{launch}>\r\nDATA\r\n").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(c.read().await.code, 250);
    assert_eq!(c.read().await.code, 250);
    assert_eq!(c.read().await.code, 354);
    c.w.write_all(b"From: owner@acme.test\r\nSubject: Piped\r\n\r\nIn one go.\r\n.\r\n")
        .await
        .unwrap();
    c.read().await.clear(250, "2.0.0");
    let items = space_items(&owner, "launch").await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["title"], "Piped");
    assert_eq!(items[1]["title"], "Real");
    owner.stop().await;
}

async fn hostile_corpus_gets_clear_replies(b: Backend) {
    let owner = start(b, |_| {}).await;
    let launch = format!("launch@{DOMAIN}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mail_corpus");
    let mut corpus: Vec<(String, Vec<u8>)> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    for p in names {
        let raw = std::fs::read(&p).unwrap();
        let raw = String::from_utf8_lossy(&raw).contains("FROM").then(|| {
            let mut out = Vec::new();
            let mut rest = &raw[..];
            while let Some(i) = rest.windows(4).position(|w| w == b"FROM") {
                out.extend_from_slice(&rest[..i]);
                out.extend_from_slice(b"owner@acme.test");
                rest = &rest[i + 4..];
            }
            out.extend_from_slice(rest);
            out
        });
        let raw = raw.unwrap_or_else(|| std::fs::read(&p).unwrap());
        corpus.push((p.file_name().unwrap().to_string_lossy().into_owned(), raw));
    }
    assert!(corpus.len() >= 10, "the corpus is found");
    let head = "From: owner@acme.test\r\nSubject: Made\r\n";
    corpus.push(("empty".into(), Vec::new()));
    corpus.push((
        "a megabyte of headers".into(),
        format!(
            "{head}X-Long: {}\r\n{}\r\nBody after huge headers.\r\n",
            "a".repeat(500_000),
            "X-Many: b\r\n".repeat(40_000)
        )
        .into_bytes(),
    ));
    corpus.push(("deep MIME nesting".into(), {
        let mut m = format!("{head}MIME-Version: 1.0\r\n");
        for i in 0..300 {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        m.push_str("Content-Type: text/plain\r\n\r\nDeep.\r\n");
        m.into_bytes()
    }));
    for depth in [1_900, 3_000] {
        corpus.push((
            format!("HTML nested {depth} times"),
            format!(
                "{head}Content-Type: text/html\r\n\r\n{}deep{}\r\n",
                "<div><blockquote><table><tr><td>".repeat(depth),
                "</td></tr></table></blockquote></div>".repeat(depth)
            )
            .into_bytes(),
        ));
    }
    corpus.push((
        "a 2 MB line".into(),
        format!("{head}\r\n{}\r\n", "word ".repeat(400_000)).into_bytes(),
    ));
    let mut c = Raw::connect(owner.smtp).await;
    c.cmd("EHLO hostile.test").await;
    let mut posted = 0;
    for (name, raw) in &corpus {
        let r = c.send("owner@acme.test", &[&launch], raw).await;
        assert!(
            [250, 550, 552, 554].contains(&r.code),
            "{name}: a clear answer, not {r:?}"
        );
        let esc = r.text.split(' ').next().unwrap();
        assert!(
            esc.len() >= 5 && esc.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "{name}: an enhanced status code: {r:?}"
        );
        assert!(r.text.len() > 15, "{name}: a reason: {r:?}");
        if r.code == 250 {
            posted += 1;
        }
        eprintln!("{name}: {} {}", r.code, r.text);
    }
    // Clear outcomes for the ones that cannot be posted.
    let by_name = |n: &str| corpus.iter().position(|(name, _)| name == n).unwrap();
    let _ = by_name("empty");
    // 1,000 recipients: the first 100 are taken, the rest told to wait.
    c.cmd("MAIL FROM:<owner@acme.test>")
        .await
        .clear(250, "2.1.0");
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..1_000 {
        *codes
            .entry(c.cmd(&format!("RCPT TO:<launch@{DOMAIN}>")).await.code)
            .or_insert(0) += 1;
    }
    assert_eq!(codes.get(&250), Some(&100), "{codes:?}");
    assert_eq!(codes.get(&452), Some(&900), "{codes:?}");
    c.data(b"From: owner@acme.test\r\nSubject: Many\r\n\r\nOnce.\r\n")
        .await
        .clear(250, "2.0.0");
    // SMTP smuggling: a bare-LF "." line does not end the message, so the
    // commands after it are text of the one message, not a second one.
    assert_eq!(c.cmd("MAIL FROM:<owner@acme.test>").await.code, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<{launch}>")).await.code, 250);
    assert_eq!(c.cmd("DATA").await.code, 354);
    c.w.write_all(
        format!(
            "From: owner@acme.test\r\nSubject: Smuggle\r\n\r\nfirst\n.\r\nMAIL FROM:<owner@acme.test>\r\n\
             RCPT TO:<{launch}>\r\nDATA\r\nFrom: owner@acme.test\r\nSubject: Smuggled\r\n\r\nsecond\r\n.\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.read().await.clear(250, "2.0.0");
    c.cmd("NOOP").await.clear(250, "2.0.0");
    posted += 1;
    // Garbage commands and a too-long line get answers too.
    c.cmd("FOO bar").await.clear(500, "5.5.1");
    let long = format!("NOOP {}", "x".repeat(10_000));
    c.cmd(&long).await.clear(500, "5.5.2");
    c.cmd("NOOP").await.clear(250, "2.0.0");
    c.cmd("QUIT").await;
    // The listener goes on: a new session posts.
    let mut c = Raw::connect(owner.smtp).await;
    c.cmd("HELO again").await;
    c.send(
        "owner@acme.test",
        &[&launch],
        b"From: owner@acme.test\r\nSubject: Still here\r\n\r\nThe listener goes on.\r\n",
    )
    .await
    .clear(250, "2.0.0");
    let items = space_items(&owner, "launch").await;
    assert_eq!(items.len(), posted + 2, "{items:?}");
    assert_eq!(items[0]["title"], "Still here");
    assert!(!items.iter().any(|i| i["title"] == "Smuggled"), "{items:?}");
    for i in &items {
        test_support::safety::assert_safe_html(i["body_html"].as_str().unwrap());
        let title = i["title"].as_str().unwrap();
        assert!(!title.contains('\0'), "{title:?}");
    }
    owner.stop().await;
}

async fn smtplib_over_starttls_posts(b: Backend) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mail_corpus");
    let owner = start(b, |s| {
        s.smtp_tls_cert = Some(dir.join("tls-cert.pem"));
        s.smtp_tls_key = Some(dir.join("tls-key.pem"));
    })
    .await;
    owner.new_verified_member("ana", "member").await;
    let script = r#"
import smtplib, ssl, sys
port, to = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("py.acme.test")
assert s.has_extn("starttls"), s.esmtp_features
s.starttls(context=ctx)
s.ehlo("py.acme.test")
assert not s.has_extn("starttls"), "offered again over TLS"
msg = ("From: Ana <ana@acme.test>\r\nTo: " + to + "\r\nSubject: Over TLS\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n\r\n.Sent by smtplib, caf\u00e9.\r\n")
refused = s.sendmail("ana@acme.test", [to], msg.encode("utf-8"))
assert not refused, refused
try:
    s.sendmail("nobody@elsewhere.test", [to], "From: nobody@elsewhere.test\r\n\r\nx\r\n")
    raise SystemExit("an unknown sender was taken")
except smtplib.SMTPRecipientsRefused as e:
    code, text = e.recipients[to]
    assert code == 550 and text.startswith(b"5.7.1"), e.recipients
s.quit()
print("ok")
"#;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(owner.smtp.port().to_string())
        .arg(format!("launch@{DOMAIN}"))
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "smtplib: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let items = space_items(&owner, "launch").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Over TLS");
    assert_eq!(items[0]["body"], ".Sent by smtplib, café.");
    owner.stop().await;
}

async fn shutdown_tells_open_sessions_to_come_back(b: Backend) {
    let owner = start(b, |_| {}).await;
    let addr = owner.smtp;
    let mut c = Raw::connect(addr).await;
    c.cmd("EHLO x").await;
    c.cmd("MAIL FROM:<owner@acme.test>")
        .await
        .clear(250, "2.1.0");
    // The server stops while the session waits for its next command: the
    // session is told to come back, and the server's stop completes.
    let stopped = tokio::spawn(owner.stop());
    let r = c.read().await;
    r.clear(421, "4.3.2");
    tokio::time::timeout(std::time::Duration::from_secs(30), stopped)
        .await
        .expect("the server stops")
        .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
