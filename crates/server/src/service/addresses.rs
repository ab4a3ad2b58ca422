//! Addresses: a member's verified address, changing it (the new one takes
//! effect when the link mailed to it is opened), password reset by a
//! mailed link, revoking one's reply addresses, and the mails of those
//! links. A link's token is minted when its mail job sends; only its hash
//! is kept, and it works once.
//!
//! With no relay set, no link can be mailed: a changed address takes effect
//! at once and stays unverified (mail from it does not post), and a reset
//! is refused with the advice to ask an admin.

use domain::{Email, LoginName, MemberId, Password};
use store::addresses::{self as q, MailLink, Purpose};

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult};
use crate::service::mail::{self, MailJob, Outgoing};
use crate::service::profiles::Member;
use crate::service::sessions::{NewSession, start_session};
use crate::service::viewer::Viewer;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// How long a link to confirm an address works.
pub const VERIFY_HOURS: i64 = 24;
/// How long a password reset link works.
pub const RESET_HOURS: i64 = 1;
/// Links of one kind mailed to one address in an hour, at most.
const LINKS_PER_HOUR: i64 = 3;

/// What changing one's address did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressChange {
    /// A link went to the new address; it takes effect when opened.
    Pending(String),
    /// Mail is off: the address changed, unverified.
    Changed(String),
}

/// Changes the viewer's address: with mail on, mails a link to the new
/// one (which takes effect when the link is opened; the old one works
/// until then); with mail off, changes it at once, unverified.
pub async fn change_address(ctx: &Ctx, viewer: &Viewer, email: &Email) -> AppResult<AddressChange> {
    let email = email.as_str().to_lowercase();
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    if email == viewer.member.email && viewer.member.email_verified_at.is_some() {
        return Err(AppError::invalid(
            "email",
            "That is already your address. Type the new one.",
        ));
    }
    if store::profiles::member_by_email(&mut tx, &email)
        .await?
        .is_some_and(|m| m.id != viewer.id())
    {
        return Err(AppError::Conflict {
            detail: "Another account has that address. Use another, or ask an admin.".into(),
            field: Some("email"),
        });
    }
    if !mail::enabled(ctx) {
        q::set_address(&mut tx, viewer.id(), &email, None, now)
            .await
            .map_err(taken)?;
        tx.commit().await?;
        return Ok(AddressChange::Changed(email));
    }
    if q::links_since(&mut tx, Purpose::Verify, &email, now - MICROS_PER_HOUR).await?
        >= LINKS_PER_HOUR
    {
        return Err(too_many());
    }
    q::end_links(&mut tx, viewer.id(), Purpose::Verify, now).await?;
    let id = q::insert_link(
        &mut tx,
        Purpose::Verify,
        Some(viewer.id()),
        &email,
        now + VERIFY_HOURS * MICROS_PER_HOUR,
        now,
    )
    .await?;
    store::mail::enqueue(&mut tx, &MailJob::Link { link: id }, now).await?;
    tx.commit().await?;
    Ok(AddressChange::Pending(email))
}

/// Mails the link for the viewer's pending address again (a new link; the
/// old one stops).
pub async fn resend_verification(ctx: &Ctx, viewer: &Viewer) -> AppResult<AddressChange> {
    let pending = pending_address(ctx, viewer)
        .await?
        .ok_or_else(|| AppError::Conflict {
            detail: "No address change is waiting: type the new address to change it.".into(),
            field: Some("email"),
        })?;
    let email = Email::parse(&pending).map_err(|e| AppError::Validation(vec![e]))?;
    change_address(ctx, viewer, &email).await
}

/// The address the viewer changed to and has not confirmed yet.
pub async fn pending_address(ctx: &Ctx, viewer: &Viewer) -> AppResult<Option<String>> {
    let mut c = ctx.db.read().await?;
    Ok(q::pending_address(&mut c, viewer.id(), ctx.now())
        .await?
        .map(|l| l.email))
}

fn taken(e: store::Error) -> AppError {
    match e {
        store::Error::Conflict(store::Unique::MemberEmail) => AppError::Conflict {
            detail: "Another account has that address. Use another, or ask an admin.".into(),
            field: Some("email"),
        },
        e => e.into(),
    }
}

fn too_many() -> AppError {
    AppError::RateLimited {
        detail: format!(
            "Chorus mailed {LINKS_PER_HOUR} links to that address within the hour. Open the \
             newest one, or try again in an hour."
        ),
        retry_after: 3600,
    }
}

