//! One SQL layer over two databases.
//!
//! Chorus writes each query once, in the SQL that SQLite and PostgreSQL
//! share (`$1` placeholders, `RETURNING`, `ON CONFLICT`), and runs it on the
//! backend chosen at run time from the database URL. Where the dialects
//! differ (schema DDL, full-text search, notifications) the code asks
//! [`Conn::kind`] and branches.
//!
//! SQLite runs in-process with one writer connection (behind an async mutex,
//! so writers queue instead of spinning on `SQLITE_BUSY`) on a thread of its
//! own, and a small pool of read-only connections; WAL mode lets readers
//! proceed while the writer commits. Reads run inline on the async worker;
//! a write's statements run on the writer's thread, inline when the whole
//! write runs there ([`Db::on_writer`]). With WAL and `synchronous=NORMAL`
//! a commit is a `write()` to the WAL, not an fsync, so every call is
//! short. A committed transaction is in the WAL file before `commit()`
//! returns, so killing the process loses no acknowledged write.
//!
//! PostgreSQL uses a `deadpool-postgres` pool with per-connection prepared
//! statement caches.

pub mod bus;
mod postgres;
pub(crate) mod recent;
mod sqlite;
pub mod stamps;
mod value;

use std::cell::Cell;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use recent::Logged;
pub use value::{Row, Value};

use crate::Error;

tokio::task_local! {
    /// Queries made by the current task (one HTTP request), when the server
    /// scopes it; pages assert on this to keep their query count fixed.
    pub static QUERY_COUNT: Cell<u32>;
}

/// What the debug log calls slow: a request, a writer's statement or a
/// checkpoint pass that took longer is logged at debug level (and the
/// benchmark's driver counts reads over it), to line the two up.
pub const SLOW: std::time::Duration = std::time::Duration::from_millis(5);

/// Logs at debug level, as `what`, a part of one write that waited over
/// 2 ms since `since`: for the writer's thread to start it, for the
/// writer, or for its COMMIT.
pub(crate) fn log_wait(since: std::time::Instant, what: &str) {
    let waited = since.elapsed();
    if waited > std::time::Duration::from_millis(2) {
        tracing::debug!(?waited, "{what}");
    }
}

fn count_query(total: &AtomicU64) {
    total.fetch_add(1, Ordering::Relaxed);
    let _ = QUERY_COUNT.try_with(|c| c.set(c.get() + 1));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read connections for SQLite, all connections for PostgreSQL.
    pub max_connections: usize,
    /// Followers up to this many get a post inside the posting
    /// transaction; bigger audiences go to the background fan-out worker.
    pub fanout_inline_max: i64,
    /// SQLite: fold the WAL back into the database from a background
    /// thread. The server's handle does; a second handle on the same file
    /// beside a running server (the benchmark's) should not, or two
    /// threads checkpoint one WAL and neither holds the other's writer.
    pub checkpoints: bool,
    /// SQLite: this handle serves the file (`chorus serve`), and no other
    /// may at the same time. A server keeps recent deliveries and rendered
    /// entries in its memory, so a second one on the same file would miss
    /// the first one's deliveries and throw its caches away at every look.
    /// The handle holds a lock on `<file>-serving` until it closes (or its
    /// process ends); a second serving handle is refused. Handles that run
    /// beside the server (`chorus admin`, `chorus migrate`, the benchmark's
    /// measuring handle) do not take it; the benchmark's generate and reset,
    /// which rewrite the data set, do. PostgreSQL is shared by design.
    pub serving: bool,
    /// SQLite: fold the delivery log into `inbox` once it holds this many
    /// entries, or once its oldest is `fold_age` old (see [`recent`]).
    /// More entries per fold means fewer pages written per delivery, and
    /// more memory (about 30 bytes an entry).
    pub fold_at: usize,
    pub fold_age: std::time::Duration,
    /// Mail goes out (a relay is set): notifications enqueue a `mail` job
    /// for the members who chose mail at once (see [`crate::mail`]).
    pub mail: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_connections: 8,
            fanout_inline_max: 500,
            checkpoints: true,
            serving: false,
            fold_at: 500_000,
            fold_age: std::time::Duration::from_secs(300),
            mail: false,
        }
    }
}

