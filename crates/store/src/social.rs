//! Spaces, items, comments, reactions, follows, the activity stream, home
//! inboxes and notifications.
//!
//! Queries here narrow candidates; whether a viewer may see an item is
//! decided by `domain::social::can_see` on the facts these queries return
//! (`ItemRow::access`).

use std::collections::HashSet;

use domain::Role;
use domain::social::{Access, Audience, SpaceVisibility};

use crate::{Conn, Error, Kind, Row, Tx, params};

// ---- spaces ----

#[derive(Debug, Clone)]
pub struct Space {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: SpaceVisibility,
    pub created_by: i64,
    pub member_count: i64,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    /// The viewer's role in the space, if they belong: "admin" or "member".
    pub viewer_role: Option<String>,
    /// The viewer has asked to join.
    pub viewer_requested: bool,
}

const SPACE_COLS: &str = "s.id, s.slug, s.name, s.description, s.visibility, s.created_by, \
    s.member_count, s.archived_at, s.created_at, \
    (SELECT sm.role FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1), \
    (SELECT 1 FROM space_requests sr WHERE sr.space_id = s.id AND sr.member_id = $1)";

fn space(r: &Row) -> Result<Space, Error> {
    Ok(Space {
        id: r.i64(0)?,
        slug: r.text(1)?,
        name: r.text(2)?,
        description: r.text(3)?,
        visibility: SpaceVisibility::parse(&r.text(4)?)
            .map_err(|e| Error::Decode(e.to_string()))?,
        created_by: r.i64(5)?,
        member_count: r.i64(6)?,
        archived_at: r.opt_i64(7)?,
        created_at: r.i64(8)?,
        viewer_role: r.opt_text(9)?,
        viewer_requested: r.opt_i64(10)?.is_some(),
    })
}

pub struct NewSpace<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: SpaceVisibility,
    pub created_by: i64,
}

pub async fn insert_space(tx: &mut Tx, s: &NewSpace<'_>, now: i64) -> Result<i64, Error> {
    tx.query_one(
        "INSERT INTO spaces (slug, name, description, visibility, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        params![s.slug, s.name, s.description, s.visibility.as_str(), s.created_by, now],
    )
    .await?
    .i64(0)
}

pub async fn space_by_slug(c: &mut Conn, viewer: i64, slug: &str) -> Result<Option<Space>, Error> {
    let sql = format!("SELECT {SPACE_COLS} FROM spaces s WHERE s.slug = $2");
    c.query_opt(&sql, params![viewer, slug.to_lowercase()])
        .await?
        .as_ref()
        .map(space)
        .transpose()
}

pub async fn space_by_id(c: &mut Conn, viewer: i64, id: i64) -> Result<Option<Space>, Error> {
    let sql = format!("SELECT {SPACE_COLS} FROM spaces s WHERE s.id = $2");
    c.query_opt(&sql, params![viewer, id])
        .await?
        .as_ref()
        .map(space)
        .transpose()
}

/// Spaces the viewer may know exist, by name after `after`: open and
/// closed ones (for non-guests) and those they belong to.
pub async fn list_spaces(
    c: &mut Conn,
    viewer: i64,
    guest: bool,
    only_mine: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let sql = format!(
        "SELECT {SPACE_COLS} FROM spaces s
         WHERE s.slug > $2 AND s.archived_at IS NULL
           AND (EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)
                OR ($3 = 0 AND $4 = 0 AND s.visibility <> 'secret'))
         ORDER BY s.slug LIMIT $5"
    );
    c.query(&sql, params![viewer, after, guest, only_mine, limit])
        .await?
        .iter()
        .map(space)
        .collect()
}

pub async fn update_space(
    tx: &mut Tx,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
    visibility: Option<SpaceVisibility>,
    archived: Option<Option<i64>>,
    now: i64,
) -> Result<(), Error> {
    let (set_archived, archived_at) = match archived {
        Some(v) => (1, v),
        None => (0, None),
    };
    tx.execute(
        "UPDATE spaces SET name = COALESCE($2, name), description = COALESCE($3, description),
            visibility = COALESCE($4, visibility),
            archived_at = CASE WHEN $5 = 1 THEN $6 ELSE archived_at END, updated_at = $7
         WHERE id = $1",
        params![
            id,
            name,
            description,
            visibility.map(|v| v.as_str()),
            set_archived,
            archived_at,
            now
        ],
    )
    .await?;
    Ok(())
}

/// Adds (or re-roles) a member; returns true when they were not in yet.
pub async fn add_space_member(
    tx: &mut Tx,
    space: i64,
    member: i64,
    role: &str,
    now: i64,
) -> Result<bool, Error> {
    let existing = tx
        .query_opt(
            "SELECT role FROM space_members WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    tx.execute(
        "DELETE FROM space_requests WHERE space_id = $1 AND member_id = $2",
        params![space, member],
    )
    .await?;
    if existing.is_some() {
        tx.execute(
            "UPDATE space_members SET role = $3 WHERE space_id = $1 AND member_id = $2",
            params![space, member, role],
        )
        .await?;
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO space_members (space_id, member_id, role, joined_at) VALUES ($1, $2, $3, $4)",
        params![space, member, role, now],
    )
    .await?;
    tx.execute(
        "UPDATE spaces SET member_count = member_count + 1 WHERE id = $1",
        params![space],
    )
    .await?;
    Ok(true)
}

pub async fn remove_space_member(tx: &mut Tx, space: i64, member: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM space_members WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    if n == 1 {
        tx.execute(
            "UPDATE spaces SET member_count = member_count - 1 WHERE id = $1",
            params![space],
        )
        .await?;
    }
    Ok(n == 1)
}

pub async fn space_admin_count(c: &mut Conn, space: i64) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM space_members WHERE space_id = $1 AND role = 'admin'",
        params![space],
    )
    .await?
    .i64(0)
}

pub async fn space_admins(c: &mut Conn, space: i64) -> Result<Vec<i64>, Error> {
    c.query(
        "SELECT member_id FROM space_members WHERE space_id = $1 AND role = 'admin'",
        params![space],
    )
    .await?
    .iter()
    .map(|r| r.i64(0))
    .collect()
}

/// A person in a list: id, handle, name, avatar version, plus a role or
/// level when the list has one.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub avatar_version: i64,
    pub extra: String,
}

impl From<&crate::accounts::Member> for Person {
    fn from(m: &crate::accounts::Member) -> Person {
        Person {
            id: m.id,
            handle: m.handle.clone(),
            display_name: m.display_name.clone(),
            avatar_version: m.avatar_version,
            extra: String::new(),
        }
    }
}

fn person(r: &Row) -> Result<Person, Error> {
    Ok(Person {
        id: r.i64(0)?,
        handle: r.text(1)?,
        display_name: r.text(2)?,
        avatar_version: r.i64(3)?,
        extra: r.opt_text(4)?.unwrap_or_default(),
    })
}

