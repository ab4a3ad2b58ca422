//! The SQLite backend: one writer, a pool of readers, WAL.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::stamps::{Pending, Stamps};
use super::{Row, Value};
use crate::Error;

pub(crate) struct Sqlite {
    path: PathBuf,
    writer: Writer,
    readers: Arc<ReaderPool>,
    checkpointer_stop: Arc<std::sync::atomic::AtomicBool>,
    stamps: Arc<Stamps>,
    /// The lock of a serving handle (see `Options::serving`), let go
    /// when it closes.
    serving: Mutex<Option<std::fs::File>>,
}

/// Work for the writer's thread: one statement, or BEGIN, COMMIT, ROLLBACK.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A whole write (a service call that takes the writer) to run on the
/// writer's thread, where its statements run without a hand-over each.
pub(crate) type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What the writer's thread is sent.
enum Msg {
    Job(Job),
    Task(Task),
}

/// The writer's thread's own state: its connection, and the queue that
/// statements sent from other threads wait in.
struct Local {
    conn: Connection,
    queue: tokio::sync::mpsc::UnboundedReceiver<Msg>,
    pending: Arc<Pending>,
}

/// What a write does once the COMMIT it shares has run (or failed): its
/// after-commit effects, then its answer.
pub(crate) type Parked = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// The longest a released write waits for the writes behind it before its
/// group commits, and the most writes one COMMIT takes.
const GROUP_AGE: Duration = Duration::from_millis(4);
const GROUP_WRITES: usize = 64;

/// Group commit: the writes that queue for the writer share one COMMIT.
///
/// Each write runs in a savepoint of a transaction that the first of them
/// began. When a write is done and others are waiting for the writer, it
/// releases its savepoint and parks its answer here instead of committing;
/// the next write continues the same transaction. The transaction commits
/// when a write is done and nobody is waiting, when the group is
/// `GROUP_WRITES` long, or once its first write has waited `GROUP_AGE`
/// (the writer's thread watches the clock). Then every parked write runs
/// its after-commit effects in order and gets its answer: nobody hears of a
/// write before it is committed. A write that fails rolls back to its own
/// savepoint and leaves the others alone; should the whole transaction be
/// lost (an error SQLite answers by rolling everything back), every parked
/// write gets an error.
///
/// What it saves: one COMMIT instead of several (the WAL's commit frame
/// and index update, the stamps' marking), the pages that consecutive
/// writes share (the ends of the activities, comments, notifications and
/// delivery-log tables) written to the WAL once instead of each time, and
/// for every reader, one page cache emptied instead of several (a reader
/// that finds another connection committed since its last statement
/// starts its cache over).
pub(crate) struct Commits {
    group: Mutex<Group>,
    /// Callers of `Writer::lock` that do not hold the writer yet.
    waiting: std::sync::atomic::AtomicUsize,
    /// Whole writes sent to the writer's thread and not started yet.
    queued: std::sync::atomic::AtomicUsize,
    pending: Arc<Pending>,
    /// Wakes the writer's thread to watch the clock for a group parked
    /// while it was waiting for work (the parking ran inside a whole
    /// write, not in the thread's own loop).
    parked_one: tokio::sync::Notify,
    /// COMMITs that succeeded, and the writes they carried.
    committed: std::sync::atomic::AtomicU64,
    carried: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Group {
    parked: Vec<Parked>,
    /// When the first parked write was done.
    since: Option<std::time::Instant>,
}

impl Commits {
    /// Whether another write is on its way to the writer.
    fn others(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.waiting.load(Ordering::Acquire) + self.queued.load(Ordering::Acquire) > 0
    }

    /// When the parked writes must commit, if any are parked.
    fn deadline(&self) -> Option<tokio::time::Instant> {
        let since = self.group.lock().expect("commit group").since?;
        Some(tokio::time::Instant::from_std(since + GROUP_AGE))
    }

    /// Parks a write that released its savepoint, then commits the group
    /// if it is due (see [`Commits::settle`]). Runs on the writer's thread,
    /// by the holder of the writer.
    fn park(&self, conn: &Connection, write: Parked) {
        let first = {
            let mut g = self.group.lock().expect("commit group");
            g.parked.push(write);
            let first = g.since.is_none();
            g.since.get_or_insert_with(std::time::Instant::now);
            first
        };
        if !self.settle(conn) && first {
            self.parked_one.notify_one();
        }
    }

    /// Commits the parked writes if no other write is coming, or the group
    /// is full or old enough; whether it did. After a write parked, or
    /// rolled back to its savepoint.
    fn settle(&self, conn: &Connection) -> bool {
        let due = {
            let g = self.group.lock().expect("commit group");
            g.since
                .is_some_and(|s| g.parked.len() >= GROUP_WRITES || s.elapsed() >= GROUP_AGE)
        };
        if due || !self.others() {
            self.finish(conn);
            return true;
        }
        false
    }

