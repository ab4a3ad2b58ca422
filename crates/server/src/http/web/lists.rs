//! List mode from the pages: the switch on a space's page and the one
//! beside each space in the Notifications section of /settings.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::{Acting, done};
use crate::service::lists;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListModeForm {
    csrf: String,
    /// `on` or `off`.
    list_mode: String,
    #[serde(default)]
    back: String,
}
csrf_form!(ListModeForm);

pub async fn set_list_mode(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Acting(v, f): Acting<ListModeForm>,
) -> Response {
    let back = if f.back.is_empty() {
        format!("/spaces/{slug}")
    } else {
        f.back.clone()
    };
    let r = match f.list_mode.as_str() {
        "on" => lists::set_list_mode(&state.ctx, &v, &slug, true).await,
        "off" => lists::set_list_mode(&state.ctx, &v, &slug, false).await,
        other => Err(domain::ValidationError::new(
            "list_mode",
            format!("List mode is on or off, not {other:?}."),
        )
        .into()),
    };
    done(r, &back)
}
