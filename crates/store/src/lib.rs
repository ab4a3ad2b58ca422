//! Chorus's storage: the SQL layer over SQLite and PostgreSQL ([`db`]),
//! migrations ([`migrate`]), one module of queries per feature (spaces,
//! items, sessions, …), and the benchmark's data set ([`bench_data`]). SQL
//! lives only in this crate. Functions take a [`Conn`] to read or a [`Tx`]
//! to write, so a caller composes several of them into one transaction.

pub mod acks;
pub mod activities;
pub mod addresses;
pub mod audience;
pub mod bench_data;
pub mod comments;
pub mod db;
pub mod digest;
pub mod fanout;
pub mod follows;
pub mod import;
pub mod invitations;
pub mod items;
pub mod jobs;
pub mod lists;
pub mod mail;
pub mod migrate;
pub mod notifications;
pub mod org;
pub mod profiles;
pub mod reactions;
pub mod requests;
pub mod rows;
pub mod search;
pub mod searches;
pub mod sessions;
pub mod signup;
pub mod spaces;
pub mod streams;
pub mod suggestions;
pub mod throttle;
pub mod tokens;
pub mod unique;

pub use db::{Conn, Db, Kind, Options, Row, Tx, Value};
pub use unique::Unique;

/// Storage errors. `Conflict` carries the unique key that was violated,
/// which callers match (`Conflict(Unique::MemberHandle)`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(Unique),
    /// A job's claim that another runner took over (its lease ran out):
    /// what the job did in the transaction is rolled back.
    #[error("job {job} is no longer held by {claim}")]
    ClaimLost { job: i64, claim: String },
    #[error("refers to something that does not exist: {0}")]
    ForeignKey(String),
    #[error("the database is busy; try again")]
    Busy,
    /// Text the database refuses to hold (PostgreSQL: the NUL character).
    #[error("text the database cannot hold: {0}")]
    BadText(String),
    #[error("the database connection is closed")]
    Closed,
    #[error("cannot use the database at {url}: {message}")]
    Unavailable { url: String, message: String },
    #[error("cannot decode a row: {0}")]
    Decode(String),
    #[error("database error: {0}")]
    Db(String),
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        version: i64,
        name: &'static str,
        message: String,
    },
}

/// The current time in microseconds since the Unix epoch, the unit of every
/// time column.
pub fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}