    /// Takes the parked writes out of the group, which starts over.
    fn take(&self) -> Vec<Parked> {
        let mut g = self.group.lock().expect("commit group");
        g.since = None;
        std::mem::take(&mut g.parked)
    }

    /// Commits the parked writes (if any) and tells each, in order. Runs on
    /// the writer's thread, by the holder of the writer.
    fn finish(&self, conn: &Connection) {
        let parked = self.take();
        if parked.is_empty() {
            return;
        }
        let result = if conn.is_autocommit() {
            Err(lost())
        } else {
            batch(conn, "COMMIT")
        };
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if result.is_ok() {
            use std::sync::atomic::Ordering;
            self.committed.fetch_add(1, Ordering::Relaxed);
            self.carried
                .fetch_add(parked.len() as u64, Ordering::Relaxed);
            // Marked before anyone is answered: a writer that reads its own
            // write back must not get a rendering from before it.
            self.pending.committed();
        }
        for write in parked {
            write(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(echo(e)),
            });
        }
    }

    /// On the writer's thread, when the parked writes are due and nobody
    /// came to commit them: commits them unless a write holds the writer
    /// (it commits the group when it is done); whether it did.
    fn finish_when_free(&self, slot: &Arc<tokio::sync::Mutex<()>>) -> bool {
        let Ok(_held) = slot.clone().try_lock_owned() else {
            return false;
        };
        LOCAL.with(|l| self.finish(&l.borrow().as_ref().expect("writer state").conn));
        true
    }

    /// Tells every parked write that its transaction was lost.
    fn fail(&self) {
        for write in self.take() {
            write(Err(lost()));
        }
    }
}

/// The error for writes whose shared transaction rolled back.
fn lost() -> Error {
    Error::Db("the transaction was rolled back by a write that failed; try again".into())
}

/// `e` again, for each of the writes that share it.
fn echo(e: &Error) -> Error {
    match e {
        Error::Busy => Error::Busy,
        Error::Closed => Error::Closed,
        e => Error::Db(e.to_string()),
    }
}

thread_local! {
    /// Set on the writer's thread only.
    static LOCAL: std::cell::RefCell<Option<Local>> = const { std::cell::RefCell::new(None) };
}

impl Local {
    /// Runs one job, then marks what committed (no transaction open: what
    /// it changed has committed, or rolled back and there is nothing to
    /// mark). A job that panics loses its answer (its caller gets
    /// `Error::Closed`), not the writer.
    fn run(&mut self, job: Job) {
        let started = std::time::Instant::now();
        let conn = &mut self.conn;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
        let took = started.elapsed();
        if took > super::SLOW {
            tracing::debug!(?took, "slow statement on the writer");
        }
        if self.conn.is_autocommit() {
            self.pending.committed();
        }
    }

    /// Runs the jobs already queued (a rollback that an earlier holder of
    /// the writer sent without waiting), and starts the queued tasks.
    fn drain(&mut self) {
        while let Ok(msg) = self.queue.try_recv() {
            match msg {
                Msg::Job(job) => self.run(job),
                Msg::Task(task) => {
                    tokio::task::spawn_local(task);
                }
            }
        }
    }
}

/// Puts the calling thread (the writer's) in `SCHED_BATCH`, at the nice
/// value it had. A thread that wakes up under `SCHED_OTHER` preempts what
/// runs on a core if it has waited longer; the writer's thread wakes for
/// every write, and at hundreds of writes a second it kept preempting the
/// async workers in the middle of reads, which then waited for it. Under
/// `SCHED_BATCH` a wake-up preempts nobody: the write runs when a core
/// comes free or a time slice ends, a fraction of a millisecond later, and
/// the reads keep their cores. With the 90/10 benchmark's comments, the
/// reads' p99 held within 1.5× of idle at 400 comments a second in four
/// runs of five (1.36–1.41×), against none of three without.
/// Where the policy cannot be set the thread runs as before.
fn batch_scheduling() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let tid = rustix::thread::gettid();
    let nice = rustix::process::getpriority_process(Some(tid)).ok();
    // The crate sets a nice value with the policy; 48 of its 0–99 is 0.
    let Ok(priority) = 48u8.try_into() else {
        return;
    };
    let _ = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(priority),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    );
    if let Some(nice) = nice {
        let _ = rustix::process::setpriority_process(Some(tid), nice);
    }
}

