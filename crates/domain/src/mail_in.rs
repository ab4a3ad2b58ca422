//! Reading mail that comes in: which mail is automatic and never posts,
//! and what of a reply is the person's own words.
//!
//! No crate for trimming replies is both small and kept up (the Rust port
//! of GitHub's `email_reply_parser` is a single early release over two
//! regex engines), so the trimmer is here: line by line, it drops quoted
//! lines (`>`), and stops at the first attribution line ("On … wrote:" and
//! its wrapped or translated forms), an Outlook header block or separator,
//! a signature delimiter (`-- `) or a "Sent from my …" line.

use crate::mail::parse_message_id;

/// The headers of a mail that tell whether a program sent it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Envelope<'a> {
    /// `MAIL FROM:<>`: a bounce or another delivery report.
    pub null_sender: bool,
    pub auto_submitted: Option<&'a str>,
    pub precedence: Option<&'a str>,
    pub message_id: Option<&'a str>,
    /// Whether a header of Chorus's own (`X-Chorus-…`) is present.
    pub chorus_header: bool,
    /// The address of the From header.
    pub from: Option<&'a str>,
}

/// Why a mail is automatic and must neither post nor be answered, or
/// `None` for a mail a person sent. Answering an automatic mail (an
/// out-of-office reply, a bounce, another list's copy) is how two
/// programs mail each other forever.
pub fn automatic(e: &Envelope<'_>, mail_domain: &str, mail_from: &str) -> Option<&'static str> {
    if e.null_sender {
        return Some("it has a null reverse path (a delivery report)");
    }
    if let Some(a) = e.auto_submitted
        && !header_word(a).eq_ignore_ascii_case("no")
    {
        return Some("its Auto-Submitted header says a program sent it");
    }
    if let Some(p) = e.precedence
        && ["bulk", "list", "junk"]
            .iter()
            .any(|w| header_word(p).eq_ignore_ascii_case(w))
    {
        return Some("its Precedence header marks it as bulk or list mail");
    }
    let our_id = e
        .message_id
        .is_some_and(|id| parse_message_id(id, mail_domain).is_some());
    let from_us = e
        .from
        .is_some_and(|f| f.trim().eq_ignore_ascii_case(mail_from));
    if our_id || e.chorus_header || from_us {
        return Some("Chorus sent it");
    }
    None
}

/// What a delivery status notification (RFC 3464) says of its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A permanent failure (`Action: failed`, or a `Status: 5.x.x`), with
    /// the status and diagnostic to keep as the reason.
    Failed(String),
    /// Delayed, delivered, relayed or expanded: nothing to count.
    NotFailed,
}

/// Reads the `message/delivery-status` part of a DSN: the per-recipient
/// fields (`Action`, `Status`, `Diagnostic-Code`) after the per-message
/// ones. Failed when any recipient failed for good; a delay (`4.x.x`,
/// `Action: delayed`) is not a failure.
pub fn delivery_status(text: &str) -> Delivery {
    // Fields may fold onto the next line (a leading space or tab).
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if line.trim().is_empty() {
            fields.push((String::new(), String::new()));
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let mut failed = None;
    let (mut action, mut status, mut diagnostic) = (None, None, None);
    let mut flush = |action: &mut Option<String>,
                     status: &mut Option<String>,
                     diagnostic: &mut Option<String>| {
        let a = action.take().unwrap_or_default().to_ascii_lowercase();
        let st = status.take().unwrap_or_default();
        let d = diagnostic.take().unwrap_or_default();
        let permanent = a == "failed" || (st.starts_with('5') && a != "delayed");
        if permanent && failed.is_none() {
            let why = [st.as_str(), d.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            failed = Some(if why.is_empty() { "failed".into() } else { why });
        }
    };
    for (k, v) in fields {
        match k.as_str() {
            "" => flush(&mut action, &mut status, &mut diagnostic),
            "action" => action = Some(header_word(&v).to_owned()),
            "status" => status = Some(header_word(&v).to_owned()),
            "diagnostic-code" => diagnostic = Some(v),
            _ => {}
        }
    }
    flush(&mut action, &mut status, &mut diagnostic);
    match failed {
        Some(why) => Delivery::Failed(why.chars().take(300).collect()),
        None => Delivery::NotFailed,
    }
}

/// The first word of a header value (`auto-replied; owner-email=…`).
fn header_word(v: &str) -> &str {
    v.trim()
        .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
        .next()
        .unwrap_or("")
}

/// The new words of a reply: quoted lines dropped, and everything from
/// the attribution, an Outlook header block or the signature on cut.
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if ends_words(&lines, i) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        kept.push(line);
    }
    tidy(&kept)
}

/// A new post's text: everything before the signature.
pub fn strip_signature(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|i| is_signature(lines[*i]))
        .unwrap_or(lines.len());
    tidy(&lines[..end])
}

fn is_signature(line: &str) -> bool {
    let t = line.trim_end();
    // RFC 3676's delimiter is "-- "; many clients drop its space.
    t == "--" || t == "—" || {
        let l = t.trim_start().to_ascii_lowercase();
        l.starts_with("sent from my ") && l.len() < 60
    }
}

