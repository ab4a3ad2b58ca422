//! Mail out: the `mail` jobs notifications enqueue, each member's choices
//! per kind of notification and their pause, reply epochs, and the
//! addresses that bounce.
//!
//! A notification enqueues its mail in the notifying transaction, so a
//! mail exists exactly when its notification commits; only for members who
//! chose mail at once for that kind, have not paused mail, and whose
//! address does not bounce. The job (`server::mail`) checks all of it again
//! when it sends, with the visibility rule.

use domain::MemberId;
use domain::kinds::NotificationReason;
use domain::mail::{BOUNCES_STOP, Choice, default_choice};

use crate::jobs::{Enqueued, NewJob};
use crate::rows::{Tuple, in_list, with};
use crate::{Conn, Error, Tx, params};

/// The kind of job that sends one mail.
pub const MAIL: &str = "mail";

/// Attempts before a mail job is dead: with the queue's backoff (1 s
/// doubling to 15 min) about a day of retries.
pub const MAX_ATTEMPTS: i64 = 105;

/// Enqueues a mail about `activity` for each of `members` whose choice for
/// `reason` is mail at once (the payload `server::mail::MailJob` reads).
pub async fn enqueue_notifications(
    tx: &mut Tx,
    members: &[MemberId],
    activity: i64,
    kind: NotificationReason,
    now: i64,
) -> Result<(), Error> {
    let reason = kind.as_str();
    let default = default_choice(kind).as_str();
    let head = r#"{"mail":"notification","member":"#.to_owned();
    let tail = format!(r#","activity":{activity},"reason":"{reason}"}}"#);
    for chunk in members.chunks(128) {
        let chunk: Vec<i64> = chunk.iter().map(|m| m.get()).collect();
        let (marks, ids) = in_list(8, &chunk);
        let sql = format!(
            "INSERT INTO jobs (kind, payload, state, run_at, max_attempts, created_at, updated_at)
             SELECT $1, $2 || CAST(m.id AS TEXT) || $3, 'queued', $4, $5, $4, $4
             FROM members m
             WHERE m.id IN ({marks}) AND m.deactivated_at IS NULL AND m.mail_paused = 0
               AND COALESCE((SELECT c.choice FROM mail_choices c
                             WHERE c.member_id = m.id AND c.kind = $6), $7) = 'now'
               AND NOT EXISTS (SELECT 1 FROM mail_bounces b
                               WHERE b.address = LOWER(m.email) AND b.bounces >= {BOUNCES_STOP})"
        );
        let head_params = params![
            MAIL,
            head.as_str(),
            tail.as_str(),
            now,
            MAX_ATTEMPTS,
            reason,
            default
        ]
        .to_vec();
        tx.execute_later(&sql, &with(head_params, ids)).await?;
        tx.note_job();
    }
    Ok(())
}

/// Enqueues one mail job with `payload` (an invitation's).
pub async fn enqueue(
    tx: &mut Tx,
    payload: &impl serde::Serialize,
    now: i64,
) -> Result<Enqueued, Error> {
    let job = NewJob::new(MAIL, payload, now)?.max_attempts(MAX_ATTEMPTS);
    crate::jobs::enqueue(tx, &job, now).await
}

/// What sending a notification mail to a member needs to know about them
/// beyond their member row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFacts {
    pub reply_epoch: i64,
    pub paused: bool,
    /// Their choice for the kind asked about.
    pub choice: Choice,
    /// Permanent failures of their address so far.
    pub bounces: i64,
}