/// The one writing connection. It lives on its own thread and runs what
/// the transaction holding `slot` sends it.
///
/// A write's statements used to run inline on an async worker, which kept
/// every request queued behind that worker waiting for the whole write (a
/// comment's hundred dirty pages, the commit that writes them); with two
/// cores, that is half the machine's reading. On its own thread a write
/// is one more thread for the kernel to share the cores with, and reads
/// keep their workers.
///
/// A transaction begun elsewhere sends its statements one at a time, each
/// a hand-over to the thread and back. The writes that matter most run
/// on the thread whole instead ([`super::Db::on_writer`]): the thread
/// drives them on its own single-threaded runtime, and their statements
/// run inline. A comment's twenty hand-overs cost the thread twenty
/// wake-ups, each of which preempted a worker in the middle of a read.
struct Writer {
    slot: Arc<tokio::sync::Mutex<()>>,
    jobs: tokio::sync::mpsc::UnboundedSender<Msg>,
    commits: Arc<Commits>,
}

impl Writer {
    /// Starts the thread. What the connection updates and deletes is
    /// marked in `stamps` once committed (see [`super::stamps`]).
    fn spawn(mut conn: Connection, stamps: Arc<Stamps>) -> Result<Writer, Error> {
        let pending = Arc::new(Pending::new(stamps));
        let p = pending.clone();
        conn.update_hook(Some(move |action, _db: &str, table: &str, id| {
            p.changed(action, table, id);
        }))
        .map_err(map_err)?;
        let p = pending.clone();
        conn.rollback_hook(Some(move || p.rolled_back()))
            .map_err(map_err)?;
        let (jobs, queue) = tokio::sync::mpsc::unbounded_channel::<Msg>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Db(format!("cannot start the SQLite writer's runtime: {e}")))?;
        let local = Local {
            conn,
            queue,
            pending: pending.clone(),
        };
        let slot = Arc::new(tokio::sync::Mutex::new(()));
        let commits = Arc::new(Commits {
            group: Mutex::new(Group::default()),
            waiting: Default::default(),
            queued: Default::default(),
            pending,
            parked_one: tokio::sync::Notify::new(),
            committed: Default::default(),
            carried: Default::default(),
        });
        let (c, s) = (commits.clone(), slot.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let (commits, slot) = (c, s);
                batch_scheduling();
                LOCAL.with(|l| *l.borrow_mut() = Some(local));
                // Ends when the last sender is gone: the database closed.
                let tasks = tokio::task::LocalSet::new();
                tasks.block_on(&runtime, async {
                    // When a parked group is due and the writer was held,
                    // the next look, a millisecond later.
                    let mut retry: Option<tokio::time::Instant> = None;
                    loop {
                        let recv = std::future::poll_fn(|cx| {
                            LOCAL.with(|l| {
                                l.borrow_mut()
                                    .as_mut()
                                    .expect("writer state")
                                    .queue
                                    .poll_recv(cx)
                            })
                        });
                        let msg = match commits.deadline() {
                            None => tokio::select! {
                                msg = recv => msg,
                                () = commits.parked_one.notified() => continue,
                            },
                            Some(due) => {
                                let at = retry.map_or(due, |r| r.max(due));
                                tokio::select! {
                                    msg = recv => msg,
                                    () = tokio::time::sleep_until(at) => {
                                        retry = (!commits.finish_when_free(&slot)).then(|| {
                                            tokio::time::Instant::now() + Duration::from_millis(1)
                                        });
                                        continue;
                                    }
                                }
                            }
                        };
                        match msg {
                            Some(Msg::Job(job)) => LOCAL
                                .with(|l| l.borrow_mut().as_mut().expect("writer state").run(job)),
                            Some(Msg::Task(task)) => {
                                tokio::task::spawn_local(task);
                            }
                            None => break,
                        }
                    }
                });
                // What is still on the thread is dropped (rolling back any
                // transaction it holds), then the connection closes.
                let entered = runtime.enter();
                drop(tasks);
                drop(entered);
                LOCAL.with(|l| l.borrow_mut().take());
            })
            .map_err(|e| Error::Db(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Writer {
            slot,
            jobs,
            commits,
        })
    }

    /// Runs `task` on the writer's thread. Until it starts it counts as a
    /// write on its way (see [`Commits`]).
    fn spawn_task(&self, task: Task) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        let commits = self.commits.clone();
        commits.queued.fetch_add(1, Ordering::AcqRel);
        let counted = commits.clone();
        let task = Box::pin(async move {
            counted.queued.fetch_sub(1, Ordering::AcqRel);
            task.await
        });
        self.jobs.send(Msg::Task(task)).map_err(|_| {
            commits.queued.fetch_sub(1, Ordering::AcqRel);
            Error::Closed
        })
    }

    /// Waits for the right to write.
    async fn lock(&self) -> WriteGuard {
        use std::sync::atomic::{AtomicUsize, Ordering};
        /// Counts a caller as waiting until it holds the writer or gives up.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.commits.waiting.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.commits.waiting);
        let slot = self.slot.clone().lock_owned().await;
        drop(waiting);
        WriteGuard {
            slot: Some(slot),
            jobs: self.jobs.clone(),
            commits: self.commits.clone(),
            failed: Arc::new(Mutex::new(Failed::No)),
            joined: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }
}

