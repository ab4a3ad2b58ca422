//! Items: the row every item read decodes and its columns, and an item's
//! recipients, topics and revisions.
//!
//! Queries narrow candidates; whether a viewer may see an item is decided by
//! `domain::social::can_see` on the facts these queries return
//! (`ItemRow::access`).

use domain::{ItemId, MemberId, Role, SpaceId};
use std::sync::LazyLock;

use domain::kinds::{AudienceKind, ItemKind};
use domain::social::{Access, Audience, SpaceVisibility};

use crate::rows::{Column, Person, PersonCols, columns, person, present, tab_list};
use crate::{Conn, Error, Row, Tx, params};

/// An item with what the visibility rule needs to know about one viewer.
#[derive(Debug, Clone, Default)]
pub struct ItemRow {
    pub id: ItemId,
    pub kind: ItemKind,
    pub author_id: MemberId,
    pub author_handle: String,
    pub author_name: String,
    pub author_avatar: i64,
    pub audience: AudienceKind,
    pub space_id: Option<SpaceId>,
    pub space_slug: Option<String>,
    pub space_name: Option<String>,
    pub space_visibility: Option<SpaceVisibility>,
    pub title: String,
    /// The Markdown source; empty in stream pages ([`read_stream`]), which
    /// carry only the HTML.
    pub body: String,
    pub body_html: String,
    pub ack_requested: bool,
    pub comment_count: i64,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// Whether the viewer belongs to the item's space, where that decides
    /// visibility (closed and secret spaces; any space for a guest); false
    /// elsewhere. Only the visibility rule reads it.
    pub viewer_in_space: bool,
    pub viewer_is_recipient: bool,
    /// Reactions on the item itself: "emoji\tcount" lines, first used first.
    pub reaction_summary: String,
    /// The emoji the viewer reacted to the item itself with.
    pub viewer_reactions: Vec<String>,
    /// Its topics, by name; filled by [`add_topics_and_recipients`](crate::activities::add_topics_and_recipients) (stream
    /// entries) or read on their own (a single item).
    pub topics: Vec<String>,
    /// A direct item's recipients, by handle; filled like `topics`.
    pub recipients: Vec<Person>,
    /// Imported from a mail archive, from a sender who is no member:
    /// `author_name` is the sender's name and address.
    pub imported: bool,
}

impl ItemRow {
    pub fn audience(&self) -> Audience {
        match (self.audience, self.space_visibility) {
            (AudienceKind::Space, Some(v)) => Audience::Space(v),
            (AudienceKind::Profile, _) => Audience::Profile,
            _ => Audience::Direct,
        }
    }

    /// The facts for `domain::social::can_see`.
    pub fn access(&self, viewer_id: MemberId, viewer_role: Role, viewer_active: bool) -> Access {
        Access {
            audience: self.audience(),
            viewer_is_author: self.author_id == viewer_id,
            viewer_in_space: self.viewer_in_space,
            viewer_is_recipient: self.viewer_is_recipient,
            viewer_role,
            viewer_active,
        }
    }
}

/// Whether viewer `$1` belongs to item `i`'s space (joined as `sp`),
/// where the visibility rule asks: closed and secret spaces, and any space
/// for a guest, who sees open spaces only as a member. The viewer's role
/// comes from an uncorrelated subquery, evaluated once per statement.
pub(crate) const VIEWER_IN_SPACE: &str = "CASE WHEN sp.visibility <> 'open' \
    OR (SELECT vm.role FROM members vm WHERE vm.id = $1) = 'guest' \
    THEN (SELECT 1 FROM space_members vsm WHERE vsm.space_id = sp.id AND vsm.member_id = $1) END";

/// Whether viewer `$1` is among item `i`'s recipients, where it is direct.
pub(crate) const VIEWER_IS_RECIPIENT: &str = "CASE WHEN i.audience = 'direct' \
    THEN (SELECT 1 FROM item_recipients vr WHERE vr.item_id = i.id AND vr.member_id = $1) END";

columns! {
    /// Just what the visibility rule needs about item `i` for viewer `$1`
    /// (with [`ITEM_ACCESS_JOINS`]), for lists that show no item but must
    /// count only what the viewer can open; decoded by [`item_access`].
    pub(crate) struct ItemAccessCols {
        id: "i.id",
        author_id: "i.author_id",
        audience: "i.audience",
        space_id: "i.space_id",
        space_visibility: "sp.visibility",
        viewer_in_space: VIEWER_IN_SPACE,
        viewer_is_recipient: VIEWER_IS_RECIPIENT,
    }
}

pub const ITEM_ACCESS_JOINS: &str = "LEFT JOIN spaces sp ON sp.id = i.space_id";

