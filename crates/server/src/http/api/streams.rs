//! Streams: home, everything, a space's, a topic's, a member's and an
//! item's, newest first.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::items::item_id;
use super::json::RawJson;
use super::{ListQuery, decode_cursor, encode_cursor};
use crate::http::extract::{ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::profiles;
use crate::service::streams;
use crate::service::streams::StreamRequest;
use crate::service::viewer::Viewer;
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::ActivityView;

/// A page of a stream (`Page<ActivityView>`).
async fn stream_page(
    state: &AppState,
    viewer: &Viewer,
    which: StreamRequest,
    q: &ListQuery,
) -> Result<Response, Problem> {
    let before = q.before.as_deref().map(decode_position).transpose()?;
    let cursor = |(a, b): (i64, i64)| encode_cursor(&format!("{a}-{b}"));
    let json = streams::stream_page(&state.ctx, viewer, which, before, q.limit(), cursor).await?;
    Ok(RawJson(json).into_response())
}

fn decode_position(s: &str) -> Result<(i64, i64), Problem> {
    let text = decode_cursor(s)?;
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-cursor",
            "Bad cursor",
            "The `before` cursor is not one this server gave out. Pass the `next` value of the \
             previous page unchanged, or leave it out to start from the top.",
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// The home stream: activity on everything the viewer follows, muted removed.
#[utoipa::path(get, path = "/streams/home", tag = "streams", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn home_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Home, &q).await
}

/// Everything: every new item the viewer may see.
#[utoipa::path(get, path = "/streams/everything", tag = "streams", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn everything_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Everything, &q).await
}

/// A space's stream.
#[utoipa::path(get, path = "/spaces/{slug}/stream", tag = "streams", params(("slug" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<ActivityView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn space_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Space(slug), &q).await
}

/// A topic's stream: items tagged #topic.
#[utoipa::path(get, path = "/topics/{tag}/stream", tag = "streams", params(("tag" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn topic_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(tag): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Topic(tag), &q).await
}

/// A member's stream: their posts and comments the viewer may see.
#[utoipa::path(get, path = "/members/{handle}/stream", tag = "streams", params(("handle" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>),
    (status = 404, body = Problem)))]
pub async fn member_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    let handle = profiles::handle_named(&handle)?;
    stream_page(&state, &viewer, StreamRequest::Profile(handle), &q).await
}

/// An item's own history.
#[utoipa::path(get, path = "/items/{id}/stream", tag = "streams", params(("id" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>),
    (status = 404, body = Problem)))]
pub async fn item_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Item(item_id(&id)?), &q).await
}
