//! Saved searches a member follows, and what the matching job delivers
//! from them: a home entry (through [`crate::fanout::deliver_to`], so live
//! homes and SQLite's delivery log work as for any delivery), named in
//! `search_deliveries`, and a notification at `watching`.

use std::collections::HashSet;

use domain::MemberId;
use domain::kinds::NotificationReason;

use crate::rows::{Tuple, columns, in_list, with};
use crate::{Conn, Error, Row, Tx, params};

#[derive(Debug, Clone)]
pub struct SavedSearch {
    pub id: i64,
    pub member_id: MemberId,
    /// The canonical text (`domain::search::Query`'s Display).
    pub query: String,
    /// `watching`, `following` or `muted`.
    pub level: String,
    /// The newest activity the matching job has looked at.
    pub matched_upto: i64,
    pub created_at: i64,
}

columns! {
    struct SearchCols => SavedSearch {
        id: "id",
        member_id: "member_id",
        query: "query",
        level: "level",
        matched_upto: "matched_upto",
        created_at: "created_at",
    }
}

fn saved(mut r: Row) -> Result<SavedSearch, Error> {
    SearchCols::at(0).decode(&mut r)
}

/// A member's saved searches, newest first (a member has few: the service
/// caps them).
pub async fn list(c: &mut Conn, member: MemberId) -> Result<Vec<SavedSearch>, Error> {
    let sql = format!(
        "SELECT {} FROM saved_searches WHERE member_id = $1 ORDER BY id DESC",
        SearchCols::sql()
    );
    c.query(&sql, params![member])
        .await?
        .into_iter()
        .map(saved)
        .collect()
}

pub async fn count(c: &mut Conn, member: MemberId) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM saved_searches WHERE member_id = $1",
        params![member],
    )
    .await?
    .i64(0)
}

/// One of the member's searches by id (None for another's).
pub async fn get(c: &mut Conn, member: MemberId, id: i64) -> Result<Option<SavedSearch>, Error> {
    let sql = format!(
        "SELECT {} FROM saved_searches WHERE id = $1 AND member_id = $2",
        SearchCols::sql()
    );
    c.query_opt(&sql, params![id, member])
        .await?
        .map(saved)
        .transpose()
}

/// The member's search with this canonical text.
pub async fn by_query(
    c: &mut Conn,
    member: MemberId,
    query: &str,
) -> Result<Option<SavedSearch>, Error> {
    let sql = format!(
        "SELECT {} FROM saved_searches WHERE member_id = $1 AND query = $2",
        SearchCols::sql()
    );
    c.query_opt(&sql, params![member, query])
        .await?
        .map(saved)
        .transpose()
}

pub async fn insert(
    tx: &mut Tx,
    member: MemberId,
    query: &str,
    level: &str,
    matched_upto: i64,
    now: i64,
) -> Result<SavedSearch, Error> {
    let sql = format!(
        "INSERT INTO saved_searches (member_id, query, level, matched_upto, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        SearchCols::sql()
    );
    saved(
        tx.query_one(&sql, params![member, query, level, matched_upto, now])
            .await?,
    )
}

/// Sets the level of one of the member's searches; None when they have no
/// such search.
pub async fn set_level(
    tx: &mut Tx,
    member: MemberId,
    id: i64,
    level: &str,
) -> Result<Option<SavedSearch>, Error> {
    let sql = format!(
        "UPDATE saved_searches SET level = $3 WHERE id = $1 AND member_id = $2 RETURNING {}",
        SearchCols::sql()
    );
    tx.query_opt(&sql, params![id, member, level])
        .await?
        .map(saved)
        .transpose()
}

/// Moves a search's mark to `mark` (a search unmuted starts afresh: what
/// came while it was muted is not caught up).
pub async fn set_mark(tx: &mut Tx, id: i64, mark: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE saved_searches SET matched_upto = $2 WHERE id = $1",
        params![id, mark],
    )
    .await?;
    Ok(())
}

/// Deletes one of the member's searches; false when they have no such
/// search. What it delivered stays in their home.
pub async fn delete(tx: &mut Tx, member: MemberId, id: i64) -> Result<bool, Error> {
    Ok(tx
        .execute(
            "DELETE FROM saved_searches WHERE id = $1 AND member_id = $2",
            params![id, member],
        )
        .await?
        == 1)
}

