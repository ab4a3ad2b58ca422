//! Followed searches: following one from its results page, and the page
//! that lists them with their levels.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::views::ShellV;
use super::{Acting, error_page, form_errors, member, render, shell_v};
use crate::error::AppError;
use crate::service::pages;
use crate::service::searches;
use crate::service::viewer::Viewer;
use crate::state::AppState;
use crate::views::search_url;

pub struct SearchRowV {
    id: i64,
    query: String,
    level: String,
    url: String,
}

#[derive(Template)]
#[template(path = "searches.html")]
pub struct SearchesPage {
    s: ShellV,
    rows: Vec<SearchRowV>,
    notice: Option<String>,
    errors: Vec<String>,
}

async fn searches_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    errors: Vec<String>,
) -> Response {
    let p = match pages::searches(&state.ctx, v).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let uri = Uri::from_static("/searches");
    let page = SearchesPage {
        rows: p
            .searches
            .iter()
            .map(|s| SearchRowV {
                id: s.id,
                query: s.query.clone(),
                level: s.level.clone(),
                url: search_url(&s.query),
            })
            .collect(),
        notice,
        errors,
        s: shell_v(p.shell, v, "", &uri),
    };
    render(status, &page)
}

/// The list page after an action: a notice, or what went wrong.
async fn after<T>(state: &AppState, v: &Viewer, r: Result<T, AppError>, ok: &str) -> Response {
    match r {
        Ok(_) => searches_page(state, v, StatusCode::OK, Some(ok.into()), Vec::new()).await,
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => searches_page(state, v, status, None, errors).await,
            Err(r) => r,
        },
    }
}

pub async fn searches_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    searches_page(&state, &v, StatusCode::OK, None, Vec::new()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowSearchForm {
    csrf: String,
    q: String,
    #[serde(default)]
    level: String,
    /// `/searches` when sent from the list page, which it comes back to;
    /// else the results page.
    #[serde(default)]
    back: String,
}
csrf_form!(FollowSearchForm);

/// Follows a search from its results page (or, with level `none`,
/// unfollows it), then back to the results, which say so.
pub async fn follow_search(
    State(state): State<AppState>,
    Acting(v, f): Acting<FollowSearchForm>,
) -> Response {
    let level = if f.level.is_empty() {
        "following"
    } else {
        f.level.as_str()
    };
    let r = if level == "none" {
        searches::unfollow_query(&state.ctx, &v, &f.q)
            .await
            .map(|q| (q, "unfollowed"))
    } else {
        searches::follow(&state.ctx, &v, &f.q, Some(level))
            .await
            .map(|(s, _)| (s.query, "followed"))
    };
    match r {
        Ok((query, "followed")) if f.back == "/searches" => {
            after::<()>(&state, &v, Ok(()), &format!("You follow “{query}”.")).await
        }
        Ok((query, what)) => {
            Redirect::to(&format!("{}&{what}=1", search_url(&query))).into_response()
        }
        Err(e) => after::<()>(&state, &v, Err(e), "").await,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchLevelForm {
    csrf: String,
    level: String,
}
csrf_form!(SearchLevelForm);

/// Changes a followed search's level on the list page, or unfollows it
/// (`none`).
pub async fn set_search_level(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Acting(v, f): Acting<SearchLevelForm>,
) -> Response {
    if f.level == "none" {
        let r = searches::unfollow(&state.ctx, &v, id).await;
        return after(&state, &v, r, "Search unfollowed.").await;
    }
    let r = searches::set_level(&state.ctx, &v, id, &f.level).await;
    after(&state, &v, r, "Saved.").await
}
