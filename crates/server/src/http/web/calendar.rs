//! The calendar feed's secret address on the settings page.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::profiles::{settings_after, settings_page_with};
use super::{CsrfForm, actor};
use crate::state::AppState;

pub async fn issue_calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::service::calendar::issue(&state.ctx, &v).await {
        Ok(token) => {
            let url = format!("{}/api/v1/calendar/{token}.ics", state.ctx.base_url);
            settings_page_with(
                &state,
                &v,
                StatusCode::CREATED,
                Some("Calendar address created.".into()),
                (None, Some(url)),
                Vec::new(),
            )
            .await
        }
        Err(e) => settings_after::<()>(&state, &v, Err(e), "").await,
    }
}

pub async fn revoke_calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = crate::service::calendar::revoke(&state.ctx, &v).await;
    settings_after(
        &state,
        &v,
        r,
        "Calendar address revoked: it no longer works.",
    )
    .await
}
