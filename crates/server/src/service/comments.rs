//! Comments on an item: adding one (telling the item's author, the
//! mentioned and the item's watchers, and fanning it out) and reading them.

use domain::{CommentId, ItemId, MemberId};
use std::collections::HashSet;

use domain::kinds::{NotificationReason, ObjectType, Verb};
use store::activities::{self, NewActivity};
use store::comments as q;
use store::reactions::{self, ReactionCount};
use store::{fanout, follows, notifications};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::{load_item, parse_body, render};
use crate::service::profiles::Person;
use crate::service::viewer::{Viewer, members_who_can_see};

/// The rows the comment services return, as their read models.
pub use store::comments::CommentRow;

/// Adds a comment and returns it as a reader would see it, built from what
/// the transaction wrote (reading it back would cost the item's
/// visibility check and a read again). It runs where the writer's
/// statements cost least (`Db::on_writer`).
pub async fn add_comment(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: ItemId,
    body: &str,
) -> AppResult<q::CommentRow> {
    let (viewer, body) = (viewer.clone(), body.to_owned());
    ctx.on_writer(|ctx| async move { write_comment(&ctx, &viewer, item_id, &body).await })
        .await
}

async fn write_comment(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: ItemId,
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
    let watchers = follows::item_watchers(&mut tx, item_id).await?;
    // Who may be told: the author, the mentioned and the watchers, their
    // facts in one query and the visibility rule applied to each.
    let mut candidates: Vec<MemberId> = Vec::with_capacity(watchers.len() + mentioned.len() + 1);
    candidates.push(item.author_id);
    candidates.extend(&mentioned);
    candidates.extend(&watchers);
    candidates.retain(|m| *m != viewer.id());
    candidates.sort_unstable();
    candidates.dedup();
    let may_see: HashSet<MemberId> = members_who_can_see(&mut tx, &candidates, &item)
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
    let watching: Vec<MemberId> = watchers
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
    let counts = follows::follower_counts_upto(
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
    let a = activities::append_activity(
        &mut tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb: Verb::Comment,
            object_type: ObjectType::Comment,
            object_id: cid.get(),
            target_type: Some(ObjectType::Item),
            target_id: Some(item_id.get()),
            item_id: Some(item_id),
            space_id: item.space_id,
        },
        now,
    )
    .await?;
    follows::auto_follow(&mut tx, viewer.id(), "item", &item_key, "watching", now).await?;
    if tell_author {
        notifications::notify(&mut tx, item.author_id, a, NotificationReason::Reply, now).await?;
    }
    let mut extra = vec![viewer.id()];
    for m in tell_mentioned {
        notifications::notify(&mut tx, m, a, NotificationReason::Mention, now).await?;
        follows::auto_follow(&mut tx, m, "item", &item_key, "watching", now).await?;
        extra.push(m);
    }
    notifications::notify_many(&mut tx, &watching, a, NotificationReason::Watching, now).await?;
    fanout::fan_out(&mut tx, a, &item, (&targets, Some(counted)), &extra, now).await?;
    if let Some(space) = item.space_id {
        store::lists::enqueue(&mut tx, space, item_id, Some(cid), now).await?;
    }
    tx.commit().await?;
    Ok(q::CommentRow {
        id: cid,
        item_id,
        author: Person::from(&viewer.member),
        body: body.as_str().to_owned(),
        body_html: html,
        created_at: now,
        edited_at: None,
        deleted_at: None,
        imported: false,
    })
}

pub async fn comments(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: ItemId,
    after: CommentId,
    limit: i64,
) -> AppResult<Vec<q::CommentRow>> {
    let mut c = ctx.db.read().await?;
    load_item(&mut c, viewer, item_id).await?;
    Ok(q::comments(&mut c, item_id, after, limit).await?)
}

/// A page of an item's comments with the reactions on the item and its
/// comments (the viewer's own marked).
pub async fn comments_with_reactions(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: ItemId,
    after: CommentId,
    limit: i64,
) -> AppResult<(Vec<q::CommentRow>, Vec<ReactionCount>)> {
    let mut c = ctx.db.read().await?;
    load_item(&mut c, viewer, item_id).await?;
    let comments = q::comments(&mut c, item_id, after, limit).await?;
    let reactions = reactions::reaction_counts(&mut c, viewer.id(), &[item_id]).await?;
    Ok((comments, reactions))
}
