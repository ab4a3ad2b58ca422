//! Members, sessions, API tokens, invitations, the setup token, org
//! settings and login failures.

use domain::Role;

use crate::{Conn, Error, Kind, Row, Tx, params};

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
    /// connections were allowed (see [`bump_auth_epoch`]).
    pub auth_epoch: i64,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

const MEMBER_COLS: &str = "m.id, m.handle, m.email, m.display_name, m.title, m.team, m.about, \
    m.about_html, m.time_zone, m.role, m.avatar_version, m.deactivated_at, m.created_at, m.updated_at, m.auth_epoch";
/// How many columns [`MEMBER_COLS`] has.
const MEMBER_NCOLS: usize = 15;

fn member(r: &Row, at: usize) -> Result<Member, Error> {
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

pub struct NewMember<'a> {
    pub handle: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// Inserts a member. A taken handle or email is `Error::Conflict` naming
/// `handle` or `email`.
pub async fn insert_member(tx: &mut Tx, m: &NewMember<'_>, now: i64) -> Result<Member, Error> {
    let row = tx
        .query_one(
            "INSERT INTO members (handle, email, display_name, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            params![m.handle, m.email, m.display_name, m.role.as_str(), m.password_hash, now],
        )
        .await?;
    let id = row.i64(0)?;
    member_by_id(tx, id).await?.ok_or(Error::NotFound)
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

/// Finds a member by handle or email, with the password hash, for login.
pub async fn member_for_login(
    c: &mut Conn,
    login: &str,
) -> Result<Option<(Member, String)>, Error> {
    let login = login.trim().trim_start_matches('@').to_lowercase();
    let sql = format!(
        "SELECT {MEMBER_COLS}, m.password_hash FROM members m WHERE m.handle = $1 OR m.email = $1"
    );
    match c.query_opt(&sql, params![login]).await? {
        Some(r) => Ok(Some((member(&r, 0)?, r.text(MEMBER_NCOLS)?))),
        None => Ok(None),
    }
}

pub async fn password_hash(c: &mut Conn, id: i64) -> Result<String, Error> {
    c.query_one(
        "SELECT password_hash FROM members WHERE id = $1",
        params![id],
    )
    .await?
    .text(0)
}

pub async fn owner_exists(c: &mut Conn) -> Result<bool, Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM members WHERE role = 'owner' LIMIT 1",
        params![],
    )
    .await?
    .is_some())
}

pub async fn active_owner_count(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members WHERE role = 'owner' AND deactivated_at IS NULL",
        params![],
    )
    .await?
    .i64(0)
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

pub async fn set_password(tx: &mut Tx, id: i64, hash: &str, now: i64) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET password_hash = $2, updated_at = $3 WHERE id = $1",
        params![id, hash, now],
    )
    .await?;
    Ok(())
}

pub async fn set_role(tx: &mut Tx, id: i64, role: Role, now: i64) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET role = $2, updated_at = $3 WHERE id = $1",
        params![id, role.as_str(), now],
    )
    .await?;
    Ok(())
}

/// Deactivates (`Some(time)`) or reactivates (`None`) a member. Deactivation
/// also ends their sessions; their tokens stop working because token lookup
/// checks the member.
pub async fn set_deactivated(tx: &mut Tx, id: i64, at: Option<i64>, now: i64) -> Result<(), Error> {
    bump_auth_epoch(tx, id).await?;
    tx.execute(
        "UPDATE members SET deactivated_at = $2, updated_at = $3 WHERE id = $1",
        params![id, at, now],
    )
    .await?;
    if let Some(at) = at {
        tx.execute("DELETE FROM sessions WHERE member_id = $1", params![id])
            .await?;
        // Reactivation does not bring them back.
        revoke_all_tokens(tx, id, at).await?;
    }
    Ok(())
}

// ---- avatars ----

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

// ---- sessions ----

