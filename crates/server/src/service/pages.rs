//! What each server-rendered page shows, gathered in one call per page so
//! a page handler parses, calls one function here and renders. These
//! compose the other services (and so their permission checks and the one
//! visibility rule); every read is bounded by the page size, so a page
//! makes a fixed number of queries whatever it shows.

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::acks::{self, Acks};
use crate::service::audience::{self, AudienceSummary};
use crate::service::comments::{self, CommentRow};
use crate::service::invitations::{self, Invitation};
use crate::service::items::{self, ItemDetail};
use crate::service::notifications::{self, NotificationRow};
use crate::service::org::{self, OrgSettings};
use crate::service::profiles::{self, Member, Person};
use crate::service::reactions::reactions_of;
use crate::service::spaces::{self, Space};
use crate::service::streams::{self, ActivityRow, Position, StreamRequest};
use crate::service::tokens::{self, ApiToken};
use crate::service::viewer::{self, Viewer};
use crate::service::{follows, suggestions};
use domain::{CommentId, Handle, ItemId, SpaceId};
use std::collections::HashMap;

/// Reactions as the store gives them: (item, comment, emoji, count, mine).
pub use crate::service::reactions::Reactions;

/// What the header of every page shows.
#[derive(Debug, Clone)]
pub struct Shell {
    pub org_name: String,
    pub unread: i64,
    /// Requests waiting on the viewer's act (My work).
    pub work: i64,
    /// The viewer may invite people (the org's policy and their role).
    pub can_invite: bool,
}

pub async fn shell(ctx: &Ctx, viewer: &Viewer) -> AppResult<Shell> {
    let org = org::org_settings(ctx).await?;
    let unread = notifications::unread_count(ctx, viewer).await?;
    let work = crate::service::requests::waiting_count(ctx, viewer).await?;
    Ok(Shell {
        work,
        can_invite: viewer.role().can_invite(org.invite_policy),
        org_name: org.org_name,
        unread,
    })
}

/// One page of stream entries with their reactions.
#[derive(Debug, Clone, Default)]
pub struct Entries {
    pub rows: Vec<ActivityRow>,
    pub reactions: Reactions,
    /// The cursor of the next page, as `a-b`.
    pub next: Option<String>,
    /// Home only: the entries a followed search brought, by activity id:
    /// (search id, query).
    pub reasons: HashMap<i64, (i64, String)>,
}

fn cursor(p: Position) -> String {
    format!("{}-{}", p.0, p.1)
}

/// Parses a page cursor `a-b` (or `a`).
pub fn parse_cursor(s: &str) -> Option<Position> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((s.parse().ok()?, 0)),
    }
}

/// Gives untitled items their Markdown source, which stream rows leave
/// out (they carry the HTML), so "commented on …" and quoted items are
/// named by the start of their text: one statement for the page.
async fn with_untitled_text(ctx: &Ctx, rows: &mut [ActivityRow]) -> AppResult<()> {
    let ids: Vec<ItemId> = rows
        .iter()
        .filter_map(|r| r.item.as_ref())
        .filter(|i| i.title.is_empty() && i.body.is_empty())
        .map(|i| i.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let bodies: std::collections::HashMap<ItemId, String> = {
        let mut c = ctx.db.read().await?;
        store::items::bodies(&mut c, &ids)
            .await?
            .into_iter()
            .collect()
    };
    for item in rows.iter_mut().filter_map(|r| r.item.as_mut()) {
        if item.title.is_empty()
            && let Some(body) = bodies.get(&item.id)
        {
            item.body.clone_from(body);
        }
    }
    Ok(())
}

async fn entries(
    ctx: &Ctx,
    viewer: &Viewer,
    which: StreamRequest,
    before: Option<Position>,
    limit: i64,
) -> AppResult<Entries> {
    let (mut rows, next) = streams::stream(ctx, viewer, which, before, limit, false).await?;
    with_untitled_text(ctx, &mut rows).await?;
    let reactions = reactions_of(&rows)?;
    Ok(Entries {
        rows,
        reactions,
        next: next.map(cursor),
        reasons: HashMap::new(),
    })
}

// ---- home ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeFilter {
    All,
    /// Posts on profiles and direct posts.
    People,
    /// Posts in spaces.
    Spaces,
    /// Where the viewer was mentioned or named.
    Mentions,
    /// Everything the viewer may see, followed or not.
    Everything,
}

