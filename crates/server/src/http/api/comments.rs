//! An item's comments.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::CommentId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::items::item_id;
use super::{decode_id_cursor, encode_cursor};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::comments;
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::CommentView;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    pub limit: Option<i64>,
    /// The `next` cursor: comments come oldest first.
    pub after: Option<String>,
}

/// An item's comments, oldest first.
#[utoipa::path(get, path = "/items/{id}/comments", tag = "items", params(("id" = String, Path), CommentQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem)))]
pub async fn list_comments(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CommentQuery>,
) -> Result<Json<Page<CommentView>>, Problem> {
    let id = item_id(&id)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let after = q
        .after
        .as_deref()
        .map(decode_id_cursor)
        .transpose()?
        .map_or(CommentId(0), CommentId);
    let (comments, reactions) =
        comments::comments_with_reactions(&state.ctx, &viewer, id, after, limit + 1).await?;
    let more = comments.len() as i64 > limit;
    let items: Vec<CommentView> = comments
        .iter()
        .take(limit as usize)
        .map(|c| CommentView::new(c, &reactions))
        .collect();
    let next = more
        .then(|| items.last().map(|c| encode_cursor(&c.id)))
        .flatten();
    Ok(Json(Page { items, next }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Markdown, with @mentions.
    pub body: String,
}

/// Comments on an item.
#[utoipa::path(post, path = "/items/{id}/comments", tag = "items", params(("id" = String, Path)),
    request_body = CommentRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = CommentView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_comment(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<CommentView>), Problem> {
    let id = item_id(&id)?;
    let c = comments::add_comment(&state.ctx, &viewer, id, &req.body).await?;
    Ok((StatusCode::CREATED, Json(CommentView::new(&c, &[]))))
}
