//! List mode: every new item and comment of a space by mail, with the
//! headers a mail client needs to treat it as a list; replies by mail
//! come back as comments; one click turns it off without a session.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, expect, expect_problem};
use crate::mail::{Sink, answer_as_bo, mail_settled, mailing_app};

backend_tests!(
    ana_posts_bo_gets_it_replies_and_unsubscribes,
    list_mode_only_where_one_may_read,
);

const DOMAIN: &str = "lists.chorus.test";
const BASE: &str = "http://chorus.test";

fn header(p: &mail_parser::Message<'_>, name: &str) -> Option<String> {
    p.header_raw(name).map(|v| v.trim().to_owned())
}

/// The acceptance scenario: Ana's space `launch` has list mode on for Bo;
/// Ana posts from the page; Bo gets the mail as a list's; he replies from
/// his mail program; the reply is a comment, live in Ana's page, and Ana's
/// mail about it threads under the post. Then one click stops Bo's list
/// mail.
async fn ana_posts_bo_gets_it_replies_and_unsubscribes(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    let ana = owner.new_member("ana", "member").await;
    mail_settled(&owner).await;
    sink.clear();
    ana.create_space(json!({"name": "Launch", "visibility": "closed"}))
        .await;
    ana.add_to_space("launch", "bo").await;
    // Ana wants mail at once when someone replies to her.
    expect(
        ana.put("/me/mail", json!({"choices": {"reply": "now"}}))
            .await,
        StatusCode::OK,
    )
    .await;

    // Bo turns list mode on from the space's page.
    let page = bo.page("/spaces/launch").await.text().await.unwrap();
    assert!(page.contains("Get every post by mail"), "{page}");
    let res = bo
        .client
        .post(bo.url("/spaces/launch/mail"))
        .form(&[
            ("csrf", bo.csrf.clone().unwrap()),
            ("list_mode", "on".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = bo.page("/spaces/launch").await.text().await.unwrap();
    assert!(page.contains("id=\"list-mode-on\""), "{page}");
    let got = expect(bo.get("/spaces/launch/mail").await, StatusCode::OK).await;
    assert_eq!(got["list_mode"], true);
    let settings = bo.page("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("<a href=\"/spaces/launch\">Launch</a>"),
        "{settings}"
    );

    // Ana posts from the page's composer.
    let res = ana
        .client
        .post(ana.url("/items"))
        .form(&[
            ("csrf", ana.csrf.clone().unwrap()),
            ("back", "/spaces/launch".into()),
            ("target", "space:launch".into()),
            ("title", "Launch plan".into()),
            ("body", "We ship on **Monday**.".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = sink.next_to("bo@acme.test", 0).await;
    let p = m.parsed();
    let item_mid = p.message_id().unwrap().to_owned();
    let item: String = item_mid
        .strip_prefix("chorus.item.")
        .and_then(|r| r.strip_suffix(&format!("@{DOMAIN}")))
        .expect("an item's Message-ID")
        .to_owned();
    assert_eq!(p.subject(), Some("Launch plan"));
    let from = p.from().and_then(|f| f.first()).unwrap();
    assert_eq!(from.name(), Some("ana Person (Chorus)"));
    assert_eq!(from.address(), Some("chorus@chorus.test"));
    assert_eq!(
        header(&p, "List-Id").as_deref(),
        Some(format!("Launch <launch.{DOMAIN}>").as_str())
    );
    assert_eq!(
        header(&p, "List-Post").as_deref(),
        Some(format!("<mailto:launch@{DOMAIN}>").as_str())
    );
    assert_eq!(
        header(&p, "List-Archive").as_deref(),
        Some(format!("<{BASE}/spaces/launch>").as_str())
    );
    assert_eq!(header(&p, "Precedence").as_deref(), Some("list"));
    // The envelope sender is Bo's own signed bounce address (VERP).
    assert!(
        m.from.starts_with("bounce+m") && m.from.ends_with(&format!("@{DOMAIN}")),
        "{}",
        m.from
    );
    assert_eq!(
        header(&p, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        header(&p, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = header(&p, "List-Unsubscribe").unwrap();
    let unsubscribe = unsubscribe
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(unsubscribe.starts_with(&format!("{BASE}/mail/unsubscribe/")));
    let text = m.text();
    assert!(text.contains("We ship on Monday."), "{text}");
    assert!(text.contains(&format!("{BASE}/items/{item}")), "{text}");
    assert!(text.contains("list mode"), "{text}");
    assert!(m.html().contains("<strong>Monday</strong>"), "{}", m.html());
    let reply_to = p
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_owned();
    assert!(reply_to.starts_with("reply+"), "{reply_to}");

    // Ana's page listens; Bo answers from his mail program.
    let mut live = ana.sse(&format!("/items/{item}/events"), None).await;
    answer_as_bo(
        &owner,
        &reply_to,
        &item_mid,
        "Monday works.\n\nOn Mon, ana Person wrote:\n> We ship on Monday.\n",
    )
    .await;
    let comments = expect(
        ana.get(&format!("/items/{item}/comments")).await,
        StatusCode::OK,
    )
    .await;
    let c = &comments["items"][0];
    assert_eq!(c["author"]["handle"], "bo");
    assert_eq!(c["body"], "Monday works.", "the quote is trimmed");
    let cid = c["id"].as_str().unwrap().to_owned();
    let mut seen_live = false;
    while let Some(ev) = live.next(Duration::from_secs(5)).await {
        if ev.data.to_string().contains("Monday works.") {
            seen_live = true;
            break;
        }
    }
    assert!(seen_live, "the comment arrives live in Ana's page");

    // Ana's mail about it threads under her post, as a mail program
    // threads: its In-Reply-To and References name the post's Message-ID.
    let m = sink.next_to("ana@acme.test", 1).await;
    let p = m.parsed();
    assert_eq!(
        p.message_id(),
        Some(format!("chorus.comment.{cid}@{DOMAIN}").as_str())
    );
    assert_eq!(p.in_reply_to().as_text(), Some(item_mid.as_str()));
    assert_eq!(p.references().as_text(), Some(item_mid.as_str()));
    assert_eq!(p.subject(), Some("Re: Launch plan"));
    mail_settled(&owner).await;
    assert_eq!(
        sink.received().len(),
        2,
        "Bo gets no list mail of his own comment"
    );

    // Ana comments: Bo's list mail of it threads under the post too.
    let c2 = ana.comment(&item, "Great, see you then.").await;
    let m = sink.next_to("bo@acme.test", 2).await;
    let p = m.parsed();
    assert_eq!(
        p.message_id(),
        Some(format!("chorus.comment.{}@{DOMAIN}", c2["id"].as_str().unwrap()).as_str())
    );
    assert_eq!(p.in_reply_to().as_text(), Some(item_mid.as_str()));
    assert_eq!(header(&p, "Precedence").as_deref(), Some("list"));

    // One click, no session: Bo's list mode is off; the next post is not
    // mailed to him.
    let path = unsubscribe.trim_start_matches(BASE);
    let stranger = reqwest::Client::new();
    let res = stranger
        .post(owner.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("no longer mails you every post and comment in Launch"),
        "{body}"
    );
    let got = expect(bo.get("/spaces/launch/mail").await, StatusCode::OK).await;
    assert_eq!(got["list_mode"], false);
    ana.post_item(json!({"space": "launch", "title": "After", "body": "Anyone?"}))
        .await;
    mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 3, "nothing more to Bo");
}

/// List mode only for who may read a space's content; strict input.
async fn list_mode_only_where_one_may_read(b: Backend) {
    let sink = Sink::start().await;
    let (owner, bo) = mailing_app(b, sink.relay(), Some(&sink)).await;
    owner
        .create_space(json!({"name": "Board", "visibility": "closed"}))
        .await;
    owner
        .create_space(json!({"name": "Hush", "visibility": "secret"}))
        .await;
    owner
        .create_space(json!({"name": "Town", "visibility": "open"}))
        .await;
    expect_problem(
        bo.put("/spaces/board/mail", json!({"list_mode": true}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        bo.put("/spaces/hush/mail", json!({"list_mode": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        bo.put("/spaces/town/mail", json!({"list_mode": true, "often": 1}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    let got = expect(bo.get("/spaces/town/mail").await, StatusCode::OK).await;
    assert_eq!(got["list_mode"], false, "bad input changed nothing");
    // An open space: any member may, without joining.
    let got = expect(
        bo.put("/spaces/town/mail", json!({"list_mode": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(got["list_mode"], true);
    owner
        .post_item(json!({"space": "town", "body": "Hello town"}))
        .await;
    let m = sink.next_to("bo@acme.test", 0).await;
    assert!(m.text().contains("Hello town"), "{}", m.text());
    // Leaving a closed space ends list mode there.
    owner.add_to_space("board", "bo").await;
    expect(
        bo.put("/spaces/board/mail", json!({"list_mode": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        bo.post("/spaces/board/leave", json!({})).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    owner
        .post_item(json!({"space": "board", "body": "Board only"}))
        .await;
    mail_settled(&owner).await;
    assert_eq!(sink.received().len(), 1, "nothing from the closed space");

    // A request in the space is one of its items: it comes by list mail,
    // linking to the request's page.
    owner.new_member("cy", "member").await;
    mail_settled(&owner).await;
    sink.clear();
    expect(
        owner
            .post(
                "/requests",
                json!({"to": ["cy"], "space": "town", "title": "Order the banners"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    mail_settled(&owner).await;
    let to_bo: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.rcpt == vec!["bo@acme.test".to_owned()])
        .collect();
    assert_eq!(to_bo.len(), 1, "one list mail of the request");
    assert_eq!(to_bo[0].parsed().subject(), Some("Order the banners"));
    assert!(
        to_bo[0].text().contains("/requests/"),
        "{}",
        to_bo[0].text()
    );
}