impl HomeFilter {
    pub fn parse(s: &str) -> HomeFilter {
        match s {
            "people" => HomeFilter::People,
            "spaces" => HomeFilter::Spaces,
            "mentions" => HomeFilter::Mentions,
            "everything" => HomeFilter::Everything,
            _ => HomeFilter::All,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HomeFilter::All => "all",
            HomeFilter::People => "people",
            HomeFilter::Spaces => "spaces",
            HomeFilter::Mentions => "mentions",
            HomeFilter::Everything => "everything",
        }
    }

    /// Does an entry belong under this filter (All, People, Spaces)?
    pub fn admits(self, r: &ActivityRow) -> bool {
        match self {
            HomeFilter::People => r.item.as_ref().is_some_and(|i| i.space_id.is_none()),
            HomeFilter::Spaces => r.item.as_ref().is_some_and(|i| i.space_id.is_some()),
            _ => true,
        }
    }
}

pub struct Home {
    pub shell: Shell,
    pub entries: Entries,
    pub my_spaces: Vec<Space>,
    pub audience: AudienceSummary,
    pub suggested_people: Vec<Person>,
    pub suggested_spaces: Vec<Space>,
}

pub async fn home(
    ctx: &Ctx,
    viewer: &Viewer,
    filter: HomeFilter,
    before: Option<&str>,
    limit: i64,
) -> AppResult<Home> {
    let shell = shell(ctx, viewer).await?;
    let before = before.and_then(parse_cursor);
    let mut entries = match filter {
        HomeFilter::All => entries(ctx, viewer, StreamRequest::Home, before, limit).await?,
        HomeFilter::Everything => {
            entries(ctx, viewer, StreamRequest::Everything, before, limit).await?
        }
        HomeFilter::People | HomeFilter::Spaces => {
            filtered_home(ctx, viewer, filter, before, limit).await?
        }
        HomeFilter::Mentions => mentions(ctx, viewer, before.map(|p| p.0), limit).await?,
    };
    if matches!(
        filter,
        HomeFilter::All | HomeFilter::People | HomeFilter::Spaces
    ) {
        let ids: Vec<i64> = entries.rows.iter().map(|r| r.id).collect();
        entries.reasons = crate::service::searches::reasons(ctx, viewer, &ids).await?;
    }
    let my_spaces = spaces::list_spaces(ctx, viewer, true, "", 100).await?;
    let audience = if viewer.role() == domain::Role::Guest {
        match my_spaces.first() {
            Some(s) => audience::audience_for_space(ctx, viewer, &s.slug).await?,
            None => audience::audience_for_direct(ctx, viewer, &Default::default()).await?,
        }
    } else {
        audience::audience_for_profile(ctx).await?
    };
    let (suggested_people, suggested_spaces) = suggestions::suggestions(ctx, viewer).await?;
    Ok(Home {
        shell,
        entries,
        my_spaces,
        audience,
        suggested_people,
        suggested_spaces,
    })
}

/// The home stream narrowed to people or spaces. Like `streams::stream`, it
/// reads in at most four rounds, so a page costs a bounded number of
/// queries however much the filter leaves out.
async fn filtered_home(
    ctx: &Ctx,
    viewer: &Viewer,
    filter: HomeFilter,
    before: Option<Position>,
    limit: i64,
) -> AppResult<Entries> {
    let mut out = Vec::new();
    let mut cursor_at = before;
    let mut next = None;
    for _ in 0..4 {
        let (rows, n) =
            streams::stream(ctx, viewer, StreamRequest::Home, cursor_at, limit, false).await?;
        for r in rows {
            if out.len() as i64 >= limit {
                break;
            }
            let p = streams::position(&r);
            if filter.admits(&r) {
                out.push(r);
            }
            next = Some(p);
        }
        if out.len() as i64 >= limit {
            break;
        }
        match n {
            Some(p) => {
                cursor_at = Some(p);
                next = Some(p);
            }
            None => {
                next = None;
                break;
            }
        }
    }
    with_untitled_text(ctx, &mut out).await?;
    let reactions = reactions_of(&out)?;
    Ok(Entries {
        rows: out,
        reactions,
        next: next.map(cursor),
        reasons: HashMap::new(),
    })
}

