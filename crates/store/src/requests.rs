//! Queries of conversations for action (requests and offers, their acts),
//! to-dos and calendar feeds. A request is an item (see `items`) plus a
//! row in `requests`; the item carries audience, comments and follows.

use crate::items::{self, ItemAccessCols, ItemRow};
use crate::rows::columns;
use crate::{Conn, Error, Tx, params};
use domain::{ItemId, MemberId, SpaceId};

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub item_id: ItemId,
    pub requester_id: MemberId,
    pub requester_handle: String,
    pub requester_name: String,
    pub performer_id: MemberId,
    pub performer_handle: String,
    pub performer_name: String,
    pub state: String,
    pub turn: Option<String>,
    pub title: String,
    pub conditions: String,
    pub conditions_html: String,
    pub due_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

columns! {
    /// A request with its parties (with [`JOINS`]).
    struct RequestCols => RequestRow {
        item_id: "r.item_id",
        requester_id: "r.requester_id",
        requester_handle: "ra.handle",
        requester_name: "ra.display_name",
        performer_id: "r.performer_id",
        performer_handle: "rb.handle",
        performer_name: "rb.display_name",
        state: "r.state",
        turn: "r.turn",
        title: "r.title",
        conditions: "r.conditions",
        conditions_html: "r.conditions_html",
        due_at: "r.due_at",
        version: "r.version",
        created_at: "r.created_at",
        updated_at: "r.updated_at",
        closed_at: "r.closed_at",
    }
}

const JOINS: &str =
    "JOIN members ra ON ra.id = r.requester_id JOIN members rb ON rb.id = r.performer_id";

columns! {
    /// A request and its item's facts for the visibility rule.
    struct RequestAccessCols {
        request: [RequestCols],
        item: [ItemAccessCols],
    }
}

pub struct NewRequest<'a> {
    pub item_id: ItemId,
    pub requester_id: MemberId,
    pub performer_id: MemberId,
    pub state: &'a str,
    pub turn: Option<&'a str>,
    pub title: &'a str,
    pub conditions: &'a str,
    pub conditions_html: &'a str,
    pub due_at: Option<i64>,
}

pub async fn insert_request(tx: &mut Tx, r: &NewRequest<'_>, now: i64) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO requests (item_id, requester_id, performer_id, state, turn, title, conditions,
            conditions_html, due_at, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
        params![
            r.item_id,
            r.requester_id,
            r.performer_id,
            r.state,
            r.turn,
            r.title,
            r.conditions,
            r.conditions_html,
            r.due_at,
            now
        ],
    )
    .await?;
    Ok(())
}

pub async fn request_by_item(c: &mut Conn, id: ItemId) -> Result<Option<RequestRow>, Error> {
    let sql = format!(
        "SELECT {} FROM requests r {JOINS} WHERE r.item_id = $1",
        RequestCols::sql()
    );
    c.query_opt(&sql, params![id])
        .await?
        .map(|mut r| RequestCols::at(0).decode(&mut r))
        .transpose()
}

pub struct Transition<'a> {
    pub state: &'a str,
    pub turn: Option<&'a str>,
    pub title: &'a str,
    pub conditions: &'a str,
    pub conditions_html: &'a str,
    pub due_at: Option<i64>,
    pub closed: bool,
}