/// The right to write: held by one transaction at a time.
pub(crate) struct WriteGuard {
    /// Taken by the job that ends the write (its commit or rollback), which
    /// lets the writer go once it has run.
    slot: Option<OwnedMutexGuard<()>>,
    jobs: tokio::sync::mpsc::UnboundedSender<Msg>,
    /// Group commit, and what the writes changed (`commits.pending`).
    commits: Arc<Commits>,
    /// The write joined a transaction that earlier writes of its group
    /// began: it runs in a savepoint of it (see [`Commits`]).
    joined: Arc<std::sync::atomic::AtomicBool>,
    /// Whether a statement sent without waiting ([`WriteGuard::execute_later`])
    /// failed: every later statement of the transaction, its COMMIT
    /// included, then fails instead of running.
    failed: Arc<Mutex<Failed>>,
}

/// What became of the statements a transaction did not wait for.
enum Failed {
    No,
    /// One failed with this error, which nobody has been told yet.
    With(Error),
    /// One failed, and its error has been returned.
    Told,
}

impl Failed {
    /// The error for a statement that follows a failed one, if any.
    fn check(&mut self) -> Result<(), Error> {
        if matches!(self, Failed::No) {
            return Ok(());
        }
        match std::mem::replace(self, Failed::Told) {
            Failed::With(e) => Err(e),
            _ => Err(Error::Db(
                "an earlier statement of this transaction failed; it was rolled back".into(),
            )),
        }
    }
}

impl WriteGuard {
    /// [`query`] on the writer's thread. The statement and its parameters
    /// are copied: the thread may still run it after the caller has given
    /// up waiting.
    pub(crate) async fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.run(move |c| query(c, &sql, &params)).await
    }

    /// [`execute`] on the writer's thread.
    pub(crate) async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.run(move |c| execute(c, &sql, &params)).await
    }

    /// [`execute`] on the writer's thread, for a statement whose updates
    /// change only counts that renderings leave out: they mark nothing
    /// (see [`super::stamps`]).
    pub(crate) async fn execute_counts(&self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let (sql, params, commits) = (sql.to_owned(), params.to_vec(), self.commits.clone());
        self.run(move |c| commits.pending.counts(|| execute(c, &sql, &params)))
            .await
    }

    /// [`execute`] on the writer's thread, without waiting for it: for a
    /// statement whose answer nobody reads. It runs in order with the rest
    /// of the transaction; if it fails, the next statement the transaction
    /// waits for (its COMMIT at the latest) returns the error instead of
    /// running, and the transaction rolls back. A comment's notifications,
    /// auto-follow and delivery log are such statements: each hand-over
    /// the transaction does not wait for is one fewer round trip between
    /// the writer's thread and the async worker while the writer is held.
    pub(crate) fn execute_later(&self, sql: &str, params: &[Value]) -> Result<(), Error> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.later(move |c| execute(c, &sql, &params).map(|_| ()))
    }

    /// Begins the write, without waiting (see [`WriteGuard::execute_later`]):
    /// a transaction, or a savepoint in the one that the parked writes of
    /// its group began (see [`Commits`]).
    pub(crate) fn begin(&self) -> Result<(), Error> {
        let (joined, commits) = (self.joined.clone(), self.commits.clone());
        self.later(move |c| {
            if c.is_autocommit() {
                // Nothing can be parked without a transaction open; were
                // anything, it was lost.
                commits.fail();
                batch(c, "BEGIN IMMEDIATE")
            } else {
                joined.store(true, std::sync::atomic::Ordering::Release);
                batch(c, "SAVEPOINT write")
            }
        })
    }

    /// Ends the write: releases its savepoint and parks `then` to run once
    /// the group commits, or, if a statement of the write failed, rolls the
    /// write back and runs `then` with the error. The writer is let go
    /// when this has run on its thread; the caller waits on `then`.
    pub(crate) fn commit(mut self, then: Parked) -> Result<(), Error> {
        let slot = self.slot.take();
        let (failed, joined, commits) = (
            self.failed.clone(),
            self.joined.clone(),
            self.commits.clone(),
        );
        self.send(Box::new(move |c| {
            let earlier = failed.lock().expect("writer state").check();
            let joined = joined.load(std::sync::atomic::Ordering::Acquire);
            let released = earlier.and_then(|()| {
                if joined {
                    batch(c, "RELEASE write")
                } else {
                    Ok(())
                }
            });
            match released {
                Ok(()) if !c.is_autocommit() => commits.park(c, then),
                Ok(()) => {
                    commits.fail();
                    then(Err(lost()));
                }
                Err(e) => {
                    undo(c, joined, &commits);
                    then(Err(e));
                }
            }
            drop(slot);
        }))
    }

    /// Sends `f` to the writer's thread without waiting: it runs unless a
    /// statement before it failed, and its own failure is kept for the
    /// next statement that is waited for. (The thread marks what committed
    /// after every job; nobody waits for this one's answer.)
    fn later(
        &self,
        f: impl FnOnce(&Connection) -> Result<(), Error> + Send + 'static,
    ) -> Result<(), Error> {
        let failed = self.failed.clone();
        self.send(Box::new(move |c| {
            let mut failed = failed.lock().expect("writer state");
            if matches!(*failed, Failed::No)
                && let Err(e) = f(c)
            {
                *failed = Failed::With(e);
            }
        }))
    }

    /// Runs `job` now if this is the writer's thread (after what earlier
    /// holders of the writer left queued), or sends it there.
    fn send(&self, job: Job) -> Result<(), Error> {
        let job = LOCAL.with(|l| match l.borrow_mut().as_mut() {
            Some(local) => {
                local.drain();
                local.run(job);
                None
            }
            None => Some(job),
        });
        match job {
            None => Ok(()),
            Some(job) => self.jobs.send(Msg::Job(job)).map_err(|_| Error::Closed),
        }
    }

    /// [`batch`] on the writer's thread.
    pub(crate) async fn batch(&self, sql: &str) -> Result<(), Error> {
        let sql = sql.to_owned();
        self.run(move |c| batch(c, &sql)).await
    }

    /// Runs `f` on the writer's thread and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let (commits, failed) = (self.commits.clone(), self.failed.clone());
        self.send(Box::new(move |c| {
            let earlier = failed.lock().expect("writer state").check();
            let out = earlier.and_then(|()| f(c));
            // Marked before the answer: a writer that reads its own
            // write back must not get a rendering from before it.
            if c.is_autocommit() {
                commits.pending.committed();
            }
            let _ = tx.send(out);
        }))?;
        // On the writer's thread the job has run already.
        if let Ok(out) = rx.try_recv() {
            return out;
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Rolls the write back, without waiting: it runs before any statement
    /// of the next holder of the writer, which it lets go.
    pub(crate) fn rollback(mut self) {
        let slot = self.slot.take();
        let (joined, commits) = (self.joined.clone(), self.commits.clone());
        let _ = self.send(Box::new(move |c| {
            undo(
                c,
                joined.load(std::sync::atomic::Ordering::Acquire),
                &commits,
            );
            drop(slot);
        }));
    }

    /// Commits whatever writes are parked (before a statement that cannot
    /// run inside a transaction, such as a checkpoint).
    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let commits = self.commits.clone();
        self.run(move |c| {
            commits.finish(c);
            Ok(())
        })
        .await
    }
}

