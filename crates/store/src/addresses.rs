//! Members' addresses: whether an address is verified, changing it, and
//! the one-time links mailed to an address (a new address to confirm, a
//! password reset, a sign-up). A link's token is minted when its mail is
//! sent and only its hash is kept, so no usable link sits in the database.

use domain::MemberId;

use crate::{Conn, Error, Tx, params};

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A member's new address, which takes effect when the link is opened.
    Verify,
    /// A new password for the member.
    Reset,
    /// An account for the address (sign-up by allowed domain).
    Signup,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::Signup => "signup",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "verify" => Some(Purpose::Verify),
            "reset" => Some(Purpose::Reset),
            "signup" => Some(Purpose::Signup),
            _ => None,
        }
    }
}

/// A mailed link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLink {
    pub id: i64,
    pub purpose: Purpose,
    pub member_id: Option<MemberId>,
    pub email: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// Whether its mail was sent (a token minted).
    pub sent: bool,
}

const LINK_COLS: &str = "id, purpose, member_id, email, created_at, expires_at, used_at,
     CASE WHEN token_hash IS NULL THEN 0 ELSE 1 END";

fn link(r: crate::Row) -> Result<MailLink, Error> {
    Ok(MailLink {
        id: r.i64(0)?,
        purpose: Purpose::parse(&r.text(1)?).ok_or(Error::NotFound)?,
        member_id: r.opt_i64(2)?.map(MemberId),
        email: r.text(3)?,
        created_at: r.i64(4)?,
        expires_at: r.i64(5)?,
        used_at: r.opt_i64(6)?,
        sent: r.i64(7)? != 0,
    })
}

/// A new link for `email` (lower-cased), not yet mailed; returns its id.
pub async fn insert_link(
    tx: &mut Tx,
    purpose: Purpose,
    member: Option<MemberId>,
    email: &str,
    expires_at: i64,
    now: i64,
) -> Result<i64, Error> {
    tx.query_one(
        "INSERT INTO mail_links (purpose, member_id, email, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        params![
            purpose.as_str(),
            member,
            email.to_lowercase(),
            now,
            expires_at
        ],
    )
    .await?
    .i64(0)
}

pub async fn link_by_id(c: &mut Conn, id: i64) -> Result<Option<MailLink>, Error> {
    let sql = format!("SELECT {LINK_COLS} FROM mail_links WHERE id = $1");
    c.query_opt(&sql, params![id]).await?.map(link).transpose()
}

pub async fn link_by_token(c: &mut Conn, token_hash: &str) -> Result<Option<MailLink>, Error> {
    let sql = format!("SELECT {LINK_COLS} FROM mail_links WHERE token_hash = $1");
    c.query_opt(&sql, params![token_hash])
        .await?
        .map(link)
        .transpose()
}

/// Keeps the hash of the token a link's mail carries (at send time; a
/// retried send replaces it, so only the last mailed link works).
pub async fn set_link_token(tx: &mut Tx, id: i64, token_hash: &str) -> Result<(), Error> {
    tx.execute(
        "UPDATE mail_links SET token_hash = $2 WHERE id = $1",
        params![id, token_hash],
    )
    .await?;
    Ok(())
}

/// Uses a link, if it still can be: unused and unexpired. Exactly one of
/// two concurrent uses gets `true`.
pub async fn use_link(tx: &mut Tx, id: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE mail_links SET used_at = $2
             WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
            params![id, now],
        )
        .await?;
    Ok(n == 1)
}

/// Ends a member's open links of one purpose (a newer one replaces them).
pub async fn end_links(
    tx: &mut Tx,
    member: MemberId,
    purpose: Purpose,
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE mail_links SET used_at = $3
         WHERE member_id = $1 AND purpose = $2 AND used_at IS NULL",
        params![member, purpose.as_str(), now],
    )
    .await?;
    Ok(())
}

/// Links of one purpose made for `email` since `since` (a rate limit).
pub async fn links_since(
    c: &mut Conn,
    purpose: Purpose,
    email: &str,
    since: i64,
) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM mail_links WHERE purpose = $1 AND email = $2 AND created_at > $3",
        params![purpose.as_str(), email.to_lowercase(), since],
    )
    .await?
    .i64(0)
}

/// The member's open address change: the new address and its link's id.
pub async fn pending_address(
    c: &mut Conn,
    member: MemberId,
    now: i64,
) -> Result<Option<MailLink>, Error> {
    let sql = format!(
        "SELECT {LINK_COLS} FROM mail_links
         WHERE member_id = $1 AND purpose = 'verify' AND used_at IS NULL AND expires_at > $2
         ORDER BY id DESC LIMIT 1"
    );
    c.query_opt(&sql, params![member, now])
        .await?
        .map(link)
        .transpose()
}

/// Sets a member's address; `verified_at` None leaves it unverified. A
/// taken address is `Error::Conflict(Unique::MemberEmail)`.
pub async fn set_address(
    tx: &mut Tx,
    member: MemberId,
    email: &str,
    verified_at: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET email = $2, email_verified_at = $3, updated_at = $4 WHERE id = $1",
        params![member, email.to_lowercase(), verified_at, now],
    )
    .await?;
    Ok(())
}

/// Marks a member's address verified.
pub async fn mark_verified(tx: &mut Tx, member: MemberId, now: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET email_verified_at = $2 WHERE id = $1 AND email_verified_at IS NULL",
        params![member, now],
    )
    .await?;
    Ok(())
}

/// Moves a member's reply epoch on: every reply address made for them
/// before stops working. Returns the new epoch.
pub async fn bump_reply_epoch(tx: &mut Tx, member: MemberId) -> Result<i64, Error> {
    tx.query_one(
        "UPDATE members SET reply_epoch = reply_epoch + 1 WHERE id = $1 RETURNING reply_epoch",
        params![member],
    )
    .await?
    .i64(0)
}
