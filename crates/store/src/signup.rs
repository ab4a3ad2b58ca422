//! How a member comes to exist: the new member row, and the first-run
//! setup token.

use domain::Role;

use crate::profiles::{Member, member_by_id};
use crate::{Conn, Error, Tx, params};

pub async fn owner_exists(c: &mut Conn) -> Result<bool, Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM members WHERE role = 'owner' LIMIT 1",
        params![],
    )
    .await?
    .is_some())
}

pub struct NewMember<'a> {
    pub handle: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// Inserts a member. A taken handle or email is `Error::Conflict` with
/// [`Unique::MemberHandle`](crate::Unique::MemberHandle) or
/// [`Unique::MemberEmail`](crate::Unique::MemberEmail).
pub async fn insert_member(tx: &mut Tx, m: &NewMember<'_>, now: i64) -> Result<Member, Error> {
    let row = tx
        .query_one(
            "INSERT INTO members (handle, email, display_name, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            params![m.handle, m.email, m.display_name, m.role.as_str(), m.password_hash, now],
        )
        .await?;
    let id = domain::MemberId(row.i64(0)?);
    member_by_id(tx, id).await?.ok_or(Error::NotFound)
}

/// Replaces any earlier setup token with this one.
pub async fn replace_setup_token(tx: &mut Tx, token_hash: &str, now: i64) -> Result<(), Error> {
    tx.execute("DELETE FROM setup_tokens", params![]).await?;
    tx.execute(
        "INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)",
        params![token_hash, now],
    )
    .await?;
    Ok(())
}

pub async fn setup_token_valid(c: &mut Conn, token_hash: &str) -> Result<bool, Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM setup_tokens WHERE token_hash = $1",
        params![token_hash],
    )
    .await?
    .is_some())
}

/// Uses up the setup token; true when it was valid.
pub async fn take_setup_token(tx: &mut Tx, token_hash: &str) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM setup_tokens WHERE token_hash = $1",
            params![token_hash],
        )
        .await?;
    Ok(n == 1)
}