/// Rolls back one write: to its savepoint if it joined a group, which then
/// commits unless more writes are coming; the whole transaction if it began
/// it. Should the transaction be gone already, the parked writes hear so.
fn undo(conn: &Connection, joined: bool, commits: &Commits) {
    let kept = joined
        && !conn.is_autocommit()
        && conn
            .execute_batch("ROLLBACK TO write; RELEASE write")
            .is_ok()
        && !conn.is_autocommit();
    if kept {
        commits.settle(conn);
        return;
    }
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    commits.fail();
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.checkpointer_stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Folds the WAL back into the database file from its own thread and
/// connection, so no request pays for a checkpoint's copying and fsync.
///
/// A PASSIVE checkpoint never waits, but under steady reads and writes it
/// never quite finishes either (some reader always holds a slightly older
/// snapshot), and SQLite starts the WAL over from its beginning only after
/// a finished one. The WAL then grows without end (2.5 GB in a minute of
/// the benchmark's 90/10 mix), and every commit appends to a growing file:
/// new pages for the kernel to allocate and zero, which took a fifth of
/// the machine. So once the WAL holds `RESTART_FRAMES` frames, the thread
/// holds the writer and runs a RESTART checkpoint, and the next commit
/// writes at the start of the WAL, into pages the kernel already has.
///
/// Writes wait for the RESTART, which copies and fsyncs every frame the
/// PASSIVE passes have not, then waits for readers to leave their older
/// snapshots. So before taking the writer the thread catches up: it runs
/// PASSIVE passes back to back until one started with few new frames
/// (`CATCH_UP_FRAMES`) since the one before, so little is left to copy
/// (unless the WAL reached `FORCE_FRAMES` first: writes outrun the
/// copying, and only holding them stops the growth). That took the
/// writer's wait from 28–40 ms at the median under load to 1.5–4 ms
/// (BENCHMARKS.md, "Checkpoints that catch up first").
///
/// The thread runs at the lowest priority (nice 19): its copying is
/// background work, and at normal priority a pass of 5–15 ms held a core
/// that requests were waiting for. What holds the writer must not wait for
/// such a thread, though, so the RESTART is not run here: a task on the
/// async runtime waits for the writer, and the writer's own thread runs
/// the RESTART and lets the writer go, at normal priority.
///
/// Each pass also has the writer look for commits it did not make
/// ([`outside_commits`]).
fn spawn_checkpointer(
    path: PathBuf,
    (writer, commits): (Arc<tokio::sync::Mutex<()>>, Arc<Commits>),
    jobs: tokio::sync::mpsc::UnboundedSender<Msg>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    (stamps, seen): (Arc<Stamps>, Arc<std::sync::atomic::AtomicI64>),
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    const RESTART_FRAMES: i64 = 1_000;
    const CATCH_UP_FRAMES: i64 = 500;
    const FORCE_FRAMES: i64 = 32_768;
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // Lowering one's own priority needs no privilege; where it
            // fails the thread runs as before.
            let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
            let Ok(mut conn) = open_conn(&path, false) else {
                return;
            };
            // How long a PASSIVE pass waits for the WAL's locks.
            let _ = conn.busy_handler(Some(short_waits));
            // Whether a RESTART was asked for and has not run yet.
            let restarting = Arc::new(AtomicBool::new(false));
            let mut before = 0;
            let mut catching_up = false;
            let mut looked = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if !catching_up {
                    std::thread::sleep(Duration::from_millis(200));
                }
                if looked.elapsed() >= Duration::from_millis(200) {
                    looked = std::time::Instant::now();
                    let (seen, stamps) = (seen.clone(), stamps.clone());
                    let _ = jobs.send(Msg::Job(Box::new(move |conn: &mut Connection| {
                        outside_commits(conn, &seen, &stamps);
                    })));
                }
                if restarting.load(Ordering::Acquire) {
                    continue;
                }
                let frames = checkpoint(&conn, "PASSIVE");
                // Appended since the pass before started (all of them if
                // the WAL started over in between).
                let new = if frames >= before {
                    frames - before
                } else {
                    frames
                };
                before = frames;
                if frames < RESTART_FRAMES {
                    catching_up = false;
                    continue;
                }
                catching_up = new > CATCH_UP_FRAMES && frames < FORCE_FRAMES;
                if !catching_up {
                    restarting.store(true, Ordering::Release);
                    let (writer, jobs, done) = (writer.clone(), jobs.clone(), restarting.clone());
                    let commits = commits.clone();
                    runtime.spawn(async move {
                        let writes_wait = writer.lock_owned().await;
                        let _ = jobs.send(Msg::Job(Box::new(move |conn: &mut Connection| {
                            let held = std::time::Instant::now();
                            // Readers leave old snapshots within
                            // microseconds; writes wait meanwhile, so the
                            // writer's long busy timeout is not for this.
                            let _ = conn.busy_handler(Some(short_waits));
                            // A checkpoint runs outside any transaction.
                            commits.finish(conn);
                            checkpoint(conn, "RESTART");
                            let _ = conn.busy_timeout(BUSY_TIMEOUT);
                            tracing::debug!(frames, new, held = ?held.elapsed(), "WAL restarted");
                            drop(writes_wait);
                            done.store(false, Ordering::Release);
                        })));
                    });
                    before = 0;
                }
            }
        });
}

