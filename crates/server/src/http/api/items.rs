//! Items: posting, reading, editing and deleting them, and their
//! revisions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ItemId;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::items::ItemInput;
use crate::service::viewer::Viewer;
use crate::service::{audience, items};
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::ItemView;

pub(super) fn item_id(s: &str) -> Result<ItemId, Problem> {
    s.parse()
        .map_err(|_| Problem::not_found(format!("There is no item {s} that you can see.")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItemRequest {
    /// Post in this space (its slug)…
    pub space: Option<String>,
    /// …or directly to these people (handles); with neither, on your profile.
    #[serde(default)]
    pub to: Vec<String>,
    pub title: Option<String>,
    /// Markdown; `@handle` mentions and `#topic` tags are linked.
    pub body: String,
    /// Ask the audience to acknowledge it.
    #[serde(default)]
    pub ack_requested: bool,
}

async fn item_answer(
    state: &AppState,
    viewer: &Viewer,
    id: ItemId,
) -> Result<Json<ItemView>, Problem> {
    let d = items::get_item(&state.ctx, viewer, id).await?;
    let audience = audience::audience_of_item(&state.ctx, viewer, &d.item).await?;
    Ok(Json(ItemView::detail(&d, &audience)))
}

/// Posts an item.
#[utoipa::path(post, path = "/items", tag = "items", request_body = NewItemRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = ItemView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<NewItemRequest>,
) -> Result<(StatusCode, Json<ItemView>), Problem> {
    let input = ItemInput {
        space: req.space,
        to: audience::DirectTo::parse(req.to.iter().map(String::as_str)),
        title: req.title,
        body: req.body,
        ack_requested: req.ack_requested,
    };
    let id = items::create_item(&state.ctx, &viewer, &input).await?;
    Ok((StatusCode::CREATED, item_answer(&state, &viewer, id).await?))
}

/// One item, with who can see it.
#[utoipa::path(get, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ItemView), (status = 404, body = Problem)))]
pub async fn get_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ItemView>, Problem> {
    item_answer(&state, &viewer, item_id(&id)?).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditItemRequest {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// Edits an item (its author); the earlier text is kept in its revisions.
#[utoipa::path(patch, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    request_body = EditItemRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ItemView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn edit_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<EditItemRequest>,
) -> Result<Json<ItemView>, Problem> {
    let id = item_id(&id)?;
    items::edit_item(
        &state.ctx,
        &viewer,
        id,
        req.title.as_deref(),
        req.body.as_deref(),
    )
    .await?;
    item_answer(&state, &viewer, id).await
}

/// Deletes an item: a tombstone stays, and so does its thread.
#[utoipa::path(delete, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    items::delete_item(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct RevisionView {
    pub title: String,
    pub body: String,
    pub edited_by: String,
    pub replaced_at: String,
}

/// Earlier versions of an item, newest first.
#[utoipa::path(get, path = "/items/{id}/revisions", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<RevisionView>), (status = 404, body = Problem)))]
pub async fn item_revisions(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Page<RevisionView>>, Problem> {
    let revs = items::item_revisions(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(Page {
        items: revs
            .iter()
            .map(|r| RevisionView {
                title: r.title.clone(),
                body: r.body.clone(),
                edited_by: r.edited_by.clone(),
                replaced_at: crate::views::time(r.edited_at),
            })
            .collect(),
        next: None,
    }))
}
