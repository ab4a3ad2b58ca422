//! The org: its settings (name, invitation policy, allowed domains) and
//! its members' roles and deactivation.

use domain::{DomainList, Handle, InvitePolicy, Role, ShortText, ValidationError};
use store::org as q;
use store::profiles;

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::profiles::{Member, member_named};
use crate::service::viewer::Viewer;

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrgSettings {
    pub org_name: String,
    pub invite_policy: InvitePolicy,
    /// In effect only while mail goes out: see
    /// [`DOMAIN_SIGNUP_OFF`](crate::service::signup::DOMAIN_SIGNUP_OFF).
    pub signup_domains: DomainList,
    /// Whether Chorus sends mail (a relay is set): sign-up confirms the
    /// address by a mailed link.
    #[serde(skip)]
    pub mail_on: bool,
}

impl OrgSettings {
    /// Whether people at the allowed domains can sign up now: only while
    /// a link can be mailed to confirm their address.
    pub fn signup_open(&self) -> bool {
        self.mail_on
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
        mail_on: crate::service::mail::enabled(ctx),
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

pub async fn set_role(ctx: &Ctx, actor: &Viewer, handle: &Handle, role: Role) -> AppResult<Member> {
    let db = &ctx.db;
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
    let m = profiles::member_by_id(&mut tx, target.id)
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
    handle: &Handle,
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
    let m = profiles::member_by_id(&mut tx, target.id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(m)
}
