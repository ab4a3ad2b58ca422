//! Accounts: first-run setup, sign-up by invitation (by allowed domain is
//! off until mail exists), login and sessions, API tokens, profiles, roles
//! and deactivation, and the org's settings.

use domain::{
    DisplayName, DomainList, Email, Handle, InvitePolicy, Markdown, Password, Role, ShortText,
    TimeZoneName, ValidationError,
};
use store::Db;
use store::accounts::{self as q, NewMember};

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult, Checks};

/// The rows the account services return, as their read models.
pub use store::accounts::{ApiToken, Invitation, Member};

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;

/// Who is making a request, and how they proved it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub member: Member,
    pub auth: Auth,
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// A browser session; unsafe requests must carry `csrf_token`.
    Session {
        token_hash: String,
        csrf_token: String,
    },
    /// A personal API token sent as `Authorization: Bearer`.
    Token { id: i64 },
}

impl Viewer {
    pub fn id(&self) -> i64 {
        self.member.id
    }
    pub fn role(&self) -> Role {
        self.member.role
    }
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.auth {
            Auth::Session { csrf_token, .. } => Some(csrf_token),
            Auth::Token { .. } => None,
        }
    }
}

/// What someone types to create an account.
#[derive(Debug, Default, Clone)]
pub struct SignupInput {
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
}

struct ValidSignup {
    handle: Handle,
    display_name: DisplayName,
    email: Option<Email>,
    password: Password,
}

fn validate_signup(input: &SignupInput, with_email: bool) -> AppResult<ValidSignup> {
    let mut checks = Checks::default();
    let handle = checks.check(Handle::parse(&input.handle));
    let display_name = checks.check(DisplayName::parse(&input.display_name));
    let email = if with_email {
        checks.check(Email::parse(&input.email))
    } else {
        None
    };
    let password = checks.check(Password::parse(&input.password));
    checks.finish()?;
    Ok(ValidSignup {
        handle: handle.expect("checked"),
        display_name: display_name.expect("checked"),
        email,
        password: password.expect("checked"),
    })
}

/// Turns a unique-key violation on insert into the error a person reads.
fn signup_conflict(e: store::Error) -> AppError {
    match e {
        store::Error::Conflict(store::Unique::MemberHandle) => AppError::Conflict {
            detail: "That handle is taken. Choose another.".into(),
            field: Some("handle"),
        },
        store::Error::Conflict(store::Unique::MemberEmail) => AppError::Conflict {
            detail: "There is already an account with that email address. Log in instead.".into(),
            field: Some("email"),
        },
        e => e.into(),
    }
}

// ---- first run ----

/// True while the org has no owner and the setup link is the way in.
pub async fn setup_needed(ctx: &Ctx) -> AppResult<bool> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(!q::owner_exists(&mut c).await?)
}

/// When there is no owner yet, makes a fresh one-time setup token (any
/// earlier one stops working) and returns it.
pub async fn issue_setup_token(ctx: &Ctx) -> AppResult<Option<String>> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    if q::owner_exists(&mut tx).await? {
        return Ok(None);
    }
    let token = crypto::new_token();
    q::replace_setup_token(&mut tx, &crypto::token_hash(&token), ctx.now()).await?;
    tx.commit().await?;
    Ok(Some(token))
}

pub async fn setup_token_valid(ctx: &Ctx, token: &str) -> AppResult<bool> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(!q::owner_exists(&mut c).await?
        && q::setup_token_valid(&mut c, &crypto::token_hash(token)).await?)
}

