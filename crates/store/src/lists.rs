//! List mode: members who get every new item and comment of a space by
//! mail, and the one `list_mail` job a post or comment enqueues for them.
//!
//! The write enqueues ONE job, in its own transaction, when the space has
//! anyone in list mode; the job (`server::mail::list`) walks them in member
//! order, a batch at a time, and asks the visibility rule, the pause and
//! the bounces for each when it sends.

use domain::{CommentId, ItemId, MemberId, SpaceId};

use crate::jobs::NewJob;
use crate::rows::Tuple;
use crate::{Conn, Error, Tx, params};

/// The kind of job that mails one item or comment to a space's list.
pub const LIST_MAIL: &str = "list_mail";

/// A [`LIST_MAIL`] job's payload: what to mail, and the last member it
/// went to (the job's progress, saved after each batch).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMailJob {
    pub space: SpaceId,
    pub item: ItemId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentId>,
    pub after_member: i64,
}

/// Turns list mode on or off for `member` in `space`.
pub async fn set(
    tx: &mut Tx,
    member: MemberId,
    space: SpaceId,
    on: bool,
    now: i64,
) -> Result<(), Error> {
    if on {
        tx.execute(
            "INSERT INTO list_mode (space_id, member_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (space_id, member_id) DO NOTHING",
            params![space, member, now],
        )
        .await?;
    } else {
        tx.execute(
            "DELETE FROM list_mode WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    }
    Ok(())
}

/// Whether `member` has list mode on in `space`.
pub async fn is_on(c: &mut Conn, member: MemberId, space: SpaceId) -> Result<bool, Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM list_mode WHERE space_id = $1 AND member_id = $2",
        params![space, member],
    )
    .await?
    .is_some())
}

/// The spaces `member` has list mode on in: id, slug and name, by name.
pub async fn spaces_of(
    c: &mut Conn,
    member: MemberId,
) -> Result<Vec<(SpaceId, String, String)>, Error> {
    c.query(
        "SELECT s.id, s.slug, s.name FROM list_mode l JOIN spaces s ON s.id = l.space_id
         WHERE l.member_id = $1 ORDER BY s.name, s.id",
        params![member],
    )
    .await?
    .into_iter()
    .map(Tuple::from_row)
    .collect()
}

/// Enqueues the list mail of an item (or of one of its comments) posted in
/// `space`, when mail is on and anyone there is in list mode: one job,
/// unique per item or comment, whatever the list's size.
pub async fn enqueue(
    tx: &mut Tx,
    space: SpaceId,
    item: ItemId,
    comment: Option<CommentId>,
    now: i64,
) -> Result<(), Error> {
    if !tx.options().mail {
        return Ok(());
    }
    let any = tx
        .query_opt(
            "SELECT 1 FROM list_mode WHERE space_id = $1 LIMIT 1",
            params![space],
        )
        .await?
        .is_some();
    if !any {
        return Ok(());
    }
    let key = match comment {
        Some(c) => format!("list:comment:{c}"),
        None => format!("list:item:{item}"),
    };
    let job = ListMailJob {
        space,
        item,
        comment,
        after_member: 0,
    };
    let job = NewJob::new(LIST_MAIL, &job, now)?
        .unique(key)
        .max_attempts(crate::mail::MAX_ATTEMPTS);
    crate::jobs::enqueue(tx, &job, now).await?;
    Ok(())
}

/// One member in list mode, with what sending to them needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMember {
    pub id: MemberId,
    pub email: String,
    pub display_name: String,
    pub reply_epoch: i64,
    pub paused: bool,
    pub active: bool,
    /// Permanent failures of their address so far.
    pub bounces: i64,
}

/// The next `limit` members in list mode in `space` after member
/// `after`, in member order.
pub async fn members_after(
    c: &mut Conn,
    space: SpaceId,
    after: i64,
    limit: i64,
) -> Result<Vec<ListMember>, Error> {
    c.query(
        "SELECT m.id, m.email, m.display_name, m.reply_epoch, m.mail_paused, m.deactivated_at,
                COALESCE((SELECT b.bounces FROM mail_bounces b WHERE b.address = LOWER(m.email)), 0)
         FROM list_mode l JOIN members m ON m.id = l.member_id
         WHERE l.space_id = $1 AND l.member_id > $2
         ORDER BY l.member_id LIMIT $3",
        params![space, after, limit],
    )
    .await?
    .into_iter()
    .map(|mut r| {
        Ok(ListMember {
            id: MemberId(r.i64(0)?),
            email: r.take_text(1)?,
            display_name: r.take_text(2)?,
            reply_epoch: r.i64(3)?,
            paused: r.i64(4)? != 0,
            active: r.opt_i64(5)?.is_none(),
            bounces: r.i64(6)?,
        })
    })
    .collect()
}

/// A comment as its list mail shows it: its item, author id and name,
/// and body; None when it does not exist or was deleted.
pub async fn comment_for_mail(
    c: &mut Conn,
    comment: CommentId,
) -> Result<Option<(ItemId, MemberId, String, String)>, Error> {
    c.query_opt(
        "SELECT c.item_id, c.author_id, m.display_name, c.body
         FROM comments c JOIN members m ON m.id = c.author_id
         WHERE c.id = $1 AND c.deleted_at IS NULL",
        params![comment],
    )
    .await?
    .map(Tuple::from_row)
    .transpose()
}

/// Turns list mode on or off for every member of `space` at once (the
/// benchmark's setup); returns the rows written or removed.
pub async fn set_for_members(tx: &mut Tx, space: i64, on: bool, now: i64) -> Result<u64, Error> {
    if on {
        tx.execute(
            "INSERT INTO list_mode (space_id, member_id, created_at)
             SELECT space_id, member_id, $2 FROM space_members WHERE space_id = $1
             ON CONFLICT (space_id, member_id) DO NOTHING",
            params![space, now],
        )
        .await
    } else {
        tx.execute("DELETE FROM list_mode WHERE space_id = $1", params![space])
            .await
    }
}
