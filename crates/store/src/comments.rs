//! Comments on items.

use crate::rows::{Column, Person, PersonCols, columns, person};
use crate::{Conn, Error, Tx, params};
use domain::{CommentId, ItemId, MemberId};

#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: CommentId,
    pub item_id: ItemId,
    pub author: Person,
    pub body: String,
    pub body_html: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// Imported from a mail archive, from a sender who is no member: the
    /// author's name is the sender's name and address.
    pub imported: bool,
}

pub async fn insert_comment(
    tx: &mut Tx,
    item: ItemId,
    author: MemberId,
    body: &str,
    body_html: &str,
    now: i64,
) -> Result<CommentId, Error> {
    let id = tx
        .query_one(
            "INSERT INTO comments (item_id, author_id, body, body_html, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            params![item, author, body, body_html, now],
        )
        .await?
        .i64(0)
        .map(CommentId)?;
    tx.execute_counts(
        "UPDATE items SET comment_count = comment_count + 1 WHERE id = $1",
        params![item],
    )
    .await?;
    Ok(id)
}

columns! {
    /// A comment (`comments c`) with its author (`members m`).
    struct CommentCols {
        id: "c.id",
        item_id: "c.item_id",
        author: [PersonCols],
        body: "c.body",
        body_html: "c.body_html",
        created_at: "c.created_at",
        edited_at: "c.edited_at",
        deleted_at: "c.deleted_at",
        imported_from: "c.imported_from",
    }
}

pub async fn comments(
    c: &mut Conn,
    item: ItemId,
    after: CommentId,
    limit: i64,
) -> Result<Vec<CommentRow>, Error> {
    const C: CommentCols = CommentCols::at(0);
    let sql = format!(
        "SELECT {} FROM comments c JOIN members m ON m.id = c.author_id
         WHERE c.item_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
        CommentCols::sql()
    );
    c.query(&sql, params![item, after, limit])
        .await?
        .into_iter()
        .map(|mut r| {
            Ok(CommentRow {
                id: Column::take(&mut r, C.id)?,
                item_id: Column::take(&mut r, C.item_id)?,
                author: person(&mut r, C.author)?,
                body: r.take_text(C.body)?,
                body_html: r.take_text(C.body_html)?,
                created_at: r.i64(C.created_at)?,
                edited_at: r.opt_i64(C.edited_at)?,
                deleted_at: r.opt_i64(C.deleted_at)?,
                imported: false,
            })
            .and_then(|mut row: CommentRow| {
                // An imported reply's sender, when no member wrote it.
                if let Some(from) = r.take_opt_text(C.imported_from)? {
                    row.author.display_name = from;
                    row.imported = true;
                }
                Ok(row)
            })
        })
        .collect()
}

pub async fn comment_exists(
    c: &mut Conn,
    item: ItemId,
    comment: CommentId,
) -> Result<Option<MemberId>, Error> {
    c.query_opt(
        "SELECT author_id FROM comments WHERE id = $1 AND item_id = $2 AND deleted_at IS NULL",
        params![comment, item],
    )
    .await?
    .map(|r| r.i64(0).map(MemberId))
    .transpose()
}

/// The item a comment is on, while the comment is not deleted (a mail
/// reply names the comment it answers).
pub async fn comment_item(c: &mut Conn, comment: CommentId) -> Result<Option<ItemId>, Error> {
    c.query_opt(
        "SELECT item_id FROM comments WHERE id = $1 AND deleted_at IS NULL",
        params![comment],
    )
    .await?
    .map(|r| r.i64(0).map(ItemId))
    .transpose()
}