/// Creates the owner with the setup token.
pub async fn complete_setup(ctx: &Ctx, token: &str, input: &SignupInput) -> AppResult<Member> {
    let db = &ctx.db;
    let v = validate_signup(input, true)?;
    let hash = crypto::hash_password(v.password.as_str()).await?;
    let mut tx = db.write().await?;
    let used_up = || AppError::Gone {
        slug: "setup-done",
        detail: "This setup link is no longer valid: Chorus already has an owner, or a newer \
                 link was printed. Log in, or restart the server for a new link."
            .into(),
    };
    if q::owner_exists(&mut tx).await? {
        return Err(used_up());
    }
    if !q::take_setup_token(&mut tx, &crypto::token_hash(token)).await? {
        return Err(used_up());
    }
    let member = q::insert_member(
        &mut tx,
        &NewMember {
            handle: v.handle.as_str(),
            email: v.email.as_ref().expect("email checked").as_str(),
            display_name: v.display_name.as_str(),
            role: Role::Owner,
            password_hash: &hash,
        },
        ctx.now(),
    )
    .await
    .map_err(signup_conflict)?;
    tx.commit().await?;
    Ok(member)
}

// ---- sessions ----

/// A new login: the cookie value and the CSRF token pages and scripts send back.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub max_age_seconds: i64,
}

