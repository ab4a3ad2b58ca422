//! What operating the server needs from below: the health check and the
//! per-request statement count.

use std::cell::Cell;
use std::future::Future;

use crate::context::Ctx;
use crate::error::AppResult;

/// Requests slower than this are logged (the store's threshold for slow
/// statements too).
pub const SLOW: std::time::Duration = store::db::SLOW;

/// Runs `f`, counting the statements it sends to the database
/// (`store::db::QUERY_COUNT`, which tests read through `X-Query-Count`).
pub async fn counting_queries<F: Future>(f: F) -> (F::Output, u32) {
    store::db::QUERY_COUNT
        .scope(Cell::new(0), async move {
            let out = f.await;
            (out, store::db::QUERY_COUNT.with(Cell::get))
        })
        .await
}

/// Whether the database answers.
pub async fn healthy(ctx: &Ctx) -> AppResult<()> {
    let mut c = ctx.db.read().await?;
    c.ping().await?;
    Ok(())
}

/// Sets the gauges and counters `/metrics` reads from below the HTTP layer:
/// SQLite's group commit (writes committed, and the COMMITs they took) and
/// the job queue's depth and lag (runs are counted as they end).
pub async fn update_metrics(ctx: &Ctx) {
    if let Some((writes, commits)) = ctx.db.commit_counts() {
        metrics::counter!("chorus_sqlite_writes_committed_total").absolute(writes);
        metrics::counter!("chorus_sqlite_commits_total").absolute(commits);
    }
    if let Err(e) = crate::jobs::queue_metrics(&ctx.db).await {
        tracing::warn!(error = %e, "could not read the job queue for the metrics");
    }
}