pub async fn space_members(
    c: &mut Conn,
    space: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, sm.role
         FROM space_members sm JOIN members m ON m.id = sm.member_id
         WHERE sm.space_id = $1 AND m.handle > $2 ORDER BY m.handle LIMIT $3",
        params![space, after, limit],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

pub async fn put_join_request(
    tx: &mut Tx,
    space: i64,
    member: i64,
    message: &str,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO space_requests (space_id, member_id, message, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (space_id, member_id) DO NOTHING",
            params![space, member, message, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn take_join_request(tx: &mut Tx, space: i64, member: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM space_requests WHERE space_id = $1 AND member_id = $2",
            params![space, member],
        )
        .await?;
    Ok(n == 1)
}

pub async fn join_requests(c: &mut Conn, space: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, r.message
         FROM space_requests r JOIN members m ON m.id = r.member_id
         WHERE r.space_id = $1 ORDER BY r.created_at",
        params![space],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

/// Ids of the spaces a member belongs to.
pub async fn member_space_ids(c: &mut Conn, member: i64) -> Result<Vec<i64>, Error> {
    c.query(
        "SELECT space_id FROM space_members WHERE member_id = $1",
        params![member],
    )
    .await?
    .iter()
    .map(|r| r.i64(0))
    .collect()
}

// ---- items ----

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
    /// The Markdown source; empty in stream entries, which carry only the HTML.
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
    /// Its topics, by name; filled by [`add_topics_and_recipients`] (stream
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
/// `later` leaves them to [`viewer_reactions`].
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

/// An item's columns for viewer `$1`, with the emoji the viewer reacted to
/// it with.
pub const ITEM_COLS: &str = item_cols!("i.body", inline);
/// A stream page's item columns: as [`ITEM_COLS`], but without the
/// Markdown source (`body` reads as empty), which only a single item's
/// answer and its edit form show; a page carries the HTML.
const PAGE_ITEM_COLS: &str = item_cols!("''", inline);
/// A page's item columns without the viewer's reactions, which
/// [`viewer_reactions`] then reads for a whole page at once.
const PAGE_ITEM_COLS_LATER_REACTIONS: &str = item_cols!("''", later);

/// Whether a page reads what is the viewer's own (their reactions, their
/// mutes) in statements of its own after the page, or in the page
/// statement. On SQLite a statement costs no round trip, and one range
/// read of the viewer's reactions is cheaper than a probe per row; on
/// PostgreSQL each statement is a round trip.
fn viewer_reads_after(kind: Kind) -> bool {
    kind == Kind::Sqlite
}

/// The item columns for a page of rows (see [`viewer_reads_after`]).
fn item_cols_for_page(after: bool) -> &'static str {
    if after {
        PAGE_ITEM_COLS_LATER_REACTIONS
    } else {
        PAGE_ITEM_COLS
    }
}

/// A page's rows decoded with `decode` ([`activity`] for rows read with
/// [`item_cols_for_page`], [`brief_activity`] for [`BRIEF_COLS`]), with the
/// viewer's reactions read after where the statement left them out.
async fn page_rows(
    c: &mut Conn,
    viewer: i64,
    rows: Vec<Row>,
    (decode, seq_col): (Decode, Option<usize>),
    after: bool,
) -> Result<Vec<ActivityRow>, Error> {
    let mut rows = rows
        .into_iter()
        .map(|mut r| decode(&mut r, seq_col))
        .collect::<Result<Vec<_>, _>>()?;
    if after {
        viewer_reactions(c, viewer, &mut rows).await?;
    }
    Ok(rows)
}

/// Fills in the viewer's own reactions on the items of `rows` (those with
/// reactions at all), in one range read of the viewer's reactions.
async fn viewer_reactions(
    c: &mut Conn,
    viewer: i64,
    rows: &mut [ActivityRow],
) -> Result<(), Error> {
    let ids = rows
        .iter()
        .filter_map(|r| r.item.as_ref())
        .filter(|i| !i.reaction_summary.is_empty())
        .map(|i| i.id);
    let (Some(lo), Some(hi)) = (ids.clone().min(), ids.max()) else {
        return Ok(());
    };
    let mine = c
        .query(
            "SELECT item_id, emoji FROM reactions
             WHERE member_id = $1 AND item_id >= $2 AND item_id <= $3 AND comment_id = 0",
            params![viewer, lo, hi],
        )
        .await?;
    for r in &mine {
        let (item, emoji) = (r.i64(0)?, r.text(1)?);
        for i in rows.iter_mut().filter_map(|r| r.item.as_mut()) {
            if i.id == item {
                i.viewer_reactions.push(emoji.clone());
            }
        }
    }
    Ok(())
}

pub const ITEM_JOINS: &str =
    "JOIN members am ON am.id = i.author_id LEFT JOIN spaces sp ON sp.id = i.space_id";
const ITEM_NCOLS: usize = 23;

/// A stream row's decoder: the row, and the column of its delivery
/// position, if any.
type Decode = fn(&mut Row, Option<usize>) -> Result<ActivityRow, Error>;

/// A space's visibility from column `at` (NULL where there is no space).
fn space_visibility(r: &mut Row, at: usize) -> Result<Option<SpaceVisibility>, Error> {
    r.take_opt_text(at)?
        .map(|v| SpaceVisibility::parse(&v))
        .transpose()
        .map_err(|e| Error::Decode(e.to_string()))
}

/// The delivery position from `seq_col` (home), or 0.
fn seq(r: &Row, seq_col: Option<usize>) -> Result<i64, Error> {
    seq_col.map_or(Ok(0), |c| r.i64(c))
}

fn item(r: &mut Row, at: usize) -> Result<ItemRow, Error> {
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

/// Fills the topics and the direct recipients of the items of `rows` (a
/// stream page) in one statement for them all, whatever their number.
pub async fn add_topics_and_recipients(
    c: &mut Conn,
    rows: &mut [ActivityRow],
) -> Result<(), Error> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.item.as_ref())
        .map(|i| i.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let (marks, values) = in_list(1, &ids);
    // Topics (kind 0) by name, then recipients (kind 1) by handle.
    let sql = format!(
        "SELECT t.item_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), t.topic, CAST(NULL AS TEXT), CAST(0 AS BIGINT)
         FROM item_topics t WHERE t.item_id IN ({marks})
         UNION ALL
         SELECT r.item_id, CAST(1 AS BIGINT), m.id, m.handle, m.display_name, m.avatar_version
         FROM item_recipients r JOIN members m ON m.id = r.member_id WHERE r.item_id IN ({marks})
         ORDER BY 1, 2, 4"
    );
    let found = c.query(&sql, &values).await?;
    let mut by_item: std::collections::HashMap<i64, (Vec<String>, Vec<Person>)> =
        std::collections::HashMap::new();
    for r in &found {
        let entry = by_item.entry(r.i64(0)?).or_default();
        if r.i64(1)? == 0 {
            entry.0.push(r.text(3)?);
        } else {
            entry.1.push(Person {
                id: r.i64(2)?,
                handle: r.text(3)?,
                display_name: r.opt_text(4)?.unwrap_or_default(),
                avatar_version: r.i64(5)?,
                extra: String::new(),
            });
        }
    }
    for item in rows.iter_mut().filter_map(|r| r.item.as_mut()) {
        if let Some((topics, recipients)) = by_item.get(&item.id) {
            item.topics = topics.clone();
            item.recipients = recipients.clone();
        }
    }
    Ok(())
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

// ---- comments and reactions ----

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

pub async fn add_reaction(
    tx: &mut Tx,
    item: i64,
    comment: i64,
    member: i64,
    emoji: &str,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO reactions (item_id, comment_id, member_id, emoji, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            params![item, comment, member, emoji, now],
        )
        .await?;
    if n == 1 && comment == 0 {
        summarise_reactions(tx, item).await?;
    }
    Ok(n == 1)
}

/// Rewrites an item's `reaction_summary` from its reactions.
async fn summarise_reactions(tx: &mut Tx, item: i64) -> Result<(), Error> {
    let rows = tx
        .query(
            "SELECT emoji, COUNT(*) FROM reactions WHERE item_id = $1 AND comment_id = 0
             GROUP BY emoji ORDER BY MIN(created_at), emoji",
            params![item],
        )
        .await?;
    let mut summary = String::new();
    for r in &rows {
        if !summary.is_empty() {
            summary.push('\n');
        }
        summary.push_str(&format!("{}\t{}", r.text(0)?, r.i64(1)?));
    }
    tx.execute_counts(
        "UPDATE items SET reaction_summary = $2 WHERE id = $1",
        params![item, summary],
    )
    .await?;
    Ok(())
}

/// Fills every item's `reaction_summary` from the reactions table (after a
/// bulk load; the write path keeps it current otherwise).
pub async fn summarise_all_reactions(tx: &mut Tx) -> Result<(), Error> {
    let sql = match tx.kind() {
        Kind::Sqlite => {
            "UPDATE items SET reaction_summary = (
                 SELECT group_concat(emoji || char(9) || n, char(10) ORDER BY first, emoji)
                 FROM (SELECT emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions r
                       WHERE r.item_id = items.id AND r.comment_id = 0 GROUP BY emoji))
             WHERE id IN (SELECT item_id FROM reactions WHERE comment_id = 0)"
        }
        Kind::Postgres => {
            "UPDATE items SET reaction_summary = s.summary
             FROM (SELECT item_id, string_agg(emoji || E'\\t' || n, E'\\n' ORDER BY first, emoji) AS summary
                   FROM (SELECT item_id, emoji, COUNT(*) AS n, MIN(created_at) AS first FROM reactions
                         WHERE comment_id = 0 GROUP BY item_id, emoji) g
                   GROUP BY item_id) s
             WHERE items.id = s.item_id"
        }
    };
    tx.batch(sql).await
}

/// Reaction counts of items from their summaries, with whether the viewer
/// gave each: (item, 0, emoji, count, viewer reacted), the shape of
/// [`reaction_counts`]. The item rows carry both, so nothing is counted or
/// read again.
pub fn item_reactions(items: &[&ItemRow]) -> Result<Vec<ReactionCount>, Error> {
    let mut out = Vec::new();
    for i in items {
        for line in i.reaction_summary.lines() {
            let Some((emoji, n)) = line.split_once('\t') else {
                continue;
            };
            let n: i64 = n
                .parse()
                .map_err(|_| Error::Decode(format!("reaction summary of item {}", i.id)))?;
            let me = i.viewer_reactions.iter().any(|e| e == emoji);
            out.push((i.id, 0, emoji.to_owned(), n, me));
        }
    }
    Ok(out)
}

pub async fn remove_reaction(
    tx: &mut Tx,
    item: i64,
    comment: i64,
    member: i64,
    emoji: &str,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM reactions WHERE item_id = $1 AND comment_id = $2 AND member_id = $3 AND emoji = $4",
            params![item, comment, member, emoji],
        )
        .await?;
    if n == 1 && comment == 0 {
        summarise_reactions(tx, item).await?;
    }
    Ok(n == 1)
}

/// A reaction count: (item, comment — 0 for the item itself —, emoji,
/// count, whether the viewer gave it).
pub type ReactionCount = (i64, i64, String, i64, bool);

/// The counts on one item (`comment` 0) or one of its comments, in order:
/// (emoji, count, whether the viewer gave it).
pub fn reactions_on(
    all: &[ReactionCount],
    item: i64,
    comment: i64,
) -> impl Iterator<Item = (&str, i64, bool)> {
    all.iter()
        .filter(move |r| r.0 == item && r.1 == comment)
        .map(|r| (r.2.as_str(), r.3, r.4))
}

/// Reaction counts for items (comment 0) and their comments:
/// (item, comment, emoji, count, viewer reacted).
pub async fn reaction_counts(
    c: &mut Conn,
    viewer: i64,
    items: &[i64],
) -> Result<Vec<ReactionCount>, Error> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let (marks, ids) = in_list(2, items);
    let sql = format!(
        "SELECT item_id, comment_id, emoji, COUNT(*), MAX(CASE WHEN member_id = $1 THEN 1 ELSE 0 END)
         FROM reactions WHERE item_id IN ({marks}) GROUP BY item_id, comment_id, emoji ORDER BY MIN(created_at)"
    );
    c.query(&sql, &with(params![viewer].to_vec(), ids))
        .await?
        .iter()
        .map(|r| Ok((r.i64(0)?, r.i64(1)?, r.text(2)?, r.i64(3)?, r.i64(4)? != 0)))
        .collect()
}

/// Placeholders `$first, $first+1, …` for `IN (…)` and their values. The
/// list is padded (repeating the last id) to one of a few sizes, so each
/// query has a handful of shapes that stay in the prepared-statement cache
/// instead of a new statement to parse for every distinct list.
fn in_list(first: usize, ids: &[i64]) -> (String, Vec<crate::Value>) {
    let size = [8usize, 32, 128]
        .into_iter()
        .find(|s| *s >= ids.len())
        .unwrap_or(ids.len());
    let last = ids.last().copied().unwrap_or(-1);
    let values: Vec<crate::Value> = ids
        .iter()
        .copied()
        .chain(std::iter::repeat(last))
        .take(size)
        .map(crate::Value::Int)
        .collect();
    let marks = (first..first + size)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    (marks, values)
}

fn with(mut head: Vec<crate::Value>, tail: Vec<crate::Value>) -> Vec<crate::Value> {
    head.extend(tail);
    head
}

// ---- follows ----

pub async fn put_follow(
    tx: &mut Tx,
    member: i64,
    target_type: &str,
    target: &str,
    level: &str,
    now: i64,
) -> Result<bool, Error> {
    let existed = tx
        .query_opt(
            "SELECT level FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
            params![member, target_type, target],
        )
        .await?;
    tx.execute(
        "INSERT INTO follows (member_id, target_type, target, level, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (member_id, target_type, target) DO UPDATE SET level = excluded.level",
        params![member, target_type, target, level, now],
    )
    .await?;
    Ok(existed.is_none())
}

/// Follows only if there is no follow yet (auto-follow never overrides a
/// choice, such as a mute).
pub async fn auto_follow(
    tx: &mut Tx,
    member: i64,
    target_type: &str,
    target: &str,
    level: &str,
    now: i64,
) -> Result<(), Error> {
    tx.execute_later(
        "INSERT INTO follows (member_id, target_type, target, level, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (member_id, target_type, target) DO NOTHING",
        params![member, target_type, target, level, now],
    )
    .await?;
    Ok(())
}

pub async fn delete_follow(
    tx: &mut Tx,
    member: i64,
    target_type: &str,
    target: &str,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "DELETE FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
            params![member, target_type, target],
        )
        .await?;
    Ok(n == 1)
}

