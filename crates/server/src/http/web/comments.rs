//! Commenting on an item, and the comments the script fetches for live
//! updates.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{CommentId, ItemId};
use serde::Deserialize;

use super::views::{CommentV, ShellV};
use super::{Acting, back_to, done, fragment_shell, render, safe_next, viewer};
use crate::service::comments;
use crate::service::pages;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "fragment_comments.html")]
struct CommentsFragment {
    s: ShellV,
    comments: Vec<CommentV>,
}

#[derive(Deserialize)]
pub struct AfterQuery {
    after: Option<CommentId>,
    back: Option<String>,
}

/// An item's comments after a comment id, as HTML.
pub async fn comments_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ItemId>,
    Query(q): Query<AfterQuery>,
) -> Response {
    let Some(v) = viewer(&state, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match pages::comments_after(&state.ctx, &v, id, q.after.unwrap_or(CommentId(0))).await {
        Ok((comments, reactions)) => render(
            StatusCode::OK,
            &CommentsFragment {
                s: fragment_shell(&v, q.back.as_deref()),
                comments: comments
                    .iter()
                    .map(|c| CommentV::new(c, &reactions))
                    .collect(),
            },
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentForm {
    csrf: String,
    #[serde(default)]
    back: String,
    body: String,
}
csrf_form!(CommentForm);

pub async fn comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ItemId>,
    Acting(v, f): Acting<CommentForm>,
) -> Response {
    let back = back_to(&headers, &f.back, &format!("/items/{id}"));
    match comments::add_comment(&state.ctx, &v, id, &f.body).await {
        Ok(c) if back.starts_with("/items/") => {
            Redirect::to(&format!("{}#c{}", safe_next(&back), c.id)).into_response()
        }
        r => done(r, &back),
    }
}
