//! Schema migrations, one numbered SQL file per step and dialect.
//!
//! The files live in `migrations/sqlite` and `migrations/postgres` and are
//! compiled into the binary. All pending steps run in one transaction
//! together with their rows in `schema_migrations` (both dialects have
//! transactional DDL), so a crash leaves the schema as it was. On PostgreSQL an advisory lock lets several nodes start at
//! once: one migrates, the others wait and then find nothing to do.

use crate::{Db, Error, Kind, params};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sqlite: include_str!("../migrations/sqlite/0001_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "social",
        sqlite: include_str!("../migrations/sqlite/0002_social.sql"),
        postgres: include_str!("../migrations/postgres/0002_social.sql"),
    },
    Migration {
        version: 3,
        name: "requests",
        sqlite: include_str!("../migrations/sqlite/0003_requests.sql"),
        postgres: include_str!("../migrations/postgres/0003_requests.sql"),
    },
    Migration {
        version: 4,
        name: "read_path",
        sqlite: include_str!("../migrations/sqlite/0004_read_path.sql"),
        postgres: include_str!("../migrations/postgres/0004_read_path.sql"),
    },
    Migration {
        version: 5,
        name: "follows_level",
        sqlite: include_str!("../migrations/sqlite/0005_follows_level.sql"),
        postgres: include_str!("../migrations/postgres/0005_follows_level.sql"),
    },
    Migration {
        version: 6,
        name: "deliveries",
        sqlite: include_str!("../migrations/sqlite/0006_deliveries.sql"),
        postgres: include_str!("../migrations/postgres/0006_deliveries.sql"),
    },
    Migration {
        version: 7,
        name: "auth_epoch",
        sqlite: include_str!("../migrations/sqlite/0007_auth_epoch.sql"),
        postgres: include_str!("../migrations/postgres/0007_auth_epoch.sql"),
    },
    Migration {
        version: 8,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0008_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0008_jobs.sql"),
    },
    Migration {
        version: 9,
        name: "mail_out",
        sqlite: include_str!("../migrations/sqlite/0009_mail_out.sql"),
        postgres: include_str!("../migrations/postgres/0009_mail_out.sql"),
    },
    Migration {
        version: 10,
        name: "list_mode",
        sqlite: include_str!("../migrations/sqlite/0010_list_mode.sql"),
        postgres: include_str!("../migrations/postgres/0010_list_mode.sql"),
    },
    Migration {
        version: 11,
        name: "digest",
        sqlite: include_str!("../migrations/sqlite/0011_digest.sql"),
        postgres: include_str!("../migrations/postgres/0011_digest.sql"),
    },
    Migration {
        version: 12,
        name: "addresses",
        sqlite: include_str!("../migrations/sqlite/0012_addresses.sql"),
        postgres: include_str!("../migrations/postgres/0012_addresses.sql"),
    },
    Migration {
        version: 13,
        name: "import",
        sqlite: include_str!("../migrations/sqlite/0013_import.sql"),
        postgres: include_str!("../migrations/postgres/0013_import.sql"),
    },
    Migration {
        version: 14,
        name: "search",
        sqlite: include_str!("../migrations/sqlite/0014_search.sql"),
        postgres: include_str!("../migrations/postgres/0014_search.sql"),
    },
    Migration {
        version: 15,
        name: "search_suggestions",
        sqlite: include_str!("../migrations/sqlite/0015_search_suggestions.sql"),
        postgres: include_str!("../migrations/postgres/0015_search_suggestions.sql"),
    },
    Migration {
        version: 16,
        name: "searches",
        sqlite: include_str!("../migrations/sqlite/0016_searches.sql"),
        postgres: include_str!("../migrations/postgres/0016_searches.sql"),
    },
];

/// An arbitrary constant that names Chorus's migration lock on PostgreSQL.
const PG_LOCK_KEY: i64 = 0x43_68_6f_72_75_73;

/// Brings the schema up to date; returns the versions it applied.
pub async fn run(db: &Db) -> Result<Vec<i64>, Error> {
    let mut applied = Vec::new();
    let mut tx = db.write().await?;
    if db.kind() == Kind::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", params![PG_LOCK_KEY])
            .await?;
    }
    tx.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .await?;
    let rows = tx
        .query("SELECT version FROM schema_migrations", params![])
        .await?;
    let done: Vec<i64> = rows.iter().map(|r| r.i64(0)).collect::<Result<_, _>>()?;
    for m in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        let sql = match db.kind() {
            Kind::Sqlite => m.sqlite,
            Kind::Postgres => m.postgres,
        };
        tx.batch(sql).await.map_err(|e| Error::Migration {
            version: m.version,
            name: m.name,
            message: e.to_string(),
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            params![m.version, m.name, crate::now_micros()],
        )
        .await?;
        applied.push(m.version);
    }
    tx.commit().await?;
    Ok(applied)
}

/// The newest version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
