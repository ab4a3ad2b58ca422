//! Streams: pages of activities, newest first, as the viewer may see them
//! (home, everything, a space, a topic, a profile, an item), as rows or as
//! JSON, and the reads after a position that live updates make.

use domain::{Handle, ItemId, Role, social};
use std::collections::HashSet;

use store::streams as q;
use store::{Conn, activities};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::load_item;
use crate::service::profiles::member_named;
use crate::service::reactions::reactions_of;
use crate::service::spaces::{load_space, space_content_visible};
use crate::service::viewer::{Viewer, visible_activity};

/// The rows the stream services return, as their read models.
pub use store::activities::ActivityRow;
pub use store::db::bus::Announcement;
pub use store::streams::{Position, Stream};

/// One page of a stream: what the viewer may see, newest first, and the
/// cursor for the next page. Reads in rounds, so items the viewer may not
/// see never shorten a page, but never more than a few rounds. `brief`
/// rows hold only what decides what shows (see `store::streams::read_stream`),
/// for a caller that renders them from elsewhere.
pub async fn stream(
    ctx: &Ctx,
    viewer: &Viewer,
    which: StreamRequest,
    before: Option<Position>,
    limit: i64,
    brief: bool,
) -> AppResult<(Vec<ActivityRow>, Option<Position>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let stream = resolve_stream(&mut c, viewer, which).await?;
    let mut muted: Option<HashSet<String>> = None;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = before;
    let mut exhausted = false;
    for _ in 0..4 {
        // The mutes come with the first rows; later rounds do not read them again.
        let (rows, m) = q::read_stream(
            &mut c,
            viewer.id(),
            &stream,
            (cursor, None),
            limit + 1,
            (muted.is_none(), brief),
        )
        .await?;
        let muted = muted.get_or_insert(m);
        exhausted = (rows.len() as i64) <= limit;
        for r in rows {
            cursor = Some(position(&r));
            // A big fan-out can deliver one activity twice (see the inbox).
            if !seen.insert(r.id) {
                continue;
            }
            if entry_visible(viewer, &r, muted) {
                out.push(r);
                if out.len() as i64 > limit {
                    break;
                }
            }
        }
        if out.len() as i64 > limit || exhausted {
            break;
        }
    }
    let next = if out.len() as i64 > limit {
        out.truncate(limit as usize);
        out.last().map(position)
    } else if exhausted {
        None
    } else {
        cursor
    };
    Ok((out, next))
}

/// A page of a stream as JSON (`Page<ActivityView>`), `cursor` writing
/// the `next` position. Entries' JSON comes from the stream cache where
/// there is one ([`crate::caches::streams`]).
pub async fn stream_page(
    ctx: &Ctx,
    viewer: &Viewer,
    which: StreamRequest,
    before: Option<(i64, i64)>,
    limit: i64,
    cursor: impl Fn((i64, i64)) -> String,
) -> AppResult<Vec<u8>> {
    if let (Some(cache), Some(stamps)) = (&ctx.caches.streams, ctx.db.stamps()) {
        // Taken before the rows are read (see `store::db::stamps`).
        let stamp = stamps.now();
        let (rows, next) = stream(ctx, viewer, which, before, limit, true).await?;
        return cache
            .page(&ctx.db, stamps, stamp, rows, next.map(cursor))
            .await;
    }
    let (mut rows, next) = stream(ctx, viewer, which, before, limit, false).await?;
    add_topics_and_recipients(ctx, &mut rows).await?;
    let reactions = reactions_of(&rows)?;
    let page = crate::views::Page {
        items: rows
            .into_iter()
            .map(|r| crate::views::social::ActivityView::new(r, &reactions))
            .collect(),
        next: next.map(cursor),
    };
    // One buffer sized for a stream page (tens of kilobytes), not a small
    // one that grows and copies as it goes.
    let mut out = Vec::with_capacity(32 * 1024);
    serde_json::to_writer(&mut out, &page)
        .map_err(|e| anyhow::anyhow!("could not write a stream page: {e}"))?;
    Ok(out)
}

