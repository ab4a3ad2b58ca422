//! The benchmark's data set (BENCHMARKS.md), and every statement the
//! benchmark runs besides the HTTP requests it measures: generating the
//! data, putting it back as generated before a run, the few reads its
//! driver makes to know what to post and when a post has arrived, reading
//! the database into the page cache, and creating the PostgreSQL database.
//!
//! The data set is deterministic for a seed. Every size is a parameter, so
//! a 50-person team or a 2,000-person division comes from the same code as
//! the 100,000-member reference set. The `bench` crate drives it; the
//! server never calls it.

mod generate;

use std::collections::HashSet;

pub use generate::generate;

use crate::{Conn, Db, Kind, params};

/// The setting that records where the generated data ends (see [`reset`]).
const MARKS: &str = "bench_marks";
/// The setting that names the shape a PostgreSQL data set was generated
/// with (see [`tag`]).
const TAG: &str = "bench_tag";

/// The size and shape of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Members.
    pub members: u32,
    /// Spaces (space 1 holds everyone; space 2 `big_space` members).
    pub spaces: u32,
    /// Members of the second-largest space.
    pub big_space: u32,
    /// Items (posts).
    pub items: u32,
    /// Comments, on recent items.
    pub comments: u32,
    /// Reactions, on recent items.
    pub reactions: u32,
    /// Follows per member: spaces joined + people + topics.
    pub follows: u32,
    /// Of those, spaces joined (besides the two big ones).
    pub space_follows: u32,
    /// Of those, topics.
    pub topic_follows: u32,
    /// Distinct topics.
    pub topics: u32,
    /// Zipf exponent of popularity (people, spaces, topics, authors).
    pub skew: f64,
    /// Days the items span, ending now.
    pub days: u32,
    /// Newest entries kept in each member's home inbox.
    pub inbox_cap: u32,
    /// Members that get an API token `bench-<id>` for the load driver.
    pub tokens: u32,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Shape {
    /// The reference data set of BENCHMARKS.md: a 100,000-member company.
    pub const REFERENCE: Shape = Shape {
        members: 100_000,
        spaces: 2_000,
        big_space: 10_000,
        items: 1_000_000,
        comments: 2_000_000,
        reactions: 2_000_000,
        follows: 150,
        space_follows: 18,
        topic_follows: 5,
        topics: 300,
        skew: 1.0,
        days: 365,
        inbox_cap: 200,
        tokens: 5_000,
        seed: 42,
    };

    /// A small data set, generated in a second or two, to check that the
    /// benchmark works.
    pub fn smoke() -> Shape {
        Shape {
            members: 300,
            spaces: 20,
            big_space: 60,
            items: 3_000,
            comments: 3_000,
            reactions: 3_000,
            follows: 30,
            space_follows: 4,
            topic_follows: 3,
            topics: 30,
            skew: 1.0,
            days: 30,
            inbox_cap: 100,
            tokens: 300,
            seed: 7,
        }
    }
}

/// The API token the data set gives member `id` (one of
/// [`token_members`]).
pub fn api_token(id: i64) -> String {
    format!("bench-{id}")
}

/// The members that have an API token `bench-<id>`.
pub fn token_members(shape: &Shape) -> Vec<i64> {
    let m = i64::from(shape.members.max(2));
    let n = i64::from(shape.tokens.min(shape.members).max(1));
    let step = (m / n).max(1);
    (0..n).map(|k| 1 + k * step).filter(|id| *id <= m).collect()
}

