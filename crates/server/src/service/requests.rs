//! Conversations for action: requests and offers, their acts, My work,
//! to-dos, reminders and the calendar feed.
//!
//! A request is an item (kind `request` or `offer`) — so it has an
//! audience, comments, followers and a place in streams — plus a row with
//! the two parties, the state, whose turn it is and the terms. Whether an
//! act is allowed is decided only by `domain::cfa::apply`; every act is an
//! activity (verb = the act) and notifies the other party.

use domain::cfa::{self, Act, Role as Party, State};
use domain::kinds::{AudienceKind, ItemKind, NotificationReason, ObjectType, Verb};
use domain::{Handle, ItemId, Markdown, MemberId, ShortText, SpaceId, ValidationError};
use store::activities::{self, NewActivity};
use store::items::{self, ItemRow};
use store::requests as rq;
use store::{Conn, Tx, audience, fanout, follows, notifications};

use crate::context::Ctx;
use crate::error::{AppError, AppResult, Checks};
use crate::service::items::{MAX_BODY_CHARS, load_item, render};
use crate::service::spaces::load_space;
use crate::service::viewer::{Viewer, member_can_see, visible};

/// The rows the request services return, as their read models.
pub use store::requests::{ActRow, RequestRow, TodoRow};

/// What "done recently" covers.
pub const RECENT_MICROS: i64 = 14 * 24 * 3600 * 1_000_000;
/// The performer is reminded this long before the due time.
pub const REMIND_BEFORE_MICROS: i64 = 24 * 3600 * 1_000_000;
/// The act-like nudge: the requester asks for a progress report.
pub const ASK_PROGRESS: &str = "ask_progress";

fn not_found(id: ItemId) -> AppError {
    AppError::NotFound(format!("There is no request {id} that you can see."))
}

/// Terms as a person writes them; absent fields keep the current terms.
#[derive(Debug, Default, Clone)]
pub struct TermsInput {
    pub title: Option<String>,
    pub conditions: Option<String>,
    /// RFC 3339, or a local `YYYY-MM-DDTHH:MM` in the viewer's time zone;
    /// an empty string removes the due time.
    pub due: Option<String>,
}

#[derive(Debug, Clone)]
struct Terms {
    title: String,
    conditions: String,
    conditions_html: String,
    due_at: Option<i64>,
}

/// Parses a due time: RFC 3339, or a civil date-time (or date) in `tz`.
pub fn parse_due(input: &str, tz: &str) -> Result<Option<i64>, ValidationError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ValidationError::new(
            "due",
            "Give the due time as a date and time, like 2030-05-01T17:00 or 2030-05-01T17:00:00Z.",
        )
    };
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(Some(ts.as_microsecond()));
    }
    let tz = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    let civil = s
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| {
            s.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::time(17, 0, 0, 0)))
        })
        .map_err(|_| bad())?;
    let zoned = civil.to_zoned(tz).map_err(|_| bad())?;
    Ok(Some(zoned.timestamp().as_microsecond()))
}

fn parse_title(s: &str) -> Result<ShortText, ValidationError> {
    let t = ShortText::parse("title", s, 200)?;
    if t.is_empty() {
        return Err(ValidationError::new(
            "title",
            "Say in a few words what is asked or offered.",
        ));
    }
    Ok(t)
}

async fn terms(
    c: &mut Conn,
    viewer: &Viewer,
    input: &TermsInput,
    base: Option<&RequestRow>,
) -> AppResult<Terms> {
    let mut checks = Checks::default();
    let title = match (&input.title, base) {
        (Some(t), _) => checks.check(parse_title(t)).map(|t| t.as_str().to_owned()),
        (None, Some(b)) => Some(b.title.clone()),
        (None, None) => checks.check(parse_title("")).map(|t| t.as_str().to_owned()),
    };
    let conditions = match (&input.conditions, base) {
        (Some(c), _) => checks
            .check(Markdown::parse("conditions", c, MAX_BODY_CHARS))
            .map(|m| m.as_str().to_owned()),
        (None, Some(b)) => Some(b.conditions.clone()),
        (None, None) => Some(String::new()),
    };
    let due_at = match (&input.due, base) {
        (Some(d), _) => checks.check(parse_due(d, &viewer.member.time_zone)),
        (None, Some(b)) => Some(b.due_at),
        (None, None) => Some(None),
    };
    checks.finish()?;
    let conditions = conditions.expect("checked");
    let conditions_html = if conditions.trim().is_empty() {
        String::new()
    } else {
        render(c, &conditions).await?.0
    };
    Ok(Terms {
        title: title.expect("checked"),
        conditions,
        conditions_html,
        due_at: due_at.expect("checked"),
    })
}

