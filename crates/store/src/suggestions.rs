//! People and spaces to suggest to a member, and what to offer as they
//! type in the search box: people, spaces and topics by prefix, and their
//! recent searches.

use crate::items::{ITEM_ACCESS_JOINS, ItemAccessCols, ItemRow, item_access};
use crate::rows::{Person, PersonCols, people, person};
use crate::spaces::{Space, SpaceCols, spaces};
use crate::{Conn, Error, Kind, Tx, params};
use domain::MemberId;

/// People who share spaces with a member and whom they do not follow yet,
/// most shared spaces first.
pub async fn suggested_people(
    c: &mut Conn,
    member: MemberId,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM space_members mine
         JOIN space_members theirs ON theirs.space_id = mine.space_id AND theirs.member_id <> mine.member_id
         JOIN members m ON m.id = theirs.member_id
         WHERE mine.member_id = $1 AND m.deactivated_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.member_id = $1 AND f.target_type = 'member'
                           AND f.target = CAST(m.id AS TEXT))
         GROUP BY m.id, m.handle, m.display_name, m.avatar_version
         ORDER BY COUNT(*) DESC, m.handle LIMIT $2",
        PersonCols::sql()
    );
    people(c.query(&sql, params![member, limit]).await?)
}

/// Open spaces the member is not in, busiest over the last `since` first.
pub async fn suggested_spaces(
    c: &mut Conn,
    member: MemberId,
    since: i64,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let sql = format!(
        "SELECT {} FROM spaces s
         WHERE s.visibility = 'open' AND s.archived_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)
         ORDER BY (SELECT COUNT(*) FROM activities a WHERE a.space_id = s.id AND a.published > $2) DESC,
                  s.member_count DESC, s.slug
         LIMIT $3",
        SpaceCols::sql()
    );
    spaces(c.query(&sql, params![member, since, limit]).await?)
}

// ---- as a member types in the search box ----

/// The end of the range of strings that start with `prefix`: the prefix
/// with its last character raised by one (byte order: every string that
/// starts with the prefix sorts at or after it and before this).
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    char::MAX.to_string()
}

/// `text` as the lowered columns hold it: SQLite's `lower()` lowers ASCII
/// only, PostgreSQL's every letter.
fn lowered(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Sqlite => text.to_ascii_lowercase(),
        Kind::Postgres => text.to_lowercase(),
    }
}

/// A person the search box may offer, with the facts the rule asks
/// (`social::can_see_person`).
#[derive(Debug, Clone)]
pub struct PersonMatch {
    pub person: Person,
    pub active: bool,
    /// They share a space with the viewer.
    pub shares_a_space: bool,
}