/// Items where the viewer was mentioned or named, newest first.
async fn mentions(
    ctx: &Ctx,
    viewer: &Viewer,
    before: Option<i64>,
    limit: i64,
) -> AppResult<Entries> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let found = store::notifications::mention_notifications(
        &mut c,
        viewer.id(),
        before.unwrap_or(i64::MAX),
        limit + 1,
    )
    .await?;
    let more = found.len() as i64 > limit;
    let found: Vec<(i64, i64)> = found.into_iter().take(limit as usize).collect();
    let ids: Vec<i64> = found.iter().map(|f| f.1).collect();
    let acts = store::activities::activities_by_ids(&mut c, Some(viewer.id()), &ids).await?;
    drop(c);
    let rows: Vec<ActivityRow> = found
        .iter()
        .filter_map(|(_, a)| acts.iter().find(|x| x.id == *a).cloned())
        .filter(|a| viewer::visible_activity(viewer, a))
        .collect();
    let reactions = reactions_of(&rows)?;
    Ok(Entries {
        rows,
        reactions,
        next: if more {
            found.last().map(|f| f.0.to_string())
        } else {
            None
        },
        reasons: HashMap::new(),
    })
}

/// One stream entry by activity id, for live updates: None when the
/// viewer may not see it.
pub async fn entry(
    ctx: &Ctx,
    viewer: &Viewer,
    activity: i64,
    home: bool,
) -> AppResult<Option<Entries>> {
    let db = &ctx.db;
    let acts = {
        let mut c = db.read().await?;
        store::activities::activities_by_ids(&mut c, Some(viewer.id()), &[activity]).await?
    };
    let rows: Vec<ActivityRow> = acts
        .into_iter()
        .filter(|a| viewer::visible_activity(viewer, a))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let reactions = reactions_of(&rows)?;
    let reasons = if home {
        crate::service::searches::reasons(ctx, viewer, &[activity]).await?
    } else {
        HashMap::new()
    };
    Ok(Some(Entries {
        rows,
        reactions,
        next: None,
        reasons,
    }))
}

// ---- spaces ----

pub struct Spaces {
    pub shell: Shell,
    pub mine: Vec<Space>,
    pub all: Vec<Space>,
}

pub async fn spaces(ctx: &Ctx, viewer: &Viewer) -> AppResult<Spaces> {
    Ok(Spaces {
        shell: shell(ctx, viewer).await?,
        mine: spaces::list_spaces(ctx, viewer, true, "", 200).await?,
        all: spaces::list_spaces(ctx, viewer, false, "", 200).await?,
    })
}

pub struct SpacePage {
    pub shell: Shell,
    pub space: Space,
    /// The viewer may read its stream and members.
    pub can_read: bool,
    /// The viewer may change it and decide requests.
    pub is_admin: bool,
    pub entries: Entries,
    pub members: Vec<Person>,
    pub requests: Vec<Person>,
    pub follow_level: Option<String>,
    pub audience: AudienceSummary,
}

