//! Acknowledging an item whose author asked for it.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::ItemId;

use super::{CsrfForm, actor, done};
use crate::service::acks;
use crate::state::AppState;

pub async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<ItemId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        acks::acknowledge(&state.ctx, &v, id).await,
        &format!("/items/{id}#ack"),
    )
}
