//! The job queue: background work that must happen, durably and once (the
//! server's `jobs` runner runs it; ARCHITECTURE.md lists the kinds).
//!
//! A job is a row of `jobs`: a kind, a JSON payload, when it is due and
//! how often it has been tried. It is enqueued inside the caller's
//! transaction ([`enqueue`]), so it exists exactly when the change that
//! needs it commits, and runners hear of it once that commits. A runner
//! claims a due job ([`claim`]) for a lease that it extends while it works
//! ([`extend`]); a running job whose lease has passed (its node died or
//! stalled) is due again. Every later write of the runner names its claim
//! and changes nothing once the claim is lost, so a job's work is never
//! committed by two runners. The claim counts an attempt, so a job that
//! kills its node each time still ends dead instead of looping.
//!
//! A job ends deleted ([`complete`]), queued again ([`requeue`]: periodic
//! work, or work handed back at shutdown), queued after a backoff
//! ([`fail`]), or dead after `max_attempts` ([`fail`], [`bury`]) until an
//! admin retries it ([`retry`]). A finished job is deleted rather than
//! kept: the table holds only what is still to do (and the dead), so
//! claiming stays a short index range; runs are counted in the metrics.
//!
//! PostgreSQL nodes claim with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claims take different jobs; SQLite has one writer, so claims are made
//! one after another.

use serde::Serialize;

use crate::rows::{Column, Tuple, columns};
use crate::{Conn, Error, Kind, Row, Tx, Value, params};

/// Attempts before a job is dead, unless its enqueuer says otherwise.
pub const MAX_ATTEMPTS: i64 = 10;
/// The wait before a failed job's second attempt, in microseconds; each
/// later failure doubles it, up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: i64 = 1_000_000;
pub const BACKOFF_CAP: i64 = 15 * 60 * 1_000_000;
/// The most of an error's text a job keeps.
const ERROR_MAX: usize = 2_000;

/// How long to wait after the `attempts`-th failure.
pub fn backoff(attempts: i64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 40) as u32;
    BACKOFF_BASE
        .saturating_mul(1_i64 << doublings)
        .min(BACKOFF_CAP)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Running,
    Dead,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "queued" => Some(State::Queued),
            "running" => Some(State::Running),
            "dead" => Some(State::Dead),
            _ => None,
        }
    }
}

impl Column for State {
    fn take(r: &mut Row, i: usize) -> Result<Self, Error> {
        let state = r.take_text(i)?;
        State::parse(&state)
            .ok_or_else(|| Error::Decode(format!("a job in an unknown state {state:?}")))
    }
}

/// A job to enqueue: due now, [`MAX_ATTEMPTS`] attempts, no unique key,
/// unless changed.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    /// JSON.
    pub payload: String,
    /// While a job with this key is queued or running, enqueueing the key
    /// again finds that job instead of adding another.
    pub unique_key: Option<String>,
    pub run_at: i64,
    pub max_attempts: i64,
}

impl<'a> NewJob<'a> {
    pub fn new(kind: &'a str, payload: &impl Serialize, now: i64) -> Result<NewJob<'a>, Error> {
        Ok(NewJob {
            kind,
            payload: serde_json::to_string(payload)
                .map_err(|e| Error::Db(format!("encoding a {kind} job's payload: {e}")))?,
            unique_key: None,
            run_at: now,
            max_attempts: MAX_ATTEMPTS,
        })
    }

    pub fn unique(mut self, key: impl Into<String>) -> NewJob<'a> {
        self.unique_key = Some(key.into());
        self
    }

    pub fn at(mut self, run_at: i64) -> NewJob<'a> {
        self.run_at = run_at;
        self
    }

    pub fn max_attempts(mut self, n: i64) -> NewJob<'a> {
        self.max_attempts = n.max(1);
        self
    }
}

/// What [`enqueue`] did: the job's id, and whether it is new (false: a
/// job with the same unique key was queued or running already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    pub new: bool,
}

