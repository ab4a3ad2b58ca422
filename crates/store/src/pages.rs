//! Reads that only the server-rendered pages need.

use crate::{Conn, Error, params};

/// The viewer's notifications that mention them or were sent to them
/// directly, newest first, before the notification id `before`:
/// (notification id, activity id).
pub async fn mention_notifications(
    c: &mut Conn,
    member: i64,
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
    .iter()
    .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
    .collect()
}

/// Spaces by id: (id, slug, name), for labels in lists.
pub async fn space_names(c: &mut Conn, ids: &[i64]) -> Result<Vec<(i64, String, String)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    c.query(
        &format!("SELECT id, slug, name FROM spaces WHERE id IN ({list})"),
        params![],
    )
    .await?
    .iter()
    .map(|r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?)))
    .collect()
}
