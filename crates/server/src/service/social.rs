//! The social core: spaces and membership, items, comments, reactions,
//! follows, streams, audiences and notifications.
//!
//! Every read of an item goes through [`visible`], which applies
//! `domain::social::can_see` — the one visibility rule — to the facts the
//! store returns. Something the viewer may not see is "not found".

use std::collections::HashSet;

use domain::social::{self, FollowLevel, SpaceVisibility, TargetType};
use domain::{Markdown, Role, ShortText, ValidationError};
use store::social::{self as q, NewActivity};
use store::{Conn, Tx};

use crate::caches::{Count, Kept};
use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::accounts::Viewer;

/// The rows the social services return, as their read models.
pub use store::db::bus::Announcement;
pub use store::social::{
    ActivityRow, CommentRow, ItemRow, NotificationRow, Person, Position, ReactionCount, Space,
    Stream, reactions_on,
};

pub const MAX_BODY_CHARS: usize = 20_000;

fn not_found_space(slug: &str) -> AppError {
    AppError::NotFound(format!("There is no space \"{slug}\" that you can see."))
}

fn not_found_item(id: i64) -> AppError {
    AppError::NotFound(format!("There is no item {id} that you can see."))
}

/// The visibility rule, applied to one item for one viewer.
pub fn visible(viewer: &Viewer, item: &ItemRow) -> bool {
    social::can_see(&item.access(viewer.id(), viewer.role(), viewer.member.is_active()))
}

/// The visibility rule, applied to one activity (with or without an item)
/// for one viewer: every stream entry, fragment and notification asks it.
pub fn visible_activity(viewer: &Viewer, a: &ActivityRow) -> bool {
    // On a space without an item, the people the activity names (who
    // asked to join, who was added) see it only while they may know the
    // space: removed from a secret space, "added you to it" goes too.
    if a.item.is_none()
        && let Some(v) = a.space_visibility
        && !social::can_see_space(v, a.viewer_in_space, viewer.role())
    {
        return false;
    }
    social::can_see(&a.access(viewer.id(), viewer.role(), viewer.member.is_active()))
}

fn space_visible(viewer: &Viewer, s: &Space) -> bool {
    social::can_see_space(s.visibility, s.viewer_role.is_some(), viewer.role())
}

/// May the viewer read the space's content (its stream and members)?
fn space_content_visible(viewer: &Viewer, s: &Space) -> bool {
    match s.visibility {
        SpaceVisibility::Open => s.viewer_role.is_some() || viewer.role() != Role::Guest,
        _ => s.viewer_role.is_some(),
    }
}

fn is_space_admin(viewer: &Viewer, s: &Space) -> bool {
    s.viewer_role == Some(domain::kinds::SpaceRole::Admin)
        || (viewer.role().is_admin() && s.visibility != SpaceVisibility::Secret)
}

pub(crate) async fn load_space(c: &mut Conn, viewer: &Viewer, slug: &str) -> AppResult<Space> {
    let s = q::space_by_slug(c, viewer.id(), slug)
        .await?
        .ok_or_else(|| not_found_space(slug))?;
    if !space_visible(viewer, &s) {
        return Err(not_found_space(slug));
    }
    Ok(s)
}

/// A space the viewer administers; others are refused, saying the space's
/// admins are the ones who `what` ("add people to it").
async fn load_admin_space(
    c: &mut Conn,
    viewer: &Viewer,
    slug: &str,
    what: &str,
) -> AppResult<Space> {
    let s = load_space(c, viewer, slug).await?;
    if !is_space_admin(viewer, &s) {
        return Err(AppError::Forbidden(format!(
            "Only this space's admins {what}."
        )));
    }
    Ok(s)
}

// ---- spaces ----

#[derive(Debug, Default, Clone)]
pub struct SpaceInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<String>,
    pub archived: Option<bool>,
}

pub async fn create_space(ctx: &Ctx, viewer: &Viewer, input: &SpaceInput) -> AppResult<Space> {
    let db = &ctx.db;
    if viewer.role() == Role::Guest {
        return Err(AppError::Forbidden("Guests cannot create spaces.".into()));
    }
    let mut checks = Checks::default();
    let name = checks.check(
        ShortText::parse("name", input.name.as_deref().unwrap_or(""), 80).and_then(|n| {
            if n.is_empty() {
                Err(ValidationError::new("name", "Give the space a name."))
            } else {
                Ok(n)
            }
        }),
    );
    let slug_src = match (&input.slug, &name) {
        (Some(s), _) if !s.trim().is_empty() => s.clone(),
        (_, Some(n)) => social::slugify(n.as_str()),
        _ => String::new(),
    };
    let slug = if name.is_some() || input.slug.is_some() {
        checks.check(social::parse_slug(&slug_src))
    } else {
        None
    };
    let description = checks.check(Markdown::parse(
        "description",
        input.description.as_deref().unwrap_or(""),
        2000,
    ));
    let visibility = checks.check(SpaceVisibility::parse(
        input.visibility.as_deref().unwrap_or("open"),
    ));
    checks.finish()?;
    let (name, slug, description, visibility) = (
        name.expect("checked"),
        slug.expect("checked"),
        description.expect("checked"),
        visibility.expect("checked"),
    );
    let now = ctx.now();
    let mut tx = db.write().await?;
    let id = q::insert_space(
        &mut tx,
        &q::NewSpace {
            slug: &slug,
            name: name.as_str(),
            description: description.as_str(),
            visibility,
            created_by: viewer.id(),
        },
        now,
    )
    .await
    .map_err(|e| {
        // The same words for every taken slug, a secret space's too, so
        // the answer does not tell that a space the creator may not see
        // exists.
        match e {
            store::Error::Conflict(store::Unique::SpaceSlug) => AppError::Conflict {
                detail: "That address is not available; choose another.".into(),
                field: Some("slug"),
            },
            e => e.into(),
        }
    })?;
    q::add_space_member(&mut tx, id, viewer.id(), "admin", now).await?;
    q::auto_follow(
        &mut tx,
        viewer.id(),
        "space",
        &id.to_string(),
        "following",
        now,
    )
    .await?;
    q::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: "create",
            object_type: "space",
            object_id: id,
            target_type: None,
            target_id: None,
            item_id: None,
            space_id: Some(id),
        },
        now,
    )
    .await?;
    let s = q::space_by_id(&mut tx, viewer.id(), id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(s)
}

