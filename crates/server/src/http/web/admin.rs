//! The admin page: org settings, members, invitations and background
//! jobs.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::Role;
use serde::Deserialize;

use super::views::{Ago, PersonV, ShellV};
use super::{Acting, CsrfForm, error_page, form_errors, member, render, shell_v};
use crate::error::AppError;
use crate::service::invitations::InviteInput;
use crate::service::jobs::JobState;
use crate::service::pages;
use crate::service::profiles;
use crate::service::viewer::Viewer;
use crate::service::{invitations, org, signup};
use crate::state::AppState;

pub struct MemberRowV {
    p: PersonV,
    /// (role, selected)
    roles: Vec<(&'static str, bool)>,
    active: bool,
}

pub struct InvitationV {
    id: i64,
    email: String,
    role: &'static str,
    by: String,
    status: &'static str,
}

pub struct DeadJobV {
    id: i64,
    kind: String,
    attempts: i64,
    error: String,
    /// When it was queued, and when it last changed (it died).
    queued: Ago,
    died: Ago,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    s: ShellV,
    notice: Option<String>,
    errors: Vec<String>,
    invite_link: Option<String>,
    policy: &'static str,
    domains: String,
    /// Why the sign-up domains are not in effect, while they are not.
    domains_off: Option<&'static str>,
    members: Vec<MemberRowV>,
    invitations: Vec<InvitationV>,
    /// Jobs queued, running and dead, and how long the most overdue
    /// queued job has waited.
    jobs_depth: (i64, i64, i64),
    jobs_waited: Option<Ago>,
    dead_jobs: Vec<DeadJobV>,
    /// Whether mail goes out (a relay is set).
    mail_on: bool,
    /// What the member list is filtered by (a search), or empty.
    filter: String,
}

async fn admin_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    invite_link: Option<String>,
    errors: Vec<String>,
) -> Response {
    filtered_admin_page(state, v, status, notice, invite_link, errors, "").await
}

