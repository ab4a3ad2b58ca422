//! Acknowledging an item whose author asked for it.

use axum::extract::{Path, State};
use axum::response::Response;
use domain::ItemId;

use super::{Acting, CsrfForm, done};
use crate::service::acks;
use crate::state::AppState;

pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<ItemId>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    done(
        acks::acknowledge(&state.ctx, &v, id).await,
        &format!("/items/{id}#ack"),
    )
}