/// On the writer's connection: whether another connection committed since
/// the last look (`PRAGMA data_version`; this process's readers never
/// commit, so that is another process, such as `chorus admin`), and if so,
/// everything kept against stamps is outdated: nobody marked those rows.
fn outside_commits(conn: &Connection, seen: &std::sync::atomic::AtomicI64, stamps: &Stamps) {
    use std::sync::atomic::Ordering;
    let Ok(version) = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)) else {
        return;
    };
    let before = seen.swap(version, Ordering::AcqRel);
    if before != version {
        tracing::debug!("another process committed; cached renderings and tokens outdated");
        stamps.outdate_all();
    }
}

/// Runs `PRAGMA wal_checkpoint(mode)` and returns the frames the WAL held
/// when it started (0 if it failed).
fn checkpoint(conn: &Connection, mode: &str) -> i64 {
    let started = std::time::Instant::now();
    let frames = conn
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            r.get::<_, i64>(1)
        })
        .unwrap_or(0);
    let took = started.elapsed();
    if took > super::SLOW {
        tracing::debug!(mode, frames, ?took, "slow checkpoint");
    }
    frames
}

/// The checkpointer's busy handler: SQLite's own sleeps 1, 2, 5, 10 ms…
/// between tries, far longer than a reader holds an old snapshot, and
/// writes wait for every one of them during a RESTART. This one tries
/// again every 100 µs, 200 times (20–30 ms, as the sleeps run long).
fn short_waits(tries: i32) -> bool {
    if tries >= 200 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(100));
    true
}

struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    size: usize,
}

/// A pooled read connection; returns to the pool when dropped.
pub(crate) struct Reader {
    conn: Option<Connection>,
    pool: Arc<ReaderPool>,
    _permit: OwnedSemaphorePermit,
}