pub async fn get_space(ctx: &Ctx, viewer: &Viewer, slug: &str) -> AppResult<Space> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    load_space(&mut c, viewer, slug).await
}

pub async fn list_spaces(
    ctx: &Ctx,
    viewer: &Viewer,
    mine: bool,
    after: &str,
    limit: i64,
) -> AppResult<Vec<Space>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(q::list_spaces(
        &mut c,
        viewer.id(),
        viewer.role() == Role::Guest,
        mine,
        after,
        limit,
    )
    .await?)
}

pub async fn update_space(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    input: &SpaceInput,
) -> AppResult<Space> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let name = input.name.as_deref().and_then(|n| {
        checks.check(ShortText::parse("name", n, 80).and_then(|n| {
            if n.is_empty() {
                Err(ValidationError::new("name", "A space needs a name."))
            } else {
                Ok(n)
            }
        }))
    });
    let description = input
        .description
        .as_deref()
        .and_then(|d| checks.check(Markdown::parse("description", d, 2000)));
    let visibility = input
        .visibility
        .as_deref()
        .and_then(|v| checks.check(SpaceVisibility::parse(v)));
    checks.finish()?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "can change it").await?;
    q::update_space(
        &mut tx,
        s.id,
        name.as_ref().map(|n| n.as_str()),
        description.as_ref().map(|d| d.as_str()),
        visibility,
        input.archived.map(|a| a.then_some(now)),
        now,
    )
    .await?;
    let s = q::space_by_id(&mut tx, viewer.id(), s.id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(s)
}

/// What joining did: joined at once (open) or asked (closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined,
    Requested,
    AlreadyMember,
}

pub async fn join_space(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    message: &str,
) -> AppResult<JoinOutcome> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_space(&mut tx, viewer, slug).await?;
    if s.viewer_role.is_some() {
        return Ok(JoinOutcome::AlreadyMember);
    }
    if s.archived_at.is_some() {
        return Err(AppError::Conflict {
            detail: "This space is archived; nobody joins it any more.".into(),
            field: None,
        });
    }
    match s.visibility {
        SpaceVisibility::Open => {
            add_to_space(&mut tx, viewer.id(), &s, viewer.id(), "member", now).await?;
            tx.commit().await?;
            Ok(JoinOutcome::Joined)
        }
        SpaceVisibility::Closed => {
            let message = ShortText::parse("message", message, 300)?;
            if q::put_join_request(&mut tx, s.id, viewer.id(), message.as_str(), now).await? {
                let a = q::append_activity(
                    &mut tx,
                    &NewActivity {
                        actor_id: viewer.id(),
                        verb: "request",
                        object_type: "space",
                        object_id: s.id,
                        target_type: None,
                        target_id: None,
                        item_id: None,
                        space_id: Some(s.id),
                    },
                    now,
                )
                .await?;
                for admin in q::space_admins(&mut tx, s.id).await? {
                    q::notify(&mut tx, admin, a, "join_request", now).await?;
                }
            }
            tx.commit().await?;
            Ok(JoinOutcome::Requested)
        }
        SpaceVisibility::Secret => Err(not_found_space(slug)),
    }
}

/// Adds a member to a space: membership, a follow, an activity, and a
/// notification when someone else added them.
async fn add_to_space(
    tx: &mut Tx,
    actor: i64,
    s: &Space,
    member: i64,
    role: &str,
    now: i64,
) -> AppResult<bool> {
    let added = q::add_space_member(tx, s.id, member, role, now).await?;
    if added {
        q::auto_follow(tx, member, "space", &s.id.to_string(), "following", now).await?;
        let a = q::append_activity(
            tx,
            &NewActivity {
                actor_id: actor,
                verb: "join",
                object_type: "member",
                object_id: member,
                target_type: Some("space"),
                target_id: Some(s.id),
                item_id: None,
                space_id: Some(s.id),
            },
            now,
        )
        .await?;
        if actor != member {
            q::notify(tx, member, a, "added_to_space", now).await?;
        }
    }
    Ok(added)
}

pub async fn leave_space(ctx: &Ctx, viewer: &Viewer, slug: &str) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let s = load_space(&mut tx, viewer, slug).await?;
    if s.viewer_role.is_none() {
        return Err(AppError::Conflict {
            detail: "You are not a member of this space.".into(),
            field: None,
        });
    }
    if s.viewer_role == Some(domain::kinds::SpaceRole::Admin)
        && q::space_admin_count(&mut tx, s.id).await? <= 1
        && s.member_count > 1
    {
        return Err(AppError::Conflict {
            detail: "You are this space's only admin. Make someone else an admin first.".into(),
            field: None,
        });
    }
    q::remove_space_member(&mut tx, s.id, viewer.id()).await?;
    q::delete_follow(&mut tx, viewer.id(), "space", &s.id.to_string()).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds someone to a space (the way into a secret space), or changes
/// their role there. Space admins only.
pub async fn add_member(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    handle: &str,
    role: Option<&str>,
) -> AppResult<Person> {
    let db = &ctx.db;
    let role = match role.unwrap_or("member") {
        r @ ("member" | "admin") => r,
        _ => {
            return Err(AppError::invalid(
                "role",
                "A space role is member or admin.",
            ));
        }
    };
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "add people to it").await?;
    let m = store::accounts::member_by_handle(&mut tx, handle)
        .await?
        .filter(|m| m.is_active())
        .ok_or_else(|| AppError::NotFound(format!("There is no active member @{handle}.")))?;
    add_to_space(&mut tx, viewer.id(), &s, m.id, role, now).await?;
    tx.commit().await?;
    Ok(Person {
        extra: role.to_owned(),
        ..Person::from(&m)
    })
}

