//! Org settings and member administration (owners and admins).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::accounts::{self, OrgSettingsInput};
use crate::state::AppState;
use crate::views::{MemberView, OrgSettingsView};

/// The org's settings.
#[utoipa::path(get, path = "/admin/settings", tag = "admin",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = OrgSettingsView), (status = 403, body = Problem)))]
pub async fn get_settings(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<OrgSettingsView>, Problem> {
    if !viewer.role().is_admin() {
        return Err(
            AppError::Forbidden("Only owners and admins see the org's settings.".into()).into(),
        );
    }
    let o = accounts::org_settings(&state.ctx).await?;
    Ok(Json(OrgSettingsView::from(&o)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    pub org_name: Option<String>,
    /// `anyone` or `admins_only`.
    pub invite_policy: Option<String>,
    /// Comma-separated domains whose addresses may sign up on their own
    /// once Chorus can confirm addresses by mail; empty to allow none.
    pub signup_domains: Option<String>,
}

/// Changes the org's settings; absent fields stay as they are.
#[utoipa::path(patch, path = "/admin/settings", tag = "admin", request_body = SettingsRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = OrgSettingsView), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_settings(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<SettingsRequest>,
) -> Result<Json<OrgSettingsView>, Problem> {
    let input = OrgSettingsInput {
        org_name: req.org_name,
        invite_policy: req.invite_policy,
        signup_domains: req.signup_domains,
    };
    let o = accounts::update_org_settings(&state.ctx, &viewer, &input).await?;
    Ok(Json(OrgSettingsView::from(&o)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAdminRequest {
    /// `owner`, `admin`, `member` or `guest`.
    pub role: Option<String>,
    /// True to deactivate (their sessions end and their API tokens are
    /// revoked), false to reactivate (revoked tokens stay revoked).
    pub deactivated: Option<bool>,
}

/// Changes a member's role or deactivates them.
#[utoipa::path(patch, path = "/admin/members/{handle}", tag = "admin",
    params(("handle" = String, Path)), request_body = MemberAdminRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiJson(req): ApiJson<MemberAdminRequest>,
) -> Result<Json<MemberView>, Problem> {
    if !viewer.role().is_admin() {
        return Err(AppError::Forbidden("Only owners and admins manage members.".into()).into());
    }
    let mut m = accounts::member(&state.ctx, &handle).await?;
    if let Some(role) = &req.role {
        m = accounts::set_role(&state.ctx, &viewer, &handle, role).await?;
    }
    if let Some(d) = req.deactivated {
        m = accounts::set_deactivated(&state.ctx, &viewer, &handle, d).await?;
    }
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}
