//! Following, watching, muting and unfollowing.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::{Acting, done};
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
csrf_form!(FollowForm);

pub async fn follow(State(state): State<AppState>, Acting(v, f): Acting<FollowForm>) -> Response {
    let r = if f.level == "none" {
        follows::unfollow(&state.ctx, &v, &f.target_type, &f.target).await
    } else {
        follows::follow(&state.ctx, &v, &f.target_type, &f.target, &f.level).await
    };
    done(r, &f.back)
}