/// A handle to the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    options: Options,
    backend: Backend,
    redacted_url: String,
    queries: AtomicU64,
    bus: bus::Bus,
    /// SQLite: deliveries not yet folded into `inbox` (see [`recent`]).
    recent: std::sync::Mutex<recent::Recent>,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl Db {
    /// Opens the database named by `url`: `sqlite://<path>` (or a bare path)
    /// or `postgres://…`. It does not migrate; see [`crate::migrate`].
    pub async fn open(url: &str, options: &Options) -> Result<Db, Error> {
        let redacted_url = redact_url(url);
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(postgres::Postgres::open(url, &redacted_url, options).await?)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            Backend::Sqlite(sqlite::Sqlite::open(path, options).await?)
        };
        let bus = bus::Bus::new();
        if let Backend::Postgres(_) = backend {
            bus::listen_postgres(url.to_owned(), bus.clone());
        }
        let db = Db {
            inner: Arc::new(Inner {
                options: options.clone(),
                backend,
                redacted_url,
                queries: AtomicU64::new(0),
                bus,
                recent: Default::default(),
            }),
        };
        if db.kind() == Kind::Sqlite {
            db.load_recent().await?;
        }
        Ok(db)
    }

    /// Reads the delivery log left by the last run into memory (nothing
    /// else runs yet). A database from before the log has no table: the
    /// migration that makes it makes it empty.
    async fn load_recent(&self) -> Result<(), Error> {
        let mut c = self.read().await?;
        let exists = c
            .query_opt(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'",
                &[],
            )
            .await?
            .is_some();
        if !exists {
            return Ok(());
        }
        let rows = c
            .query(
                "SELECT seq, activity_id, members FROM deliveries ORDER BY seq, activity_id",
                &[],
            )
            .await?;
        let mut recent = self.inner.recent.lock().expect("recent deliveries");
        for r in rows {
            let (seq, activity, members): (i64, i64, String) = crate::rows::Tuple::from_row(r)?;
            let members = parse_id_list(&members)
                .ok_or_else(|| Error::Db("a deliveries row has a malformed member list".into()))?;
            recent.add(&(seq, activity, members));
        }
        Ok(())
    }

    /// Deliveries in memory not yet folded into `inbox`, and the age of
    /// the oldest (SQLite; always none on PostgreSQL).
    pub fn recent_deliveries(&self) -> (usize, Option<std::time::Duration>) {
        self.inner.recent.lock().expect("recent deliveries").size()
    }

    /// The newest delivery position in memory and every entry up to it, in
    /// member order: what a fold writes.
    pub(crate) fn recent_to_fold(&self) -> Option<(i64, Vec<recent::Entry>)> {
        let (upto, mut entries) = {
            let recent = self.inner.recent.lock().expect("recent deliveries");
            let upto = recent.newest()?;
            (upto, recent.upto(upto))
        };
        // Sorted without the lock: readers and commits take it meanwhile.
        entries.sort_unstable();
        Some((upto, entries))
    }

    /// Forgets entries up to `seq`, once the fold's deletion committed.
    pub(crate) fn recent_folded(&self, seq: i64) {
        self.inner
            .recent
            .lock()
            .expect("recent deliveries")
            .drop_upto(seq);
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Marks of the rows changed since a stamp, for caches of renderings
    /// (see [`stamps`]): SQLite only, where this process is the one that
    /// writes. None on PostgreSQL.
    pub fn stamps(&self) -> Option<&stamps::Stamps> {
        match &self.inner.backend {
            Backend::Sqlite(s) => Some(s.stamps()),
            Backend::Postgres(_) => None,
        }
    }

    pub fn kind(&self) -> Kind {
        match self.inner.backend {
            Backend::Sqlite(_) => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
        }
    }

    /// The URL with any password replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> &str {
        &self.inner.redacted_url
    }

    /// Total queries run since the database was opened.
    pub fn query_total(&self) -> u64 {
        self.inner.queries.load(Ordering::Relaxed)
    }

    /// SQLite: the write transactions committed, and how many COMMITs they
    /// took (writes queued for the writer share one; see
    /// `sqlite::Commits`). None on PostgreSQL.
    pub fn commit_counts(&self) -> Option<(u64, u64)> {
        match &self.inner.backend {
            Backend::Sqlite(s) => Some(s.commit_counts()),
            Backend::Postgres(_) => None,
        }
    }

    /// Announcements of committed stream changes (see [`bus`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<bus::Announcement> {
        self.inner.bus.subscribe()
    }

    /// Wake-ups for job runners: a job was queued (see [`crate::jobs`]).
    pub fn subscribe_jobs(&self) -> tokio::sync::broadcast::Receiver<()> {
        self.inner.bus.subscribe_jobs()
    }

    /// A connection for reading.
    pub async fn read(&self) -> Result<Conn, Error> {
        let inner = match &self.inner.backend {
            Backend::Sqlite(s) => ConnInner::SqliteRead(s.reader().await?),
            Backend::Postgres(p) => ConnInner::Pg(p.get().await?),
        };
        Ok(Conn {
            inner,
            db: self.inner.clone(),
        })
    }

    /// Runs `write` (a whole write: a service call that takes the writer
    /// with [`Db::write`], given a handle to this database) where its
    /// statements cost least. On SQLite that is the writer's own thread,
    /// where each statement runs inline instead of being handed over to
    /// the thread and back (see `sqlite::Writer`); on PostgreSQL it runs
    /// here. Queries it makes count toward the caller's [`QUERY_COUNT`].
    /// Should it never answer (it panicked, or the database closed), the
    /// caller gets [`Error::Closed`].
    pub async fn on_writer<T, E, Fut>(&self, write: impl FnOnce(Db) -> Fut) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let write = write(self.clone());
        let Backend::Sqlite(s) = &self.inner.backend else {
            return write.await;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = std::time::Instant::now();
        s.on_writer(Box::pin(async move {
            log_wait(sent, "a write waited for the writer's thread to start it");
            let counted = QUERY_COUNT.scope(Cell::new(0), async move {
                let out = write.await;
                (out, QUERY_COUNT.with(Cell::get))
            });
            let _ = tx.send(counted.await);
        }))?;
        let (out, queries) = rx.await.map_err(|_| Error::Closed)?;
        let _ = QUERY_COUNT.try_with(|c| c.set(c.get() + queries));
        out
    }

    /// A transaction on the writer. It rolls back when dropped uncommitted.
    pub async fn write(&self) -> Result<Tx, Error> {
        let mut conn = match &self.inner.backend {
            Backend::Sqlite(s) => Conn {
                inner: ConnInner::SqliteWrite(s.writer().await),
                db: self.inner.clone(),
            },
            Backend::Postgres(p) => Conn {
                inner: ConnInner::Pg(p.get().await?),
                db: self.inner.clone(),
            },
        };
        let begin = match conn.kind() {
            Kind::Sqlite => "BEGIN IMMEDIATE",
            Kind::Postgres => "BEGIN",
        };
        // SQLite's BEGIN goes to the writer's thread without a wait for it:
        // the transaction's first statement follows it there, and returns
        // its error if it failed.
        match &conn.inner {
            ConnInner::SqliteWrite(w) => w.begin()?,
            _ => conn.batch(begin).await?,
        }
        Ok(Tx {
            conn: Some(conn),
            announce: None,
            logged: Vec::new(),
            stream_locked: false,
            queued_job: false,
        })
    }

    /// Waits for open connections to finish and closes the database; for
    /// SQLite this checkpoints the WAL into the main file.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(p) => p.close(),
        }
    }
}

