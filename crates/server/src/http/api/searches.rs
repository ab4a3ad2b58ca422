//! Followed searches: follow a query at a level, list mine, change the
//! level, unfollow. A member sees only their own (another's is 404).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::searches;
use crate::state::AppState;
use crate::views::{Page, SavedSearchView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowSearchRequest {
    /// What to look for, in the search box's language (`deploy
    /// from:@ana in:ops`); stored as Chorus reads it.
    pub query: String,
    /// `watching`, `following` (default) or `muted`.
    pub level: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchLevelRequest {
    /// `watching`, `following` or `muted`.
    pub level: String,
}

fn search_id(id: &str) -> Result<i64, Problem> {
    id.parse()
        .map_err(|_| Problem::not_found(format!("You follow no search {id}.")))
}

/// The searches the logged-in member follows, newest first (at most 50,
/// one page).
#[utoipa::path(get, path = "/searches", tag = "searches", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<SavedSearchView>), (status = 401, body = Problem)))]
pub async fn list_searches(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<Page<SavedSearchView>>, Problem> {
    let list = searches::list(&state.ctx, &viewer).await?;
    Ok(Json(Page {
        items: list.iter().map(SavedSearchView::from).collect(),
        next: None,
    }))
}

/// Follows a search: what matches it from now on comes to the home
/// stream, and at `watching` as a notification too. Following a query
/// already followed changes its level (200).
#[utoipa::path(post, path = "/searches", tag = "searches", request_body = FollowSearchRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = SavedSearchView), (status = 200, body = SavedSearchView),
        (status = 422, body = Problem)))]
pub async fn follow_search(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<FollowSearchRequest>,
) -> Result<(StatusCode, Json<SavedSearchView>), Problem> {
    let (s, new) = searches::follow(&state.ctx, &viewer, &req.query, req.level.as_deref()).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SavedSearchView::from(&s))))
}

/// One of the logged-in member's searches.
#[utoipa::path(get, path = "/searches/{id}", tag = "searches", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SavedSearchView), (status = 404, body = Problem)))]
pub async fn get_search(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SavedSearchView>, Problem> {
    let s = searches::get(&state.ctx, &viewer, search_id(&id)?).await?;
    Ok(Json(SavedSearchView::from(&s)))
}

/// Changes the level of one of the logged-in member's searches.
#[utoipa::path(put, path = "/searches/{id}", tag = "searches", params(("id" = String, Path)),
    request_body = SearchLevelRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SavedSearchView), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_search(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SearchLevelRequest>,
) -> Result<Json<SavedSearchView>, Problem> {
    let id = search_id(&id)?;
    let s = searches::set_level(&state.ctx, &viewer, id, &req.level).await?;
    Ok(Json(SavedSearchView::from(&s)))
}

/// Unfollows one of the logged-in member's searches; what it brought stays
/// in home.
#[utoipa::path(delete, path = "/searches/{id}", tag = "searches", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn unfollow_search(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    searches::unfollow(&state.ctx, &viewer, search_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