/// Enqueues a job in the caller's transaction; runners hear of it when
/// the transaction commits. With a unique key held by a queued or running
/// job, adds nothing and answers that job.
pub async fn enqueue(tx: &mut Tx, job: &NewJob<'_>, now: i64) -> Result<Enqueued, Error> {
    // The holder of the key may finish between the two statements; then
    // the key is free and the next round inserts.
    for _ in 0..3 {
        let inserted = tx
            .query_opt(
                "INSERT INTO jobs (kind, payload, unique_key, state, run_at, max_attempts, created_at, updated_at)
                 VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6)
                 ON CONFLICT DO NOTHING
                 RETURNING id",
                params![
                    job.kind,
                    job.payload.as_str(),
                    job.unique_key.as_deref(),
                    job.run_at,
                    job.max_attempts,
                    now
                ],
            )
            .await?;
        if let Some(r) = inserted {
            tx.note_job();
            return Ok(Enqueued {
                id: r.i64(0)?,
                new: true,
            });
        }
        let Some(key) = &job.unique_key else {
            return Err(Error::Db("a job without a unique key conflicted".into()));
        };
        if let Some(r) = tx
            .query_opt(
                "SELECT id FROM jobs WHERE unique_key = $1 AND state <> 'dead'",
                params![key.as_str()],
            )
            .await?
        {
            return Ok(Enqueued {
                id: r.i64(0)?,
                new: false,
            });
        }
    }
    Err(Error::Busy)
}

/// Makes a queued job due now, if it is due later (a periodic job, when a
/// node starts).
pub async fn due_now(tx: &mut Tx, id: i64, now: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE jobs SET run_at = $2, updated_at = $2 WHERE id = $1 AND state = 'queued' AND run_at > $2",
        params![id, now],
    )
    .await?;
    Ok(())
}

/// `kind IN ($first, …)` for `kinds`, and the kinds as parameters.
fn kinds_in(kinds: &[&str], first: usize) -> (String, Vec<Value>) {
    let marks: Vec<String> = (0..kinds.len())
        .map(|i| format!("${}", first + i))
        .collect();
    (
        format!("kind IN ({})", marks.join(", ")),
        kinds.iter().map(|k| Value::from(*k)).collect(),
    )
}

const DUE: &str =
    "((state = 'queued' AND run_at <= $1) OR (state = 'running' AND lease_until < $1))";

/// Whether a job of one of these kinds is due: a look on a reader before
/// taking the writer for [`claim`].
pub async fn any_due(c: &mut Conn, kinds: &[&str], now: i64) -> Result<bool, Error> {
    if kinds.is_empty() {
        return Ok(false);
    }
    let (kinds_in, mut params) = kinds_in(kinds, 2);
    params.insert(0, Value::from(now));
    let sql = format!("SELECT 1 FROM jobs WHERE {kinds_in} AND {DUE} LIMIT 1");
    Ok(c.query_opt(&sql, &params).await?.is_some())
}

/// A job a runner holds: its claim names the runner and this claim, and
/// every write about the job checks it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// Including this one.
    pub attempts: i64,
    pub max_attempts: i64,
    pub claim: String,
}

columns! {
    /// What a claim reads of the job it took.
    struct ClaimCols {
        id: "id",
        kind: "kind",
        payload: "payload",
        attempts: "attempts",
        max_attempts: "max_attempts",
    }
}

/// Claims the most overdue job of one of `kinds` (queued and due, or
/// running with its lease passed) until `lease_until`, counting an
/// attempt.
pub async fn claim(
    tx: &mut Tx,
    kinds: &[&str],
    claim: &str,
    lease_until: i64,
    now: i64,
) -> Result<Option<Claimed>, Error> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let skip_locked = match tx.kind() {
        Kind::Postgres => "FOR UPDATE SKIP LOCKED",
        Kind::Sqlite => "",
    };
    let (kinds_in, kind_params) = kinds_in(kinds, 4);
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $2,
                locked_by = $3, updated_at = $1
         WHERE id = (SELECT id FROM jobs WHERE {kinds_in} AND {DUE}
                     ORDER BY run_at, id LIMIT 1 {skip_locked})
         RETURNING {}",
        ClaimCols::sql()
    );
    let mut params = vec![
        Value::from(now),
        Value::from(lease_until),
        Value::from(claim),
    ];
    params.extend(kind_params);
    let Some(mut r) = tx.query_opt(&sql, &params).await? else {
        return Ok(None);
    };
    const C: ClaimCols = ClaimCols::at(0);
    Ok(Some(Claimed {
        id: r.i64(C.id)?,
        kind: r.take_text(C.kind)?,
        payload: r.take_text(C.payload)?,
        attempts: r.i64(C.attempts)?,
        max_attempts: r.i64(C.max_attempts)?,
        claim: claim.to_owned(),
    }))
}