/// An item with only the columns of [`ItemAccessCols`].
pub(crate) fn item_access(r: &mut Row, c: ItemAccessCols) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        id: Column::take(r, c.id)?,
        author_id: Column::take(r, c.author_id)?,
        audience: Column::take(r, c.audience)?,
        space_id: Column::take(r, c.space_id)?,
        space_visibility: Column::take(r, c.space_visibility)?,
        viewer_in_space: present(r, c.viewer_in_space)?,
        viewer_is_recipient: present(r, c.viewer_is_recipient)?,
        ..ItemRow::default()
    })
}

/// The Markdown source, for [`ItemCols`]' `body`: a single item's answer
/// and its edit form show it, and a notification names an untitled item by
/// the start of its text.
pub(crate) const SOURCE: &str = "i.body";
/// No Markdown source (`body` reads as empty): a stream page carries only
/// the HTML.
pub(crate) const NO_SOURCE: &str = "''";
/// The emoji viewer `$1` reacted to the item with, one probe per row, for
/// [`ItemCols`]' `viewer_reactions`.
pub(crate) const REACTIONS_INLINE: &str = "CASE WHEN i.reaction_summary <> '' \
    THEN (SELECT string_agg(vx.emoji, '\t') FROM reactions vx \
    WHERE vx.item_id = i.id AND vx.comment_id = 0 AND vx.member_id = $1) END";
/// The viewer's reactions left to a statement after the page
/// (`activities::viewer_reactions`).
pub(crate) const REACTIONS_LATER: &str = "NULL";

columns! {
    /// An item's columns for viewer `$1` (with [`ITEM_JOINS`]), decoded by
    /// [`item`]. The viewer's membership of the item's space and their
    /// being a recipient are looked up only where the visibility rule
    /// needs them: a stream page saves two index lookups per entry.
    pub(crate) struct ItemCols(body: &str, viewer_reactions: &str) {
        id: "i.id",
        kind: "i.kind",
        author_id: "i.author_id",
        author_handle: "am.handle",
        /// An imported message's sender when no member wrote it.
        author_name: "COALESCE(i.imported_from, am.display_name)",
        author_avatar: "am.avatar_version",
        audience: "i.audience",
        space_id: "i.space_id",
        space_slug: "sp.slug",
        space_name: "sp.name",
        space_visibility: "sp.visibility",
        title: "i.title",
        /// [`SOURCE`] or [`NO_SOURCE`].
        body: (body),
        body_html: "i.body_html",
        ack_requested: "i.ack_requested",
        comment_count: "i.comment_count",
        created_at: "i.created_at",
        edited_at: "i.edited_at",
        deleted_at: "i.deleted_at",
        viewer_in_space: VIEWER_IN_SPACE,
        viewer_is_recipient: VIEWER_IS_RECIPIENT,
        reaction_summary: "i.reaction_summary",
        /// [`REACTIONS_INLINE`] or [`REACTIONS_LATER`].
        viewer_reactions: (viewer_reactions),
        imported: "CASE WHEN i.imported_from IS NULL THEN NULL ELSE 1 END",
    }
}

pub const ITEM_JOINS: &str =
    "JOIN members am ON am.id = i.author_id LEFT JOIN spaces sp ON sp.id = i.space_id";

pub(crate) fn item(r: &mut Row, c: ItemCols) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        id: Column::take(r, c.id)?,
        kind: Column::take(r, c.kind)?,
        author_id: Column::take(r, c.author_id)?,
        author_handle: r.take_text(c.author_handle)?,
        author_name: r.take_text(c.author_name)?,
        author_avatar: r.i64(c.author_avatar)?,
        audience: Column::take(r, c.audience)?,
        space_id: Column::take(r, c.space_id)?,
        space_slug: r.take_opt_text(c.space_slug)?,
        space_name: r.take_opt_text(c.space_name)?,
        space_visibility: Column::take(r, c.space_visibility)?,
        title: r.take_text(c.title)?,
        body: r.take_text(c.body)?,
        body_html: r.take_text(c.body_html)?,
        ack_requested: r.bool(c.ack_requested)?,
        comment_count: r.i64(c.comment_count)?,
        created_at: r.i64(c.created_at)?,
        edited_at: r.opt_i64(c.edited_at)?,
        deleted_at: r.opt_i64(c.deleted_at)?,
        viewer_in_space: present(r, c.viewer_in_space)?,
        viewer_is_recipient: present(r, c.viewer_is_recipient)?,
        reaction_summary: r.take_text(c.reaction_summary)?,
        viewer_reactions: tab_list(r, c.viewer_reactions)?,
        topics: Vec::new(),
        recipients: Vec::new(),
        imported: present(r, c.imported)?,
    })
}

pub struct NewItem<'a> {
    pub kind: ItemKind,
    pub author_id: MemberId,
    pub audience: AudienceKind,
    pub space_id: Option<SpaceId>,
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub ack_requested: bool,
}

