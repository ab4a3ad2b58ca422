//! The application context: what every use case needs, whichever entry
//! point calls it (an HTTP handler, a background job, a command, a test).
//!
//! Services take a [`Ctx`] and nothing from `http`: the HTTP layer's
//! `AppState` holds a `Ctx` beside what only HTTP needs (live connections,
//! write limits, the metrics recorder).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use store::Db;
use tokio_util::sync::CancellationToken;

use crate::caches::Caches;
use crate::config::Settings;
use crate::error::AppResult;

/// Database, settings, caches and clock of one running Chorus.
#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Where people reach this Chorus (`Settings::base_url`), for links.
    pub base_url: Arc<str>,
    pub caches: Arc<Caches>,
    pub clock: Clock,
    /// Cancelled when the server starts shutting down: long requests and
    /// background work end.
    pub stopping: CancellationToken,
}

impl Ctx {
    /// A context over `db` with the caches the backend allows and the
    /// system clock.
    pub fn new(db: Db, settings: Settings) -> Ctx {
        let caches = Arc::new(Caches::new(&db, &settings));
        Ctx {
            base_url: settings.base_url().into(),
            settings: Arc::new(settings),
            caches,
            db,
            clock: Clock::System,
            stopping: CancellationToken::new(),
        }
    }

    /// The current time in microseconds since the epoch, by the context's
    /// clock: what services write as the time of a change.
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Runs a whole write where its statements cost least
    /// ([`store::Db::on_writer`]: on SQLite the writer's own thread).
    pub async fn on_writer<T, Fut>(&self, write: impl FnOnce(Ctx) -> Fut) -> AppResult<T>
    where
        T: Send + 'static,
        Fut: Future<Output = AppResult<T>> + Send + 'static,
    {
        let ctx = self.clone();
        self.db.on_writer(move |_| write(ctx)).await
    }
}

/// Where services read the time: the system's, or one a test or an import
/// sets and moves.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// A time that moves only when told to (microseconds since the epoch).
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    /// A clock standing at `micros` until [`Clock::set`] or
    /// [`Clock::advance`] moves it.
    pub fn fixed(micros: i64) -> Clock {
        Clock::Fixed(Arc::new(AtomicI64::new(micros)))
    }

    pub fn now_micros(&self) -> i64 {
        match self {
            Clock::System => store::now_micros(),
            Clock::Fixed(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Sets a fixed clock to `micros`; the system clock cannot be set.
    pub fn set(&self, micros: i64) {
        if let Clock::Fixed(t) = self {
            t.store(micros, Ordering::Relaxed);
        }
    }

    /// Moves a fixed clock on by `micros`.
    pub fn advance(&self, micros: i64) {
        if let Clock::Fixed(t) = self {
            t.fetch_add(micros, Ordering::Relaxed);
        }
    }
}
