//! Spaces, their members and requests to join.

use domain::kinds::SpaceRole;
use domain::social::SpaceVisibility;
use domain::{MemberId, SpaceId};

use crate::rows::{ListedCols, Person, Tuple, columns, listed, present};
use crate::{Conn, Error, Tx, params};

#[derive(Debug, Clone)]
pub struct Space {
    pub id: SpaceId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: SpaceVisibility,
    pub created_by: MemberId,
    pub member_count: i64,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    /// The viewer's role in the space, if they belong.
    pub viewer_role: Option<SpaceRole>,
    /// The viewer has asked to join.
    pub viewer_requested: bool,
}

columns! {
    /// A space (`spaces s`) for viewer `$1`.
    pub(crate) struct SpaceCols => Space {
        id: "s.id",
        slug: "s.slug",
        name: "s.name",
        description: "s.description",
        visibility: "s.visibility",
        created_by: "s.created_by",
        member_count: "s.member_count",
        archived_at: "s.archived_at",
        created_at: "s.created_at",
        viewer_role: "(SELECT sm.role FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)",
        viewer_requested: "(SELECT 1 FROM space_requests sr WHERE sr.space_id = s.id AND sr.member_id = $1)"
            as present,
    }
}

/// The spaces of a statement of [`SpaceCols`] alone.
pub(crate) fn spaces(rows: Vec<crate::Row>) -> Result<Vec<Space>, Error> {
    rows.into_iter()
        .map(|mut r| SpaceCols::at(0).decode(&mut r))
        .collect()
}

pub struct NewSpace<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: SpaceVisibility,
    pub created_by: MemberId,
}

pub async fn insert_space(tx: &mut Tx, s: &NewSpace<'_>, now: i64) -> Result<SpaceId, Error> {
    tx.query_one(
        "INSERT INTO spaces (slug, name, description, visibility, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        params![s.slug, s.name, s.description, s.visibility.as_str(), s.created_by, now],
    )
    .await?
    .i64(0)
    .map(SpaceId)
}

pub async fn space_by_slug(
    c: &mut Conn,
    viewer: MemberId,
    slug: &str,
) -> Result<Option<Space>, Error> {
    let sql = format!(
        "SELECT {} FROM spaces s WHERE s.slug = $2",
        SpaceCols::sql()
    );
    c.query_opt(&sql, params![viewer, slug.to_lowercase()])
        .await?
        .map(|mut r| SpaceCols::at(0).decode(&mut r))
        .transpose()
}

pub async fn space_by_id(
    c: &mut Conn,
    viewer: MemberId,
    id: SpaceId,
) -> Result<Option<Space>, Error> {
    let sql = format!("SELECT {} FROM spaces s WHERE s.id = $2", SpaceCols::sql());
    c.query_opt(&sql, params![viewer, id])
        .await?
        .map(|mut r| SpaceCols::at(0).decode(&mut r))
        .transpose()
}

/// Spaces the viewer may know exist, by name after `after`: open and
/// closed ones (for non-guests) and those they belong to.
pub async fn list_spaces(
    c: &mut Conn,
    viewer: MemberId,
    guest: bool,
    only_mine: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let sql = format!(
        "SELECT {} FROM spaces s
         WHERE s.slug > $2 AND s.archived_at IS NULL
           AND (EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)
                OR ($3 = 0 AND $4 = 0 AND s.visibility <> 'secret'))
         ORDER BY s.slug LIMIT $5",
        SpaceCols::sql()
    );
    spaces(
        c.query(&sql, params![viewer, after, guest, only_mine, limit])
            .await?,
    )
}

pub async fn update_space(
    tx: &mut Tx,
    id: SpaceId,
    name: Option<&str>,
    description: Option<&str>,
    visibility: Option<SpaceVisibility>,
    archived: Option<Option<i64>>,
    now: i64,
) -> Result<(), Error> {
    let (set_archived, archived_at) = match archived {
        Some(v) => (1, v),
        None => (0, None),
    };
    tx.execute(
        "UPDATE spaces SET name = COALESCE($2, name), description = COALESCE($3, description),
            visibility = COALESCE($4, visibility),
            archived_at = CASE WHEN $5 = 1 THEN $6 ELSE archived_at END, updated_at = $7
         WHERE id = $1",
        params![
            id,
            name,
            description,
            visibility.map(|v| v.as_str()),
            set_archived,
            archived_at,
            now
        ],
    )
    .await?;
    Ok(())
}

