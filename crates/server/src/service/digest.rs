//! The daily digest: one mail a day per member who put at least one kind
//! of notification in it, at the hour they chose in their own time zone.
//!
//! The `digests` job (periodic, with a relay only) claims each member's
//! day once it is their hour there (`store::digest::claim`: a guarded
//! UPDATE of the day, in the transaction that enqueues the `mail` job), so
//! a restart, a second node or a late run never sends two in a day, and an
//! hour missed while the server was down is caught up later that day. The
//! mail is rendered when the job runs, with the visibility rule: what the
//! member follows that is new since their last digest (items they have not
//! opened, and comments), grouped by space; their notifications of the
//! kinds they chose the digest for; and the open requests waiting on them.
//! Nothing to tell, nothing sent.

use std::time::Duration;

use domain::kinds::{ItemKind, NotificationReason};
use domain::mail::{BOUNCES_STOP, Choice, Unsubscribe};
use domain::{MemberId, SpaceId, ValidationError};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use store::digest as q;
use store::items::ItemRow;

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::mail::{MailJob, Outgoing, item_label, key, kind_label, md_text, subject_line};
use crate::service::viewer::{Auth, Viewer, visible, visible_activity};

/// The periodic job's kind.
pub const DIGESTS: &str = "digests";
/// How often the job looks for members whose hour has come.
pub const EVERY: Duration = Duration::from_secs(120);
/// The hour of a member who never chose one.
pub const DEFAULT_HOUR: i64 = 8;
/// The first digest after a long silence tells at most this much.
const MAX_WINDOW: i64 = 7 * 24 * 3600 * 1_000_000;
/// Items a digest lists at most per space.
const TOP: usize = 3;

/// What `unsubscribe` links in a digest turn off.
pub const UNSUBSCRIBE_WHAT: &str = "digest";

/// A digest hour, checked: 0 to 23.
pub fn parse_hour(hour: i64) -> Result<i64, ValidationError> {
    if (0..24).contains(&hour) {
        Ok(hour)
    } else {
        Err(ValidationError::new(
            "digest_hour",
            format!(
                "Choose the digest's hour as a whole hour from 0 to 23 (8 is 08:00), not {hour}."
            ),
        ))
    }
}

/// The time zone a member's digest hour is counted in: theirs, or UTC
/// when it is empty or unknown; and whether it is theirs.
pub fn zone_of(name: &str) -> (TimeZone, bool) {
    match TimeZone::get(name.trim()) {
        Ok(tz) if !name.trim().is_empty() => (tz, true),
        _ => (TimeZone::UTC, false),
    }
}

/// The local day whose digest is due for `c` at `now`, if any: it is their
/// hour or later there today, and today's digest (or a later day's, after
/// a change of zone) was not claimed. On a day the clocks skip the hour,
/// the digest comes at the first moment after it.
pub fn due_day(c: &q::Candidate, now: i64) -> Option<String> {
    let (tz, _) = zone_of(&c.time_zone);
    let here = Timestamp::from_microsecond(now).ok()?.to_zoned(tz.clone());
    let day = here.date().to_string();
    if !c.day.is_empty() && day.as_str() <= c.day.as_str() {
        return None;
    }
    let hour = i8::try_from(c.hour.clamp(0, 23)).ok()?;
    let due = here.date().at(hour, 0, 0, 0).to_zoned(tz).ok()?;
    (here.timestamp() >= due.timestamp()).then_some(day)
}