pub async fn start_session(
    ctx: &Ctx,
    member_id: i64,
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
    login: &str,
    password: &str,
    ip: &str,
    user_agent: &str,
) -> AppResult<(Member, NewSession)> {
    let s = &ctx.settings;
    if login.trim().is_empty() || password.is_empty() {
        let mut checks = Checks::default();
        if login.trim().is_empty() {
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
    let limits = q::LoginLimits {
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
        if !q::begin_login_attempt(&mut tx, member_id, ip, now, now - window, limits).await? {
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
        q::clear_login_failures(&mut tx, member.id, ip, now - window).await?;
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
    member: i64,
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
    pub async fn holds(&mut self, db: &Db) -> AppResult<bool> {
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

/// The member behind an API token, when it is live and they are active;
/// the use is noted for the token's owner to see ([`crate::caches::TokenUse`]).
pub async fn authenticate_token(ctx: &Ctx, token: &str) -> AppResult<Option<Viewer>> {
    use store::db::stamps::Table;
    let (db, cache) = (&ctx.db, ctx.caches.tokens.as_ref());
    let hash = crypto::token_hash(token);
    let stamps = db.stamps().filter(|_| cache.is_some());
    let kept = cache.and_then(|c| c.entries.get(&hash));
    let found = match (kept, stamps) {
        (Some((holder, at)), Some(s))
            if s.unchanged(Table::ApiTokens, holder.id, at)
                && s.unchanged(Table::Members, holder.member.id, at) =>
        {
            Some(holder)
        }
        _ => {
            let at = stamps.map(|s| s.now());
            let found = {
                let mut c = db.read().await?;
                q::member_by_token(&mut c, &hash).await?
            };
            if let (Some(cache), Some(at), Some(holder)) = (cache, at, &found) {
                cache.entries.insert(hash, (holder.clone(), at));
            }
            found
        }
    };
    let Some(holder) = found.filter(|h| h.member.is_active()) else {
        return Ok(None);
    };
    ctx.caches
        .token_use
        .note(holder.id, holder.last_used_at, ctx.now());
    Ok(Some(Viewer {
        member: holder.member,
        auth: Auth::Token { id: holder.id },
    }))
}

// ---- API tokens ----

pub async fn create_token(ctx: &Ctx, viewer: &Viewer, name: &str) -> AppResult<(ApiToken, String)> {
    let db = &ctx.db;
    let name = ShortText::parse("name", name, 80)?;
    if name.is_empty() {
        return Err(AppError::invalid(
            "name",
            "Give the token a name that says where it is used, e.g. \"laptop script\".",
        ));
    }
    let token = format!("chorus_{}", crypto::new_token());
    let prefix: String = token.chars().take(12).collect();
    let mut tx = db.write().await?;
    let t = q::insert_token(
        &mut tx,
        viewer.id(),
        name.as_str(),
        &crypto::token_hash(&token),
        &prefix,
        ctx.now(),
    )
    .await?;
    tx.commit().await?;
    Ok((t, token))
}

pub async fn list_tokens(ctx: &Ctx, viewer: &Viewer) -> AppResult<Vec<ApiToken>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(q::list_tokens(&mut c, viewer.id()).await?)
}

pub async fn revoke_token(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    if !q::revoke_token(&mut tx, viewer.id(), id, ctx.now()).await? {
        return Err(AppError::NotFound(format!("You have no token {id}.")));
    }
    tx.commit().await?;
    Ok(())
}

// ---- profiles ----

#[derive(Debug, Default, Clone)]
pub struct ProfileInput {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub team: Option<String>,
    pub about: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn update_profile(ctx: &Ctx, viewer: &Viewer, input: &ProfileInput) -> AppResult<Member> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let mut change = q::ProfileChange::default();
    if let Some(v) = &input.display_name {
        change.display_name = checks
            .check(DisplayName::parse(v))
            .map(|v| v.as_str().to_owned());
    }
    if let Some(v) = &input.title {
        change.title = checks
            .check(ShortText::parse("title", v, 80))
            .map(|v| v.as_str().to_owned());
    }
    if let Some(v) = &input.team {
        change.team = checks
            .check(ShortText::parse("team", v, 80))
            .map(|v| v.as_str().to_owned());
    }
    if let Some(v) = &input.about {
        change.about = checks
            .check(Markdown::parse("about", v, 5000))
            .map(|md| (md.as_str().to_owned(), md.render()));
    }
    if let Some(v) = &input.time_zone {
        change.time_zone = checks
            .check(TimeZoneName::parse(v))
            .map(|v| v.as_str().to_owned());
    }
    checks.finish()?;
    let mut tx = db.write().await?;
    q::update_profile(&mut tx, viewer.id(), &change, ctx.now()).await?;
    let m = q::member_by_id(&mut tx, viewer.id())
        .await?
        .ok_or_else(|| AppError::NotFound("Your account no longer exists.".into()))?;
    tx.commit().await?;
    Ok(m)
}

/// Changes the viewer's password. Their other sessions end and every API
/// token of theirs is revoked (a changed password is often a response to
/// a leak); returns how many tokens were revoked.
pub async fn change_password(
    ctx: &Ctx,
    viewer: &Viewer,
    current: &str,
    new: &str,
) -> AppResult<u64> {
    let db = &ctx.db;
    let new = Password::parse(new).map_err(|e| ValidationError::new("new_password", e.message))?;
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
        Auth::Token { .. } => None,
    };
    q::delete_other_sessions(&mut tx, viewer.id(), keep).await?;
    let revoked = q::revoke_all_tokens(&mut tx, viewer.id(), ctx.now()).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// The largest avatar kept, in pixels a side: avatars show small.
const AVATAR_SIDE: u32 = 256;

/// Decodes an uploaded avatar (PNG, JPEG, GIF or WebP, recognised by its
/// content, within limits on size and memory) and encodes it afresh, at
/// most [`AVATAR_SIDE`] pixels a side: PNG where it has transparency,
/// JPEG otherwise. Nothing of the upload but its pixels is kept, so a
/// file that only starts like an image (with HTML or a script after the
/// header) is refused or cleaned, and no metadata (a photo's location)
/// is served to others.
pub fn reencode_avatar(bytes: &[u8]) -> Result<(&'static str, Vec<u8>), ValidationError> {
    use image::{ImageFormat, ImageReader, Limits};
    let refuse = || {
        ValidationError::new(
            "avatar",
            "That is not a PNG, JPEG, GIF or WebP image we can read. Choose another image.",
        )
    };
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refuse())?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP)
    ) {
        return Err(refuse());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| refuse())?;
    let img = if img.width() > AVATAR_SIDE || img.height() > AVATAR_SIDE {
        img.thumbnail(AVATAR_SIDE, AVATAR_SIDE)
    } else {
        img
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let content_type = if img.color().has_alpha() {
        img.to_rgba8()
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|_| refuse())?;
        "image/png"
    } else {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
            .encode_image(&img.to_rgb8())
            .map_err(|_| refuse())?;
        "image/jpeg"
    };
    Ok((content_type, out.into_inner()))
}

pub async fn set_avatar(ctx: &Ctx, viewer: &Viewer, bytes: &[u8], max: usize) -> AppResult<Member> {
    let db = &ctx.db;
    if bytes.is_empty() {
        return Err(AppError::invalid(
            "avatar",
            "The upload is empty. Choose an image file.",
        ));
    }
    if bytes.len() > max {
        return Err(AppError::invalid(
            "avatar",
            format!("The image is too large: at most {} KiB.", max / 1024),
        ));
    }
    // Decoding is CPU work: off the async workers.
    let upload = bytes.to_vec();
    let (content_type, image) = tokio::task::spawn_blocking(move || reencode_avatar(&upload))
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
    let mut tx = db.write().await?;
    q::put_avatar(&mut tx, viewer.id(), content_type, &image, ctx.now()).await?;
    let m = q::member_by_id(&mut tx, viewer.id())
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(m)
}

pub async fn remove_avatar(ctx: &Ctx, viewer: &Viewer) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    q::delete_avatar(&mut tx, viewer.id(), ctx.now()).await?;
    tx.commit().await?;
    Ok(())
}

// ---- members ----

/// A member by handle, as `viewer` may see them: deactivated members stay
/// visible (their content stays), unknown handles are not found.
pub async fn member(ctx: &Ctx, handle: &str) -> AppResult<Member> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    member_named(&mut c, handle).await
}

