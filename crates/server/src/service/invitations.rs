//! Invitations: inviting someone by email, opening and accepting the
//! one-time link (the account gets the invited address and role), and
//! listing and withdrawing invitations.

use domain::{Email, LoginName, Markdown, Role, ValidationError};
use store::invitations as q;
use store::sessions;

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult, Checks};
use crate::service::org::org_settings;
use crate::service::profiles::Member;
use crate::service::sessions::MICROS_PER_DAY;
use crate::service::signup::{SignupInput, insert_account};
use crate::service::viewer::Viewer;

/// The rows the invitation services return, as their read models.
pub use store::invitations::Invitation;

/// An invitation, checked where it was typed.
#[derive(Debug, Clone)]
pub struct InviteInput {
    pub email: Email,
    pub role: Role,
    pub message: Option<Markdown>,
}

impl InviteInput {
    /// Checks an invitation as typed (no role: a member), every field at
    /// fault named at once.
    pub fn parse(email: &str, role: Option<&str>, message: Option<&str>) -> AppResult<InviteInput> {
        let mut checks = Checks::default();
        let email = checks.check(Email::parse(email));
        let role = match role {
            None | Some("") => Some(Role::Member),
            Some(r) => checks.check(Role::parse(r).and_then(|r| match r {
                Role::Owner => Err(ValidationError::new(
                    "role",
                    "Nobody is invited as an owner. Invite them as an admin; an owner can promote them later.",
                )),
                r => Ok(r),
            })),
        };
        let message = message.and_then(|m| checks.check(Markdown::parse("message", m, 1000)));
        checks.finish()?;
        Ok(InviteInput {
            email: email.expect("checked"),
            role: role.expect("checked"),
            message,
        })
    }
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
    let (email, role, message) = (&input.email, input.role, &input.message);
    if role == Role::Admin && !viewer.role().is_admin() {
        return Err(AppError::Forbidden("Only admins can invite admins.".into()));
    }
    let token = crypto::new_token();
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    let named = LoginName::Email(email.as_str().to_owned());
    if sessions::member_for_login(&mut tx, &named).await?.is_some() {
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
    let link = invitation_url(ctx, &token);
    mail_invitation(ctx, &mut tx, inv.id, now).await?;
    tx.commit().await?;
    Ok((inv, link))
}

/// Queues the invitation's mail in `tx`, when mail goes out (the job
/// mints the mailed link when it sends).
async fn mail_invitation(ctx: &Ctx, tx: &mut store::Tx, id: i64, now: i64) -> AppResult<()> {
    if crate::service::mail::enabled(ctx) {
        let job = crate::service::mail::MailJob::Invitation { invitation: id };
        store::mail::enqueue(tx, &job, now).await?;
    }
    Ok(())
}

/// Sends an open invitation again with a new link (the old one stops
/// working, since only its hash is kept) and a new expiry; returns the
/// invitation and the new link.
pub async fn resend_invitation(
    ctx: &Ctx,
    viewer: &Viewer,
    id: i64,
) -> AppResult<(Invitation, String)> {
    let token = crypto::new_token();
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    let not_found = || AppError::NotFound(format!("There is no invitation {id} of yours."));
    let inv = q::invitation_by_id(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    if inv.inviter_id != viewer.id() && !viewer.role().is_admin() {
        return Err(not_found());
    }
    let expires_at = now + ctx.settings.invitation_days.max(1) * MICROS_PER_DAY;
    if !q::renew_invitation(&mut tx, id, &crypto::token_hash(&token), expires_at).await? {
        return Err(AppError::Conflict {
            detail: "This invitation was already used or withdrawn; invite them again instead."
                .into(),
            field: None,
        });
    }
    let link = invitation_url(ctx, &token);
    mail_invitation(ctx, &mut tx, id, now).await?;
    let inv = q::invitation_by_id(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok((inv, link))
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
    Ok(open_invitation_by(ctx, token).await?.0)
}

/// The invitation behind a link, and whether the link is the mailed one.
async fn open_invitation_by(ctx: &Ctx, token: &str) -> AppResult<(Invitation, bool)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let hash = crypto::token_hash(token);
    let found = match q::invitation_by_token(&mut c, &hash).await? {
        Some(inv) => Some((inv, false)),
        None => q::invitation_by_mail_token(&mut c, &hash)
            .await?
            .map(|inv| (inv, true)),
    };
    let (inv, mailed) = found.ok_or_else(|| {
        AppError::NotFound(
            "There is no such invitation. Check that you copied the whole link.".into(),
        )
    })?;
    check_usable(&inv, ctx.now())?;
    Ok((inv, mailed))
}

/// Accepts an invitation: creates the account with the invited address and
/// role. The email in `input` is ignored. Through the mailed link the
/// address is verified (its owner read the mail); through the link the
/// inviter copied by hand it is not.
pub async fn accept_invitation(ctx: &Ctx, token: &str, input: &SignupInput) -> AppResult<Member> {
    let db = &ctx.db;
    let (inv, mailed) = open_invitation_by(ctx, token).await?;
    let hash = crypto::hash_password(input.password.as_str()).await?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let member = insert_account(&mut tx, input, &inv.email, inv.role, &hash, now).await?;
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
    let member = if mailed {
        crate::service::addresses::mark_verified(&mut tx, member.id, now).await?;
        store::profiles::member_by_id(&mut tx, member.id)
            .await?
            .ok_or(store::Error::NotFound)?
    } else {
        member
    };
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