/// Claims and enqueues the digests due at `now`; returns how many. Members
/// the job has not seen before start their clock now (their first digest
/// tells what comes from now on).
pub async fn run_digests(ctx: &Ctx, now: i64) -> AppResult<usize> {
    let mut tx = ctx.db.write().await?;
    q::start_clocks(&mut tx, now).await?;
    tx.commit().await?;
    let candidates = {
        let mut c = ctx.db.read().await?;
        q::candidates(&mut c).await?
    };
    let due: Vec<(q::Candidate, String)> = candidates
        .into_iter()
        // A clock started by this run waits for the next day's hour.
        .filter(|c| c.until < now)
        .filter_map(|c| due_day(&c, now).map(|d| (c, d)))
        .collect();
    let mut claimed = 0;
    for chunk in due.chunks(200) {
        let mut tx = ctx.db.write().await?;
        for (c, day) in chunk {
            let job = MailJob::Digest {
                member: c.member,
                day: day.clone(),
                since: c.until.max(now - MAX_WINDOW),
                until: now,
            };
            // Sent at once by the context's clock (a test may run the job
            // at another time than the queue's).
            if q::claim(&mut tx, c, (day, now), ctx.now(), &job).await? {
                claimed += 1;
            }
        }
        tx.commit().await?;
    }
    if claimed > 0 {
        tracing::info!(digests = claimed, "daily digests enqueued");
    }
    Ok(claimed)
}