/// [`member`] on a connection the caller holds (often its transaction).
pub async fn member_named(c: &mut store::Conn, handle: &str) -> AppResult<Member> {
    q::member_by_handle(c, handle)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no member @{handle}.")))
}

pub async fn list_members(
    ctx: &Ctx,
    viewer: &Viewer,
    after: Option<&str>,
    limit: i64,
) -> AppResult<Vec<Member>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(q::list_members(&mut c, after, limit, viewer.role().is_admin()).await?)
}

// ---- org settings ----

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrgSettings {
    pub org_name: String,
    pub invite_policy: InvitePolicy,
    /// Kept, but not in effect: see [`DOMAIN_SIGNUP_OFF`].
    pub signup_domains: DomainList,
}

impl OrgSettings {
    /// Whether people at the allowed domains can sign up now.
    pub fn signup_open(&self) -> bool {
        false
    }
}

pub async fn org_settings(ctx: &Ctx) -> AppResult<OrgSettings> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let org_name = q::setting(&mut c, "org_name")
        .await?
        .unwrap_or_else(|| "Chorus".into());
    let invite_policy = match q::setting(&mut c, "invite_policy").await? {
        Some(p) => InvitePolicy::parse(&p).unwrap_or_default(),
        None => InvitePolicy::default(),
    };
    let signup_domains = match q::setting(&mut c, "signup_domains").await? {
        Some(d) => DomainList::from_vec(serde_json::from_str(&d).unwrap_or_default()),
        None => DomainList::from_vec(Vec::new()),
    };
    Ok(OrgSettings {
        org_name,
        invite_policy,
        signup_domains,
    })
}

#[derive(Debug, Default, Clone)]
pub struct OrgSettingsInput {
    pub org_name: Option<String>,
    pub invite_policy: Option<String>,
    pub signup_domains: Option<String>,
}