/// Moves a request to a new state if it is still at `version`; returns
/// false when another act got there first. A new due time forgets the
/// reminders sent for the old one.
pub async fn transition(
    tx: &mut Tx,
    id: ItemId,
    version: i64,
    t: &Transition<'_>,
    now: i64,
) -> Result<bool, Error> {
    let n = tx
        .execute(
            "UPDATE requests SET state = $3, turn = $4, title = $5, conditions = $6,
                conditions_html = $7,
                reminded_at = CASE WHEN due_at IS NOT DISTINCT FROM CAST($8 AS BIGINT) THEN reminded_at ELSE NULL END,
                overdue_notified_at = CASE WHEN due_at IS NOT DISTINCT FROM CAST($8 AS BIGINT) THEN overdue_notified_at ELSE NULL END,
                due_at = $8, version = version + 1, updated_at = $9,
                closed_at = CASE WHEN CAST($10 AS BIGINT) = 1 THEN CAST($9 AS BIGINT) ELSE NULL END
             WHERE item_id = $1 AND version = $2",
            params![
                id,
                version,
                t.state,
                t.turn,
                t.title,
                t.conditions,
                t.conditions_html,
                t.due_at,
                now,
                i64::from(t.closed)
            ],
        )
        .await?;
    Ok(n == 1)
}

pub struct NewAct<'a> {
    pub item_id: ItemId,
    pub actor_id: MemberId,
    pub act: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub message: &'a str,
    pub message_html: &'a str,
    pub terms: Option<(&'a str, &'a str, Option<i64>)>,
    pub activity_id: i64,
}

pub async fn insert_act(tx: &mut Tx, a: &NewAct<'_>, now: i64) -> Result<i64, Error> {
    let (title, conditions, due) = match a.terms {
        Some((t, c, d)) => (Some(t), Some(c), d),
        None => (None, None, None),
    };
    tx.query_one(
        "INSERT INTO request_acts (item_id, actor_id, act, from_state, to_state, message, message_html,
            title, conditions, due_at, activity_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        params![
            a.item_id,
            a.actor_id,
            a.act,
            a.from_state,
            a.to_state,
            a.message,
            a.message_html,
            title,
            conditions,
            due,
            a.activity_id,
            now
        ],
    )
    .await?
    .i64(0)
}

#[derive(Debug, Clone)]
pub struct ActRow {
    pub id: i64,
    pub actor_id: MemberId,
    pub actor_handle: String,
    pub actor_name: String,
    pub act: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub message: String,
    pub message_html: String,
    pub title: Option<String>,
    pub conditions: Option<String>,
    pub due_at: Option<i64>,
    pub created_at: i64,
}

columns! {
    struct ActCols => ActRow {
        id: "a.id",
        actor_id: "a.actor_id",
        actor_handle: "m.handle",
        actor_name: "m.display_name",
        act: "a.act",
        from_state: "a.from_state",
        to_state: "a.to_state",
        message: "a.message",
        message_html: "a.message_html",
        title: "a.title",
        conditions: "a.conditions",
        due_at: "a.due_at",
        created_at: "a.created_at",
    }
}

pub async fn acts(c: &mut Conn, id: ItemId) -> Result<Vec<ActRow>, Error> {
    let sql = format!(
        "SELECT {} FROM request_acts a JOIN members m ON m.id = a.actor_id
         WHERE a.item_id = $1 ORDER BY a.id",
        ActCols::sql()
    );
    c.query(&sql, params![id])
        .await?
        .into_iter()
        .map(|mut r| ActCols::at(0).decode(&mut r))
        .collect()
}

/// Every request a member is party to that is open, or closed after
/// `closed_since`, newest first, at most `limit`.
/// The member's open and recently closed requests, each with its item's
/// facts for the visibility rule (see [`items::item_access`]): a party
/// who lost the right to see a request's item no longer lists it.
pub async fn requests_of(
    c: &mut Conn,
    member: MemberId,
    closed_since: i64,
    limit: i64,
) -> Result<Vec<(RequestRow, ItemRow)>, Error> {
    const C: RequestAccessCols = RequestAccessCols::at(0);
    let sql = format!(
        "SELECT {cols} FROM requests r {JOINS} JOIN items i ON i.id = r.item_id
         {access_joins}
         WHERE (r.requester_id = $1 OR r.performer_id = $1) AND i.deleted_at IS NULL
           AND (r.closed_at IS NULL OR r.closed_at >= $2)
         ORDER BY r.item_id DESC LIMIT $3",
        cols = RequestAccessCols::sql(),
        access_joins = items::ITEM_ACCESS_JOINS,
    );
    c.query(&sql, params![member, closed_since, limit])
        .await?
        .into_iter()
        .map(|mut r| {
            Ok((
                C.request.decode(&mut r)?,
                items::item_access(&mut r, C.item)?,
            ))
        })
        .collect()
}

