//! Items: posting one (in a space, directly to people, or on the author's
//! profile), reading it as the viewer may see it, editing it (its earlier
//! versions kept) and deleting it. Text is rendered here, `@mentions`
//! linked to the members that exist.

use domain::{ItemId, Markdown, MemberId, Role, ShortText, ValidationError};
use std::collections::HashSet;

use domain::kinds::{AudienceKind, ItemKind, NotificationReason, ObjectType, Verb};
use domain::social::{self, SpaceVisibility};
use store::activities::{self, NewActivity};
use store::items as q;
use store::reactions::{self, ReactionCount};
use store::{Conn, audience, fanout, follows, notifications};

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::audience::{DirectTo, direct_recipients};
use crate::service::profiles::Person;
use crate::service::spaces::{is_space_admin, load_space};
use crate::service::viewer::{Viewer, member_can_see, visible};

/// The rows the item services return, as their read models.
pub use store::items::{ItemRow, Revision};

pub const MAX_BODY_CHARS: usize = 20_000;

pub(crate) fn not_found_item(id: ItemId) -> AppError {
    AppError::NotFound(format!("There is no item {id} that you can see."))
}

#[derive(Debug, Default, Clone)]
pub struct ItemInput {
    /// A space slug, for a post in a space.
    pub space: Option<String>,
    /// Handles, for a direct post. With neither, the post is on the
    /// author's profile.
    pub to: DirectTo,
    pub title: Option<String>,
    pub body: String,
    pub ack_requested: bool,
}

/// Renders text with mentions of members that exist; returns the HTML
/// and the mentioned members' ids.
pub(crate) async fn render(
    c: &mut Conn,
    body: &str,
) -> AppResult<(String, Vec<MemberId>, Vec<String>)> {
    let (handles, topics) = social::scan(body);
    let found = audience::members_by_handles(c, &handles).await?;
    let known: HashSet<String> = found.iter().map(|m| m.1.clone()).collect();
    let html = social::render_post(body, &known);
    Ok((
        html,
        found.iter().filter(|m| m.4).map(|m| m.0).collect(),
        topics,
    ))
}

pub(crate) fn parse_body(body: &str) -> Result<Markdown, ValidationError> {
    let md = Markdown::parse("body", body, MAX_BODY_CHARS)?;
    if md.is_empty() {
        return Err(ValidationError::new("body", "Write something first."));
    }
    Ok(md)
}

/// Whether the viewer may post in a space they can see: its members may,
/// and everyone but guests in an open one; nobody in an archived one.
pub(crate) fn may_post_in(viewer: &Viewer, s: &crate::service::spaces::Space) -> AppResult<()> {
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
    Ok(())
}

pub async fn create_item(ctx: &Ctx, viewer: &Viewer, input: &ItemInput) -> AppResult<ItemId> {
    let (viewer, input) = (viewer.clone(), input.clone());
    ctx.on_writer(|ctx| async move { write_item(&ctx, &viewer, &input).await })
        .await
}

async fn write_item(ctx: &Ctx, viewer: &Viewer, input: &ItemInput) -> AppResult<ItemId> {
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
            may_post_in(viewer, &s)?;
            (AudienceKind::Space, Some(s), Vec::new())
        } else if !input.to.is_empty() {
            let people = direct_recipients(&mut tx, viewer, &input.to).await?;
            let ids: Vec<MemberId> = people.iter().map(|p| p.id).collect();
            (AudienceKind::Direct, None, ids)
        } else {
            if viewer.role() == Role::Guest {
                return Err(AppError::Forbidden(
                    "Guests post in the spaces they were invited to.".into(),
                ));
            }
            (AudienceKind::Profile, None, Vec::new())
        };
    let (html, mentioned, topics) = render(&mut tx, body.as_str()).await?;
    let id = q::insert_item(
        &mut tx,
        &q::NewItem {
            kind: ItemKind::Post,
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
    let a = activities::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: Verb::Post,
            object_type: ObjectType::Item,
            object_id: id.get(),
            target_type: space.as_ref().map(|_| ObjectType::Space),
            target_id: space.as_ref().map(|s| s.id.get()),
            item_id: Some(id),
            space_id: space.as_ref().map(|s| s.id),
        },
        now,
    )
    .await?;
    follows::auto_follow(
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
        follows::auto_follow(&mut tx, *m, "item", &id.to_string(), "watching", now).await?;
        notifications::notify(&mut tx, *m, a, NotificationReason::Direct, now).await?;
    }
    for m in mentioned.iter().filter(|m| **m != viewer.id()) {
        if member_can_see(&mut tx, *m, &item).await? {
            follows::auto_follow(&mut tx, *m, "item", &id.to_string(), "watching", now).await?;
            if !recipients.contains(m) {
                notifications::notify(&mut tx, *m, a, NotificationReason::Mention, now).await?;
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
    fanout::fan_out(&mut tx, a, &item, (&targets, None), &extra, now).await?;
    if let Some(s) = &space {
        store::lists::enqueue(&mut tx, s.id, id, None, now).await?;
    }
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
    pub reactions: Vec<ReactionCount>,
    pub follow_level: Option<String>,
}

pub async fn load_item(c: &mut Conn, viewer: &Viewer, id: ItemId) -> AppResult<ItemRow> {
    let item = q::item_by_id(c, viewer.id(), id)
        .await?
        .ok_or_else(|| not_found_item(id))?;
    if !visible(viewer, &item) {
        return Err(not_found_item(id));
    }
    Ok(item)
}

pub async fn get_item(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<ItemDetail> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let item = load_item(&mut c, viewer, id).await?;
    let topics = q::item_topics(&mut c, id).await?;
    let recipients = if item.audience == domain::kinds::AudienceKind::Direct {
        q::item_recipients(&mut c, id).await?
    } else {
        Vec::new()
    };
    let reactions = reactions::reaction_counts(&mut c, viewer.id(), &[id]).await?;
    let follow_level = follows::follow_level(&mut c, viewer.id(), "item", &id.to_string()).await?;
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
    id: ItemId,
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
    activities::append_activity(
        &mut tx,
        &NewActivity::on_item(viewer.id(), Verb::Update, id, item.space_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn item_revisions(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<Vec<q::Revision>> {
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

pub async fn delete_item(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<()> {
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
    activities::append_activity(
        &mut tx,
        &NewActivity::on_item(viewer.id(), Verb::Delete, id, item.space_id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
