//! Following, watching, muting and unfollowing.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::{actor, done};
use crate::service::follows;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowForm {
    csrf: String,
    #[serde(default)]
    back: String,
    target_type: String,
    target: String,
    level: String,
}

pub async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<FollowForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = if f.level == "none" {
        follows::unfollow(&state.ctx, &v, &f.target_type, &f.target).await
    } else {
        follows::follow(&state.ctx, &v, &f.target_type, &f.target, &f.level).await
    };
    done(r, &f.back)
}