pub async fn update_org_settings(
    ctx: &Ctx,
    viewer: &Viewer,
    input: &OrgSettingsInput,
) -> AppResult<OrgSettings> {
    let db = &ctx.db;
    require_admin(viewer)?;
    let mut checks = Checks::default();
    let org_name = input.org_name.as_ref().and_then(|n| {
        checks.check(ShortText::parse("org_name", n, 80).and_then(|n| {
            if n.is_empty() {
                Err(ValidationError::new(
                    "org_name",
                    "Give the organisation a name.",
                ))
            } else {
                Ok(n)
            }
        }))
    });
    let policy = input
        .invite_policy
        .as_ref()
        .and_then(|p| checks.check(InvitePolicy::parse(p)));
    let domains = input
        .signup_domains
        .as_ref()
        .and_then(|d| checks.check(DomainList::parse(d)));
    checks.finish()?;
    let mut tx = db.write().await?;
    if let Some(n) = org_name {
        q::put_setting(&mut tx, "org_name", n.as_str()).await?;
    }
    if let Some(p) = policy {
        q::put_setting(&mut tx, "invite_policy", p.as_str()).await?;
    }
    if let Some(d) = domains {
        let json = serde_json::to_string(d.as_slice()).map_err(anyhow::Error::from)?;
        q::put_setting(&mut tx, "signup_domains", &json).await?;
    }
    tx.commit().await?;
    org_settings(ctx).await
}

fn require_admin(viewer: &Viewer) -> AppResult<()> {
    if viewer.role().is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only the org's owners and admins can do this.".into(),
        ))
    }
}

// ---- roles and deactivation ----

pub async fn set_role(ctx: &Ctx, actor: &Viewer, handle: &str, role: &str) -> AppResult<Member> {
    let db = &ctx.db;
    let role = Role::parse(role)?;
    let mut tx = db.write().await?;
    let target = member_named(&mut tx, handle).await?;
    if target.role == role {
        return Ok(target);
    }
    if !actor.role().can_grant(target.role, role) {
        return Err(AppError::Forbidden(format!(
            "As {} you cannot change @{} from {} to {}.",
            article(actor.role()),
            target.handle,
            target.role.as_str(),
            role.as_str()
        )));
    }
    if target.role == Role::Owner && q::active_owner_count(&mut tx).await? <= 1 {
        return Err(AppError::Conflict {
            detail: "This is the only owner. Make someone else an owner first.".into(),
            field: Some("role"),
        });
    }
    q::set_role(&mut tx, target.id, role, ctx.now()).await?;
    let m = q::member_by_id(&mut tx, target.id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(m)
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Owner => "an owner",
        Role::Admin => "an admin",
        Role::Member => "a member",
        Role::Guest => "a guest",
    }
}

pub async fn set_deactivated(
    ctx: &Ctx,
    actor: &Viewer,
    handle: &str,
    deactivated: bool,
) -> AppResult<Member> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let target = member_named(&mut tx, handle).await?;
    if target.id == actor.id() {
        return Err(AppError::Forbidden(
            "You cannot deactivate or reactivate yourself. Ask another admin.".into(),
        ));
    }
    if !actor.role().can_deactivate(target.role) {
        return Err(AppError::Forbidden(format!(
            "As {} you cannot deactivate or reactivate {} like @{}.",
            article(actor.role()),
            article(target.role),
            target.handle
        )));
    }
    let now = ctx.now();
    q::set_deactivated(&mut tx, target.id, deactivated.then_some(now), now).await?;
    let m = q::member_by_id(&mut tx, target.id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(m)
}

// ---- invitations ----

#[derive(Debug, Default, Clone)]
pub struct InviteInput {
    pub email: String,
    pub role: Option<String>,
    pub message: Option<String>,
}