/// The items of the open requests that wait on the member's act, with
/// the facts for the visibility rule (the caller counts those it admits).
pub async fn waiting_on(c: &mut Conn, member: MemberId) -> Result<Vec<ItemRow>, Error> {
    let sql = format!(
        "SELECT {access} FROM requests r JOIN items i ON i.id = r.item_id {access_joins}
         WHERE i.deleted_at IS NULL AND r.closed_at IS NULL AND (
            (r.performer_id = $1 AND (r.state IN ('requested', 'promised')
                OR (r.state = 'countered' AND r.turn = 'performer')))
         OR (r.requester_id = $1 AND (r.state IN ('offered', 'reported')
                OR (r.state = 'countered' AND r.turn = 'requester'))))",
        access = ItemAccessCols::sql(),
        access_joins = items::ITEM_ACCESS_JOINS,
    );
    c.query(&sql, params![member])
        .await?
        .into_iter()
        .map(|mut r| items::item_access(&mut r, ItemAccessCols::at(0)))
        .collect()
}

/// Promises due within `window` from `now` that have not been reminded:
/// claims them (sets `reminded_at`) and returns them. The claim is an
/// UPDATE guarded by `reminded_at IS NULL`, so no two nodes and no restart
/// remind twice.
pub async fn claim_due_soon(tx: &mut Tx, now: i64, window: i64) -> Result<Vec<ItemId>, Error> {
    tx.query(
        "UPDATE requests SET reminded_at = $1
         WHERE state = 'promised' AND reminded_at IS NULL AND due_at IS NOT NULL
           AND due_at > $1 AND due_at <= $2
         RETURNING item_id",
        params![now, now + window],
    )
    .await?
    .iter()
    .map(|r| r.i64(0).map(ItemId))
    .collect()
}

/// Promises past due not yet announced as overdue: claims and returns them.
pub async fn claim_overdue(tx: &mut Tx, now: i64) -> Result<Vec<ItemId>, Error> {
    tx.query(
        "UPDATE requests SET overdue_notified_at = $1, reminded_at = COALESCE(reminded_at, $1)
         WHERE state = 'promised' AND overdue_notified_at IS NULL AND due_at IS NOT NULL
           AND due_at <= $1
         RETURNING item_id",
        params![now],
    )
    .await?
    .iter()
    .map(|r| r.i64(0).map(ItemId))
    .collect()
}

// ---- to-dos ----

#[derive(Debug, Clone)]
pub struct TodoRow {
    pub id: i64,
    pub owner_id: MemberId,
    pub title: String,
    pub notes: String,
    pub due_at: Option<i64>,
    pub space_id: Option<SpaceId>,
    pub space_slug: Option<String>,
    pub shared: bool,
    pub item_id: Option<ItemId>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
}

columns! {
    /// A to-do, with its space's slug (`spaces s`, left-joined).
    struct TodoCols => TodoRow {
        id: "t.id",
        owner_id: "t.owner_id",
        title: "t.title",
        notes: "t.notes",
        due_at: "t.due_at",
        space_id: "t.space_id",
        space_slug: "s.slug",
        shared: "t.shared",
        item_id: "t.item_id",
        completed_at: "t.completed_at",
        created_at: "t.created_at",
    }
}

pub struct NewTodo<'a> {
    pub owner_id: MemberId,
    pub title: &'a str,
    pub notes: &'a str,
    pub due_at: Option<i64>,
    pub space_id: Option<SpaceId>,
    pub shared: bool,
    pub item_id: Option<ItemId>,
}