/// People whose handle starts with `handle_prefix` or whose name, or its
/// words after the first space, start with `name_prefix`, with the facts
/// the rule asks: handles first, then names, each range read in index
/// order and bounded by `limit` (deactivated members left out). For a
/// guest (`guest`), whom the rule lets find only themselves and the
/// people who share a space with them, those are read first (a guest's
/// spaces are few) and then matched, so a common prefix costs a guest no
/// scan of everyone.
pub async fn people_by_prefix(
    c: &mut Conn,
    viewer: MemberId,
    guest: bool,
    handle_prefix: &str,
    name_prefix: &str,
    limit: i64,
) -> Result<Vec<PersonMatch>, Error> {
    let (handle, name, surname) = match c.kind() {
        Kind::Sqlite => (
            "m.handle",
            "lower(m.display_name)",
            "substr(lower(m.display_name), instr(m.display_name, ' ') + 1)",
        ),
        Kind::Postgres => (
            "(m.handle COLLATE \"C\")",
            "(lower(m.display_name) COLLATE \"C\")",
            "(substr(lower(m.display_name), strpos(m.display_name, ' ') + 1) COLLATE \"C\")",
        ),
    };
    // The prefixes' ranges are $1 to $4, the limit $5, the viewer $6.
    let matches = format!(
        "(({handle} >= $1 AND {handle} < $2) OR ({name} >= $3 AND {name} < $4)
          OR ({surname} >= $3 AND {surname} < $4))"
    );
    let candidates = if guest {
        format!(
            "SELECT m.id AS id, CASE WHEN {handle} >= $1 AND {handle} < $2 THEN 0 ELSE 1 END AS how
             FROM members m
             WHERE m.id IN (SELECT theirs.member_id FROM space_members mine
                            JOIN space_members theirs ON theirs.space_id = mine.space_id
                            WHERE mine.member_id = $6
                            UNION SELECT $6)
               AND m.deactivated_at IS NULL AND {matches}"
        )
    } else {
        let branch = |how: i64, key: &str, lo: &str, hi: &str| {
            format!(
                "SELECT * FROM (SELECT m.id AS id, {how} AS how FROM members m
                 WHERE {key} >= {lo} AND {key} < {hi} AND m.deactivated_at IS NULL
                 ORDER BY {key} LIMIT $5) b{how}"
            )
        };
        format!(
            "{} UNION ALL {} UNION ALL {}",
            branch(0, handle, "$1", "$2"),
            branch(1, name, "$3", "$4"),
            branch(2, surname, "$3", "$4"),
        )
    };
    let sql = format!(
        "SELECT {}, CASE WHEN m.deactivated_at IS NULL THEN 1 ELSE 0 END,
                CASE WHEN EXISTS (SELECT 1 FROM space_members mine
                                  JOIN space_members theirs ON theirs.space_id = mine.space_id
                                  WHERE mine.member_id = $6 AND theirs.member_id = m.id)
                     THEN 1 ELSE 0 END
         FROM ({candidates}) x JOIN members m ON m.id = x.id
         ORDER BY x.how, m.display_name, m.handle LIMIT $5 * 3",
        PersonCols::sql(),
    );
    let name_prefix = lowered(c.kind(), name_prefix);
    let handle_prefix = handle_prefix.to_ascii_lowercase();
    let rows = c
        .query(
            &sql,
            params![
                handle_prefix.as_str(),
                prefix_end(&handle_prefix),
                name_prefix.as_str(),
                prefix_end(&name_prefix),
                limit,
                viewer
            ],
        )
        .await?;
    let mut out: Vec<PersonMatch> = Vec::new();
    for mut r in rows {
        let person = person(&mut r, PersonCols::at(0))?;
        if out.iter().any(|o| o.person.id == person.id) {
            continue;
        }
        out.push(PersonMatch {
            person,
            active: r.bool(PersonCols::WIDTH)?,
            shares_a_space: r.bool(PersonCols::WIDTH + 1)?,
        });
    }
    // The one whose handle is exactly what was typed comes first.
    if let Some(i) = out.iter().position(|p| p.person.handle == handle_prefix) {
        let exact = out.remove(i);
        out.insert(0, exact);
    }
    Ok(out)
}

