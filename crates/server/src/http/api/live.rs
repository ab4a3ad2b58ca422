//! Live updates: Server-Sent Events for every stream and for the
//! notification count.
//!
//! A connection remembers the last stream position it sent. Whenever the
//! bus announces that the stream moved (or on connect, from the
//! `Last-Event-ID` the browser sends back when it reconnects), it reads
//! the stream from that position through the same service — and so the
//! same visibility rule — as a page, and sends what it finds. A reconnect
//! therefore misses nothing and repeats nothing.

use domain::MemberId;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::http::extract::{ApiPath, ApiViewer};
use crate::http::problem::Problem;
use crate::service::profiles;
use crate::service::sessions::Standing;
use crate::service::streams::Announcement;
use crate::service::streams::Position;
use crate::service::streams::Stream;
use crate::service::streams::StreamRequest;
use crate::service::viewer::Viewer;
use crate::service::{notifications, streams};
use crate::state::AppState;
use crate::views::social::ActivityView;

type Events = axum::response::Response;

/// The live connections each member holds, so that one member (a leaked
/// token in a loop, a browser with a hundred tabs) cannot hold the
/// server's connections: past `live_per_member` their oldest closes.
pub struct LiveConnections {
    max: usize,
    next: std::sync::atomic::AtomicU64,
    open: std::sync::Mutex<std::collections::HashMap<MemberId, VecDeque<(u64, CancellationToken)>>>,
}

impl LiveConnections {
    pub fn new(max: usize) -> LiveConnections {
        LiveConnections {
            max: max.max(1),
            next: Default::default(),
            open: Default::default(),
        }
    }

    /// Registers a connection of `member`, closing their oldest ones past
    /// the limit.
    fn open(self: &Arc<Self>, member: MemberId) -> Slot {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let closed = CancellationToken::new();
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = open.entry(member).or_default();
        mine.push_back((id, closed.clone()));
        while mine.len() > self.max {
            if let Some((_, oldest)) = mine.pop_front() {
                oldest.cancel();
            }
        }
        Slot {
            all: Arc::clone(self),
            member,
            id,
            closed,
        }
    }

    /// How many live connections a member holds.
    pub fn held_by(&self, member: MemberId) -> usize {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&member)
            .map_or(0, VecDeque::len)
    }
}

/// One registered live connection; dropping it (the stream ended or the
/// client went away) lets go of its place.
struct Slot {
    all: Arc<LiveConnections>,
    member: MemberId,
    id: u64,
    /// Cancelled when newer connections of the member push this one out.
    closed: CancellationToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .all
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mine) = open.get_mut(&self.member) {
            mine.retain(|(id, _)| *id != self.id);
            if mine.is_empty() {
                open.remove(&self.member);
            }
        }
    }
}

/// Whether the viewer may go on receiving; a failed check closes the
/// stream too (the client reconnects and is authenticated again).
async fn still_holds(standing: &mut Standing, state: &AppState) -> bool {
    match standing.holds(&state.ctx).await {
        Ok(holds) => holds,
        Err(e) => {
            tracing::warn!(error = %e, "live stream could not check its viewer; closing it");
            false
        }
    }
}

/// The viewer's standing as the stream starts: a credential that changed
/// since the request was authenticated is "not logged in".
async fn standing_of(state: &AppState, viewer: &Viewer) -> Result<Standing, Problem> {
    Standing::of(&state.ctx, viewer)
        .await?
        .ok_or_else(Problem::unauthorized)
}

/// `Last-Event-ID`: `seq-activity` for home, an activity id elsewhere.
fn last_event_id(headers: &HeaderMap, home: bool) -> Option<Position> {
    let v = headers.get("last-event-id")?.to_str().ok()?.trim();
    match v.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((v.parse().ok()?, if home { i64::MAX } else { 0 })),
    }
}

fn event_id(p: Position, home: bool) -> String {
    if home {
        format!("{}-{}", p.0, p.1)
    } else {
        p.0.to_string()
    }
}

struct Live {
    state: AppState,
    viewer: Viewer,
    /// Checked at every wake-up: the stream closes once the viewer's
    /// credential, role or active state changed.
    standing: Standing,
    slot: Slot,
    stream: Stream,
    home: bool,
    last: Position,
    rx: broadcast::Receiver<Announcement>,
    pending: VecDeque<Event>,
    read_now: bool,
    /// Activities sent lately: a big fan-out can deliver one twice.
    recent: VecDeque<i64>,
}

