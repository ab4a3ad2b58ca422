//! Activities: appending them, and the rows that stream pages and
//! notifications read (an activity with its actor, item and comment),
//! decoded and completed with the viewer's reactions, the items' topics and
//! recipients.

use domain::{ItemId, MemberId, Role, SpaceId};
use std::sync::LazyLock;

use domain::kinds::{ObjectType, Verb};
use domain::social::{Access, Audience, SpaceVisibility};

use crate::items::{
    ItemCols, ItemRow, NO_SOURCE, REACTIONS_INLINE, REACTIONS_LATER, SOURCE, VIEWER_IN_SPACE,
    VIEWER_IS_RECIPIENT, item,
};
use crate::rows::{Column, Person, Tuple, columns, in_list, present, with};
use crate::{Conn, Error, Kind, Row, Tx, params};

pub struct NewActivity {
    pub actor_id: MemberId,
    pub verb: Verb,
    pub object_type: ObjectType,
    pub object_id: i64,
    pub target_type: Option<ObjectType>,
    pub target_id: Option<i64>,
    pub item_id: Option<ItemId>,
    pub space_id: Option<SpaceId>,
}

impl NewActivity {
    /// Something done to an item itself (updated, deleted, acknowledged, a
    /// reminder): the item is the object, with no target.
    pub fn on_item(
        actor_id: MemberId,
        verb: Verb,
        item_id: ItemId,
        space_id: Option<SpaceId>,
    ) -> Self {
        NewActivity {
            actor_id,
            verb,
            object_type: ObjectType::Item,
            object_id: item_id.get(),
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
pub async fn append_activity(tx: &mut Tx, a: &NewActivity, now: i64) -> Result<i64, Error> {
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
                a.verb.as_str(),
                a.object_type.as_str(),
                a.object_id,
                a.target_type.map(ObjectType::as_str),
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

/// One stream entry: the activity, its actor, its item (when it concerns
/// one) and the comment it added (for comments). `seq` is the delivery
/// position for home entries (0 elsewhere).
#[derive(Debug, Clone, Default)]
pub struct ActivityRow {
    pub id: i64,
    pub seq: i64,
    pub actor: Person,
    pub verb: Verb,
    pub object_type: String,
    pub object_id: i64,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub published: i64,
    pub item: Option<ItemRow>,
    pub comment_html: Option<String>,
    /// The comment's Markdown source, for where it shows as plain text
    /// (a notification's excerpt).
    pub comment_body: Option<String>,
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
    pub fn access(&self, viewer_id: MemberId, viewer_role: Role, viewer_active: bool) -> Access {
        if let Some(item) = &self.item {
            return item.access(viewer_id, viewer_role, viewer_active);
        }
        Access {
            audience: self
                .space_visibility
                .map_or(Audience::Profile, Audience::Space),
            viewer_is_author: self.actor.id == viewer_id
                || (self.object_type == "member" && self.object_id == viewer_id.get()),
            viewer_in_space: self.viewer_in_space,
            viewer_is_recipient: false,
            viewer_role,
            viewer_active,
        }
    }
}

/// A stream row's decoder: the row, and the column of its delivery
/// position, if any.
type Decode = fn(&mut Row, Option<usize>) -> Result<ActivityRow, Error>;

/// The delivery position from `seq_col` (home), or 0.
fn seq(r: &Row, seq_col: Option<usize>) -> Result<i64, Error> {
    seq_col.map_or(Ok(0), |c| r.i64(c))
}

columns! {
    /// An activity with its actor and the comment it added (with
    /// [`ACTIVITY_JOINS`]).
    pub(crate) struct ActivityCols {
        id: "a.id",
        actor_id: "am2.id",
        actor_handle: "am2.handle",
        /// An imported post's or comment's sender when no member wrote it.
        actor_name: "CASE a.verb WHEN 'post' THEN COALESCE(i.imported_from, am2.display_name) \
            WHEN 'comment' THEN COALESCE(cm.imported_from, am2.display_name) ELSE am2.display_name END",
        actor_avatar: "am2.avatar_version",
        verb: "a.verb",
        object_type: "a.object_type",
        object_id: "a.object_id",
        target_type: "a.target_type",
        target_id: "a.target_id",
        published: "a.published",
        comment_html: "cm.body_html",
        comment_body: "cm.body",
    }
}

columns! {
    /// A whole stream row: the activity and its item (see
    /// [`ItemCols`] for the two variants), decoded by [`activity`].
    pub(crate) struct PageCols(body: &str, viewer_reactions: &str) {
        activity: [ActivityCols],
        item: [ItemCols(body, viewer_reactions)],
    }
}

pub(crate) const ACTIVITY_JOINS: &str = "JOIN members am2 ON am2.id = a.actor_id
    LEFT JOIN items i ON i.id = a.item_id
    LEFT JOIN members am ON am.id = i.author_id
    LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)
    LEFT JOIN comments cm ON a.object_type = 'comment' AND cm.id = a.object_id";

columns! {
    /// A *brief* stream row: what decides whether and where an entry shows
    /// (the visibility rule, the viewer's mutes, the order), what tells a
    /// cached rendering of it is current (the space's name and visibility;
    /// `published`, against a reused id), and what each page writes afresh:
    /// the item's reactions, which hold the viewer's own, and its comment
    /// count. A page whose entries are rendered already reads
    /// no member, comment, title or HTML (see the server's stream cache).
    pub(crate) struct BriefCols {
        id: "a.id",
        actor_id: "a.actor_id",
        published: "a.published",
        item_id: "i.id",
        author_id: "i.author_id",
        audience: "i.audience",
        space_id: "i.space_id",
        space_slug: "sp.slug",
        space_name: "sp.name",
        space_visibility: "sp.visibility",
        viewer_in_space: VIEWER_IN_SPACE,
        viewer_is_recipient: VIEWER_IS_RECIPIENT,
        reaction_summary: "i.reaction_summary",
        comment_count: "i.comment_count",
    }
}

pub(crate) const BRIEF_JOINS: &str = "LEFT JOIN items i ON i.id = a.item_id LEFT JOIN spaces sp ON sp.id = COALESCE(i.space_id, a.space_id)";

/// A row of [`BriefCols`] alone (then the delivery position, at `seq_col`).
pub(crate) fn brief_activity(r: &mut Row, seq_col: Option<usize>) -> Result<ActivityRow, Error> {
    const C: BriefCols = BriefCols::at(0);
    let has_item = r.opt_i64(C.item_id)?.is_some();
    // Without an item, the space columns are the activity's space.
    let (own_visibility, own_in_space) = if has_item {
        (None, false)
    } else {
        (
            Column::take(r, C.space_visibility)?,
            present(r, C.viewer_in_space)?,
        )
    };
    let item = match has_item {
        true => Some(ItemRow {
            id: Column::take(r, C.item_id)?,
            author_id: Column::take(r, C.author_id)?,
            audience: Column::take(r, C.audience)?,
            space_id: Column::take(r, C.space_id)?,
            space_slug: r.take_opt_text(C.space_slug)?,
            space_name: r.take_opt_text(C.space_name)?,
            space_visibility: Column::take(r, C.space_visibility)?,
            viewer_in_space: present(r, C.viewer_in_space)?,
            viewer_is_recipient: present(r, C.viewer_is_recipient)?,
            reaction_summary: r.take_text(C.reaction_summary)?,
            comment_count: r.i64(C.comment_count)?,
            ..ItemRow::default()
        }),
        false => None,
    };
    Ok(ActivityRow {
        id: Column::take(r, C.id)?,
        seq: seq(r, seq_col)?,
        actor: Person {
            id: Column::take(r, C.actor_id)?,
            ..Person::default()
        },
        published: r.i64(C.published)?,
        item,
        space_visibility: own_visibility,
        viewer_in_space: own_in_space,
        ..ActivityRow::default()
    })
}

/// A row of [`PageCols`] alone (then the delivery position, at `seq_col`).
pub(crate) fn activity(r: &mut Row, seq_col: Option<usize>) -> Result<ActivityRow, Error> {
    const C: PageCols = PageCols::at(0);
    let (a, i) = (C.activity, C.item);
    let has_item = r.opt_i64(i.id)?.is_some();
    // Without an item, the item's space columns are the activity's space.
    let (space_visibility, viewer_in_space) = if has_item {
        (None, false)
    } else {
        (
            Column::take(r, i.space_visibility)?,
            present(r, i.viewer_in_space)?,
        )
    };
    Ok(ActivityRow {
        id: Column::take(r, a.id)?,
        seq: seq(r, seq_col)?,
        actor: Person {
            id: Column::take(r, a.actor_id)?,
            handle: r.take_text(a.actor_handle)?,
            display_name: r.take_text(a.actor_name)?,
            avatar_version: r.i64(a.actor_avatar)?,
            extra: String::new(),
        },
        verb: Column::take(r, a.verb)?,
        object_type: r.take_text(a.object_type)?,
        object_id: r.i64(a.object_id)?,
        target_type: r.take_opt_text(a.target_type)?,
        target_id: r.opt_i64(a.target_id)?,
        published: r.i64(a.published)?,
        comment_html: r.take_opt_text(a.comment_html)?,
        comment_body: r.take_opt_text(a.comment_body)?,
        item: if has_item { Some(item(r, i)?) } else { None },
        space_visibility,
        viewer_in_space,
    })
}

/// [`PageCols`]' SELECT list for each variant, built once: a stream page's
/// without the Markdown source, [`activities_by_ids`]' with it, each with
/// the viewer's reactions inline or later.
fn page_cols(source: bool, reactions_later: bool) -> &'static str {
    static COLS: LazyLock<[[String; 2]; 2]> = LazyLock::new(|| {
        [NO_SOURCE, SOURCE]
            .map(|body| [REACTIONS_INLINE, REACTIONS_LATER].map(|r| PageCols::sql(body, r)))
    });
    &COLS[usize::from(source)][usize::from(reactions_later)]
}

/// Whether a page reads what is the viewer's own (their reactions, their
/// mutes) in statements of its own after the page, or in the page
/// statement. On SQLite a statement costs no round trip, and one range
/// read of the viewer's reactions is cheaper than a probe per row; on
/// PostgreSQL each statement is a round trip.
pub(crate) fn viewer_reads_after(kind: Kind) -> bool {
    kind == Kind::Sqlite
}

/// The columns of a page of rows (see [`viewer_reads_after`]).
pub(crate) fn page_cols_for(after: bool) -> &'static str {
    page_cols(false, after)
}

/// A page's rows decoded with `decode` ([`activity`] for rows read with
/// [`page_cols_for`], [`brief_activity`] for [`BriefCols`]), with the
/// viewer's reactions read after where the statement left them out.
pub(crate) async fn page_rows(
    c: &mut Conn,
    viewer: MemberId,
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
    viewer: MemberId,
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
    for r in mine {
        let (item, emoji): (ItemId, String) = Tuple::from_row(r)?;
        for i in rows.iter_mut().filter_map(|r| r.item.as_mut()) {
            if i.id == item {
                i.viewer_reactions.push(emoji.clone());
            }
        }
    }
    Ok(())
}

columns! {
    /// An item's topic (`kind` 0, from `item_topics t`) or recipient (1,
    /// from `item_recipients r` and `members m`), for one statement that
    /// reads both; named, so the statement orders by name.
    struct TopicOrRecipientCols(topic: bool) {
        item_id: (if topic { "t.item_id AS item_id" } else { "r.item_id" }),
        kind: (if topic { "CAST(0 AS BIGINT) AS kind" } else { "CAST(1 AS BIGINT)" }),
        member_id: (if topic { "CAST(0 AS BIGINT)" } else { "m.id" }),
        name: (if topic { "t.topic AS name" } else { "m.handle" }),
        display_name: (if topic { "CAST(NULL AS TEXT)" } else { "m.display_name" }),
        avatar_version: (if topic { "CAST(0 AS BIGINT)" } else { "m.avatar_version" }),
    }
}

/// Fills the topics and the direct recipients of the items of `rows` (a
/// stream page) in one statement for them all, whatever their number.
pub async fn add_topics_and_recipients(
    c: &mut Conn,
    rows: &mut [ActivityRow],
) -> Result<(), Error> {
    let mut ids: Vec<ItemId> = rows
        .iter()
        .filter_map(|r| r.item.as_ref())
        .map(|i| i.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    static COLS: LazyLock<[String; 2]> =
        LazyLock::new(|| [true, false].map(TopicOrRecipientCols::sql));
    const C: TopicOrRecipientCols = TopicOrRecipientCols::at(0);
    let (marks, values) = in_list(1, &ids);
    // Topics (kind 0) by name, then recipients (kind 1) by handle.
    let sql = format!(
        "SELECT {topic} FROM item_topics t WHERE t.item_id IN ({marks})
         UNION ALL
         SELECT {recipient} FROM item_recipients r JOIN members m ON m.id = r.member_id
         WHERE r.item_id IN ({marks})
         ORDER BY item_id, kind, name",
        topic = COLS[0],
        recipient = COLS[1],
    );
    let found = c.query(&sql, &values).await?;
    let mut by_item: std::collections::HashMap<ItemId, (Vec<String>, Vec<Person>)> =
        std::collections::HashMap::new();
    for mut r in found {
        let entry = by_item.entry(ItemId(r.i64(C.item_id)?)).or_default();
        if r.i64(C.kind)? == 0 {
            entry.0.push(r.take_text(C.name)?);
        } else {
            entry.1.push(Person {
                id: MemberId(r.i64(C.member_id)?),
                handle: r.take_text(C.name)?,
                display_name: r.take_opt_text(C.display_name)?.unwrap_or_default(),
                avatar_version: r.i64(C.avatar_version)?,
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

/// Activities by id, as a stream page reads them but with their items'
/// Markdown source (in no order; ids no longer there are left out): for
/// notifications, and, with no `viewer`,
/// for the entries of a page with no current rendering
/// (the server's stream cache), which shows nothing that is one viewer's
/// own: then no viewer's reactions are read, and the viewer's columns
/// read as a non-member's.
pub async fn activities_by_ids(
    c: &mut Conn,
    viewer: Option<MemberId>,
    ids: &[i64],
) -> Result<Vec<ActivityRow>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (marks, ids) = in_list(2, ids);
    let read_after = viewer.is_none() || viewer_reads_after(c.kind());
    let sql = format!(
        "SELECT {} FROM activities a {ACTIVITY_JOINS} WHERE a.id IN ({marks})",
        page_cols(true, read_after)
    );
    let rows = c
        .query(
            &sql,
            &with(params![viewer.unwrap_or(MemberId(0))].to_vec(), ids),
        )
        .await?;
    match viewer {
        Some(v) => page_rows(c, v, rows, (activity, None), read_after).await,
        None => rows
            .into_iter()
            .map(|mut r| activity(&mut r, None))
            .collect(),
    }
}