/// The link behind a token, when it is for `purpose` and still works.
pub async fn open_link(ctx: &Ctx, token: &str, purpose: Purpose) -> AppResult<MailLink> {
    let mut c = ctx.db.read().await?;
    let link = q::link_by_token(&mut c, &crypto::token_hash(token))
        .await?
        .filter(|l| l.purpose == purpose)
        .ok_or_else(|| {
            AppError::NotFound(
                "This link is not one Chorus mailed, or it was cut short. Open the whole link \
                 from the newest mail."
                    .into(),
            )
        })?;
    usable(&link, ctx.now())?;
    Ok(link)
}

fn usable(link: &MailLink, now: i64) -> AppResult<()> {
    let again = match link.purpose {
        Purpose::Verify => "change your address again in your settings for a new one",
        Purpose::Reset => "ask for a new one from the login page (Forgot your password?)",
        Purpose::Signup => "sign up again for a new one",
    };
    if link.used_at.is_some() {
        return Err(AppError::Gone {
            slug: "link-used",
            detail: format!("This link was already used, or a newer one replaced it: {again}."),
        });
    }
    if link.expires_at <= now {
        return Err(AppError::Gone {
            slug: "link-expired",
            detail: format!("This link has expired: {again}."),
        });
    }
    Ok(())
}

/// Uses a link in `tx`, refusing it when someone used it in between.
async fn take_link(tx: &mut store::Tx, link: &MailLink, now: i64) -> AppResult<()> {
    if !q::use_link(tx, link.id, now).await? {
        let fresh = q::link_by_id(tx, link.id)
            .await?
            .ok_or(store::Error::NotFound)?;
        usable(&fresh, now)?;
        return Err(AppError::Gone {
            slug: "link-used",
            detail: "This link was already used.".into(),
        });
    }
    Ok(())
}

/// Confirms an address change: the address the link was mailed to becomes
/// the member's, verified. Returns it.
pub async fn confirm_address(ctx: &Ctx, token: &str) -> AppResult<String> {
    let link = open_link(ctx, token, Purpose::Verify).await?;
    let member = link.member_id.ok_or(store::Error::NotFound)?;
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    take_link(&mut tx, &link, now).await?;
    q::set_address(&mut tx, member, &link.email, Some(now), now)
        .await
        .map_err(taken)?;
    tx.commit().await?;
    Ok(link.email)
}

