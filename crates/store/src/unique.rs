//! Which unique key a write ran into, decided from the database's error
//! code and the key's table and columns, the same on both backends.

/// A unique key of the schema: [`crate::Error::Conflict`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unique {
    /// `members (handle)`.
    MemberHandle,
    /// `members (email)`.
    MemberEmail,
    /// `spaces (slug)`.
    SpaceSlug,
    /// `jobs (unique_key)`, held by a queued or running job.
    JobKey,
    /// Any other key, for messages and logs: its table, then its columns
    /// (SQLite) or its index (PostgreSQL).
    Other { table: String, key: String },
}

/// The named keys: table, columns, and the index's name on PostgreSQL
/// (the migrations name them; a test checks each on both backends).
const KEYS: &[(Unique, &str, &[&str], &str)] = &[
    (
        Unique::MemberHandle,
        "members",
        &["handle"],
        "members_handle_key",
    ),
    (
        Unique::MemberEmail,
        "members",
        &["email"],
        "members_email_key",
    ),
    (Unique::SpaceSlug, "spaces", &["slug"], "spaces_slug_key"),
    (Unique::JobKey, "jobs", &["unique_key"], "jobs_unique_key"),
];

impl Unique {
    /// SQLite (`SQLITE_CONSTRAINT_UNIQUE` or `_PRIMARYKEY`): the key from
    /// the columns its message lists, `table.column, table.column`.
    pub(crate) fn from_sqlite(message: &str) -> Unique {
        let list = message
            .strip_prefix("UNIQUE constraint failed: ")
            .unwrap_or(message);
        let mut table = "";
        let mut columns = Vec::new();
        for c in list.split(", ") {
            let (t, column) = c.split_once('.').unwrap_or(("", c));
            table = t;
            columns.push(column);
        }
        KEYS.iter()
            .find(|(_, t, cols, _)| *t == table && *cols == columns.as_slice())
            .map_or_else(
                || Unique::Other {
                    table: table.to_owned(),
                    key: columns.join(", "),
                },
                |(u, ..)| u.clone(),
            )
    }

    /// PostgreSQL (SQLSTATE 23505): the key from its table and index.
    pub(crate) fn from_postgres(table: Option<&str>, constraint: Option<&str>) -> Unique {
        let (table, constraint) = (table.unwrap_or(""), constraint.unwrap_or(""));
        KEYS.iter()
            .find(|(_, t, _, index)| *t == table && *index == constraint)
            .map_or_else(
                || Unique::Other {
                    table: table.to_owned(),
                    key: constraint.to_owned(),
                },
                |(u, ..)| u.clone(),
            )
    }
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unique::Other { table, key } => write!(f, "{table} ({key})"),
            named => {
                let (_, table, columns, _) = KEYS
                    .iter()
                    .find(|(u, ..)| u == named)
                    .expect("every named key is in KEYS");
                write!(f, "{table} ({})", columns.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Unique;

    #[test]
    fn sqlite_messages_name_table_and_columns() {
        assert_eq!(
            Unique::from_sqlite("UNIQUE constraint failed: members.handle"),
            Unique::MemberHandle
        );
        assert_eq!(
            Unique::from_sqlite("UNIQUE constraint failed: spaces.slug"),
            Unique::SpaceSlug
        );
        assert_eq!(
            Unique::from_sqlite("UNIQUE constraint failed: follows.member_id, follows.target"),
            Unique::Other {
                table: "follows".into(),
                key: "member_id, target".into()
            }
        );
        assert_eq!(Unique::MemberEmail.to_string(), "members (email)");
    }

    #[test]
    fn postgres_keys_by_table_and_index() {
        assert_eq!(
            Unique::from_postgres(Some("jobs"), Some("jobs_unique_key")),
            Unique::JobKey
        );
        assert_eq!(
            Unique::from_postgres(Some("later_t"), Some("later_t_pkey")),
            Unique::Other {
                table: "later_t".into(),
                key: "later_t_pkey".into()
            }
        );
    }
}
