//! Followed searches (DESIGN.md: "a query a member may follow like
//! anything else"): saving a query at a follow level, changing the level,
//! unfollowing, and the matching job that brings new matches home.
//!
//! A saved search carries its own level, in the words of every follow
//! (`domain::social::FollowLevel`): nothing points at a search the way an
//! activity points at its actor, space or item, so fan-out never looks a
//! search up; the job walks the searches instead. The job runs every
//! [`EVERY`], never in a write's request: for each search that is not
//! muted, whose owner is active, it asks [`search::matches_after`] as the
//! owner from the search's mark, keeps what the visibility rule and the
//! owner's mutes let through and what the owner did not do themselves, and
//! in one transaction per search delivers each to the owner's home (once,
//! whichever search matched first), notifies at `watching`, and moves the
//! mark: a crash loses nothing and repeats nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::search::Query;
use domain::social::FollowLevel;
use domain::{MemberId, ValidationError};
use store::searches as q;

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::search;
use crate::service::viewer::{Auth, Viewer, visible_activity};

/// The rows the search services return, as their read models.
pub use store::searches::SavedSearch;

/// The most searches one member follows.
pub const MAX_SEARCHES: i64 = 50;
/// How often the matching job runs: a match arrives within a minute.
pub const EVERY: Duration = Duration::from_secs(20);
/// Searches the job reads at a time.
const BATCH: i64 = 100;
/// Matches one search delivers per run at most; the rest come next run.
const PER_RUN: usize = 100;

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("You follow no search {id}."))
}

/// What was typed, read as a query; refused when it asks nothing.
pub fn parse_query(text: &str) -> Result<Query, ValidationError> {
    let q = Query::parse(text);
    if q.is_empty() {
        return Err(ValidationError::new(
            "query",
            "Type what to look for: words, \"a phrase\", or a filter such as from:@handle, \
             in:space, #topic or type:question.",
        ));
    }
    Ok(q)
}

/// Follows `query` at `level` (following when None): a new search starts
/// at the newest activity, so only what comes after it is delivered; one
/// the member already follows changes level. Returns the search and
/// whether it is new.
pub async fn follow(
    ctx: &Ctx,
    viewer: &Viewer,
    query: &str,
    level: Option<&str>,
) -> AppResult<(SavedSearch, bool)> {
    let mut checks = crate::error::Checks::default();
    let q = checks.check(parse_query(query));
    let level = checks.check(FollowLevel::parse(level.unwrap_or("following")));
    checks.finish()?;
    let (text, level) = (q.expect("checked").to_string(), level.expect("checked"));
    let (member, now) = (viewer.id(), ctx.now());
    ctx.on_writer(move |ctx| async move {
        let mut tx = ctx.db.write().await?;
        if let Some(s) = q::by_query(&mut tx, member, &text).await? {
            let s = relevel(&mut tx, member, s, level).await?;
            tx.commit().await?;
            return Ok((s, false));
        }
        if q::count(&mut tx, member).await? >= MAX_SEARCHES {
            return Err(AppError::invalid(
                "query",
                format!(
                    "You follow {MAX_SEARCHES} searches, the most one may. Unfollow one you no \
                     longer need (Searches, in the menu) and try again."
                ),
            ));
        }
        let mark = store::streams::stream_position(&mut tx).await?;
        let s = q::insert(&mut tx, member, &text, level.as_str(), mark, now).await?;
        tx.commit().await?;
        Ok((s, true))
    })
    .await
}

/// The viewer's searches, newest first.
pub async fn list(ctx: &Ctx, viewer: &Viewer) -> AppResult<Vec<SavedSearch>> {
    let mut c = ctx.db.read().await?;
    Ok(q::list(&mut c, viewer.id()).await?)
}