#[derive(Debug, Clone)]
pub struct Session {
    pub member: Member,
    pub csrf_token: String,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub member_id: i64,
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
    let sql = format!(
        "SELECT {MEMBER_COLS}, s.csrf_token, s.expires_at, s.last_seen_at
         FROM sessions s JOIN members m ON m.id = s.member_id
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    );
    match c.query_opt(&sql, params![token_hash, now]).await? {
        Some(r) => Ok(Some(Session {
            member: member(&r, 0)?,
            csrf_token: r.text(MEMBER_NCOLS)?,
            expires_at: r.i64(MEMBER_NCOLS + 1)?,
            last_seen_at: r.i64(MEMBER_NCOLS + 2)?,
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

pub async fn delete_session(tx: &mut Tx, member_id: i64, token_hash: &str) -> Result<(), Error> {
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
pub async fn bump_auth_epoch(tx: &mut Tx, member_id: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE members SET auth_epoch = auth_epoch + 1 WHERE id = $1",
        params![member_id],
    )
    .await?;
    tx.note_notified(member_id);
    Ok(())
}

/// What decides whether a member's authentication still holds: their
/// credentials epoch, role and whether they are active.
pub async fn auth_standing(
    c: &mut Conn,
    member_id: i64,
) -> Result<Option<(i64, Role, bool)>, Error> {
    match c
        .query_opt(
            "SELECT auth_epoch, role, deactivated_at FROM members WHERE id = $1",
            params![member_id],
        )
        .await?
    {
        Some(r) => Ok(Some((
            r.i64(0)?,
            Role::parse(&r.text(1)?).map_err(|e| Error::Decode(e.to_string()))?,
            r.opt_i64(2)?.is_none(),
        ))),
        None => Ok(None),
    }
}

/// Ends every session of a member except `keep` (after a password change).
pub async fn delete_other_sessions(
    tx: &mut Tx,
    member_id: i64,
    keep: Option<&str>,
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM sessions WHERE member_id = $1 AND token_hash <> $2",
        params![member_id, keep.unwrap_or("")],
    )
    .await?;
    Ok(())
}

// ---- API tokens ----

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

// ---- invitations ----

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub inviter_id: i64,
    pub inviter_handle: String,
    pub inviter_name: String,
    pub message: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<i64>,
    pub revoked_at: Option<i64>,
}

const INVITATION_COLS: &str = "i.id, i.email, i.role, i.inviter_id, m.handle, m.display_name, \
    i.message, i.created_at, i.expires_at, i.accepted_at, i.accepted_by, i.revoked_at";

fn invitation(r: &Row) -> Result<Invitation, Error> {
    Ok(Invitation {
        id: r.i64(0)?,
        email: r.text(1)?,
        role: Role::parse(&r.text(2)?).map_err(|e| Error::Decode(e.to_string()))?,
        inviter_id: r.i64(3)?,
        inviter_handle: r.text(4)?,
        inviter_name: r.text(5)?,
        message: r.text(6)?,
        created_at: r.i64(7)?,
        expires_at: r.i64(8)?,
        accepted_at: r.opt_i64(9)?,
        accepted_by: r.opt_i64(10)?,
        revoked_at: r.opt_i64(11)?,
    })
}

pub struct NewInvitation<'a> {
    pub token_hash: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub inviter_id: i64,
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
        "SELECT {INVITATION_COLS} FROM invitations i JOIN members m ON m.id = i.inviter_id WHERE i.id = $1"
    );
    c.query_opt(&sql, params![id])
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

pub async fn invitation_by_token(
    c: &mut Conn,
    token_hash: &str,
) -> Result<Option<Invitation>, Error> {
    let sql = format!(
        "SELECT {INVITATION_COLS} FROM invitations i JOIN members m ON m.id = i.inviter_id
         WHERE i.token_hash = $1"
    );
    c.query_opt(&sql, params![token_hash])
        .await?
        .as_ref()
        .map(invitation)
        .transpose()
}

/// Invitations, newest first, below the id `before`; only `inviter`'s when given.
pub async fn list_invitations(
    c: &mut Conn,
    inviter: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Invitation>, Error> {
    let sql = format!(
        "SELECT {INVITATION_COLS} FROM invitations i JOIN members m ON m.id = i.inviter_id
         WHERE ($1 = 0 OR i.inviter_id = $1) AND i.id < $2
         ORDER BY i.id DESC LIMIT $3"
    );
    c.query(
        &sql,
        params![inviter.unwrap_or(0), before.unwrap_or(i64::MAX), limit],
    )
    .await?
    .iter()
    .map(invitation)
    .collect()
}

/// Marks an invitation used, if it still can be: unused, unrevoked and
/// unexpired. Exactly one of two concurrent acceptances gets `true`.
pub async fn claim_invitation(
    tx: &mut Tx,
    id: i64,
    member_id: i64,
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

// ---- first-run setup ----

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

// ---- settings ----

pub async fn setting(c: &mut Conn, key: &str) -> Result<Option<String>, Error> {
    c.query_opt("SELECT value FROM settings WHERE key = $1", params![key])
        .await?
        .map(|r| r.text(0))
        .transpose()
}

pub async fn put_setting(tx: &mut Tx, key: &str, value: &str) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .await?;
    Ok(())
}

// ---- login throttling ----

/// Failed logins allowed within the window before logins wait.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// To one account from one address.
    pub per_account_address: i64,
    /// To one account from all addresses (the backstop).
    pub per_account: i64,
    /// From one address to any accounts.
    pub per_address: i64,
}

/// Records a login attempt as a failure before its password is checked, so
/// that concurrent guesses cannot all be checked before any is counted;
/// [`clear_login_failures`] forgets it once the password is right. Nothing
/// is recorded when a limit is already reached: then the answer is false.
/// On PostgreSQL an advisory lock serialises the count and the insert of
/// concurrent attempts (SQLite's writer does that by itself).
pub async fn begin_login_attempt(
    tx: &mut Tx,
    member_id: Option<i64>,
    ip: &str,
    now: i64,
    since: i64,
    limits: LoginLimits,
) -> Result<bool, Error> {
    if tx.kind() == Kind::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(7284)", params![])
            .await?;
    }
    let r = tx
        .query_one(
            "SELECT
                (SELECT COUNT(*) FROM login_failures
                  WHERE member_id = $1 AND ip = $2 AND at > $3),
                (SELECT COUNT(*) FROM login_failures WHERE member_id = $1 AND at > $3),
                (SELECT COUNT(*) FROM login_failures WHERE ip = $2 AND at > $3)",
            params![member_id.unwrap_or(-1), ip, since],
        )
        .await?;
    let (account_address, account, address) = (r.i64(0)?, r.i64(1)?, r.i64(2)?);
    if account_address >= limits.per_account_address
        || account >= limits.per_account
        || address >= limits.per_address
    {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO login_failures (member_id, ip, at) VALUES ($1, $2, $3)",
        params![member_id, ip, now],
    )
    .await?;
    Ok(true)
}

/// Forgets an account's failures from one address after a successful
/// login from there (failures from elsewhere still count), and all
/// failures older than `before`.
pub async fn clear_login_failures(
    tx: &mut Tx,
    member_id: i64,
    ip: &str,
    before: i64,
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM login_failures WHERE (member_id = $1 AND ip = $2) OR at < $3",
        params![member_id, ip, before],
    )
    .await?;
    Ok(())
}
