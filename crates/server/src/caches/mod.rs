//! The server's caches, in one place, each with what makes an entry stale
//! declared beside it. Caches are per [`crate::context::Ctx`]: two Chorus
//! instances in one process (tests with two nodes) share nothing.
//!
//! - [`TokenCache`]: members by API token hash (SQLite). Stale when the
//!   token's row or its member's row changes (`store::db::stamps`).
//! - [`TokenUse`]: API tokens' last use, noted in memory and written once
//!   a minute and when the server stops (not a cache: the one place the
//!   server holds writes; a crash loses at most a minute of them).
//! - [`AudienceCounts`]: sizes of large audiences for the audience label.
//!   Stale after [`AudienceCounts::TTL`]; an expired size is answered while
//!   one background count refreshes it.
//! - `crate::caches::streams::StreamCache`: rendered stream
//!   entries (SQLite). Stale when a row the rendering shows changes
//!   (stamps), or the space's name or visibility, or the activity.
//! - `mail_key`: the server's mail key, never stale (it never changes).
//!
//! The SQLite store keeps its own speed-ups (the delivery log, the stamps)
//! inside `store::db`.

pub mod streams;

use domain::SpaceId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::Db;

use crate::config::Settings;

/// Every cache of one running Chorus.
pub struct Caches {
    /// `None` on PostgreSQL, where other processes write too and there are
    /// no stamps to tell an entry is stale.
    pub tokens: Option<TokenCache>,
    pub counts: AudienceCounts,
    /// `None` on PostgreSQL (no stamps) or when `stream_cache_mib` is 0.
    pub streams: Option<streams::StreamCache>,
    pub token_use: TokenUse,
    /// The server's mail key (`service::mail::key`): made once, never
    /// changed, so never stale.
    pub mail_key: tokio::sync::OnceCell<domain::mail::MailKey>,
}

impl Caches {
    pub fn new(db: &Db, settings: &Settings) -> Caches {
        Caches {
            tokens: db.stamps().is_some().then(TokenCache::default),
            counts: AudienceCounts::default(),
            streams: (db.stamps().is_some() && settings.stream_cache_mib > 0)
                .then(|| streams::StreamCache::new(settings.stream_cache_mib)),
            token_use: TokenUse::default(),
            mail_key: tokio::sync::OnceCell::new(),
        }
    }
}

/// Members by the hash of an API token they authenticated with, and the
/// stamp read before the statement that found them (SQLite only).
///
/// Every API request used to look its token up: a statement that, right
/// after another connection's commit, reads its pages back from the
/// operating system, 7–8% of the server's time under the benchmark's 90/10
/// load. An entry is used only while neither the token's row nor the
/// member's has changed since its stamp ([`store::db::stamps`]): revoking
/// the token, deactivating the member or changing their role or profile
/// outdates it before the writing request answers. A token not found is
/// not kept. On PostgreSQL other processes write too, and there are no
/// stamps: every request reads.
pub struct TokenCache {
    pub(crate) entries: quick_cache::sync::Cache<String, (store::tokens::TokenHolder, u64)>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            entries: quick_cache::sync::Cache::new(100_000),
        }
    }
}

/// A group whose size an audience label shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Count {
    /// Active members who are not guests.
    Org,
    /// Active members of a closed or secret space.
    Members(SpaceId),
}

/// Sizes of large audiences, kept [`AudienceCounts::TTL`]: counting a
/// 100,000-member org on every post would cost more than the post. Small
/// groups (under [`AudienceCounts::FROM`]) are never kept: counting them is
/// cheap, and a team of ten notices an off-by-one.
#[derive(Default)]
pub struct AudienceCounts {
    sizes: Mutex<HashMap<Count, (Instant, i64)>>,
}

/// What the cache holds for a group.
pub enum Kept {
    Fresh(i64),
    /// Expired: answer it, and count again (the entry is marked fresh, so
    /// only the first caller to see it expired counts).
    Stale(i64),
}

impl AudienceCounts {
    pub const TTL: Duration = Duration::from_secs(10);
    pub const FROM: i64 = 1_000;

    pub fn get(&self, what: Count) -> Option<Kept> {
        let mut map = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        let (at, n) = map.get_mut(&what)?;
        if at.elapsed() >= Self::TTL {
            *at = Instant::now();
            Some(Kept::Stale(*n))
        } else {
            Some(Kept::Fresh(*n))
        }
    }

    /// Keeps `n` as the size of `what` when it is large; returns `n`.
    pub fn remember(&self, what: Count, n: i64) -> i64 {
        if n >= Self::FROM {
            self.sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(what, (Instant::now(), n));
        }
        n
    }
}

/// When each API token was last used, as its owner sees it in the token
/// list, written in the background: a request that authenticates with a
/// token only notes the time in memory, at most once per
/// [`TokenUse::EVERY`] for a token in use, and [`TokenUse::flush`] writes
/// what was noted (once a minute, and when the server stops). A crash
/// loses at most that minute's notes: no request waited for them.
#[derive(Debug, Default)]
pub struct TokenUse {
    noted: std::sync::Mutex<HashMap<i64, i64>>,
}

impl TokenUse {
    /// How stale a token's recorded use may get while it is in use.
    pub const EVERY: i64 = 10 * 60 * 1_000_000;
    /// Tokens' uses written per transaction.
    const BATCH: usize = 100;

    /// Notes that token `id`, last recorded as used at `recorded`, was
    /// used at `now`.
    pub fn note(&self, id: i64, recorded: Option<i64>, now: i64) {
        if recorded.is_some_and(|r| now - r < Self::EVERY) {
            return;
        }
        self.noted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, now);
    }

    /// Writes the uses noted so far, a hundred tokens a transaction.
    pub async fn flush(&self, db: &Db) -> Result<(), store::Error> {
        let noted: Vec<(i64, i64)> = std::mem::take(
            &mut *self
                .noted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect();
        for batch in noted.chunks(Self::BATCH) {
            let mut tx = db.write().await?;
            for (id, at) in batch {
                store::tokens::mark_token_used(&mut tx, *id, *at).await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