/// A database connection: a pooled reader, or the inside of a [`Tx`].
pub struct Conn {
    inner: ConnInner,
    db: Arc<Inner>,
}

enum ConnInner {
    SqliteRead(sqlite::Reader),
    SqliteWrite(sqlite::WriteGuard),
    Pg(deadpool_postgres::Object),
}

impl Conn {
    pub fn kind(&self) -> Kind {
        match self.inner {
            ConnInner::SqliteRead(_) | ConnInner::SqliteWrite(_) => Kind::Sqlite,
            ConnInner::Pg(_) => Kind::Postgres,
        }
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.db.options
    }

    /// The member's deliveries still in memory strictly inside (`after`,
    /// `before`), the `limit` newest or oldest. Take them before reading
    /// `inbox` (see [`recent`]).
    pub(crate) fn recent_window(
        &self,
        member: i64,
        (after, before): ((i64, i64), (i64, i64)),
        limit: usize,
        newest_first: bool,
    ) -> Vec<(i64, i64)> {
        self.db.recent.lock().expect("recent deliveries").window(
            member,
            after,
            before,
            limit,
            newest_first,
        )
    }

    /// Runs a statement and returns all its rows.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        count_query(&self.db.queries);
        match &mut self.inner {
            ConnInner::SqliteRead(r) => sqlite::query(r.conn(), sql, params),
            ConnInner::SqliteWrite(w) => w.query(sql, params).await,
            ConnInner::Pg(c) => postgres::query(c, sql, params).await,
        }
    }

    /// Runs a statement that returns at most one row.
    pub async fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, Error> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a statement that must return a row.
    pub async fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, Error> {
        self.query_opt(sql, params).await?.ok_or(Error::NotFound)
    }

    /// Runs a statement and returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        count_query(&self.db.queries);
        match &mut self.inner {
            ConnInner::SqliteRead(r) => sqlite::execute(r.conn(), sql, params),
            ConnInner::SqliteWrite(w) => w.execute(sql, params).await,
            ConnInner::Pg(c) => postgres::execute(c, sql, params).await,
        }
    }

    /// [`Conn::execute`] for an UPDATE that changes only counts a rendered
    /// stream entry leaves out and each page writes afresh (an item's
    /// comment count and reaction summary): on SQLite the rows it updates
    /// are not marked as changed (see [`stamps`]). Anything else an entry
    /// shows must change through `execute`.
    pub async fn execute_counts(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        match &mut self.inner {
            ConnInner::SqliteWrite(w) => {
                count_query(&self.db.queries);
                w.execute_counts(sql, params).await
            }
            _ => self.execute(sql, params).await,
        }
    }

    /// Runs several statements without parameters (migrations, BEGIN).
    pub async fn batch(&mut self, sql: &str) -> Result<(), Error> {
        match &mut self.inner {
            ConnInner::SqliteRead(r) => sqlite::batch(r.conn(), sql),
            ConnInner::SqliteWrite(w) => w.batch(sql).await,
            ConnInner::Pg(c) => c.batch_execute(sql).await.map_err(postgres::map_err),
        }
    }

    /// Asks the database for a trivial answer: whether it serves at all
    /// (`/healthz`).
    pub async fn ping(&mut self) -> Result<(), Error> {
        self.query_one("SELECT 1", &[]).await.map(drop)
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    conn: Option<Conn>,
    announce: Option<bus::Announcement>,
    logged: Vec<Logged>,
    /// PostgreSQL: this transaction holds the stream's advisory lock.
    stream_locked: bool,
    /// This transaction queued a job, for runners to hear once it commits.
    queued_job: bool,
}