pub async fn follow_level(
    c: &mut Conn,
    member: i64,
    target_type: &str,
    target: &str,
) -> Result<Option<String>, Error> {
    c.query_opt(
        "SELECT level FROM follows WHERE member_id = $1 AND target_type = $2 AND target = $3",
        params![member, target_type, target],
    )
    .await?
    .map(|r| r.text(0))
    .transpose()
}

/// Members following a target (not muted), in handle order.
pub async fn followers(
    c: &mut Conn,
    target_type: &str,
    target: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, f.level
         FROM follows f JOIN members m ON m.id = f.member_id
         WHERE f.target_type = $1 AND f.target = $2 AND f.level <> 'muted' AND m.handle > $3
         ORDER BY m.handle LIMIT $4",
        params![target_type, target, after, limit],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

pub async fn follower_count(c: &mut Conn, target_type: &str, target: &str) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM follows WHERE target_type = $1 AND target = $2 AND level <> 'muted'",
        params![target_type, target],
    )
    .await?
    .i64(0)
}

/// Followers of a target, counted up to `limit` (so the count stays cheap
/// for very popular targets).
pub async fn follower_count_upto(
    c: &mut Conn,
    target_type: &str,
    target: &str,
    limit: i64,
) -> Result<i64, Error> {
    Ok(follower_counts_upto(c, &[(target_type, target)], limit).await?[0])
}

/// [`follower_count_upto`] for several targets in one statement.
pub async fn follower_counts_upto(
    c: &mut Conn,
    targets: &[(&str, &str)],
    limit: i64,
) -> Result<Vec<i64>, Error> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from("SELECT ");
    let mut vals: Vec<crate::Value> = vec![limit.into()];
    for (k, (ttype, target)) in targets.iter().enumerate() {
        if k > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM follows WHERE target_type = ${} AND target = ${}
               AND level <> 'muted' LIMIT $1) x{k})",
            2 * k + 2,
            2 * k + 3
        ));
        vals.push((*ttype).into());
        vals.push((*target).into());
    }
    let row = c.query_one(&sql, &vals).await?;
    (0..targets.len()).map(|k| row.i64(k)).collect()
}