/// The next `limit` searches after `after_id` that deliver (not muted),
/// whose owner is active and whose mark is below `position`, in id order:
/// one batch of the matching job.
pub async fn to_match(
    c: &mut Conn,
    after_id: i64,
    position: i64,
    limit: i64,
) -> Result<Vec<SavedSearch>, Error> {
    let sql = format!(
        "SELECT {} FROM saved_searches
         WHERE id > $1 AND level <> 'muted' AND matched_upto < $2
           AND NOT EXISTS (SELECT 1 FROM members m
                           WHERE m.id = saved_searches.member_id AND m.deactivated_at IS NOT NULL)
         ORDER BY id LIMIT $3",
        SearchCols::sql()
    );
    c.query(&sql, params![after_id, position, limit])
        .await?
        .into_iter()
        .map(saved)
        .collect()
}

/// Moves the marks of searches that matched nothing new up to `position`
/// (never back: an unmuted search's fresh mark stays; never a muted one's).
pub async fn advance_marks(tx: &mut Tx, ids: &[i64], position: i64) -> Result<(), Error> {
    for chunk in ids.chunks(128) {
        let (marks, values) = in_list(2, chunk);
        let sql = format!(
            "UPDATE saved_searches SET matched_upto = $1
             WHERE id IN ({marks}) AND matched_upto < $1 AND level <> 'muted'"
        );
        tx.execute(&sql, &with(params![position].to_vec(), values))
            .await?;
    }
    Ok(())
}

/// Delivers a search's new matches to its owner and moves its mark from
/// `seen.matched_upto` to `upto`, all in the caller's transaction. Only if
/// the search is still as the job read it (same mark, not muted, not
/// deleted): else it changes nothing and answers None. Each activity goes
/// to the owner's home once (`search_deliveries`), whichever search
/// matched it first; at `watching` also a notification. Returns the
/// activities delivered.
pub async fn deliver_matches(
    tx: &mut Tx,
    seen: &SavedSearch,
    matches: &[i64],
    upto: i64,
    now: i64,
) -> Result<Option<Vec<i64>>, Error> {
    let level = tx
        .query_opt(
            "UPDATE saved_searches SET matched_upto = $3
             WHERE id = $1 AND matched_upto = $2 AND level <> 'muted'
             RETURNING level",
            params![seen.id, seen.matched_upto, upto],
        )
        .await?;
    let Some(level) = level else { return Ok(None) };
    let watching = level.text(0)? == "watching";
    let mut delivered = Vec::new();
    for &activity in matches {
        let fresh = tx
            .query_opt(
                "INSERT INTO search_deliveries (member_id, activity_id, search_id, query)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING activity_id",
                params![seen.member_id, activity, seen.id, seen.query.as_str()],
            )
            .await?;
        if fresh.is_none() {
            continue;
        }
        crate::fanout::deliver_to(tx, activity, seen.member_id).await?;
        if watching {
            crate::notifications::notify(
                tx,
                seen.member_id,
                activity,
                NotificationReason::SearchMatch,
                now,
            )
            .await?;
        }
        delivered.push(activity);
    }
    Ok(Some(delivered))
}

/// Which of these activities a followed search of the member's delivered,
/// with that search's id and query.
pub async fn reasons(
    c: &mut Conn,
    member: MemberId,
    activities: &[i64],
) -> Result<Vec<(i64, i64, String)>, Error> {
    if activities.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in activities.chunks(128) {
        let (marks, ids) = in_list(2, chunk);
        let sql = format!(
            "SELECT activity_id, search_id, query FROM search_deliveries
             WHERE member_id = $1 AND activity_id IN ({marks})"
        );
        for r in c.query(&sql, &with(params![member].to_vec(), ids)).await? {
            out.push(Tuple::from_row(r)?);
        }
    }
    Ok(out)
}

/// What the member muted, as "type:target" keys (the home stream's mutes).
pub async fn mutes(c: &mut Conn, member: MemberId) -> Result<HashSet<String>, Error> {
    c.query(
        "SELECT target_type, target FROM follows WHERE member_id = $1 AND level = 'muted'",
        params![member],
    )
    .await?
    .into_iter()
    .map(|r| {
        let (kind, target): (String, String) = Tuple::from_row(r)?;
        Ok(format!("{kind}:{target}"))
    })
    .collect()
}