#[derive(Debug, Clone)]
pub struct RequestInput {
    /// A request (the viewer asks) or an offer (the viewer offers), as
    /// `ItemKind::conversation` reads it.
    pub kind: ItemKind,
    /// The other party, one request per handle ([`parse_to`] reads them).
    pub to: Vec<Handle>,
    /// Post it in this space for everyone there to see; direct otherwise.
    pub space: Option<String>,
    pub terms: TermsInput,
    pub message: Option<String>,
}

/// Reads whom a request names: handles separated by commas or spaces, with
/// or without `@`. Text that cannot be a handle names nobody, and is
/// refused as an unknown handle is.
pub fn parse_to(to: &[String]) -> AppResult<Vec<Handle>> {
    to.iter()
        .flat_map(|h| h.split([',', ' ']))
        .map(|h| h.trim().trim_start_matches('@').to_lowercase())
        .filter(|h| !h.is_empty())
        .map(|h| Handle::parse(&h).map_err(|_| no_active_member(&h)))
        .collect()
}

fn no_active_member(handle: &str) -> AppError {
    AppError::invalid(
        "to",
        format!("There is no active member @{handle}. Check the handle."),
    )
}

/// A request as one viewer sees it.
#[derive(Debug, Clone)]
pub struct RequestDetail {
    pub request: RequestRow,
    pub item: ItemRow,
    pub acts: Vec<ActRow>,
    pub state: State,
    pub turn: Option<Party>,
    /// The viewer's part, if a party.
    pub viewer_role: Option<Party>,
    /// Every (act, role) the table allows now.
    pub allowed: Vec<(Act, Party)>,
}

