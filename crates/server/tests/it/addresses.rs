//! Addresses, through real SMTP both ways: invitations whose mailed link
//! verifies the address (and sits in no job), changing one's address by a
//! mailed link, password reset, revoking reply addresses, and delivery
//! reports to the signed bounce addresses.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, expect_problem, open_db};
use crate::mail::{BASE, DownRelay, Sink, link, mail_settled, mailing_app};
use crate::mail_in::Raw;

backend_tests!(
    invitations_mailed_verify_and_no_link_waits_in_a_job,
    address_changes_take_effect_when_the_link_is_opened,
    without_mail_a_new_address_is_unverified_and_does_not_post,
    password_reset_by_mail,
    old_reply_addresses_can_be_revoked,
    bounce_reports_count_against_the_address,
    domain_signup_by_mailed_link,
);

async fn sql_texts(app: &TestApp, sql: &str) -> Vec<String> {
    let db = open_db(&app.database_url, 1).await;
    let rows = db.read().await.unwrap().query(sql, &[]).await.unwrap();
    db.close().await;
    rows.iter().map(|r| r.text(0).unwrap()).collect()
}

async fn sql_exec(app: &TestApp, sql: &str) {
    let db = open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    tx.execute(sql, &[]).await.unwrap();
    tx.commit().await.unwrap();
    db.close().await;
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// A form post from `app`'s client (cookies and all), no redirect followed.
async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn invitations_mailed_verify_and_no_link_waits_in_a_job(b: Backend) {
    // The relay is down at first: the invitation's mail job waits.
    let down = DownRelay::new();
    let (owner, _bo) = mailing_app(b, down.relay(), None).await;
    let inv = expect(
        owner
            .post("/invitations", json!({"email": "cy@acme.test"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let shown = token_of(inv["url"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let payloads = sql_texts(&owner, "SELECT payload FROM jobs WHERE kind = 'mail'").await;
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    let job: Value = serde_json::from_str(&payloads[0]).unwrap();
    assert_eq!(
        job,
        json!({"mail": "invitation", "invitation": inv["id"].as_str().unwrap().parse::<i64>().unwrap()}),
        "the payload holds only the invitation's id"
    );
    assert!(!payloads[0].contains(&shown));
    // The relay comes back: the mail goes, with a link minted when it went.
    let sink = down.up();
    let m = sink.next_to("cy@acme.test", 0).await;
    assert!(
        m.from.starts_with("bounce+i") && m.from.ends_with("@lists.chorus.test"),
        "the envelope sender is a bounce address: {}",
        m.from
    );
    let mailed = token_of(&link(&m.text(), &format!("{BASE}/invite/")));
    assert_ne!(mailed, shown);
    let mut cy = owner.browser();
    let res = cy
        .post(
            &format!("/invitations/{mailed}/accept"),
            json!({"handle": "cy", "display_name": "Cy", "password": PASSWORD}),
        )
        .await;
    let body = expect(res, StatusCode::CREATED).await;
    cy.csrf = Some(body["csrf_token"].as_str().unwrap().to_owned());
    let me = expect(cy.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(me["email"], "cy@acme.test");
    assert_eq!(me["verified"], true, "the mailed link verifies: {me}");
    // The link the inviter copies by hand does not verify.
    let dee = owner.new_member("dee", "member").await;
    let me = expect(dee.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(me["verified"], false, "{me}");
    // The owner's address (typed at setup) counts as verified.
    let me = expect(owner.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(me["verified"], true, "{me}");
}

async fn address_changes_take_effect_when_the_link_is_opened(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    // Another member's address is refused.
    let res = bo
        .put("/me/email", json!({"email": "owner@acme.test"}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    let res = bo
        .put("/me/email", json!({"email": "not an address"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = bo
        .put("/me/email", json!({"email": "bo@new.test", "extra": 1}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let r = expect(
        bo.put("/me/email", json!({"email": "Bo@New.test"})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        r["email"], "bo@acme.test",
        "the old address stays until then"
    );
    assert_eq!(r["pending"], "bo@new.test");
    let m1 = sink.next_to("bo@new.test", 0).await;
    assert!(m1.from.starts_with("bounce+l"), "{}", m1.from);
    let t1 = token_of(&link(&m1.text(), &format!("{BASE}/address/confirm/")));
    let settings = bo.page("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("We sent a link to bo@new.test; it takes effect when you open it"),
        "{settings}"
    );
    // Resent: a new link; the first stops.
    let r = expect(
        bo.post("/me/email/resend", json!({})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(r["pending"], "bo@new.test");
    let m2 = sink.next_to("bo@new.test", 1).await;
    let t2 = token_of(&link(&m2.text(), &format!("{BASE}/address/confirm/")));
    assert_ne!(t1, t2);
    assert_eq!(
        bo.page(&format!("/address/confirm/{t1}")).await.status(),
        StatusCode::GONE
    );
    // Opening the link shows a button (a link scanner changes nothing)…
    let page = owner
        .browser()
        .page(&format!("/address/confirm/{t2}"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Confirm bo@new.test"));
    let me = expect(bo.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(me["email"], "bo@acme.test");
    // …which confirms it, once, in any browser.
    let res = form(&owner.browser(), &format!("/address/confirm/{t2}"), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your address is now bo@new.test")
    );
    let me = expect(bo.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(me["email"], "bo@new.test");
    assert_eq!(me["verified"], true);
    assert_eq!(me["pending"], Value::Null);
    let res = owner
        .browser()
        .post("/address/confirm", json!({"token": t2}))
        .await;
    expect_problem(res, StatusCode::GONE, "link-used").await;
    let res = owner
        .browser()
        .post("/address/confirm", json!({"token": "nope"}))
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    // Mail now goes to the new address.
    owner.post_item(json!({"body": "Hello @bo"})).await;
    sink.next_to("bo@new.test", 2).await;
}

async fn without_mail_a_new_address_is_unverified_and_does_not_post(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| {
        s.mail_domain = Some("lists.acme.test".into());
    })
    .await;
    owner.setup_owner().await;
    owner
        .create_space(json!({"name": "Launch", "visibility": "open"}))
        .await;
    let ana = owner.new_verified_member("ana", "member").await;
    let r = expect(
        ana.put("/me/email", json!({"email": "ana@else.test"}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(r["email"], "ana@else.test");
    assert_eq!(r["verified"], false);
    assert_eq!(r["mail_on"], false);
    let settings = ana.page("/settings").await.text().await.unwrap();
    assert!(settings.contains("unverified"), "{settings}");
    let mut raw = Raw::connect(owner.smtp).await;
    raw.cmd("EHLO client.test").await;
    let msg = b"From: ana@else.test\r\nTo: launch@lists.acme.test\r\nSubject: Hi\r\n\r\nHello\r\n";
    let said = raw
        .send("ana@else.test", &["launch@lists.acme.test"], msg)
        .await;
    said.clear(550, "5.7.1");
    assert!(said.text.contains("not confirmed"), "{said:?}");
    // No reset links without mail: the answer says whom to ask.
    let res = owner
        .browser()
        .post("/password/forgot", json!({"login": "ana"}))
        .await;
    let p = expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        p["detail"].as_str().unwrap().contains("Ask an admin"),
        "{p}"
    );
}

async fn password_reset_by_mail(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    let dee = owner.new_member("dee", "member").await; // unverified
    mail_settled(&owner).await;
    sink.clear();
    let anon = owner.browser();
    // The login page leads to the form.
    let login = anon.page("/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/password/forgot\""), "{login}");
    // The same answer for an account, an unknown name, and an unverified address.
    let same = "If an account has that handle or address, we sent a link";
    for who in ["bo", "nobody@acme.test", "ghost", "dee"] {
        let res = form(&anon, "/password/forgot", &[("login", who)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        assert!(res.text().await.unwrap().contains(same), "{who}");
    }
    let r = expect(
        anon.post("/password/forgot", json!({"login": "BO@acme.test"}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert!(r["detail"].as_str().unwrap().contains("works for an hour"));
    mail_settled(&owner).await;
    let got = sink.received();
    assert_eq!(
        got.len(),
        2,
        "two to Bo, none to anyone else: {:?}",
        got.iter().map(|m| &m.rcpt).collect::<Vec<_>>()
    );
    assert!(
        got.iter()
            .all(|m| m.rcpt == vec!["bo@acme.test".to_owned()])
    );
    let first = token_of(&link(&got[0].text(), &format!("{BASE}/password/reset/")));
    let t = token_of(&link(&got[1].text(), &format!("{BASE}/password/reset/")));
    drop(dee);
    // The form, with the sign-up rules for passwords.
    let page = anon.page(&format!("/password/reset/{t}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Choose a new password"));
    let res = form(
        &anon,
        &format!("/password/reset/{t}"),
        &[("new_password", "short")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new_password = "a much newer battery staple";
    let mut reset = owner.browser();
    let res = form(
        &reset,
        &format!("/password/reset/{t}"),
        &[("new_password", new_password)],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    // Logged in as Bo; every other session of his ended.
    let me = expect(reset.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["handle"], "bo");
    reset.csrf = None;
    assert_eq!(bo.get("/me").await.status(), StatusCode::UNAUTHORIZED);
    let mut again = owner.browser();
    let res = again
        .post("/session", json!({"login": "bo", "password": PASSWORD}))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    again.login("bo", new_password).await;
    // Each link works once; a reset ends the other links.
    for used in [&t, &first] {
        assert_eq!(
            anon.page(&format!("/password/reset/{used}")).await.status(),
            StatusCode::GONE
        );
    }
    let res = anon
        .post(
            "/password/reset",
            json!({"token": t, "new_password": "yet another long password"}),
        )
        .await;
    expect_problem(res, StatusCode::GONE, "link-used").await;
    // An expired link is refused.
    sink.clear();
    form(&anon, "/password/forgot", &[("login", "bo")]).await;
    let m = sink.next_to("bo@acme.test", 0).await;
    let t3 = token_of(&link(&m.text(), &format!("{BASE}/password/reset/")));
    sql_exec(
        &owner,
        "UPDATE mail_links SET expires_at = 1 WHERE purpose = 'reset' AND used_at IS NULL",
    )
    .await;
    let res = anon
        .post(
            "/password/reset",
            json!({"token": t3, "new_password": "yet another long password"}),
        )
        .await;
    expect_problem(res, StatusCode::GONE, "link-expired").await;
}

/// The reply address the server gives `member` for `item` at `epoch`.
async fn reply_address(app: &TestApp, member: i64, item: i64, epoch: i64) -> String {
    let db = open_db(&app.database_url, 1).await;
    let ctx = server::context::Ctx::new(db.clone(), Default::default());
    let key = server::service::mail::key(&ctx).await.unwrap();
    db.close().await;
    domain::mail::ReplyAddress {
        member,
        item,
        epoch,
    }
    .address(&key, "lists.acme.test")
}

async fn old_reply_addresses_can_be_revoked(b: Backend) {
    let mut owner = TestApp::spawn_with(b, |s| {
        s.mail_domain = Some("lists.acme.test".into());
    })
    .await;
    owner.setup_owner().await;
    let ana = owner.new_verified_member("ana", "member").await;
    let item: i64 = owner
        .post_item(json!({"title": "Plan", "body": "Thoughts?"}))
        .await
        .parse()
        .unwrap();
    let me = expect(ana.get("/members/ana").await, StatusCode::OK).await;
    let ana_id: i64 = me["id"].as_str().unwrap().parse().unwrap();
    let old = reply_address(&owner, ana_id, item, 0).await;
    let mail = |to: &str| {
        format!("From: ana@acme.test\r\nTo: {to}\r\nSubject: Re: Plan\r\n\r\nYes.\r\n").into_bytes()
    };
    let mut raw = Raw::connect(owner.smtp).await;
    raw.cmd("EHLO client.test").await;
    raw.send("ana@acme.test", &[&old], &mail(&old))
        .await
        .clear(250, "2.0.0");
    // Through the API…
    let r = expect(
        ana.post("/me/reply-addresses/revoke", json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["reply_epoch"], 1);
    let said = raw.send("ana@acme.test", &[&old], &mail(&old)).await;
    said.clear(550, "5.7.1");
    assert!(said.text.contains("revoked"), "{said:?}");
    let new = reply_address(&owner, ana_id, item, 1).await;
    raw.send("ana@acme.test", &[&new], &mail(&new))
        .await
        .clear(250, "2.0.0");
    // …and the settings button.
    let settings = ana.page("/settings").await.text().await.unwrap();
    assert!(settings.contains("Stop old reply addresses working"));
    let csrf = ana.csrf.clone().unwrap();
    let res = form(&ana, "/settings/reply-addresses/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("old reply addresses no longer work")
    );
    raw.send("ana@acme.test", &[&new], &mail(&new))
        .await
        .clear(550, "5.7.1");
    let comments = expect(
        ana.get(&format!("/items/{item}/comments")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(comments["items"].as_array().unwrap().len(), 2);
}

async fn bounce_count(app: &TestApp) -> Vec<String> {
    sql_texts(
        app,
        "SELECT address || ':' || CAST(bounces AS TEXT) FROM mail_bounces ORDER BY address",
    )
    .await
}

async fn bounce_reports_count_against_the_address(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    owner.post_item(json!({"body": "Hello @bo"})).await;
    let m = sink.next_to("bo@acme.test", 0).await;
    let bounce = m.from.clone();
    assert!(
        bounce.starts_with("bounce+m") && bounce.ends_with("@lists.chorus.test"),
        "{bounce}"
    );
    assert_eq!(
        m.parsed()
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address()),
        Some("chorus@chorus.test"),
        "the From header stays mail_from"
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mail_corpus");
    let report = |name: &str, to: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .replace("{{BOUNCE}}", to)
            .replace("{{RCPT}}", "bo@acme.test")
            .replace('\n', "\r\n")
            .into_bytes()
    };
    let mut raw = Raw::connect(owner.smtp).await;
    raw.cmd("EHLO mx.acme.test").await;
    // A delay is no failure; a forged bounce address counts nothing; both
    // are accepted (no backscatter).
    raw.send("", &[&bounce], &report("dsn_delayed.dsn", &bounce))
        .await
        .clear(250, "2.0.0");
    let forged = bounce.replacen("bounce+m", "bounce+m9", 1);
    raw.send("", &[&forged], &report("dsn_postfix.dsn", &forged))
        .await
        .clear(250, "2.0.0");
    let local = bounce.split('@').next().unwrap();
    let (what, _) = local.split_once('.').unwrap();
    let wrong_tag = format!("{what}.00000000000000000000@lists.chorus.test");
    raw.send("", &[&wrong_tag], &report("dsn_postfix.dsn", &wrong_tag))
        .await
        .clear(250, "2.0.0");
    assert!(bounce_count(&owner).await.is_empty());
    // Postfix, Exchange and Gmail reports each count once; at three, mail stops.
    for (i, name) in ["dsn_postfix.dsn", "dsn_exchange.dsn", "dsn_gmail.dsn"]
        .iter()
        .enumerate()
    {
        raw.send("", &[&bounce], &report(name, &bounce))
            .await
            .clear(250, "2.0.0");
        assert_eq!(
            bounce_count(&owner).await,
            vec![format!("bo@acme.test:{}", i + 1)],
            "{name}"
        );
    }
    let got = expect(bo.get("/me/mail").await, StatusCode::OK).await;
    assert_eq!(got["bouncing"], "bo@acme.test");
    // A report from a non-null sender to a bounce address is read too.
    raw.send(
        "postmaster@acme.test",
        &[&bounce],
        &report("dsn_gmail.dsn", &bounce),
    )
    .await
    .clear(250, "2.0.0");
    assert_eq!(
        bounce_count(&owner).await,
        vec!["bo@acme.test:4".to_owned()]
    );
    owner.post_item(json!({"body": "Again @bo"})).await;
    mail_settled(&owner).await;
    assert_eq!(
        sink.received().len(),
        1,
        "no more mail to a bouncing address"
    );
}

async fn domain_signup_by_mailed_link(b: Backend) {
    let sink = Sink::start().await;
    let (owner, _bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    let s = expect(
        owner
            .patch("/admin/settings", json!({"signup_domains": "acme.test"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["signup_domains_in_effect"], true, "{s}");
    let anon = owner.browser();
    let login = anon.page("/login").await.text().await.unwrap();
    assert!(login.contains("href=\"/signup\""), "{login}");
    // Only the allowed domains; the form asks for the address alone.
    let res = anon
        .post("/signup", json!({"email": "out@elsewhere.test"}))
        .await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("acme.test"), "{p}");
    let res = anon
        .post(
            "/signup",
            json!({"email": "newbie@acme.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field"
    );
    // The same answer for a new address, a member's and an invited one.
    let token = owner.invite("dana@acme.test", "member").await;
    mail_settled(&owner).await;
    sink.clear();
    let mut pages = Vec::new();
    for email in ["newbie@acme.test", "bo@acme.test", "dana@acme.test"] {
        let res = form(&anon, "/signup", &[("email", email)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        pages.push(res.text().await.unwrap().replace(email, "ADDRESS"));
    }
    assert!(
        pages[0].contains("We sent a link to ADDRESS"),
        "{}",
        pages[0]
    );
    assert!(
        pages.iter().all(|p| *p == pages[0]),
        "no account enumeration"
    );
    mail_settled(&owner).await;
    let got = sink.received();
    assert_eq!(got.len(), 3);
    let to = |who: &str| {
        got.iter()
            .find(|m| m.rcpt == vec![who.to_owned()])
            .unwrap_or_else(|| panic!("a mail to {who}"))
            .text()
    };
    let bo_mail = to("bo@acme.test");
    assert!(bo_mail.contains("already has an account"), "{bo_mail}");
    assert!(bo_mail.contains("/password/forgot") && !bo_mail.contains("/signup/"));
    let t = token_of(&link(&to("newbie@acme.test"), &format!("{BASE}/signup/")));
    // The link opens the join form; the account gets the verified address.
    let page = anon.page(&format!("/signup/{t}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("newbie@acme.test"));
    let mut newbie = owner.browser();
    let res = form(
        &newbie,
        &format!("/signup/{t}"),
        &[
            ("display_name", "New Person"),
            ("handle", "newbie"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = form(
        &newbie,
        &format!("/signup/{t}"),
        &[
            ("display_name", "New Person"),
            ("handle", "newbie"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let me = expect(newbie.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["handle"], "newbie");
    assert_eq!(me["role"], "member");
    newbie.csrf = None;
    let a = expect(newbie.get("/me/email").await, StatusCode::OK).await;
    assert_eq!(a["email"], "newbie@acme.test");
    assert_eq!(a["verified"], true);
    assert_eq!(
        anon.page(&format!("/signup/{t}")).await.status(),
        StatusCode::GONE,
        "once"
    );
    // Through the API, for the invited address; the invitation then finds
    // the address taken.
    let td = token_of(&link(&to("dana@acme.test"), &format!("{BASE}/signup/")));
    let res = anon
        .post(
            "/signup/complete",
            json!({"token": td, "handle": "dana", "display_name": "Dana", "password": PASSWORD}),
        )
        .await;
    let body = expect(res, StatusCode::CREATED).await;
    assert_eq!(body["member"]["handle"], "dana");
    let res = owner
        .browser()
        .post(
            &format!("/invitations/{token}/accept"),
            json!({"handle": "dana2", "display_name": "Dana", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // At most three links an hour to one address; the answer stays the same.
    sink.clear();
    for _ in 0..4 {
        let res = anon.post("/signup", json!({"email": "rl@acme.test"})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 3);
}
