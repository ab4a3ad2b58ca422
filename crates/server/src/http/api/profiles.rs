//! The viewer's own profile and avatar, and the members' profiles.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ListQuery, decode_cursor, encode_cursor};
use crate::http::extract::{ApiBytes, ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::profiles;
use crate::service::profiles::{ProfileInput, ProfileText};
use crate::state::AppState;
use crate::views::{MemberView, Page};

/// The logged-in member.
#[utoipa::path(get, path = "/me", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 401, body = Problem)))]
pub async fn me(ApiViewer(viewer): ApiViewer) -> Json<MemberView> {
    Json(MemberView::new(&viewer.member, Some(&viewer)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub team: Option<String>,
    /// Markdown.
    pub about: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`.
    pub time_zone: Option<String>,
}

/// Edits the logged-in member's profile; absent fields stay as they are.
#[utoipa::path(patch, path = "/me", tag = "accounts", request_body = ProfileRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<ProfileRequest>,
) -> Result<Json<MemberView>, Problem> {
    let input = ProfileInput::parse(&ProfileText {
        display_name: req.display_name,
        title: req.title,
        team: req.team,
        about: req.about,
        time_zone: req.time_zone,
    })?;
    let m = profiles::update_profile(&state.ctx, &viewer, &input).await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

/// Uploads an avatar: the image file as the body (PNG, JPEG, GIF or WebP).
#[utoipa::path(put, path = "/me/avatar", tag = "accounts",
    request_body(content = Vec<u8>, content_type = "image/png"),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_avatar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiBytes(body): ApiBytes,
) -> Result<Json<MemberView>, Problem> {
    let m = profiles::set_avatar(
        &state.ctx,
        &viewer,
        &body,
        state.ctx.settings.max_avatar_bytes,
    )
    .await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

/// Removes the avatar.
#[utoipa::path(delete, path = "/me/avatar", tag = "accounts",
    security(("bearer" = []), ("session" = [])), responses((status = 204)))]
pub async fn delete_avatar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<StatusCode, Problem> {
    profiles::remove_avatar(&state.ctx, &viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members in handle order (admins also see deactivated members).
#[utoipa::path(get, path = "/members", tag = "members", params(ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<MemberView>)))]
pub async fn list_members(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<MemberView>>, Problem> {
    let limit = q.limit();
    let after = q.before.as_deref().map(decode_cursor).transpose()?;
    let members = profiles::list_members(&state.ctx, &viewer, after.as_deref(), limit + 1).await?;
    let more = members.len() as i64 > limit;
    let items: Vec<MemberView> = members
        .iter()
        .take(limit as usize)
        .map(|m| MemberView::new(m, Some(&viewer)))
        .collect();
    let next = more
        .then(|| items.last().map(|m| encode_cursor(&m.handle)))
        .flatten();
    Ok(Json(Page { items, next }))
}

/// One member's profile.
#[utoipa::path(get, path = "/members/{handle}", tag = "members",
    params(("handle" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<MemberView>, Problem> {
    let m = profiles::member(&state.ctx, &profiles::handle_named(&handle)?).await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvatarQuery {
    /// The avatar version, for caching.
    #[allow(dead_code)]
    pub v: Option<i64>,
}

/// A member's avatar image.
#[utoipa::path(get, path = "/members/{handle}/avatar", tag = "members",
    params(("handle" = String, Path), AvatarQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "image/png"), (status = 404, body = Problem)))]
pub async fn get_avatar(
    State(state): State<AppState>,
    ApiViewer(_viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
) -> Result<Response, Problem> {
    let handle = profiles::handle_named(&handle)?;
    let Some((content_type, bytes)) = profiles::avatar(&state.ctx, &handle).await? else {
        return Err(Problem::not_found(format!("@{handle} has no avatar.")));
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
