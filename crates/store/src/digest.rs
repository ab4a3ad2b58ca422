//! The daily digest: each member's hour, the claim that makes a day's
//! digest happen once, and what a digest tells (new items and comments in
//! what the member follows, their digest notifications).
//!
//! A member's digest window runs from the end of their last digest
//! (`members.digest_until`) to the moment the next is claimed. The claim
//! is one guarded UPDATE of `digest_day`, in the transaction that enqueues
//! the mail job, so two nodes, a restart or a late run never claim one day
//! twice.

use domain::kinds::NotificationReason;
use domain::mail::{BOUNCES_STOP, Choice, default_choice};
use domain::{ItemId, MemberId};

use crate::items::{ITEM_JOINS, ItemCols, ItemRow, REACTIONS_LATER, SOURCE, item};
use crate::jobs::NewJob;
use crate::notifications::NotificationRow;
use crate::rows::{Tuple, in_list, with};
use crate::{Conn, Error, Tx, params};

/// The hour a member chose for their digest (8 when they never chose).
pub async fn digest_hour(c: &mut Conn, member: MemberId) -> Result<i64, Error> {
    Ok(c.query_opt(
        "SELECT digest_hour FROM members WHERE id = $1",
        params![member],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()?
    .unwrap_or(8))
}

pub async fn set_digest_hour(tx: &mut Tx, member: MemberId, hour: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET digest_hour = $2 WHERE id = $1",
        params![member, hour],
    )
    .await?;
    Ok(())
}

/// Starts the digest clock of every active member the digest job has not
/// seen yet: their first digest tells what came from `now` on.
pub async fn start_clocks(tx: &mut Tx, now: i64) -> Result<u64, Error> {
    tx.execute(
        "UPDATE members SET digest_until = $1 WHERE digest_until = 0 AND deactivated_at IS NULL",
        params![now],
    )
    .await
}

/// A member who may get a digest: active, mail not paused, address not
/// bouncing, at least one kind in the digest, and seen by the digest job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub member: MemberId,
    pub time_zone: String,
    pub hour: i64,
    /// The local date of their last digest, '' before the first.
    pub day: String,
    /// Where their next digest's window starts.
    pub until: i64,
}

/// The kinds whose default is the digest: a member who chose nothing for
/// one of them has it in the digest.
fn digest_by_default() -> Vec<&'static str> {
    NotificationReason::ALL
        .iter()
        .filter(|k| default_choice(**k) == Choice::Digest)
        .map(|k| k.as_str())
        .collect()
}

/// Every member who may get a digest (see [`Candidate`]).
pub async fn candidates(c: &mut Conn) -> Result<Vec<Candidate>, Error> {
    let defaults = digest_by_default();
    let marks: Vec<String> = (0..defaults.len()).map(|i| format!("${}", i + 1)).collect();
    let n = defaults.len();
    let sql = format!(
        "SELECT m.id, m.time_zone, m.digest_hour, m.digest_day, m.digest_until FROM members m
         WHERE m.deactivated_at IS NULL AND m.mail_paused = 0 AND m.digest_until > 0
           AND (EXISTS (SELECT 1 FROM mail_choices c WHERE c.member_id = m.id AND c.choice = 'digest')
                OR (SELECT COUNT(*) FROM mail_choices c WHERE c.member_id = m.id
                      AND c.kind IN ({marks}) AND c.choice <> 'digest') < {n})
           AND NOT EXISTS (SELECT 1 FROM mail_bounces b
                           WHERE b.address = LOWER(m.email) AND b.bounces >= {BOUNCES_STOP})",
        marks = marks.join(", ")
    );
    let values: Vec<crate::Value> = defaults.iter().map(|d| (*d).into()).collect();
    c.query(&sql, &values)
        .await?
        .into_iter()
        .map(|r| {
            let (member, time_zone, hour, day, until): (MemberId, String, i64, String, i64) =
                Tuple::from_row(r)?;
            Ok(Candidate {
                member,
                time_zone,
                hour,
                day,
                until,
            })
        })
        .collect()
}

/// Claims `day`'s digest for a candidate, as read, at `now` (the end of
/// its window), and enqueues its mail job (`payload`, unique per member
/// and day, due at `due`) in the same transaction. False when another run
/// claimed it first.
pub async fn claim(
    tx: &mut Tx,
    c: &Candidate,
    (day, now): (&str, i64),
    due: i64,
    payload: &impl serde::Serialize,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE members SET digest_day = $2, digest_until = $3
             WHERE id = $1 AND digest_day = $4 AND digest_until = $5",
            params![c.member, day, now, c.day.as_str(), c.until],
        )
        .await?;
    if n != 1 {
        return Ok(false);
    }
    let job = NewJob::new(crate::mail::MAIL, payload, due)?
        .unique(format!("digest:{}:{day}", c.member.get()))
        .max_attempts(crate::mail::MAX_ATTEMPTS);
    crate::jobs::enqueue(tx, &job, due).await?;
    Ok(true)
}