pub async fn mail_facts(
    c: &mut Conn,
    member: MemberId,
    kind: NotificationReason,
) -> Result<Option<MailFacts>, Error> {
    let row = c
        .query_opt(
            "SELECT m.reply_epoch, m.mail_paused,
                    (SELECT c.choice FROM mail_choices c WHERE c.member_id = m.id AND c.kind = $2),
                    COALESCE((SELECT b.bounces FROM mail_bounces b WHERE b.address = LOWER(m.email)), 0)
             FROM members m WHERE m.id = $1",
            params![member, kind.as_str()],
        )
        .await?;
    let Some(r) = row else { return Ok(None) };
    let (reply_epoch, paused, choice, bounces): (i64, i64, Option<String>, i64) =
        Tuple::from_row(r)?;
    Ok(Some(MailFacts {
        reply_epoch,
        paused: paused != 0,
        choice: choice
            .as_deref()
            .and_then(Choice::parse)
            .unwrap_or_else(|| default_choice(kind)),
        bounces,
    }))
}

/// The member's reply epoch, signed into the reply addresses made for
/// them (0 for a member that does not exist).
pub async fn reply_epoch(c: &mut Conn, member: MemberId) -> Result<i64, Error> {
    c.query_opt(
        "SELECT reply_epoch FROM members WHERE id = $1",
        params![member],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
    .map(|e| e.unwrap_or(0))
}

/// A member's choices: every kind, with the default where they chose
/// nothing; and whether they paused all mail.
pub async fn choices(
    c: &mut Conn,
    member: MemberId,
) -> Result<(Vec<(NotificationReason, Choice)>, bool), Error> {
    let rows = c
        .query(
            "SELECT kind, choice FROM mail_choices WHERE member_id = $1",
            params![member],
        )
        .await?;
    let mut chosen = Vec::new();
    for r in rows {
        let (kind, choice): (String, String) = Tuple::from_row(r)?;
        if let (Some(k), Some(c)) = (NotificationReason::parse(&kind), Choice::parse(&choice)) {
            chosen.push((k, c));
        }
    }
    let all = NotificationReason::ALL
        .iter()
        .map(|k| {
            let c = chosen
                .iter()
                .find(|(kk, _)| kk == k)
                .map_or_else(|| default_choice(*k), |(_, c)| *c);
            (*k, c)
        })
        .collect();
    let paused = c
        .query_opt(
            "SELECT mail_paused FROM members WHERE id = $1",
            params![member],
        )
        .await?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    Ok((all, paused != 0))
}

/// Sets a member's choice for one kind.
pub async fn set_choice(
    tx: &mut Tx,
    member: MemberId,
    kind: NotificationReason,
    choice: Choice,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO mail_choices (member_id, kind, choice) VALUES ($1, $2, $3)
         ON CONFLICT (member_id, kind) DO UPDATE SET choice = excluded.choice",
        params![member, kind.as_str(), choice.as_str()],
    )
    .await?;
    Ok(())
}

pub async fn set_paused(tx: &mut Tx, member: MemberId, paused: bool) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET mail_paused = $2 WHERE id = $1",
        params![member, i64::from(paused)],
    )
    .await?;
    Ok(())
}

/// Counts a permanent failure of `address`; returns its count.
pub async fn record_bounce(
    tx: &mut Tx,
    address: &str,
    error: &str,
    now: i64,
) -> Result<i64, Error> {
    let error: String = error.chars().take(500).collect();
    tx.query_one(
        "INSERT INTO mail_bounces (address, bounces, last_error, updated_at) VALUES ($1, 1, $2, $3)
         ON CONFLICT (address) DO UPDATE SET bounces = mail_bounces.bounces + 1,
             last_error = excluded.last_error, updated_at = excluded.updated_at
         RETURNING bounces",
        params![address.to_lowercase(), error, now],
    )
    .await?
    .i64(0)
}

/// Permanent failures of `address` so far, and the last one's error.
pub async fn bounces(c: &mut Conn, address: &str) -> Result<(i64, Option<String>), Error> {
    Ok(c.query_opt(
        "SELECT bounces, last_error FROM mail_bounces WHERE address = $1",
        params![address.to_lowercase()],
    )
    .await?
    .map(<(i64, String)>::from_row)
    .transpose()?
    .map_or((0, None), |(n, e)| (n, Some(e))))
}
