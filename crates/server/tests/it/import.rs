//! `chorus import mbox`, run as a process against a running server's
//! database on both backends: threads, authors, dates and encodings of a
//! small archive; a second import adding nothing; nobody's home,
//! notifications or mail queue touched; the hostile corpus and a
//! real-world list archive imported without a crash.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, TestApp, expect, item_ids, open_db};
use crate::ops::chorus;

backend_tests!(
    an_archive_imports_as_threaded_history,
    hostile_and_real_archives_import_with_reasons,
);

/// Runs `chorus import mbox` on `file` into `space`; returns whether it
/// succeeded and what it printed.
fn import(app: &TestApp, dir: &Path, file: &Path, space: &str) -> (bool, String) {
    let out = chorus()
        .args(["import", "mbox"])
        .arg(file)
        .args(["--space", space, "--database-url", &app.database_url])
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("chorus runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// One mbox message: its "From " line, then the message with "From " lines
/// quoted (mboxrd).
fn mbox_message(sender: &str, date: &str, message: &str) -> String {
    let mut s = format!("From {sender} {date}\n");
    for line in message.lines() {
        if line.trim_start_matches('>').starts_with("From ") {
            s.push('>');
        }
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    s
}

const ASCTIME: &str = "Fri Mar  1 09:00:00 2024";

fn small_archive() -> String {
    let msgs = [
        // A thread's first message, by a member (address in other case).
        "Message-ID: <a1@list.example.org>\nFrom: Bo Person <BO@acme.test>\nSubject: [dev] Launch plan\nDate: Fri, 01 Mar 2024 10:00:00 +0000\n\nWe launch on Monday.\nFrom now on, daily stand-ups.\n\n-- \nBo\n",
        // A reply before its parent in the file, by an unknown sender.
        "Message-ID: <a3@list.example.org>\nFrom: Zed Outsider <zed@example.org>\nSubject: Re: [dev] Launch plan\nIn-Reply-To: <a2@list.example.org>\nDate: Fri, 01 Mar 2024 12:00:00 +0000\n\nAgreed.\n\n> Caf\u{e9} at noon\n",
        // Quoted-printable ISO-8859-1.
        "Message-ID: <a2@list.example.org>\nFrom: Mia <mia@example.org>\nSubject: Re: [dev] Launch plan\nIn-Reply-To: <a1@list.example.org>\nDate: Fri, 01 Mar 2024 11:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 at noon\n",
        // References only; base64 UTF-8.
        "Message-ID: <a4@list.example.org>\nFrom: zed@example.org\nSubject: Re: Launch plan\nReferences: <a1@list.example.org> <a2@list.example.org>\nDate: Fri, 01 Mar 2024 13:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZSBhdXMgS8O2bG4=\n",
        // No threading headers: the subject threads it.
        "Message-ID: <a5@list.example.org>\nFrom: Mia <mia@example.org>\nSubject: RE: [dev]  launch PLAN\nDate: Fri, 01 Mar 2024 14:00:00 +0000\n\nSee you there.\n",
        // HTML only.
        "Message-ID: <b1@list.example.org>\nFrom: Mia <mia@example.org>\nSubject: Quarterly numbers\nDate: Sat, 02 Mar 2024 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n<p>Revenue is <b>up</b></p>\n",
        // No Message-ID and no Date: the "From " line's date.
        "From: Bo Person <bo@acme.test>\nSubject: No id here\n\nhello\n",
    ];
    msgs.iter()
        .map(|m| mbox_message("list@example.org", ASCTIME, m))
        .collect()
}

fn at(s: &Value) -> jiff::Timestamp {
    s.as_str().unwrap().parse().unwrap()
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

async fn space_items(app: &TestApp, slug: &str) -> Vec<Value> {
    let page = expect(
        app.get(&format!("/spaces/{slug}/stream?limit=100")).await,
        StatusCode::OK,
    )
    .await;
    let mut items: Vec<Value> = Vec::new();
    for id in item_ids(&page) {
        if !items.iter().any(|i| i["id"] == id.as_str()) {
            items.push(expect(app.get(&format!("/items/{id}")).await, StatusCode::OK).await);
        }
    }
    items
}

async fn comments(app: &TestApp, item: &Value) -> Vec<Value> {
    let id = item["id"].as_str().unwrap();
    let c = expect(
        app.get(&format!("/items/{id}/comments")).await,
        StatusCode::OK,
    )
    .await;
    c["items"].as_array().cloned().unwrap_or_default()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = open_db(&app.database_url, 1).await;
    let mut c = db.read().await.unwrap();
    let n = c.query_one(sql, &[]).await.unwrap().i64(0).unwrap();
    drop(c);
    db.close().await;
    n
}

async fn an_archive_imports_as_threaded_history(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner
        .create_space(json!({"name": "Launch", "visibility": "open"}))
        .await;
    let bo = owner.new_member("bo", "member").await;
    bo.join("launch").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dev.mbox");
    std::fs::write(&file, small_archive()).unwrap();
    let jobs = count(&owner, "SELECT count(*) FROM jobs").await;
    let notifications = count(&owner, "SELECT count(*) FROM notifications").await;
    let inbox = count(&owner, "SELECT count(*) FROM inbox").await;

    // A space that does not exist is refused, saying how to make one.
    let (ok, out) = import(&owner, dir.path(), &file, "nowhere");
    assert!(!ok, "{out}");
    assert!(out.contains("There is no space \"nowhere\""), "{out}");
    assert!(out.contains("Create it first"), "{out}");
    let (ok, out) = import(
        &owner,
        dir.path(),
        &dir.path().join("missing.mbox"),
        "launch",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Cannot read"), "{out}");

    let (ok, out) = import(&owner, dir.path(), &file, "launch");
    assert!(ok, "{out}");
    assert!(out.contains("messages read:    7"), "{out}");
    assert!(out.contains("threads (items):  3"), "{out}");
    assert!(out.contains("comments:         4"), "{out}");
    assert!(out.contains("1 matched to members, 2 unknown"), "{out}");
    assert!(out.contains("skipped:          0"), "{out}");

    let items = space_items(&owner, "launch").await;
    assert_eq!(items.len(), 3, "{items:#?}");
    let by_title = |t: &str| {
        items
            .iter()
            .find(|i| i["title"] == t)
            .unwrap_or_else(|| panic!("no item {t}: {items:#?}"))
            .clone()
    };
    let launch = by_title("Launch plan");
    assert_eq!(launch["author"]["handle"], "bo");
    assert_eq!(launch["author"]["display_name"], "bo Person");
    assert_eq!(at(&launch["created_at"]), ts("2024-03-01T10:00:00Z"));
    // The signature is cut; a "From " line in the body is kept.
    assert_eq!(
        launch["body"],
        "We launch on Monday.\nFrom now on, daily stand-ups."
    );
    let replies = comments(&owner, &launch).await;
    let seen: Vec<(String, String, jiff::Timestamp)> = replies
        .iter()
        .map(|c| {
            (
                c["author"]["display_name"].as_str().unwrap().to_owned(),
                c["body"].as_str().unwrap().to_owned(),
                at(&c["created_at"]),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "Mia <mia@example.org>".to_owned(),
                "Café at noon".to_owned(),
                ts("2024-03-01T11:00:00Z")
            ),
            (
                "Zed Outsider <zed@example.org>".to_owned(),
                "Agreed.".to_owned(),
                ts("2024-03-01T12:00:00Z")
            ),
            (
                "zed@example.org".to_owned(),
                "Grüße aus Köln".to_owned(),
                ts("2024-03-01T13:00:00Z")
            ),
            (
                "Mia <mia@example.org>".to_owned(),
                "See you there.".to_owned(),
                ts("2024-03-01T14:00:00Z")
            ),
        ]
    );
    assert_eq!(launch["comment_count"], 4);
    let html = by_title("Quarterly numbers");
    assert_eq!(html["author"]["display_name"], "Mia <mia@example.org>");
    assert!(
        html["body"].as_str().unwrap().contains("Revenue is"),
        "{html}"
    );
    assert!(!html["body"].as_str().unwrap().contains('<'), "{html}");
    let no_id = by_title("No id here");
    assert_eq!(no_id["author"]["handle"], "bo");
    assert_eq!(at(&no_id["created_at"]), ts("2024-03-01T09:00:00Z"));

    // History: nobody's home, no notification, no mail job.
    assert_eq!(count(&owner, "SELECT count(*) FROM jobs").await, jobs);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM notifications").await,
        notifications
    );
    assert_eq!(count(&owner, "SELECT count(*) FROM inbox").await, inbox);
    let home = expect(bo.get("/streams/home").await, StatusCode::OK).await;
    assert!(item_ids(&home).is_empty(), "{home:#}");

    // The page shows the sender instead of the space's creator.
    let page = owner
        .page(&format!("/items/{}", launch["id"].as_str().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Zed Outsider &#60;zed@example.org&#62;"),
        "{page}"
    );
    // Not as a link to the creator's profile.
    assert!(!page.contains("/members/owner\">Zed"), "{page}");
    assert!(
        page.contains("title=\"From the mail archive\">Zed Outsider"),
        "{page}"
    );

    // Again: nothing added.
    let (ok, out) = import(&owner, dir.path(), &file, "launch");
    assert!(ok, "{out}");
    assert!(out.contains("threads (items):  0"), "{out}");
    assert!(out.contains("comments:         0"), "{out}");
    assert!(
        out.contains("7 imported before: <a1@list.example.org>"),
        "{out}"
    );
    assert_eq!(space_items(&owner, "launch").await.len(), 3);
    assert_eq!(comments(&owner, &launch).await.len(), 4);
    owner.stop().await;
}

async fn hostile_and_real_archives_import_with_reasons(b: Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner
        .create_space(json!({"name": "Launch", "visibility": "open"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mail_corpus");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    let mut mbox: Vec<u8> = Vec::new();
    for p in &names {
        let raw = std::fs::read(p)
            .unwrap()
            .iter()
            .copied()
            .filter(|b| *b != b'\r')
            .collect::<Vec<u8>>();
        mbox.extend_from_slice(format!("From x@y {ASCTIME}\n").as_bytes());
        let text = String::from_utf8_lossy(&raw).replace("\nFrom ", "\n>From ");
        mbox.extend_from_slice(text.replace("FROM", "mia@example.org").as_bytes());
        mbox.extend_from_slice(b"\n\n");
    }
    // A 0-byte message, and NUL bytes.
    mbox.extend_from_slice(format!("From x@y {ASCTIME}\n\n").as_bytes());
    mbox.extend_from_slice(
        format!("From x@y {ASCTIME}\nFrom: a@b.test\nSubject: nul\n\na\0b\n\n").as_bytes(),
    );
    let file = dir.path().join("hostile.mbox");
    std::fs::write(&file, &mbox).unwrap();
    let (ok, out) = import(&owner, dir.path(), &file, "launch");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("messages read:    {}", names.len() + 2)),
        "{out}"
    );
    assert!(out.contains("1 empty message: message"), "{out}");
    assert!(out.contains("contains NUL bytes"), "{out}");
    assert!(out.contains("not a mail message (no headers)"), "{out}");
    let items = space_items(&owner, "launch").await;
    assert!(!items.is_empty(), "{out}");

    // A real list archive (testdata/mbox/README.md says whence).
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/mbox/notmuch-list.mbox");
    owner
        .create_space(json!({"name": "Notmuch", "visibility": "open"}))
        .await;
    let (ok, out) = import(&owner, dir.path(), &real, "notmuch");
    assert!(ok, "{out}");
    assert!(out.contains("messages read:    53"), "{out}");
    // The corpus holds one message twice.
    assert!(
        out.contains(
            "1 the same Message-ID again in the file: <20091117232137.GA7669@griffis1.net>"
        ),
        "{out}"
    );
    let items = space_items(&owner, "notmuch").await;
    assert!(items.len() >= 2, "{out}");
    let threaded: i64 = items
        .iter()
        .map(|i| i["comment_count"].as_i64().unwrap())
        .sum();
    assert!(threaded >= 5, "{out}\n{items:#?}");
    owner.stop().await;
}