impl Tx {
    /// Commits; then, if the transaction appended to the stream, announces
    /// it — on PostgreSQL with NOTIFY, which the server delivers to every
    /// node only once the commit is durable.
    pub async fn commit(mut self) -> Result<(), Error> {
        match self.conn.take() {
            Some(Conn {
                inner: ConnInner::SqliteWrite(w),
                db,
            }) => return self.commit_sqlite(w, db).await,
            conn => self.conn = conn,
        }
        // On PostgreSQL the NOTIFYs go with the COMMIT, one round trip:
        // a transaction that appended to the stream holds the stream's
        // lock until it ends, and every writer waits for each round trip.
        let mut end = String::new();
        if self.queued_job {
            end.push_str(&format!("SELECT pg_notify('{}', ''); ", bus::JOBS_CHANNEL));
        }
        if let Some(a) = &self.announce {
            for payload in a.encode() {
                end.push_str(&format!(
                    "SELECT pg_notify('{}', '{}'); ",
                    bus::CHANNEL,
                    payload.replace('\'', "''")
                ));
            }
        }
        end.push_str("COMMIT");
        // A failed COMMIT leaves the connection to `Drop`, which rolls
        // back whatever is still open before it goes back to the pool.
        self.batch(&end).await?;
        self.conn.take();
        Ok(())
    }

