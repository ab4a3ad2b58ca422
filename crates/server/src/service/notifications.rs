//! Notifications: the viewer's list, the unread count, and marking them
//! read; the list and the count both pass the visibility rule.

use store::notifications as q;
use store::{Conn, activities};

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::streams::ActivityRow;
use crate::service::viewer::{Viewer, visible_activity};

/// The rows the notification services return, as their read models.
pub use store::notifications::NotificationRow;

pub async fn notifications(
    ctx: &Ctx,
    viewer: &Viewer,
    before: Option<i64>,
    limit: i64,
) -> AppResult<(Vec<(q::NotificationRow, ActivityRow)>, i64, Option<i64>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let rows = q::notifications(&mut c, viewer.id(), before.unwrap_or(i64::MAX), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let ids: Vec<i64> = rows.iter().map(|n| n.activity_id).collect();
    let mut acts = activities::activities_by_ids(&mut c, Some(viewer.id()), &ids).await?;
    if acts.iter().any(|a| a.item.is_some()) {
        activities::add_topics_and_recipients(&mut c, &mut acts).await?;
    }
    let unread = unread_in(&mut c, viewer).await?;
    let next = if more {
        rows.last().map(|n| n.id)
    } else {
        None
    };
    let out = rows
        .into_iter()
        .filter_map(|n| {
            let a = acts.iter().find(|a| a.id == n.activity_id)?.clone();
            // A notification never shows what the viewer may not see.
            if !visible_activity(viewer, &a) {
                return None;
            }
            Some((n, a))
        })
        .collect();
    Ok((out, unread, next))
}

/// How many unread notifications the viewer can open.
pub async fn unread_count(ctx: &Ctx, viewer: &Viewer) -> AppResult<i64> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    unread_in(&mut c, viewer).await
}

/// Unread notifications are counted through the visibility rule, as the
/// list shows them: one about something the viewer lost the right to see
/// (removed from its space, made a guest) is neither listed nor counted.
/// The newest [`UNREAD_COUNTED`] are looked at.
async fn unread_in(c: &mut Conn, viewer: &Viewer) -> AppResult<i64> {
    let rows = q::unread_access(c, viewer.id(), UNREAD_COUNTED).await?;
    Ok(rows.iter().filter(|a| visible_activity(viewer, a)).count() as i64)
}

/// How many unread notifications the count looks at.
pub const UNREAD_COUNTED: i64 = 1000;

pub async fn mark_read(ctx: &Ctx, viewer: &Viewer, ids: Option<&[i64]>) -> AppResult<u64> {
    let (member, ids) = (viewer.id(), ids.map(<[i64]>::to_vec));
    ctx.on_writer(|ctx| async move {
        let mut tx = ctx.db.write().await?;
        let n = q::mark_read(&mut tx, member, ids.as_deref(), ctx.now()).await?;
        tx.commit().await?;
        Ok(n)
    })
    .await
}

/// The sentence after the actor's name for an act on a request the viewer
/// is a party to; the request's title follows.
pub fn request_sentence(verb: &str) -> &'static str {
    match verb {
        "request" => "asked you:",
        "offer" => "offered you:",
        "promise" => "promised you:",
        "counter" => "proposed new terms for",
        "accept" => "accepted your terms for",
        "decline" => "declined",
        "withdraw" => "withdrew",
        "report" => "reports done:",
        "renege" => "reneged on",
        "cancel" => "cancelled",
        "approve" => "approved your work on",
        "reject" => "sent back your report on",
        "ask_progress" => "asks how it is going with",
        "completed" => "completed",
        _ => "acted on",
    }
}
