//! Spaces: creating, editing and archiving them, joining and leaving,
//! their members and requests to join.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::Handle;
use domain::kinds::SpaceRole;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ListQuery, decode_cursor, encode_cursor, people_page};
use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::profiles;
use crate::service::spaces;
use crate::service::spaces::JoinOutcome;
use crate::service::spaces::SpaceInput;
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::{PersonView, SpaceView};

pub(super) fn mail_domain(state: &AppState) -> String {
    crate::config::host_of(&state.ctx.base_url).unwrap_or_else(|| "localhost".to_owned())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpaceListQuery {
    pub limit: Option<i64>,
    pub before: Option<String>,
    /// Only spaces the viewer belongs to.
    pub mine: Option<bool>,
}

/// Spaces the viewer may know exist, by short name.
#[utoipa::path(get, path = "/spaces", tag = "spaces", params(SpaceListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<SpaceView>)))]
pub async fn list_spaces(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<SpaceListQuery>,
) -> Result<Json<Page<SpaceView>>, Problem> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let after = q
        .before
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or_default();
    let spaces = spaces::list_spaces(
        &state.ctx,
        &viewer,
        q.mine.unwrap_or(false),
        &after,
        limit + 1,
    )
    .await?;
    let more = spaces.len() as i64 > limit;
    let domain = mail_domain(&state);
    let items: Vec<SpaceView> = spaces
        .iter()
        .take(limit as usize)
        .map(|s| SpaceView::new(s, &domain))
        .collect();
    let next = more
        .then(|| items.last().map(|s| encode_cursor(&s.slug)))
        .flatten();
    Ok(Json(Page { items, next }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpaceRequest {
    pub name: Option<String>,
    /// Short name for URLs and mail; made from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// `open` (default), `closed` or `secret`.
    pub visibility: Option<String>,
    /// On PATCH: archive (true) or unarchive (false).
    pub archived: Option<bool>,
}

impl From<SpaceRequest> for SpaceInput {
    fn from(r: SpaceRequest) -> Self {
        SpaceInput {
            name: r.name,
            slug: r.slug,
            description: r.description,
            visibility: r.visibility,
            archived: r.archived,
        }
    }
}

/// Creates a space; the creator is its admin.
#[utoipa::path(post, path = "/spaces", tag = "spaces", request_body = SpaceRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = SpaceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<SpaceRequest>,
) -> Result<(StatusCode, Json<SpaceView>), Problem> {
    let s = spaces::create_space(&state.ctx, &viewer, &req.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SpaceView::new(&s, &mail_domain(&state))),
    ))
}

/// One space (secret spaces are 404 to non-members).
#[utoipa::path(get, path = "/spaces/{slug}", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SpaceView), (status = 404, body = Problem)))]
pub async fn get_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<SpaceView>, Problem> {
    let s = spaces::get_space(&state.ctx, &viewer, &slug).await?;
    Ok(Json(SpaceView::new(&s, &mail_domain(&state))))
}

/// Edits or archives a space (its admins).
#[utoipa::path(patch, path = "/spaces/{slug}", tag = "spaces", params(("slug" = String, Path)),
    request_body = SpaceRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SpaceView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<SpaceRequest>,
) -> Result<Json<SpaceView>, Problem> {
    let s = spaces::update_space(&state.ctx, &viewer, &slug, &req.into()).await?;
    Ok(Json(SpaceView::new(&s, &mail_domain(&state))))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// For closed spaces: a note to the admins.
    pub message: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JoinAnswer {
    /// `joined`, `requested` or `already_member`.
    pub outcome: String,
}

/// Joins an open space, or asks to join a closed one.
#[utoipa::path(post, path = "/spaces/{slug}/join", tag = "spaces", params(("slug" = String, Path)),
    request_body = JoinRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = JoinAnswer), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn join_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    body: bytes::Bytes,
) -> Result<Json<JoinAnswer>, Problem> {
    // The body is optional: `{}` or nothing at all.
    let req: JoinRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JoinRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("The body is not valid JSON: {e}."),
            )
        })?
    };
    let message = req.message.unwrap_or_default();
    let outcome = match spaces::join_space(&state.ctx, &viewer, &slug, &message).await? {
        JoinOutcome::Joined => "joined",
        JoinOutcome::Requested => "requested",
        JoinOutcome::AlreadyMember => "already_member",
    };
    Ok(Json(JoinAnswer {
        outcome: outcome.into(),
    }))
}

/// Leaves a space.
#[utoipa::path(post, path = "/spaces/{slug}/leave", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn leave_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    spaces::leave_space(&state.ctx, &viewer, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The space's members.
#[utoipa::path(get, path = "/spaces/{slug}/members", tag = "spaces",
    params(("slug" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn space_members(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    people_page(q, |after, limit| async move {
        spaces::space_members(&state.ctx, &viewer, &slug, &after, limit).await
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub handle: String,
    /// `member` (default) or `admin`.
    pub role: Option<String>,
}

/// Adds someone to the space, or changes their role there (space admins).
/// The only way into a secret space.
#[utoipa::path(post, path = "/spaces/{slug}/members", tag = "spaces", params(("slug" = String, Path)),
    request_body = AddMemberRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = PersonView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> Result<Json<PersonView>, Problem> {
    let role = match req.role.as_deref() {
        Some(r) => SpaceRole::from_input(r).map_err(AppError::from)?,
        None => SpaceRole::Member,
    };
    let handle = Handle::parse(&req.handle).map_err(|_| spaces::no_active_member(&req.handle))?;
    let p = spaces::add_member(&state.ctx, &viewer, &slug, &handle, role).await?;
    Ok(Json(PersonView::from(&p)))
}

/// Removes someone from the space (space admins; anyone for themselves).
#[utoipa::path(delete, path = "/spaces/{slug}/members/{handle}", tag = "spaces",
    params(("slug" = String, Path), ("handle" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((slug, handle)): ApiPath<(String, String)>,
) -> Result<StatusCode, Problem> {
    let handle = profiles::handle_named(&handle)?;
    spaces::remove_member(&state.ctx, &viewer, &slug, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pending requests to join (space admins).
#[utoipa::path(get, path = "/spaces/{slug}/requests", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn join_requests(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Page<PersonView>>, Problem> {
    let people = spaces::join_requests(&state.ctx, &viewer, &slug).await?;
    Ok(Json(Page {
        items: people.iter().map(PersonView::from).collect(),
        next: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// True to let them in, false to turn them down.
    pub approve: bool,
}

/// Approves or denies a request to join (space admins).
#[utoipa::path(post, path = "/spaces/{slug}/requests/{handle}", tag = "spaces",
    params(("slug" = String, Path), ("handle" = String, Path)), request_body = DecisionRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn decide_request(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((slug, handle)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<StatusCode, Problem> {
    let handle = profiles::handle_named(&handle)?;
    spaces::decide_request(&state.ctx, &viewer, &slug, &handle, req.approve).await?;
    Ok(StatusCode::NO_CONTENT)
}