async fn filtered_admin_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    invite_link: Option<String>,
    errors: Vec<String>,
    filter: &str,
) -> Response {
    let p = match pages::admin(&state.ctx, v, filter).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let now = jiff::Timestamp::now().as_microsecond();
    let page = AdminPage {
        filter: filter.to_owned(),
        mail_on: crate::service::mail::enabled(&state.ctx),
        notice,
        errors,
        invite_link,
        policy: p.org.invite_policy.as_str(),
        domains: p.org.signup_domains.as_slice().join(", "),
        domains_off: (!p.org.signup_open()).then_some(signup::DOMAIN_SIGNUP_OFF),
        members: p
            .members
            .iter()
            .map(|m| MemberRowV {
                p: PersonV::member(m),
                roles: ["owner", "admin", "member", "guest"]
                    .into_iter()
                    .map(|r| (r, r == m.role.as_str()))
                    .collect(),
                active: m.is_active(),
            })
            .collect(),
        invitations: p
            .invitations
            .iter()
            .map(|i| InvitationV {
                id: i.id,
                email: i.email.clone(),
                role: i.role.as_str(),
                by: i.inviter_handle.clone(),
                status: if i.accepted_at.is_some() {
                    "accepted"
                } else if i.revoked_at.is_some() {
                    "withdrawn"
                } else if i.expires_at <= now {
                    "expired"
                } else {
                    "open"
                },
            })
            .collect(),
        jobs_depth: {
            let count = |state| -> i64 {
                p.jobs
                    .stats
                    .counts
                    .iter()
                    .filter(|c| c.1 == state)
                    .map(|c| c.2)
                    .sum()
            };
            (
                count(JobState::Queued),
                count(JobState::Running),
                count(JobState::Dead),
            )
        },
        jobs_waited: p.jobs.stats.oldest_due.map(Ago::new),
        dead_jobs: p
            .jobs
            .dead
            .iter()
            .map(|j| DeadJobV {
                id: j.id,
                kind: j.kind.clone(),
                attempts: j.attempts,
                error: j.last_error.clone().unwrap_or_default(),
                queued: Ago::new(j.created_at),
                died: Ago::new(j.updated_at),
            })
            .collect(),
        s: shell_v(p.shell, v, "admin", &Uri::from_static("/admin")),
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub struct AdminQuery {
    /// Filters the member list by a search.
    #[serde(default)]
    q: String,
}

pub async fn admin(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<AdminQuery>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    filtered_admin_page(&state, &v, StatusCode::OK, None, None, Vec::new(), &q.q).await
}

async fn admin_after<T>(
    state: &AppState,
    v: &Viewer,
    r: Result<T, AppError>,
    ok: String,
) -> Response {
    match r {
        Ok(_) => admin_page(state, v, StatusCode::OK, Some(ok), None, Vec::new()).await,
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => admin_page(state, v, status, None, None, errors).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgForm {
    csrf: String,
    org_name: String,
    invite_policy: String,
    signup_domains: String,
}
csrf_form!(OrgForm);

pub async fn admin_settings(
    State(state): State<AppState>,
    Acting(v, f): Acting<OrgForm>,
) -> Response {
    let input = org::OrgSettingsInput {
        org_name: Some(f.org_name),
        invite_policy: Some(f.invite_policy),
        signup_domains: Some(f.signup_domains),
    };
    let r = org::update_org_settings(&state.ctx, &v, &input).await;
    admin_after(&state, &v, r, "Settings saved.".into()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminInviteForm {
    csrf: String,
    email: String,
    role: String,
    #[serde(default)]
    message: String,
}
csrf_form!(AdminInviteForm);

pub async fn admin_invite(
    State(state): State<AppState>,
    Acting(v, f): Acting<AdminInviteForm>,
) -> Response {
    let message = (!f.message.trim().is_empty()).then_some(f.message.as_str());
    let result = match InviteInput::parse(&f.email, Some(&f.role), message) {
        Ok(input) => invitations::invite(&state.ctx, &v, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((inv, link)) => {
            admin_page(
                &state,
                &v,
                StatusCode::CREATED,
                Some(invited_notice(&state, &inv.email, inv.role.as_str())),
                Some(link),
                Vec::new(),
            )
            .await
        }
        Err(e) => admin_after::<()>(&state, &v, Err(e), String::new()).await,
    }
}

/// What the page says once an invitation is made or sent again.
fn invited_notice(state: &AppState, email: &str, role: &str) -> String {
    if crate::service::mail::enabled(&state.ctx) {
        format!("Invited {email} as {role}: the link is on its way by mail.")
    } else {
        format!("Invited {email} as {role}. Mail is off, so send them the link yourself.")
    }
}

pub async fn admin_resend_invitation(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    match invitations::resend_invitation(&state.ctx, &v, id).await {
        Ok((inv, link)) => {
            admin_page(
                &state,
                &v,
                StatusCode::OK,
                Some(invited_notice(&state, &inv.email, inv.role.as_str())),
                Some(link),
                Vec::new(),
            )
            .await
        }
        Err(e) => admin_after::<()>(&state, &v, Err(e), String::new()).await,
    }
}

pub async fn admin_revoke_invitation(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    let r = invitations::revoke_invitation(&state.ctx, &v, id).await;
    admin_after(&state, &v, r, "Invitation withdrawn.".into()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminMemberForm {
    csrf: String,
    role: Option<String>,
    deactivate: Option<String>,
}
csrf_form!(AdminMemberForm);

pub async fn admin_member(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Acting(v, f): Acting<AdminMemberForm>,
) -> Response {
    let handle = match profiles::handle_named(&handle) {
        Ok(h) => h,
        Err(e) => return admin_after::<()>(&state, &v, Err(e), String::new()).await,
    };
    if let Some(role) = f.role {
        let r = match Role::parse(&role) {
            Ok(parsed) => org::set_role(&state.ctx, &v, &handle, parsed).await,
            Err(e) => Err(e.into()),
        };
        let msg = format!("@{handle} is now {role}.");
        return admin_after(&state, &v, r, msg).await;
    }
    let off = f.deactivate.as_deref() == Some("1");
    let r = org::set_deactivated(&state.ctx, &v, &handle, off).await;
    let msg = format!(
        "@{handle} is {}.",
        if off { "deactivated" } else { "active again" }
    );
    admin_after(&state, &v, r, msg).await
}

pub async fn admin_retry_job(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    let r = crate::service::jobs::retry(&state.ctx, &v, id).await;
    let msg = format!("Job {id} is queued again.");
    admin_after(&state, &v, r, msg).await
}
