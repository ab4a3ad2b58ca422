//! Who has seen an item, who has acknowledged it, and who has not yet.

use domain::social::{Audience, SpaceVisibility};

use crate::items::ItemRow;
use crate::rows::{Person, person};
use crate::{Conn, Error, Tx, params};

pub async fn mark_seen(tx: &mut Tx, item: i64, member: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_seen (item_id, member_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn seen_by(c: &mut Conn, item: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL FROM item_seen s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.seen_at",
        params![item],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

pub async fn acknowledge(tx: &mut Tx, item: i64, member: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_acks (item_id, member_id, acked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn acknowledged_by(c: &mut Conn, item: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL FROM item_acks s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.acked_at",
        params![item],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

/// The audience of an item (active members who may see it, the author
/// excepted) who have not acknowledged it: up to `limit` of them, and how
/// many in all.
pub async fn unacknowledged(
    c: &mut Conn,
    item: &ItemRow,
    limit: i64,
) -> Result<(Vec<Person>, i64), Error> {
    let audience = match item.audience() {
        Audience::Space(SpaceVisibility::Open) => {
            "(m.role <> 'guest' OR EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $2 AND sm.member_id = m.id))"
        }
        Audience::Space(_) => {
            "EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $2 AND sm.member_id = m.id)"
        }
        Audience::Profile => "(m.role <> 'guest' AND $2 = $2)",
        Audience::Direct => {
            "(EXISTS (SELECT 1 FROM item_recipients r WHERE r.item_id = $1 AND r.member_id = m.id) AND $2 = $2)"
        }
    };
    let filter = format!(
        "FROM members m WHERE m.deactivated_at IS NULL AND m.id <> $3 AND {audience}
           AND NOT EXISTS (SELECT 1 FROM item_acks a WHERE a.item_id = $1 AND a.member_id = m.id)"
    );
    let space = item.space_id.unwrap_or(0);
    let people = c
        .query(
            &format!("SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL {filter} ORDER BY m.handle LIMIT $4"),
            params![item.id, space, item.author_id, limit],
        )
        .await?
        .iter()
        .map(person)
        .collect::<Result<Vec<_>, _>>()?;
    let count = c
        .query_one(
            &format!("SELECT COUNT(*) {filter} AND $4 = $4"),
            params![item.id, space, item.author_id, limit],
        )
        .await?
        .i64(0)?;
    Ok((people, count))
}
