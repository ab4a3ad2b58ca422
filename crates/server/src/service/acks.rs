//! Seen and acknowledged: recording that a viewer saw or acknowledged an
//! item, and who has (the author sees the people, others the count).

use domain::ItemId;
use domain::kinds::Verb;
use store::acks as q;
use store::activities::{self, NewActivity};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::items::load_item;
use crate::service::profiles::Person;
use crate::service::viewer::Viewer;

/// Records that the viewer has seen an item (idempotent).
pub async fn mark_seen(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<()> {
    let viewer = viewer.clone();
    ctx.on_writer(|ctx| async move { write_seen(&ctx, &viewer, id).await })
        .await
}

async fn write_seen(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<()> {
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
pub async fn seen(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<(i64, Vec<Person>)> {
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

pub async fn acknowledge(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<()> {
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
        activities::append_activity(
            &mut tx,
            &NewActivity::on_item(viewer.id(), Verb::Acknowledge, id, item.space_id),
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

pub async fn acknowledgements(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<Acks> {
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
