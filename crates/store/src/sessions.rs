//! Logging in (the login lookup, passwords), sessions, and the credentials
//! epoch whose move ends a member's live connections.

use domain::{LoginName, MemberId, Role};

use crate::profiles::{Member, MemberCols};
use crate::rows::{Tuple, columns};
use crate::{Conn, Error, Tx, params};

/// Finds a member by handle or email, with the password hash, for login.
pub async fn member_for_login(
    c: &mut Conn,
    login: &LoginName,
) -> Result<Option<(Member, String)>, Error> {
    columns! {
        struct LoginCols {
            member: [MemberCols],
            password_hash: "m.password_hash",
        }
    }
    const C: LoginCols = LoginCols::at(0);
    let (column, value) = match login {
        LoginName::Handle(h) => ("handle", h.as_str()),
        LoginName::Email(e) => ("email", e.as_str()),
    };
    let sql = format!(
        "SELECT {} FROM members m WHERE m.{column} = $1",
        LoginCols::sql()
    );
    match c.query_opt(&sql, params![value]).await? {
        Some(mut r) => Ok(Some((
            C.member.decode(&mut r)?,
            r.take_text(C.password_hash)?,
        ))),
        None => Ok(None),
    }
}

pub async fn password_hash(c: &mut Conn, id: MemberId) -> Result<String, Error> {
    c.query_one(
        "SELECT password_hash FROM members WHERE id = $1",
        params![id],
    )
    .await?
    .text(0)
}

pub async fn set_password(tx: &mut Tx, id: MemberId, hash: &str, now: i64) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET password_hash = $2, updated_at = $3 WHERE id = $1",
        params![id, hash, now],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Session {
    pub member: Member,
    pub csrf_token: String,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

columns! {
    /// A session (`sessions s`) with its member.
    struct SessionCols {
        member: [MemberCols],
        csrf_token: "s.csrf_token",
        expires_at: "s.expires_at",
        last_seen_at: "s.last_seen_at",
    }
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub member_id: MemberId,
    pub csrf_token: &'a str,
    pub expires_at: i64,
    pub user_agent: &'a str,
    pub ip: &'a str,
}

pub async fn insert_session(tx: &mut Tx, s: &NewSession<'_>, now: i64) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO sessions (token_hash, member_id, csrf_token, created_at, last_seen_at, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        params![s.token_hash, s.member_id, s.csrf_token, now, s.expires_at, s.user_agent, s.ip],
    )
    .await?;
    Ok(())
}

/// The live session with this token hash, with its member.
pub async fn session(c: &mut Conn, token_hash: &str, now: i64) -> Result<Option<Session>, Error> {
    const C: SessionCols = SessionCols::at(0);
    let sql = format!(
        "SELECT {} FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = $1 AND s.expires_at > $2",
        SessionCols::sql()
    );
    match c.query_opt(&sql, params![token_hash, now]).await? {
        Some(mut r) => Ok(Some(Session {
            member: C.member.decode(&mut r)?,
            csrf_token: r.take_text(C.csrf_token)?,
            expires_at: r.i64(C.expires_at)?,
            last_seen_at: r.i64(C.last_seen_at)?,
        })),
        None => Ok(None),
    }
}

/// Slides a session's expiry forward.
pub async fn touch_session(
    tx: &mut Tx,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1",
        params![token_hash, now, expires_at],
    )
    .await?;
    Ok(())
}

pub async fn delete_session(
    tx: &mut Tx,
    member_id: MemberId,
    token_hash: &str,
) -> Result<(), Error> {
    bump_auth_epoch(tx, member_id).await?;
    tx.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        params![token_hash],
    )
    .await?;
    Ok(())
}

/// Moves a member's credentials epoch and wakes their live streams (the
/// commit announces the member as notified), which then find it moved,
/// close, and make the client authenticate again.
pub async fn bump_auth_epoch(tx: &mut Tx, member_id: MemberId) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET auth_epoch = auth_epoch + 1 WHERE id = $1",
        params![member_id],
    )
    .await?;
    tx.note_notified(member_id.get());
    Ok(())
}

/// What decides whether a member's authentication still holds: their
/// credentials epoch, role and whether they are active.
pub async fn auth_standing(
    c: &mut Conn,
    member_id: MemberId,
) -> Result<Option<(i64, Role, bool)>, Error> {
    match c
        .query_opt(
            "SELECT auth_epoch, role, deactivated_at FROM members WHERE id = $1",
            params![member_id],
        )
        .await?
    {
        Some(r) => {
            let (epoch, role, deactivated_at): (i64, Role, Option<i64>) = Tuple::from_row(r)?;
            Ok(Some((epoch, role, deactivated_at.is_none())))
        }
        None => Ok(None),
    }
}

/// Ends every session of a member except `keep` (after a password change).
pub async fn delete_other_sessions(
    tx: &mut Tx,
    member_id: MemberId,
    keep: Option<&str>,
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM sessions WHERE member_id = $1 AND token_hash <> $2",
        params![member_id, keep.unwrap_or("")],
    )
    .await?;
    Ok(())
}