/// The condition that the claim still holds the job.
const HELD: &str = "id = $1 AND locked_by = $2 AND state = 'running'";

/// Extends a claim's lease; false when the claim is lost.
pub async fn extend(tx: &mut Tx, job: &Claimed, lease_until: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            &format!("UPDATE jobs SET lease_until = $3, updated_at = $4 WHERE {HELD}"),
            params![job.id, job.claim.as_str(), lease_until, now],
        )
        .await?;
    Ok(n == 1)
}

/// Stores a job's progress in the transaction that did the work, so a job
/// taken over after a crash goes on from there. Fails when the claim is
/// lost, rolling that work back with the transaction.
pub async fn save_progress(
    tx: &mut Tx,
    job: &Claimed,
    payload: &impl Serialize,
    now: i64,
) -> Result<(), Error> {
    let payload = serde_json::to_string(payload)
        .map_err(|e| Error::Db(format!("encoding a {} job's payload: {e}", job.kind)))?;
    let n = tx
        .execute(
            &format!("UPDATE jobs SET payload = $3, updated_at = $4 WHERE {HELD}"),
            params![job.id, job.claim.as_str(), payload, now],
        )
        .await?;
    if n == 0 {
        return Err(lost(job));
    }
    Ok(())
}

fn lost(job: &Claimed) -> Error {
    Error::ClaimLost {
        job: job.id,
        claim: job.claim.clone(),
    }
}

/// Deletes a finished job; false when the claim is lost. A job may finish
/// in the transaction of its last piece of work.
pub async fn complete(tx: &mut Tx, job: &Claimed) -> Result<bool, Error> {
    let n = tx
        .execute(
            &format!("DELETE FROM jobs WHERE {HELD}"),
            params![job.id, job.claim.as_str()],
        )
        .await?;
    Ok(n == 1)
}

/// Queues a job again, due at `run_at`, its attempts counted afresh (a
/// periodic job that ran, or work handed back unfinished at shutdown);
/// false when the claim is lost.
pub async fn requeue(tx: &mut Tx, job: &Claimed, run_at: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            &format!(
                "UPDATE jobs SET state = 'queued', run_at = $3, attempts = 0, last_error = NULL,
                        lease_until = NULL, locked_by = NULL, updated_at = $4
                 WHERE {HELD}"
            ),
            params![job.id, job.claim.as_str(), run_at, now],
        )
        .await?;
    Ok(n == 1)
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Queued again, due at this time.
    Retry(i64),
    /// Out of attempts.
    Dead,
    /// The claim was lost; another runner holds the job.
    Lost,
}

/// Records a failed attempt: the job is queued again after
/// [`backoff`]`(attempts)`, or dead once it has had `max_attempts`.
pub async fn fail(tx: &mut Tx, job: &Claimed, error: &str, now: i64) -> Result<Failed, Error> {
    if job.attempts >= job.max_attempts {
        return Ok(if bury(tx, job, error, now).await? {
            Failed::Dead
        } else {
            Failed::Lost
        });
    }
    let run_at = now + backoff(job.attempts);
    let n = tx
        .execute(
            &format!(
                "UPDATE jobs SET state = 'queued', run_at = $3, last_error = $4,
                        lease_until = NULL, locked_by = NULL, updated_at = $5
                 WHERE {HELD}"
            ),
            params![job.id, job.claim.as_str(), run_at, clip(error), now],
        )
        .await?;
    Ok(if n == 1 {
        Failed::Retry(run_at)
    } else {
        Failed::Lost
    })
}

/// Makes a job dead at once with `error` (a payload that cannot be read
/// will not read better next time); false when the claim is lost.
pub async fn bury(tx: &mut Tx, job: &Claimed, error: &str, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            &format!(
                "UPDATE jobs SET state = 'dead', last_error = $3, lease_until = NULL,
                        locked_by = NULL, updated_at = $4
                 WHERE {HELD}"
            ),
            params![job.id, job.claim.as_str(), clip(error), now],
        )
        .await?;
    Ok(n == 1)
}

fn clip(error: &str) -> &str {
    match error.char_indices().nth(ERROR_MAX) {
        Some((end, _)) => &error[..end],
        None => error,
    }
}