impl Reader {
    pub(crate) fn conn(&mut self) -> &Connection {
        self.conn.as_ref().expect("reader in use")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.idle.lock().expect("reader pool").push(conn);
        }
    }
}

/// How long a connection waits for another's lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const PRAGMAS: &str = "
    PRAGMA foreign_keys = ON;
    PRAGMA synchronous = NORMAL;
    PRAGMA temp_store = MEMORY;
    PRAGMA cache_size = -16000;
";

fn open_conn(path: &Path, read_only: bool) -> Result<Connection, Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        unavailable(
            path,
            format!("{e}. Check that the data directory exists and is writable by this user."),
        )
    })?;
    conn.execute_batch(PRAGMAS).map_err(map_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    // Query-planner stability: plans do not depend on bound values, so a
    // cached statement is never re-prepared because a parameter changed
    // (which otherwise costs a full re-parse on every execution).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// A reading connection: the same settings, and it refuses to write.
fn open_reader(path: &Path) -> Result<Connection, Error> {
    let r = open_conn(path, true)?;
    r.execute_batch("PRAGMA query_only = ON;")
        .map_err(map_err)?;
    Ok(r)
}

impl Sqlite {
    pub(crate) async fn open(path: &str, options: &super::Options) -> Result<Sqlite, Error> {
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                unavailable(
                    &path,
                    format!("cannot create directory {}: {e}", dir.display()),
                )
            })?;
        }
        let serving = if options.serving {
            Some(serving_lock(&path)?)
        } else {
            None
        };
        let writer = open_conn(&path, false)?;
        // WAL is a property of the file; the writer sets it once.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(map_err)?;
        writer
            .execute_batch(
                // Checkpoints are the checkpoint thread's; a WAL that a
                // burst of writes made large is cut back to 64 MB when it
                // starts over.
                "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unavailable(
                &path,
                format!("could not switch to WAL mode (got {mode})"),
            ));
        }
        let size = options.max_connections.max(1);
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(open_reader(&path)?);
        }
        // What the writer's connection counts of other connections'
        // commits, before anything is kept against stamps.
        let seen = Arc::new(std::sync::atomic::AtomicI64::new(
            writer
                .query_row("PRAGMA data_version", [], |r| r.get(0))
                .map_err(map_err)?,
        ));
        let checkpointer_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stamps = Arc::new(Stamps::default());
        let writer = Writer::spawn(writer, stamps.clone())?;
        if options.checkpoints {
            spawn_checkpointer(
                path.clone(),
                (writer.slot.clone(), writer.commits.clone()),
                writer.jobs.clone(),
                checkpointer_stop.clone(),
                (stamps.clone(), seen),
            );
        }
        Ok(Sqlite {
            serving: Mutex::new(serving),
            checkpointer_stop,
            stamps,
            path,
            writer,
            readers: Arc::new(ReaderPool {
                idle: Mutex::new(idle),
                permits: Arc::new(Semaphore::new(size)),
                size,
            }),
        })
    }

    /// Marks of the rows the writer changed (see [`super::stamps`]).
    pub(crate) fn stamps(&self) -> &Stamps {
        &self.stamps
    }

    pub(crate) async fn reader(&self) -> Result<Reader, Error> {
        let permit = self
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let conn = self.readers.idle.lock().expect("reader pool").pop();
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        Ok(Reader {
            conn: Some(conn),
            pool: self.readers.clone(),
            _permit: permit,
        })
    }

    /// The writes committed, and the COMMITs they took.
    pub(crate) fn commit_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        let c = &self.writer.commits;
        (
            c.carried.load(Ordering::Relaxed),
            c.committed.load(Ordering::Relaxed),
        )
    }

    pub(crate) async fn writer(&self) -> WriteGuard {
        let asked = std::time::Instant::now();
        let w = self.writer.lock().await;
        super::log_wait(asked, "a write waited for the writer");
        w
    }

    /// Runs `task` on the writer's thread (see [`Writer`]).
    pub(crate) fn on_writer(&self, task: Task) -> Result<(), Error> {
        self.writer.spawn_task(task)
    }

    pub(crate) async fn close(&self) {
        // Wait until every reader is back, then fold the WAL into the file.
        let all = self.readers.size as u32;
        if let Ok(Ok(permits)) = tokio::time::timeout(
            Duration::from_secs(10),
            self.readers.permits.acquire_many(all),
        )
        .await
        {
            permits.forget();
            self.readers.permits.close();
            self.readers.idle.lock().expect("reader pool").clear();
        }
        self.checkpointer_stop
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let writer = self.writer().await;
        let _ = writer.flush().await;
        let _ = writer.batch("PRAGMA wal_checkpoint(TRUNCATE);").await;
        drop(writer);
        // Another server may serve the file now.
        self.serving.lock().expect("serving lock").take();
    }
}