/// What a member follows: (type, target, level), newest first.
pub async fn following(
    c: &mut Conn,
    member: i64,
    limit: i64,
) -> Result<Vec<(String, String, String)>, Error> {
    c.query(
        "SELECT target_type, target, level FROM follows WHERE member_id = $1 ORDER BY created_at DESC LIMIT $2",
        params![member, limit],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
    .collect()
}

/// One page of what a member follows, newest first, before the cursor
/// `(created_at, "type:target")` of the previous page's last row: rows
/// of `(created_at, target_type, target, level)`.
pub async fn following_page(
    c: &mut Conn,
    member: i64,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<(i64, String, String, String)>, Error> {
    let (at, key) = before.unwrap_or((i64::MAX, ""));
    c.query(
        "SELECT created_at, target_type, target, level FROM follows
         WHERE member_id = $1
           AND (created_at < $2 OR (created_at = $2 AND $3 <> '' AND target_type || ':' || target < $3))
         ORDER BY created_at DESC, target_type || ':' || target DESC LIMIT $4",
        params![member, at, key, limit],
    )
    .await?
    .iter()
    .map(|r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?, r.text(3)?)))
    .collect()
}

/// Watchers of an item (level `watching`).
pub async fn item_watchers(c: &mut Conn, item: i64) -> Result<Vec<i64>, Error> {
    c.query(
        "SELECT member_id FROM follows WHERE target_type = 'item' AND target = $1 AND level = 'watching'",
        params![item.to_string()],
    )
    .await?
    .iter()
    .map(|r| r.i64(0))
    .collect()
}

// ---- activities and streams ----

pub struct NewActivity<'a> {
    pub actor_id: i64,
    pub verb: &'a str,
    pub object_type: &'a str,
    pub object_id: i64,
    pub target_type: Option<&'a str>,
    pub target_id: Option<i64>,
    pub item_id: Option<i64>,
    pub space_id: Option<i64>,
}

impl<'a> NewActivity<'a> {
    /// Something done to an item itself (updated, deleted, acknowledged, a
    /// reminder): the item is the object, with no target.
    pub fn on_item(actor_id: i64, verb: &'a str, item_id: i64, space_id: Option<i64>) -> Self {
        NewActivity {
            actor_id,
            verb,
            object_type: "item",
            object_id: item_id,
            target_type: None,
            target_id: None,
            item_id: Some(item_id),
            space_id,
        }
    }
}

/// Appends an activity. On PostgreSQL a transaction-scoped advisory lock
/// makes stream ids commit in the order they are given out, so a reader
/// that resumes "after id N" can never skip a row committed later with a
/// smaller id (SQLite's single writer gives the same order for free).
///
/// The lock is taken in the INSERT's own statement (its CTE is read before
/// the row, and so before the id, is made), once per transaction: every
/// round trip while it is held is one every other writer waits for.
pub async fn append_activity(tx: &mut Tx, a: &NewActivity<'_>, now: i64) -> Result<i64, Error> {
    let sql = if tx.kind() == Kind::Postgres && tx.first_stream_lock() {
        "WITH stream_lock AS (SELECT pg_advisory_xact_lock(7283))
         INSERT INTO activities (actor_id, verb, object_type, object_id, target_type, target_id, item_id, space_id, published)
         SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT), CAST($5 AS TEXT),
                CAST($6 AS BIGINT), CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS BIGINT)
         FROM stream_lock RETURNING id"
    } else {
        "INSERT INTO activities (actor_id, verb, object_type, object_id, target_type, target_id, item_id, space_id, published)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    };
    let id = tx
        .query_one(
            sql,
            params![
                a.actor_id,
                a.verb,
                a.object_type,
                a.object_id,
                a.target_type,
                a.target_id,
                a.item_id,
                a.space_id,
                now
            ],
        )
        .await?
        .i64(0)?;
    tx.note_activity(id);
    Ok(id)
}

/// The newest stream position.
pub async fn stream_position(c: &mut Conn) -> Result<i64, Error> {
    c.query_one("SELECT COALESCE(MAX(id), 0) FROM activities", params![])
        .await?
        .i64(0)
}

/// Followers the background worker delivers per transaction: small enough
/// that other writers wait at most some tens of milliseconds for it.
pub const FANOUT_BATCH: i64 = 1_000;

/// The next delivery position. Like `append_activity`, this serialises
/// delivering transactions on PostgreSQL so positions commit in order.
pub async fn next_delivery(tx: &mut Tx) -> Result<i64, Error> {
    if tx.kind() == Kind::Postgres && tx.first_stream_lock() {
        tx.execute("SELECT pg_advisory_xact_lock(7283)", params![])
            .await?;
    }
    tx.query_one(
        "UPDATE counters SET value = value + 1 WHERE name = 'delivery' RETURNING value",
        params![],
    )
    .await?
    .i64(0)
}

/// The SQL condition that keeps fan-out to members the item's audience
/// admits (`f.member_id` is the candidate, `$2` the space, `$3` the item,
/// `$4` the author). The read path applies the visibility rule again.
fn audience_filter(audience: Audience) -> &'static str {
    // Open spaces and profiles need no filter: a guest can only follow
    // spaces they belong to, and the read path drops profile posts for
    // guests. Closed and secret spaces can be followed without joining.
    match audience {
        Audience::Space(SpaceVisibility::Open) | Audience::Profile => {
            "AND CAST($2 AS BIGINT) = CAST($2 AS BIGINT) AND CAST($3 AS BIGINT) = CAST($3 AS BIGINT)
             AND CAST($4 AS BIGINT) = CAST($4 AS BIGINT)"
        }
        Audience::Space(_) => {
            "AND EXISTS (SELECT 1 FROM space_members fs WHERE fs.space_id = $2 AND fs.member_id = f.member_id)
             AND CAST($3 AS BIGINT) = CAST($3 AS BIGINT) AND CAST($4 AS BIGINT) = CAST($4 AS BIGINT)"
        }
        Audience::Direct => {
            "AND (EXISTS (SELECT 1 FROM item_recipients fr WHERE fr.item_id = $3 AND fr.member_id = f.member_id)
                  OR f.member_id = $4) AND CAST($2 AS BIGINT) = CAST($2 AS BIGINT)"
        }
    }
}

/// Whether deliveries go to the log and memory first (SQLite, one
/// process; see `db::recent`) or straight into `inbox` (PostgreSQL).
fn logs_deliveries(kind: Kind) -> bool {
    kind == Kind::Sqlite
}

/// Delivers followers of one target, after `after_member`, up to `limit`;
/// returns the members delivered to (in member order) and the last member
/// looked at, or None when the target is exhausted (always None when not
/// `paged`: a delivery in one go has no next page to look for). On SQLite
/// this only chooses the members; the caller logs them ([`log_delivery`]).
async fn deliver_target(
    tx: &mut Tx,
    (activity, seq): (i64, i64),
    item: &ItemRow,
    (target_type, target): (&str, &str),
    (after_member, limit, paged): (i64, i64, bool),
) -> Result<(Vec<i64>, Option<i64>), Error> {
    let filter = audience_filter(item.audience());
    let select = format!(
        "SELECT f.member_id, CAST($1 AS BIGINT), CAST($5 AS BIGINT) FROM follows f
         WHERE f.target_type = $6 AND f.target = $7 AND f.member_id > $8 AND f.level <> 'muted' {filter}
           AND f.member_id <= (SELECT COALESCE(MAX(x.member_id), $8) FROM
                 (SELECT member_id FROM follows WHERE target_type = $6 AND target = $7 AND member_id > $8
                  ORDER BY member_id LIMIT $9) x)"
    );
    let sql = if logs_deliveries(tx.kind()) {
        format!("{select} ORDER BY f.member_id")
    } else {
        format!(
            "INSERT INTO inbox (member_id, activity_id, seq)
             {select}
             ON CONFLICT DO NOTHING
             RETURNING member_id"
        )
    };
    let rows = tx
        .query(
            &sql,
            params![
                activity,
                item.space_id.unwrap_or(0),
                item.id,
                item.author_id,
                seq,
                target_type,
                target,
                after_member,
                limit
            ],
        )
        .await?;
    let delivered: Vec<i64> = rows.iter().map(|r| r.i64(0)).collect::<Result<_, _>>()?;
    if !paged {
        return Ok((delivered, None));
    }
    let last = tx
        .query_one(
            "SELECT COALESCE(MAX(x.member_id), -1) FROM
               (SELECT member_id FROM follows WHERE target_type = $1 AND target = $2 AND member_id > $3
                ORDER BY member_id LIMIT $4) x",
            params![target_type, target, after_member, limit],
        )
        .await?
        .i64(0)?;
    Ok((delivered, (last >= 0).then_some(last)))
}

