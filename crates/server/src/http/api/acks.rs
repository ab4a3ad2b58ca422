//! Who has seen an item, and acknowledgements of the items whose
//! author asks for them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa::ToSchema;

use super::items::item_id;
use crate::http::extract::{ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::acks;
use crate::state::AppState;
use crate::views::social::PersonView;

/// Records that the viewer has seen the item.
#[utoipa::path(post, path = "/items/{id}/seen", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 204), (status = 404, body = Problem)))]
pub async fn mark_seen(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    acks::mark_seen(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SeenView {
    /// How many have seen it.
    pub count: i64,
    /// Who, for the item's author; empty for everyone else.
    pub people: Vec<PersonView>,
}

/// Seen by N (and, for the author, who).
#[utoipa::path(get, path = "/items/{id}/seen", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = SeenView), (status = 404, body = Problem)))]
pub async fn seen(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SeenView>, Problem> {
    let (count, people) = acks::seen(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(SeenView {
        count,
        people: people.iter().map(PersonView::from).collect(),
    }))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AcksView {
    pub count: i64,
    /// The viewer has acknowledged it.
    pub me: bool,
    /// For the author: who has…
    pub acknowledged: Vec<PersonView>,
    /// …and who has not yet (up to 200 of `pending_count`).
    pub pending: Vec<PersonView>,
    pub pending_count: i64,
}

/// Acknowledges an item whose author asked for it.
#[utoipa::path(post, path = "/items/{id}/acknowledgements", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    acks::acknowledge(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who has acknowledged the item (and, for the author, who has not).
#[utoipa::path(get, path = "/items/{id}/acknowledgements", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = AcksView), (status = 404, body = Problem)))]
pub async fn acknowledgements(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AcksView>, Problem> {
    let a = acks::acknowledgements(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(AcksView {
        count: a.count,
        me: a.me,
        acknowledged: a.acknowledged.iter().map(PersonView::from).collect(),
        pending: a.pending.iter().map(PersonView::from).collect(),
        pending_count: a.pending_count,
    }))
}
