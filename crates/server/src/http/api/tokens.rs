//! Personal API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::tokens;
use crate::state::AppState;
use crate::views::{NewTokenView, Page, TokenView};

/// The logged-in member's live API tokens.
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<TokenView>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<Page<TokenView>>, Problem> {
    let tokens = tokens::list_tokens(&state.ctx, &viewer).await?;
    Ok(Json(Page {
        items: tokens.iter().map(TokenView::from).collect(),
        next: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// Where the token is used, e.g. "laptop script".
    pub name: String,
}

/// Creates a personal API token; the secret is shown once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewTokenRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = NewTokenView), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> Result<(StatusCode, Json<NewTokenView>), Problem> {
    let (t, secret) = tokens::create_token(&state.ctx, &viewer, &req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            token: TokenView::from(&t),
            secret,
        }),
    ))
}

/// Revokes one of the logged-in member's tokens.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("You have no token {id}.")))?;
    tokens::revoke_token(&state.ctx, &viewer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