/// SQLite, as its one server starts: jobs left running were held by a
/// process that has ended (the server holds the file alone), so their
/// leases end now and they are due at once.
pub async fn expire_leases(tx: &mut Tx, now: i64) -> Result<u64, Error> {
    tx.execute(
        "UPDATE jobs SET lease_until = $1 WHERE state = 'running' AND lease_until > $1",
        params![now],
    )
    .await
}

/// A job as an admin sees it (its payload left out).
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: State,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub locked_by: Option<String>,
    pub unique_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

columns! {
    struct JobCols => JobRow {
        id: "id",
        kind: "kind",
        state: "state",
        attempts: "attempts",
        max_attempts: "max_attempts",
        last_error: "last_error",
        run_at: "run_at",
        lease_until: "lease_until",
        locked_by: "locked_by",
        unique_key: "unique_key",
        created_at: "created_at",
        updated_at: "updated_at",
    }
}

/// The job of a statement of [`JobCols`] alone.
fn job_row(mut r: Row) -> Result<JobRow, Error> {
    JobCols::at(0).decode(&mut r)
}

/// Jobs newest first, before id `before`, in one state or all.
pub async fn list(
    c: &mut Conn,
    state: Option<State>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<JobRow>, Error> {
    let before = before.unwrap_or(i64::MAX);
    let rows = match state {
        Some(s) => {
            c.query(
                &format!(
                    "SELECT {} FROM jobs WHERE state = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                    JobCols::sql()
                ),
                params![s.as_str(), before, limit],
            )
            .await?
        }
        None => {
            c.query(
                &format!(
                    "SELECT {} FROM jobs WHERE id < $1 ORDER BY id DESC LIMIT $2",
                    JobCols::sql()
                ),
                params![before, limit],
            )
            .await?
        }
    };
    rows.into_iter().map(job_row).collect()
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<JobRow>, Error> {
    c.query_opt(
        &format!("SELECT {} FROM jobs WHERE id = $1", JobCols::sql()),
        params![id],
    )
    .await?
    .map(job_row)
    .transpose()
}

/// Queues a dead job again, due now, with all its attempts; None when no
/// dead job has this id. [`Error::Conflict`] on [`Unique::JobKey`](crate::Unique::JobKey) when another
/// job with its key is queued or running.
pub async fn retry(tx: &mut Tx, id: i64, now: i64) -> Result<Option<JobRow>, Error> {
    let row = tx
        .query_opt(
            &format!(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, updated_at = $2
                 WHERE id = $1 AND state = 'dead'
                 RETURNING {}",
                JobCols::sql()
            ),
            params![id, now],
        )
        .await?;
    if row.is_some() {
        tx.note_job();
    }
    row.map(job_row).transpose()
}

/// The queue at a glance, for metrics and the admin page.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Jobs by kind and state.
    pub counts: Vec<(String, State, i64)>,
    /// When the most overdue queued job was due, if one is.
    pub oldest_due: Option<i64>,
}

pub async fn stats(c: &mut Conn, now: i64) -> Result<Stats, Error> {
    let rows = c
        .query(
            "SELECT kind, state, COUNT(*), MIN(run_at) FROM jobs GROUP BY kind, state",
            params![],
        )
        .await?;
    let mut stats = Stats::default();
    for r in rows {
        let (kind, state, count, first): (String, String, i64, i64) = Tuple::from_row(r)?;
        let Some(state) = State::parse(&state) else {
            continue;
        };
        if state == State::Queued && first <= now {
            stats.oldest_due = Some(stats.oldest_due.map_or(first, |o: i64| o.min(first)));
        }
        stats.counts.push((kind, state, count));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), BACKOFF_BASE);
        assert_eq!(backoff(2), 2 * BACKOFF_BASE);
        assert_eq!(backoff(4), 8 * BACKOFF_BASE);
        assert_eq!(backoff(30), BACKOFF_CAP);
        assert_eq!(backoff(1_000), BACKOFF_CAP);
    }

    #[test]
    fn errors_are_clipped_on_a_character() {
        let long = "é".repeat(ERROR_MAX + 5);
        assert_eq!(clip(&long).chars().count(), ERROR_MAX);
        assert_eq!(clip("short"), "short");
    }
}
