//! Spaces and membership: creating and changing a space, joining it (at
//! once when open, by request when closed), adding and removing members,
//! and whether a viewer may see a space, read its content or administer it.

use domain::cfa::Act;
use domain::kinds::{NotificationReason, ObjectType, SpaceRole, Verb};
use domain::social::{self, SpaceVisibility};
use domain::{Handle, Markdown, MemberId, Role, ShortText, ValidationError};
use store::activities::{self, NewActivity};
use store::spaces as q;
use store::{Conn, Tx, follows, notifications, profiles};

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::profiles::{Person, member_named};
use crate::service::viewer::Viewer;

/// The rows the space services return, as their read models.
pub use store::spaces::Space;

fn not_found_space(slug: &str) -> AppError {
    AppError::NotFound(format!("There is no space \"{slug}\" that you can see."))
}

pub(crate) fn space_visible(viewer: &Viewer, s: &Space) -> bool {
    social::can_see_space(s.visibility, s.viewer_role.is_some(), viewer.role())
}

/// May the viewer read the space's content (its stream and members)?
pub(crate) fn space_content_visible(viewer: &Viewer, s: &Space) -> bool {
    match s.visibility {
        SpaceVisibility::Open => s.viewer_role.is_some() || viewer.role() != Role::Guest,
        _ => s.viewer_role.is_some(),
    }
}

pub(crate) fn is_space_admin(viewer: &Viewer, s: &Space) -> bool {
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
    q::add_space_member(&mut tx, id, viewer.id(), SpaceRole::Admin, now).await?;
    follows::auto_follow(
        &mut tx,
        viewer.id(),
        "space",
        &id.to_string(),
        "following",
        now,
    )
    .await?;
    activities::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: Verb::Create,
            object_type: ObjectType::Space,
            object_id: id.get(),
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
            add_to_space(
                &mut tx,
                viewer.id(),
                &s,
                viewer.id(),
                SpaceRole::Member,
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(JoinOutcome::Joined)
        }
        SpaceVisibility::Closed => {
            let message = ShortText::parse("message", message, 300)?;
            if q::put_join_request(&mut tx, s.id, viewer.id(), message.as_str(), now).await? {
                let a = activities::append_activity(
                    &mut tx,
                    &NewActivity {
                        actor_id: viewer.id(),
                        verb: Verb::Act(Act::Request),
                        object_type: ObjectType::Space,
                        object_id: s.id.get(),
                        target_type: None,
                        target_id: None,
                        item_id: None,
                        space_id: Some(s.id),
                    },
                    now,
                )
                .await?;
                for admin in q::space_admins(&mut tx, s.id).await? {
                    notifications::notify(&mut tx, admin, a, NotificationReason::JoinRequest, now)
                        .await?;
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
    actor: MemberId,
    s: &Space,
    member: MemberId,
    role: SpaceRole,
    now: i64,
) -> AppResult<bool> {
    let added = q::add_space_member(tx, s.id, member, role, now).await?;
    if added {
        follows::auto_follow(tx, member, "space", &s.id.to_string(), "following", now).await?;
        let a = activities::append_activity(
            tx,
            &NewActivity {
                actor_id: actor,
                verb: Verb::Join,
                object_type: ObjectType::Member,
                object_id: member.get(),
                target_type: Some(ObjectType::Space),
                target_id: Some(s.id.get()),
                item_id: None,
                space_id: Some(s.id),
            },
            now,
        )
        .await?;
        if actor != member {
            notifications::notify(tx, member, a, NotificationReason::AddedToSpace, now).await?;
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
    follows::delete_follow(&mut tx, viewer.id(), "space", &s.id.to_string()).await?;
    store::lists::set(&mut tx, viewer.id(), s.id, false, ctx.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// What adding `handle` (as typed) to a space answers when nobody active
/// has it; also for text that cannot be a handle, which names nobody.
pub fn no_active_member(handle: &str) -> AppError {
    AppError::NotFound(format!("There is no active member @{handle}."))
}

/// Adds someone to a space (the way into a secret space), or changes
/// their role there. Space admins only.
pub async fn add_member(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    handle: &Handle,
    role: SpaceRole,
) -> AppResult<Person> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "add people to it").await?;
    let m = profiles::member_by_handle(&mut tx, handle)
        .await?
        .filter(|m| m.is_active())
        .ok_or_else(|| no_active_member(handle.as_str()))?;
    add_to_space(&mut tx, viewer.id(), &s, m.id, role, now).await?;
    tx.commit().await?;
    Ok(Person {
        extra: role.as_str().to_owned(),
        ..Person::from(&m)
    })
}

pub async fn remove_member(
    ctx: &Ctx,
    viewer: &Viewer,
    slug: &str,
    handle: &Handle,
) -> AppResult<()> {
    let db = &ctx.db;
    if handle.as_str() == viewer.member.handle {
        return leave_space(ctx, viewer, slug).await;
    }
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "remove people from it").await?;
    let m = member_named(&mut tx, handle).await?;
    if !q::remove_space_member(&mut tx, s.id, m.id).await? {
        return Err(AppError::NotFound(format!(
            "@{handle} is not in this space."
        )));
    }
    follows::delete_follow(&mut tx, m.id, "space", &s.id.to_string()).await?;
    store::lists::set(&mut tx, m.id, s.id, false, ctx.now()).await?;
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
    handle: &Handle,
    approve: bool,
) -> AppResult<()> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let s = load_admin_space(&mut tx, viewer, slug, "decide join requests").await?;
    let m = member_named(&mut tx, handle).await?;
    if !q::take_join_request(&mut tx, s.id, m.id).await? {
        return Err(AppError::NotFound(format!(
            "@{handle} has not asked to join."
        )));
    }
    if approve {
        add_to_space(&mut tx, viewer.id(), &s, m.id, SpaceRole::Member, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
