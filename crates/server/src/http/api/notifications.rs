//! The viewer's notifications and marking them read.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ListQuery, decode_id_cursor, encode_cursor};
use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::notifications;
use crate::state::AppState;
use crate::views::social::{NotificationPage, NotificationView};

/// The viewer's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = NotificationPage)))]
pub async fn notifications(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<NotificationPage>, Problem> {
    let before = q.before.as_deref().map(decode_id_cursor).transpose()?;
    let (rows, unread, next) =
        notifications::notifications(&state.ctx, &viewer, before, q.limit()).await?;
    Ok(Json(NotificationPage {
        items: rows
            .into_iter()
            .map(|(n, a)| NotificationView::new(&n, a))
            .collect(),
        next: next.map(|n| encode_cursor(&n.to_string())),
        unread,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The notifications to mark read (their `id`s from the list). To mark
    /// everything read, call `POST /notifications/read-all`.
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UnreadView {
    pub unread: i64,
}

/// Marks the notifications named by `ids` read.
#[utoipa::path(post, path = "/notifications/read", tag = "notifications", request_body = ReadRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = UnreadView), (status = 422, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Result<Json<UnreadView>, Problem> {
    let Some(ids) = req.ids else {
        return Err(AppError::invalid(
            "ids",
            "Name the notifications to mark read by their `id`s; to mark all of them read, \
             call POST /notifications/read-all.",
        )
        .into());
    };
    let ids: Vec<i64> = ids
        .iter()
        .map(|i| {
            i.parse().map_err(|_| {
                AppError::invalid(
                    "ids",
                    "Notification ids are the `id` strings from the list.",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    notifications::mark_read(&state.ctx, &viewer, Some(&ids)).await?;
    Ok(Json(UnreadView {
        unread: notifications::unread_count(&state.ctx, &viewer).await?,
    }))
}

/// Marks every notification read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = UnreadView)))]
pub async fn mark_all_read(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<UnreadView>, Problem> {
    notifications::mark_read(&state.ctx, &viewer, None).await?;
    Ok(Json(UnreadView {
        unread: notifications::unread_count(&state.ctx, &viewer).await?,
    }))
}
