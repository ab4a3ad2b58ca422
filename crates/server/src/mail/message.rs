//! A message off the wire, read with mail-parser: its From address, whether
//! a program sent it, and what a post or comment takes from it.
//!
//! The text is the first text part; HTML-only mail is read as text by
//! html2text in its raw mode (no table layout, whose time explodes with
//! nesting; links kept as numbered references, quotes as `>` lines, so
//! reply trimming sees them), which reads HTML with the same html5ever as
//! ammonia. A body of more than 10,000 tags just loses its tags.
//! Attachments are named, not kept.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

use crate::service::mail_in::Inbound;

/// What the listener needs of a message.
#[derive(Debug)]
pub struct Read {
    /// The address of the From header.
    pub from: Option<String>,
    /// Why the message is automatic and never posts, if it is.
    pub automatic: Option<&'static str>,
    pub inbound: Inbound,
}

/// Why a message cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    Empty,
    NotMail,
}

/// The longest line html2text wraps at: mail text is not wrapped again.
const WIDTH: usize = 10_000;
/// The most tags an HTML body may have to be read by html2text.
const MAX_HTML_TAGS: usize = 10_000;

/// Reads `raw` (the DATA, dot-unstuffed) as sent with `null_sender` (`MAIL
/// FROM:<>`), for a server whose addresses are at `mail_domain` and
/// whose mail comes from `mail_from`.
pub fn read(
    raw: &[u8],
    null_sender: bool,
    mail_domain: &str,
    mail_from: &str,
) -> Result<Read, Unreadable> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Unreadable::Empty);
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(Unreadable::NotMail)?;
    // A message must have at least a header mail-parser recognises; text
    // with no header at all is not mail.
    if msg.headers().is_empty() {
        return Err(Unreadable::NotMail);
    }
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_owned());
    let chorus_header = msg
        .headers()
        .iter()
        .any(|h| h.name().to_ascii_lowercase().starts_with("x-chorus"));
    let automatic = domain::mail_in::automatic(
        &domain::mail_in::Envelope {
            null_sender,
            auto_submitted: msg.header_raw("Auto-Submitted"),
            precedence: msg.header_raw("Precedence"),
            message_id: msg.message_id(),
            chorus_header,
            from: from.as_deref(),
        },
        mail_domain,
        mail_from,
    );
    Ok(Read {
        from,
        automatic,
        inbound: inbound(&msg),
    })
}

/// What a post or comment takes from a parsed message.
fn inbound(msg: &mail_parser::Message<'_>) -> Inbound {
    let text = match msg.text_part(0) {
        Some(p) if p.is_text_html() => html_text(p.text_contents().unwrap_or("")),
        Some(p) => p.text_contents().unwrap_or("").to_owned(),
        None => match msg.html_part(0) {
            Some(p) => html_text(p.text_contents().unwrap_or("")),
            None => String::new(),
        },
    };
    let attachments = msg
        .attachments()
        .map(|a| {
            a.attachment_name()
                .map(str::to_owned)
                .unwrap_or_else(|| "unnamed attachment".into())
        })
        .collect();
    let mut answers = ids(msg.in_reply_to());
    answers.extend(ids(msg.references()).into_iter().rev());
    Inbound {
        subject: msg.subject().unwrap_or("").to_owned(),
        text: text.replace("\r\n", "\n"),
        attachments,
        answers,
    }
}

/// A message of an archive (`chorus import mbox`): who sent it, when,
/// its Message-ID, and what a post or comment takes from it.
#[derive(Debug)]
pub struct Archived {
    pub message_id: Option<String>,
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    /// The Date header, in microseconds since the epoch.
    pub date: Option<i64>,
    pub inbound: Inbound,
}

