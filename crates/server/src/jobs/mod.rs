//! The job runner: claims due jobs from the queue (`store::jobs`) and runs
//! each with the handler registered for its kind ([`Registry`]; the kinds
//! Chorus has are in [`kinds`]).
//!
//! Each node runs one [`Runner`] with a few jobs at a time. It looks for
//! due jobs when a job is announced (`Db::subscribe_jobs`), when one of its
//! jobs ends, and every second (jobs due later, jobs queued by another
//! process on SQLite, leases that ran out). A job's lease is extended
//! while its handler runs; should the runner lose it (the lease ran out
//! and another runner took the job), the handler is stopped and its
//! uncommitted work rolls back. A handler's error or panic is a failed
//! attempt, retried with backoff until the job is dead; a payload that
//! does not parse is dead at once, naming the kind and serde's error. At
//! shutdown the runner claims nothing more, gives running handlers a few
//! seconds (long ones hand their work back when asked), then stops the
//! rest and queues their jobs again.

pub mod kinds;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use store::jobs::{self as q, Claimed, Failed};
use store::{Db, Tx, now_micros};

use crate::context::Ctx;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Jobs one node runs at once.
pub const CONCURRENCY: usize = 2;
/// How long running handlers may take to finish once the server stops.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest a runner waits before looking for due jobs again.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What a handler asks for when it returns well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The job is done and leaves the queue.
    Done,
    /// Queue the job again, due after this long (a periodic job's next
    /// run, or work handed back at shutdown).
    Again(Duration),
}

/// What a handler gets besides its payload.
#[derive(Clone)]
pub struct Context {
    /// The application context the job's work runs in.
    pub app: Ctx,
    pub db: Db,
    job: Claimed,
    stopping: CancellationToken,
    /// The handler deleted the job in its own transaction.
    finished: Arc<AtomicBool>,
}

impl Context {
    pub fn id(&self) -> i64 {
        self.job.id
    }

    /// This attempt's number, from 1.
    pub fn attempts(&self) -> i64 {
        self.job.attempts
    }

    /// The server is stopping: a long handler saves its progress and
    /// returns [`Outcome::Again`].
    pub fn stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Saves the job's progress in `tx`, the transaction of the work done
    /// so far; fails (so `tx` rolls back) if this runner no longer holds
    /// the job.
    pub async fn save_progress(
        &self,
        tx: &mut Tx,
        payload: &impl serde::Serialize,
    ) -> Result<(), store::Error> {
        q::save_progress(tx, &self.job, payload, now_micros()).await
    }

    /// Deletes the job in `tx`, the transaction of its last piece of work;
    /// fails if this runner no longer holds the job. The handler then
    /// returns [`Outcome::Done`].
    pub async fn finish(&self, tx: &mut Tx) -> Result<(), store::Error> {
        if !q::complete(tx, &self.job).await? {
            return Err(store::Error::ClaimLost {
                job: self.job.id,
                claim: self.job.claim.clone(),
            });
        }
        self.finished.store(true, Ordering::Relaxed);
        Ok(())
    }
}

type Run = Pin<Box<dyn Future<Output = anyhow::Result<Outcome>> + Send>>;
type Handler = Arc<dyn Fn(Context, &str) -> Result<Run, serde_json::Error> + Send + Sync>;

#[derive(Clone)]
struct Entry {
    handler: Handler,
    /// Periodic kinds: how often, and the one job's unique key.
    every: Option<Duration>,
}

/// The kinds a runner runs, each with its handler.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Entry>,
}

/// The payload of a periodic job: nothing. Anything else in it is a
/// payload this version cannot read.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

impl Registry {
    /// Runs jobs of `kind` with `handler`, their payload read as `P`.
    pub fn register<P, F, Fut>(&mut self, kind: &'static str, handler: F) -> &mut Registry
    where
        P: DeserializeOwned + Send + 'static,
        F: Fn(Context, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Outcome>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx, payload| {
            let p: P = serde_json::from_str(payload)?;
            Ok(Box::pin(handler(ctx, p)) as Run)
        });
        self.kinds.insert(
            kind,
            Entry {
                handler,
                every: None,
            },
        );
        self
    }

