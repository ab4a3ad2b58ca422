//! Org settings, member administration and the background jobs (owners
//! and admins).

use axum::Json;
use axum::extract::State;
use domain::Role;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{decode_id_cursor, encode_cursor};
use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::jobs::{self, JobState};
use crate::service::org::OrgSettingsInput;
use crate::service::{org, profiles};
use crate::state::AppState;
use crate::views::{JobView, MemberView, OrgSettingsView, Page};

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
    let o = org::org_settings(&state.ctx).await?;
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
    let o = org::update_org_settings(&state.ctx, &viewer, &input).await?;
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
    let handle = profiles::handle_named(&handle)?;
    let mut m = profiles::member(&state.ctx, &handle).await?;
    if let Some(role) = &req.role {
        let role = Role::parse(role).map_err(AppError::from)?;
        m = org::set_role(&state.ctx, &viewer, &handle, role).await?;
    }
    if let Some(d) = req.deactivated {
        m = org::set_deactivated(&state.ctx, &viewer, &handle, d).await?;
    }
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

/// A job's state, to list only those.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStateParam {
    Queued,
    Running,
    Dead,
}

impl From<JobStateParam> for JobState {
    fn from(s: JobStateParam) -> JobState {
        match s {
            JobStateParam::Queued => JobState::Queued,
            JobStateParam::Running => JobState::Running,
            JobStateParam::Dead => JobState::Dead,
        }
    }
}

/// `?state=&limit=&before=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Only jobs in this state (default: all).
    #[param(inline)]
    pub state: Option<JobStateParam>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
}

/// The background jobs still to run, running, or dead (failed every
/// attempt), newest first. A finished job leaves the list.
#[utoipa::path(get, path = "/admin/jobs", tag = "admin", params(JobListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<JobView>), (status = 403, body = Problem)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<JobListQuery>,
) -> Result<Json<Page<JobView>>, Problem> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let before = q.before.as_deref().map(decode_id_cursor).transpose()?;
    let found = jobs::list(
        &state.ctx,
        &viewer,
        q.state.map(JobState::from),
        before,
        limit + 1,
    )
    .await?;
    let more = found.len() as i64 > limit;
    let found = &found[..found.len().min(limit as usize)];
    Ok(Json(Page {
        items: found.iter().map(JobView::new).collect(),
        next: more
            .then(|| found.last().map(|j| encode_cursor(&j.id.to_string())))
            .flatten(),
    }))
}

/// Queues a dead job again, due now, with all its attempts.
#[utoipa::path(post, path = "/admin/jobs/{id}/retry", tag = "admin",
    params(("id" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = JobView), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the job is not dead, or another job with its key is queued")))]
pub async fn retry_job(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobView>, Problem> {
    if !viewer.role().is_admin() {
        return Err(AppError::Forbidden("Only owners and admins retry jobs.".into()).into());
    }
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::from(AppError::NotFound(format!("There is no job {id}."))))?;
    let job = jobs::retry(&state.ctx, &viewer, id).await?;
    Ok(Json(JobView::new(&job)))
}