/// Spaces not archived whose slug or name starts with the prefixes, for
/// viewer `viewer`: slugs first, then names. SQL keeps to spaces the
/// viewer belongs to and, unless a guest, those not secret; the caller
/// asks the rule (`can_see_space`) of each.
pub async fn spaces_by_prefix(
    c: &mut Conn,
    viewer: MemberId,
    guest: bool,
    slug_prefix: &str,
    name_prefix: &str,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let (slug, name) = match c.kind() {
        Kind::Sqlite => ("s.slug", "lower(s.name)"),
        Kind::Postgres => ("(s.slug COLLATE \"C\")", "(lower(s.name) COLLATE \"C\")"),
    };
    let may_know = "s.archived_at IS NULL AND ((s.visibility <> 'secret' AND $2 = 0) OR EXISTS (
        SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1))";
    let branch = |how: i64, key: &str, lo: &str, hi: &str| {
        format!(
            "SELECT * FROM (SELECT s.id AS id, {how} AS how FROM spaces s
             WHERE {key} >= {lo} AND {key} < {hi} AND {may_know} ORDER BY {key} LIMIT $7) b{how}"
        )
    };
    let sql = format!(
        "SELECT {} FROM ({} UNION ALL {}) x JOIN spaces s ON s.id = x.id ORDER BY x.how, s.name",
        SpaceCols::sql(),
        branch(0, slug, "$3", "$4"),
        branch(1, name, "$5", "$6"),
    );
    let name_prefix = lowered(c.kind(), name_prefix);
    let slug_prefix = slug_prefix.to_ascii_lowercase();
    let rows = c
        .query(
            &sql,
            params![
                viewer,
                guest,
                slug_prefix.as_str(),
                prefix_end(&slug_prefix),
                name_prefix.as_str(),
                prefix_end(&name_prefix),
                limit
            ],
        )
        .await?;
    let mut out: Vec<Space> = Vec::new();
    for s in spaces(rows)? {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Topics that start with `prefix` (lowercase), each with its newest item
/// that SQL finds viewer `viewer` may see, as the visibility rule's facts
/// (`items::item_access`): the caller asks the rule and keeps the first
/// `limit`, so a topic only secret items carry is never offered to whom
/// may not see them. Distinct topics are read by a loose index scan of
/// `item_topics`' key, one probe per topic, `4 × limit` at most: the work
/// is bounded whatever the prefix, at the price of fewer suggestions where
/// many topics in the range are hidden from the viewer. Each topic's
/// newest 200 items are looked at, no more. The items are found first
/// (`MATERIALIZED`), then joined by key: PostgreSQL would otherwise hash
/// all of `items` to join on a subquery's value.
pub async fn topics_by_prefix(
    c: &mut Conn,
    viewer: MemberId,
    guest: bool,
    prefix: &str,
    limit: i64,
) -> Result<Vec<(String, ItemRow)>, Error> {
    let sql = format!(
        "WITH RECURSIVE t (topic, n) AS (
            SELECT MIN(topic), 1 FROM item_topics WHERE topic >= $3 AND topic < $4
            UNION ALL
            SELECT (SELECT MIN(it.topic) FROM item_topics it WHERE it.topic > t.topic AND it.topic < $4), t.n + 1
            FROM t WHERE t.topic IS NOT NULL AND t.n < $5
         ),
         v (topic, item_id) AS MATERIALIZED (
            SELECT t.topic, (
                SELECT it.item_id FROM item_topics it JOIN items c ON c.id = it.item_id
                WHERE it.topic = t.topic AND c.deleted_at IS NULL AND (
                    c.author_id = $1
                    OR (c.audience = 'profile' AND $2 = 0)
                    OR (c.audience = 'space' AND $2 = 0
                        AND EXISTS (SELECT 1 FROM spaces cs WHERE cs.id = c.space_id AND cs.visibility = 'open'))
                    OR (c.audience = 'space'
                        AND EXISTS (SELECT 1 FROM space_members cm WHERE cm.space_id = c.space_id AND cm.member_id = $1))
                    OR (c.audience = 'direct'
                        AND EXISTS (SELECT 1 FROM item_recipients cr WHERE cr.item_id = c.id AND cr.member_id = $1)))
                  AND it.item_id >= COALESCE((SELECT n.item_id FROM item_topics n WHERE n.topic = t.topic
                                              ORDER BY n.topic DESC, n.item_id DESC LIMIT 1 OFFSET 200), 0)
                ORDER BY it.item_id DESC LIMIT 1)
            FROM t WHERE t.topic IS NOT NULL
         )
         SELECT v.topic, {access} FROM v
         JOIN items i ON i.id = v.item_id
         {joins}
         ORDER BY v.topic",
        access = ItemAccessCols::sql(),
        joins = ITEM_ACCESS_JOINS,
    );
    let rows = c
        .query(
            &sql,
            params![viewer, guest, prefix, prefix_end(prefix), limit * 4],
        )
        .await?;
    let mut out = Vec::new();
    for mut r in rows {
        let topic = r.take_text(0)?;
        // A collation other than byte order may put more in the range.
        if topic.starts_with(prefix) {
            out.push((topic, item_access(&mut r, ItemAccessCols::at(1))?));
        }
    }
    Ok(out)
}

/// A member's recent searches, the latest first.
pub async fn recent_searches(
    c: &mut Conn,
    member: MemberId,
    limit: i64,
) -> Result<Vec<String>, Error> {
    c.query(
        "SELECT query FROM recent_searches WHERE member_id = $1
         ORDER BY searched_at DESC, query LIMIT $2",
        params![member, limit],
    )
    .await?
    .into_iter()
    .map(|mut r| r.take_text(0))
    .collect()
}

/// Remembers that a member searched for `query` now, keeping their `keep`
/// latest distinct searches.
pub async fn remember_search(
    tx: &mut Tx,
    member: MemberId,
    query: &str,
    now: i64,
    keep: i64,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO recent_searches (member_id, query, searched_at) VALUES ($1, $2, $3)
         ON CONFLICT (member_id, query) DO UPDATE SET searched_at = excluded.searched_at",
        params![member, query, now],
    )
    .await?;
    tx.execute(
        "DELETE FROM recent_searches WHERE member_id = $1 AND query NOT IN (
            SELECT query FROM recent_searches WHERE member_id = $1
            ORDER BY searched_at DESC, query LIMIT $2)",
        params![member, keep],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends_bound_exactly_the_strings_that_start_with_it() {
        assert_eq!(prefix_end("ab"), "ac");
        assert_eq!(prefix_end("a\u{D7FF}"), "a\u{E000}");
        assert_eq!(prefix_end("a\u{10FFFF}"), "b");
        for s in ["ab", "abz", "ab\u{10FFFF}", "ab-c"] {
            assert!(s >= "ab" && s < prefix_end("ab").as_str(), "{s}");
        }
        assert!("ac" >= prefix_end("ab").as_str());
    }
}