pub async fn insert_todo(tx: &mut Tx, t: &NewTodo<'_>, now: i64) -> Result<i64, Error> {
    tx.query_one(
        "INSERT INTO todos (owner_id, title, notes, due_at, space_id, shared, item_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        params![t.owner_id, t.title, t.notes, t.due_at, t.space_id, t.shared, t.item_id, now],
    )
    .await?
    .i64(0)
}

pub async fn todo_by_id(c: &mut Conn, id: i64) -> Result<Option<TodoRow>, Error> {
    let sql = format!(
        "SELECT {} FROM todos t LEFT JOIN spaces s ON s.id = t.space_id WHERE t.id = $1",
        TodoCols::sql()
    );
    c.query_opt(&sql, params![id])
        .await?
        .map(|mut r| TodoCols::at(0).decode(&mut r))
        .transpose()
}

/// A member's to-dos: open ones, and those completed after `done_since`.
pub async fn todos_of(
    c: &mut Conn,
    member: MemberId,
    done_since: i64,
    limit: i64,
) -> Result<Vec<TodoRow>, Error> {
    let sql = format!(
        "SELECT {} FROM todos t LEFT JOIN spaces s ON s.id = t.space_id
         WHERE t.owner_id = $1 AND (t.completed_at IS NULL OR t.completed_at >= $2)
         ORDER BY t.id DESC LIMIT $3",
        TodoCols::sql()
    );
    c.query(&sql, params![member, done_since, limit])
        .await?
        .into_iter()
        .map(|mut r| TodoCols::at(0).decode(&mut r))
        .collect()
}

pub async fn update_todo(
    tx: &mut Tx,
    id: i64,
    title: &str,
    notes: &str,
    due_at: Option<i64>,
    completed_at: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE todos SET title = $2, notes = $3,
            reminded_at = CASE WHEN due_at IS NOT DISTINCT FROM CAST($4 AS BIGINT) THEN reminded_at ELSE NULL END,
            due_at = $4, completed_at = $5, updated_at = $6 WHERE id = $1",
        params![id, title, notes, due_at, completed_at, now],
    )
    .await?;
    Ok(())
}

pub async fn set_todo_item(tx: &mut Tx, id: i64, item: ItemId) -> Result<(), Error> {
    tx.execute(
        "UPDATE todos SET item_id = $2 WHERE id = $1",
        params![id, item],
    )
    .await?;
    Ok(())
}

pub async fn delete_todo(tx: &mut Tx, id: i64) -> Result<(), Error> {
    tx.execute("DELETE FROM todos WHERE id = $1", params![id])
        .await?;
    Ok(())
}

// ---- calendar feeds ----

pub async fn set_calendar_token(
    tx: &mut Tx,
    member: MemberId,
    token_hash: &str,
    now: i64,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO calendar_feeds (member_id, token_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (member_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        params![member, token_hash, now],
    )
    .await?;
    Ok(())
}

pub async fn revoke_calendar_token(tx: &mut Tx, member: MemberId) -> Result<bool, Error> {
    Ok(tx
        .execute(
            "DELETE FROM calendar_feeds WHERE member_id = $1",
            params![member],
        )
        .await?
        == 1)
}

/// When the member's current calendar secret was issued, if they have one.
pub async fn calendar_issued_at(c: &mut Conn, member: MemberId) -> Result<Option<i64>, Error> {
    c.query_opt(
        "SELECT created_at FROM calendar_feeds WHERE member_id = $1",
        params![member],
    )
    .await?
    .map(|r| r.i64(0))
    .transpose()
}

pub async fn calendar_member(c: &mut Conn, token_hash: &str) -> Result<Option<MemberId>, Error> {
    c.query_opt(
        "SELECT member_id FROM calendar_feeds WHERE token_hash = $1",
        params![token_hash],
    )
    .await?
    .map(|r| r.i64(0).map(MemberId))
    .transpose()
}