/// Adds (or re-roles) a member; returns true when they were not in yet.
pub async fn add_space_member(
    tx: &mut Tx,
    space: SpaceId,
    member: MemberId,
    role: SpaceRole,
    now: i64,
) -> Result<bool, Error> {
    let existing = tx
        .query_opt(
            "SELECT role FROM space_members WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    tx.execute(
        "DELETE FROM space_requests WHERE space_id = $1 AND member_id = $2",
        params![space, member],
    )
    .await?;
    if existing.is_some() {
        tx.execute(
            "UPDATE space_members SET role = $3 WHERE space_id = $1 AND member_id = $2",
            params![space, member, role.as_str()],
        )
        .await?;
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO space_members (space_id, member_id, role, joined_at) VALUES ($1, $2, $3, $4)",
        params![space, member, role.as_str(), now],
    )
    .await?;
    tx.execute(
        "UPDATE spaces SET member_count = member_count + 1 WHERE id = $1",
        params![space],
    )
    .await?;
    Ok(true)
}

pub async fn remove_space_member(
    tx: &mut Tx,
    space: SpaceId,
    member: MemberId,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM space_members WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    if n == 1 {
        tx.execute(
            "UPDATE spaces SET member_count = member_count - 1 WHERE id = $1",
            params![space],
        )
        .await?;
    }
    Ok(n == 1)
}

pub async fn space_admin_count(c: &mut Conn, space: SpaceId) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM space_members WHERE space_id = $1 AND role = 'admin'",
        params![space],
    )
    .await?
    .i64(0)
}

pub async fn space_admins(c: &mut Conn, space: SpaceId) -> Result<Vec<MemberId>, Error> {
    c.query(
        "SELECT member_id FROM space_members WHERE space_id = $1 AND role = 'admin'",
        params![space],
    )
    .await?
    .iter()
    .map(|r| r.i64(0).map(MemberId))
    .collect()
}

pub async fn space_members(
    c: &mut Conn,
    space: SpaceId,
    after: &str,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM space_members sm JOIN members m ON m.id = sm.member_id
         WHERE sm.space_id = $1 AND m.handle > $2 ORDER BY m.handle LIMIT $3",
        ListedCols::sql("sm.role")
    );
    c.query(&sql, params![space, after, limit])
        .await?
        .into_iter()
        .map(listed)
        .collect()
}

pub async fn put_join_request(
    tx: &mut Tx,
    space: SpaceId,
    member: MemberId,
    message: &str,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO space_requests (space_id, member_id, message, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (space_id, member_id) DO NOTHING",
            params![space, member, message, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn take_join_request(
    tx: &mut Tx,
    space: SpaceId,
    member: MemberId,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM space_requests WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    Ok(n == 1)
}

pub async fn join_requests(c: &mut Conn, space: SpaceId) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM space_requests r JOIN members m ON m.id = r.member_id
         WHERE r.space_id = $1 ORDER BY r.created_at",
        ListedCols::sql("r.message")
    );
    c.query(&sql, params![space])
        .await?
        .into_iter()
        .map(listed)
        .collect()
}

/// Ids of the spaces a member belongs to.
pub async fn member_space_ids(c: &mut Conn, member: MemberId) -> Result<Vec<SpaceId>, Error> {
    c.query(
        "SELECT space_id FROM space_members WHERE member_id = $1",
        params![member],
    )
    .await?
    .iter()
    .map(|r| r.i64(0).map(SpaceId))
    .collect()
}

/// Spaces by id: (id, slug, name), for labels in lists.
pub async fn space_names(
    c: &mut Conn,
    ids: &[SpaceId],
) -> Result<Vec<(SpaceId, String, String)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids
        .iter()
        .map(SpaceId::to_string)
        .collect::<Vec<_>>()
        .join(",");
    c.query(
        &format!("SELECT id, slug, name FROM spaces WHERE id IN ({list})"),
        params![],
    )
    .await?
    .into_iter()
    .map(Tuple::from_row)
    .collect()
}
