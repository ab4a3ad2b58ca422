//! Delivery of activities to home inboxes: at once for small audiences,
//! in batches through `fanout` jobs (`crate::jobs`) for large ones; on SQLite through the
//! delivery log, folded into `inbox` later.

use domain::social::{Audience, SpaceVisibility};
use domain::{ItemId, MemberId, SpaceId};

use crate::follows::follower_count_upto;
use crate::items::{ItemRow, item_by_id};
use crate::rows::{Params, json_rows};
use crate::{Error, Kind, Tx, params};

/// Followers the background worker delivers per transaction: small enough
/// that other writers wait at most some tens of milliseconds for it.
pub const FANOUT_BATCH: i64 = 1_000;

/// The next delivery position. Like `append_activity`, this serialises
/// delivering transactions on PostgreSQL so positions commit in order.
pub async fn next_delivery(tx: &mut Tx) -> Result<i64, Error> {
    if tx.kind() == Kind::Postgres && tx.first_stream_lock() {
        tx.execute("SELECT pg_advisory_xact_lock(7283)", params![])
            .await?;
    }
    tx.query_one(
        "UPDATE counters SET value = value + 1 WHERE name = 'delivery' RETURNING value",
        params![],
    )
    .await?
    .i64(0)
}

/// The SQL condition that keeps fan-out to members the item's audience
/// admits (`f.member_id` is the candidate), with the values it names
/// added to `p`. The read path applies the visibility rule again.
fn audience_filter(item: &ItemRow, p: &mut Params) -> String {
    // Open spaces and profiles need no filter: a guest can only follow
    // spaces they belong to, and the read path drops profile posts for
    // guests. Closed and secret spaces can be followed without joining.
    match item.audience() {
        Audience::Space(SpaceVisibility::Open) | Audience::Profile => String::new(),
        Audience::Space(_) => format!(
            "AND EXISTS (SELECT 1 FROM space_members fs WHERE fs.space_id = {} AND fs.member_id = f.member_id)",
            p.bind(item.space_id.unwrap_or(SpaceId(0)))
        ),
        Audience::Direct => format!(
            "AND (EXISTS (SELECT 1 FROM item_recipients fr WHERE fr.item_id = {} AND fr.member_id = f.member_id)
                  OR f.member_id = {})",
            p.bind(item.id),
            p.bind(item.author_id)
        ),
    }
}

/// Whether deliveries go to the log and memory first (SQLite, one
/// process; see `db::recent`) or straight into `inbox` (PostgreSQL).
pub(crate) fn logs_deliveries(kind: Kind) -> bool {
    kind == Kind::Sqlite
}

/// Delivers followers of one target, after `after_member`, up to `limit`;
/// returns the members delivered to (in member order) and the last member
/// looked at, or None when the target is exhausted (always None when not
/// `paged`: a delivery in one go has no next page to look for). On SQLite
/// this only chooses the members; the caller logs them ([`log_delivery`]).
async fn deliver_target(
    tx: &mut Tx,
    (activity, seq): (i64, i64),
    item: &ItemRow,
    (target_type, target): (&str, &str),
    (after_member, limit, paged): (i64, i64, bool),
) -> Result<(Vec<i64>, Option<i64>), Error> {
    let mut p = Params::new();
    let (activity_p, seq_p) = (p.bind(activity), p.bind(seq));
    let (type_p, target_p, after_p, limit_p) = (
        p.bind(target_type),
        p.bind(target),
        p.bind(after_member),
        p.bind(limit),
    );
    let filter = audience_filter(item, &mut p);
    let select = format!(
        "SELECT f.member_id, CAST({activity_p} AS BIGINT), CAST({seq_p} AS BIGINT) FROM follows f
         WHERE f.target_type = {type_p} AND f.target = {target_p} AND f.member_id > {after_p}
           AND f.level <> 'muted' {filter}
           AND f.member_id <= (SELECT COALESCE(MAX(x.member_id), {after_p}) FROM
                 (SELECT member_id FROM follows WHERE target_type = {type_p} AND target = {target_p}
                  AND member_id > {after_p} ORDER BY member_id LIMIT {limit_p}) x)"
    );
    let sql = if logs_deliveries(tx.kind()) {
        format!("{select} ORDER BY f.member_id")
    } else {
        format!(
            "INSERT INTO inbox (member_id, activity_id, seq)
             {select}
             ON CONFLICT DO NOTHING
             RETURNING member_id"
        )
    };
    let rows = tx.query(&sql, p.values()).await?;
    let delivered: Vec<i64> = rows.iter().map(|r| r.i64(0)).collect::<Result<_, _>>()?;
    if !paged {
        return Ok((delivered, None));
    }
    let last = tx
        .query_one(
            "SELECT COALESCE(MAX(x.member_id), -1) FROM
               (SELECT member_id FROM follows WHERE target_type = $1 AND target = $2 AND member_id > $3
                ORDER BY member_id LIMIT $4) x",
            params![target_type, target, after_member, limit],
        )
        .await?
        .i64(0)?;
    Ok((delivered, (last >= 0).then_some(last)))
}

