//! API tokens: issuing, listing and revoking them, and the member behind
//! one.

use crate::profiles::{Member, MemberCols};
use crate::rows::columns;
use crate::sessions::bump_auth_epoch;
use crate::{Conn, Error, Row, Tx, params};
use domain::MemberId;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

columns! {
    struct TokenCols => ApiToken {
        id: "id",
        name: "name",
        prefix: "prefix",
        created_at: "created_at",
        last_used_at: "last_used_at",
    }
}

/// The token of a statement of [`TokenCols`] alone.
fn api_token(mut r: Row) -> Result<ApiToken, Error> {
    TokenCols::at(0).decode(&mut r)
}

pub async fn insert_token(
    tx: &mut Tx,
    member_id: MemberId,
    name: &str,
    token_hash: &str,
    prefix: &str,
    now: i64,
) -> Result<ApiToken, Error> {
    let sql = format!(
        "INSERT INTO api_tokens (member_id, name, token_hash, prefix, created_at)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING {}",
        TokenCols::sql()
    );
    api_token(
        tx.query_one(&sql, params![member_id, name, token_hash, prefix, now])
            .await?,
    )
}

pub async fn list_tokens(c: &mut Conn, member_id: MemberId) -> Result<Vec<ApiToken>, Error> {
    let sql = format!(
        "SELECT {} FROM api_tokens WHERE member_id = $1 AND revoked_at IS NULL ORDER BY id DESC",
        TokenCols::sql()
    );
    c.query(&sql, params![member_id])
        .await?
        .into_iter()
        .map(api_token)
        .collect()
}

/// Revokes every live API token of a member (after a password change or
/// deactivation); returns how many.
pub async fn revoke_all_tokens(tx: &mut Tx, member_id: MemberId, now: i64) -> Result<u64, Error> {
    tx.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE member_id = $1 AND revoked_at IS NULL",
        params![member_id, now],
    )
    .await
}

/// Revokes a member's own token; false when there is no such live token.
pub async fn revoke_token(
    tx: &mut Tx,
    member_id: MemberId,
    id: i64,
    now: i64,
) -> Result<bool, Error> {
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
    columns! {
        struct HolderCols {
            member: [MemberCols],
            id: "t.id",
            last_used_at: "t.last_used_at",
        }
    }
    const C: HolderCols = HolderCols::at(0);
    let sql = format!(
        "SELECT {} FROM api_tokens t JOIN members m ON m.id = t.member_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        HolderCols::sql()
    );
    match c.query_opt(&sql, params![token_hash]).await? {
        Some(mut r) => Ok(Some(TokenHolder {
            member: C.member.decode(&mut r)?,
            id: r.i64(C.id)?,
            last_used_at: r.opt_i64(C.last_used_at)?,
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