/// What a member follows (a space, the author, a topic, the item itself,
/// not muted) or is addressed to (`i` the item, `$1` the member).
const FOLLOWED: &str = "(EXISTS (SELECT 1 FROM follows f WHERE f.member_id = $1
        AND f.level IN ('following', 'watching')
        AND ((f.target_type = 'space' AND f.target = CAST(i.space_id AS TEXT))
          OR (f.target_type = 'member' AND f.target = CAST(i.author_id AS TEXT))
          OR (f.target_type = 'item' AND f.target = CAST(i.id AS TEXT))
          OR (f.target_type = 'topic' AND f.target IN
                (SELECT t.topic FROM item_topics t WHERE t.item_id = i.id))))
      OR (i.audience = 'direct' AND EXISTS (SELECT 1 FROM item_recipients r
                                           WHERE r.item_id = i.id AND r.member_id = $1)))
    AND NOT EXISTS (SELECT 1 FROM follows mf WHERE mf.member_id = $1 AND mf.level = 'muted'
        AND ((mf.target_type = 'space' AND mf.target = CAST(i.space_id AS TEXT))
          OR (mf.target_type = 'item' AND mf.target = CAST(i.id AS TEXT))))";

/// What happened in what the member follows in `[since, until)`, by
/// others: per item, whether the item itself is new and not yet seen by
/// the member (a request or offer they are party to is not news: it is in
/// their work), and how many new comments it has. At most `limit` items,
/// newest first. The caller applies the visibility rule.
pub async fn followed_news(
    c: &mut Conn,
    member: MemberId,
    (since, until): (i64, i64),
    limit: i64,
) -> Result<Vec<(ItemId, bool, i64)>, Error> {
    let posts = c
        .query(
            &format!(
                "SELECT i.id FROM items i
                 WHERE i.created_at >= $2 AND i.created_at < $3 AND i.deleted_at IS NULL
                   AND i.author_id <> $1
                   AND NOT EXISTS (SELECT 1 FROM item_seen s WHERE s.item_id = i.id AND s.member_id = $1)
                   AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.item_id = i.id
                                   AND (r.requester_id = $1 OR r.performer_id = $1))
                   AND {FOLLOWED}
                 ORDER BY i.id DESC LIMIT $4"
            ),
            params![member, since, until, limit],
        )
        .await?;
    let comments = c
        .query(
            &format!(
                "SELECT i.id, COUNT(*) FROM comments cm JOIN items i ON i.id = cm.item_id
                 WHERE cm.created_at >= $2 AND cm.created_at < $3 AND cm.deleted_at IS NULL
                   AND cm.author_id <> $1 AND i.deleted_at IS NULL
                   AND {FOLLOWED}
                 GROUP BY i.id ORDER BY i.id DESC LIMIT $4"
            ),
            params![member, since, until, limit],
        )
        .await?;
    let mut out: Vec<(ItemId, bool, i64)> = Vec::new();
    for r in posts {
        out.push((ItemId(r.i64(0)?), true, 0));
    }
    for r in comments {
        let (id, n): (i64, i64) = Tuple::from_row(r)?;
        match out.iter_mut().find(|(i, _, _)| i.get() == id) {
            Some(e) => e.2 = n,
            None => out.push((ItemId(id), false, n)),
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out.truncate(limit.max(0) as usize);
    Ok(out)
}

/// Items by id as `viewer` reads them (with their Markdown source).
pub async fn items(c: &mut Conn, viewer: MemberId, ids: &[ItemId]) -> Result<Vec<ItemRow>, Error> {
    let mut out = Vec::new();
    for chunk in ids.chunks(128) {
        let (marks, values) = in_list(2, chunk);
        let sql = format!(
            "SELECT {} FROM items i {ITEM_JOINS} WHERE i.id IN ({marks})",
            ItemCols::sql(SOURCE, REACTIONS_LATER)
        );
        let rows = c
            .query(&sql, &with(params![viewer].to_vec(), values))
            .await?;
        for mut r in rows {
            out.push(item(&mut r, ItemCols::at(0))?);
        }
    }
    Ok(out)
}

/// The member's notifications of `kinds` made in `[since, until)`,
/// oldest first, at most `limit`.
pub async fn notifications_between(
    c: &mut Conn,
    member: MemberId,
    (since, until): (i64, i64),
    kinds: &[NotificationReason],
    limit: i64,
) -> Result<Vec<NotificationRow>, Error> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 5)).collect();
    let sql = format!(
        "SELECT id, reason, created_at, read_at, activity_id FROM notifications
         WHERE member_id = $1 AND created_at >= $2 AND created_at < $3 AND reason IN ({})
         ORDER BY id LIMIT $4",
        marks.join(", ")
    );
    let head = params![member, since, until, limit].to_vec();
    let kinds: Vec<crate::Value> = kinds.iter().map(|k| k.as_str().into()).collect();
    c.query(&sql, &with(head, kinds))
        .await?
        .into_iter()
        .map(|r| {
            let (id, reason, created_at, read_at, activity_id): (
                i64,
                String,
                i64,
                Option<i64>,
                i64,
            ) = Tuple::from_row(r)?;
            Ok(NotificationRow {
                id,
                reason: NotificationReason::parse(&reason)
                    .ok_or_else(|| Error::Db(format!("unknown notification reason {reason:?}")))?,
                created_at,
                read_at,
                activity_id,
            })
        })
        .collect()
}