    /// SQLite: the write's commit, which it may share with the writes
    /// queued behind it (`sqlite::Commits`). Its delivery entries go into
    /// memory and its announcement out once the COMMIT has run, in commit
    /// order, before the writer goes to anyone else.
    async fn commit_sqlite(mut self, w: sqlite::WriteGuard, db: Arc<Inner>) -> Result<(), Error> {
        let (logged, announce) = (std::mem::take(&mut self.logged), self.announce.take());
        let queued_job = self.queued_job;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let done = std::time::Instant::now();
        w.commit(Box::new(move |result| {
            log_wait(done, "a write waited for its COMMIT");
            if result.is_ok() {
                if !logged.is_empty() {
                    let mut recent = db.recent.lock().expect("recent deliveries");
                    for l in &logged {
                        recent.add(l);
                    }
                }
                if let Some(a) = announce {
                    db.bus.send(a);
                }
                if queued_job {
                    db.bus.send_job();
                }
            }
            let _ = tx.send(result);
        }))?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// PostgreSQL: true the first time it is asked in this transaction,
    /// which must then take the stream's advisory lock (held until the
    /// transaction ends); false after that.
    pub(crate) fn first_stream_lock(&mut self) -> bool {
        !std::mem::replace(&mut self.stream_locked, true)
    }

    /// Runs a statement whose answer (the rows it changed) nobody reads.
    /// On SQLite it goes to the writer's thread without a wait; should it
    /// fail, the next statement waited for (the COMMIT at the latest)
    /// fails with its error and the transaction rolls back
    /// (`sqlite::WriteGuard::execute_later`). On PostgreSQL it runs now.
    pub async fn execute_later(&mut self, sql: &str, params: &[Value]) -> Result<(), Error> {
        let conn = self.conn.as_mut().expect("transaction already finished");
        match &conn.inner {
            ConnInner::SqliteWrite(w) => {
                count_query(&conn.db.queries);
                w.execute_later(sql, params)
            }
            _ => conn.execute(sql, params).await.map(|_| ()),
        }
    }

    /// Records that this transaction appended stream position `id`.
    pub fn note_activity(&mut self, id: i64) {
        let a = self.announce.get_or_insert_with(bus::Announcement::default);
        a.position = a.position.max(id);
    }

    /// Records that this transaction delivered to these members' homes.
    pub fn note_delivered(&mut self, members: &[i64]) {
        let a = self.announce.get_or_insert_with(bus::Announcement::default);
        a.delivered.extend_from_slice(members);
    }

    /// Records that this transaction logged a delivery (SQLite), for
    /// memory once it commits.
    pub(crate) fn note_logged(&mut self, logged: Logged) {
        self.logged.push(logged);
    }

    /// Records that this transaction queued a job: runners are woken
    /// once it commits.
    pub(crate) fn note_job(&mut self) {
        self.queued_job = true;
    }

    /// Records that this transaction notified `member`.
    pub fn note_notified(&mut self, member: i64) {
        let a = self.announce.get_or_insert_with(bus::Announcement::default);
        if !a.notified.contains(&member) {
            a.notified.push(member);
        }
    }
}

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("transaction already finished")
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("transaction already finished")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match conn.inner {
            ConnInner::SqliteWrite(w) => w.rollback(),
            ConnInner::Pg(client) => {
                // The rollback needs an await; hand the connection to a task
                // that rolls back before it returns to the pool.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        if client.batch_execute("ROLLBACK").await.is_err() {
                            let _ = deadpool_postgres::Object::take(client);
                        }
                    });
                } else {
                    let _ = deadpool_postgres::Object::take(client);
                }
            }
            ConnInner::SqliteRead(_) => {}
        }
    }
}

/// Member ids separated by commas: the delivery log's `members` column
/// and the lists in a NOTIFY payload.
pub(crate) fn id_list(ids: &[i64]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(ids.len() * 7);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s
}

/// The ids of an [`id_list`]; None if one is not a number.
pub(crate) fn parse_id_list(s: &str) -> Option<Vec<i64>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect()
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`. A
/// URL that does not parse keeps only its scheme, since where its
/// password ends is anyone's guess.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only a URL that cannot have a password refuses one.
                let _ = parsed.set_password(Some("***"));
                return parsed.to_string();
            }
            url.to_owned()
        }
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://***"),
            None => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{id_list, parse_id_list, redact_url};

    #[test]
    fn id_lists_round_trip() {
        assert_eq!(id_list(&[3, 17, 100_000]), "3,17,100000");
        assert_eq!(id_list(&[]), "");
        assert_eq!(parse_id_list("3,17,100000"), Some(vec![3, 17, 100_000]));
        assert_eq!(parse_id_list(""), Some(vec![]));
        assert_eq!(parse_id_list("3,x"), None);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://ana:s3cr@t@db.local:5432/chorus"),
            "postgres://ana:***@db.local:5432/chorus"
        );
        assert_eq!(
            redact_url("postgres://ana@db.local/chorus"),
            "postgres://ana@db.local/chorus"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(
            redact_url("postgresql://ana:p%40ss@[::1]:5432/chorus?sslmode=require"),
            "postgresql://ana:***@[::1]:5432/chorus?sslmode=require"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_url("postgres://ana:pa#ss@db.local/chorus"),
            "postgres://***"
        );
    }
}
