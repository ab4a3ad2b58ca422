//! The job queue as owners and admins see it: the jobs queued, running
//! and dead, and a dead job queued again.

use crate::context::Ctx;

pub use store::jobs::{JobRow as Job, State as JobState, Stats as JobStats};

use crate::error::{AppError, AppResult};
use crate::service::viewer::Viewer;

fn admins_only(viewer: &Viewer) -> AppResult<()> {
    if viewer.role().is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only owners and admins see the background jobs.".into(),
        ))
    }
}

/// Jobs newest first, before id `before`, in one state or all.
pub async fn list(
    ctx: &Ctx,
    viewer: &Viewer,
    state: Option<JobState>,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Job>> {
    admins_only(viewer)?;
    let mut c = ctx.db.read().await?;
    Ok(store::jobs::list(&mut c, state, before, limit).await?)
}

fn no_such_job(id: i64) -> AppError {
    AppError::NotFound(format!("There is no job {id}."))
}

/// Queues a dead job again, due now, with all its attempts.
pub async fn retry(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<Job> {
    admins_only(viewer)?;
    let mut tx = ctx.db.write().await?;
    match store::jobs::retry(&mut tx, id, ctx.now()).await {
        Ok(Some(job)) => {
            tx.commit().await?;
            Ok(job)
        }
        Ok(None) => {
            drop(tx);
            let job = store::jobs::get(&mut ctx.db.read().await?, id)
                .await?
                .ok_or_else(|| no_such_job(id))?;
            Err(AppError::Conflict {
                detail: format!(
                    "Job {id} is {}, not dead: only a dead job is retried.",
                    job.state.as_str()
                ),
                field: None,
            })
        }
        Err(store::Error::Conflict(store::Unique::JobKey)) => Err(AppError::Conflict {
            detail: format!(
                "Another job with job {id}'s key is queued or running, and does its work; \
                 this one is not needed."
            ),
            field: None,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The admin page's view of the queue: its depth and the dead jobs.
pub struct Overview {
    pub stats: JobStats,
    pub dead: Vec<Job>,
}

pub async fn overview(ctx: &Ctx, viewer: &Viewer) -> AppResult<Overview> {
    admins_only(viewer)?;
    let mut c = ctx.db.read().await?;
    Ok(Overview {
        stats: store::jobs::stats(&mut c, ctx.now()).await?,
        dead: store::jobs::list(&mut c, Some(JobState::Dead), None, 50).await?,
    })
}
