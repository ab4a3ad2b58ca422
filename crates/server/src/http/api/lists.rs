//! List mode in a space: every new item and comment there by mail.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::lists;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ListModeView {
    /// Whether every new item and comment in the space comes by mail.
    pub list_mode: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListModeRequest {
    /// `true` to get every new item and comment by mail, `false` to stop.
    pub list_mode: bool,
}

/// Whether the logged-in member gets the space's posts by mail.
#[utoipa::path(get, path = "/spaces/{slug}/mail", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ListModeView), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_list_mode(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ListModeView>, Problem> {
    let on = lists::list_mode(&state.ctx, &viewer, &slug).await?;
    Ok(Json(ListModeView { list_mode: on }))
}

/// Turns list mode on or off: every new item and comment in the space by
/// mail, as a mailing list sends them. Only who may read the space's
/// content may turn it on.
#[utoipa::path(put, path = "/spaces/{slug}/mail", tag = "spaces", params(("slug" = String, Path)),
    request_body = ListModeRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ListModeView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_list_mode(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<ListModeRequest>,
) -> Result<Json<ListModeView>, Problem> {
    let on = lists::set_list_mode(&state.ctx, &viewer, &slug, req.list_mode).await?;
    Ok(Json(ListModeView { list_mode: on }))
}