    /// Runs `handler` every `every`: one job of `kind`, with the kind as
    /// its unique key, enqueued when a runner starts (so N nodes keep one
    /// copy) and queued again after each run ([`Outcome::Done`] means
    /// "again after `every`"; a handler may return its own
    /// [`Outcome::Again`]).
    pub fn periodic<F, Fut>(
        &mut self,
        kind: &'static str,
        every: Duration,
        handler: F,
    ) -> &mut Registry
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Outcome>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.register(kind, move |ctx, Nothing {}| {
            let run = handler(ctx);
            async move {
                Ok(match run.await? {
                    Outcome::Done => Outcome::Again(every),
                    again => again,
                })
            }
        });
        if let Some(e) = self.kinds.get_mut(kind) {
            e.every = Some(every);
        }
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}

/// Enqueues the periodic kinds' jobs (each once, by its unique key) and
/// makes them due now: a node that starts runs them at once.
async fn seed(db: &Db, registry: &Registry) -> Result<(), store::Error> {
    let now = now_micros();
    let mut tx = db.write().await?;
    if db.kind() == store::Kind::Sqlite {
        // One server holds a SQLite file: what a job was running when it
        // stopped has no one left to finish it.
        let n = q::expire_leases(&mut tx, now).await?;
        if n > 0 {
            tracing::info!(jobs = n, "jobs left running by the last run are due again");
        }
    }
    for (kind, e) in &registry.kinds {
        if e.every.is_none() {
            continue;
        }
        let job = q::NewJob::new(kind, &Nothing {}, now)?.unique(*kind);
        let queued = q::enqueue(&mut tx, &job, now).await?;
        if !queued.new {
            q::due_now(&mut tx, queued.id, now).await?;
        }
    }
    tx.commit().await
}

/// One node's runner.
pub struct Runner {
    app: Ctx,
    db: Db,
    registry: Registry,
    kinds: Vec<&'static str>,
    /// Names this runner in the jobs it claims: the process and a random
    /// part, so a restarted process is another runner.
    node: String,
    claims: AtomicU64,
    lease: Duration,
    stopping: CancellationToken,
}

impl Runner {
    pub fn new(
        app: Ctx,
        registry: Registry,
        lease: Duration,
        stopping: CancellationToken,
    ) -> Runner {
        let node = format!(
            "{}-{}",
            std::process::id(),
            &crate::crypto::new_token()[..6]
        );
        Runner {
            db: app.db.clone(),
            app,
            kinds: registry.kinds(),
            registry,
            node,
            claims: AtomicU64::new(0),
            lease: lease.max(Duration::from_secs(1)),
            stopping,
        }
    }

