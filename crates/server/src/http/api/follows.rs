//! Following and muting members, spaces, topics and items; who follows
//! whom.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ListQuery, people_page};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::follows;
use crate::service::profiles;
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::PersonView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// `member`, `space`, `topic` or `item`.
    pub target_type: String,
    /// A handle, space slug, topic or item id.
    pub target: String,
    /// `watching`, `following` (default) or `muted`.
    pub level: Option<String>,
}

/// Follows (or mutes) a member, space, topic or item.
#[utoipa::path(put, path = "/follows", tag = "follows", request_body = FollowRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn follow(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<FollowRequest>,
) -> Result<StatusCode, Problem> {
    follows::follow(
        &state.ctx,
        &viewer,
        &req.target_type,
        &req.target,
        req.level.as_deref().unwrap_or("following"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops following.
#[utoipa::path(delete, path = "/follows/{target_type}/{target}", tag = "follows",
    params(("target_type" = String, Path), ("target" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn unfollow(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((target_type, target)): ApiPath<(String, String)>,
) -> Result<StatusCode, Problem> {
    follows::unfollow(&state.ctx, &viewer, &target_type, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who follows a member.
#[utoipa::path(get, path = "/members/{handle}/followers", tag = "follows",
    params(("handle" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 404, body = Problem)))]
pub async fn followers(
    State(state): State<AppState>,
    ApiViewer(_viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    let handle = profiles::handle_named(&handle)?;
    people_page(q, |after, limit| async move {
        follows::member_followers(&state.ctx, &handle, &after, limit).await
    })
    .await
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FollowView {
    pub target_type: String,
    /// A handle, space slug, topic or item id.
    pub target: String,
    pub name: String,
    pub level: String,
}

/// What a member follows (people, spaces the viewer may see, topics),
/// newest first. A page may hold fewer than `limit` entries (what the
/// viewer may not see is left out); follow `next` until it is null.
#[utoipa::path(get, path = "/members/{handle}/following", tag = "follows",
    params(("handle" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<FollowView>), (status = 404, body = Problem)))]
pub async fn following(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<FollowView>>, Problem> {
    let handle = profiles::handle_named(&handle)?;
    let before = match q.before.as_deref() {
        Some(c) => {
            let c = crate::http::api::decode_cursor(c)?;
            let (at, key) = c
                .split_once('\t')
                .ok_or_else(crate::http::api::bad_cursor)?;
            Some((
                at.parse().map_err(|_| crate::http::api::bad_cursor())?,
                key.to_owned(),
            ))
        }
        None => None,
    };
    let (items, next) =
        follows::member_following_page(&state.ctx, &viewer, &handle, before, q.limit()).await?;
    let next = next.map(|(at, key)| crate::http::api::encode_cursor(&format!("{at}\t{key}")));
    Ok(Json(Page {
        items: items
            .into_iter()
            .map(|(t, target, name, level)| FollowView {
                target_type: t,
                target,
                name,
                level,
            })
            .collect(),
        next,
    }))
}
