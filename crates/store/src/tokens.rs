//! API tokens: issuing, listing and revoking them, and the member behind
//! one.

use crate::profiles::{MEMBER_COLS, MEMBER_NCOLS, Member, member};
use crate::sessions::bump_auth_epoch;
use crate::{Conn, Error, Row, Tx, params};

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn api_token(r: &Row) -> Result<ApiToken, Error> {
    Ok(ApiToken {
        id: r.i64(0)?,
        name: r.text(1)?,
        prefix: r.text(2)?,
        created_at: r.i64(3)?,
        last_used_at: r.opt_i64(4)?,
    })
}

pub async fn insert_token(
    tx: &mut Tx,
    member_id: i64,
    name: &str,
    token_hash: &str,
    prefix: &str,
    now: i64,
) -> Result<ApiToken, Error> {
    let r = tx
        .query_one(
            "INSERT INTO api_tokens (member_id, name, token_hash, prefix, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, name, prefix, created_at, last_used_at",
            params![member_id, name, token_hash, prefix, now],
        )
        .await?;
    api_token(&r)
}

pub async fn list_tokens(c: &mut Conn, member_id: i64) -> Result<Vec<ApiToken>, Error> {
    c.query(
        "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens
         WHERE member_id = $1 AND revoked_at IS NULL ORDER BY id DESC",
        params![member_id],
    )
    .await?
    .iter()
    .map(api_token)
    .collect()
}

/// Revokes every live API token of a member (after a password change or
/// deactivation); returns how many.
pub async fn revoke_all_tokens(tx: &mut Tx, member_id: i64, now: i64) -> Result<u64, Error> {
    tx.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE member_id = $1 AND revoked_at IS NULL",
        params![member_id, now],
    )
    .await
}

/// Revokes a member's own token; false when there is no such live token.
pub async fn revoke_token(tx: &mut Tx, member_id: i64, id: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE api_tokens SET revoked_at = $3
             WHERE id = $1 AND member_id = $2 AND revoked_at IS NULL",
            params![id, member_id, now],
        )
        .await?;
    if n == 1 {
        bump_auth_epoch(tx, member_id).await?;
    }
    Ok(n == 1)
}

/// A live token's member, id and when it was last recorded as used.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub member: Member,
    pub id: i64,
    pub last_used_at: Option<i64>,
}

/// The member behind a live token.
pub async fn member_by_token(c: &mut Conn, token_hash: &str) -> Result<Option<TokenHolder>, Error> {
    let sql = format!(
        "SELECT {MEMBER_COLS}, t.id, t.last_used_at FROM api_tokens t
         JOIN members m ON m.id = t.member_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL"
    );
    match c.query_opt(&sql, params![token_hash]).await? {
        Some(r) => Ok(Some(TokenHolder {
            member: member(&r, 0)?,
            id: r.i64(MEMBER_NCOLS)?,
            last_used_at: r.opt_i64(MEMBER_NCOLS + 1)?,
        })),
        None => Ok(None),
    }
}

/// Records that a token was used at `at`; an earlier time than the one
/// recorded changes nothing.
pub async fn mark_token_used(tx: &mut Tx, id: i64, at: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE api_tokens SET last_used_at = $2
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        params![id, at],
    )
    .await?;
    Ok(())
}