pub async fn remove_member(ctx: &Ctx, viewer: &Viewer, slug: &str, handle: &str) -> AppResult<()> {
    let db = &ctx.db;
    if handle.eq_ignore_ascii_case(&viewer.member.handle) {
        return leave_space(ctx, viewer, slug).await;
    }
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "remove people from it").await?;
    let m = crate::service::accounts::member_named(&mut tx, handle).await?;
    if !q::remove_space_member(&mut tx, s.id, m.id).await? {
        return Err(AppError::NotFound(format!(
            "@{handle} is not in this space."
        )));
    }
    q::delete_follow(&mut tx, m.id, "space", &s.id.to_string()).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn space_members(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    after: &str,
    limit: i64,
) -> AppResult<Vec<Person>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let s = load_space(&mut c, viewer, slug).await?;
    if !space_content_visible(viewer, &s) {
        return Err(AppError::Forbidden(
            "Only members see who is in this space. Ask to join.".into(),
        ));
    }
    Ok(q::space_members(&mut c, s.id, after, limit).await?)
}

pub async fn join_requests(ctx: &Ctx, viewer: &Viewer, slug: &str) -> AppResult<Vec<Person>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let s = load_admin_space(&mut c, viewer, slug, "see join requests").await?;
    Ok(q::join_requests(&mut c, s.id).await?)
}

