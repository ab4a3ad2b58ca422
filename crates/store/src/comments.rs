//! Comments on items.

use crate::rows::Person;
use crate::{Conn, Error, Tx, params};

#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: i64,
    pub item_id: i64,
    pub author: Person,
    pub body: String,
    pub body_html: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

pub async fn insert_comment(
    tx: &mut Tx,
    item: i64,
    author: i64,
    body: &str,
    body_html: &str,
    now: i64,
) -> Result<i64, Error> {
    let id = tx
        .query_one(
            "INSERT INTO comments (item_id, author_id, body, body_html, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            params![item, author, body, body_html, now],
        )
        .await?
        .i64(0)?;
    tx.execute_counts(
        "UPDATE items SET comment_count = comment_count + 1 WHERE id = $1",
        params![item],
    )
    .await?;
    Ok(id)
}

pub async fn comments(
    c: &mut Conn,
    item: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<CommentRow>, Error> {
    c.query(
        "SELECT c.id, c.item_id, m.id, m.handle, m.display_name, m.avatar_version, c.body, c.body_html,
                c.created_at, c.edited_at, c.deleted_at
         FROM comments c JOIN members m ON m.id = c.author_id
         WHERE c.item_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
        params![item, after, limit],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(CommentRow {
            id: r.i64(0)?,
            item_id: r.i64(1)?,
            author: Person {
                id: r.i64(2)?,
                handle: r.text(3)?,
                display_name: r.text(4)?,
                avatar_version: r.i64(5)?,
                extra: String::new(),
            },
            body: r.text(6)?,
            body_html: r.text(7)?,
            created_at: r.i64(8)?,
            edited_at: r.opt_i64(9)?,
            deleted_at: r.opt_i64(10)?,
        })
    })
    .collect()
}

pub async fn comment_exists(c: &mut Conn, item: i64, comment: i64) -> Result<Option<i64>, Error> {
    c.query_opt(
        "SELECT author_id FROM comments WHERE id = $1 AND item_id = $2 AND deleted_at IS NULL",
        params![comment, item],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
}
