//! Who has seen an item, who has acknowledged it, and who has not yet.

use domain::social::{Audience, SpaceVisibility};
use domain::{ItemId, MemberId, SpaceId};

use crate::items::ItemRow;
use crate::rows::{Params, Person, PersonCols, people};
use crate::{Conn, Error, Tx, params};

pub async fn mark_seen(
    tx: &mut Tx,
    item: ItemId,
    member: MemberId,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_seen (item_id, member_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn seen_by(c: &mut Conn, item: ItemId) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM item_seen s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.seen_at",
        PersonCols::sql()
    );
    people(c.query(&sql, params![item]).await?)
}

pub async fn acknowledge(
    tx: &mut Tx,
    item: ItemId,
    member: MemberId,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_acks (item_id, member_id, acked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn acknowledged_by(c: &mut Conn, item: ItemId) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM item_acks s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.acked_at",
        PersonCols::sql()
    );
    people(c.query(&sql, params![item]).await?)
}

/// The audience of an item (active members who may see it, the author
/// excepted) who have not acknowledged it: up to `limit` of them, and how
/// many in all.
pub async fn unacknowledged(
    c: &mut Conn,
    item: &ItemRow,
    limit: i64,
) -> Result<(Vec<Person>, i64), Error> {
    // The same filter for the page and the count: `$1` the item, `$2`
    // the author; the space only where the audience names it.
    let mut p = Params::new();
    let (item_p, author_p) = (p.bind(item.id), p.bind(item.author_id));
    let audience = match item.audience() {
        Audience::Space(SpaceVisibility::Open) => format!(
            "(m.role <> 'guest' OR EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = {} AND sm.member_id = m.id))",
            p.bind(item.space_id.unwrap_or(SpaceId(0)))
        ),
        Audience::Space(_) => format!(
            "EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = {} AND sm.member_id = m.id)",
            p.bind(item.space_id.unwrap_or(SpaceId(0)))
        ),
        Audience::Profile => "m.role <> 'guest'".to_owned(),
        Audience::Direct => format!(
            "EXISTS (SELECT 1 FROM item_recipients r WHERE r.item_id = {item_p} AND r.member_id = m.id)"
        ),
    };
    let filter = format!(
        "FROM members m WHERE m.deactivated_at IS NULL AND m.id <> {author_p} AND {audience}
           AND NOT EXISTS (SELECT 1 FROM item_acks a WHERE a.item_id = {item_p} AND a.member_id = m.id)"
    );
    let filter_values = p.values().len();
    let limit_p = p.bind(limit);
    let sql = format!(
        "SELECT {} {filter} ORDER BY m.handle LIMIT {limit_p}",
        PersonCols::sql()
    );
    let people = people(c.query(&sql, p.values()).await?)?;
    let count = c
        .query_one(
            &format!("SELECT COUNT(*) {filter}"),
            &p.values()[..filter_values],
        )
        .await?
        .i64(0)?;
    Ok((people, count))
}