/// Invites someone by email; returns the invitation and its one-time link.
pub async fn invite(
    ctx: &Ctx,
    viewer: &Viewer,
    input: &InviteInput,
) -> AppResult<(Invitation, String)> {
    let org = org_settings(ctx).await?;
    if !viewer.role().can_invite(org.invite_policy) {
        return Err(AppError::Forbidden(match viewer.role() {
            Role::Guest => "Guests cannot invite people.".into(),
            _ => "In this org only admins invite people. Ask an admin to invite them.".into(),
        }));
    }
    let mut checks = Checks::default();
    let email = checks.check(Email::parse(&input.email));
    let role = match input.role.as_deref() {
        None | Some("") => Some(Role::Member),
        Some(r) => checks.check(Role::parse(r).and_then(|r| match r {
            Role::Owner => Err(ValidationError::new(
                "role",
                "Nobody is invited as an owner. Invite them as an admin; an owner can promote them later.",
            )),
            r => Ok(r),
        })),
    };
    let message = input
        .message
        .as_deref()
        .and_then(|m| checks.check(Markdown::parse("message", m, 1000)));
    checks.finish()?;
    let (email, role) = (email.expect("checked"), role.expect("checked"));
    if role == Role::Admin && !viewer.role().is_admin() {
        return Err(AppError::Forbidden("Only admins can invite admins.".into()));
    }
    let token = crypto::new_token();
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    if q::member_for_login(&mut tx, email.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::Conflict {
            detail: format!("{} already has an account.", email.as_str()),
            field: Some("email"),
        });
    }
    let inv = q::insert_invitation(
        &mut tx,
        &q::NewInvitation {
            token_hash: &crypto::token_hash(&token),
            email: email.as_str(),
            role,
            inviter_id: viewer.id(),
            message: message.as_ref().map_or("", |m| m.as_str()),
            expires_at: now + ctx.settings.invitation_days.max(1) * MICROS_PER_DAY,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((inv, invitation_url(ctx, &token)))
}

pub fn invitation_url(ctx: &Ctx, token: &str) -> String {
    format!("{}/invite/{token}", ctx.base_url)
}

/// Why an invitation cannot be used, if it cannot.
fn check_usable(inv: &Invitation, now: i64) -> AppResult<()> {
    if inv.accepted_at.is_some() {
        return Err(AppError::Gone {
            slug: "invitation-used",
            detail: "This invitation has already been used. Log in, or ask for a new invitation."
                .into(),
        });
    }
    if inv.revoked_at.is_some() {
        return Err(AppError::Gone {
            slug: "invitation-revoked",
            detail: "This invitation was withdrawn. Ask the person who invited you for a new one."
                .into(),
        });
    }
    if inv.expires_at <= now {
        return Err(AppError::Gone {
            slug: "invitation-expired",
            detail: format!(
                "This invitation has expired. Ask @{} for a new one.",
                inv.inviter_handle
            ),
        });
    }
    Ok(())
}

/// The invitation behind a link, if it can still be accepted.
pub async fn open_invitation(ctx: &Ctx, token: &str) -> AppResult<Invitation> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let inv = q::invitation_by_token(&mut c, &crypto::token_hash(token))
        .await?
        .ok_or_else(|| {
            AppError::NotFound(
                "There is no such invitation. Check that you copied the whole link.".into(),
            )
        })?;
    check_usable(&inv, ctx.now())?;
    Ok(inv)
}

/// Accepts an invitation: creates the account with the invited address and
/// role. The email in `input` is ignored.
pub async fn accept_invitation(ctx: &Ctx, token: &str, input: &SignupInput) -> AppResult<Member> {
    let db = &ctx.db;
    let inv = open_invitation(ctx, token).await?;
    let v = validate_signup(input, false)?;
    let hash = crypto::hash_password(v.password.as_str()).await?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let member = q::insert_member(
        &mut tx,
        &NewMember {
            handle: v.handle.as_str(),
            email: &inv.email,
            display_name: v.display_name.as_str(),
            role: inv.role,
            password_hash: &hash,
        },
        now,
    )
    .await
    .map_err(signup_conflict)?;
    if !q::claim_invitation(&mut tx, inv.id, member.id, now).await? {
        // Someone used it between our look and our write.
        let fresh = q::invitation_by_id(&mut tx, inv.id)
            .await?
            .ok_or(store::Error::NotFound)?;
        check_usable(&fresh, now)?;
        return Err(AppError::Gone {
            slug: "invitation-used",
            detail: "This invitation has already been used.".into(),
        });
    }
    tx.commit().await?;
    Ok(member)
}