/// One space's part of a digest (or, without a space, what was addressed
/// to the member and posted on the profiles they follow).
struct Group {
    space: Option<SpaceId>,
    name: String,
    link: String,
    posts: usize,
    comments: i64,
    entries: Vec<(ItemRow, bool, i64)>,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn item_link(base: &str, item: &ItemRow) -> String {
    match item.kind {
        ItemKind::Request | ItemKind::Offer => format!("{base}/requests/{}", item.id),
        _ => format!("{base}/items/{}", item.id),
    }
}

/// The digest `member` gets for `day`, telling what came in
/// `[since, until)`; None when there is nothing to tell or they should
/// no longer get it (paused, bouncing, no kind left in the digest, gone).
pub async fn digest_mail(
    ctx: &Ctx,
    member: MemberId,
    day: &str,
    (since, until): (i64, i64),
) -> AppResult<Option<Outgoing>> {
    let mut c = ctx.db.read().await?;
    let Some(m) = store::profiles::member_by_id(&mut c, member).await? else {
        return Ok(None);
    };
    let (choices, paused) = store::mail::choices(&mut c, member).await?;
    let (bounces, _) = store::mail::bounces(&mut c, &m.email).await?;
    let kinds: Vec<NotificationReason> = choices
        .iter()
        .filter(|(_, ch)| *ch == Choice::Digest)
        .map(|(k, _)| *k)
        .collect();
    if !m.is_active() || paused || bounces >= BOUNCES_STOP || kinds.is_empty() {
        return Ok(None);
    }
    let viewer = Viewer {
        member: m.clone(),
        auth: Auth::Token { id: 0 },
    };
    let base = ctx.base_url.to_string();

    // What they follow, by space; only what the visibility rule lets
    // them see is listed or counted.
    let news = q::followed_news(&mut c, member, (since, until), 300).await?;
    let ids: Vec<_> = news.iter().map(|n| n.0).collect();
    let items = q::items(&mut c, member, &ids).await?;
    let mut groups: Vec<Group> = Vec::new();
    for (id, new, comments) in news {
        let Some(item) = items.iter().find(|i| i.id == id) else {
            continue;
        };
        if item.deleted_at.is_some() || !visible(&viewer, item) {
            continue;
        }
        let space = item.space_id;
        let g = match groups.iter().position(|g| g.space == space) {
            Some(p) => &mut groups[p],
            None => {
                let (name, link) = match (&item.space_slug, &item.space_name) {
                    (Some(slug), Some(name)) => (name.clone(), format!("{base}/spaces/{slug}")),
                    _ => (
                        "To you and from people you follow".to_owned(),
                        format!("{base}/"),
                    ),
                };
                groups.push(Group {
                    space,
                    name,
                    link,
                    posts: 0,
                    comments: 0,
                    entries: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.posts += usize::from(new);
        g.comments += comments;
        g.entries.push((item.clone(), new, comments));
    }
    // Busiest first; spaces before the rest.
    groups.sort_by_key(|g| (g.space.is_none(), -(g.posts as i64 + g.comments)));

    // Their digest notifications, one line each.
    let notes = q::notifications_between(&mut c, member, (since, until), &kinds, 50).await?;
    let act_ids: Vec<i64> = notes.iter().map(|n| n.activity_id).collect();
    let acts = store::activities::activities_by_ids(&mut c, Some(member), &act_ids).await?;
    let space_ids: Vec<SpaceId> = acts
        .iter()
        .filter(|a| a.item.is_none())
        .flat_map(|a| [a.target_id, Some(a.object_id)])
        .flatten()
        .map(SpaceId)
        .collect();
    let spaces = if space_ids.is_empty() {
        Vec::new()
    } else {
        store::spaces::space_names(&mut c, &space_ids).await?
    };
    let mut note_lines = Vec::new();
    for n in &notes {
        let Some(a) = acts.iter().find(|a| a.id == n.activity_id) else {
            continue;
        };
        if !visible_activity(&viewer, a) {
            continue;
        }
        if let Some(line) = note_line(&base, n.reason, a, &spaces) {
            note_lines.push(line);
        }
    }
    drop(c);

    // The open requests waiting on them, as My work lists them.
    let (tz, own_zone) = zone_of(&m.time_zone);
    let work = crate::service::requests::work(ctx, &viewer).await?;
    let waiting: Vec<String> = work
        .waiting_on_me
        .iter()
        .map(|e| {
            let r = &e.request;
            let other = if r.performer_id == member {
                &r.requester_name
            } else {
                &r.performer_name
            };
            let due = r
                .due_at
                .and_then(|d| Timestamp::from_microsecond(d).ok())
                .map(|t| {
                    format!(
                        ", due {}",
                        t.to_zoned(tz.clone()).strftime("%a %-d %b, %H:%M")
                    )
                })
                .unwrap_or_default();
            format!(
                "- [{}]({base}/requests/{}) — with {}{due}",
                md_text(&r.title),
                r.item_id,
                md_text(other)
            )
        })
        .collect();

    if groups.is_empty() && note_lines.is_empty() && waiting.is_empty() {
        return Ok(None);
    }

    // The subject counts what is new.
    let date = day
        .parse::<jiff::civil::Date>()
        .map(|d| d.strftime("%A %-d %B").to_string())
        .unwrap_or_else(|_| day.to_owned());
    let new_total: i64 = groups.iter().map(|g| g.posts as i64 + g.comments).sum();
    let in_spaces = groups.iter().filter(|g| g.space.is_some()).count() as i64;
    let mut parts = Vec::new();
    if new_total > 0 {
        parts.push(
            if in_spaces > 0 && groups.iter().all(|g| g.space.is_some()) {
                format!(
                    "{new_total} new in {}",
                    plural(in_spaces, "space", "spaces")
                )
            } else {
                format!("{new_total} new")
            },
        );
    }
    if !note_lines.is_empty() {
        parts.push(plural(
            note_lines.len() as i64,
            "notification",
            "notifications",
        ));
    }
    if !waiting.is_empty() {
        parts.push(format!("{} waiting on you", waiting.len()));
    }
    let subject = subject_line(&format!(
        "Your Chorus digest for {date}: {}",
        parts.join(", ")
    ));

    let mut md = Vec::new();
    if !groups.is_empty() {
        md.push("## New in what you follow".to_owned());
        for g in &groups {
            let mut counts = Vec::new();
            if g.posts > 0 {
                counts.push(plural(g.posts as i64, "new post", "new posts"));
            }
            if g.comments > 0 {
                counts.push(plural(g.comments, "comment", "comments"));
            }
            let mut block = vec![format!(
                "**[{}]({})** — {}",
                md_text(&g.name),
                g.link,
                counts.join(", ")
            )];
            let mut top: Vec<&(ItemRow, bool, i64)> = g.entries.iter().collect();
            top.sort_by_key(|(i, new, n)| (!*new, -n, -i.id.get()));
            for (item, new, n) in top.iter().take(TOP) {
                let mut what = Vec::new();
                if *new {
                    what.push(format!("new, by {}", md_text(&item.author_name)));
                }
                if *n > 0 {
                    what.push(plural(*n, "comment", "comments"));
                }
                block.push(format!(
                    "- [{}]({}) — {}",
                    md_text(&item_label(item)),
                    item_link(&base, item),
                    what.join(", ")
                ));
            }
            if g.entries.len() > TOP {
                block.push(format!(
                    "- [and {} more]({})",
                    g.entries.len() - TOP,
                    g.link
                ));
            }
            md.push(block.join("\n"));
        }
    }
    if !note_lines.is_empty() {
        md.push("## Notifications".to_owned());
        md.push(note_lines.join("\n"));
    }
    if !waiting.is_empty() {
        md.push("## Waiting on you".to_owned());
        md.push(waiting.join("\n"));
    }
    let key = key(ctx).await?;
    let unsubscribe = Unsubscribe {
        member: member.get(),
        what: UNSUBSCRIBE_WHAT.to_owned(),
    };
    let unsubscribe = format!("{base}/mail/unsubscribe/{}", unsubscribe.token(&key));
    let hour = q::digest_hour(&mut ctx.db.read().await?, member).await?;
    let zone = if own_zone {
        m.time_zone.clone()
    } else {
        "UTC".to_owned()
    };
    md.push(format!(
        "---\n\nYour daily digest comes at {hour:02}:00 ({}) and tells what is new since the \
         last one: {}. [Stop the digest]({unsubscribe}) (those kinds then show on your \
         notifications page only) · [Choose what Chorus mails you]({base}/settings#notifications)",
        md_text(&zone),
        kinds
            .iter()
            .map(|k| kind_label(*k))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Some(Outgoing {
        to: m.email.clone(),
        to_name: m.display_name.clone(),
        subject,
        markdown: md.join("\n\n"),
        message_id: format!(
            "chorus.digest.{}.{day}@{}",
            member.get(),
            ctx.settings.mail_domain()
        ),
        in_reply_to: None,
        reply_to: None,
        unsubscribe: Some(unsubscribe),
        auto: true,
        bounce: Some(domain::mail::BounceFor::Member(member.get())),
    }))
}

/// One notification as a line of the digest, linked.
fn note_line(
    base: &str,
    kind: NotificationReason,
    a: &store::activities::ActivityRow,
    spaces: &[(SpaceId, String, String)],
) -> Option<String> {
    use NotificationReason as R;
    let actor = md_text(&a.actor.display_name);
    if let Some(item) = &a.item {
        let title = format!(
            "[{}]({})",
            md_text(&item_label(item)),
            item_link(base, item)
        );
        let s = match kind {
            R::Request => format!(
                "**{actor}** {} {title}.",
                crate::service::notifications::request_sentence(a.verb.as_str())
                    .trim_end_matches(':')
            ),
            R::DueSoon => format!("Due within 24 hours: {title}."),
            R::Overdue => format!("Overdue: {title}."),
            R::Mention => format!("**{actor}** mentioned you in {title}."),
            R::Reply => format!("**{actor}** replied to {title}."),
            R::Watching => format!("**{actor}** commented on {title}."),
            R::Reaction => format!("**{actor}** reacted to {title}."),
            R::Direct => format!("**{actor}** wrote to you: {title}."),
            other => format!("**{actor}** ({}) {title}.", kind_label(other)),
        };
        return Some(format!("- {s}"));
    }
    let space = |id: Option<i64>| {
        let id = id?;
        spaces.iter().find(|s| s.0.get() == id)
    };
    let s = match kind {
        R::Follower => format!(
            "**{actor}** started following you: [see their profile]({base}/members/{}).",
            a.actor.handle
        ),
        R::AddedToSpace => {
            let (_, slug, name) = space(a.target_id)?;
            format!(
                "**{actor}** added you to [{}]({base}/spaces/{slug}).",
                md_text(name)
            )
        }
        R::JoinRequest => {
            let (_, slug, name) = space(Some(a.object_id))?;
            format!(
                "**{actor}** asks to join [{}]({base}/spaces/{slug}/settings).",
                md_text(name)
            )
        }
        other => format!("**{actor}**: {}.", kind_label(other)),
    };
    Some(format!("- {s}"))
}

/// Turns the digest off for `member`: every kind in it moves to the page
/// only (the one-click unsubscribe of a digest).
pub async fn stop(ctx: &Ctx, member: MemberId) -> AppResult<()> {
    let mut c = ctx.db.read().await?;
    let (choices, _) = store::mail::choices(&mut c, member).await?;
    drop(c);
    let mut tx = ctx.db.write().await?;
    for (k, ch) in choices {
        if ch == Choice::Digest {
            store::mail::set_choice(&mut tx, member, k, Choice::Page).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(zone: &str, hour: i64, day: &str) -> q::Candidate {
        q::Candidate {
            member: MemberId(1),
            time_zone: zone.into(),
            hour,
            day: day.into(),
            until: 1,
        }
    }

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_microsecond()
    }

    #[test]
    fn the_hour_counts_in_the_members_zone() {
        let c = cand("Europe/Berlin", 8, "2026-12-06");
        // 08:00 in Berlin in December is 07:00 UTC.
        assert_eq!(due_day(&c, at("2026-12-07T06:59:59Z")), None);
        assert_eq!(
            due_day(&c, at("2026-12-07T07:00:00Z")).as_deref(),
            Some("2026-12-07")
        );
        // Caught up later that day; never twice.
        assert_eq!(
            due_day(&c, at("2026-12-07T20:00:00Z")).as_deref(),
            Some("2026-12-07")
        );
        let done = cand("Europe/Berlin", 8, "2026-12-07");
        assert_eq!(due_day(&done, at("2026-12-07T22:00:00Z")), None);
        // Past midnight in Berlin it is the next day, not due before 08:00.
        assert_eq!(due_day(&done, at("2026-12-07T23:30:00Z")), None);
    }

    #[test]
    fn unknown_or_empty_zones_are_utc_and_dst_days_work() {
        assert_eq!(
            due_day(&cand("Mars/Olympus", 8, ""), at("2026-12-07T08:00:00Z")).as_deref(),
            Some("2026-12-07")
        );
        assert_eq!(due_day(&cand("", 8, ""), at("2026-12-07T07:59:00Z")), None);
        // 2026-03-29 skips 02:00-03:00 in Berlin: a 02:00 digest comes at 03:00.
        let c = cand("Europe/Berlin", 2, "2026-03-28");
        assert_eq!(due_day(&c, at("2026-03-29T00:59:00Z")), None);
        assert_eq!(
            due_day(&c, at("2026-03-29T01:00:00Z")).as_deref(),
            Some("2026-03-29")
        );
        // 2026-10-25 repeats 02:00-03:00: one digest, at the first 02:00.
        let c = cand("Europe/Berlin", 2, "2026-10-24");
        assert_eq!(
            due_day(&c, at("2026-10-25T00:00:00Z")).as_deref(),
            Some("2026-10-25")
        );
        let done = cand("Europe/Berlin", 2, "2026-10-25");
        assert_eq!(due_day(&done, at("2026-10-25T01:00:00Z")), None);
        // A move to a zone behind does not bring the same day back.
        let tokyo_done = cand("America/Los_Angeles", 8, "2026-12-08");
        assert_eq!(due_day(&tokyo_done, at("2026-12-08T17:00:00Z")), None);
    }

    #[test]
    fn hours_outside_the_day_are_refused() {
        assert!(parse_hour(0).is_ok() && parse_hour(23).is_ok());
        assert!(parse_hour(24).is_err() && parse_hour(-1).is_err());
    }
}
