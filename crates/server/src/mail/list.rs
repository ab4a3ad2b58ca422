//! The `list_mail` job: one item's or comment's mail to everyone in list
//! mode in its space (`service::lists`).
//!
//! The mail's body is rendered once; each recipient gets their own
//! headers (reply address, one-click unsubscribe). Members are walked in
//! member order, [`BATCH`] at a time, sent [`AT_ONCE`] at a time over the
//! pooled relay; after each batch the last member is saved as the
//! job's progress, with a `mail` job of their own for each recipient the
//! relay turned away for now (4xx, relay down), retried as any mail is. A
//! 5xx counts a bounce. A crash mid-batch sends that batch again on the
//! next attempt, at most: the mails keep their Message-ID, so a mail
//! program shows one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::out::Relay;
use crate::context::Ctx;
use crate::jobs::{Context, Outcome, Registry};
use crate::service::lists::{self as svc, BATCH, ListMail, ListMailJob, ListRecipient};
use crate::service::mail as mail_svc;

/// The job kind.
pub const LIST_MAIL: &str = svc::LIST_MAIL_JOB;

/// Mails handed to the relay at once.
pub const AT_ONCE: usize = 24;

pub fn register(r: &mut Registry, transport: Arc<Relay>) {
    r.register(LIST_MAIL, move |ctx: Context, job: ListMailJob| {
        let transport = transport.clone();
        async move { run(ctx, job, &transport).await }
    });
}

/// How one send ended.
enum Sent {
    Ok,
    /// Turned away for now: a `mail` job of its own tries again.
    Later(ListRecipient),
    Bounced(ListRecipient, String),
}

async fn run(ctx: Context, mut job: ListMailJob, transport: &Relay) -> anyhow::Result<Outcome> {
    let app = &ctx.app;
    let Some(mail) = svc::list_mail(app, job.space, job.item, job.comment).await? else {
        return Ok(Outcome::Done);
    };
    loop {
        let batch = svc::next_batch(app, job.space, job.after_member).await?;
        let Some(last) = batch.last().map(|m| m.id.get()) else {
            return Ok(Outcome::Done);
        };
        let to = svc::recipients(app, &mail, &batch).await?;
        let results: Vec<Sent> = futures_util::stream::iter(to)
            .map(|r| send(app, transport, &mail, r))
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        let (mut later, mut bounced) = (Vec::new(), Vec::new());
        for r in results {
            match r {
                Sent::Ok => {}
                Sent::Later(r) => later.push(r.member),
                Sent::Bounced(r, error) => bounced.push((r.email, error)),
            }
        }
        let mut tx = app.db.write().await?;
        svc::settle_batch(app, &mut tx, &job, &later, &bounced).await?;
        job.after_member = last;
        ctx.save_progress(&mut tx, &job).await?;
        tx.commit().await?;
        if (batch.len() as i64) < BATCH {
            return Ok(Outcome::Done);
        }
        if ctx.stopping() {
            return Ok(Outcome::Again(Duration::ZERO));
        }
    }
}

async fn send(ctx: &Ctx, transport: &Relay, mail: &ListMail, r: ListRecipient) -> Sent {
    let message = match message(ctx, mail, &r) {
        Ok(m) => m,
        Err(e) => {
            // An address lettre cannot write: nothing to retry.
            tracing::warn!(to = %r.email, error = %e, "a list mail could not be written");
            return Sent::Ok;
        }
    };
    match transport.send(message).await {
        Ok(()) => Sent::Ok,
        Err(e) if e.is_permanent() => Sent::Bounced(r, e.to_string()),
        Err(e) => {
            tracing::info!(to = %r.email, error = %e, "the relay did not take a list mail; tried again later");
            Sent::Later(r)
        }
    }
}

/// A `mail` job's retry of one list mail to one member.
pub async fn send_one(
    ctx: &Ctx,
    transport: &Relay,
    member: domain::MemberId,
    (space, item, comment): (domain::SpaceId, domain::ItemId, Option<domain::CommentId>),
) -> anyhow::Result<Outcome> {
    let Some(mail) = svc::list_mail(ctx, space, item, comment).await? else {
        return Ok(Outcome::Done);
    };
    let Some(r) = svc::recipient(ctx, &mail, member).await? else {
        return Ok(Outcome::Done);
    };
    let to = r.email.clone();
    match send(ctx, transport, &mail, r).await {
        Sent::Ok => Ok(Outcome::Done),
        Sent::Bounced(_, error) => {
            mail_svc::bounced(ctx, &to, &error).await?;
            Ok(Outcome::Done)
        }
        Sent::Later(_) => Err(anyhow::anyhow!(
            "the relay did not take the list mail to {to} (tried again later)"
        )),
    }
}

/// One recipient's copy: the shared body, their own headers.
pub fn message(ctx: &Ctx, mail: &ListMail, r: &ListRecipient) -> anyhow::Result<Message> {
    let from: Mailbox = ctx.settings.mail_from().parse()?;
    let from = Mailbox::new(Some(mail.from_name.clone()), from.email);
    let to = Mailbox::new(
        (!r.name.is_empty()).then(|| r.name.clone()),
        r.email
            .parse()
            .map_err(|e| anyhow::anyhow!("{:?} is not an address: {e}", r.email))?,
    );
    let envelope = lettre::address::Envelope::new(
        Some(
            r.bounce
                .parse()
                .map_err(|e| anyhow::anyhow!("bounce address {:?}: {e}", r.bounce))?,
        ),
        vec![to.email.clone()],
    )?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}>", mail.message_id)))
        .envelope(envelope)
        .reply_to(r.reply_to.parse()?)
        .date_now();
    if let Some(t) = &mail.in_reply_to {
        b = b.in_reply_to(format!("<{t}>")).references(format!("<{t}>"));
    }
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    b = b
        .raw_header(raw("X-Chorus-Mail", "list".into()))
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw("Precedence", "list".into()))
        .raw_header(raw("List-Id", mail.list_id.clone()))
        .raw_header(raw("List-Archive", format!("<{}>", mail.list_archive)))
        .raw_header(raw("List-Unsubscribe", format!("<{}>", r.unsubscribe)))
        .raw_header(raw(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ));
    if let Some(p) = &mail.list_post {
        b = b.raw_header(raw("List-Post", format!("<mailto:{p}>")));
    }
    Ok(b.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(mail.html.clone()),
            ),
    )?)
}
