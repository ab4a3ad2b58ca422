//! The calendar feed's secret address on the settings page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::profiles::{settings_after, settings_page_with};
use super::{Acting, CsrfForm};
use crate::state::AppState;

pub async fn issue_calendar(
    State(state): State<AppState>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
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
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    let r = crate::service::calendar::revoke(&state.ctx, &v).await;
    settings_after(
        &state,
        &v,
        r,
        "Calendar address revoked: it no longer works.",
    )
    .await
}