pub async fn insert_item(tx: &mut Tx, i: &NewItem<'_>, now: i64) -> Result<ItemId, Error> {
    tx.query_one(
        "INSERT INTO items (kind, author_id, audience, space_id, title, body, body_html, ack_requested, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        params![i.kind.as_str(), i.author_id, i.audience.as_str(), i.space_id, i.title, i.body, i.body_html, i.ack_requested, now],
    )
    .await?
    .i64(0)
    .map(ItemId)
}

pub async fn item_by_id(
    c: &mut Conn,
    viewer: MemberId,
    id: ItemId,
) -> Result<Option<ItemRow>, Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM items i {ITEM_JOINS} WHERE i.id = $2",
            ItemCols::sql(SOURCE, REACTIONS_INLINE)
        )
    });
    c.query_opt(&SQL, params![viewer, id])
        .await?
        .map(|mut r| item(&mut r, ItemCols::at(0)))
        .transpose()
}

pub async fn set_item_recipients(
    tx: &mut Tx,
    item: ItemId,
    members: &[MemberId],
) -> Result<(), Error> {
    for m in members {
        tx.execute(
            "INSERT INTO item_recipients (item_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![item, *m],
        )
        .await?;
    }
    Ok(())
}

pub async fn item_recipients(c: &mut Conn, item: ItemId) -> Result<Vec<Person>, Error> {
    let sql = format!(
        "SELECT {} FROM item_recipients r JOIN members m ON m.id = r.member_id
         WHERE r.item_id = $1 ORDER BY m.handle",
        PersonCols::sql()
    );
    c.query(&sql, params![item])
        .await?
        .into_iter()
        .map(|mut r| person(&mut r, PersonCols::at(0)))
        .collect()
}

pub async fn set_item_topics(tx: &mut Tx, item: ItemId, topics: &[String]) -> Result<(), Error> {
    tx.execute("DELETE FROM item_topics WHERE item_id = $1", params![item])
        .await?;
    for t in topics {
        tx.execute(
            "INSERT INTO item_topics (topic, item_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![t.as_str(), item],
        )
        .await?;
    }
    Ok(())
}

pub async fn item_topics(c: &mut Conn, item: ItemId) -> Result<Vec<String>, Error> {
    c.query(
        "SELECT topic FROM item_topics WHERE item_id = $1 ORDER BY topic",
        params![item],
    )
    .await?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// Saves the current text as a revision, then replaces it.
pub async fn edit_item(
    tx: &mut Tx,
    id: ItemId,
    editor: MemberId,
    title: &str,
    body: &str,
    body_html: &str,
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO item_revisions (item_id, title, body, edited_by, edited_at)
         SELECT id, title, body, $2, $3 FROM items WHERE id = $1",
        params![id, editor, now],
    )
    .await?;
    tx.execute(
        "UPDATE items SET title = $2, body = $3, body_html = $4, edited_at = $5, updated_at = $5 WHERE id = $1",
        params![id, title, body, body_html, now],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Revision {
    pub title: String,
    pub body: String,
    pub edited_by: String,
    pub edited_at: i64,
}

columns! {
    struct RevisionCols => Revision {
        title: "r.title",
        body: "r.body",
        edited_by: "m.handle",
        edited_at: "r.edited_at",
    }
}

pub async fn item_revisions(c: &mut Conn, item: ItemId) -> Result<Vec<Revision>, Error> {
    let sql = format!(
        "SELECT {} FROM item_revisions r JOIN members m ON m.id = r.edited_by
         WHERE r.item_id = $1 ORDER BY r.id DESC",
        RevisionCols::sql()
    );
    c.query(&sql, params![item])
        .await?
        .into_iter()
        .map(|mut r| RevisionCols::at(0).decode(&mut r))
        .collect()
}

/// Tombstones an item: its text goes, the thread stays.
pub async fn delete_item(tx: &mut Tx, id: ItemId, now: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE items SET deleted_at = $2, updated_at = $2, title = '', body = '', body_html = '' WHERE id = $1",
        params![id, now],
    )
    .await?;
    tx.execute("DELETE FROM item_topics WHERE item_id = $1", params![id])
        .await?;
    tx.execute("DELETE FROM item_revisions WHERE item_id = $1", params![id])
        .await?;
    Ok(())
}

/// Items' Markdown source by id (ids not there are left out): for labels
/// of untitled items on pages whose rows carry only the HTML.
pub async fn bodies(c: &mut Conn, ids: &[ItemId]) -> Result<Vec<(ItemId, String)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (marks, values) = crate::rows::in_list(1, ids);
    let sql = format!("SELECT id, body FROM items WHERE id IN ({marks})");
    c.query(&sql, &values)
        .await?
        .into_iter()
        .map(|mut r| Ok((ItemId(r.i64(0)?), r.take_text(1)?)))
        .collect()
}
