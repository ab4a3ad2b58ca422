//! Reactions on items and comments, and each item's reaction summary.

use crate::items::ItemRow;
use crate::rows::{Tuple, in_list, with};
use crate::{Conn, Error, Kind, Tx, params};
use domain::{CommentId, ItemId, MemberId};

pub async fn add_reaction(
    tx: &mut Tx,
    item: ItemId,
    comment: CommentId,
    member: MemberId,
    emoji: &str,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO reactions (item_id, comment_id, member_id, emoji, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            params![item, comment, member, emoji, now],
        )
        .await?;
    if n == 1 && comment == CommentId(0) {
        summarise_reactions(tx, item).await?;
    }
    Ok(n == 1)
}

/// Rewrites an item's `reaction_summary` from its reactions.
async fn summarise_reactions(tx: &mut Tx, item: ItemId) -> Result<(), Error> {
    let rows = tx
        .query(
            "SELECT emoji, COUNT(*) FROM reactions WHERE item_id = $1 AND comment_id = 0
             GROUP BY emoji ORDER BY MIN(created_at), emoji",
            params![item],
        )
        .await?;
    let mut summary = String::new();
    for r in rows {
        let (emoji, count): (String, i64) = Tuple::from_row(r)?;
        if !summary.is_empty() {
            summary.push('\n');
        }
        summary.push_str(&format!("{emoji}\t{count}"));
    }
    tx.execute_counts(
        "UPDATE items SET reaction_summary = $2 WHERE id = $1",
        params![item, summary],
    )
    .await?;
    Ok(())
}

/// Fills every item's `reaction_summary` from the reactions table (after a
/// bulk load; the write path keeps it current otherwise).
pub async fn summarise_all_reactions(tx: &mut Tx) -> Result<(), Error> {
    let sql = match tx.kind() {
        Kind::Sqlite => {
            "UPDATE items SET reaction_summary = (
                 SELECT group_concat(emoji || char(9) || n, char(10) ORDER BY first, emoji)
                 FROM (SELECT emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions r
                       WHERE r.item_id = items.id AND r.comment_id = 0 GROUP BY emoji))
             WHERE id IN (SELECT item_id FROM reactions WHERE comment_id = 0)"
        }
        Kind::Postgres => {
            "UPDATE items SET reaction_summary = s.summary
             FROM (SELECT item_id, string_agg(emoji || E'\\t' || n, E'\\n' ORDER BY first, emoji) AS summary
                   FROM (SELECT item_id, emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions
                         WHERE comment_id = 0 GROUP BY item_id, emoji) g
                   GROUP BY item_id) s
             WHERE items.id = s.item_id"
        }
    };
    tx.batch(sql).await
}

/// Reaction counts of items from their summaries, with whether the viewer
/// gave each: (item, 0, emoji, count, viewer reacted), the shape of
/// [`reaction_counts`]. The item rows carry both, so nothing is counted or
/// read again.
pub fn item_reactions(items: &[&ItemRow]) -> Result<Vec<ReactionCount>, Error> {
    let mut out = Vec::new();
    for i in items {
        for line in i.reaction_summary.lines() {
            let Some((emoji, n)) = line.split_once('\t') else {
                continue;
            };
            let n: i64 = n
                .parse()
                .map_err(|_| Error::Decode(format!("reaction summary of item {}", i.id)))?;
            let me = i.viewer_reactions.iter().any(|e| e == emoji);
            out.push((i.id, CommentId(0), emoji.to_owned(), n, me));
        }
    }
    Ok(out)
}

pub async fn remove_reaction(
    tx: &mut Tx,
    item: ItemId,
    comment: CommentId,
    member: MemberId,
    emoji: &str,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM reactions WHERE item_id = $1 AND comment_id = $2 AND member_id = $3 AND emoji = $4",
            params![item, comment, member, emoji],
        )
        .await?;
    if n == 1 && comment == CommentId(0) {
        summarise_reactions(tx, item).await?;
    }
    Ok(n == 1)
}

/// A reaction count: (item, comment — 0 for the item itself —, emoji,
/// count, whether the viewer gave it).
pub type ReactionCount = (ItemId, CommentId, String, i64, bool);

/// The counts on one item (`comment` 0) or one of its comments, in order:
/// (emoji, count, whether the viewer gave it).
pub fn reactions_on(
    all: &[ReactionCount],
    item: ItemId,
    comment: CommentId,
) -> impl Iterator<Item = (&str, i64, bool)> {
    all.iter()
        .filter(move |r| r.0 == item && r.1 == comment)
        .map(|r| (r.2.as_str(), r.3, r.4))
}

/// Reaction counts for items (comment 0) and their comments:
/// (item, comment, emoji, count, viewer reacted).
pub async fn reaction_counts(
    c: &mut Conn,
    viewer: MemberId,
    items: &[ItemId],
) -> Result<Vec<ReactionCount>, Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let (marks, ids) = in_list(2, items);
    let sql = format!(
        "SELECT item_id, comment_id, emoji, COUNT(*), MAX(CASE WHEN member_id = $1 THEN 1 ELSE 0 END)
         FROM reactions WHERE item_id IN ({marks}) GROUP BY item_id, comment_id, emoji ORDER BY MIN(created_at)"
    );
    c.query(&sql, &with(params![viewer].to_vec(), ids))
        .await?
        .into_iter()
        .map(Tuple::from_row)
        .collect()
}