pub async fn decide_request(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    handle: &str,
    approve: bool,
) -> AppResult<()> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "decide join requests").await?;
    let m = crate::service::accounts::member_named(&mut tx, handle).await?;
    if !q::take_join_request(&mut tx, s.id, m.id).await? {
        return Err(AppError::NotFound(format!(
            "@{handle} has not asked to join."
        )));
    }
    if approve {
        add_to_space(&mut tx, viewer.id(), &s, m.id, "member", now).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---- items ----

#[derive(Debug, Default, Clone)]
pub struct ItemInput {
    /// A space slug, for a post in a space.
    pub space: Option<String>,
    /// Handles, for a direct post. With neither, the post is on the
    /// author's profile.
    pub to: Vec<String>,
    pub title: Option<String>,
    pub body: String,
    pub ack_requested: bool,
}

/// Renders text with mentions of members that exist; returns the HTML
/// and the mentioned members' ids.
pub(crate) async fn render(c: &mut Conn, body: &str) -> AppResult<(String, Vec<i64>, Vec<String>)> {
    let (handles, topics) = social::scan(body);
    let found = q::members_by_handles(c, &handles).await?;
    let known: HashSet<String> = found.iter().map(|m| m.1.clone()).collect();
    let html = social::render_post(body, &known);
    Ok((
        html,
        found.iter().filter(|m| m.4).map(|m| m.0).collect(),
        topics,
    ))
}

fn parse_body(body: &str) -> Result<Markdown, ValidationError> {
    let md = Markdown::parse("body", body, MAX_BODY_CHARS)?;
    if md.is_empty() {
        return Err(ValidationError::new("body", "Write something first."));
    }
    Ok(md)
}

/// Can `member` see `item`? For deciding whom to notify.
pub(crate) async fn member_can_see(c: &mut Conn, member: i64, item: &ItemRow) -> AppResult<bool> {
    Ok(members_who_can_see(c, &[member], item)
        .await?
        .contains(&member))
}

/// Of these members, those the visibility rule lets see `item`: their
/// facts in one query, the rule applied to each.
pub(crate) async fn members_who_can_see(
    c: &mut Conn,
    members: &[i64],
    item: &ItemRow,
) -> AppResult<Vec<i64>> {
    let facts = q::member_facts_many(c, members, item.space_id, item.id).await?;
    Ok(facts
        .into_iter()
        .filter(|(id, role, active, in_space, rcpt)| {
            social::can_see(&social::Access {
                audience: item.audience(),
                viewer_is_author: item.author_id == *id,
                viewer_in_space: *in_space,
                viewer_is_recipient: *rcpt,
                viewer_role: *role,
                viewer_active: *active,
            })
        })
        .map(|f| f.0)
        .collect())
}

pub async fn create_item(ctx: &Ctx, viewer: &Viewer, input: &ItemInput) -> AppResult<i64> {
    let (viewer, input) = (viewer.clone(), input.clone());
    ctx.on_writer(|ctx| async move { write_item(&ctx, &viewer, &input).await })
        .await
}

async fn write_item(ctx: &Ctx, viewer: &Viewer, input: &ItemInput) -> AppResult<i64> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let body = checks.check(parse_body(&input.body));
    let title = checks.check(ShortText::parse(
        "title",
        input.title.as_deref().unwrap_or(""),
        200,
    ));
    checks.finish()?;
    let (body, title) = (body.expect("checked"), title.expect("checked"));
    let now = ctx.now();
    let mut tx = db.write().await?;
    // Where it goes, and whether the viewer may post there.
    let (audience, space, recipients) =
        if let Some(slug) = input.space.as_deref().filter(|s| !s.is_empty()) {
            let s = load_space(&mut tx, viewer, slug).await?;
            if s.archived_at.is_some() {
                return Err(AppError::Conflict {
                    detail: "This space is archived: it is read-only.".into(),
                    field: Some("space"),
                });
            }
            let may_post = s.viewer_role.is_some()
                || (s.visibility == SpaceVisibility::Open && viewer.role() != Role::Guest);
            if !may_post {
                return Err(AppError::Forbidden(
                    "Only members post in this space. Ask to join it first.".into(),
                ));
            }
            ("space", Some(s), Vec::new())
        } else if !input.to.is_empty() {
            let people = direct_recipients(&mut tx, viewer, &input.to).await?;
            let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
            ("direct", None, ids)
        } else {
            if viewer.role() == Role::Guest {
                return Err(AppError::Forbidden(
                    "Guests post in the spaces they were invited to.".into(),
                ));
            }
            ("profile", None, Vec::new())
        };
    let (html, mentioned, topics) = render(&mut tx, body.as_str()).await?;
    let id = q::insert_item(
        &mut tx,
        &q::NewItem {
            kind: "post",
            author_id: viewer.id(),
            audience,
            space_id: space.as_ref().map(|s| s.id),
            title: title.as_str(),
            body: body.as_str(),
            body_html: &html,
            ack_requested: input.ack_requested,
        },
        now,
    )
    .await?;
    q::set_item_recipients(&mut tx, id, &recipients).await?;
    q::set_item_topics(&mut tx, id, &topics).await?;
    let item = q::item_by_id(&mut tx, viewer.id(), id)
        .await?
        .ok_or(store::Error::NotFound)?;
    let a = q::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: "post",
            object_type: "item",
            object_id: id,
            target_type: space.as_ref().map(|_| "space"),
            target_id: space.as_ref().map(|s| s.id),
            item_id: Some(id),
            space_id: space.as_ref().map(|s| s.id),
        },
        now,
    )
    .await?;
    q::auto_follow(
        &mut tx,
        viewer.id(),
        "item",
        &id.to_string(),
        "watching",
        now,
    )
    .await?;
    let mut extra = vec![viewer.id()];
    extra.extend(&recipients);
    for m in &recipients {
        q::auto_follow(&mut tx, *m, "item", &id.to_string(), "watching", now).await?;
        q::notify(&mut tx, *m, a, "direct", now).await?;
    }
    for m in mentioned.iter().filter(|m| **m != viewer.id()) {
        if member_can_see(&mut tx, *m, &item).await? {
            q::auto_follow(&mut tx, *m, "item", &id.to_string(), "watching", now).await?;
            if !recipients.contains(m) {
                q::notify(&mut tx, *m, a, "mention", now).await?;
            }
            extra.push(*m);
        }
    }
    let mut targets: Vec<(&str, String)> = vec![("member", viewer.id().to_string())];
    if let Some(s) = &space {
        targets.push(("space", s.id.to_string()));
    }
    for t in &topics {
        targets.push(("topic", t.clone()));
    }
    q::fan_out(&mut tx, a, &item, (&targets, None), &extra, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// An item as the viewer sees it, with its topics, direct recipients and
/// the viewer's follow level.
#[derive(Debug, Clone)]
pub struct ItemDetail {
    pub item: ItemRow,
    pub topics: Vec<String>,
    pub recipients: Vec<Person>,
    pub reactions: Vec<store::social::ReactionCount>,
    pub follow_level: Option<String>,
}

pub async fn load_item(c: &mut Conn, viewer: &Viewer, id: i64) -> AppResult<ItemRow> {
    let item = q::item_by_id(c, viewer.id(), id)
        .await?
        .ok_or_else(|| not_found_item(id))?;
    if !visible(viewer, &item) {
        return Err(not_found_item(id));
    }
    Ok(item)
}

pub async fn get_item(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<ItemDetail> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let item = load_item(&mut c, viewer, id).await?;
    let topics = q::item_topics(&mut c, id).await?;
    let recipients = if item.audience == domain::kinds::AudienceKind::Direct {
        q::item_recipients(&mut c, id).await?
    } else {
        Vec::new()
    };
    let reactions = q::reaction_counts(&mut c, viewer.id(), &[id]).await?;
    let follow_level = q::follow_level(&mut c, viewer.id(), "item", &id.to_string()).await?;
    Ok(ItemDetail {
        item,
        topics,
        recipients,
        reactions,
        follow_level,
    })
}

pub async fn edit_item(
    ctx: &Ctx,
    viewer: &Viewer,
    id: i64,
    title: Option<&str>,
    body: Option<&str>,
) -> AppResult<()> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let body = body.and_then(|b| checks.check(parse_body(b)));
    let title = title.and_then(|t| checks.check(ShortText::parse("title", t, 200)));
    checks.finish()?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, id).await?;
    if item.author_id != viewer.id() {
        return Err(AppError::Forbidden("Only the author edits an item.".into()));
    }
    if item.deleted_at.is_some() {
        return Err(AppError::Conflict {
            detail: "This item was deleted.".into(),
            field: None,
        });
    }
    let body = body.map_or(item.body.clone(), |b| b.as_str().to_owned());
    let title = title.map_or(item.title.clone(), |t| t.as_str().to_owned());
    let (html, _, topics) = render(&mut tx, &body).await?;
    q::edit_item(&mut tx, id, viewer.id(), &title, &body, &html, now).await?;
    q::set_item_topics(&mut tx, id, &topics).await?;
    q::append_activity(
        &mut tx,
        &NewActivity::on_item(viewer.id(), "update", id, item.space_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn item_revisions(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<Vec<q::Revision>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let item = load_item(&mut c, viewer, id).await?;
    // A deleted item's text is gone, its earlier versions with it (items
    // deleted before their revisions were deleted too still have rows).
    if item.deleted_at.is_some() {
        return Ok(Vec::new());
    }
    Ok(q::item_revisions(&mut c, id).await?)
}

pub async fn delete_item(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, id).await?;
    let space_admin = match &item.space_slug {
        Some(slug) => load_space(&mut tx, viewer, slug)
            .await
            .map(|s| is_space_admin(viewer, &s))
            .unwrap_or(false),
        None => false,
    };
    if item.author_id != viewer.id() && !space_admin && !viewer.role().is_admin() {
        return Err(AppError::Forbidden(
            "Only the author or an admin deletes an item.".into(),
        ));
    }
    if item.deleted_at.is_some() {
        return Ok(());
    }
    q::delete_item(&mut tx, id, now).await?;
    q::append_activity(
        &mut tx,
        &NewActivity::on_item(viewer.id(), "delete", id, item.space_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a comment and returns it as a reader would see it, built from what
/// the transaction wrote (reading it back would cost the item's
/// visibility check and a read again). It runs where the writer's
/// statements cost least (`Db::on_writer`).
pub async fn add_comment(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    body: &str,
) -> AppResult<q::CommentRow> {
    let (viewer, body) = (viewer.clone(), body.to_owned());
    ctx.on_writer(|ctx| async move { write_comment(&ctx, &viewer, item_id, &body).await })
        .await
}

async fn write_comment(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    body: &str,
) -> AppResult<q::CommentRow> {
    let db = &ctx.db;
    let body = parse_body(body)?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, item_id).await?;
    if item.deleted_at.is_some() {
        return Err(AppError::Conflict {
            detail: "This item was deleted; it takes no new comments.".into(),
            field: None,
        });
    }
    let (html, mentioned, _) = render(&mut tx, body.as_str()).await?;
    let cid = q::insert_comment(&mut tx, item_id, viewer.id(), body.as_str(), &html, now).await?;
    // Everything the comment reads comes first: on PostgreSQL appending to
    // the stream takes the lock that keeps stream positions in commit
    // order, held until the commit, so only writes should follow it.
    let watchers = q::item_watchers(&mut tx, item_id).await?;
    // Who may be told: the author, the mentioned and the watchers, their
    // facts in one query and the visibility rule applied to each.
    let mut candidates: Vec<i64> = Vec::with_capacity(watchers.len() + mentioned.len() + 1);
    candidates.push(item.author_id);
    candidates.extend(&mentioned);
    candidates.extend(&watchers);
    candidates.retain(|m| *m != viewer.id());
    candidates.sort_unstable();
    candidates.dedup();
    let may_see: HashSet<i64> = members_who_can_see(&mut tx, &candidates, &item)
        .await?
        .into_iter()
        .collect();
    let mut notified = HashSet::from([viewer.id()]);
    let tell_author = item.author_id != viewer.id() && may_see.contains(&item.author_id);
    if tell_author {
        notified.insert(item.author_id);
    }
    let mut tell_mentioned = Vec::new();
    for m in mentioned {
        if !notified.contains(&m) && may_see.contains(&m) {
            notified.insert(m);
            tell_mentioned.push(m);
        }
    }
    // Everyone else watching the item: the notifications in one insert.
    let watching: Vec<i64> = watchers
        .into_iter()
        .filter(|w| !notified.contains(w) && may_see.contains(w))
        .collect();
    // A comment reaches those who follow the item, and the commenter's
    // followers — unless the commenter is followed by more people than a
    // post reaches inline: a widely followed person's every comment would
    // otherwise be a company-wide fan-out. Their comments stay in the
    // thread, on their profile and with the item's followers. The item's
    // count is taken before the commenter and the mentioned start
    // watching, so they are added to it (an upper bound, which at worst
    // sends a borderline fan-out to the background worker).
    let inline_max = db.options().fanout_inline_max;
    let (item_key, viewer_key) = (item_id.to_string(), viewer.id().to_string());
    let counts = q::follower_counts_upto(
        &mut tx,
        &[("item", &item_key), ("member", &viewer_key)],
        inline_max + 1,
    )
    .await?;
    let (item_followers, followers) = (counts[0], counts[1]);
    let mut counted = item_followers + 1 + tell_mentioned.len() as i64;
    let mut targets = vec![("item", item_key.clone())];
    if followers <= inline_max {
        targets.push(("member", viewer_key));
        counted += followers;
    }
    let a = q::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: "comment",
            object_type: "comment",
            object_id: cid,
            target_type: Some("item"),
            target_id: Some(item_id),
            item_id: Some(item_id),
            space_id: item.space_id,
        },
        now,
    )
    .await?;
    q::auto_follow(&mut tx, viewer.id(), "item", &item_key, "watching", now).await?;
    if tell_author {
        q::notify(&mut tx, item.author_id, a, "reply", now).await?;
    }
    let mut extra = vec![viewer.id()];
    for m in tell_mentioned {
        q::notify(&mut tx, m, a, "mention", now).await?;
        q::auto_follow(&mut tx, m, "item", &item_key, "watching", now).await?;
        extra.push(m);
    }
    q::notify_many(&mut tx, &watching, a, "watching", now).await?;
    q::fan_out(&mut tx, a, &item, (&targets, Some(counted)), &extra, now).await?;
    tx.commit().await?;
    Ok(q::CommentRow {
        id: cid,
        item_id,
        author: q::Person::from(&viewer.member),
        body: body.as_str().to_owned(),
        body_html: html,
        created_at: now,
        edited_at: None,
        deleted_at: None,
    })
}

pub async fn comments(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<Vec<q::CommentRow>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    load_item(&mut c, viewer, item_id).await?;
    Ok(q::comments(&mut c, item_id, after, limit).await?)
}

/// A page of an item's comments with the reactions on the item and its
/// comments (the viewer's own marked).
pub async fn comments_with_reactions(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<(Vec<q::CommentRow>, Vec<q::ReactionCount>)> {
    let mut c = ctx.db.read().await?;
    load_item(&mut c, viewer, item_id).await?;
    let comments = q::comments(&mut c, item_id, after, limit).await?;
    let reactions = q::reaction_counts(&mut c, viewer.id(), &[item_id]).await?;
    Ok((comments, reactions))
}

pub async fn react(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    comment_id: Option<i64>,
    emoji: &str,
    add: bool,
) -> AppResult<()> {
    let (viewer, emoji) = (viewer.clone(), emoji.to_owned());
    ctx.on_writer(|ctx| async move {
        write_reaction(&ctx, &viewer, item_id, comment_id, &emoji, add).await
    })
    .await
}

async fn write_reaction(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: i64,
    comment_id: Option<i64>,
    emoji: &str,
    add: bool,
) -> AppResult<()> {
    let db = &ctx.db;
    let emoji = social::parse_reaction(emoji)?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, item_id).await?;
    let owner = match comment_id {
        Some(cid) => q::comment_exists(&mut tx, item_id, cid)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("Item {item_id} has no comment {cid}.")))?,
        None => item.author_id,
    };
    let cid = comment_id.unwrap_or(0);
    if !add {
        q::remove_reaction(&mut tx, item_id, cid, viewer.id(), &emoji).await?;
        tx.commit().await?;
        return Ok(());
    }
    if q::add_reaction(&mut tx, item_id, cid, viewer.id(), &emoji, now).await? {
        let a = q::append_activity(
            &mut tx,
            &NewActivity {
                actor_id: viewer.id(),
                verb: "react",
                object_type: if comment_id.is_some() {
                    "comment"
                } else {
                    "item"
                },
                object_id: comment_id.unwrap_or(item_id),
                target_type: None,
                target_id: None,
                item_id: Some(item_id),
                space_id: item.space_id,
            },
            now,
        )
        .await?;
        if owner != viewer.id() {
            q::notify(&mut tx, owner, a, "reaction", now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

// ---- follows ----

/// Resolves a follow target to its stored key, checking it exists and the
/// viewer may see it.
async fn follow_key(
    c: &mut Conn,
    viewer: &Viewer,
    ttype: TargetType,
    target: &str,
) -> AppResult<(String, Option<i64>)> {
    match ttype {
        TargetType::Member => {
            let m =
                crate::service::accounts::member_named(c, target.trim_start_matches('@')).await?;
            if m.id == viewer.id() {
                return Err(AppError::invalid("target", "You cannot follow yourself."));
            }
            Ok((m.id.to_string(), Some(m.id)))
        }
        TargetType::Space => {
            let s = load_space(c, viewer, target).await?;
            Ok((s.id.to_string(), None))
        }
        TargetType::Topic => Ok((social::parse_topic(target)?, None)),
        TargetType::Item => {
            let id: i64 = target.parse().map_err(|_| not_found_item(0))?;
            load_item(c, viewer, id).await?;
            Ok((id.to_string(), None))
        }
    }
}

pub async fn follow(
    ctx: &Ctx,
    viewer: &Viewer,
    target_type: &str,
    target: &str,
    level: &str,
) -> AppResult<()> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let ttype = checks.check(TargetType::parse(target_type));
    let level = checks.check(FollowLevel::parse(level));
    checks.finish()?;
    let (ttype, level) = (ttype.expect("checked"), level.expect("checked"));
    let now = ctx.now();
    let mut tx = db.write().await?;
    let (key, followed_member) = follow_key(&mut tx, viewer, ttype, target).await?;
    let new = q::put_follow(
        &mut tx,
        viewer.id(),
        ttype.as_str(),
        &key,
        level.as_str(),
        now,
    )
    .await?;
    if let (true, Some(m), false) = (new, followed_member, level == FollowLevel::Muted) {
        let a = q::append_activity(
            &mut tx,
            &NewActivity {
                actor_id: viewer.id(),
                verb: "follow",
                object_type: "member",
                object_id: m,
                target_type: None,
                target_id: None,
                item_id: None,
                space_id: None,
            },
            now,
        )
        .await?;
        q::notify(&mut tx, m, a, "follower", now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn unfollow(
    ctx: &Ctx,
    viewer: &Viewer,
    target_type: &str,
    target: &str,
) -> AppResult<()> {
    let db = &ctx.db;
    let ttype = TargetType::parse(target_type)?;
    let mut tx = db.write().await?;
    let (key, _) = follow_key(&mut tx, viewer, ttype, target).await?;
    if !q::delete_follow(&mut tx, viewer.id(), ttype.as_str(), &key).await? {
        return Err(AppError::NotFound("You do not follow that.".into()));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn member_followers(
    ctx: &Ctx,
    handle: &str,
    after: &str,
    limit: i64,
) -> AppResult<Vec<Person>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = crate::service::accounts::member_named(&mut c, handle).await?;
    Ok(q::followers(&mut c, "member", &m.id.to_string(), after, limit).await?)
}

/// What a member follows: (type, target as a person would name it, a
/// display name, level). Spaces the viewer may not see are left out.
pub async fn member_following(
    ctx: &Ctx,
    viewer: &Viewer,
    handle: &str,
) -> AppResult<Vec<(String, String, String, String)>> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = crate::service::accounts::member_named(&mut c, handle).await?;
    let rows = q::following(&mut c, m.id, 500).await?;
    describe_follows(&mut c, viewer, m.id, rows).await
}

/// A page of what a member follows, as [`member_following`] shows it, and
/// the cursor of the next page (`(created_at, "type:target")`), if any.
pub async fn member_following_page(
    ctx: &Ctx,
    viewer: &Viewer,
    handle: &str,
    before: Option<(i64, String)>,
    limit: i64,
) -> AppResult<FollowingPage> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let m = crate::service::accounts::member_named(&mut c, handle).await?;
    let before = before.as_ref().map(|(at, key)| (*at, key.as_str()));
    let mut rows = q::following_page(&mut c, m.id, before, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|(at, t, target, _)| (*at, format!("{t}:{target}")))
    } else {
        None
    };
    let rows = rows
        .into_iter()
        .map(|(_, t, target, level)| (t, target, level))
        .collect();
    Ok((describe_follows(&mut c, viewer, m.id, rows).await?, next))
}

/// What a member follows, and where the next page starts.
pub type FollowingPage = (Vec<(String, String, String, String)>, Option<(i64, String)>);

/// `(target_type, target, name, level)` for each follow the viewer may
/// see: a member's mutes are theirs alone, and spaces and items pass the
/// visibility rule.
async fn describe_follows(
    c: &mut Conn,
    viewer: &Viewer,
    member: i64,
    rows: Vec<(String, String, String)>,
) -> AppResult<Vec<(String, String, String, String)>> {
    let mut out = Vec::new();
    for (t, target, level) in rows {
        if level == "muted" && member != viewer.id() {
            continue;
        }
        let id: i64 = target.parse().unwrap_or(0);
        match t.as_str() {
            "member" => {
                if let Some(p) = store::accounts::member_by_id(c, id).await? {
                    out.push((t, p.handle, p.display_name, level));
                }
            }
            "space" => {
                if let Some(s) = q::space_by_id(c, viewer.id(), id).await?
                    && space_visible(viewer, &s)
                {
                    out.push((t, s.slug, s.name, level));
                }
            }
            "topic" => out.push((t, target.clone(), format!("#{target}"), level)),
            _ => {
                if let Some(i) = q::item_by_id(c, viewer.id(), id).await?
                    && visible(viewer, &i)
                {
                    let name = if i.title.is_empty() {
                        format!("Item {id}")
                    } else {
                        i.title.clone()
                    };
                    out.push((t, target.clone(), name, level));
                }
            }
        }
    }
    Ok(out)
}

// ---- streams ----

/// One page of a stream: what the viewer may see, newest first, and the
/// cursor for the next page. Reads in rounds, so items the viewer may not
/// see never shorten a page, but never more than a few rounds. `brief`
/// rows hold only what decides what shows (see `store::social::read_stream`),
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
    let reactions = crate::service::pages::reactions_of(&rows)?;
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
    q::add_topics_and_recipients(&mut c, rows).await?;
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
        q::add_topics_and_recipients(&mut c, &mut rows).await?;
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

/// Where an entry stands in its stream (see `store::social::Position`).
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
    Profile(String),
    Item(i64),
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
            let m = crate::service::accounts::member_named(c, &handle).await?;
            Stream::Profile(m.id)
        }
        StreamRequest::Item(id) => {
            load_item(c, viewer, id).await?;
            Stream::Item(id)
        }
    })
}