    /// Runs until the stopping token is cancelled and the running jobs
    /// have finished or been handed back.
    pub async fn run(self) {
        let runner = Arc::new(self);
        let mut wake = runner.db.subscribe_jobs();
        if let Err(e) = seed(&runner.db, &runner.registry).await {
            tracing::warn!(error = %e, "could not enqueue the periodic jobs; the next start will");
        }
        let hard_stop = CancellationToken::new();
        let mut running = JoinSet::new();
        loop {
            while running.len() < CONCURRENCY && !runner.stopping.is_cancelled() {
                match runner.claim().await {
                    Ok(Some(job)) => {
                        running.spawn(runner.clone().run_job(job, hard_stop.clone()));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim a job; trying again");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = runner.stopping.cancelled() => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = wake.recv() => {
                    // One look covers every announcement that came meanwhile.
                    while !matches!(
                        wake.try_recv(),
                        Err(tokio::sync::broadcast::error::TryRecvError::Empty
                            | tokio::sync::broadcast::error::TryRecvError::Closed)
                    ) {}
                }
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
        let finished = tokio::time::timeout(STOP_GRACE, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            hard_stop.cancel();
            while running.join_next().await.is_some() {}
        }
    }

    /// Claims the most overdue job, if any is due: a look on a reader
    /// first, so an idle queue costs no turn at the writer.
    async fn claim(&self) -> Result<Option<Claimed>, store::Error> {
        let now = now_micros();
        if !q::any_due(&mut self.db.read().await?, &self.kinds, now).await? {
            return Ok(None);
        }
        let claim = format!(
            "{}/{}",
            self.node,
            self.claims.fetch_add(1, Ordering::Relaxed)
        );
        let mut tx = self.db.write().await?;
        let job = q::claim(&mut tx, &self.kinds, &claim, now + micros(self.lease), now).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn run_job(self: Arc<Self>, job: Claimed, hard_stop: CancellationToken) {
        let kind = job.kind.clone();
        let outcome = self.attempt(&job, &hard_stop).await;
        let label = match &outcome {
            Ended::Done | Ended::Finished => "done",
            Ended::Again(_) => "again",
            Ended::Failed(_) => "failed",
            Ended::Dead(_) => "dead",
            Ended::Lost => "lost",
            Ended::Stopped => "stopped",
        };
        metrics::counter!("chorus_jobs_runs_total", "kind" => kind.clone(), "outcome" => label)
            .increment(1);
        if let Err(e) = self.settle(&job, outcome).await {
            // The job stays running until its lease ends; then it is due
            // again.
            tracing::warn!(job = job.id, %kind, error = %e, "could not record how a job ended");
        }
    }

    /// Runs one attempt of `job`, extending its lease meanwhile.
    async fn attempt(&self, job: &Claimed, hard_stop: &CancellationToken) -> Ended {
        if job.attempts > job.max_attempts {
            return Ended::Dead(format!(
                "its runner stopped before it finished, {} times (the node ended, or lost \
                 the job's lease)",
                job.max_attempts
            ));
        }
        let Some(entry) = self.registry.kinds.get(job.kind.as_str()) else {
            return Ended::Failed(format!("no handler for jobs of kind {:?}", job.kind));
        };
        let finished = Arc::new(AtomicBool::new(false));
        let ctx = Context {
            app: self.app.clone(),
            db: self.db.clone(),
            job: job.clone(),
            stopping: self.stopping.clone(),
            finished: finished.clone(),
        };
        let run = match (entry.handler)(ctx, &job.payload) {
            Ok(run) => run,
            Err(e) => {
                return Ended::Dead(format!(
                    "the payload of this {} job cannot be read: {e}",
                    job.kind
                ));
            }
        };
        // Its own task, so a panic ends the attempt and not the runner.
        let mut handle = tokio::spawn(run);
        let mut beat = tokio::time::interval(self.lease / 3);
        beat.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut handle => break r,
                _ = beat.tick() => match self.extend(job).await {
                    Ok(true) => {}
                    Ok(false) => {
                        handle.abort();
                        let _ = (&mut handle).await;
                        return Ended::Lost;
                    }
                    // Tried again at the next beat; should the lease run
                    // out meanwhile, the job's writes fail their check.
                    Err(e) => tracing::warn!(job = job.id, error = %e, "could not extend a job's lease"),
                },
                _ = hard_stop.cancelled() => {
                    handle.abort();
                    let _ = (&mut handle).await;
                    return Ended::Stopped;
                }
            }
        };
        match result {
            Ok(Ok(_)) if finished.load(Ordering::Relaxed) => Ended::Finished,
            Ok(Ok(Outcome::Done)) => Ended::Done,
            Ok(Ok(Outcome::Again(after))) => Ended::Again(after),
            Ok(Err(e)) => Ended::Failed(format!("{e:#}")),
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Ended::Failed(format!("the handler panicked: {message}"))
            }
            Err(_) => Ended::Stopped,
        }
    }

    async fn extend(&self, job: &Claimed) -> Result<bool, store::Error> {
        let now = now_micros();
        let mut tx = self.db.write().await?;
        let held = q::extend(&mut tx, job, now + micros(self.lease), now).await?;
        tx.commit().await?;
        Ok(held)
    }

    /// Records how an attempt ended.
    async fn settle(&self, job: &Claimed, ended: Ended) -> Result<(), store::Error> {
        let now = now_micros();
        let (id, kind) = (job.id, job.kind.as_str());
        let mut tx = self.db.write().await?;
        let held = match &ended {
            Ended::Finished | Ended::Lost => return Ok(()),
            Ended::Done => q::complete(&mut tx, job).await?,
            Ended::Again(after) => q::requeue(&mut tx, job, now + micros(*after), now).await?,
            Ended::Stopped => q::requeue(&mut tx, job, now, now).await?,
            Ended::Dead(error) => {
                tracing::warn!(job = id, kind, %error, "a job is dead");
                q::bury(&mut tx, job, error, now).await?
            }
            Ended::Failed(error) => match q::fail(&mut tx, job, error, now).await? {
                Failed::Retry(at) => {
                    tracing::warn!(job = id, kind, attempt = job.attempts, %error,
                        retry_in = ?Duration::from_micros((at - now).max(0) as u64), "a job failed");
                    true
                }
                Failed::Dead => {
                    tracing::warn!(job = id, kind, attempts = job.attempts, %error,
                        "a job failed its last attempt and is dead");
                    true
                }
                Failed::Lost => false,
            },
        };
        tx.commit().await?;
        if !held {
            tracing::warn!(
                job = id,
                kind,
                "another runner took over a job before it ended here"
            );
        }
        Ok(())
    }
}

/// How an attempt ended.
enum Ended {
    /// The handler deleted the job with its last work.
    Finished,
    Done,
    Again(Duration),
    Failed(String),
    Dead(String),
    /// Another runner holds the job now.
    Lost,
    /// Stopped at shutdown before it finished.
    Stopped,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Runs every due job of `kinds` here and now, one after another, until
/// none is due (`serve --demo` delivers its fan-outs before it serves).
pub async fn drain(app: &Ctx, registry: Registry, kinds: &[&'static str]) -> anyhow::Result<()> {
    let mut only = Registry::default();
    for k in kinds {
        if let Some(e) = registry.kinds.get(k) {
            only.kinds.insert(k, e.clone());
        }
    }
    let runner = Arc::new(Runner::new(
        app.clone(),
        only,
        Duration::from_secs(60),
        CancellationToken::new(),
    ));
    while let Some(job) = runner.claim().await? {
        runner.clone().run_job(job, CancellationToken::new()).await;
    }
    Ok(())
}

/// Sets the queue's gauges for `/metrics`: jobs queued, running and dead
/// by kind, and how long the most overdue queued job has waited.
pub async fn queue_metrics(db: &Db) -> Result<(), store::Error> {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let now = now_micros();
    let stats = q::stats(&mut db.read().await?, now).await?;
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.extend(stats.counts.iter().map(|(k, _, _)| k.clone()));
    for kind in seen.iter() {
        for (state, gauge) in [
            (q::State::Queued, "chorus_jobs_queued"),
            (q::State::Running, "chorus_jobs_running"),
            (q::State::Dead, "chorus_jobs_dead"),
        ] {
            let n = stats
                .counts
                .iter()
                .find(|(k, s, _)| k == kind && *s == state)
                .map_or(0, |c| c.2);
            metrics::gauge!(gauge, "kind" => kind.clone()).set(n as f64);
        }
    }
    let waited = stats.oldest_due.map_or(0, |at| (now - at).max(0));
    metrics::gauge!("chorus_jobs_oldest_queued_seconds").set(waited as f64 / 1e6);
    Ok(())
}