pub async fn space(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    before: Option<&str>,
    limit: i64,
) -> AppResult<SpacePage> {
    let db = &ctx.db;
    let shell = shell(ctx, viewer).await?;
    let space = spaces::get_space(ctx, viewer, slug).await?;
    let (can_read, entries) = match entries(
        ctx,
        viewer,
        StreamRequest::Space(slug.to_owned()),
        before.and_then(parse_cursor),
        limit,
    )
    .await
    {
        Ok(e) => (true, e),
        Err(AppError::Forbidden(_)) => (false, Entries::default()),
        Err(e) => return Err(e),
    };
    let members = if can_read {
        spaces::space_members(ctx, viewer, slug, "", 60).await?
    } else {
        Vec::new()
    };
    let (is_admin, requests) = match spaces::join_requests(ctx, viewer, slug).await {
        Ok(r) => (true, r),
        Err(AppError::Forbidden(_)) => (false, Vec::new()),
        Err(e) => return Err(e),
    };
    let follow_level = {
        let mut c = db.read().await?;
        store::follows::follow_level(&mut c, viewer.id(), "space", &space.id.to_string()).await?
    };
    let audience = audience::audience_for_space(ctx, viewer, slug).await?;
    Ok(SpacePage {
        shell,
        space,
        can_read,
        is_admin,
        entries,
        members,
        requests,
        follow_level,
        audience,
    })
}

// ---- topics ----

pub struct TopicPage {
    pub shell: Shell,
    pub topic: String,
    pub entries: Entries,
    pub follow_level: Option<String>,
    pub followers: i64,
}

pub async fn topic(
    ctx: &Ctx,
    viewer: &Viewer,
    tag: &str,
    before: Option<&str>,
    limit: i64,
) -> AppResult<TopicPage> {
    let db = &ctx.db;
    let topic = domain::social::parse_topic(tag)?;
    let shell = shell(ctx, viewer).await?;
    let entries = entries(
        ctx,
        viewer,
        StreamRequest::Topic(topic.clone()),
        before.and_then(parse_cursor),
        limit,
    )
    .await?;
    let mut c = db.read().await?;
    let follow_level = store::follows::follow_level(&mut c, viewer.id(), "topic", &topic).await?;
    let followers = store::follows::follower_count(&mut c, "topic", &topic).await?;
    Ok(TopicPage {
        shell,
        topic,
        entries,
        follow_level,
        followers,
    })
}

// ---- items ----

pub struct ItemPage {
    pub shell: Shell,
    pub detail: ItemDetail,
    pub audience: AudienceSummary,
    pub comments: Vec<CommentRow>,
    pub followers: Vec<Person>,
    pub follower_count: i64,
    pub seen_count: i64,
    pub seen_by: Vec<Person>,
    pub acks: Acks,
    pub revisions: usize,
}