/// SQLite: appends one delivery to the log, for memory once the
/// transaction commits; `members` repeat-free.
async fn log_delivery(
    tx: &mut Tx,
    (activity, seq): (i64, i64),
    members: Vec<i64>,
) -> Result<(), Error> {
    if members.is_empty() {
        return Ok(());
    }
    tx.execute_later(
        "INSERT INTO deliveries (seq, activity_id, members) VALUES ($1, $2, $3)",
        params![seq, activity, crate::db::id_list(&members)],
    )
    .await?;
    tx.note_logged((seq, activity, members));
    Ok(())
}

/// Copies the delivery log into `inbox` in member order, five hundred
/// entries per transaction so other writers wait little, then deletes the
/// log rows and forgets the entries (see `db::recent`). After each
/// transaction it rests `pace` times as long as the transaction took, so
/// the fold's burst of pages (a leaf per thousand or so members) is spread
/// out instead of taking the writer and the disk from requests. Returns the
/// entries folded. A crash part way leaves the log as it was; the next fold
/// writes the same rows again (`ON CONFLICT DO NOTHING`).
pub async fn fold_deliveries(db: &crate::Db, pace: u32) -> Result<usize, Error> {
    const CHUNK: usize = 500;
    let Some((upto, entries)) = db.recent_to_fold() else {
        return Ok(0);
    };
    for chunk in entries.chunks(CHUNK) {
        let json = json_rows(chunk)?;
        let started = std::time::Instant::now();
        let mut tx = db.write().await?;
        tx.execute(
            "INSERT INTO inbox (member_id, seq, activity_id)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
             FROM json_each($1) WHERE 1
             ON CONFLICT DO NOTHING",
            params![json],
        )
        .await?;
        tx.commit().await?;
        if pace > 0 {
            tokio::time::sleep(started.elapsed() * pace).await;
        }
    }
    let mut tx = db.write().await?;
    tx.execute("DELETE FROM deliveries WHERE seq <= $1", params![upto])
        .await?;
    tx.commit().await?;
    db.recent_folded(upto);
    Ok(entries.len())
}

