//! Notifications: writing, listing and marking them read, and the unread
//! ones the count looks at.

use domain::MemberId;
use domain::kinds::NotificationReason;

use crate::activities::ActivityRow;
use crate::items::{ItemAccessCols, item_access};
use crate::rows::{Column, Person, Tuple, columns, in_list, present, with};
use crate::{Conn, Error, Tx, params};

pub async fn notify(
    tx: &mut Tx,
    member: MemberId,
    activity: i64,
    reason: NotificationReason,
    now: i64,
) -> Result<(), Error> {
    tx.execute_later(
        "INSERT INTO notifications (member_id, activity_id, reason, created_at) VALUES ($1, $2, $3, $4)",
        params![member, activity, reason.as_str(), now],
    )
    .await?;
    tx.note_notified(member.get());
    Ok(())
}

/// Notifies several members of one activity for one reason.
pub async fn notify_many(
    tx: &mut Tx,
    members: &[MemberId],
    activity: i64,
    reason: NotificationReason,
    now: i64,
) -> Result<(), Error> {
    for chunk in members.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO notifications (member_id, activity_id, reason, created_at) VALUES ",
        );
        let mut vals: Vec<crate::Value> = vec![activity.into(), reason.as_str().into(), now.into()];
        for (k, m) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, $1, $2, $3)", k + 4));
            vals.push((*m).into());
            tx.note_notified(m.get());
        }
        tx.execute_later(&sql, &vals).await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: i64,
    pub reason: NotificationReason,
    pub created_at: i64,
    pub read_at: Option<i64>,
    pub activity_id: i64,
}

columns! {
    struct NotificationCols => NotificationRow {
        id: "id",
        reason: "reason",
        created_at: "created_at",
        read_at: "read_at",
        activity_id: "activity_id",
    }
}

pub async fn notifications(
    c: &mut Conn,
    member: MemberId,
    before: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, Error> {
    let sql = format!(
        "SELECT {} FROM notifications
         WHERE member_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        NotificationCols::sql()
    );
    c.query(&sql, params![member, before, limit])
        .await?
        .into_iter()
        .map(|mut r| NotificationCols::at(0).decode(&mut r))
        .collect()
}

columns! {
    /// An unread notification's activity with what the visibility rule
    /// needs: its own space where it has no item, else its item's facts.
    struct UnreadCols {
        actor_id: "a.actor_id",
        object_type: "a.object_type",
        object_id: "a.object_id",
        space_visibility: "sp.visibility",
        item: [ItemAccessCols],
    }
}

/// The activities of the member's newest `limit` unread notifications,
/// with only what the visibility rule needs (see [`ActivityRow::access`](crate::activities::ActivityRow::access)),
/// so that the unread count is what the member can open.
pub async fn unread_access(
    c: &mut Conn,
    member: MemberId,
    limit: i64,
) -> Result<Vec<ActivityRow>, Error> {
    const C: UnreadCols = UnreadCols::at(0);
    let sql = format!(
        "SELECT {} FROM notifications n JOIN activities a ON a.id = n.activity_id
         LEFT JOIN items i ON i.id = a.item_id
         LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)
         WHERE n.member_id = $1 AND n.read_at IS NULL ORDER BY n.id DESC LIMIT $2",
        UnreadCols::sql()
    );
    c.query(&sql, params![member, limit])
        .await?
        .into_iter()
        .map(|mut r| {
            let has_item = r.opt_i64(C.item.id)?.is_some();
            let space_visibility: Option<_> = Column::take(&mut r, C.space_visibility)?;
            Ok(ActivityRow {
                actor: Person {
                    id: Column::take(&mut r, C.actor_id)?,
                    ..Person::default()
                },
                object_type: r.take_text(C.object_type)?,
                object_id: r.i64(C.object_id)?,
                space_visibility: space_visibility.filter(|_| !has_item),
                viewer_in_space: !has_item && present(&mut r, C.item.viewer_in_space)?,
                item: if has_item {
                    Some(item_access(&mut r, C.item)?)
                } else {
                    None
                },
                ..ActivityRow::default()
            })
        })
        .collect()
}

pub async fn mark_read(
    tx: &mut Tx,
    member: MemberId,
    ids: Option<&[i64]>,
    now: i64,
) -> Result<u64, Error> {
    // Live badges of this member re-read their count.
    tx.note_notified(member.get());
    match ids {
        None => {
            tx.execute(
                "UPDATE notifications SET read_at = $2 WHERE member_id = $1 AND read_at IS NULL",
                params![member, now],
            )
            .await
        }
        Some([]) => Ok(0),
        Some(ids) => {
            let (marks, ids) = in_list(3, ids);
            let sql = format!(
                "UPDATE notifications SET read_at = $2 WHERE member_id = $1 AND read_at IS NULL AND id IN ({marks})"
            );
            tx.execute(&sql, &with(params![member, now].to_vec(), ids))
                .await
        }
    }
}

/// The viewer's notifications that mention them or were sent to them
/// directly, newest first, before the notification id `before`:
/// (notification id, activity id).
pub async fn mention_notifications(
    c: &mut Conn,
    member: MemberId,
    before: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, Error> {
    c.query(
        "SELECT id, activity_id FROM notifications
         WHERE member_id = $1 AND id < $2 AND reason IN ('mention', 'direct')
         ORDER BY id DESC LIMIT $3",
        params![member, before, limit],
    )
    .await?
    .into_iter()
    .map(Tuple::from_row)
    .collect()
}