/// The database file at `path` cannot be used, for the reason `message`.
fn unavailable(path: &Path, message: String) -> Error {
    Error::Unavailable {
        url: format!("sqlite://{}", path.display()),
        message,
    }
}

/// Takes the lock that says a server serves the database at `path` (see
/// `Options::serving`): an exclusive lock on the file `<path>-serving`,
/// which holds the serving process's id for the message a second server
/// gets. The lock goes with the process, so one that was killed leaves
/// nothing to clean up.
fn serving_lock(path: &Path) -> Result<std::fs::File, Error> {
    use std::io::{Read, Seek, Write};
    let mut name = path.as_os_str().to_owned();
    name.push("-serving");
    let lock_path = PathBuf::from(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| {
            unavailable(
                path,
                format!(
                    "cannot open {}: {e}. Check that the data directory is writable by this user.",
                    lock_path.display()
                ),
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let who = if pid.is_empty() {
                String::new()
            } else {
                format!(" (process {pid})")
            };
            return Err(unavailable(
                path,
                format!(
                    "another Chorus server{who} is serving this database: it holds {}. Stop that \
                 server first, or give this one another --database-url.",
                    lock_path.display()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(unavailable(
                path,
                format!("cannot lock {}: {e}", lock_path.display()),
            ));
        }
    }
    // Only the holder writes its id; a failure here leaves the message
    // without it, nothing worse.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(file)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Float(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

/// Rewrites PostgreSQL's `$1` placeholders to SQLite's `?1`, which bind by
/// number whatever order they appear in. Quoted text is left alone. It runs
/// before every statement (the prepared-statement cache is keyed by the
/// rewritten text), so it works on bytes and copies the runs between
/// placeholders whole: every byte it looks for is ASCII, so each cut falls
/// on a character boundary.
fn placeholders(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return sql.into();
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\'' {
            quoted = !quoted;
        } else if b == b'$' && !quoted && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.push_str(&sql[start..i]);
            out.push('?');
            start = i + 1;
        }
    }
    out.push_str(&sql[start..]);
    out.into()
}

fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[Value],
) -> Result<rusqlite::CachedStatement<'c>, Error> {
    let mut stmt = conn.prepare_cached(&placeholders(sql)).map_err(map_err)?;
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p).map_err(map_err)?;
    }
    Ok(stmt)
}

pub(crate) fn query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
    let mut stmt = prepare(conn, sql, params)?;
    let ncols = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(map_err)? {
        let mut vals = Vec::with_capacity(ncols);
        for i in 0..ncols {
            vals.push(match r.get_ref(i).map_err(map_err)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Float(v),
                ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
                    Ok(s) => s.to_owned(),
                    Err(_) => String::from_utf8_lossy(t).into_owned(),
                }),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        out.push(Row(vals));
    }
    Ok(out)
}

pub(crate) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, Error> {
    let mut stmt = prepare(conn, sql, params)?;
    let n = stmt.raw_execute().map_err(map_err)?;
    Ok(n as u64)
}

pub(crate) fn batch(conn: &Connection, sql: &str) -> Result<(), Error> {
    conn.execute_batch(sql).map_err(map_err)
}

pub(crate) fn map_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_default();
        match f.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return Error::Conflict(crate::Unique::from_sqlite(&msg));
            }
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return Error::ForeignKey(msg),
            _ => {}
        }
        if f.code == rusqlite::ErrorCode::DatabaseBusy {
            return Error::Busy;
        }
    }
    Error::Db(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn rewrites_placeholders_outside_quotes() {
        assert_eq!(
            placeholders("SELECT $1, '$2', $10 FROM t WHERE a = $2"),
            "SELECT ?1, '$2', ?10 FROM t WHERE a = ?2"
        );
        assert_eq!(
            placeholders("SELECT 'é$1' || $1, 'ü' FROM t WHERE a = $2 AND b = '$'"),
            "SELECT 'é$1' || ?1, 'ü' FROM t WHERE a = ?2 AND b = '$'"
        );
        assert_eq!(placeholders("$1"), "?1");
        assert_eq!(placeholders("a $ b $x $"), "a $ b $x $");
        assert_eq!(placeholders("no parameters"), "no parameters");
    }

    /// The bundled SQLite is built as the workspace's `.cargo/config.toml`
    /// says: without memory statistics (with them every allocation takes
    /// one process-wide mutex, which readers and the writer contend for),
    /// and with page caches that keep their first thousand pages in one
    /// block (a cache emptied by a commit then frees nothing to malloc).
    #[test]
    fn sqlite_is_built_with_the_workspace_flags() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for flag in ["DEFAULT_MEMSTATUS=0", "DEFAULT_PCACHE_INITSZ=1000"] {
            assert!(options.iter().any(|o| o == flag), "{flag}: {options:?}");
        }
    }
}