/// SQLite: appends one delivery to the log, for memory once the
/// transaction commits; `members` repeat-free.
async fn log_delivery(
    tx: &mut Tx,
    (activity, seq): (i64, i64),
    members: Vec<i64>,
) -> Result<(), Error> {
    if members.is_empty() {
        return Ok(());
    }
    tx.execute_later(
        "INSERT INTO deliveries (seq, activity_id, members) VALUES ($1, $2, $3)",
        params![seq, activity, crate::db::id_list(&members)],
    )
    .await?;
    tx.note_logged((seq, activity, members));
    Ok(())
}

/// Rows of ids as a JSON array of arrays, for `json_each` on SQLite.
fn json_rows<T: serde::Serialize>(rows: &[T]) -> Result<String, Error> {
    serde_json::to_string(rows).map_err(|e| Error::Db(format!("encoding rows as JSON: {e}")))
}

/// Copies the delivery log into `inbox` in member order, five hundred
/// entries per transaction so other writers wait little, then deletes the
/// log rows and forgets the entries (see `db::recent`). After each
/// transaction it rests `pace` times as long as the transaction took, so
/// the fold's burst of pages (a leaf per thousand or so members) is spread
/// out instead of taking the writer and the disk from requests. Returns the
/// entries folded. A crash part way leaves the log as it was; the next fold
/// writes the same rows again (`ON CONFLICT DO NOTHING`).
pub async fn fold_deliveries(db: &crate::Db, pace: u32) -> Result<usize, Error> {
    const CHUNK: usize = 500;
    let Some((upto, entries)) = db.recent_to_fold() else {
        return Ok(0);
    };
    for chunk in entries.chunks(CHUNK) {
        let json = json_rows(chunk)?;
        let started = std::time::Instant::now();
        let mut tx = db.write().await?;
        tx.execute(
            "INSERT INTO inbox (member_id, seq, activity_id)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
             FROM json_each($1) WHERE 1
             ON CONFLICT DO NOTHING",
            params![json],
        )
        .await?;
        tx.commit().await?;
        if pace > 0 {
            tokio::time::sleep(started.elapsed() * pace).await;
        }
    }
    let mut tx = db.write().await?;
    tx.execute("DELETE FROM deliveries WHERE seq <= $1", params![upto])
        .await?;
    tx.commit().await?;
    db.recent_folded(upto);
    Ok(entries.len())
}

/// Fans an item's activity out to home inboxes: the `extra` members (author,
/// recipients, mentioned) at once, and the followers of `targets` ("type",
/// "target") at once when there are at most `fanout_inline_max`
/// ([`crate::Options`]), else through a [`FANOUT`] job (see
/// [`fanout_step`]). `counted` is the targets' followers when the caller
/// has counted them already (each up to `fanout_inline_max + 1`). Muted
/// follows are skipped and the audience prefilter applied; the read path
/// checks visibility again.
pub async fn fan_out(
    tx: &mut Tx,
    activity: i64,
    item: &ItemRow,
    (targets, counted): (&[(&str, String)], Option<i64>),
    extra: &[i64],
    now: i64,
) -> Result<(), Error> {
    let inline_max = tx.options().fanout_inline_max;
    let total = match counted {
        Some(n) => n,
        None => {
            let mut total = 0;
            for (ttype, target) in targets {
                total += follower_count_upto(tx, ttype, target, inline_max + 1).await?;
            }
            total
        }
    };
    let seq = next_delivery(tx).await?;
    let log = logs_deliveries(tx.kind());
    let mut delivered = Vec::new();
    for m in extra {
        if log {
            delivered.push(*m);
            continue;
        }
        let n = tx
            .execute(
                "INSERT INTO inbox (member_id, activity_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                params![*m, activity, seq],
            )
            .await?;
        if n == 1 {
            delivered.push(*m);
        }
    }
    if total <= inline_max {
        for (ttype, target) in targets {
            let (d, _) = deliver_target(
                tx,
                (activity, seq),
                item,
                (ttype, target),
                (0, inline_max + 1, false),
            )
            .await?;
            delivered.extend(d);
        }
    } else {
        let job = FanoutJob {
            activity,
            item: item.id,
            targets: targets.iter().map(|(t, v)| format!("{t}:{v}")).collect(),
            next_target: 0,
            after_member: 0,
        };
        let job = crate::jobs::NewJob::new(FANOUT, &job, now)?.unique(format!("fanout:{activity}"));
        crate::jobs::enqueue(tx, &job, now).await?;
    }
    if log {
        delivered.sort_unstable();
        delivered.dedup();
    }
    tx.note_delivered(&delivered);
    if log {
        log_delivery(tx, (activity, seq), delivered).await?;
    }
    Ok(())
}

/// The kind of the jobs that deliver fan-outs too big for the posting
/// transaction.
pub const FANOUT: &str = "fanout";

/// A [`FANOUT`] job's payload: what to deliver, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutJob {
    pub activity: i64,
    pub item: i64,
    /// `type:target` each, as in `follows`.
    pub targets: Vec<String>,
    /// The target being delivered, and the last member delivered to.
    pub next_target: i64,
    pub after_member: i64,
}

