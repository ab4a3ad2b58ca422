//! Reactions to an item or to one of its comments.

use axum::extract::State;
use axum::http::StatusCode;
use domain::CommentId;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::items::item_id;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::reactions;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionRequest {
    /// One emoji, like 👍.
    pub emoji: String,
    /// React to this comment of the item instead of the item.
    pub comment_id: Option<String>,
}

fn comment_id(s: Option<&str>) -> Result<Option<CommentId>, Problem> {
    s.map(|c| {
        c.parse()
            .map_err(|_| Problem::not_found(format!("There is no comment {c}.")))
    })
    .transpose()
}

/// Adds a reaction.
#[utoipa::path(post, path = "/items/{id}/reactions", tag = "items", params(("id" = String, Path)),
    request_body = ReactionRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReactionRequest>,
) -> Result<StatusCode, Problem> {
    let cid = comment_id(req.comment_id.as_deref())?;
    reactions::react(&state.ctx, &viewer, item_id(&id)?, cid, &req.emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReactionQuery {
    pub comment_id: Option<String>,
}

/// Removes the viewer's reaction.
#[utoipa::path(delete, path = "/items/{id}/reactions/{emoji}", tag = "items",
    params(("id" = String, Path), ("emoji" = String, Path), ReactionQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ReactionQuery>,
) -> Result<StatusCode, Problem> {
    let cid = comment_id(q.comment_id.as_deref())?;
    reactions::react(&state.ctx, &viewer, item_id(&id)?, cid, &emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