// ---- audience ----

#[derive(Debug, Clone)]
pub struct AudienceSummary {
    pub kind: &'static str,
    pub count: i64,
    /// "everyone at Acme", "12 members of Design review", "Ana and Bo".
    pub label: String,
    pub people: Vec<Person>,
}

pub async fn audience_for_space(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let (s, count) = {
        let mut c = db.read().await?;
        let s = load_space(&mut c, viewer, slug).await?;
        let count = match s.visibility {
            // Everyone in the org but guests, and the guests who belong.
            SpaceVisibility::Open => {
                audience_count(ctx, &mut c, Count::Org).await?
                    + q::space_guest_count(&mut c, s.id).await?
            }
            _ => audience_count(ctx, &mut c, Count::Members(s.id)).await?,
        };
        (s, count)
    };
    // The connection goes back first: waiting for a second one while
    // holding it deadlocks once every connection of the pool is held so.
    let org = crate::service::accounts::org_settings(ctx).await?.org_name;
    let label = match s.visibility {
        SpaceVisibility::Open => format!("everyone at {org} ({count}), in {}", s.name),
        _ => format!(
            "{count} {} of {}",
            plural(count, "member", "members"),
            s.name
        ),
    };
    Ok(AudienceSummary {
        kind: "space",
        count,
        label,
        people: Vec::new(),
    })
}

