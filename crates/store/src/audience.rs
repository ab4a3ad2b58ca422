//! Who an item reaches: audience counts, members by handle, and what the
//! visibility rule needs to know about several members at once.

use domain::{ItemId, MemberId, Role, SpaceId};

use crate::rows::{Tuple, in_list, with};
use crate::{Conn, Error, params};

/// Active members of a space: the audience of a closed or secret space.
/// (An open space's audience is the org, [`org_audience_count`], plus its
/// guests, [`space_guest_count`].)
pub async fn space_member_count(c: &mut Conn, space: SpaceId) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM space_members sm JOIN members m ON m.id = sm.member_id
         WHERE sm.space_id = $1 AND m.deactivated_at IS NULL",
        params![space],
    )
    .await?
    .i64(0)
}

/// Active guests who belong to a space (the org count leaves guests out;
/// an open space's audience adds its own).
pub async fn space_guest_count(c: &mut Conn, space: SpaceId) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members m WHERE m.role = 'guest' AND m.deactivated_at IS NULL
           AND EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $1 AND sm.member_id = m.id)",
        params![space],
    )
    .await?
    .i64(0)
}

pub async fn org_audience_count(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members WHERE deactivated_at IS NULL AND role <> 'guest'",
        params![],
    )
    .await?
    .i64(0)
}

/// Members by handle (for direct recipients and mentions): (id, handle,
/// name, role, active).
pub async fn members_by_handles(
    c: &mut Conn,
    handles: &[String],
) -> Result<Vec<(MemberId, String, String, Role, bool)>, Error> {
    let mut out = Vec::new();
    for h in handles {
        if let Some(r) = c
            .query_opt(
                "SELECT id, handle, display_name, role, deactivated_at FROM members WHERE handle = $1",
                params![h.as_str()],
            )
            .await?
        {
            let (id, handle, name, role, deactivated_at): (_, _, _, _, Option<i64>) =
                Tuple::from_row(r)?;
            out.push((id, handle, name, role, deactivated_at.is_none()));
        }
    }
    Ok(out)
}

/// What the visibility rule needs to know about members and one item:
/// (member, role, active, in the item's space, direct recipient).
pub async fn member_facts_many(
    c: &mut Conn,
    members: &[MemberId],
    space: Option<SpaceId>,
    item: ItemId,
) -> Result<Vec<(MemberId, Role, bool, bool, bool)>, Error> {
    let mut out = Vec::with_capacity(members.len());
    for chunk in members.chunks(128) {
        let (marks, ids) = in_list(3, chunk);
        let sql = format!(
            "SELECT m.id, m.role, m.deactivated_at,
                (SELECT 1 FROM space_members WHERE space_id = $1 AND member_id = m.id),
                (SELECT 1 FROM item_recipients WHERE item_id = $2 AND member_id = m.id)
             FROM members m WHERE m.id IN ({marks})"
        );
        for r in c
            .query(
                &sql,
                &with(params![space.unwrap_or(SpaceId(0)), item].to_vec(), ids),
            )
            .await?
        {
            let (id, role, deactivated_at, in_space, recipient): (
                _,
                _,
                Option<i64>,
                Option<i64>,
                Option<i64>,
            ) = Tuple::from_row(r)?;
            out.push((
                id,
                role,
                deactivated_at.is_none(),
                in_space.is_some(),
                recipient.is_some(),
            ));
        }
    }
    Ok(out)
}
