//! Personal API tokens on the settings page.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::profiles::{settings_after, settings_page};
use super::{CsrfForm, actor};
use crate::service::tokens;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    csrf: String,
    name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TokenForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match tokens::create_token(&state.ctx, &v, &f.name).await {
        Ok((_, token)) => {
            settings_page(
                &state,
                &v,
                StatusCode::CREATED,
                Some("Token created.".into()),
                Some(token),
                Vec::new(),
            )
            .await
        }
        Err(e) => settings_after::<()>(&state, &v, Err(e), "").await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = tokens::revoke_token(&state.ctx, &v, id).await;
    settings_after(&state, &v, r, "Token revoked: it no longer works.").await
}