/// Fans an item's activity out to home inboxes: the `extra` members (author,
/// recipients, mentioned) at once, and the followers of `targets` ("type",
/// "target") at once when there are at most `fanout_inline_max`
/// ([`crate::Options`]), else through a [`FANOUT`] job (see
/// [`fanout_step`]). `counted` is the targets' followers when the caller
/// has counted them already (each up to `fanout_inline_max + 1`). Muted
/// follows are skipped and the audience prefilter applied; the read path
/// checks visibility again.
pub async fn fan_out(
    tx: &mut Tx,
    activity: i64,
    item: &ItemRow,
    (targets, counted): (&[(&str, String)], Option<i64>),
    extra: &[MemberId],
    now: i64,
) -> Result<(), Error> {
    let inline_max = tx.options().fanout_inline_max;
    let total = match counted {
        Some(n) => n,
        None => {
            let mut total = 0;
            for (ttype, target) in targets {
                total += follower_count_upto(tx, ttype, target, inline_max + 1).await?;
            }
            total
        }
    };
    let seq = next_delivery(tx).await?;
    let log = logs_deliveries(tx.kind());
    let mut delivered = Vec::new();
    for m in extra {
        if log {
            delivered.push(m.get());
            continue;
        }
        let n = tx
            .execute(
                "INSERT INTO inbox (member_id, activity_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                params![*m, activity, seq],
            )
            .await?;
        if n == 1 {
            delivered.push(m.get());
        }
    }
    if total <= inline_max {
        for (ttype, target) in targets {
            let (d, _) = deliver_target(
                tx,
                (activity, seq),
                item,
                (ttype, target),
                (0, inline_max + 1, false),
            )
            .await?;
            delivered.extend(d);
        }
    } else {
        let job = FanoutJob {
            activity,
            item: item.id,
            targets: targets.iter().map(|(t, v)| format!("{t}:{v}")).collect(),
            next_target: 0,
            after_member: 0,
        };
        let job = crate::jobs::NewJob::new(FANOUT, &job, now)?.unique(format!("fanout:{activity}"));
        crate::jobs::enqueue(tx, &job, now).await?;
    }
    if log {
        delivered.sort_unstable();
        delivered.dedup();
    }
    tx.note_delivered(&delivered);
    if log {
        log_delivery(tx, (activity, seq), delivered).await?;
    }
    Ok(())
}

/// Delivers one activity to one member's home, at the next delivery
/// position (a followed search's match: `crate::searches`). On SQLite it
/// goes through the delivery log, as every delivery does.
pub async fn deliver_to(tx: &mut Tx, activity: i64, member: MemberId) -> Result<(), Error> {
    let seq = next_delivery(tx).await?;
    if logs_deliveries(tx.kind()) {
        log_delivery(tx, (activity, seq), vec![member.get()]).await?;
    } else {
        tx.execute(
            "INSERT INTO inbox (member_id, activity_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![member, activity, seq],
        )
        .await?;
    }
    tx.note_delivered(&[member.get()]);
    Ok(())
}

/// The kind of the jobs that deliver fan-outs too big for the posting
/// transaction.
pub const FANOUT: &str = "fanout";

/// A [`FANOUT`] job's payload: what to deliver, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutJob {
    pub activity: i64,
    pub item: ItemId,
    /// `type:target` each, as in `follows`.
    pub targets: Vec<String>,
    /// The target being delivered, and the last member delivered to.
    pub next_target: i64,
    pub after_member: i64,
}

/// Delivers the next batch of a fan-out job and moves its progress on;
/// the caller saves the progress in the same transaction. Returns false
/// once nothing is left (every target done, or the item gone).
pub async fn fanout_step(tx: &mut Tx, job: &mut FanoutJob) -> Result<bool, Error> {
    let targets: Vec<(String, String)> = job
        .targets
        .iter()
        .filter_map(|l| l.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect();
    let Some(item) = item_by_id(tx, MemberId(0), job.item).await? else {
        return Ok(false);
    };
    let Some((ttype, target)) = targets.get(job.next_target as usize) else {
        return Ok(false);
    };
    let seq = next_delivery(tx).await?;
    let (delivered, last) = deliver_target(
        tx,
        (job.activity, seq),
        &item,
        (ttype, target),
        (job.after_member, FANOUT_BATCH, true),
    )
    .await?;
    tx.note_delivered(&delivered);
    if logs_deliveries(tx.kind()) {
        log_delivery(tx, (job.activity, seq), delivered).await?;
    }
    match last {
        Some(l) => job.after_member = l,
        None => {
            job.next_target += 1;
            job.after_member = 0;
        }
    }
    Ok((job.next_target as usize) < targets.len())
}