async fn next_activity(mut l: Live) -> Option<(Result<Event, Infallible>, Live)> {
    loop {
        if let Some(e) = l.pending.pop_front() {
            return Some((Ok(e), l));
        }
        if !l.read_now {
            tokio::select! {
                _ = l.state.ctx.stopping.cancelled() => return None,
                _ = l.slot.closed.cancelled() => return None,
                r = l.rx.recv() => match r {
                    // Home wakes for deliveries to this member; other
                    // streams for activities past their position.
                    // A member named as notified may also have lost a right
                    // (see `Standing`): every stream of theirs checks.
                    Ok(a) if a.everyone || a.may_notify(l.viewer.id()) => {}
                    Ok(a) if l.home && !a.may_deliver(l.viewer.id()) => continue,
                    Ok(a) if !l.home && a.position <= l.last.0 => continue,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
        if l.slot.closed.is_cancelled() || !still_holds(&mut l.standing, &l.state).await {
            return None;
        }
        // Read until caught up (a read returns at most 100).
        let (rows, last, more) =
            match streams::stream_after(&l.state.ctx, &l.viewer, &l.stream, l.last).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "live stream read failed; closing it");
                    return None;
                }
            };
        l.read_now = more;
        l.last = last;
        for r in rows {
            if l.recent.contains(&r.id) {
                continue;
            }
            if l.recent.len() >= 256 {
                l.recent.pop_front();
            }
            l.recent.push_back(r.id);
            let id = event_id(streams::position(&r), l.home);
            let view = ActivityView::new(r, &[]);
            if let Ok(e) = Event::default().id(id).event("activity").json_data(&view) {
                l.pending.push_back(e);
            }
        }
    }
}

async fn live(
    state: AppState,
    viewer: Viewer,
    which: StreamRequest,
    headers: &HeaderMap,
) -> Result<Events, Problem> {
    let standing = standing_of(&state, &viewer).await?;
    // Subscribe before reading the position, so nothing falls in between.
    let rx = streams::subscribe(&state.ctx);
    let stream = streams::stream_of(&state.ctx, &viewer, which).await?;
    let home = matches!(stream, Stream::Home);
    let (last, read_now) = match last_event_id(headers, home) {
        Some(p) => (p, true),
        None => (streams::stream_position(&state.ctx, &stream).await?, false),
    };
    let slot = state.live.open(viewer.id());
    let l = Live {
        state,
        viewer,
        standing,
        slot,
        stream,
        home,
        last,
        rx,
        pending: VecDeque::new(),
        read_now,
        recent: VecDeque::new(),
    };
    let s = futures_util::stream::unfold(l, next_activity);
    Ok(Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response())
}

/// Live home stream (Server-Sent Events, `event: activity`).
#[utoipa::path(get, path = "/streams/home/events", tag = "live",
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this activity id")),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "activities as they happen")))]
pub async fn home(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    live(state, viewer, StreamRequest::Home, &headers).await
}

/// Live Everything stream.
#[utoipa::path(get, path = "/streams/everything/events", tag = "live",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream")))]
pub async fn everything(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    live(state, viewer, StreamRequest::Everything, &headers).await
}

/// Live space stream.
#[utoipa::path(get, path = "/spaces/{slug}/events", tag = "live", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    live(state, viewer, StreamRequest::Space(slug), &headers).await
}

/// Live topic stream.
#[utoipa::path(get, path = "/topics/{tag}/events", tag = "live", params(("tag" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream")))]
pub async fn topic(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(tag): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    live(state, viewer, StreamRequest::Topic(tag), &headers).await
}

/// Live member stream.
#[utoipa::path(get, path = "/members/{handle}/events", tag = "live", params(("handle" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    let handle = profiles::handle_named(&handle)?;
    live(state, viewer, StreamRequest::Profile(handle), &headers).await
}

/// Live item history (comments, reactions, edits).
#[utoipa::path(get, path = "/items/{id}/events", tag = "live", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Events, Problem> {
    let id = id
        .parse()
        .map_err(|_| Problem::not_found(format!("There is no item {id} that you can see.")))?;
    live(state, viewer, StreamRequest::Item(id), &headers).await
}

struct Count {
    state: AppState,
    viewer: Viewer,
    standing: Standing,
    slot: Slot,
    rx: broadcast::Receiver<Announcement>,
    sent: Option<i64>,
    position: i64,
    first: bool,
}

async fn next_count(mut l: Count) -> Option<(Result<Event, Infallible>, Count)> {
    loop {
        if !l.first {
            tokio::select! {
                _ = l.state.ctx.stopping.cancelled() => return None,
                _ = l.slot.closed.cancelled() => return None,
                r = l.rx.recv() => match r {
                    Ok(a) if !a.may_notify(l.viewer.id()) => continue,
                    Ok(a) => l.position = l.position.max(a.position),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
        l.first = false;
        if !still_holds(&mut l.standing, &l.state).await {
            return None;
        }
        let unread = notifications::unread_count(&l.state.ctx, &l.viewer)
            .await
            .ok()?;
        if l.sent != Some(unread) {
            l.sent = Some(unread);
            let e = Event::default()
                .id(l.position.to_string())
                .event("notification")
                .json_data(serde_json::json!({ "unread": unread }))
                .ok()?;
            return Some((Ok(e), l));
        }
    }
}

/// The live unread-notification count: an `event: notification` with
/// `{"unread": n}` on connect and whenever it changes.
#[utoipa::path(get, path = "/notifications/events", tag = "live", operation_id = "notification_events",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "text/event-stream")))]
pub async fn notifications(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Events, Problem> {
    let standing = standing_of(&state, &viewer).await?;
    let rx = streams::subscribe(&state.ctx);
    let position = streams::stream_position(&state.ctx, &Stream::Everything { guest: false })
        .await?
        .0;
    let slot = state.live.open(viewer.id());
    let l = Count {
        state,
        viewer,
        standing,
        slot,
        rx,
        sent: None,
        position,
        first: true,
    };
    let s = futures_util::stream::unfold(l, next_count);
    Ok(Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response())
}
