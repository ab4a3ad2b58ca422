//! The kinds of job Chorus runs (ARCHITECTURE.md, "Jobs", lists them).

use std::time::Duration;

use store::fanout::FanoutJob;
use store::{Db, Kind};

use super::{Context, Outcome, Registry};

/// Due-soon reminders and overdue notices (periodic).
pub const REMINDERS: &str = "reminders";
/// Followed searches' new matches, into their owners' homes (periodic).
pub const SEARCHES: &str = "searches";
/// SQLite: folds the delivery log into the home inboxes (periodic).
pub const FOLD: &str = "fold_deliveries";
/// Big fan-outs (`store::fanout::FANOUT`).
pub const FANOUT: &str = store::fanout::FANOUT;
/// Rebuilds the search index (`chorus admin reindex`).
pub const REINDEX: &str = crate::service::search::REINDEX;

/// How often the fold looks at the delivery log at most; sooner when its
/// oldest entry comes due before that.
const FOLD_LOOK: Duration = Duration::from_secs(10);

/// The kinds every node runs on this database.
pub fn registry(db: &Db) -> Registry {
    let mut r = Registry::default();
    r.register(FANOUT, fanout);
    r.register(REINDEX, reindex);
    r.periodic(REMINDERS, Duration::from_secs(30), reminders);
    r.periodic(SEARCHES, crate::service::searches::EVERY, searches);
    if db.kind() == Kind::Sqlite {
        r.periodic(FOLD, FOLD_LOOK, fold);
    }
    r
}

/// Delivers a fan-out too big for the posting transaction, 1,000
/// followers a transaction, each saving the progress with its deliveries;
/// the last deletes the job. Asked to stop, it hands the rest back.
async fn fanout(ctx: Context, mut job: FanoutJob) -> anyhow::Result<Outcome> {
    loop {
        let mut tx = ctx.db.write().await?;
        let more = store::fanout::fanout_step(&mut tx, &mut job).await?;
        if more {
            ctx.save_progress(&mut tx, &job).await?;
        } else {
            ctx.finish(&mut tx).await?;
        }
        tx.commit().await?;
        if !more {
            return Ok(Outcome::Done);
        }
        if ctx.stopping() {
            return Ok(Outcome::Again(Duration::ZERO));
        }
    }
}

/// Rebuilds the search index a batch a transaction, saving where it is
/// with each, and leaving the writer free at least as long as each batch
/// took (it runs beside posting). Asked to stop, it hands the rest back.
async fn reindex(
    ctx: Context,
    mut job: crate::service::search::Reindex,
) -> anyhow::Result<Outcome> {
    use crate::service::search::reindex_step;
    tracing::info!(phase = ?job.phase, after = job.after, "rebuilding the search index");
    loop {
        let started = std::time::Instant::now();
        let mut tx = ctx.db.write().await?;
        let more = reindex_step(&mut tx, &mut job).await?;
        if more {
            ctx.save_progress(&mut tx, &job).await?;
        } else {
            ctx.finish(&mut tx).await?;
        }
        tx.commit().await?;
        if !more {
            tracing::info!(batches = job.batches, "the search index is rebuilt");
            return Ok(Outcome::Done);
        }
        if job.batches % 50 == 0 {
            tracing::info!(phase = ?job.phase, after = job.after, batches = job.batches,
                "rebuilding the search index");
        }
        if ctx.stopping() {
            return Ok(Outcome::Again(Duration::ZERO));
        }
        tokio::time::sleep(started.elapsed()).await;
    }
}

async fn reminders(ctx: Context) -> anyhow::Result<Outcome> {
    crate::service::requests::run_reminders(&ctx.app, ctx.app.now()).await?;
    Ok(Outcome::Done)
}

/// Delivers followed searches' new matches (`service::searches`).
async fn searches(ctx: Context) -> anyhow::Result<Outcome> {
    let n = crate::service::searches::run_matching(&ctx.app).await?;
    if n > 0 {
        tracing::debug!(delivered = n, "followed searches delivered new matches");
    }
    Ok(Outcome::Done)
}

/// SQLite: folds the delivery log into the home inboxes once it holds
/// `fold_at` entries or its oldest is `fold_age` old (`store::Options`).
async fn fold(ctx: Context) -> anyhow::Result<Outcome> {
    let db = &ctx.db;
    let (at, age) = (db.options().fold_at, db.options().fold_age);
    let (held, oldest) = db.recent_deliveries();
    if held == 0 || (held < at && oldest.is_none_or(|o| o < age)) {
        let due_in = oldest.map_or(FOLD_LOOK, |o| age.saturating_sub(o));
        return Ok(Outcome::Again(
            due_in.clamp(Duration::from_secs(1), FOLD_LOOK),
        ));
    }
    let started = std::time::Instant::now();
    // Paced: the fold takes at most a fifth of the writer's time.
    let n = store::fanout::fold_deliveries(db, 4).await?;
    tracing::info!(entries = n, took = ?started.elapsed(), "folded deliveries into the home inboxes");
    Ok(Outcome::Again(Duration::from_secs(1)))
}

/// The kind of [`register_test_kinds`]' job.
pub const TEST_SLEEP: &str = "test_sleep";

/// A job that sleeps, for the tests that kill a `chorus serve` process in
/// the middle of a job. The binary registers it only when the environment
/// variable `CHORUS_TEST_JOB_KINDS` is set, and nothing enqueues it but a
/// test writing to the database itself.
pub fn register_test_kinds(r: &mut Registry) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sleep {
        ms: u64,
    }
    r.register(TEST_SLEEP, |_ctx: Context, p: Sleep| async move {
        tokio::time::sleep(Duration::from_millis(p.ms)).await;
        Ok(Outcome::Done)
    });
}
