//! Members as stored (the `Member` row the account modules read), the
//! member list, profile edits and avatars.

use domain::Role;

use crate::{Conn, Error, Row, Tx, params};

/// A member as stored.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub handle: String,
    pub email: String,
    pub display_name: String,
    pub title: String,
    pub team: String,
    pub about: String,
    pub about_html: String,
    pub time_zone: String,
    pub role: Role,
    pub avatar_version: i64,
    pub deactivated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Moves whenever something may take away what the member's open
    /// connections were allowed (see [`bump_auth_epoch`](crate::sessions::bump_auth_epoch)).
    pub auth_epoch: i64,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

pub(crate) const MEMBER_COLS: &str = "m.id, m.handle, m.email, m.display_name, m.title, m.team, m.about, \
    m.about_html, m.time_zone, m.role, m.avatar_version, m.deactivated_at, m.created_at, m.updated_at, m.auth_epoch";

/// How many columns [`MEMBER_COLS`] has.
pub(crate) const MEMBER_NCOLS: usize = 15;

pub(crate) fn member(r: &Row, at: usize) -> Result<Member, Error> {
    let role = r.text(at + 9)?;
    Ok(Member {
        id: r.i64(at)?,
        handle: r.text(at + 1)?,
        email: r.text(at + 2)?,
        display_name: r.text(at + 3)?,
        title: r.text(at + 4)?,
        team: r.text(at + 5)?,
        about: r.text(at + 6)?,
        about_html: r.text(at + 7)?,
        time_zone: r.text(at + 8)?,
        role: Role::parse(&role).map_err(|e| Error::Decode(e.to_string()))?,
        avatar_version: r.i64(at + 10)?,
        deactivated_at: r.opt_i64(at + 11)?,
        created_at: r.i64(at + 12)?,
        updated_at: r.i64(at + 13)?,
        auth_epoch: r.i64(at + 14)?,
    })
}

pub async fn member_by_id(c: &mut Conn, id: i64) -> Result<Option<Member>, Error> {
    let sql = format!("SELECT {MEMBER_COLS} FROM members m WHERE m.id = $1");
    c.query_opt(&sql, params![id])
        .await?
        .map(|r| member(&r, 0))
        .transpose()
}

pub async fn member_by_handle(c: &mut Conn, handle: &str) -> Result<Option<Member>, Error> {
    let sql = format!("SELECT {MEMBER_COLS} FROM members m WHERE m.handle = $1");
    c.query_opt(&sql, params![handle.to_lowercase()])
        .await?
        .map(|r| member(&r, 0))
        .transpose()
}

/// Members in handle order after `after` (a handle), `limit` of them.
pub async fn list_members(
    c: &mut Conn,
    after: Option<&str>,
    limit: i64,
    include_deactivated: bool,
) -> Result<Vec<Member>, Error> {
    let sql = format!(
        "SELECT {MEMBER_COLS} FROM members m
         WHERE m.handle > $1 AND ($2 = 1 OR m.deactivated_at IS NULL)
         ORDER BY m.handle LIMIT $3"
    );
    c.query(
        &sql,
        params![after.unwrap_or(""), include_deactivated, limit],
    )
    .await?
    .iter()
    .map(|r| member(r, 0))
    .collect()
}

/// The editable parts of a profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub team: Option<String>,
    pub about: Option<(String, String)>,
    pub time_zone: Option<String>,
    pub email: Option<String>,
}

pub async fn update_profile(
    tx: &mut Tx,
    id: i64,
    p: &ProfileChange,
    now: i64,
) -> Result<(), Error> {
    let (about, about_html) = match &p.about {
        Some((md, html)) => (Some(md.as_str()), Some(html.as_str())),
        None => (None, None),
    };
    tx.execute(
        "UPDATE members SET
            display_name = COALESCE($2, display_name),
            title = COALESCE($3, title),
            team = COALESCE($4, team),
            about = COALESCE($5, about),
            about_html = COALESCE($6, about_html),
            time_zone = COALESCE($7, time_zone),
            email = COALESCE($8, email),
            updated_at = $9
         WHERE id = $1",
        params![
            id,
            p.display_name.as_deref(),
            p.title.as_deref(),
            p.team.as_deref(),
            about,
            about_html,
            p.time_zone.as_deref(),
            p.email.as_deref(),
            now
        ],
    )
    .await?;
    Ok(())
}

pub async fn put_avatar(
    tx: &mut Tx,
    member_id: i64,
    content_type: &str,
    bytes: &[u8],
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO avatars (member_id, content_type, bytes, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (member_id) DO UPDATE SET content_type = excluded.content_type,
             bytes = excluded.bytes, updated_at = excluded.updated_at",
        params![member_id, content_type, bytes, now],
    )
    .await?;
    tx.execute(
        "UPDATE members SET avatar_version = avatar_version + 1, updated_at = $2 WHERE id = $1",
        params![member_id, now],
    )
    .await?;
    Ok(())
}

pub async fn delete_avatar(tx: &mut Tx, member_id: i64, now: i64) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM avatars WHERE member_id = $1",
        params![member_id],
    )
    .await?;
    tx.execute(
        "UPDATE members SET avatar_version = 0, updated_at = $2 WHERE id = $1",
        params![member_id, now],
    )
    .await?;
    Ok(())
}

pub async fn avatar(c: &mut Conn, member_id: i64) -> Result<Option<(String, Vec<u8>)>, Error> {
    match c
        .query_opt(
            "SELECT content_type, bytes FROM avatars WHERE member_id = $1",
            params![member_id],
        )
        .await?
    {
        Some(r) => Ok(Some((r.text(0)?, r.bytes(1)?))),
        None => Ok(None),
    }
}
