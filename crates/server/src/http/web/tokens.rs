//! Personal API tokens on the settings page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::profiles::{settings_after, settings_page};
use super::{Acting, CsrfForm};
use crate::service::tokens;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    csrf: String,
    name: String,
}
csrf_form!(TokenForm);

pub async fn create_token(
    State(state): State<AppState>,
    Acting(v, f): Acting<TokenForm>,
) -> Response {
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
    Path(id): Path<i64>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    let r = tokens::revoke_token(&state.ctx, &v, id).await;
    settings_after(&state, &v, r, "Token revoked: it no longer works.").await
}
