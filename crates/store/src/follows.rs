//! Follows of members, spaces, topics and items, at their levels (muted
//! included).

use crate::rows::{ListedCols, Params, Person, Tuple, listed};
use crate::{Conn, Error, Tx, params};
use domain::{ItemId, MemberId};

pub async fn put_follow(
    tx: &mut Tx,
    member: MemberId,
    target_type: &str,
    target: &str,
    level: &str,
    now: i64,
) -> Result<bool, Error> {
    let existed = tx
        .query_opt(
            "SELECT level FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
            params![member, target_type, target],
        )
        .await?;
    tx.execute(
        "INSERT INTO follows (member_id, target_type, target, level, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (member_id, target_type, target) DO UPDATE SET level = excluded.level",
        params![member, target_type, target, level, now],
    )
    .await?;
    Ok(existed.is_none())
}

/// Follows only if there is no follow yet (auto-follow never overrides a
/// choice, such as a mute).
pub async fn auto_follow(
    tx: &mut Tx,
    member: MemberId,
    target_type: &str,
    target: &str,
    level: &str,
    now: i64,
) -> Result<(), Error> {
    tx.execute_later(
        "INSERT INTO follows (member_id, target_type, target, level, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (member_id, target_type, target) DO NOTHING",
        params![member, target_type, target, level, now],
    )
    .await?;
    Ok(())
}

pub async fn delete_follow(
    tx: &mut Tx,
    member: MemberId,
    target_type: &str,
    target: &str,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
            params![member, target_type, target],
        )
        .await?;
    Ok(n == 1)
}

pub async fn follow_level(
    c: &mut Conn,
    member: MemberId,
    target_type: &str,
    target: &str,
) -> Result<Option<String>, Error> {
    c.query_opt(
        "SELECT level FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
        params![member, target_type, target],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}

/// Members following a target (not muted), in handle order.
pub async fn followers(
    c: &mut Conn,
    target_type: &str,
    target: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM follows f JOIN members m ON m.id = f.member_id
         WHERE f.target_type = $1 AND f.target = $2 AND f.level <> 'muted' AND m.handle > $3
         ORDER BY m.handle LIMIT $4",
        ListedCols::sql("f.level")
    );
    c.query(&sql, params![target_type, target, after, limit])
        .await?
        .into_iter()
        .map(listed)
        .collect()
}

pub async fn follower_count(c: &mut Conn, target_type: &str, target: &str) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM follows WHERE target_type = $1 AND target = $2 AND level <> 'muted'",
        params![target_type, target],
    )
    .await?
    .i64(0)
}

/// Followers of a target, counted up to `limit` (so the count stays cheap
/// for very popular targets).
pub async fn follower_count_upto(
    c: &mut Conn,
    target_type: &str,
    target: &str,
    limit: i64,
) -> Result<i64, Error> {
    Ok(follower_counts_upto(c, &[(target_type, target)], limit).await?[0])
}

/// [`follower_count_upto`] for several targets in one statement.
pub async fn follower_counts_upto(
    c: &mut Conn,
    targets: &[(&str, &str)],
    limit: i64,
) -> Result<Vec<i64>, Error> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    // One column per target, in the targets' order.
    let mut p = Params::new();
    let limit_p = p.bind(limit);
    let counts: Vec<String> = targets
        .iter()
        .enumerate()
        .map(|(k, (ttype, target))| {
            format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM follows WHERE target_type = {} AND target = {}
                   AND level <> 'muted' LIMIT {limit_p}) x{k})",
                p.bind(*ttype),
                p.bind(*target)
            )
        })
        .collect();
    let sql = format!("SELECT {}", counts.join(", "));
    let row = c.query_one(&sql, p.values()).await?;
    (0..targets.len()).map(|k| row.i64(k)).collect()
}

/// What a member follows: (type, target, level), newest first.
pub async fn following(
    c: &mut Conn,
    member: MemberId,
    limit: i64,
) -> Result<Vec<(String, String, String)>, Error> {
    c.query(
        "SELECT target_type, target, level FROM follows WHERE member_id = $1 ORDER BY created_at DESC LIMIT $2",
        params![member, limit],
    )
    .await?
    .into_iter()
    .map(Tuple::from_row)
    .collect()
}

/// One page of what a member follows, newest first, before the cursor
/// `(created_at, "type:target")` of the previous page's last row: rows
/// of `(created_at, target_type, target, level)`.
pub async fn following_page(
    c: &mut Conn,
    member: MemberId,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<(i64, String, String, String)>, Error> {
    let (at, key) = before.unwrap_or((i64::MAX, ""));
    c.query(
        "SELECT created_at, target_type, target, level FROM follows
         WHERE member_id = $1
           AND (created_at < $2 OR (created_at = $2 AND $3 <> '' AND target_type || ':' || target < $3))
         ORDER BY created_at DESC, target_type || ':' || target DESC LIMIT $4",
        params![member, at, key, limit],
    )
    .await?
    .into_iter()
    .map(Tuple::from_row)
    .collect()
}

/// Watchers of an item (level `watching`).
pub async fn item_watchers(c: &mut Conn, item: ItemId) -> Result<Vec<MemberId>, Error> {
    c.query(
        "SELECT member_id FROM follows WHERE target_type = 'item' AND target = $1 AND level = 'watching'",
        params![item.to_string()],
    )
    .await?
    .iter()
    .map(|r| r.i64(0).map(MemberId))
    .collect()
}