/// Asks for a password reset link for the account a handle or address
/// names. The answer is the same whether or not such an account exists:
/// the link goes only to an active member's verified address.
pub async fn forgot_password(ctx: &Ctx, login: &str) -> AppResult<()> {
    if !mail::enabled(ctx) {
        return Err(AppError::Forbidden(
            "This Chorus sends no mail, so it cannot mail a reset link. Ask an admin to set a \
             new password for you."
                .into(),
        ));
    }
    let name = LoginName::parse(login);
    if name.is_empty() {
        return Err(AppError::invalid(
            "login",
            "Enter your handle or email address.",
        ));
    }
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    let Some((m, _)) = store::sessions::member_for_login(&mut tx, &name).await? else {
        return Ok(());
    };
    if !m.is_active() || m.email_verified_at.is_none() {
        return Ok(());
    }
    // Quietly nothing more past the limit: the answer stays the same.
    if q::links_since(&mut tx, Purpose::Reset, &m.email, now - MICROS_PER_HOUR).await?
        >= LINKS_PER_HOUR
    {
        return Ok(());
    }
    let id = q::insert_link(
        &mut tx,
        Purpose::Reset,
        Some(m.id),
        &m.email,
        now + RESET_HOURS * MICROS_PER_HOUR,
        now,
    )
    .await?;
    store::mail::enqueue(&mut tx, &MailJob::Link { link: id }, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset link: every session and API token of
/// the member ends (as a password change does), and a new session starts.
pub async fn reset_password(
    ctx: &Ctx,
    token: &str,
    password: &Password,
    ip: &str,
    user_agent: &str,
) -> AppResult<(Member, NewSession)> {
    let link = open_link(ctx, token, Purpose::Reset).await?;
    let member = link.member_id.ok_or(store::Error::NotFound)?;
    let hash = crypto::hash_password(password.as_str()).await?;
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    take_link(&mut tx, &link, now).await?;
    let m = store::profiles::member_by_id(&mut tx, member)
        .await?
        .filter(|m| m.is_active())
        .ok_or_else(|| {
            AppError::Forbidden(
                "This account has been deactivated. Ask an admin if you need it back.".into(),
            )
        })?;
    store::sessions::set_password(&mut tx, member, &hash, now).await?;
    store::sessions::delete_other_sessions(&mut tx, member, None).await?;
    store::tokens::revoke_all_tokens(&mut tx, member, now).await?;
    q::end_links(&mut tx, member, Purpose::Reset, now).await?;
    tx.commit().await?;
    let session = start_session(ctx, member, ip, user_agent).await?;
    Ok((m, session))
}

/// Stops every reply address made for the viewer so far; mail to one is
/// refused. Returns the new epoch.
pub async fn revoke_reply_addresses(ctx: &Ctx, viewer: &Viewer) -> AppResult<i64> {
    let mut tx = ctx.db.write().await?;
    let epoch = q::bump_reply_epoch(&mut tx, viewer.id()).await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Marks a member's address verified (an admin typed it, or they opened a
/// link mailed to it).
pub async fn mark_verified(tx: &mut store::Tx, member: MemberId, now: i64) -> AppResult<()> {
    q::mark_verified(tx, member, now).await?;
    Ok(())
}

/// The mail of a link, minting its token now (the job's payload holds
/// only the link's id); None when the link was used, replaced or expired.
pub async fn link_mail(ctx: &Ctx, id: i64) -> AppResult<Option<Outgoing>> {
    let now = ctx.now();
    let token = crypto::new_token();
    let link = {
        let mut tx = ctx.db.write().await?;
        let Some(link) = q::link_by_id(&mut tx, id).await? else {
            return Ok(None);
        };
        if link.used_at.is_some() || link.expires_at <= now {
            return Ok(None);
        }
        q::set_link_token(&mut tx, id, &crypto::token_hash(&token)).await?;
        tx.commit().await?;
        link
    };
    let base = &ctx.base_url;
    let org = crate::service::org::org_settings(ctx).await?;
    let name = match link.member_id {
        Some(m) => {
            let mut c = ctx.db.read().await?;
            store::profiles::member_by_id(&mut c, m)
                .await?
                .map(|m| m.display_name)
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let org_name = mail::md_text(&org.org_name);
    let (subject, lines) = match link.purpose {
        Purpose::Verify => (
            format!("Confirm your address for {}", org.org_name),
            vec![
                format!(
                    "You asked to use this address on {org_name}'s Chorus: [confirm it]({base}/address/confirm/{token})."
                ),
                format!(
                    "It takes effect when you open the link, which works once, for {VERIFY_HOURS} \
                     hours. Until then your old address keeps working. If you did not ask for \
                     this, ignore this mail."
                ),
            ],
        ),
        Purpose::Reset => (
            format!("Reset your password on {}", org.org_name),
            vec![
                format!(
                    "Someone (we hope you) asked to reset your password on {org_name}'s Chorus: \
                     [choose a new password]({base}/password/reset/{token})."
                ),
                "The link works once, for an hour. Setting a new password logs you out \
                 everywhere else. If you did not ask for this, ignore this mail: your \
                 password stays as it is."
                    .into(),
            ],
        ),
        Purpose::Signup if link.member_id.is_some() => (
            format!("You already have an account on {}", org.org_name),
            vec![
                format!(
                    "Someone (we hope you) asked to sign up to {org_name}'s Chorus with this \
                     address, which already has an account. [Log in]({base}/login), or \
                     [reset your password]({base}/password/forgot) if you forgot it."
                ),
                "If you did not ask for this, ignore this mail.".into(),
            ],
        ),
        Purpose::Signup => (
            format!("Join {} on Chorus", org.org_name),
            vec![format!(
                "[Finish signing up]({base}/signup/{token}) for {org_name}'s Chorus: choose \
                 your handle, name and password. The link works once, for {VERIFY_HOURS} hours. \
                 If you did not ask for this, ignore this mail."
            )],
        ),
    };
    Ok(Some(Outgoing {
        to: link.email.clone(),
        to_name: name,
        subject,
        markdown: lines.join("\n\n"),
        message_id: format!(
            "chorus.link.{}.{}@{}",
            link.id,
            crate::crypto::token_hash(&token)
                .chars()
                .take(12)
                .collect::<String>(),
            ctx.settings.mail_domain()
        ),
        in_reply_to: None,
        reply_to: None,
        unsubscribe: None,
        auto: true,
        bounce: Some(domain::mail::BounceFor::Link(link.id)),
    }))
}