impl RequestDetail {
    /// The acts the viewer may make now.
    pub fn viewer_acts(&self) -> Vec<Act> {
        match self.viewer_role {
            Some(r) => self
                .allowed
                .iter()
                .filter(|(_, who)| *who == r)
                .map(|(a, _)| *a)
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn may_ask_progress(&self) -> bool {
        self.viewer_role == Some(Party::Requester) && self.state == State::Promised
    }
}

fn state_of(r: &RequestRow) -> AppResult<(State, Option<Party>)> {
    let state = State::parse(&r.state).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let turn = r
        .turn
        .as_deref()
        .map(Party::parse)
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok((state, turn))
}

fn role_of(r: &RequestRow, member: MemberId) -> Option<Party> {
    if r.requester_id == member {
        Some(Party::Requester)
    } else if r.performer_id == member {
        Some(Party::Performer)
    } else {
        None
    }
}

fn party_id(r: &RequestRow, p: Party) -> MemberId {
    match p {
        Party::Requester => r.requester_id,
        Party::Performer => r.performer_id,
    }
}

async fn load(c: &mut Conn, viewer: &Viewer, id: ItemId) -> AppResult<(ItemRow, RequestRow)> {
    let item = load_item(c, viewer, id).await.map_err(|_| not_found(id))?;
    let req = rq::request_by_item(c, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if item.deleted_at.is_some() {
        return Err(not_found(id));
    }
    Ok((item, req))
}

fn detail(
    viewer: &Viewer,
    item: ItemRow,
    request: RequestRow,
    acts: Vec<ActRow>,
) -> AppResult<RequestDetail> {
    let (state, turn) = state_of(&request)?;
    Ok(RequestDetail {
        viewer_role: role_of(&request, viewer.id()),
        allowed: cfa::allowed(Some(state), turn),
        turn: cfa::whose_turn(state, turn),
        state,
        item,
        request,
        acts,
    })
}

pub async fn get(ctx: &Ctx, viewer: &Viewer, id: ItemId) -> AppResult<RequestDetail> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let (item, req) = load(&mut c, viewer, id).await?;
    let acts = rq::acts(&mut c, id).await?;
    detail(viewer, item, req, acts)
}

/// Appends the act's activity, fans it out to the request's followers and
/// the two parties, and notifies the other party.
async fn announce(
    tx: &mut Tx,
    viewer: &Viewer,
    item: &ItemRow,
    verb: Verb,
    notify: &[MemberId],
    extra_targets: &[(&str, String)],
    now: i64,
) -> AppResult<i64> {
    let a = activities::append_activity(
        tx,
        &NewActivity {
            actor_id: viewer.id(),
            verb,
            object_type: ObjectType::Item,
            object_id: item.id.get(),
            target_type: item.space_id.map(|_| ObjectType::Space),
            target_id: item.space_id.map(SpaceId::get),
            item_id: Some(item.id),
            space_id: item.space_id,
        },
        now,
    )
    .await?;
    for m in notify.iter().filter(|m| **m != viewer.id()) {
        notifications::notify(tx, *m, a, NotificationReason::Request, now).await?;
    }
    let mut targets: Vec<(&str, String)> = vec![("item", item.id.to_string())];
    targets.extend(extra_targets.iter().cloned());
    let mut extra = vec![viewer.id()];
    extra.extend(notify.iter().copied());
    extra.sort_unstable();
    extra.dedup();
    fanout::fan_out(tx, a, item, (&targets, None), &extra, now).await?;
    Ok(a)
}

async fn render_message(c: &mut Conn, message: Option<&str>) -> AppResult<(String, String)> {
    let m = Markdown::parse("message", message.unwrap_or(""), MAX_BODY_CHARS)?;
    let text = m.as_str().trim().to_owned();
    if text.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let html = render(c, &text).await?.0;
    Ok((text, html))
}

/// Creates one request (or offer) per named person; returns their ids.
pub async fn create(ctx: &Ctx, viewer: &Viewer, input: &RequestInput) -> AppResult<Vec<ItemId>> {
    let db = &ctx.db;
    let act = match input.kind {
        ItemKind::Request => Act::Request,
        ItemKind::Offer => Act::Offer,
        // The edge parses with `ItemKind::conversation`, so no other kind
        // arrives from a person; a caller in the code gets the same answer.
        ItemKind::Post | ItemKind::Todo => {
            return Err(ItemKind::conversation(input.kind.as_str())
                .unwrap_err()
                .into());
        }
    };
    let handles: Vec<String> = input.to.iter().map(|h| h.as_str().to_owned()).collect();
    if handles.is_empty() {
        return Err(AppError::invalid(
            "to",
            match act {
                Act::Offer => "Name the person you offer this to.",
                _ => "Name the person you ask.",
            },
        ));
    }
    let now = ctx.now();
    let mut tx = db.write().await?;
    let t = terms(&mut tx, viewer, &input.terms, None).await?;
    let (msg, msg_html) = render_message(&mut tx, input.message.as_deref()).await?;
    let found = audience::members_by_handles(&mut tx, &handles).await?;
    let mut others = Vec::new();
    for h in &handles {
        match found.iter().find(|f| &f.1 == h && f.4) {
            Some(f) if f.0 == viewer.id() => {
                return Err(AppError::invalid(
                    "to",
                    "A request is between two people; for yourself, write a to-do.",
                ));
            }
            Some(f) => {
                if !others.contains(&f.0) {
                    others.push(f.0);
                }
            }
            None => return Err(no_active_member(h)),
        }
    }
    let space = match input
        .space
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(slug) => {
            let s = load_space(&mut tx, viewer, slug).await?;
            let may_post = s.viewer_role.is_some()
                || (s.visibility == domain::social::SpaceVisibility::Open
                    && viewer.role() != domain::Role::Guest);
            if !may_post || s.archived_at.is_some() {
                return Err(AppError::Forbidden(
                    "Only members of the space post requests in it.".into(),
                ));
            }
            Some(s)
        }
        None => None,
    };
    let (state, _) = cfa::apply(None, None, party_of_creator(act), act)
        .map_err(|r| AppError::Internal(anyhow::anyhow!("{r}")))?;
    let mut ids = Vec::new();
    for other in others {
        let (requester, performer) = match act {
            Act::Offer => (other, viewer.id()),
            _ => (viewer.id(), other),
        };
        let id = items::insert_item(
            &mut tx,
            &items::NewItem {
                kind: if act == Act::Offer {
                    ItemKind::Offer
                } else {
                    ItemKind::Request
                },
                author_id: viewer.id(),
                audience: if space.is_some() {
                    AudienceKind::Space
                } else {
                    AudienceKind::Direct
                },
                space_id: space.as_ref().map(|s| s.id),
                title: &t.title,
                body: &t.conditions,
                body_html: &t.conditions_html,
                ack_requested: false,
            },
            now,
        )
        .await?;
        items::set_item_recipients(&mut tx, id, &[other]).await?;
        let item = items::item_by_id(&mut tx, viewer.id(), id)
            .await?
            .ok_or(store::Error::NotFound)?;
        if !member_can_see(&mut tx, other, &item).await? {
            return Err(AppError::invalid(
                "to",
                "Someone you named cannot see that space; ask them directly instead.",
            ));
        }
        let turn = cfa::whose_turn(state, None);
        rq::insert_request(
            &mut tx,
            &rq::NewRequest {
                item_id: id,
                requester_id: requester,
                performer_id: performer,
                state: state.as_str(),
                turn: turn.map(Party::as_str),
                title: &t.title,
                conditions: &t.conditions,
                conditions_html: &t.conditions_html,
                due_at: t.due_at,
            },
            now,
        )
        .await?;
        for m in [viewer.id(), other] {
            follows::auto_follow(&mut tx, m, "item", &id.to_string(), "watching", now).await?;
        }
        let mut targets = vec![("member", viewer.id().to_string())];
        if let Some(s) = &space {
            targets.push(("space", s.id.to_string()));
        }
        let a = announce(
            &mut tx,
            viewer,
            &item,
            Verb::Act(act),
            &[other],
            &targets,
            now,
        )
        .await?;
        // A request or offer in a space is one of its items: list mode
        // mails it like a post.
        if let Some(s) = &space {
            store::lists::enqueue(&mut tx, s.id, id, None, now).await?;
        }
        rq::insert_act(
            &mut tx,
            &rq::NewAct {
                item_id: id,
                actor_id: viewer.id(),
                act: act.as_str(),
                from_state: None,
                to_state: state.as_str(),
                message: &msg,
                message_html: &msg_html,
                terms: Some((&t.title, &t.conditions, t.due_at)),
                activity_id: a,
            },
            now,
        )
        .await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

fn party_of_creator(act: Act) -> Party {
    if act == Act::Offer {
        Party::Performer
    } else {
        Party::Requester
    }
}

#[derive(Debug, Default, Clone)]
pub struct ActInput {
    /// One of the table's acts, or `ask_progress`.
    pub act: String,
    pub message: Option<String>,
    /// New terms, for a counter.
    pub terms: Option<TermsInput>,
    /// The version the caller saw; a different current version is a
    /// conflict. Without it, the act applies to the state as it is.
    pub version: Option<i64>,
}

fn refusal(state: State, allowed: &[(Act, Party)], extra: &str) -> AppError {
    let mut detail = format!("This request is {}. ", state.as_str());
    detail.push_str(extra);
    detail.push_str(
        &cfa::Refusal {
            allowed: allowed.to_vec(),
        }
        .to_string(),
    );
    AppError::ActNotAllowed {
        detail,
        allowed: allowed
            .iter()
            .map(|(a, r)| (a.as_str().to_owned(), r.as_str().to_owned()))
            .collect(),
    }
}

/// Makes an act; returns the request as it is afterwards. A refused act
/// changes nothing.
pub async fn act(
    ctx: &Ctx,
    viewer: &Viewer,
    id: ItemId,
    input: &ActInput,
) -> AppResult<RequestDetail> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let (item, req) = load(&mut tx, viewer, id).await?;
    let (state, turn) = state_of(&req)?;
    let role = role_of(&req, viewer.id());
    if let Some(v) = input.version
        && v != req.version
    {
        return Err(AppError::Conflict {
            detail: "This request changed since you loaded it. Reload it and decide again.".into(),
            field: None,
        });
    }
    let (msg, msg_html) = render_message(&mut tx, input.message.as_deref()).await?;
    let allowed = cfa::allowed(Some(state), turn);
    let Some(role) = role else {
        return Err(refusal(
            state,
            &allowed,
            "Only the requester and the performer act on it; you may comment. ",
        ));
    };
    if input.act.trim() == ASK_PROGRESS {
        if role != Party::Requester || state != State::Promised {
            return Err(refusal(
                state,
                &allowed,
                "The requester may ask for a progress report while the promise stands. ",
            ));
        }
        let a = announce(
            &mut tx,
            viewer,
            &item,
            Verb::AskProgress,
            &[req.performer_id],
            &[],
            now,
        )
        .await?;
        rq::insert_act(
            &mut tx,
            &rq::NewAct {
                item_id: id,
                actor_id: viewer.id(),
                act: ASK_PROGRESS,
                from_state: Some(state.as_str()),
                to_state: state.as_str(),
                message: &msg,
                message_html: &msg_html,
                terms: None,
                activity_id: a,
            },
            now,
        )
        .await?;
    } else {
        let act = Act::parse(&input.act)?;
        let (new_state, new_turn) =
            cfa::apply(Some(state), turn, role, act).map_err(|r| refusal(state, &r.allowed, ""))?;
        let t = match (&input.terms, act) {
            (Some(ti), Act::Counter) => terms(&mut tx, viewer, ti, Some(&req)).await?,
            (None, Act::Counter) => {
                return Err(AppError::invalid(
                    "terms",
                    "A counter-offer proposes new terms: a title, conditions or a due time.",
                ));
            }
            _ => Terms {
                title: req.title.clone(),
                conditions: req.conditions.clone(),
                conditions_html: req.conditions_html.clone(),
                due_at: req.due_at,
            },
        };
        let moved = rq::transition(
            &mut tx,
            id,
            req.version,
            &rq::Transition {
                state: new_state.as_str(),
                turn: new_turn.map(Party::as_str),
                title: &t.title,
                conditions: &t.conditions,
                conditions_html: &t.conditions_html,
                due_at: t.due_at,
                closed: new_state.is_closed(),
            },
            now,
        )
        .await?;
        if !moved {
            return Err(AppError::Conflict {
                detail:
                    "Someone acted on this request at the same moment. Reload it and decide again."
                        .into(),
                field: None,
            });
        }
        if act == Act::Counter {
            items::edit_item(
                &mut tx,
                id,
                viewer.id(),
                &t.title,
                &t.conditions,
                &t.conditions_html,
                now,
            )
            .await?;
        }
        let other = party_id(&req, role.other());
        let a = announce(&mut tx, viewer, &item, Verb::Act(act), &[other], &[], now).await?;
        rq::insert_act(
            &mut tx,
            &rq::NewAct {
                item_id: id,
                actor_id: viewer.id(),
                act: act.as_str(),
                from_state: Some(state.as_str()),
                to_state: new_state.as_str(),
                message: &msg,
                message_html: &msg_html,
                terms: (act == Act::Counter).then_some((
                    t.title.as_str(),
                    t.conditions.as_str(),
                    t.due_at,
                )),
                activity_id: a,
            },
            now,
        )
        .await?;
    }
    let req = rq::request_by_item(&mut tx, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let item = items::item_by_id(&mut tx, viewer.id(), id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let acts = rq::acts(&mut tx, id).await?;
    tx.commit().await?;
    detail(viewer, item, req, acts)
}

// ---- My work ----

/// One request in My work, with the viewer's part in it.
#[derive(Debug, Clone)]
pub struct WorkEntry {
    pub request: RequestRow,
    pub state: State,
    pub turn: Option<Party>,
    pub viewer_role: Party,
    pub overdue: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Work {
    pub waiting_on_me: Vec<WorkEntry>,
    pub i_promised: Vec<WorkEntry>,
    pub promised_to_me: Vec<WorkEntry>,
    pub overdue: Vec<WorkEntry>,
    pub done_recently: Vec<WorkEntry>,
    /// Waiting on the other party (asked or offered, not yet answered).
    pub waiting_on_others: Vec<WorkEntry>,
}

/// The numbers for the header: what I must do next, and what is overdue.
pub async fn counts(ctx: &Ctx, viewer: &Viewer) -> AppResult<(usize, usize)> {
    let w = work(ctx, viewer).await?;
    Ok((w.waiting_on_me.len(), w.overdue.len()))
}

/// The header's number: requests waiting on the viewer's act, in one query.
pub async fn waiting_count(ctx: &Ctx, viewer: &Viewer) -> AppResult<i64> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let waiting = rq::waiting_on(&mut c, viewer.id()).await?;
    Ok(waiting.iter().filter(|i| visible(viewer, i)).count() as i64)
}

pub async fn work(ctx: &Ctx, viewer: &Viewer) -> AppResult<Work> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut c = db.read().await?;
    let rows = rq::requests_of(&mut c, viewer.id(), now - RECENT_MICROS, 500).await?;
    let mut w = Work::default();
    // A party who can no longer see a request's item no longer lists it.
    for (r, _) in rows.into_iter().filter(|(_, item)| visible(viewer, item)) {
        let (state, turn) = state_of(&r)?;
        let Some(viewer_role) = role_of(&r, viewer.id()) else {
            continue;
        };
        let turn = cfa::whose_turn(state, turn);
        let overdue = state == State::Promised && r.due_at.is_some_and(|d| d <= now);
        let e = WorkEntry {
            request: r,
            state,
            turn,
            viewer_role,
            overdue,
        };
        if state == State::Completed {
            w.done_recently.push(e);
            continue;
        }
        if state.is_closed() {
            continue;
        }
        if overdue {
            w.overdue.push(e.clone());
        }
        if turn == Some(viewer_role) {
            w.waiting_on_me.push(e.clone());
        } else if !state.is_promise() {
            w.waiting_on_others.push(e.clone());
        }
        if state.is_promise() {
            match viewer_role {
                Party::Performer => w.i_promised.push(e),
                Party::Requester => w.promised_to_me.push(e),
            }
        }
    }
    // Soonest due first where it matters.
    let by_due = |a: &WorkEntry, b: &WorkEntry| {
        a.request
            .due_at
            .unwrap_or(i64::MAX)
            .cmp(&b.request.due_at.unwrap_or(i64::MAX))
    };
    w.waiting_on_me.sort_by(by_due);
    w.i_promised.sort_by(by_due);
    w.promised_to_me.sort_by(by_due);
    w.overdue.sort_by(by_due);
    Ok(w)
}

// ---- to-dos ----

/// A to-do, or a promise the viewer made (checking it off reports it).
#[derive(Debug, Clone)]
pub enum TodoEntry {
    Todo(TodoRow),
    Promise(RequestRow),
}

#[derive(Debug, Default, Clone)]
pub struct TodoInput {
    pub title: Option<String>,
    pub notes: Option<String>,
    pub due: Option<String>,
    pub space: Option<String>,
    pub shared: Option<bool>,
    pub completed: Option<bool>,
}

fn todo_not_found(id: &str) -> AppError {
    AppError::NotFound(format!("There is no to-do {id} of yours."))
}

pub async fn todos(ctx: &Ctx, viewer: &Viewer) -> AppResult<Vec<TodoEntry>> {
    let db = &ctx.db;
    let now = ctx.now();
    let mut c = db.read().await?;
    let mut out: Vec<TodoEntry> = rq::requests_of(&mut c, viewer.id(), now, 500)
        .await?
        .into_iter()
        .filter(|(_, item)| visible(viewer, item))
        .map(|(r, _)| r)
        .filter(|r| r.performer_id == viewer.id() && r.state == State::Promised.as_str())
        .map(TodoEntry::Promise)
        .collect();
    out.extend(
        rq::todos_of(&mut c, viewer.id(), now - RECENT_MICROS, 500)
            .await?
            .into_iter()
            .map(TodoEntry::Todo),
    );
    Ok(out)
}

pub async fn create_todo(ctx: &Ctx, viewer: &Viewer, input: &TodoInput) -> AppResult<TodoRow> {
    let db = &ctx.db;
    let mut checks = Checks::default();
    let title = checks.check(parse_todo_title(input.title.as_deref().unwrap_or("")));
    let notes = checks.check(Markdown::parse(
        "notes",
        input.notes.as_deref().unwrap_or(""),
        MAX_BODY_CHARS,
    ));
    let due = checks.check(parse_due(
        input.due.as_deref().unwrap_or(""),
        &viewer.member.time_zone,
    ));
    checks.finish()?;
    let (title, notes, due) = (
        title.expect("checked"),
        notes.expect("checked"),
        due.expect("checked"),
    );
    let shared = input.shared.unwrap_or(false);
    let now = ctx.now();
    let mut tx = db.write().await?;
    let space = match input
        .space
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(slug) => Some(load_space(&mut tx, viewer, slug).await?),
        None => None,
    };
    if shared && viewer.role() == domain::Role::Guest && space.is_none() {
        return Err(AppError::Forbidden(
            "Guests share to-dos in the spaces they were invited to.".into(),
        ));
    }
    if shared
        && let Some(s) = &space
        && s.viewer_role.is_none()
    {
        return Err(AppError::Forbidden(
            "Join the space first to share a to-do there.".into(),
        ));
    }
    let item_id = if shared {
        // A shared to-do is an item, so checking it off is an activity its
        // audience (the space's, or every member for the profile) sees.
        Some(
            items::insert_item(
                &mut tx,
                &items::NewItem {
                    kind: ItemKind::Todo,
                    author_id: viewer.id(),
                    audience: if space.is_some() {
                        AudienceKind::Space
                    } else {
                        AudienceKind::Profile
                    },
                    space_id: space.as_ref().map(|s| s.id),
                    title: title.as_str(),
                    body: "",
                    body_html: "",
                    ack_requested: false,
                },
                now,
            )
            .await?,
        )
    } else {
        None
    };
    let id = rq::insert_todo(
        &mut tx,
        &rq::NewTodo {
            owner_id: viewer.id(),
            title: title.as_str(),
            notes: notes.as_str(),
            due_at: due,
            space_id: space.as_ref().map(|s| s.id),
            shared,
            item_id,
        },
        now,
    )
    .await?;
    let t = rq::todo_by_id(&mut tx, id)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(t)
}

fn parse_todo_title(s: &str) -> Result<ShortText, ValidationError> {
    let t = ShortText::parse("title", s, 200)?;
    if t.is_empty() {
        return Err(ValidationError::new("title", "Write what there is to do."));
    }
    Ok(t)
}

/// The id of a promise in the to-do list: `r<request id>`.
pub fn promise_todo_id(request: ItemId) -> String {
    format!("r{request}")
}

pub enum TodoUpdated {
    Todo(TodoRow),
    Promise(Box<RequestDetail>),
}

/// Edits, completes or reopens a to-do. For a promise (`r<id>`),
/// completing it is the act "report".
pub async fn update_todo(
    ctx: &Ctx,
    viewer: &Viewer,
    id: &str,
    input: &TodoInput,
) -> AppResult<TodoUpdated> {
    let db = &ctx.db;
    if let Some(rid) = id.strip_prefix('r').and_then(|s| s.parse::<ItemId>().ok()) {
        if input.completed != Some(true) {
            return Err(AppError::invalid(
                "completed",
                "A promise leaves the list when you report it done: send completed: true. \
                 Change its terms on the request.",
            ));
        }
        let d = act(
            ctx,
            viewer,
            rid,
            &ActInput {
                act: Act::Report.as_str().into(),
                message: input.notes.clone(),
                terms: None,
                version: None,
            },
        )
        .await?;
        return Ok(TodoUpdated::Promise(Box::new(d)));
    }
    let tid: i64 = id.parse().map_err(|_| todo_not_found(id))?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let t = rq::todo_by_id(&mut tx, tid)
        .await?
        .filter(|t| t.owner_id == viewer.id())
        .ok_or_else(|| todo_not_found(id))?;
    let mut checks = Checks::default();
    let title = match &input.title {
        Some(s) => checks
            .check(parse_todo_title(s))
            .map(|t| t.as_str().to_owned()),
        None => Some(t.title.clone()),
    };
    let notes = match &input.notes {
        Some(s) => checks
            .check(Markdown::parse("notes", s, MAX_BODY_CHARS))
            .map(|m| m.as_str().to_owned()),
        None => Some(t.notes.clone()),
    };
    let due = match &input.due {
        Some(s) => checks.check(parse_due(s, &viewer.member.time_zone)),
        None => Some(t.due_at),
    };
    checks.finish()?;
    let completed_at = match input.completed {
        Some(true) => t.completed_at.or(Some(now)),
        Some(false) => None,
        None => t.completed_at,
    };
    let title = title.expect("checked");
    rq::update_todo(
        &mut tx,
        tid,
        &title,
        &notes.expect("checked"),
        due.expect("checked"),
        completed_at,
        now,
    )
    .await?;
    if let Some(item_id) = t.item_id {
        if title != t.title {
            items::edit_item(&mut tx, item_id, viewer.id(), &title, "", "", now).await?;
        }
        if t.completed_at.is_none() && completed_at.is_some() {
            // "Ana completed: Draft Q3 plan" for the owner's followers and
            // the space's.
            let item = items::item_by_id(&mut tx, viewer.id(), item_id)
                .await?
                .ok_or(store::Error::NotFound)?;
            let mut targets = vec![("member", viewer.id().to_string())];
            if let Some(s) = t.space_id {
                targets.push(("space", s.to_string()));
            }
            announce(&mut tx, viewer, &item, Verb::Completed, &[], &targets, now).await?;
        }
    }
    let t = rq::todo_by_id(&mut tx, tid)
        .await?
        .ok_or(store::Error::NotFound)?;
    tx.commit().await?;
    Ok(TodoUpdated::Todo(t))
}

pub async fn delete_todo(ctx: &Ctx, viewer: &Viewer, id: &str) -> AppResult<()> {
    let db = &ctx.db;
    let tid: i64 = id.parse().map_err(|_| todo_not_found(id))?;
    let now = ctx.now();
    let mut tx = db.write().await?;
    let t = rq::todo_by_id(&mut tx, tid)
        .await?
        .filter(|t| t.owner_id == viewer.id())
        .ok_or_else(|| todo_not_found(id))?;
    rq::delete_todo(&mut tx, tid).await?;
    if let Some(item) = t.item_id {
        items::delete_item(&mut tx, item, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---- reminders ----

/// Sends due-soon reminders (to the performer, a day before) and overdue
/// notices (to both parties), each once: the rows are claimed in the same
/// transaction that notifies, so a restart or a second node never repeats
/// one. Returns how many were sent.
pub async fn run_reminders(ctx: &Ctx, now: i64) -> AppResult<usize> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    let soon = rq::claim_due_soon(&mut tx, now, REMIND_BEFORE_MICROS).await?;
    let overdue = rq::claim_overdue(&mut tx, now).await?;
    let mut sent = 0;
    for (ids, verb, reason) in [
        (&soon, Verb::DueSoon, NotificationReason::DueSoon),
        (&overdue, Verb::Overdue, NotificationReason::Overdue),
    ] {
        for id in ids {
            let Some(r) = rq::request_by_item(&mut tx, *id).await? else {
                continue;
            };
            let a = activities::append_activity(
                &mut tx,
                &NewActivity::on_item(r.performer_id, verb, *id, None),
                now,
            )
            .await?;
            notifications::notify(&mut tx, r.performer_id, a, reason, now).await?;
            if verb == Verb::Overdue {
                notifications::notify(&mut tx, r.requester_id, a, reason, now).await?;
            }
            sent += 1;
        }
    }
    tx.commit().await?;
    Ok(sent)
}
