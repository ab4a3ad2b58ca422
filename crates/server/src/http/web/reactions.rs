//! Reacting to an item or a comment.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use domain::{CommentId, ItemId};
use serde::Deserialize;

use super::{Acting, back_to, done};
use crate::service::reactions;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactForm {
    csrf: String,
    /// `+emoji` adds, `-emoji` removes.
    r: String,
    #[serde(default)]
    comment_id: String,
}
csrf_form!(ReactForm);

pub async fn react(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ItemId>,
    Acting(v, f): Acting<ReactForm>,
) -> Response {
    let cid = f.comment_id.parse::<CommentId>().ok();
    let (add, emoji) = match f.r.chars().next() {
        Some('-') => (false, &f.r[1..]),
        Some('+') => (true, &f.r[1..]),
        _ => (true, f.r.as_str()),
    };
    let r = reactions::react(&state.ctx, &v, id, cid, emoji, add).await;
    done(r, &back_to(&headers, "", &format!("/items/{id}")))
}