/// One of the viewer's searches (404 for anyone else's).
pub async fn get(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<SavedSearch> {
    let mut c = ctx.db.read().await?;
    q::get(&mut c, viewer.id(), id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// The viewer's search for this query, if they follow it (for the results
/// page's follow form).
pub async fn following(
    ctx: &Ctx,
    viewer: &Viewer,
    query: &Query,
) -> AppResult<Option<SavedSearch>> {
    if query.is_empty() {
        return Ok(None);
    }
    let mut c = ctx.db.read().await?;
    Ok(q::by_query(&mut c, viewer.id(), &query.to_string()).await?)
}

/// Changes the level of one of the viewer's searches.
pub async fn set_level(ctx: &Ctx, viewer: &Viewer, id: i64, level: &str) -> AppResult<SavedSearch> {
    let level = FollowLevel::parse(level)?;
    let member = viewer.id();
    ctx.on_writer(move |ctx| async move {
        let mut tx = ctx.db.write().await?;
        let s = q::get(&mut tx, member, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let s = relevel(&mut tx, member, s, level).await?;
        tx.commit().await?;
        Ok(s)
    })
    .await
}

/// Sets a search's level; one unmuted starts at the newest activity, as a
/// new one does (muted means nothing comes, not "later").
async fn relevel(
    tx: &mut store::Tx,
    member: MemberId,
    s: SavedSearch,
    level: FollowLevel,
) -> AppResult<SavedSearch> {
    if s.level == FollowLevel::Muted.as_str() && level != FollowLevel::Muted {
        let mark = store::streams::stream_position(tx).await?;
        q::set_mark(tx, s.id, mark).await?;
    }
    q::set_level(tx, member, s.id, level.as_str())
        .await?
        .ok_or_else(|| not_found(s.id))
}

/// Unfollows (deletes) one of the viewer's searches; what it delivered
/// stays in their home.
pub async fn unfollow(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let member = viewer.id();
    ctx.on_writer(move |ctx| async move {
        let mut tx = ctx.db.write().await?;
        if !q::delete(&mut tx, member, id).await? {
            return Err(not_found(id));
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Unfollows the viewer's search for what was typed; returns its text.
pub async fn unfollow_query(ctx: &Ctx, viewer: &Viewer, query: &str) -> AppResult<String> {
    let text = parse_query(query)?.to_string();
    let member = viewer.id();
    ctx.on_writer(move |ctx| async move {
        let mut tx = ctx.db.write().await?;
        let Some(s) = q::by_query(&mut tx, member, &text).await? else {
            return Err(AppError::NotFound(format!(
                "You do not follow the search “{text}”."
            )));
        };
        q::delete(&mut tx, member, s.id).await?;
        tx.commit().await?;
        Ok(text)
    })
    .await
}

/// Why entries are in the viewer's home, for those a followed search
/// brought: activity id → (search id, query).
pub async fn reasons(
    ctx: &Ctx,
    viewer: &Viewer,
    activities: &[i64],
) -> AppResult<HashMap<i64, (i64, String)>> {
    if activities.is_empty() {
        return Ok(HashMap::new());
    }
    let mut c = ctx.db.read().await?;
    Ok(q::reasons(&mut c, viewer.id(), activities)
        .await?
        .into_iter()
        .map(|(a, s, text)| (a, (s, text)))
        .collect())
}

/// One run of the matching job: every search that delivers and may have
/// new matches, [`BATCH`] at a time. Returns how many matches it delivered.
pub async fn run_matching(ctx: &Ctx) -> AppResult<usize> {
    // Every activity up to here has committed (ids commit in order), so a
    // mark may move to it; what comes after waits for the next run.
    let position = {
        let mut c = ctx.db.read().await?;
        store::streams::stream_position(&mut c).await?
    };
    let mut after = 0;
    let mut delivered = 0;
    loop {
        let batch = {
            let mut c = ctx.db.read().await?;
            q::to_match(&mut c, after, position, BATCH).await?
        };
        let Some(last) = batch.last() else { break };
        after = last.id;
        // Searches with nothing new move their marks together, in one
        // write for the batch.
        let mut quiet = Vec::new();
        for s in batch {
            let id = s.id;
            match match_one(ctx, s, position).await {
                Ok(Some(n)) => delivered += n,
                Ok(None) => quiet.push(id),
                // One search failing stops no other; its mark stays.
                Err(e) => tracing::warn!(search = id, error = %e, "a followed search failed"),
            }
        }
        if !quiet.is_empty() {
            ctx.on_writer(move |ctx| async move {
                let mut tx = ctx.db.write().await?;
                q::advance_marks(&mut tx, &quiet, position).await?;
                tx.commit().await?;
                Ok(())
            })
            .await?;
        }
        if ctx.stopping.is_cancelled() {
            break;
        }
    }
    Ok(delivered)
}

/// Matches one search from its mark up to `position` and delivers what is
/// new, moving its mark; None when nothing matched up to `position`, for
/// the caller to move the mark with others.
async fn match_one(ctx: &Ctx, s: SavedSearch, position: i64) -> AppResult<Option<usize>> {
    let (owner, muted) = {
        let mut c = ctx.db.read().await?;
        let Some(m) = store::profiles::member_by_id(&mut c, s.member_id).await? else {
            return Ok(None);
        };
        let muted = q::mutes(&mut c, s.member_id).await?;
        (m, muted)
    };
    if !owner.is_active() {
        return Ok(None);
    }
    let viewer = Viewer {
        member: owner,
        auth: Auth::Token { id: 0 },
    };
    let query = Query::parse(&s.query);
    let mut ids = search::matches_after(ctx, &viewer, &query, s.matched_upto, PER_RUN).await?;
    let full = ids.len() >= PER_RUN;
    let before = ids.len();
    ids.retain(|&a| a > s.matched_upto && a <= position);
    let upto = match ids.last() {
        // More may follow the last of a full answer that stayed whole.
        Some(&l) if full && ids.len() == before => l,
        _ => position,
    };
    let ids = admitted(ctx, &viewer, &ids, &muted).await?;
    if ids.is_empty() && upto == position {
        return Ok(None);
    }
    let now = ctx.now();
    let n = ctx
        .on_writer(move |ctx| async move {
            let mut tx = ctx.db.write().await?;
            let done = q::deliver_matches(&mut tx, &s, &ids, upto, now).await?;
            tx.commit().await?;
            Ok(done.map_or(0, |d| d.len()))
        })
        .await?;
    Ok(Some(n))
}

/// Of the matched activities, those the owner sees by the visibility rule,
/// did not do themselves, and has not muted (its actor, space or item).
async fn admitted(
    ctx: &Ctx,
    viewer: &Viewer,
    ids: &[i64],
    muted: &HashSet<String>,
) -> AppResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = ctx.db.read().await?;
    let rows = store::activities::activities_by_ids(&mut c, Some(viewer.id()), ids).await?;
    let me: MemberId = viewer.id();
    let mut out: Vec<i64> = rows
        .iter()
        .filter(|a| a.actor.id != me && visible_activity(viewer, a))
        .filter(|a| {
            let item = a.item.as_ref();
            !(muted.contains(&format!("member:{}", a.actor.id))
                || item.is_some_and(|i| muted.contains(&format!("item:{}", i.id)))
                || item
                    .and_then(|i| i.space_id)
                    .is_some_and(|sp| muted.contains(&format!("space:{sp}"))))
        })
        .map(|a| a.id)
        .collect();
    out.sort_unstable();
    Ok(out)
}
