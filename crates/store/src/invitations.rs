//! Invitations to join the org.

use domain::{MemberId, Role};

use crate::rows::columns;
use crate::{Conn, Error, Row, Tx, params};

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub inviter_id: MemberId,
    pub inviter_handle: String,
    pub inviter_name: String,
    pub message: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<MemberId>,
    pub revoked_at: Option<i64>,
}

columns! {
    /// An invitation (`invitations i`) with its inviter (`members m`).
    struct InvitationCols => Invitation {
        id: "i.id",
        email: "i.email",
        role: "i.role",
        inviter_id: "i.inviter_id",
        inviter_handle: "m.handle",
        inviter_name: "m.display_name",
        message: "i.message",
        created_at: "i.created_at",
        expires_at: "i.expires_at",
        accepted_at: "i.accepted_at",
        accepted_by: "i.accepted_by",
        revoked_at: "i.revoked_at",
    }
}

/// The invitation of a statement of [`InvitationCols`] alone.
fn invitation(mut r: Row) -> Result<Invitation, Error> {
    InvitationCols::at(0).decode(&mut r)
}

pub struct NewInvitation<'a> {
    pub token_hash: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub inviter_id: MemberId,
    pub message: &'a str,
    pub expires_at: i64,
}

pub async fn insert_invitation(
    tx: &mut Tx,
    i: &NewInvitation<'_>,
    now: i64,
) -> Result<Invitation, Error> {
    let id = tx
        .query_one(
            "INSERT INTO invitations (token_hash, email, role, inviter_id, message, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            params![i.token_hash, i.email, i.role.as_str(), i.inviter_id, i.message, now, i.expires_at],
        )
        .await?
        .i64(0)?;
    invitation_by_id(tx, id).await?.ok_or(Error::NotFound)
}

pub async fn invitation_by_id(c: &mut Conn, id: i64) -> Result<Option<Invitation>, Error> {
    let sql = format!(
        "SELECT {} FROM invitations i JOIN members m ON m.id = i.inviter_id WHERE i.id = $1",
        InvitationCols::sql()
    );
    c.query_opt(&sql, params![id])
        .await?
        .map(invitation)
        .transpose()
}

pub async fn invitation_by_token(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<Invitation>, Error> {
    let sql = format!(
        "SELECT {} FROM invitations i JOIN members m ON m.id = i.inviter_id
         WHERE i.token_hash = $1",
        InvitationCols::sql()
    );
    c.query_opt(&sql, params![token_hash])
        .await?
        .map(invitation)
        .transpose()
}

/// The invitation whose mailed link has the token `token_hash`.
pub async fn invitation_by_mail_token(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<Invitation>, Error> {
    let sql = format!(
        "SELECT {} FROM invitations i JOIN members m ON m.id = i.inviter_id
         WHERE i.mail_token_hash = $1",
        InvitationCols::sql()
    );
    c.query_opt(&sql, params![token_hash])
        .await?
        .map(invitation)
        .transpose()
}

/// Keeps the hash of the link an invitation's mail carries (written when
/// the mail is sent, so the job's payload holds no link); false when the
/// invitation is no longer open.
pub async fn set_mail_token(tx: &mut Tx, id: i64, token_hash: &str) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE invitations SET mail_token_hash = $2
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
            params![id, token_hash],
        )
        .await?;
    Ok(n == 1)
}

/// Invitations, newest first, below the id `before`; only `inviter`'s when given.
pub async fn list_invitations(
    c: &mut Conn,
    inviter: Option<MemberId>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Invitation>, Error> {
    let sql = format!(
        "SELECT {} FROM invitations i JOIN members m ON m.id = i.inviter_id
         WHERE ($1 = 0 OR i.inviter_id = $1) AND i.id < $2
         ORDER BY i.id DESC LIMIT $3",
        InvitationCols::sql()
    );
    c.query(
        &sql,
        params![
            inviter.unwrap_or(MemberId(0)),
            before.unwrap_or(i64::MAX),
            limit
        ],
    )
    .await?
    .into_iter()
    .map(invitation)
    .collect()
}

/// Marks an invitation used, if it still can be: unused, unrevoked and
/// unexpired. Exactly one of two concurrent acceptances gets `true`.
pub async fn claim_invitation(
    tx: &mut Tx,
    id: i64,
    member_id: MemberId,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE invitations SET accepted_at = $3, accepted_by = $2
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
            params![id, member_id, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn revoke_invitation(tx: &mut Tx, id: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE invitations SET revoked_at = $2
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
            params![id, now],
        )
        .await?;
    Ok(n == 1)
}

/// Gives an open invitation a new link and a new expiry (a resend): the
/// old link stops working.
pub async fn renew_invitation(
    tx: &mut Tx,
    id: i64,
    token_hash: &str,
    expires_at: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE invitations SET token_hash = $2, expires_at = $3, mail_token_hash = NULL
             WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
            params![id, token_hash, expires_at],
        )
        .await?;
    Ok(n == 1)
}