/// Delivers the next batch of a fan-out job and moves its progress on;
/// the caller saves the progress in the same transaction. Returns false
/// once nothing is left (every target done, or the item gone).
pub async fn fanout_step(tx: &mut Tx, job: &mut FanoutJob) -> Result<bool, Error> {
    let targets: Vec<(String, String)> = job
        .targets
        .iter()
        .filter_map(|l| l.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect();
    let Some(item) = item_by_id(tx, 0, job.item).await? else {
        return Ok(false);
    };
    let Some((ttype, target)) = targets.get(job.next_target as usize) else {
        return Ok(false);
    };
    let seq = next_delivery(tx).await?;
    let (delivered, last) = deliver_target(
        tx,
        (job.activity, seq),
        &item,
        (ttype, target),
        (job.after_member, FANOUT_BATCH, true),
    )
    .await?;
    tx.note_delivered(&delivered);
    if logs_deliveries(tx.kind()) {
        log_delivery(tx, (job.activity, seq), delivered).await?;
    }
    match last {
        Some(l) => job.after_member = l,
        None => {
            job.next_target += 1;
            job.after_member = 0;
        }
    }
    Ok((job.next_target as usize) < targets.len())
}

/// One stream entry: the activity, its actor, its item (when it concerns
/// one) and the comment it added (for comments). `seq` is the delivery
/// position for home entries (0 elsewhere).
#[derive(Debug, Clone, Default)]
pub struct ActivityRow {
    pub id: i64,
    pub seq: i64,
    pub actor: Person,
    pub verb: String,
    pub object_type: String,
    pub object_id: i64,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub published: i64,
    pub item: Option<ItemRow>,
    pub comment_html: Option<String>,
    /// For an activity without an item that concerns a space (created,
    /// joined, asked to join): the space's visibility and whether the
    /// viewer belongs to it, where the visibility rule asks.
    pub space_visibility: Option<SpaceVisibility>,
    pub viewer_in_space: bool,
}

impl ActivityRow {
    /// The facts for `domain::social::can_see`. An activity on an item
    /// has the item's audience; one on a space without an item (created,
    /// joined, asked to join) is seen as the space's content is; any
    /// other (a follow) as a profile post is, and always by the two
    /// people it names.
    pub fn access(&self, viewer_id: i64, viewer_role: Role, viewer_active: bool) -> Access {
        if let Some(item) = &self.item {
            return item.access(viewer_id, viewer_role, viewer_active);
        }
        Access {
            audience: self
                .space_visibility
                .map_or(Audience::Profile, Audience::Space),
            viewer_is_author: self.actor.id == viewer_id
                || (self.object_type == "member" && self.object_id == viewer_id),
            viewer_in_space: self.viewer_in_space,
            viewer_is_recipient: false,
            viewer_role,
            viewer_active,
        }
    }
}

/// Which stream to read.
#[derive(Debug, Clone)]
pub enum Stream {
    /// Deliveries to the viewer's inbox, in delivery order.
    Home,
    /// New items the viewer may see.
    Everything {
        guest: bool,
    },
    Space(i64),
    Topic(String),
    Profile(i64),
    Item(i64),
}

/// A position in a stream: `(seq, activity)` for home, `(activity, 0)`
/// elsewhere.
pub type Position = (i64, i64);

const ACTIVITY_COLS: &str = "a.id, am2.id, am2.handle, am2.display_name, am2.avatar_version, a.verb, \
    a.object_type, a.object_id, a.target_type, a.target_id, a.published, cm.body_html";
const ACTIVITY_JOINS: &str = "JOIN members am2 ON am2.id = a.actor_id
    LEFT JOIN items i ON i.id = a.item_id
    LEFT JOIN members am ON am.id = i.author_id
    LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)
    LEFT JOIN comments cm ON a.object_type = 'comment' AND cm.id = a.object_id";

/// A *brief* stream row: what decides whether and where an entry shows
/// (the visibility rule, the viewer's mutes, the order), what tells a
/// cached rendering of it is current (the space's name and visibility;
/// `published`, against a reused id), and what each page writes afresh:
/// the item's reactions, which hold the viewer's own, and its comment
/// count. A page whose entries are rendered already reads
/// no member, comment, title or HTML (see `http::api::stream_cache`).
const BRIEF_COLS: &str = concat!(
    "a.id, a.actor_id, a.published, i.id, i.author_id, i.audience, i.space_id, \
     sp.slug, sp.name, sp.visibility, ",
    viewer_access!(),
    ", i.reaction_summary, i.comment_count"
);
const BRIEF_NCOLS: usize = 14;
const BRIEF_JOINS: &str = "LEFT JOIN items i ON i.id = a.item_id LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)";

fn brief_activity(r: &mut Row, seq_col: Option<usize>) -> Result<ActivityRow, Error> {
    let (own_visibility, own_in_space) = match r.opt_i64(3)? {
        Some(_) => (None, false),
        None => (space_visibility(r, 9)?, r.opt_i64(10)?.is_some()),
    };
    let item = match r.opt_i64(3)? {
        Some(id) => Some(ItemRow {
            id,
            author_id: r.i64(4)?,
            audience: r.take_text(5)?,
            space_id: r.opt_i64(6)?,
            space_slug: r.take_opt_text(7)?,
            space_name: r.take_opt_text(8)?,
            space_visibility: space_visibility(r, 9)?,
            viewer_in_space: r.opt_i64(10)?.is_some(),
            viewer_is_recipient: r.opt_i64(11)?.is_some(),
            reaction_summary: r.take_text(12)?,
            comment_count: r.i64(13)?,
            ..ItemRow::default()
        }),
        None => None,
    };
    Ok(ActivityRow {
        id: r.i64(0)?,
        seq: seq(r, seq_col)?,
        actor: Person {
            id: r.i64(1)?,
            ..Person::default()
        },
        published: r.i64(2)?,
        item,
        space_visibility: own_visibility,
        viewer_in_space: own_in_space,
        ..ActivityRow::default()
    })
}

fn activity(r: &mut Row, seq_col: Option<usize>) -> Result<ActivityRow, Error> {
    let has_item = r.opt_i64(12)?.is_some();
    // Without an item, the item's space columns are the activity's space.
    let (space_visibility, viewer_in_space) = if has_item {
        (None, false)
    } else {
        (space_visibility(r, 12 + 10)?, r.opt_i64(12 + 19)?.is_some())
    };
    Ok(ActivityRow {
        id: r.i64(0)?,
        seq: seq(r, seq_col)?,
        actor: Person {
            id: r.i64(1)?,
            handle: r.take_text(2)?,
            display_name: r.take_text(3)?,
            avatar_version: r.i64(4)?,
            extra: String::new(),
        },
        verb: r.take_text(5)?,
        object_type: r.take_text(6)?,
        object_id: r.i64(7)?,
        target_type: r.take_opt_text(8)?,
        target_id: r.opt_i64(9)?,
        published: r.i64(10)?,
        comment_html: r.take_opt_text(11)?,
        item: if has_item { Some(item(r, 12)?) } else { None },
        space_visibility,
        viewer_in_space,
    })
}

