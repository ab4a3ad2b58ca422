//! Conversations for action (requests, offers, acts), My work and to-dos.

use crate::service::requests::{ActRow, RequestRow, TodoRow};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::kinds::ItemKind;
use domain::{ItemId, MemberId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiPath, ApiViewer};
use crate::http::problem::{AllowedAct, Problem};
use crate::service::requests::{
    self as svc, ActInput, RequestDetail, RequestInput, TermsInput, TodoEntry, TodoInput,
    TodoUpdated, WorkEntry,
};
use crate::state::AppState;
use crate::views::{opt_time, time};

fn request_id(s: &str) -> Result<ItemId, Problem> {
    s.parse()
        .map_err(|_| Problem::not_found(format!("There is no request {s} that you can see.")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    pub handle: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermsView {
    pub title: String,
    /// Conditions of satisfaction, markdown.
    pub conditions: String,
    pub conditions_html: String,
    pub due: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActView {
    pub id: String,
    pub act: String,
    pub actor: String,
    pub actor_name: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub message: String,
    pub message_html: String,
    /// The terms proposed, for request, offer and counter.
    pub terms: Option<TermsView>,
    pub published: String,
}

impl From<&ActRow> for ActView {
    fn from(a: &ActRow) -> Self {
        ActView {
            id: a.id.to_string(),
            act: a.act.clone(),
            actor: a.actor_handle.clone(),
            actor_name: a.actor_name.clone(),
            from_state: a.from_state.clone(),
            to_state: a.to_state.clone(),
            message: a.message.clone(),
            message_html: a.message_html.clone(),
            terms: a.title.as_ref().map(|t| TermsView {
                title: t.clone(),
                conditions: a.conditions.clone().unwrap_or_default(),
                conditions_html: String::new(),
                due: opt_time(a.due_at),
            }),
            published: time(a.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `request` or `offer`: how the conversation began.
    pub kind: String,
    pub state: String,
    /// Who must act next: `requester`, `performer`, or null when closed.
    pub turn: Option<String>,
    /// The handle of the person who must act next.
    pub waiting_on: Option<String>,
    pub requester: PartyView,
    pub performer: PartyView,
    pub terms: TermsView,
    /// The space it was posted in; null for a direct request.
    pub space: Option<String>,
    /// Pass back with an act to make sure nobody acted in between.
    pub version: i64,
    /// The viewer's part: `requester`, `performer` or null.
    pub viewer_role: Option<String>,
    /// Every act possible now and who may make it.
    pub allowed: Vec<AllowedAct>,
    /// The acts the viewer may make now (and `ask_progress` when open to them).
    pub viewer_acts: Vec<String>,
    pub acts: Vec<ActView>,
    pub created_at: String,
    pub updated_at: String,
}

fn party(id: MemberId, handle: &str, name: &str) -> PartyView {
    PartyView {
        id: id.to_string(),
        handle: handle.to_owned(),
        display_name: name.to_owned(),
    }
}

fn terms_view(r: &RequestRow) -> TermsView {
    TermsView {
        title: r.title.clone(),
        conditions: r.conditions.clone(),
        conditions_html: r.conditions_html.clone(),
        due: opt_time(r.due_at),
    }
}

fn waiting_on(r: &RequestRow, turn: Option<domain::cfa::Role>) -> Option<String> {
    turn.map(|t| match t {
        domain::cfa::Role::Requester => r.requester_handle.clone(),
        domain::cfa::Role::Performer => r.performer_handle.clone(),
    })
}

impl From<&RequestDetail> for RequestView {
    fn from(d: &RequestDetail) -> Self {
        let r = &d.request;
        let mut viewer_acts: Vec<String> = d
            .viewer_acts()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        if d.may_ask_progress() {
            viewer_acts.push(svc::ASK_PROGRESS.to_owned());
        }
        RequestView {
            id: r.item_id.to_string(),
            kind: d.item.kind.to_string(),
            state: d.state.as_str().to_owned(),
            turn: d.turn.map(|t| t.as_str().to_owned()),
            waiting_on: waiting_on(r, d.turn),
            requester: party(r.requester_id, &r.requester_handle, &r.requester_name),
            performer: party(r.performer_id, &r.performer_handle, &r.performer_name),
            terms: terms_view(r),
            space: d.item.space_slug.clone(),
            version: r.version,
            viewer_role: d.viewer_role.map(|x| x.as_str().to_owned()),
            allowed: d
                .allowed
                .iter()
                .map(|(a, who)| AllowedAct {
                    act: a.as_str().to_owned(),
                    role: who.as_str().to_owned(),
                })
                .collect(),
            viewer_acts,
            acts: d.acts.iter().map(ActView::from).collect(),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermsRequest {
    pub title: Option<String>,
    /// Conditions of satisfaction, markdown.
    pub conditions: Option<String>,
    /// RFC 3339; an empty string removes the due time.
    pub due: Option<String>,
}

impl From<TermsRequest> for TermsInput {
    fn from(t: TermsRequest) -> Self {
        TermsInput {
            title: t.title,
            conditions: t.conditions,
            due: t.due,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestRequest {
    /// `request` (you ask; the default) or `offer` (you offer).
    #[serde(default)]
    pub kind: String,
    /// The other party's handle; several handles make one request each.
    pub to: Vec<String>,
    /// Post it in this space (by slug) for everyone there to see.
    pub space: Option<String>,
    pub title: String,
    pub conditions: Option<String>,
    pub due: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedRequests {
    /// One request per person named, in the order named.
    pub items: Vec<RequestView>,
}

/// Starts conversations for action: a request (you are the requester) or
/// an offer (you are the performer), one per person named.
#[utoipa::path(post, path = "/requests", tag = "requests", request_body = NewRequestRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = CreatedRequests), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<NewRequestRequest>,
) -> Result<(StatusCode, Json<CreatedRequests>), Problem> {
    let input = RequestInput {
        kind: ItemKind::conversation(&req.kind).map_err(AppError::from)?,
        to: svc::parse_to(&req.to)?,
        space: req.space,
        terms: TermsInput {
            title: Some(req.title),
            conditions: req.conditions,
            due: req.due,
        },
        message: req.message,
    };
    let ids = svc::create(&state.ctx, &viewer, &input).await?;
    let mut items = Vec::new();
    for id in ids {
        items.push(RequestView::from(&svc::get(&state.ctx, &viewer, id).await?));
    }
    Ok((StatusCode::CREATED, Json(CreatedRequests { items })))
}

/// One request: its state, whose turn it is, its terms, what the viewer
/// may do now, and its history of acts.
#[utoipa::path(get, path = "/requests/{id}", tag = "requests", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RequestView>, Problem> {
    let d = svc::get(&state.ctx, &viewer, request_id(&id)?).await?;
    Ok(Json(RequestView::from(&d)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    /// promise, counter, accept, decline, withdraw, report, renege, cancel,
    /// approve, reject — or `ask_progress` (the requester asks the
    /// performer how it goes).
    pub act: String,
    pub message: Option<String>,
    /// New terms, required for a counter.
    pub terms: Option<TermsRequest>,
    /// The `version` you saw; if someone acted since, the answer is 409.
    pub version: Option<i64>,
}

/// Makes an act. An act the table does not allow now is refused with
/// `/problems/act-not-allowed`, listing what is possible and by whom; the
/// state does not change. Of two concurrent acts one wins, the other gets
/// 409.
#[utoipa::path(post, path = "/requests/{id}/acts", tag = "requests", params(("id" = String, Path)),
    request_body = ActRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn make_act(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ActRequest>,
) -> Result<Json<RequestView>, Problem> {
    let input = ActInput {
        act: req.act,
        message: req.message,
        terms: req.terms.map(TermsInput::from),
        version: req.version,
    };
    let d = svc::act(&state.ctx, &viewer, request_id(&id)?, &input).await?;
    Ok(Json(RequestView::from(&d)))
}

// ---- My work ----

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkItemView {
    pub id: String,
    pub state: String,
    pub title: String,
    pub due: Option<String>,
    pub overdue: bool,
    /// The viewer's part.
    pub role: String,
    pub turn: Option<String>,
    pub waiting_on: Option<String>,
    /// The other party's handle.
    pub with: String,
    pub with_name: String,
    pub updated_at: String,
}

impl From<&WorkEntry> for WorkItemView {
    fn from(e: &WorkEntry) -> Self {
        let r = &e.request;
        let (with, with_name) = match e.viewer_role {
            domain::cfa::Role::Requester => (&r.performer_handle, &r.performer_name),
            domain::cfa::Role::Performer => (&r.requester_handle, &r.requester_name),
        };
        WorkItemView {
            id: r.item_id.to_string(),
            state: e.state.as_str().to_owned(),
            title: r.title.clone(),
            due: opt_time(r.due_at),
            overdue: e.overdue,
            role: e.viewer_role.as_str().to_owned(),
            turn: e.turn.map(|t| t.as_str().to_owned()),
            waiting_on: waiting_on(r, e.turn),
            with: with.clone(),
            with_name: with_name.clone(),
            updated_at: time(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkCounts {
    pub waiting_on_me: usize,
    pub i_promised: usize,
    pub promised_to_me: usize,
    pub overdue: usize,
    pub done_recently: usize,
    pub waiting_on_others: usize,
    pub todos: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkView {
    pub counts: WorkCounts,
    /// Requests where the viewer must act next.
    pub waiting_on_me: Vec<WorkItemView>,
    /// Promises the viewer made that are not yet approved.
    pub i_promised: Vec<WorkItemView>,
    /// Promises made to the viewer that are not yet approved.
    pub promised_to_me: Vec<WorkItemView>,
    pub overdue: Vec<WorkItemView>,
    /// Completed in the last 14 days.
    pub done_recently: Vec<WorkItemView>,
    /// Asked or offered by the viewer, not yet answered.
    pub waiting_on_others: Vec<WorkItemView>,
    /// Open to-dos, the viewer's promises among them.
    pub todos: Vec<TodoView>,
}

/// My work: what I must do next, what I promised, what was promised to
/// me, what is overdue and what got done recently, with counts.
#[utoipa::path(get, path = "/work", tag = "requests",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = WorkView)))]
pub async fn my_work(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<WorkView>, Problem> {
    let w = svc::work(&state.ctx, &viewer).await?;
    let todos: Vec<TodoView> = svc::todos(&state.ctx, &viewer)
        .await?
        .iter()
        .map(TodoView::from)
        .filter(|t| !t.completed)
        .collect();
    let list = |v: &[WorkEntry]| v.iter().map(WorkItemView::from).collect::<Vec<_>>();
    Ok(Json(WorkView {
        counts: WorkCounts {
            waiting_on_me: w.waiting_on_me.len(),
            i_promised: w.i_promised.len(),
            promised_to_me: w.promised_to_me.len(),
            overdue: w.overdue.len(),
            done_recently: w.done_recently.len(),
            waiting_on_others: w.waiting_on_others.len(),
            todos: todos.len(),
        },
        waiting_on_me: list(&w.waiting_on_me),
        i_promised: list(&w.i_promised),
        promised_to_me: list(&w.promised_to_me),
        overdue: list(&w.overdue),
        done_recently: list(&w.done_recently),
        waiting_on_others: list(&w.waiting_on_others),
        todos,
    }))
}

// ---- to-dos ----

#[derive(Debug, Serialize, ToSchema)]
pub struct TodoView {
    /// A to-do's id, or `r<request id>` for a promise you made.
    pub id: String,
    /// `todo` or `promise`.
    pub kind: String,
    pub title: String,
    pub notes: String,
    pub due: Option<String>,
    pub space: Option<String>,
    pub shared: bool,
    pub completed: bool,
    pub completed_at: Option<String>,
    /// For a promise: the request.
    pub request: Option<String>,
}

impl From<&TodoRow> for TodoView {
    fn from(t: &TodoRow) -> Self {
        TodoView {
            id: t.id.to_string(),
            kind: "todo".into(),
            title: t.title.clone(),
            notes: t.notes.clone(),
            due: opt_time(t.due_at),
            space: t.space_slug.clone(),
            shared: t.shared,
            completed: t.completed_at.is_some(),
            completed_at: opt_time(t.completed_at),
            request: None,
        }
    }
}

impl From<&TodoEntry> for TodoView {
    fn from(e: &TodoEntry) -> Self {
        match e {
            TodoEntry::Todo(t) => TodoView::from(t),
            TodoEntry::Promise(r) => TodoView {
                id: svc::promise_todo_id(r.item_id),
                kind: "promise".into(),
                title: r.title.clone(),
                notes: r.conditions.clone(),
                due: opt_time(r.due_at),
                space: None,
                shared: false,
                completed: false,
                completed_at: None,
                request: Some(r.item_id.to_string()),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TodoList {
    pub items: Vec<TodoView>,
    /// Always null: the list is short (open to-dos and the last 14 days).
    pub next: Option<String>,
}

/// My to-dos: open ones, those done in the last 14 days, and the promises
/// I made (checking one off reports it done).
#[utoipa::path(get, path = "/todos", tag = "todos",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = TodoList)))]
pub async fn list_todos(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<TodoList>, Problem> {
    let items = svc::todos(&state.ctx, &viewer)
        .await?
        .iter()
        .map(TodoView::from)
        .collect();
    Ok(Json(TodoList { items, next: None }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TodoRequest {
    pub title: Option<String>,
    pub notes: Option<String>,
    /// RFC 3339; an empty string removes it.
    pub due: Option<String>,
    /// A space slug (on create).
    pub space: Option<String>,
    /// Shared to-dos tell your followers (and the space's) when done.
    pub shared: Option<bool>,
    pub completed: Option<bool>,
}

impl From<TodoRequest> for TodoInput {
    fn from(t: TodoRequest) -> Self {
        TodoInput {
            title: t.title,
            notes: t.notes,
            due: t.due,
            space: t.space,
            shared: t.shared,
            completed: t.completed,
        }
    }
}

/// Adds a to-do (private unless `shared`).
#[utoipa::path(post, path = "/todos", tag = "todos", request_body = TodoRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = TodoView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_todo(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<TodoRequest>,
) -> Result<(StatusCode, Json<TodoView>), Problem> {
    let t = svc::create_todo(&state.ctx, &viewer, &req.into()).await?;
    Ok((StatusCode::CREATED, Json(TodoView::from(&t))))
}

/// Edits, completes or reopens a to-do. Completing a promise (`r<id>`)
/// reports it done to the requester.
#[utoipa::path(patch, path = "/todos/{id}", tag = "todos", params(("id" = String, Path)),
    request_body = TodoRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = TodoView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_todo(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TodoRequest>,
) -> Result<Json<TodoView>, Problem> {
    match svc::update_todo(&state.ctx, &viewer, &id, &req.into()).await? {
        TodoUpdated::Todo(t) => Ok(Json(TodoView::from(&t))),
        TodoUpdated::Promise(d) => {
            let r = &d.request;
            Ok(Json(TodoView {
                id: svc::promise_todo_id(r.item_id),
                kind: "promise".into(),
                title: r.title.clone(),
                notes: r.conditions.clone(),
                due: opt_time(r.due_at),
                space: None,
                shared: false,
                completed: true,
                completed_at: Some(time(r.updated_at)),
                request: Some(r.item_id.to_string()),
            }))
        }
    }
}

/// Deletes a to-do.
#[utoipa::path(delete, path = "/todos/{id}", tag = "todos", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_todo(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    svc::delete_todo(&state.ctx, &viewer, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- calendar ----

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    /// The secret address to subscribe to; anyone with it reads the feed,
    /// so keep it private. Issuing a new one revokes the old one.
    pub url: String,
}

/// Issues (or replaces) your secret iCalendar feed address.
#[utoipa::path(post, path = "/calendar", tag = "requests",
    security(("bearer" = []), ("session" = [])), responses((status = 201, body = CalendarFeed)))]
pub async fn issue_calendar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<(StatusCode, Json<CalendarFeed>), Problem> {
    let token = crate::service::calendar::issue(&state.ctx, &viewer).await?;
    Ok((
        StatusCode::CREATED,
        Json(CalendarFeed {
            url: format!("{}/api/v1/calendar/{token}.ics", state.ctx.base_url),
        }),
    ))
}

/// Revokes your iCalendar feed address.
#[utoipa::path(delete, path = "/calendar", tag = "requests",
    security(("bearer" = []), ("session" = [])), responses((status = 204)))]
pub async fn revoke_calendar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<StatusCode, Problem> {
    crate::service::calendar::revoke(&state.ctx, &viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The iCalendar (RFC 5545) feed of a secret address: due times of open
/// promises and to-dos. No other authentication: the secret is the key.
#[utoipa::path(get, path = "/calendar/{file}", tag = "requests",
    params(("file" = String, Path, description = "`<secret>.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String),
        (status = 404, body = Problem)))]
pub async fn calendar_feed(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let secret = file.strip_suffix(".ics").unwrap_or(&file);
    let body = crate::service::calendar::feed(&state.ctx, secret, &state.ctx.base_url).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response())
}
