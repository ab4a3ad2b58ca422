//! Members as stored (the `Member` row the account modules read), the
//! member list, profile edits and avatars.

use domain::{Handle, MemberId, Role};

use crate::rows::{Tuple, columns};
use crate::{Conn, Error, Row, Tx, params};

/// A member as stored.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: MemberId,
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
    /// When the address was shown to be theirs; None while unverified.
    pub email_verified_at: Option<i64>,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

columns! {
    /// A member as stored (`members m`).
    pub(crate) struct MemberCols => Member {
        id: "m.id",
        handle: "m.handle",
        email: "m.email",
        display_name: "m.display_name",
        title: "m.title",
        team: "m.team",
        about: "m.about",
        about_html: "m.about_html",
        time_zone: "m.time_zone",
        role: "m.role",
        avatar_version: "m.avatar_version",
        deactivated_at: "m.deactivated_at",
        created_at: "m.created_at",
        updated_at: "m.updated_at",
        auth_epoch: "m.auth_epoch",
        email_verified_at: "m.email_verified_at",
    }
}

/// The member of a statement of [`MemberCols`] alone.
fn member(mut r: Row) -> Result<Member, Error> {
    MemberCols::at(0).decode(&mut r)
}

pub async fn member_by_id(c: &mut Conn, id: MemberId) -> Result<Option<Member>, Error> {
    let sql = format!(
        "SELECT {} FROM members m WHERE m.id = $1",
        MemberCols::sql()
    );
    c.query_opt(&sql, params![id])
        .await?
        .map(member)
        .transpose()
}

pub async fn member_by_handle(c: &mut Conn, handle: &Handle) -> Result<Option<Member>, Error> {
    let sql = format!(
        "SELECT {} FROM members m WHERE m.handle = $1",
        MemberCols::sql()
    );
    c.query_opt(&sql, params![handle.as_str()])
        .await?
        .map(member)
        .transpose()
}

/// The members with these handles (unknown ones left out), in no order:
/// the people a search found, as the directory and admin lists show them.
pub async fn members_by_handles(c: &mut Conn, handles: &[&str]) -> Result<Vec<Member>, Error> {
    if handles.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = crate::rows::Params::new();
    let marks: Vec<String> = handles.iter().map(|h| p.bind(*h)).collect();
    let sql = format!(
        "SELECT {} FROM members m WHERE m.handle IN ({})",
        MemberCols::sql(),
        marks.join(", ")
    );
    c.query(&sql, p.values())
        .await?
        .into_iter()
        .map(member)
        .collect()
}

/// The member whose account address is `email` (compared lower-cased, as
/// addresses are stored).
pub async fn member_by_email(c: &mut Conn, email: &str) -> Result<Option<Member>, Error> {
    let sql = format!(
        "SELECT {} FROM members m WHERE m.email = $1",
        MemberCols::sql()
    );
    c.query_opt(&sql, params![email.to_lowercase()])
        .await?
        .map(member)
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
        "SELECT {} FROM members m
         WHERE m.handle > $1 AND ($2 = 1 OR m.deactivated_at IS NULL)
         ORDER BY m.handle LIMIT $3",
        MemberCols::sql()
    );
    c.query(
        &sql,
        params![after.unwrap_or(""), include_deactivated, limit],
    )
    .await?
    .into_iter()
    .map(member)
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
    id: MemberId,
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
    member_id: MemberId,
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

pub async fn delete_avatar(tx: &mut Tx, member_id: MemberId, now: i64) -> Result<(), Error> {
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

pub async fn avatar(c: &mut Conn, member_id: MemberId) -> Result<Option<(String, Vec<u8>)>, Error> {
    match c
        .query_opt(
            "SELECT content_type, bytes FROM avatars WHERE member_id = $1",
            params![member_id],
        )
        .await?
    {
        Some(r) => Ok(Some(Tuple::from_row(r)?)),
        None => Ok(None),
    }
}