/// Reads a message of an archive (`raw` as stored, ">From " unquoted);
/// `headers_only` skips the body (the importer's first pass).
pub fn archived(raw: &[u8], headers_only: bool) -> Result<Archived, Unreadable> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Unreadable::Empty);
    }
    let parser = MessageParser::default();
    let msg = if headers_only {
        parser.parse_headers(raw)
    } else {
        parser.parse(raw)
    }
    .ok_or(Unreadable::NotMail)?;
    if msg.headers().is_empty() {
        return Err(Unreadable::NotMail);
    }
    let from = msg.from().and_then(|a| a.first());
    let inbound = if headers_only {
        let mut answers = ids(msg.in_reply_to());
        answers.extend(ids(msg.references()).into_iter().rev());
        Inbound {
            subject: msg.subject().unwrap_or("").to_owned(),
            answers,
            ..Inbound::default()
        }
    } else {
        inbound(&msg)
    };
    Ok(Archived {
        message_id: msg
            .message_id()
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty()),
        from_name: from
            .and_then(|a| a.name())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        from_address: from
            .and_then(|a| a.address())
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty()),
        date: msg
            .date()
            .map(|d| d.to_timestamp().saturating_mul(1_000_000)),
        inbound,
    })
}

/// The Message-IDs of an `In-Reply-To` or `References` header.
fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// HTML read as text (markdown-like: the text Chorus renders again).
fn html_text(html: &str) -> String {
    // html2text's time grows with the square of the nesting depth: past
    // this many tags (ten times a long newsletter) only the tags go.
    if html.matches('<').count() > MAX_HTML_TAGS {
        return strip_tags(html);
    }
    html2text::config::plain()
        .raw_mode(true)
        .string_from_read(html.as_bytes(), WIDTH)
        // HTML html2text gives up on still has its words.
        .unwrap_or_else(|_| strip_tags(html))
}

/// The text between the tags.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The `message/delivery-status` part of a delivery report
/// (multipart/report, RFC 3464), as text; None when there is none.
pub fn delivery_status(raw: &[u8]) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    msg.parts.iter().find_map(|p| {
        let ct = p.content_type()?;
        (ct.ctype().eq_ignore_ascii_case("message")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status")))
        .then(|| String::from_utf8_lossy(p.contents()).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_ok(raw: &str) -> Read {
        read(raw.as_bytes(), false, "acme.test", "chorus@acme.test").unwrap()
    }

    #[test]
    fn text_html_and_attachments() {
        let r = read_ok(
            "From: Bo <bo@acme.test>\r\nSubject: Hi\r\nIn-Reply-To: <chorus.item.3@acme.test>\r\nReferences: <a@x> <chorus.item.3@acme.test>\r\n\r\nHello there\r\n",
        );
        assert_eq!(r.from.as_deref(), Some("bo@acme.test"));
        assert_eq!(r.inbound.subject, "Hi");
        assert_eq!(r.inbound.text, "Hello there\n");
        assert_eq!(
            r.inbound.answers,
            ["chorus.item.3@acme.test", "chorus.item.3@acme.test", "a@x"]
        );
        assert!(r.automatic.is_none());
        let html = read_ok(
            "From: bo@acme.test\r\nSubject: H\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>world</b></p><blockquote>old</blockquote>",
        );
        assert!(
            html.inbound.text.contains("Hello"),
            "{:?}",
            html.inbound.text
        );
        assert!(!html.inbound.text.contains('<'), "{:?}", html.inbound.text);
        let att = read_ok(concat!(
            "From: bo@acme.test\r\nSubject: A\r\nMIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n",
            "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"plan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n",
            "--b--\r\n"
        ));
        assert_eq!(att.inbound.text.trim(), "See attached.");
        assert_eq!(att.inbound.attachments, ["plan.pdf"]);
    }

    #[test]
    fn unreadable_messages_are_named() {
        let r = |s: &str| read(s.as_bytes(), false, "acme.test", "chorus@acme.test").err();
        assert_eq!(r(""), Some(Unreadable::Empty));
        assert_eq!(r("\r\n\r\n"), Some(Unreadable::Empty));
    }
}