/// Reads up to `limit` entries of a stream, newest first, before `before`
/// (or, with `after`, oldest first after it, for live resumption), and,
/// when `mutes` is asked for, what the viewer muted ("type:target" keys;
/// only the home stream reads them, and only when there are entries). The
/// caller filters with the visibility rule and the mutes. `brief` rows
/// hold only what that and the order need (see [`BRIEF_COLS`]).
pub async fn read_stream(
    c: &mut Conn,
    viewer: i64,
    stream: &Stream,
    (before, after): (Option<Position>, Option<Position>),
    limit: i64,
    (mutes, brief): (bool, bool),
) -> Result<(Vec<ActivityRow>, HashSet<String>), Error> {
    let ncols = if brief { BRIEF_NCOLS } else { 12 + ITEM_NCOLS };
    let order = if after.is_some() { "ASC" } else { "DESC" };
    let (b0, b1) = before.unwrap_or((i64::MAX, i64::MAX));
    let (a0, a1) = after.unwrap_or((0, 0));
    // Home on SQLite: the viewer's deliveries not yet folded into `inbox`
    // come from memory, taken before the statement reads `inbox`.
    let recent = match stream {
        Stream::Home if logs_deliveries(c.kind()) => c.recent_window(
            viewer,
            ((a0, a1), (b0, b1)),
            limit.max(0) as usize,
            after.is_none(),
        ),
        _ => Vec::new(),
    };
    let (from, filter, ordering, seq_col): (String, String, String, Option<usize>) = match stream {
        Stream::Home if !recent.is_empty() => (
            format!(
                "(SELECT seq, activity_id FROM inbox
                  WHERE member_id = $1 AND (seq < $2 OR (seq = $2 AND activity_id < $3))
                    AND (seq > $4 OR (seq = $4 AND activity_id > $5))
                  UNION
                  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($9)
                  ORDER BY 1 {order}, 2 {order} LIMIT $6) ib
                JOIN activities a ON a.id = ib.activity_id"
            ),
            "1 = 1".into(),
            format!("ib.seq {order}, ib.activity_id {order}"),
            Some(ncols),
        ),
        Stream::Home => (
            "inbox ib JOIN activities a ON a.id = ib.activity_id".into(),
            "ib.member_id = $1 AND (ib.seq < $2 OR (ib.seq = $2 AND ib.activity_id < $3))
               AND (ib.seq > $4 OR (ib.seq = $4 AND ib.activity_id > $5))"
                .into(),
            format!("ib.seq {order}, ib.activity_id {order}"),
            Some(ncols),
        ),
        other => {
            let extra = match other {
                Stream::Everything { guest } => format!(
                    "a.verb = 'post' AND (i.author_id = $1
                       OR (i.audience = 'profile' AND {g} = 0)
                       OR (i.audience = 'space' AND ((sp.visibility = 'open' AND {g} = 0)
                            OR EXISTS (SELECT 1 FROM space_members x WHERE x.space_id = i.space_id AND x.member_id = $1)))
                       OR (i.audience = 'direct' AND EXISTS (SELECT 1 FROM item_recipients y WHERE y.item_id = i.id AND y.member_id = $1)))",
                    g = i64::from(*guest)
                ),
                Stream::Space(_) => "a.space_id = $8".into(),
                Stream::Topic(_) => "tp.topic = $7 AND a.verb = 'post'".into(),
                Stream::Profile(_) => "a.actor_id = $8 AND a.verb IN ('post', 'comment')".into(),
                Stream::Item(_) => "a.item_id = $8".into(),
                Stream::Home => unreachable!(),
            };
            let from = match other {
                Stream::Topic(_) => "item_topics tp JOIN activities a ON a.item_id = tp.item_id",
                _ => "activities a",
            };
            (
                from.to_owned(),
                format!("{extra} AND a.id < $2 AND a.id > $4 AND $3 = $3 AND $5 = $5"),
                format!("a.id {order}"),
                None,
            )
        }
    };
    let topic = match stream {
        Stream::Topic(t) => t.clone(),
        _ => String::new(),
    };
    // Home also reads what the viewer muted: on PostgreSQL in the same
    // statement (an uncorrelated subquery, evaluated once), saving a round
    // trip; on SQLite in a statement of its own, which costs less there.
    let read_after = viewer_reads_after(c.kind());
    let (cols, joins) = if brief {
        (BRIEF_COLS.to_owned(), BRIEF_JOINS)
    } else {
        (
            format!("{ACTIVITY_COLS}, {}", item_cols_for_page(read_after)),
            ACTIVITY_JOINS,
        )
    };
    let mutes = mutes && seq_col.is_some();
    let seq_select = match (seq_col, mutes && !read_after) {
        (None, _) => "",
        (Some(_), false) => ", ib.seq, NULL",
        (Some(_), true) => {
            ", ib.seq, (SELECT string_agg(vf.target_type || ':' || vf.target, '\t') FROM follows vf
             WHERE vf.member_id = $1 AND vf.level = 'muted')"
        }
    };
    let sql = format!(
        "SELECT {cols}{seq_select}
         FROM {from}
         {joins}
         WHERE {filter} AND $7 = $7 AND $8 = $8
         ORDER BY {ordering} LIMIT $6"
    );
    let subject = match stream {
        Stream::Space(id) | Stream::Profile(id) | Stream::Item(id) => *id,
        _ => 0,
    };
    let mut args = params![viewer, b0, b1, a0, a1, limit, topic, subject].to_vec();
    if !recent.is_empty() {
        args.push(json_rows(&recent)?.into());
    }
    let rows = c.query(&sql, &args).await?;
    let muted = match (seq_col, rows.first()) {
        (Some(_), Some(_)) if mutes && read_after => c
            .query(
                "SELECT target_type, target FROM follows WHERE member_id = $1 AND level = 'muted'",
                params![viewer],
            )
            .await?
            .iter()
            .map(|r| Ok(format!("{}:{}", r.text(0)?, r.text(1)?)))
            .collect::<Result<_, Error>>()?,
        (Some(at), Some(r)) if mutes => r
            .opt_text(at + 1)?
            .map(|m| m.split('\t').map(str::to_owned).collect())
            .unwrap_or_default(),
        _ => HashSet::new(),
    };
    // Brief rows leave the viewer's reactions to a statement after.
    let rows = if brief {
        page_rows(c, viewer, rows, (brief_activity, seq_col), true).await?
    } else {
        page_rows(c, viewer, rows, (activity, seq_col), read_after).await?
    };
    Ok((rows, muted))
}

// ---- notifications ----

pub async fn notify(
    tx: &mut Tx,
    member: i64,
    activity: i64,
    reason: &str,
    now: i64,
) -> Result<(), Error> {
    tx.execute_later(
        "INSERT INTO notifications (member_id, activity_id, reason, created_at) VALUES ($1, $2, $3, $4)",
        params![member, activity, reason, now],
    )
    .await?;
    tx.note_notified(member);
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: i64,
    pub reason: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    pub activity_id: i64,
}

pub async fn notifications(
    c: &mut Conn,
    member: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, Error> {
    c.query(
        "SELECT id, reason, created_at, read_at, activity_id FROM notifications
         WHERE member_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        params![member, before, limit],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(NotificationRow {
            id: r.i64(0)?,
            reason: r.text(1)?,
            created_at: r.i64(2)?,
            read_at: r.opt_i64(3)?,
            activity_id: r.i64(4)?,
        })
    })
    .collect()
}

/// The activities of the member's newest `limit` unread notifications,
/// with only what the visibility rule needs (see [`ActivityRow::access`]),
/// so that the unread count is what the member can open.
pub async fn unread_access(
    c: &mut Conn,
    member: i64,
    limit: i64,
) -> Result<Vec<ActivityRow>, Error> {
    let sql = format!(
        "SELECT a.actor_id, a.object_type, a.object_id, sp.visibility, {ITEM_ACCESS_COLS}
         FROM notifications n JOIN activities a ON a.id = n.activity_id
         LEFT JOIN items i ON i.id = a.item_id
         LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)
         WHERE n.member_id = $1 AND n.read_at IS NULL ORDER BY n.id DESC LIMIT $2"
    );
    c.query(&sql, params![member, limit])
        .await?
        .iter()
        .map(|r| {
            let has_item = r.opt_i64(4)?.is_some();
            let space_visibility = r
                .opt_text(3)?
                .map(|v| SpaceVisibility::parse(&v))
                .transpose()
                .map_err(|e| Error::Decode(e.to_string()))?;
            Ok(ActivityRow {
                actor: Person {
                    id: r.i64(0)?,
                    ..Person::default()
                },
                object_type: r.text(1)?,
                object_id: r.i64(2)?,
                space_visibility: space_visibility.filter(|_| !has_item),
                viewer_in_space: !has_item && r.opt_i64(4 + 5)?.is_some(),
                item: if has_item {
                    Some(item_access(r, 4)?)
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
    member: i64,
    ids: Option<&[i64]>,
    now: i64,
) -> Result<u64, Error> {
    // Live badges of this member re-read their count.
    tx.note_notified(member);
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

/// Activities by id, as a stream page reads them (in no order; ids no
/// longer there are left out): for notifications, and, with no `viewer`,
/// for the entries of a page with no current rendering
/// (`http::api::stream_cache`), which shows nothing that is one viewer's
/// own: then no viewer's reactions are read, and the viewer's columns
/// read as a non-member's.
pub async fn activities_by_ids(
    c: &mut Conn,
    viewer: Option<i64>,
    ids: &[i64],
) -> Result<Vec<ActivityRow>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (marks, ids) = in_list(2, ids);
    let read_after = viewer.is_none() || viewer_reads_after(c.kind());
    let item_cols = item_cols_for_page(read_after);
    let sql = format!(
        "SELECT {ACTIVITY_COLS}, {item_cols} FROM activities a {ACTIVITY_JOINS} WHERE a.id IN ({marks})"
    );
    let rows = c
        .query(&sql, &with(params![viewer.unwrap_or(0)].to_vec(), ids))
        .await?;
    match viewer {
        Some(v) => page_rows(c, v, rows, (activity, None), read_after).await,
        None => rows
            .into_iter()
            .map(|mut r| activity(&mut r, None))
            .collect(),
    }
}

// ---- audience ----

/// Active members of a space: the audience of a closed or secret space.
/// (An open space's audience is the org, [`org_audience_count`], plus its
/// guests, [`space_guest_count`].)
pub async fn space_member_count(c: &mut Conn, space: i64) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM space_members sm JOIN members m ON m.id = sm.member_id
         WHERE sm.space_id = $1 AND m.deactivated_at IS NULL",
        params![space],
    )
    .await?
    .i64(0)
}

/// Active guests who belong to a space (the org count leaves guests out;
/// an open space's audience adds its own).
pub async fn space_guest_count(c: &mut Conn, space: i64) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members m WHERE m.role = 'guest' AND m.deactivated_at IS NULL
           AND EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $1 AND sm.member_id = m.id)",
        params![space],
    )
    .await?
    .i64(0)
}