pub async fn list_invitations(
    ctx: &Ctx,
    viewer: &Viewer,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Invitation>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let only = (!viewer.role().is_admin()).then_some(viewer.id());
    Ok(q::list_invitations(&mut c, only, before, limit).await?)
}

pub async fn revoke_invitation(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let not_found = || AppError::NotFound(format!("There is no invitation {id} of yours."));
    let inv = q::invitation_by_id(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    if inv.inviter_id != viewer.id() && !viewer.role().is_admin() {
        return Err(not_found());
    }
    if !q::revoke_invitation(&mut tx, id, ctx.now()).await? {
        return Err(AppError::Conflict {
            detail: "This invitation was already used or withdrawn.".into(),
            field: None,
        });
    }
    tx.commit().await?;
    Ok(())
}

// ---- sign-up by allowed domain ----

/// Why sign-up by allowed domain is not in effect. A sign-up's address must
/// be confirmed by mail before its account exists: otherwise anyone could
/// sign up as `ceo@<allowed domain>`, or take the address of someone with a
/// pending invitation. Chorus sends no mail yet, so the allowed domains are
/// kept (an admin may set them) but nobody signs up by them.
pub const DOMAIN_SIGNUP_OFF: &str = "needs outgoing mail, which is not set up yet";

/// Signing up without an invitation: refused while [`DOMAIN_SIGNUP_OFF`]
/// holds, whatever is sent, and nothing is created.
pub async fn self_signup(_db: &Db, _input: &SignupInput) -> AppResult<Member> {
    Err(AppError::Forbidden(format!(
        "Signing up with a work address is off: confirming the address {DOMAIN_SIGNUP_OFF}. \
         Ask a member to invite you."
    )))
}

// ---- used by the command line ----

/// Creates a member directly (the `admin create-user` command).
pub async fn create_member(ctx: &Ctx, input: &SignupInput, role: Role) -> AppResult<Member> {
    let db = &ctx.db;
    let v = validate_signup(input, true)?;
    let hash = crypto::hash_password(v.password.as_str()).await?;
    let mut tx = db.write().await?;
    let member = q::insert_member(
        &mut tx,
        &NewMember {
            handle: v.handle.as_str(),
            email: v.email.as_ref().expect("email checked").as_str(),
            display_name: v.display_name.as_str(),
            role,
            password_hash: &hash,
        },
        ctx.now(),
    )
    .await
    .map_err(signup_conflict)?;
    tx.commit().await?;
    Ok(member)
}

/// A stand-in viewer with the given member's rights, for the command line.
pub async fn act_as(ctx: &Ctx, handle: &str) -> AppResult<Viewer> {
    let m = member(ctx, handle).await?;
    Ok(Viewer {
        member: m,
        auth: Auth::Token { id: 0 },
    })
}

/// The owner the command line acts as: whoever can run it can read the
/// database anyway.
pub async fn system_actor(ctx: &Ctx) -> AppResult<Viewer> {
    let mut c = ctx.db.read().await?;
    let owner = q::list_members(&mut c, None, 1000, true)
        .await?
        .into_iter()
        .find(|m| m.role == Role::Owner && m.is_active());
    match owner {
        Some(m) => Ok(Viewer {
            member: m,
            auth: Auth::Token { id: 0 },
        }),
        None => Err(AppError::Unavailable(
            "Chorus has no owner yet. Run `chorus serve` and follow the setup link, or create one \
             with `chorus admin create-user --role owner`."
                .into(),
        )),
    }
}

/// A member's avatar image and its content type, if they have one.
pub async fn avatar(ctx: &Ctx, handle: &str) -> AppResult<Option<(String, Vec<u8>)>> {
    let m = member(ctx, handle).await?;
    let mut c = ctx.db.read().await?;
    Ok(q::avatar(&mut c, m.id).await?)
}