pub async fn audience_for_profile(ctx: &Ctx) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let count = {
        let mut c = db.read().await?;
        audience_count(ctx, &mut c, Count::Org).await?
    };
    let org = crate::service::accounts::org_settings(ctx).await?.org_name;
    Ok(AudienceSummary {
        kind: "profile",
        count,
        label: format!("everyone at {org} ({count})"),
        people: Vec::new(),
    })
}

/// Whom a direct post to `to` reaches besides its author, in the order
/// named: each member once (handles in any case, with or without `@`), the
/// author left out. An unknown or deactivated handle, or naming nobody but
/// oneself, is refused. The post and its audience preview both ask this,
/// so the preview says exactly what posting does.
async fn direct_recipients(c: &mut Conn, viewer: &Viewer, to: &[String]) -> AppResult<Vec<Person>> {
    let mut handles: Vec<String> = Vec::new();
    for h in to {
        let h = h.trim().trim_start_matches('@').to_lowercase();
        if !h.is_empty() && !handles.contains(&h) {
            handles.push(h);
        }
    }
    let found = q::members_by_handles(c, &handles).await?;
    let missing: Vec<String> = handles
        .iter()
        .filter(|h| !found.iter().any(|f| &f.1 == *h && f.4))
        .map(|h| format!("@{h}"))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(
            "to",
            format!(
                "There is no active member {}. Check the handles.",
                missing.join(", ")
            ),
        ));
    }
    let people: Vec<Person> = found
        .into_iter()
        .filter(|f| f.0 != viewer.id())
        .map(|f| Person {
            id: f.0,
            handle: f.1,
            display_name: f.2,
            avatar_version: 0,
            extra: String::new(),
        })
        .collect();
    if people.is_empty() {
        return Err(AppError::invalid("to", "Name at least one other person."));
    }
    Ok(people)
}