pub async fn item(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<ItemPage> {
    let db = &ctx.db;
    let shell = shell(ctx, viewer).await?;
    let detail = items::get_item(ctx, viewer, id).await?;
    let audience = audience::audience_of_item(ctx, viewer, &detail.item).await?;
    let comments = comments::comments(ctx, viewer, id, CommentId(0), 500).await?;
    let (seen_count, seen_by) = acks::seen(ctx, viewer, id).await?;
    let acks = acks::acknowledgements(ctx, viewer, id).await?;
    let revisions = items::item_revisions(ctx, viewer, id).await?.len();
    let mut c = db.read().await?;
    let followers = store::follows::followers(&mut c, "item", &id.to_string(), "", 30).await?;
    let follower_count = store::follows::follower_count(&mut c, "item", &id.to_string()).await?;
    Ok(ItemPage {
        shell,
        detail,
        audience,
        comments,
        followers,
        follower_count,
        seen_count,
        seen_by,
        acks,
        revisions,
    })
}

/// Comments of an item after a comment id, with the item's reactions (for
/// inline and live comments).
pub async fn comments_after(
    ctx: &Ctx,
    viewer: &Viewer,
    item: ItemId,
    after: CommentId,
) -> AppResult<(Vec<CommentRow>, Reactions)> {
    comments::comments_with_reactions(ctx, viewer, item, after, 100).await
}

// ---- people ----

pub struct Profile {
    pub shell: Shell,
    pub member: Member,
    pub entries: Entries,
    pub followers: Vec<Person>,
    pub follower_count: i64,
    /// (type, target, name, level); only when asked for, as it costs a
    /// query per entry.
    pub following: Vec<(String, String, String, String)>,
    pub following_count: i64,
    pub my_level: Option<String>,
}

pub async fn profile(
    ctx: &Ctx,
    viewer: &Viewer,
    handle: &Handle,
    before: Option<&str>,
    limit: i64,
    with_following: bool,
) -> AppResult<Profile> {
    let db = &ctx.db;
    let shell = shell(ctx, viewer).await?;
    let member = profiles::member(ctx, handle).await?;
    let entries = entries(
        ctx,
        viewer,
        StreamRequest::Profile(handle.clone()),
        before.and_then(parse_cursor),
        limit,
    )
    .await?;
    let followers = follows::member_followers(ctx, handle, "", 200).await?;
    let following = if with_following {
        follows::member_following(ctx, viewer, handle).await?
    } else {
        Vec::new()
    };
    let mut c = db.read().await?;
    let following_count = store::follows::following(&mut c, member.id, 500)
        .await?
        .len() as i64;
    let key = member.id.to_string();
    let follower_count = store::follows::follower_count(&mut c, "member", &key).await?;
    let my_level = store::follows::follow_level(&mut c, viewer.id(), "member", &key).await?;
    Ok(Profile {
        shell,
        member,
        entries,
        followers,
        follower_count,
        following,
        following_count,
        my_level,
    })
}

pub struct Directory {
    pub shell: Shell,
    pub members: Vec<Member>,
    pub next: Option<String>,
    /// "member:<id>" → level, for the follow buttons.
    pub following: Vec<(String, String)>,
    pub suggested_people: Vec<Person>,
    pub suggested_spaces: Vec<Space>,
    pub spaces: Vec<Space>,
}

/// The directory: everyone by handle from `after`, or, with a `filter`,
/// the people a search for it finds (`after` then being its cursor).
pub async fn directory(
    ctx: &Ctx,
    viewer: &Viewer,
    after: Option<&str>,
    filter: &str,
) -> AppResult<Directory> {
    let db = &ctx.db;
    let shell = shell(ctx, viewer).await?;
    let (members, next) = if filter.trim().is_empty() {
        let mut members = profiles::list_members(ctx, viewer, after, 61).await?;
        let next = if members.len() > 60 {
            members.truncate(60);
            members.last().map(|m| m.handle.clone())
        } else {
            None
        };
        (members, next)
    } else {
        profiles::find_members(ctx, viewer, filter, after, 60).await?
    };
    let mut c = db.read().await?;
    let following = store::follows::following(&mut c, viewer.id(), 1000)
        .await?
        .into_iter()
        .map(|(t, target, level)| (format!("{t}:{target}"), level))
        .collect();
    drop(c);
    let (suggested_people, suggested_spaces) = suggestions::suggestions(ctx, viewer).await?;
    let spaces = spaces::list_spaces(ctx, viewer, false, "", 200).await?;
    Ok(Directory {
        shell,
        members,
        next,
        following,
        suggested_people,
        suggested_spaces,
        spaces,
    })
}

// ---- notifications ----

pub struct Notifications {
    pub shell: Shell,
    pub rows: Vec<(NotificationRow, ActivityRow)>,
    pub next: Option<i64>,
    /// The spaces the notifications name (join requests, additions):
    /// (id, slug, name).
    pub spaces: Vec<(SpaceId, String, String)>,
    /// The followed searches that matched (activity → search id, query).
    pub searches: HashMap<i64, (i64, String)>,
}

pub async fn notifications(
    ctx: &Ctx,
    viewer: &Viewer,
    before: Option<i64>,
) -> AppResult<Notifications> {
    let db = &ctx.db;
    let shell = shell(ctx, viewer).await?;
    let (rows, _, next) = notifications::notifications(ctx, viewer, before, 40).await?;
    let mut ids: Vec<SpaceId> = rows
        .iter()
        .filter_map(
            |(_, a)| match (a.object_type.as_str(), a.target_type.as_deref()) {
                ("space", _) => Some(SpaceId(a.object_id)),
                (_, Some("space")) => a.target_id.map(SpaceId),
                _ => None,
            },
        )
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let spaces = {
        let mut c = db.read().await?;
        store::spaces::space_names(&mut c, &ids).await?
    };
    let matched: Vec<i64> = rows
        .iter()
        .filter(|(n, _)| n.reason == domain::kinds::NotificationReason::SearchMatch)
        .map(|(_, a)| a.id)
        .collect();
    let searches = crate::service::searches::reasons(ctx, viewer, &matched).await?;
    Ok(Notifications {
        shell,
        rows,
        next,
        spaces,
        searches,
    })
}

// ---- settings and admin ----

pub struct Settings {
    pub shell: Shell,
    pub tokens: Vec<ApiToken>,
    /// When the calendar secret was issued, if there is one.
    pub calendar_since: Option<i64>,
}

pub async fn settings(ctx: &Ctx, viewer: &Viewer) -> AppResult<Settings> {
    Ok(Settings {
        shell: shell(ctx, viewer).await?,
        tokens: tokens::list_tokens(ctx, viewer).await?,
        calendar_since: crate::service::calendar::issued_at(ctx, viewer).await?,
    })
}

pub struct Admin {
    pub shell: Shell,
    pub org: OrgSettings,
    pub members: Vec<Member>,
    pub invitations: Vec<Invitation>,
    pub jobs: crate::service::jobs::Overview,
}

/// The admin page; with a `filter`, the member list holds the people a
/// search for it finds.
pub async fn admin(ctx: &Ctx, viewer: &Viewer, filter: &str) -> AppResult<Admin> {
    if !viewer.role().is_admin() {
        return Err(AppError::Forbidden(
            "Only the org's owners and admins see the admin pages.".into(),
        ));
    }
    Ok(Admin {
        shell: shell(ctx, viewer).await?,
        org: org::org_settings(ctx).await?,
        members: if filter.trim().is_empty() {
            profiles::list_members(ctx, viewer, None, 500).await?
        } else {
            profiles::find_members(ctx, viewer, filter, None, 100)
                .await?
                .0
        },
        invitations: invitations::list_invitations(ctx, viewer, None, 50).await?,
        jobs: crate::service::jobs::overview(ctx, viewer).await?,
    })
}

// ---- search ----

pub struct SearchResults {
    pub shell: Shell,
    pub page: crate::service::search::SearchPage,
    /// The viewer's level for this search, when they follow it.
    pub followed: Option<String>,
}

/// One page of search results; the first page of a search is remembered
/// among the member's recent searches (offered in the search box).
pub async fn search(
    ctx: &Ctx,
    viewer: &Viewer,
    query: &domain::search::Query,
    tab: crate::service::search::Tab,
    cursor: Option<&str>,
) -> AppResult<SearchResults> {
    let shell = shell(ctx, viewer).await?;
    use crate::service::search::search;
    let page = match search(ctx, viewer, query, tab, cursor, PAGE_SIZE).await {
        // A cursor this server did not give (an old link): the first page.
        Err(AppError::BadRequest(_)) if cursor.is_some() => {
            search(ctx, viewer, query, tab, None, PAGE_SIZE).await?
        }
        r => r?,
    };
    if cursor.is_none() {
        suggestions::remember_search(ctx, viewer, query).await?;
    }
    let followed = crate::service::searches::following(ctx, viewer, query)
        .await?
        .map(|s| s.level);
    Ok(SearchResults {
        shell,
        page,
        followed,
    })
}

/// Results on a page of search results.
const PAGE_SIZE: usize = 20;
// ---- followed searches ----

pub struct Searches {
    pub shell: Shell,
    pub searches: Vec<crate::service::searches::SavedSearch>,
}

pub async fn searches(ctx: &Ctx, viewer: &Viewer) -> AppResult<Searches> {
    Ok(Searches {
        shell: shell(ctx, viewer).await?,
        searches: crate::service::searches::list(ctx, viewer).await?,
    })
}
