//! Mail out: the relay (built from `mail_relay`: Chorus's own pooled
//! connections for `smtp://`, see [`pool`], lettre's pooled transport for
//! `smtps://`) and the `mail` job that renders one mail (`service::mail`)
//! and hands it to the relay.
//!
//! A mail the relay refuses for now (4xx, the relay unreachable) is a
//! failed attempt, tried again with the queue's backoff for about a day; one it refuses for good (5xx) ends the
//! job and counts a bounce of the address. Without a relay nothing is
//! enqueued and the `mail` kind is not run: jobs left from before wait.

mod pool;

use std::sync::Arc;
use std::time::Duration;

use domain::mail::BounceAddress;
use lettre::address::{Address, Envelope};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Settings;
use crate::jobs::{Context, Outcome, Registry};
use crate::service::digest;
use crate::service::mail::{self as svc, MailJob, Outgoing};

/// The job kind.
pub const MAIL: &str = crate::service::mail::MAIL_JOB;

/// How long connecting to the relay may take before the attempt fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one mail's whole conversation may take before the attempt
/// fails (and is tried again).
const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// Where mail goes.
pub enum Relay {
    /// `smtp://`: plain, or STARTTLS when the relay offers it.
    Own(Arc<pool::Pool>),
    /// `smtps://`: TLS from the start, lettre's own connections (without
    /// `TCP_NODELAY`, so each mail waits ~40 ms for the relay's delayed
    /// ACK; lettre's next release sets it).
    Tls(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Relay::Own(_) => "Relay::Own",
            Relay::Tls(_) => "Relay::Tls",
        })
    }
}

/// Why the relay did not take a mail.
#[derive(Debug)]
pub enum SendError {
    /// The relay answered no (4xx for now, 5xx for good) or broke off.
    Smtp(lettre::transport::smtp::Error),
    Connect(std::io::Error),
    TimedOut,
}

impl SendError {
    /// A 5xx: trying again would get the same answer.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp(e) if e.is_permanent())
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Smtp(e) => e.fmt(f),
            SendError::Connect(e) => write!(f, "could not connect to the relay: {e}"),
            SendError::TimedOut => write!(f, "the relay did not answer in time"),
        }
    }
}

impl Relay {
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        let sending = async {
            match self {
                Relay::Own(pool) => pool.send(message.envelope(), &message.formatted()).await,
                Relay::Tls(t) => t.send(message).await.map(|_| ()).map_err(SendError::Smtp),
            }
        };
        tokio::time::timeout(SEND_TIMEOUT, sending)
            .await
            .unwrap_or(Err(SendError::TimedOut))
    }
}

/// The relay `mail_relay` names, or None when it is unset:
/// `smtp://host[:port]` (STARTTLS when the relay offers it, else plain)
/// or `smtps://user:password@host[:port]` (TLS from the start).
pub fn transport(settings: &Settings) -> anyhow::Result<Option<Relay>> {
    let Some(relay) = settings.mail_relay.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if relay.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        anyhow::anyhow!(
            "mail_relay {:?} {why}: write smtp://host:port, or smtps://user:password@host:port \
             for a relay that takes TLS from the start",
            redact(relay)
        )
    };
    let from = settings.mail_from();
    from.parse::<Mailbox>().map_err(|e| {
        anyhow::anyhow!(
            "mail_from {from:?} is not a mail address ({e}): write chorus@example.com or \
             \"Chorus <chorus@example.com>\""
        )
    })?;
    let url = url::Url::parse(relay).map_err(|e| bad(&e.to_string()))?;
    let host = url.host_str().ok_or_else(|| bad("has no host"))?.to_owned();
    let hello = ClientId::Domain(settings.mail_domain());
    match url.scheme() {
        "smtp" => {
            let tls = TlsParameters::new(host.clone()).map_err(|e| bad(&e.to_string()))?;
            let credentials = (!url.username().is_empty()).then(|| credentials(&url));
            Ok(Some(Relay::Own(pool::Pool::new(
                (host, url.port().unwrap_or(25)),
                hello,
                tls,
                credentials,
            ))))
        }
        "smtps" => Ok(Some(Relay::Tls(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(relay)
                .map_err(|e| bad(&e.to_string()))?
                .hello_name(hello)
                .timeout(Some(SMTP_TIMEOUT))
                // Room for a list mail's sends at once
                // (`mail::list::AT_ONCE`) beside the other mail jobs.
                .pool_config(PoolConfig::new().max_size(32))
                .build(),
        ))),
        other => Err(bad(&format!("has the scheme {other:?}"))),
    }
}

fn credentials(url: &url::Url) -> lettre::transport::smtp::authentication::Credentials {
    let decode = percent_decode;
    lettre::transport::smtp::authentication::Credentials::new(
        decode(url.username()),
        decode(url.password().unwrap_or("")),
    )
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The relay URL without its password, for errors and logs.
pub fn redact(relay: &str) -> String {
    match url::Url::parse(relay) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => relay.to_owned(),
        // Unreadable: whatever stands before an `@` may be a password.
        Err(_) => match (relay.split_once("://"), relay.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
            _ => relay.to_owned(),
        },
    }
}

/// Runs `mail` jobs through `transport`, and the periodic `digests` job
/// that enqueues the daily digests.
pub fn register(r: &mut Registry, transport: Relay) {
    r.periodic(digest::DIGESTS, digest::EVERY, |ctx: Context| async move {
        digest::run_digests(&ctx.app, ctx.app.now()).await?;
        Ok(Outcome::Done)
    });
    let transport = Arc::new(transport);
    super::list::register(r, transport.clone());
    r.register(MAIL, move |ctx: Context, job: MailJob| {
        let transport = transport.clone();
        async move { send(ctx, job, &transport).await }
    });
}