/// Who will see a direct post to `handles`; refused exactly as the post
/// would be.
pub async fn audience_for_direct(
    ctx: &Ctx,
    viewer: &Viewer,
    handles: &[String],
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let others = direct_recipients(&mut c, viewer, handles).await?;
    Ok(direct_summary(viewer, others))
}

/// A direct audience: the viewer and `others` (who do not include them).
fn direct_summary(viewer: &Viewer, others: Vec<Person>) -> AudienceSummary {
    let names: Vec<String> = others.iter().map(|p| first_name(&p.display_name)).collect();
    let label = match names.len() {
        0 => "only you".to_owned(),
        1 => format!("{} and you", names[0]),
        n => format!(
            "{} and {} ({} people with you)",
            names[..n - 1].join(", "),
            names[n - 1],
            n + 1
        ),
    };
    let mut people = others;
    people.push(Person::from(&viewer.member));
    AudienceSummary {
        kind: "direct",
        count: people.len() as i64,
        label,
        people,
    }
}

/// The size of an audience, from the cache when the group is large
/// ([`crate::caches::AudienceCounts`]). An expired size is answered while a
/// background task counts again, so no request waits for a large count
/// after the first (and the server counts the org once as it starts:
/// [`warm_counts`]).
async fn audience_count(ctx: &Ctx, c: &mut Conn, what: Count) -> AppResult<i64> {
    match ctx.caches.counts.get(what) {
        Some(Kept::Fresh(n)) => Ok(n),
        Some(Kept::Stale(n)) => {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                if let Ok(mut c) = ctx.db.read().await
                    && let Ok(n) = count(&mut c, what).await
                {
                    ctx.caches.counts.remember(what, n);
                }
            });
            Ok(n)
        }
        None => Ok(ctx.caches.counts.remember(what, count(c, what).await?)),
    }
}