pub async fn org_audience_count(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT COUNT(*) FROM members WHERE deactivated_at IS NULL AND role <> 'guest'",
        params![],
    )
    .await?
    .i64(0)
}

/// Members by handle (for direct recipients and mentions): (id, handle,
/// name, role, active).
pub async fn members_by_handles(
    c: &mut Conn,
    handles: &[String],
) -> Result<Vec<(i64, String, String, Role, bool)>, Error> {
    let mut out = Vec::new();
    for h in handles {
        if let Some(r) = c
            .query_opt(
                "SELECT id, handle, display_name, role, deactivated_at FROM members WHERE handle = $1",
                params![h.as_str()],
            )
            .await?
        {
            out.push((
                r.i64(0)?,
                r.text(1)?,
                r.text(2)?,
                Role::parse(&r.text(3)?).map_err(|e| Error::Decode(e.to_string()))?,
                r.opt_i64(4)?.is_none(),
            ));
        }
    }
    Ok(out)
}

/// What the visibility rule needs to know about members and one item:
/// (member, role, active, in the item's space, direct recipient).
pub async fn member_facts_many(
    c: &mut Conn,
    members: &[i64],
    space: Option<i64>,
    item: i64,
) -> Result<Vec<(i64, Role, bool, bool, bool)>, Error> {
    let mut out = Vec::with_capacity(members.len());
    for chunk in members.chunks(128) {
        let (marks, ids) = in_list(3, chunk);
        let sql = format!(
            "SELECT m.id, m.role, m.deactivated_at,
                (SELECT 1 FROM space_members WHERE space_id = $1 AND member_id = m.id),
                (SELECT 1 FROM item_recipients WHERE item_id = $2 AND member_id = m.id)
             FROM members m WHERE m.id IN ({marks})"
        );
        for r in c
            .query(&sql, &with(params![space.unwrap_or(0), item].to_vec(), ids))
            .await?
        {
            out.push((
                r.i64(0)?,
                Role::parse(&r.text(1)?).map_err(|e| Error::Decode(e.to_string()))?,
                r.opt_i64(2)?.is_none(),
                r.opt_i64(3)?.is_some(),
                r.opt_i64(4)?.is_some(),
            ));
        }
    }
    Ok(out)
}

/// Notifies several members of one activity for one reason.
pub async fn notify_many(
    tx: &mut Tx,
    members: &[i64],
    activity: i64,
    reason: &str,
    now: i64,
) -> Result<(), Error> {
    for chunk in members.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO notifications (member_id, activity_id, reason, created_at) VALUES ",
        );
        let mut vals: Vec<crate::Value> = vec![activity.into(), reason.into(), now.into()];
        for (k, m) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("(${}, $1, $2, $3)", k + 4));
            vals.push((*m).into());
            tx.note_notified(*m);
        }
        tx.execute_later(&sql, &vals).await?;
    }
    Ok(())
}

// ---- seen and acknowledgements ----

pub async fn mark_seen(tx: &mut Tx, item: i64, member: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_seen (item_id, member_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn seen_by(c: &mut Conn, item: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL FROM item_seen s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.seen_at",
        params![item],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

pub async fn acknowledge(tx: &mut Tx, item: i64, member: i64, now: i64) -> Result<bool, Error> {
    let n = tx
        .execute(
            "INSERT INTO item_acks (item_id, member_id, acked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            params![item, member, now],
        )
        .await?;
    Ok(n == 1)
}

pub async fn acknowledged_by(c: &mut Conn, item: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL FROM item_acks s JOIN members m ON m.id = s.member_id
         WHERE s.item_id = $1 ORDER BY s.acked_at",
        params![item],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

/// The audience of an item (active members who may see it, the author
/// excepted) who have not acknowledged it: up to `limit` of them, and how
/// many in all.
pub async fn unacknowledged(
    c: &mut Conn,
    item: &ItemRow,
    limit: i64,
) -> Result<(Vec<Person>, i64), Error> {
    let audience = match item.audience() {
        Audience::Space(SpaceVisibility::Open) => {
            "(m.role <> 'guest' OR EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $2 AND sm.member_id = m.id))"
        }
        Audience::Space(_) => {
            "EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = $2 AND sm.member_id = m.id)"
        }
        Audience::Profile => "(m.role <> 'guest' AND $2 = $2)",
        Audience::Direct => {
            "(EXISTS (SELECT 1 FROM item_recipients r WHERE r.item_id = $1 AND r.member_id = m.id) AND $2 = $2)"
        }
    };
    let filter = format!(
        "FROM members m WHERE m.deactivated_at IS NULL AND m.id <> $3 AND {audience}
           AND NOT EXISTS (SELECT 1 FROM item_acks a WHERE a.item_id = $1 AND a.member_id = m.id)"
    );
    let space = item.space_id.unwrap_or(0);
    let people = c
        .query(
            &format!("SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL {filter} ORDER BY m.handle LIMIT $4"),
            params![item.id, space, item.author_id, limit],
        )
        .await?
        .iter()
        .map(person)
        .collect::<Result<Vec<_>, _>>()?;
    let count = c
        .query_one(
            &format!("SELECT COUNT(*) {filter} AND $4 = $4"),
            params![item.id, space, item.author_id, limit],
        )
        .await?
        .i64(0)?;
    Ok((people, count))
}

/// People who share spaces with a member and whom they do not follow yet,
/// most shared spaces first.
pub async fn suggested_people(c: &mut Conn, member: i64, limit: i64) -> Result<Vec<Person>, Error> {
    c.query(
        "SELECT m.id, m.handle, m.display_name, m.avatar_version, NULL
         FROM space_members mine
         JOIN space_members theirs ON theirs.space_id = mine.space_id AND theirs.member_id <> mine.member_id
         JOIN members m ON m.id = theirs.member_id
         WHERE mine.member_id = $1 AND m.deactivated_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.member_id = $1 AND f.target_type = 'member'
                           AND f.target = CAST(m.id AS TEXT))
         GROUP BY m.id, m.handle, m.display_name, m.avatar_version
         ORDER BY COUNT(*) DESC, m.handle LIMIT $2",
        params![member, limit],
    )
    .await?
    .iter()
    .map(person)
    .collect()
}

/// Open spaces the member is not in, busiest over the last `since` first.
pub async fn suggested_spaces(
    c: &mut Conn,
    member: i64,
    since: i64,
    limit: i64,
) -> Result<Vec<Space>, Error> {
    let sql = format!(
        "SELECT {SPACE_COLS} FROM spaces s
         WHERE s.visibility = 'open' AND s.archived_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1)
         ORDER BY (SELECT COUNT(*) FROM activities a WHERE a.space_id = s.id AND a.published > $2) DESC,
                  s.member_count DESC, s.slug
         LIMIT $3"
    );
    c.query(&sql, params![member, since, limit])
        .await?
        .iter()
        .map(space)
        .collect()
}

/// The newest delivery position.
pub async fn delivery_position(c: &mut Conn) -> Result<i64, Error> {
    c.query_one(
        "SELECT value FROM counters WHERE name = 'delivery'",
        params![],
    )
    .await?
    .i64(0)
}