/// Puts the data set back as generated: removes the items, comments,
/// activities, deliveries, notifications, follows and mail jobs a
/// benchmark run added, stops the digest job's clocks, and recounts comments on the items it commented on. Every run
/// then starts from the same data (without this, each run's comments
/// would add watchers, and so notifications, to the next run's). Returns
/// false for a data set generated before marks were kept.
pub async fn reset(db: &Db) -> anyhow::Result<bool> {
    let marks = {
        let mut c = db.read().await?;
        crate::org::setting(&mut c, MARKS).await?
    };
    let Some(marks) = marks else {
        return Ok(false);
    };
    let v: Vec<i64> = marks
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [activity, item, comment, notification, delivery, at] = v[..] else {
        anyhow::bail!("{MARKS} setting is malformed: {marks}");
    };
    let mut tx = db.write().await?;
    tx.execute(
        "UPDATE items SET comment_count =
            (SELECT COUNT(*) FROM comments c WHERE c.item_id = items.id AND c.id <= $1)
         WHERE id IN (SELECT item_id FROM comments WHERE id > $1)",
        params![comment],
    )
    .await?;
    for (sql, mark) in [
        (
            "DELETE FROM jobs WHERE kind IN ('fanout', 'mail', 'list_mail') AND created_at > $1",
            at,
        ),
        ("DELETE FROM notifications WHERE id > $1", notification),
        ("DELETE FROM inbox WHERE activity_id > $1", activity),
        ("DELETE FROM activities WHERE id > $1", activity),
        ("DELETE FROM comments WHERE id > $1", comment),
        ("DELETE FROM follows WHERE created_at > $1", at),
        ("DELETE FROM item_topics WHERE item_id > $1", item),
        ("DELETE FROM item_recipients WHERE item_id > $1", item),
        ("DELETE FROM item_revisions WHERE item_id > $1", item),
        ("DELETE FROM item_seen WHERE item_id > $1", item),
        ("DELETE FROM item_acks WHERE item_id > $1", item),
        ("DELETE FROM reactions WHERE item_id > $1", item),
        ("DELETE FROM items WHERE id > $1", item),
    ] {
        tx.execute(sql, params![mark]).await?;
    }
    // The digest job's clocks: a run that sets a relay (M7) would
    // otherwise have the next run's server mail every member a digest,
    // ahead of the mail it measures.
    tx.execute(
        "UPDATE members SET digest_until = 0, digest_day = '' WHERE digest_until <> 0",
        &[],
    )
    .await?;
    if db.kind() == Kind::Sqlite {
        // The delivery log (SQLite): positions from the mark on are reused.
        tx.execute("DELETE FROM deliveries WHERE seq > $1", params![delivery])
            .await?;
    }
    tx.execute(
        "UPDATE counters SET value = $1 WHERE name = 'delivery'",
        params![delivery],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The search index's size on disk in bytes: its rows, full-text
/// indexes and their B-trees (`search…` tables with their indexes).
pub async fn search_index_bytes(db: &Db) -> anyhow::Result<i64> {
    let sql = match db.kind() {
        Kind::Sqlite => "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'search%'",
        _ => {
            "SELECT COALESCE(SUM(pg_total_relation_size(oid)), 0)::BIGINT FROM pg_class
             WHERE relname LIKE 'search%' AND relkind = 'r'"
        }
    };
    let mut c = db.read().await?;
    Ok(c.query_one(sql, &[]).await?.i64(0)?)
}

/// The shape tag [`set_tag`] recorded in the data set at `url`, if any.
pub async fn tag(url: &str) -> Option<String> {
    let db = Db::open(
        url,
        &crate::Options {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .ok()?;
    let mut c = db.read().await.ok()?;
    let t = crate::org::setting(&mut c, TAG).await.ok().flatten();
    drop(c);
    db.close().await;
    t
}

/// Records which shape the data set in `db` was generated with, so a later
/// run reuses it only for the same shape.
pub async fn set_tag(db: &Db, tag: &str) -> anyhow::Result<()> {
    let mut tx = db.write().await?;
    crate::org::put_setting(&mut tx, TAG, tag).await?;
    tx.commit().await?;
    Ok(())
}

/// The members of a space, in no order.
pub async fn space_member_ids(c: &mut Conn, space: i64) -> anyhow::Result<HashSet<i64>> {
    let rows = c
        .query(
            "SELECT member_id FROM space_members WHERE space_id = $1",
            params![space],
        )
        .await?;
    Ok(rows.iter().filter_map(|r| r.i64(0).ok()).collect())
}

/// How many follow a space (muted follows aside): the audience of a post
/// to it.
pub async fn space_followers(c: &mut Conn, space: i64) -> anyhow::Result<i64> {
    Ok(c.query_one(
        "SELECT COUNT(*) FROM follows WHERE target_type = 'space' AND target = $1 AND level <> 'muted'",
        params![space.to_string()],
    )
    .await?
    .i64(0)?)
}

/// Fan-out jobs still waiting for an item's activities: none once every
/// follower's home has it.
pub async fn fanout_pending(c: &mut Conn, item: i64) -> anyhow::Result<i64> {
    Ok(c.query_one(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'fanout'
           AND unique_key IN (SELECT 'fanout:' || id FROM activities WHERE item_id = $1)",
        params![item],
    )
    .await?
    .i64(0)?)
}

/// The newest `limit` items of a space, newest first.
pub async fn recent_items(c: &mut Conn, space: i64, limit: i64) -> anyhow::Result<Vec<i64>> {
    Ok(c.query(
        "SELECT id FROM items WHERE space_id = $1 ORDER BY id DESC LIMIT $2",
        params![space, limit],
    )
    .await?
    .iter()
    .filter_map(|r| r.i64(0).ok())
    .collect())
}

/// SQLite: rows in the delivery log (see `db::recent`), if any; None on
/// PostgreSQL or when the count fails.
pub async fn logged_deliveries(db: &Db) -> Option<i64> {
    if db.kind() != Kind::Sqlite {
        return None;
    }
    let mut c = db.read().await.ok()?;
    c.query_one("SELECT COUNT(*) FROM deliveries", params![])
        .await
        .ok()?
        .i64(0)
        .ok()
}

/// Reads the database at `url` once so it sits in the operating system's
/// page cache: the SQLite file, or on PostgreSQL every table and index
/// through `pg_prewarm` (an error where the extension is missing).
pub async fn warm(url: &str) -> anyhow::Result<()> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        for ext in ["", "-wal"] {
            if let Ok(mut f) = std::fs::File::open(format!("{path}{ext}")) {
                let _ = std::io::copy(&mut f, &mut std::io::sink());
            }
        }
        return Ok(());
    }
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_prewarm;
             SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c
             WHERE c.relkind IN ('r', 'i') AND c.relnamespace = 'public'::regnamespace;",
        )
        .await?;
    Ok(())
}

/// A connection to a PostgreSQL server's administrative database, to find,
/// drop and create the database a data set lives in.
pub struct PgAdmin {
    client: tokio_postgres::Client,
}

impl PgAdmin {
    pub async fn connect(admin_url: &str) -> anyhow::Result<PgAdmin> {
        let (client, conn) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(PgAdmin { client })
    }

    pub async fn exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self
            .client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await?
            .is_some())
    }

    /// Drops the database `name` if it exists (closing its connections)
    /// and creates it empty. The name goes into the statement as it is, so
    /// it may hold only ASCII letters, digits and `_`.
    pub async fn recreate(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "a database name of letters, digits and _ only, not {name:?}"
        );
        self.client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        self.client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        Ok(())
    }
}
