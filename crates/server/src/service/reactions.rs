//! Reactions on items and comments: adding and removing one, and the
//! reactions that a page of stream entries shows.

use domain::kinds::{NotificationReason, ObjectType, Verb};
use domain::{CommentId, ItemId, social};
use store::activities::{self, NewActivity};
use store::reactions as q;
use store::{comments, notifications};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::{ItemRow, load_item};
use crate::service::streams::ActivityRow;
use crate::service::viewer::Viewer;

/// The rows the reaction services return, as their read models.
pub use store::reactions::{ReactionCount, reactions_on};

/// Reactions as the store gives them: (item, comment, emoji, count, mine).
pub type Reactions = Vec<ReactionCount>;

/// The reactions on the items of stream entries (on the items themselves;
/// stream entries show no comment reactions).
pub fn reactions_of(rows: &[ActivityRow]) -> AppResult<Reactions> {
    let mut items: Vec<&ItemRow> = rows.iter().filter_map(|r| r.item.as_ref()).collect();
    items.sort_unstable_by_key(|i| i.id);
    items.dedup_by_key(|i| i.id);
    Ok(q::item_reactions(&items)?)
}

pub async fn react(
    ctx: &Ctx,
    viewer: &Viewer,
    item_id: ItemId,
    comment_id: Option<CommentId>,
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
    item_id: ItemId,
    comment_id: Option<CommentId>,
    emoji: &str,
    add: bool,
) -> AppResult<()> {
    let db = &ctx.db;
    let emoji = social::parse_reaction(emoji)?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let item = load_item(&mut tx, viewer, item_id).await?;
    let owner = match comment_id {
        Some(cid) => comments::comment_exists(&mut tx, item_id, cid)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("Item {item_id} has no comment {cid}.")))?,
        None => item.author_id,
    };
    let cid = comment_id.unwrap_or(CommentId(0));
    if !add {
        q::remove_reaction(&mut tx, item_id, cid, viewer.id(), &emoji).await?;
        tx.commit().await?;
        return Ok(());
    }
    if q::add_reaction(&mut tx, item_id, cid, viewer.id(), &emoji, now).await? {
        let a = activities::append_activity(
            &mut tx,
            &NewActivity {
                actor_id: viewer.id(),
                verb: Verb::React,
                object_type: if comment_id.is_some() {
                    ObjectType::Comment
                } else {
                    ObjectType::Item
                },
                object_id: comment_id.map_or(item_id.get(), CommentId::get),
                target_type: None,
                target_id: None,
                item_id: Some(item_id),
                space_id: item.space_id,
            },
            now,
        )
        .await?;
        if owner != viewer.id() {
            notifications::notify(&mut tx, owner, a, NotificationReason::Reaction, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