/// Whether the person's words end before line `i`.
fn ends_words(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    if is_signature(lines[i]) {
        return true;
    }
    let lower = line.to_lowercase();
    // Outlook: "-----Original Message-----", or a rule of underscores
    // before its header block.
    if lower.starts_with("-----original message-----")
        || lower.starts_with("-------- original message --------")
        || lower.starts_with("---------- forwarded message")
        || (line.len() >= 20 && line.chars().all(|c| c == '_'))
    {
        return true;
    }
    // Outlook's header block: "From: …" followed by "Sent:" or "Date:".
    if lower.starts_with("from:")
        && lines[i + 1..]
            .iter()
            .take(3)
            .any(|l| starts_any(&l.trim().to_lowercase(), &["sent:", "date:"]))
    {
        return true;
    }
    // "On <date>, <name> wrote:", possibly wrapped over up to three lines.
    const OPENERS: [&str; 6] = ["on ", "le ", "am ", "el ", "il ", "op "];
    const CLOSERS: [&str; 6] = [
        "wrote:",
        "écrit :",
        "écrit:",
        "schrieb:",
        "escribió:",
        "scritto:",
    ];
    if starts_any(&lower, &OPENERS) {
        let mut joined = String::new();
        for l in lines[i..].iter().take(3) {
            joined.push_str(&l.trim().to_lowercase());
            if CLOSERS.iter().any(|c| joined.ends_with(c)) {
                return true;
            }
            if l.trim().is_empty() {
                break;
            }
            joined.push(' ');
        }
    }
    false
}

fn starts_any(s: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| s.starts_with(p))
}

/// The lines joined, trailing spaces and blank lines at both ends gone,
/// runs of blank lines made one.
fn tidy(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut blank = false;
    for l in lines {
        let l = l.trim_end();
        if l.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push_str("\n\n");
            blank = false;
        } else if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn delivery_reports_fail_only_for_good() {
        let failed = "Reporting-MTA: dns; mx.acme.test\n\nFinal-Recipient: rfc822; bo@acme.test\n\
                      Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such\n  user here\n";
        assert_eq!(
            delivery_status(failed),
            Delivery::Failed("5.1.1 smtp; 550 5.1.1 no such user here".into())
        );
        let delayed = "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; bo@acme.test\n\
                       Action: delayed\nStatus: 4.4.1\n";
        assert_eq!(delivery_status(delayed), Delivery::NotFailed);
        let status_only = "Final-Recipient: rfc822;bo@acme.test\r\nStatus: 5.2.2\r\n";
        assert!(matches!(delivery_status(status_only), Delivery::Failed(_)));
        assert_eq!(delivery_status(""), Delivery::NotFailed);
        assert_eq!(delivery_status("garbage\n\0\n:::"), Delivery::NotFailed);
    }

    use super::*;

    #[test]
    fn replies_lose_quotes_attributions_and_signatures() {
        let cases = [
            (
                "Sounds good, ship it.\n\nOn Mon, 7 Dec 2026 at 10:00, Ana <ana@acme.test> wrote:\n> Shall we ship?\n> Ana\n",
                "Sounds good, ship it.",
            ),
            (
                "Yes.\r\n\r\nOn Mon, 7 Dec 2026 at 10:00, Ana Lopez\r\n<ana@acme.test> wrote:\r\n\r\n> Shall we?\r\n",
                "Yes.",
            ),
            ("Thanks!\n-- \nBo\nAcme Inc.\n", "Thanks!"),
            ("Thanks!\n--\nBo\n", "Thanks!"),
            (
                "Inline answer below.\n\n> first question\nfirst answer\n> second question\nsecond answer\n",
                "Inline answer below.\n\nfirst answer\nsecond answer",
            ),
            (
                "Agreed.\n\n-----Original Message-----\nFrom: Ana\nSent: Monday\nSubject: x\n\nold text\n",
                "Agreed.",
            ),
            (
                "Agreed.\n\nFrom: Ana Lopez <ana@acme.test>\nSent: Monday, December 7, 2026 10:00\nTo: Bo\n\nold\n",
                "Agreed.",
            ),
            (
                "Agreed.\n________________________________\nFrom: Ana\n",
                "Agreed.",
            ),
            (
                "D'accord.\n\nLe lun. 7 déc. 2026, Ana a écrit :\n> x\n",
                "D'accord.",
            ),
            ("Ok\n\nSent from my phone\n", "Ok"),
            ("On it! I will do it today.\n", "On it! I will do it today."),
            ("> only a quote\n", ""),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(trim_reply(input), want, "{input:?}");
        }
    }

    #[test]
    fn a_post_keeps_its_quotes_and_loses_its_signature() {
        assert_eq!(
            strip_signature("Notes:\n\n> a quote we discuss\n\nmore\n-- \nBo\n"),
            "Notes:\n\n> a quote we discuss\n\nmore"
        );
        assert_eq!(strip_signature("no signature"), "no signature");
    }

    #[test]
    fn automatic_mail_is_recognised() {
        let d = "lists.acme.test";
        let f = "chorus@acme.test";
        let person = Envelope {
            from: Some("bo@acme.test"),
            message_id: Some("<CAF1@mail.acme.test>"),
            ..Default::default()
        };
        assert_eq!(automatic(&person, d, f), None);
        let no = Envelope {
            auto_submitted: Some(" No "),
            precedence: Some("first-class"),
            ..person
        };
        assert_eq!(automatic(&no, d, f), None);
        for e in [
            Envelope {
                null_sender: true,
                ..person
            },
            Envelope {
                auto_submitted: Some("auto-replied"),
                ..person
            },
            Envelope {
                auto_submitted: Some("auto-generated; owner-email=x@y"),
                ..person
            },
            Envelope {
                precedence: Some("BULK"),
                ..person
            },
            Envelope {
                precedence: Some("list"),
                ..person
            },
            Envelope {
                precedence: Some("junk"),
                ..person
            },
            Envelope {
                message_id: Some("<chorus.item.4@lists.acme.test>"),
                ..person
            },
            Envelope {
                chorus_header: true,
                ..person
            },
            Envelope {
                from: Some("Chorus@acme.test"),
                ..person
            },
        ] {
            assert!(automatic(&e, d, f).is_some(), "{e:?}");
        }
    }
}
