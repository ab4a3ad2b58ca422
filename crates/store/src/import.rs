//! Importing a mail archive into a space: what the importer reads first
//! (the space, the members' addresses, the messages imported before) and
//! the rows each message becomes.
//!
//! Imported items and comments are history: they are written with their
//! activity (so they show in the space's stream at their dates) but with
//! no fan-out to homes, no follows, no notification and no mail, and the
//! transaction announces nothing to live readers.

use domain::{CommentId, ItemId, MemberId, SpaceId};

use crate::{Conn, Error, Kind, Tx, params};

/// The space an archive goes into.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: SpaceId,
    /// Who writes the messages of authors that are not members.
    pub created_by: MemberId,
    pub archived: bool,
}

pub async fn target(c: &mut Conn, slug: &str) -> Result<Option<Target>, Error> {
    c.query_opt(
        "SELECT id, created_by, archived_at FROM spaces WHERE slug = $1",
        params![slug],
    )
    .await?
    .map(|r| {
        Ok(Target {
            id: SpaceId(r.i64(0)?),
            created_by: MemberId(r.i64(1)?),
            archived: r.opt_i64(2)?.is_some(),
        })
    })
    .transpose()
}

/// Every member's address, lower-cased, with their id.
pub async fn member_addresses(c: &mut Conn) -> Result<Vec<(String, MemberId)>, Error> {
    c.query("SELECT lower(email), id FROM members", params![])
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, MemberId(r.i64(1)?))))
        .collect()
}

/// The messages imported into the space before, by key, with their item.
pub async fn imported(c: &mut Conn, space: SpaceId) -> Result<Vec<(String, ItemId)>, Error> {
    c.query(
        "SELECT message_key, item_id FROM imported_messages WHERE space_id = $1",
        params![space],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, ItemId(r.i64(1)?))))
    .collect()
}

/// One message to write.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub space: SpaceId,
    pub key: &'a str,
    pub author: MemberId,
    /// "Name <address>" when the author is not a member.
    pub imported_from: Option<&'a str>,
    pub body: &'a str,
    pub body_html: &'a str,
    /// Microseconds since the epoch.
    pub at: i64,
}

/// Takes the stream's lock once per transaction on PostgreSQL (see
/// `activities::append_activity`), so stream ids commit in order.
async fn stream_lock(tx: &mut Tx) -> Result<(), Error> {
    if tx.kind() == Kind::Postgres && tx.first_stream_lock() {
        tx.execute("SELECT pg_advisory_xact_lock(7283)", params![])
            .await?;
    }
    Ok(())
}

async fn activity(
    tx: &mut Tx,
    m: &Message<'_>,
    (verb, object_type, object_id): (&str, &str, i64),
    (target_type, target_id): (&str, i64),
    item: ItemId,
) -> Result<(), Error> {
    tx.execute_later(
        "INSERT INTO activities (actor_id, verb, object_type, object_id, target_type, target_id, item_id, space_id, published)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![m.author, verb, object_type, object_id, target_type, target_id, item, m.space, m.at],
    )
    .await
}

/// Writes a thread's first message as an item of the space. On
/// PostgreSQL the item, its activity and its import row are one statement
/// (one round trip); SQLite's writer takes the three without waiting.
pub async fn write_item(tx: &mut Tx, m: &Message<'_>, title: &str) -> Result<ItemId, Error> {
    stream_lock(tx).await?;
    if tx.kind() == Kind::Postgres {
        return tx
            .query_one(
                "WITH i AS (
                   INSERT INTO items (kind, author_id, audience, space_id, title, body, body_html, created_at, updated_at, imported_from)
                   VALUES ('post', $1, 'space', $2, $3, $4, $5, $6, $6, $7) RETURNING id),
                 a AS (
                   INSERT INTO activities (actor_id, verb, object_type, object_id, target_type, target_id, item_id, space_id, published)
                   SELECT CAST($1 AS BIGINT), 'post', 'item', i.id, 'space', CAST($2 AS BIGINT), i.id, CAST($2 AS BIGINT), CAST($6 AS BIGINT) FROM i),
                 k AS (
                   INSERT INTO imported_messages (space_id, message_key, item_id)
                   SELECT CAST($2 AS BIGINT), CAST($8 AS TEXT), i.id FROM i)
                 SELECT id FROM i",
                params![m.author, m.space, title, m.body, m.body_html, m.at, m.imported_from, m.key],
            )
            .await?
            .i64(0)
            .map(ItemId);
    }
    let id = tx
        .query_one(
            "INSERT INTO items (kind, author_id, audience, space_id, title, body, body_html, created_at, updated_at, imported_from)
             VALUES ('post', $1, 'space', $2, $3, $4, $5, $6, $6, $7) RETURNING id",
            params![m.author, m.space, title, m.body, m.body_html, m.at, m.imported_from],
        )
        .await?
        .i64(0)
        .map(ItemId)?;
    activity(
        tx,
        m,
        ("post", "item", id.get()),
        ("space", m.space.get()),
        id,
    )
    .await?;
    tx.execute_later(
        "INSERT INTO imported_messages (space_id, message_key, item_id) VALUES ($1, $2, $3)",
        params![m.space, m.key, id],
    )
    .await?;
    Ok(id)
}

/// Writes a reply as a comment on its thread's item.
pub async fn write_comment(tx: &mut Tx, m: &Message<'_>, item: ItemId) -> Result<CommentId, Error> {
    stream_lock(tx).await?;
    if tx.kind() == Kind::Postgres {
        return tx
            .query_one(
                "WITH c AS (
                   INSERT INTO comments (item_id, author_id, body, body_html, created_at, imported_from)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id),
                 u AS (UPDATE items SET comment_count = comment_count + 1 WHERE id = CAST($1 AS BIGINT)),
                 a AS (
                   INSERT INTO activities (actor_id, verb, object_type, object_id, target_type, target_id, item_id, space_id, published)
                   SELECT CAST($2 AS BIGINT), 'comment', 'comment', c.id, 'item', CAST($1 AS BIGINT), CAST($1 AS BIGINT), CAST($7 AS BIGINT), CAST($5 AS BIGINT) FROM c),
                 k AS (
                   INSERT INTO imported_messages (space_id, message_key, item_id, comment_id)
                   SELECT CAST($7 AS BIGINT), CAST($8 AS TEXT), CAST($1 AS BIGINT), c.id FROM c)
                 SELECT id FROM c",
                params![item, m.author, m.body, m.body_html, m.at, m.imported_from, m.space, m.key],
            )
            .await?
            .i64(0)
            .map(CommentId);
    }
    let id = tx
        .query_one(
            "INSERT INTO comments (item_id, author_id, body, body_html, created_at, imported_from)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            params![item, m.author, m.body, m.body_html, m.at, m.imported_from],
        )
        .await?
        .i64(0)
        .map(CommentId)?;
    tx.execute_later(
        "UPDATE items SET comment_count = comment_count + 1 WHERE id = $1",
        params![item],
    )
    .await?;
    activity(
        tx,
        m,
        ("comment", "comment", id.get()),
        ("item", item.get()),
        item,
    )
    .await?;
    tx.execute_later(
        "INSERT INTO imported_messages (space_id, message_key, item_id, comment_id) VALUES ($1, $2, $3, $4)",
        params![m.space, m.key, item, id],
    )
    .await?;
    Ok(id)
}
