//! The iCalendar feed (RFC 5545): a secret, revocable URL per member with
//! the due times of their open promises (made and received) and to-dos, for
//! a calendar app to subscribe to. Only the secret's SHA-256 is stored.

use store::requests as rq;

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::viewer::Viewer;

/// Issues a new secret (replacing any earlier one); returns it.
pub async fn issue(ctx: &Ctx, viewer: &Viewer) -> AppResult<String> {
    let db = &ctx.db;
    let token = crypto::new_token();
    let mut tx = db.write().await?;
    rq::set_calendar_token(&mut tx, viewer.id(), &crypto::token_hash(&token), ctx.now()).await?;
    tx.commit().await?;
    Ok(token)
}

/// Revokes the secret: the old URL stops working at once.
pub async fn revoke(ctx: &Ctx, viewer: &Viewer) -> AppResult<bool> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let gone = rq::revoke_calendar_token(&mut tx, viewer.id()).await?;
    tx.commit().await?;
    Ok(gone)
}

/// When the viewer's current secret was issued, if they have one (the
/// secret itself is not kept, so it cannot be shown again).
pub async fn issued_at(ctx: &Ctx, viewer: &Viewer) -> AppResult<Option<i64>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(rq::calendar_issued_at(&mut c, viewer.id()).await?)
}

struct Event {
    uid: String,
    due: i64,
    summary: String,
    /// Plain text: a calendar shows no markup.
    description: String,
    url: String,
}

/// The feed for a secret, or not found.
pub async fn feed(ctx: &Ctx, secret: &str, base_url: &str) -> AppResult<String> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let member = rq::calendar_member(&mut c, &crypto::token_hash(secret))
        .await?
        .ok_or_else(|| AppError::NotFound("There is no such calendar.".into()))?;
    let now = ctx.now();
    let host = crate::config::host_of(base_url).unwrap_or_else(|| "chorus".to_owned());
    // The feed shows what its member may see now: nothing once they are
    // deactivated, nothing of a request whose item they lost the right to see.
    let owner = store::profiles::member_by_id(&mut c, member)
        .await?
        .filter(|m| m.is_active())
        .ok_or_else(|| AppError::NotFound("There is no such calendar.".into()))?;
    let mut events = Vec::new();
    for (r, item) in rq::requests_of(&mut c, member, now, 500).await? {
        if !domain::social::can_see(&item.access(owner.id, owner.role, true)) {
            continue;
        }
        let Some(due) = r.due_at else { continue };
        if r.state != "promised" && r.state != "reported" {
            continue;
        }
        let summary = if r.performer_id == member {
            format!("Due: {} (promised to {})", r.title, r.requester_name)
        } else {
            format!("Due to you: {} (from {})", r.title, r.performer_name)
        };
        events.push(Event {
            uid: format!("request-{}@{host}", r.item_id),
            due,
            summary,
            description: domain::markdown::plain_text(&r.conditions),
            url: format!("{base_url}/requests/{}", r.item_id),
        });
    }
    for t in rq::todos_of(&mut c, member, now, 500).await? {
        let Some(due) = t.due_at else { continue };
        if t.completed_at.is_some() {
            continue;
        }
        events.push(Event {
            uid: format!("todo-{}@{host}", t.id),
            due,
            summary: format!("To-do: {}", t.title),
            description: domain::markdown::plain_text(&t.notes),
            url: format!("{base_url}/work"),
        });
    }
    Ok(render(&events, now))
}

fn stamp(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// TEXT escaping of RFC 5545 section 3.3.11.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded at 75 octets (never inside a character) and
/// ended with CRLF (section 3.1).
pub fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for ch in content.chars() {
        let n = ch.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += n;
    }
    out.push_str("\r\n");
}

fn render(events: &[Event], now: i64) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Chorus//My work//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:Chorus: my work");
    for e in events {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", escape(&e.uid)));
        line(&mut out, &format!("DTSTAMP:{}", stamp(now)));
        line(&mut out, &format!("DTSTART:{}", stamp(e.due)));
        line(
            &mut out,
            &format!("DTEND:{}", stamp(e.due + 30 * 60 * 1_000_000)),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(&e.summary)));
        if !e.description.is_empty() {
            line(&mut out, &format!("DESCRIPTION:{}", escape(&e.description)));
        }
        line(&mut out, &format!("URL:{}", e.url));
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(100));
        line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{long}\r\n"));
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