async fn count(c: &mut Conn, what: Count) -> Result<i64, store::Error> {
    match what {
        Count::Org => q::org_audience_count(c).await,
        Count::Members(id) => q::space_member_count(c, id).await,
    }
}

/// Counts the org once as the server starts, so the first post on a
/// profile or in an open space does not wait for it.
pub async fn warm_counts(ctx: Ctx) {
    if let Ok(mut c) = ctx.db.read().await {
        let _ = audience_count(&ctx, &mut c, Count::Org).await;
    }
}

fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_owned()
}

fn plural<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The audience of an existing item, as shown on it.
pub async fn audience_of_item(
    ctx: &Ctx,
    viewer: &Viewer,
    item: &ItemRow,
) -> AppResult<AudienceSummary> {
    let db = &ctx.db;
    match (item.audience.as_str(), &item.space_slug) {
        ("space", Some(slug)) => audience_for_space(ctx, viewer, slug).await,
        ("profile", _) => audience_for_profile(ctx).await,
        _ => {
            // Its author and recipients who are still active: those the
            // rule lets see it.
            let mut c = db.read().await?;
            let people = q::item_recipients(&mut c, item.id).await?;
            let mut handles: Vec<String> = people.into_iter().map(|p| p.handle).collect();
            handles.push(item.author_handle.clone());
            let found = q::members_by_handles(&mut c, &handles).await?;
            let mut others: Vec<Person> = Vec::new();
            for f in found {
                if f.4 && f.0 != viewer.id() && !others.iter().any(|p| p.id == f.0) {
                    others.push(Person {
                        id: f.0,
                        handle: f.1,
                        display_name: f.2,
                        avatar_version: 0,
                        extra: String::new(),
                    });
                }
            }
            Ok(direct_summary(viewer, others))
        }
    }
}

// ---- notifications ----

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
    let mut acts = q::activities_by_ids(&mut c, Some(viewer.id()), &ids).await?;
    if acts.iter().any(|a| a.item.is_some()) {
        q::add_topics_and_recipients(&mut c, &mut acts).await?;
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

// ---- seen and acknowledgements ----

/// Records that the viewer has seen an item (idempotent).
pub async fn mark_seen(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let viewer = viewer.clone();
    ctx.on_writer(|ctx| async move { write_seen(&ctx, &viewer, id).await })
        .await
}

async fn write_seen(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, id).await?;
    if item.author_id != viewer.id() {
        q::mark_seen(&mut tx, id, viewer.id(), ctx.now()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Who has seen an item: the count for everyone, the people for its author.
pub async fn seen(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<(i64, Vec<Person>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let item = load_item(&mut c, viewer, id).await?;
    let people = q::seen_by(&mut c, id).await?;
    let count = people.len() as i64;
    Ok((
        count,
        if item.author_id == viewer.id() {
            people
        } else {
            Vec::new()
        },
    ))
}

pub async fn acknowledge(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<()> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, id).await?;
    if !item.ack_requested {
        return Err(AppError::Conflict {
            detail: "The author did not ask for acknowledgement of this item.".into(),
            field: None,
        });
    }
    if item.author_id == viewer.id() {
        return Err(AppError::Conflict {
            detail: "You wrote it: only its audience acknowledges it.".into(),
            field: None,
        });
    }
    q::mark_seen(&mut tx, id, viewer.id(), now).await?;
    if q::acknowledge(&mut tx, id, viewer.id(), now).await? {
        q::append_activity(
            &mut tx,
            &NewActivity::on_item(viewer.id(), "acknowledge", id, item.space_id),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Acknowledgements of an item: who has (everyone sees the count; the
/// author sees the people) and, for the author, who has not yet.
pub struct Acks {
    pub acknowledged: Vec<Person>,
    pub count: i64,
    pub pending: Vec<Person>,
    pub pending_count: i64,
    pub me: bool,
}

pub async fn acknowledgements(ctx: &Ctx, viewer: &Viewer, id: i64) -> AppResult<Acks> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let item = load_item(&mut c, viewer, id).await?;
    let acked = q::acknowledged_by(&mut c, id).await?;
    let me = acked.iter().any(|p| p.id == viewer.id());
    let count = acked.len() as i64;
    if item.author_id != viewer.id() {
        return Ok(Acks {
            acknowledged: Vec::new(),
            count,
            pending: Vec::new(),
            pending_count: 0,
            me,
        });
    }
    let (pending, pending_count) = q::unacknowledged(&mut c, &item, 200).await?;
    Ok(Acks {
        acknowledged: acked,
        count,
        pending,
        pending_count,
        me,
    })
}

/// Whom and what a member might follow: people in their spaces, and busy
/// open spaces they are not in.
pub async fn suggestions(ctx: &Ctx, viewer: &Viewer) -> AppResult<(Vec<Person>, Vec<Space>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let people = q::suggested_people(&mut c, viewer.id(), 10).await?;
    let spaces = if viewer.role() == Role::Guest {
        Vec::new()
    } else {
        let month = 30 * 86_400_000_000;
        q::suggested_spaces(&mut c, viewer.id(), ctx.now() - month, 5).await?
    };
    Ok((people, spaces))
}
