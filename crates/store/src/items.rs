//! Items: the row every item read decodes and its columns, and an item's
//! recipients, topics and revisions.
//!
//! Queries narrow candidates; whether a viewer may see an item is decided by
//! `domain::social::can_see` on the facts these queries return
//! (`ItemRow::access`).

use domain::Role;
use domain::social::{Access, Audience, SpaceVisibility};

use crate::rows::{Person, person, space_visibility};
use crate::{Conn, Error, Row, Tx, params};

/// An item with what the visibility rule needs to know about one viewer.
#[derive(Debug, Clone, Default)]
pub struct ItemRow {
    pub id: i64,
    pub kind: String,
    pub author_id: i64,
    pub author_handle: String,
    pub author_name: String,
    pub author_avatar: i64,
    pub audience: String,
    pub space_id: Option<i64>,
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
}

impl ItemRow {
    pub fn audience(&self) -> Audience {
        match (self.audience.as_str(), self.space_visibility) {
            ("space", Some(v)) => Audience::Space(v),
            ("profile", _) => Audience::Profile,
            _ => Audience::Direct,
        }
    }

    /// The facts for `domain::social::can_see`.
    pub fn access(&self, viewer_id: i64, viewer_role: Role, viewer_active: bool) -> Access {
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

/// Whether viewer `$1` belongs to item `i`'s space, where the visibility
/// rule asks (see [`item_cols`]), and whether they are among its
/// recipients, where it is direct: two columns.
macro_rules! viewer_access {
    () => {
        "CASE WHEN sp.visibility <> 'open' OR (SELECT vm.role FROM members vm WHERE vm.id = $1) = 'guest' \
      THEN (SELECT 1 FROM space_members vsm WHERE vsm.space_id = sp.id AND vsm.member_id = $1) END, \
    CASE WHEN i.audience = 'direct' \
      THEN (SELECT 1 FROM item_recipients vr WHERE vr.item_id = i.id AND vr.member_id = $1) END"
    };
}
pub(crate) use viewer_access;

/// Just what the visibility rule needs about item `i` for viewer `$1`
/// (with [`ITEM_ACCESS_JOINS`]), for lists that show no item but must
/// count only what the viewer can open; decoded by [`item_access`].
pub const ITEM_ACCESS_COLS: &str = concat!(
    "i.id, i.author_id, i.audience, i.space_id, sp.visibility, ",
    viewer_access!()
);

/// How many columns [`ITEM_ACCESS_COLS`] has.
pub const ITEM_ACCESS_NCOLS: usize = 7;

pub const ITEM_ACCESS_JOINS: &str = "LEFT JOIN spaces sp ON sp.id = i.space_id";

/// An item with only the columns of [`ITEM_ACCESS_COLS`] from `at`.
pub fn item_access(r: &Row, at: usize) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        id: r.i64(at)?,
        author_id: r.i64(at + 1)?,
        audience: r.text(at + 2)?,
        space_id: r.opt_i64(at + 3)?,
        space_visibility: r
            .opt_text(at + 4)?
            .map(|v| SpaceVisibility::parse(&v))
            .transpose()
            .map_err(|e| Error::Decode(e.to_string()))?,
        viewer_in_space: r.opt_i64(at + 5)?.is_some(),
        viewer_is_recipient: r.opt_i64(at + 6)?.is_some(),
        ..ItemRow::default()
    })
}

/// Item columns; `$1` is the viewer. 22 columns starting at the offset.
///
/// The viewer's membership of the item's space is looked up only where the
/// visibility rule needs it (closed and secret spaces, and guests, who see
/// open spaces only as members), and recipients only for direct items: a
/// stream page saves two index lookups per entry. The viewer's role comes
/// from an uncorrelated subquery, evaluated once per statement.
///
/// `$body` is the Markdown source's column; the last column is the emoji
/// the viewer reacted with: `inline` reads them with one probe per row,
/// `later` leaves them to `viewer_reactions` (in `activities`).
macro_rules! item_cols {
    ($body:literal, inline) => {
        item_cols!(
            $body,
            "CASE WHEN i.reaction_summary <> '' THEN (SELECT string_agg(vx.emoji, '\t') FROM reactions vx \
              WHERE vx.item_id = i.id AND vx.comment_id = 0 AND vx.member_id = $1) END"
        )
    };
    ($body:literal, later) => {
        item_cols!($body, "NULL")
    };
    ($body:literal, $viewer_reactions:literal) => {
        concat!(
            "i.id, i.kind, i.author_id, am.handle, am.display_name, am.avatar_version, \
    i.audience, i.space_id, sp.slug, sp.name, sp.visibility, i.title, ",
            $body,
            ", i.body_html, \
    i.ack_requested, i.comment_count, i.created_at, i.edited_at, i.deleted_at, ",
            viewer_access!(),
            ", i.reaction_summary, ",
            $viewer_reactions
        )
    };
}
pub(crate) use item_cols;