async fn send(ctx: Context, job: MailJob, transport: &Relay) -> anyhow::Result<Outcome> {
    let app = &ctx.app;
    let out = match &job {
        MailJob::Notification {
            member,
            activity,
            reason,
        } => svc::notification_mail(app, *member, *activity, reason).await?,
        MailJob::Invitation { invitation } => svc::invitation_mail(app, *invitation).await?,
        MailJob::Link { link } => crate::service::addresses::link_mail(app, *link).await?,
        MailJob::List {
            member,
            space,
            item,
            comment,
        } => {
            return super::list::send_one(app, transport, *member, (*space, *item, *comment)).await;
        }
        MailJob::Digest {
            member,
            day,
            since,
            until,
        } => crate::service::digest::digest_mail(app, *member, day, (*since, *until)).await?,
    };
    let Some(out) = out else {
        return Ok(Outcome::Done);
    };
    let key = svc::key(app).await?;
    let message = message(app, &out, &key)?;
    match transport.send(message).await {
        Ok(()) => Ok(Outcome::Done),
        Err(e) if e.is_permanent() => {
            let n = svc::bounced(app, &out.to, &e.to_string()).await?;
            tracing::warn!(to = %out.to, bounces = n, error = %e, "the relay refused a mail for good");
            Ok(Outcome::Done)
        }
        Err(e) => Err(anyhow::anyhow!(
            "the relay did not take the mail to {} (tried again later): {e}",
            out.to
        )),
    }
}

/// The mail as sent: multipart/alternative, the plain text and the HTML
/// both from the one markdown.
pub fn message(
    ctx: &crate::context::Ctx,
    out: &Outgoing,
    key: &domain::mail::MailKey,
) -> anyhow::Result<Message> {
    let from: Mailbox = ctx.settings.mail_from().parse().map_err(|e| {
        anyhow::anyhow!(
            "mail_from {:?} is not an address: {e}",
            ctx.settings.mail_from()
        )
    })?;
    let to_address = out
        .to
        .parse()
        .map_err(|e| anyhow::anyhow!("{:?} is not an address: {e}", out.to))?;
    let to = Mailbox::new(
        (!out.to_name.is_empty()).then(|| out.to_name.clone()),
        to_address,
    );
    // The envelope sender is a signed bounce address (VERP), so a bounce
    // names the address it is about; the From header stays `mail_from`.
    let bounce = out.bounce.and_then(|b| {
        BounceAddress::address(key, b, &out.to, &ctx.settings.mail_domain())
            .parse::<Address>()
            .ok()
    });
    let envelope = Envelope::new(
        Some(bounce.unwrap_or_else(|| from.email.clone())),
        vec![to.email.clone()],
    )?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(out.subject.clone())
        .message_id(Some(format!("<{}>", out.message_id)))
        .envelope(envelope)
        .date_now();
    if let Some(t) = &out.in_reply_to {
        b = b.in_reply_to(format!("<{t}>")).references(format!("<{t}>"));
    }
    if let Some(r) = &out.reply_to {
        b = b.reply_to(
            r.parse()
                .map_err(|e| anyhow::anyhow!("reply address {r:?}: {e}"))?,
        );
    }
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    // Chorus's own mail, should it come back to the listener, never posts
    // (`domain::mail_in::automatic`).
    let what = if out.auto {
        "notification"
    } else {
        "invitation"
    };
    b = b.raw_header(raw("X-Chorus-Mail", what.into()));
    if out.auto {
        b = b.raw_header(raw("Auto-Submitted", "auto-generated".into()));
    }
    if let Some(u) = &out.unsubscribe {
        b = b
            .raw_header(raw("List-Unsubscribe", format!("<{u}>")))
            .raw_header(raw(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let text = domain::markdown::plain_text(&out.markdown);
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body>\n{}</body></html>\n",
        html_escape(&out.subject),
        domain::markdown::render(&out.markdown)
    );
    Ok(b.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html),
            ),
    )?)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_relay(relay: Option<&str>) -> Settings {
        Settings {
            mail_relay: relay.map(str::to_owned),
            base_url: Some("https://chorus.example.com".into()),
            ..Settings::default()
        }
    }

    #[tokio::test]
    async fn relays_are_read_or_refused_with_a_sentence() {
        assert!(transport(&with_relay(None)).unwrap().is_none());
        assert!(transport(&with_relay(Some("  "))).unwrap().is_none());
        assert!(
            transport(&with_relay(Some("smtp://127.0.0.1:2525")))
                .unwrap()
                .is_some()
        );
        assert!(
            transport(&with_relay(Some("smtps://ana:p%40ss@smtp.example.com:465")))
                .unwrap()
                .is_some()
        );
        for bad in ["http://smtp.example.com", "smtp://", "smtp.example.com:25"] {
            let e = transport(&with_relay(Some(bad))).unwrap_err().to_string();
            assert!(e.contains("smtp://host:port"), "{bad}: {e}");
        }
        let e = transport(&with_relay(Some("smtps://ana:secret@[::1")))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "the password stays out: {e}");
        let mut s = with_relay(Some("smtp://127.0.0.1:2525"));
        s.mail_from = Some("not an address".into());
        assert!(transport(&s).unwrap_err().to_string().contains("mail_from"));
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decode("p%40ss"), "p@ss");
        assert_eq!(
            redact("smtps://ana:secret@smtp.example.com:465"),
            "smtps://ana:***@smtp.example.com:465"
        );
    }
}