/// Fills the topics and direct recipients of the items of a stream page's
/// rows, in one statement for the page (they are the same for every viewer).
pub async fn add_topics_and_recipients(ctx: &Ctx, rows: &mut [ActivityRow]) -> AppResult<()> {
    let db = &ctx.db;
    if rows.iter().all(|r| r.item.is_none()) {
        return Ok(());
    }
    let mut c = db.read().await?;
    activities::add_topics_and_recipients(&mut c, rows).await?;
    Ok(())
}

/// Activities after `after`, oldest first, that the viewer may see (for
/// live updates), the last position read, visible or not, from which the
/// next read continues, and whether there may be more.
pub async fn stream_after(
    ctx: &Ctx,
    viewer: &Viewer,
    stream: &Stream,
    after: Position,
) -> AppResult<(Vec<ActivityRow>, Position, bool)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let (rows, muted) = q::read_stream(
        &mut c,
        viewer.id(),
        stream,
        (None, Some(after)),
        100,
        (true, false),
    )
    .await?;
    let more = rows.len() == 100;
    let last = rows.last().map_or(after, position);
    let mut rows: Vec<ActivityRow> = rows
        .into_iter()
        .filter(|r| entry_visible(viewer, r, &muted))
        .collect();
    if rows.iter().any(|r| r.item.is_some()) {
        activities::add_topics_and_recipients(&mut c, &mut rows).await?;
    }
    Ok((rows, last, more))
}

/// The newest position of a stream: the newest activity, or for home the
/// newest delivery.
pub async fn stream_position(ctx: &Ctx, stream: &Stream) -> AppResult<Position> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(match stream {
        Stream::Home => (q::delivery_position(&mut c).await?, i64::MAX),
        _ => (q::stream_position(&mut c).await?, 0),
    })
}

/// Where an entry stands in its stream (see `store::streams::Position`).
pub fn position(r: &ActivityRow) -> Position {
    if r.seq > 0 { (r.seq, r.id) } else { (r.id, 0) }
}

/// Whether a stream entry is shown: the visibility rule, then the viewer's
/// mutes ("type:target" keys; only home reads them).
fn entry_visible(viewer: &Viewer, r: &ActivityRow, muted: &HashSet<String>) -> bool {
    if !visible_activity(viewer, r) {
        return false;
    }
    if let Some(item) = &r.item {
        // Most viewers mute nothing: no keys to format then (three a row
        // of every page).
        if !muted.is_empty()
            && (muted.contains(&format!("item:{}", item.id))
                || muted.contains(&format!("member:{}", r.actor.id))
                || item
                    .space_id
                    .is_some_and(|s| muted.contains(&format!("space:{s}"))))
        {
            return false;
        }
    }
    true
}

/// A stream as named in a request.
#[derive(Debug, Clone)]
pub enum StreamRequest {
    Home,
    Everything,
    Space(String),
    Topic(String),
    Profile(Handle),
    Item(ItemId),
}

/// The stream a request names, when the viewer may read it.
pub async fn stream_of(ctx: &Ctx, viewer: &Viewer, which: StreamRequest) -> AppResult<Stream> {
    let mut c = ctx.db.read().await?;
    resolve_stream(&mut c, viewer, which).await
}

async fn resolve_stream(c: &mut Conn, viewer: &Viewer, which: StreamRequest) -> AppResult<Stream> {
    Ok(match which {
        StreamRequest::Home => Stream::Home,
        StreamRequest::Everything => Stream::Everything {
            guest: viewer.role() == Role::Guest,
        },
        StreamRequest::Space(slug) => {
            let s = load_space(c, viewer, &slug).await?;
            if !space_content_visible(viewer, &s) {
                return Err(AppError::Forbidden(
                    "Only members read this space. Ask to join it.".into(),
                ));
            }
            Stream::Space(s.id)
        }
        StreamRequest::Topic(t) => Stream::Topic(social::parse_topic(&t)?),
        StreamRequest::Profile(handle) => {
            let m = member_named(c, &handle).await?;
            Stream::Profile(m.id)
        }
        StreamRequest::Item(id) => {
            load_item(c, viewer, id).await?;
            Stream::Item(id)
        }
    })
}

/// Announcements of new stream positions (and of members whose standing
/// changed), for live connections: subscribe before reading a position,
/// so nothing falls in between.
pub fn subscribe(ctx: &Ctx) -> tokio::sync::broadcast::Receiver<Announcement> {
    ctx.db.subscribe()
}