/// An item's columns for viewer `$1`, with the emoji the viewer reacted to
/// it with.
pub const ITEM_COLS: &str = item_cols!("i.body", inline);

pub const ITEM_JOINS: &str =
    "JOIN members am ON am.id = i.author_id LEFT JOIN spaces sp ON sp.id = i.space_id";

pub(crate) const ITEM_NCOLS: usize = 23;

pub(crate) fn item(r: &mut Row, at: usize) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        id: r.i64(at)?,
        kind: r.take_text(at + 1)?,
        author_id: r.i64(at + 2)?,
        author_handle: r.take_text(at + 3)?,
        author_name: r.take_text(at + 4)?,
        author_avatar: r.i64(at + 5)?,
        audience: r.take_text(at + 6)?,
        space_id: r.opt_i64(at + 7)?,
        space_slug: r.take_opt_text(at + 8)?,
        space_name: r.take_opt_text(at + 9)?,
        space_visibility: space_visibility(r, at + 10)?,
        title: r.take_text(at + 11)?,
        body: r.take_text(at + 12)?,
        body_html: r.take_text(at + 13)?,
        ack_requested: r.bool(at + 14)?,
        comment_count: r.i64(at + 15)?,
        created_at: r.i64(at + 16)?,
        edited_at: r.opt_i64(at + 17)?,
        deleted_at: r.opt_i64(at + 18)?,
        viewer_in_space: r.opt_i64(at + 19)?.is_some(),
        viewer_is_recipient: r.opt_i64(at + 20)?.is_some(),
        reaction_summary: r.take_text(at + 21)?,
        viewer_reactions: r
            .take_opt_text(at + 22)?
            .map(|s| s.split('\t').map(str::to_owned).collect())
            .unwrap_or_default(),
        topics: Vec::new(),
        recipients: Vec::new(),
    })
}

pub struct NewItem<'a> {
    pub kind: &'a str,
    pub author_id: i64,
    pub audience: &'a str,
    pub space_id: Option<i64>,
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub ack_requested: bool,
}

pub async fn insert_item(tx: &mut Tx, i: &NewItem<'_>, now: i64) -> Result<i64, Error> {
    tx.query_one(
        "INSERT INTO items (kind, author_id, audience, space_id, title, body, body_html, ack_requested, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
        params![i.kind, i.author_id, i.audience, i.space_id, i.title, i.body, i.body_html, i.ack_requested, now],
    )
    .await?
    .i64(0)
}

pub async fn item_by_id(c: &mut Conn, viewer: i64, id: i64) -> Result<Option<ItemRow>, Error> {
    let sql = format!("SELECT {ITEM_COLS} FROM items i {ITEM_JOINS} WHERE i.id = $2");
    c.query_opt(&sql, params![viewer, id])
        .await?
        .map(|mut r| item(&mut r, 0))
        .transpose()
}

pub async fn set_item_recipients(tx: &mut Tx, item: i64, members: &[i64]) -> Result<(), Error> {
    for m in members {
        tx.execute(
            "INSERT INTO item_recipients (item_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![item, *m],
        )
        .await?;
    }
    Ok(())
}

pub async fn item_recipients(c: &mut Conn, item: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL
         FROM item_recipients r JOIN members m ON m.id = r.member_id WHERE r.item_id = $1 ORDER BY m.handle",
        params![item],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

pub async fn set_item_topics(tx: &mut Tx, item: i64, topics: &[String]) -> Result<(), Error> {
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

pub async fn item_topics(c: &mut Conn, item: i64) -> Result<Vec<String>, Error> {
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
    id: i64,
    editor: i64,
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

pub async fn item_revisions(c: &mut Conn, item: i64) -> Result<Vec<Revision>, Error> {
    c.query(
        "SELECT r.title, r.body, m.handle, r.edited_at FROM item_revisions r JOIN members m ON m.id = r.edited_by
         WHERE r.item_id = $1 ORDER BY r.id DESC",
        params![item],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Revision {
            title: r.text(0)?,
            body: r.text(1)?,
            edited_by: r.text(2)?,
            edited_at: r.i64(3)?,
        })
    })
    .collect()
}

/// Tombstones an item: its text goes, the thread stays.
pub async fn delete_item(tx: &mut Tx, id: i64, now: i64) -> Result<(), Error> {
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
