//! Login and sessions: password login (throttled), the session cookie,
//! logout, the standing a live stream checks, and changing the password.

use domain::{LoginName, MemberId, Password, Role, ValidationError};
use store::Db;
use store::sessions as q;
use store::{throttle, tokens};

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult, Checks};
use crate::service::profiles::Member;
use crate::service::viewer::{Auth, Viewer};

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// A new login: the cookie value and the CSRF token pages and scripts send back.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub max_age_seconds: i64,
}

pub async fn start_session(
    ctx: &Ctx,
    member_id: MemberId,
    ip: &str,
    user_agent: &str,
) -> AppResult<NewSession> {
    let token = crypto::new_token();
    let csrf_token = crypto::new_token();
    let now = ctx.now();
    let days = ctx.settings.session_days.max(1);
    let mut tx = ctx.db.write().await?;
    q::insert_session(
        &mut tx,
        &q::NewSession {
            token_hash: &crypto::token_hash(&token),
            member_id,
            csrf_token: &csrf_token,
            expires_at: now + days * MICROS_PER_DAY,
            user_agent: &user_agent.chars().take(300).collect::<String>(),
            ip,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(NewSession {
        token,
        csrf_token,
        max_age_seconds: days * 86_400,
    })
}

/// Checks a password login, throttled per account and address, per account
/// (a slower backstop) and per address.
pub async fn login(
    ctx: &Ctx,
    login: &LoginName,
    password: &str,
    ip: &str,
    user_agent: &str,
) -> AppResult<(Member, NewSession)> {
    let s = &ctx.settings;
    if login.is_empty() || password.is_empty() {
        let mut checks = Checks::default();
        if login.is_empty() {
            checks.push(ValidationError::new(
                "login",
                "Enter your handle or email address.",
            ));
        }
        if password.is_empty() {
            checks.push(ValidationError::new("password", "Enter your password."));
        }
        checks.finish()?;
    }
    let now = ctx.now();
    let window = s.login_window_minutes.max(1) * MICROS_PER_MINUTE;
    let limits = throttle::LoginLimits {
        per_account_address: s.login_max_failures_per_account_address,
        per_account: s.login_max_failures_per_account,
        per_address: s.login_max_failures_per_address,
    };
    // The attempt counts as a failure from before its password is checked
    // until it is found right: concurrent guesses cannot outrun the count.
    let found = {
        let mut tx = ctx.db.write().await?;
        let found = q::member_for_login(&mut tx, login).await?;
        let member_id = found.as_ref().map(|(m, _)| m.id);
        if !throttle::begin_login_attempt(&mut tx, member_id, ip, now, now - window, limits).await?
        {
            return Err(AppError::RateLimited {
                detail: format!(
                    "Too many failed logins. Wait {} minutes and try again, or ask an admin to \
                     reset your password.",
                    s.login_window_minutes
                ),
                retry_after: (s.login_window_minutes.max(1) * 60) as u64,
            });
        }
        tx.commit().await?;
        found
    };
    let hash = found
        .as_ref()
        .map_or(crypto::DUMMY_HASH, |(_, h)| h.as_str());
    let ok = crypto::verify_password(password, hash).await && found.is_some();
    let Some((member, _)) = found.filter(|_| ok) else {
        return Err(AppError::Unauthorized(
            "That handle or email and password do not match. Check them and try again.".into(),
        ));
    };
    {
        let mut tx = ctx.db.write().await?;
        throttle::clear_login_failures(&mut tx, member.id, ip, now - window).await?;
        tx.commit().await?;
    }
    if !member.is_active() {
        return Err(AppError::Forbidden(
            "This account has been deactivated. Ask an admin if you need it back.".into(),
        ));
    }
    let session = start_session(ctx, member.id, ip, user_agent).await?;
    Ok((member, session))
}

pub async fn logout(ctx: &Ctx, viewer: &Viewer) -> AppResult<()> {
    let db = &ctx.db;
    if let Auth::Session { token_hash, .. } = &viewer.auth {
        let mut tx = db.write().await?;
        q::delete_session(&mut tx, viewer.id(), token_hash).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The member behind a session cookie, when it is live and they are active.
pub async fn authenticate_session(ctx: &Ctx, token: &str) -> AppResult<Option<Viewer>> {
    let token_hash = crypto::token_hash(token);
    let now = ctx.now();
    let session = {
        let mut c = ctx.db.read().await?;
        q::session(&mut c, &token_hash, now).await?
    };
    let Some(session) = session else {
        return Ok(None);
    };
    if !session.member.is_active() {
        return Ok(None);
    }
    // Slide the expiry, but write at most once an hour per session.
    if now - session.last_seen_at > 3_600_000_000 {
        let days = ctx.settings.session_days.max(1);
        let mut tx = ctx.db.write().await?;
        q::touch_session(&mut tx, &token_hash, now, now + days * MICROS_PER_DAY).await?;
        tx.commit().await?;
    }
    Ok(Some(Viewer {
        member: session.member,
        auth: Auth::Session {
            token_hash,
            csrf_token: session.csrf_token,
        },
    }))
}

/// Whether what a viewer authenticated with still holds while a long
/// request (a live stream) runs: their credentials epoch, role and active
/// state as they were. A logout, a password change, a revoked API token, a
/// new role or deactivation moves the epoch ([`q::bump_auth_epoch`]), and
/// the stream that finds it moved closes; the client reconnects and is
/// authenticated afresh, with the rights it has then.
///
/// On SQLite the member's row is looked at only when its stamp says it
/// changed ([`store::db::stamps`]), so a wake-up costs no statement; on
/// PostgreSQL, where other nodes write too, every check reads the row.
pub struct Standing {
    member: MemberId,
    epoch: i64,
    role: Role,
    /// The stamp read before the row was last found unchanged (SQLite).
    at: Option<u64>,
}

impl Standing {
    /// Checks the viewer's standing once, now; `None` when it no longer
    /// holds.
    pub async fn of(ctx: &Ctx, viewer: &Viewer) -> AppResult<Option<Standing>> {
        let db = &ctx.db;
        let mut s = Standing {
            member: viewer.id(),
            epoch: viewer.member.auth_epoch,
            role: viewer.role(),
            at: None,
        };
        Ok(s.read(db).await?.then_some(s))
    }

    /// Whether the standing still holds.
    pub async fn holds(&mut self, ctx: &Ctx) -> AppResult<bool> {
        let db = &ctx.db;
        use store::db::stamps::Table;
        if let (Some(s), Some(at)) = (db.stamps(), self.at)
            && s.unchanged(Table::Members, self.member, at)
        {
            return Ok(true);
        }
        self.read(db).await
    }

    async fn read(&mut self, db: &Db) -> AppResult<bool> {
        let at = db.stamps().map(|s| s.now());
        let now = {
            let mut c = db.read().await?;
            q::auth_standing(&mut c, self.member).await?
        };
        let holds = now == Some((self.epoch, self.role, true));
        if holds {
            self.at = at;
        }
        Ok(holds)
    }
}

/// Changes the viewer's password. Their other sessions end and every API
/// token of theirs is revoked (a changed password is often a response to
/// a leak); returns how many tokens were revoked.
pub async fn change_password(
    ctx: &Ctx,
    viewer: &Viewer,
    current: &str,
    new: &Password,
) -> AppResult<u64> {
    let db = &ctx.db;
    let hash = {
        let mut c = db.read().await?;
        q::password_hash(&mut c, viewer.id()).await?
    };
    if !crypto::verify_password(current, &hash).await {
        return Err(AppError::invalid(
            "current_password",
            "Your current password is not right. Type it again.",
        ));
    }
    let new_hash = crypto::hash_password(new.as_str()).await?;
    let mut tx = db.write().await?;
    q::set_password(&mut tx, viewer.id(), &new_hash, ctx.now()).await?;
    // Other logins end: a changed password is often a response to a leak.
    let keep = match &viewer.auth {
        Auth::Session { token_hash, .. } => Some(token_hash.as_str()),
        Auth::Token { .. } | Auth::Mail => None,
    };
    q::delete_other_sessions(&mut tx, viewer.id(), keep).await?;
    let revoked = tokens::revoke_all_tokens(&mut tx, viewer.id(), ctx.now()).await?;
    tx.commit().await?;
    Ok(revoked)
}
