//! Pages of conversations for action: My work (with to-dos) and a
//! request's page, whose buttons are exactly the acts the viewer may make
//! now.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use domain::ItemId;
use domain::kinds::ItemKind;
use serde::Deserialize;

use super::views::{Ago, ShellV};
use super::{Acting, done, error_page, member, render, shell_v};
use crate::service::pages;
use crate::service::requests::{
    self as svc, ActInput, RequestInput, TermsInput, TodoEntry, TodoInput, WorkEntry,
};
use crate::state::AppState;

pub struct RowV {
    pub id: ItemId,
    pub title: String,
    pub state: String,
    pub with: String,
    pub with_name: String,
    /// "you" or the other party's name: who acts next.
    pub next: String,
    pub due: String,
    pub overdue: bool,
}

fn due_text(micros: Option<i64>) -> String {
    micros
        .and_then(|m| jiff::Timestamp::from_microsecond(m).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn row(e: &WorkEntry) -> RowV {
    let r = &e.request;
    let (with, with_name) = match e.viewer_role {
        domain::cfa::Role::Requester => (&r.performer_handle, &r.performer_name),
        domain::cfa::Role::Performer => (&r.requester_handle, &r.requester_name),
    };
    RowV {
        id: r.item_id,
        title: r.title.clone(),
        state: e.state.as_str().to_owned(),
        with: with.clone(),
        with_name: with_name.clone(),
        next: match e.turn {
            Some(t) if t == e.viewer_role => "you".into(),
            Some(_) => with_name.clone(),
            None => String::new(),
        },
        due: due_text(r.due_at),
        overdue: e.overdue,
    }
}

pub struct SectionV {
    pub key: &'static str,
    pub title: &'static str,
    pub empty: &'static str,
    pub rows: Vec<RowV>,
}

pub struct TodoV {
    pub id: String,
    pub title: String,
    pub due: String,
    pub done: bool,
    pub shared: bool,
    /// For a promise: the request's page.
    pub link: String,
}

#[derive(Template)]
#[template(path = "work.html")]
pub struct WorkPage {
    s: ShellV,
    sections: Vec<SectionV>,
    todos: Vec<TodoV>,
}

pub async fn work_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (shell, w, todos) = match tokio::try_join!(
        pages::shell(&state.ctx, &v),
        svc::work(&state.ctx, &v),
        svc::todos(&state.ctx, &v)
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e, "/"),
    };
    let rows = |l: &[WorkEntry]| l.iter().map(row).collect::<Vec<_>>();
    let sections = vec![
        SectionV {
            key: "waiting_on_me",
            title: "Waiting on me",
            empty: "Nothing waits on you. Requests, offers and counter-offers you must answer show up here.",
            rows: rows(&w.waiting_on_me),
        },
        SectionV {
            key: "overdue",
            title: "Overdue",
            empty: "Nothing is overdue.",
            rows: rows(&w.overdue),
        },
        SectionV {
            key: "i_promised",
            title: "I promised",
            empty: "No open promises of yours.",
            rows: rows(&w.i_promised),
        },
        SectionV {
            key: "promised_to_me",
            title: "Promised to me",
            empty: "Nobody owes you anything right now.",
            rows: rows(&w.promised_to_me),
        },
        SectionV {
            key: "waiting_on_others",
            title: "Waiting on others",
            empty: "No unanswered requests or offers of yours.",
            rows: rows(&w.waiting_on_others),
        },
        SectionV {
            key: "done_recently",
            title: "Done recently",
            empty: "Nothing completed in the last two weeks.",
            rows: rows(&w.done_recently),
        },
    ];
    let todos = todos
        .iter()
        .map(|t| match t {
            TodoEntry::Todo(t) => TodoV {
                id: t.id.to_string(),
                title: t.title.clone(),
                due: due_text(t.due_at),
                done: t.completed_at.is_some(),
                shared: t.shared,
                link: String::new(),
            },
            TodoEntry::Promise(r) => TodoV {
                id: svc::promise_todo_id(r.item_id),
                title: r.title.clone(),
                due: due_text(r.due_at),
                done: false,
                shared: false,
                link: format!("/requests/{}", r.item_id),
            },
        })
        .collect();
    render(
        StatusCode::OK,
        &WorkPage {
            s: shell_v(shell, &v, "work", &uri),
            sections,
            todos,
        },
    )
}

pub struct ActV {
    pub who: String,
    pub act: String,
    pub message_html: String,
    pub terms: String,
    pub ago: Ago,
}

pub struct ButtonV {
    pub act: &'static str,
    pub label: &'static str,
}

fn label(a: domain::cfa::Act) -> &'static str {
    use domain::cfa::Act as X;
    match a {
        X::Request => "Request",
        X::Offer => "Offer",
        X::Promise => "Promise",
        X::Counter => "Counter-offer",
        X::Accept => "Accept",
        X::Decline => "Decline",
        X::Withdraw => "Withdraw",
        X::Report => "Report done",
        X::Renege => "Renege",
        X::Cancel => "Cancel",
        X::Approve => "Approve (satisfied)",
        X::Reject => "Reject (not satisfied)",
    }
}

#[derive(Template)]
#[template(path = "request.html")]
pub struct RequestPage {
    s: ShellV,
    id: ItemId,
    version: i64,
    title: String,
    conditions_html: String,
    state: String,
    requester: String,
    performer: String,
    next: String,
    due: String,
    buttons: Vec<ButtonV>,
    can_counter: bool,
    can_nudge: bool,
    acts: Vec<ActV>,
}

pub async fn request_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id: ItemId = id.parse().unwrap_or(ItemId(-1));
    let (shell, d) =
        match tokio::try_join!(pages::shell(&state.ctx, &v), svc::get(&state.ctx, &v, id)) {
            Ok(x) => x,
            Err(e) => return error_page(e, "/work"),
        };
    let r = &d.request;
    let acts_now = d.viewer_acts();
    let buttons = acts_now
        .iter()
        .filter(|a| **a != domain::cfa::Act::Counter)
        .map(|a| ButtonV {
            act: a.as_str(),
            label: label(*a),
        })
        .collect();
    let page = RequestPage {
        s: shell_v(shell, &v, "work", &uri),
        id: r.item_id,
        version: r.version,
        title: r.title.clone(),
        conditions_html: r.conditions_html.clone(),
        state: d.state.as_str().to_owned(),
        requester: r.requester_name.clone(),
        performer: r.performer_name.clone(),
        next: match d.turn {
            Some(t) if Some(t) == d.viewer_role => "you".into(),
            Some(domain::cfa::Role::Requester) => r.requester_name.clone(),
            Some(domain::cfa::Role::Performer) => r.performer_name.clone(),
            None => String::new(),
        },
        due: due_text(r.due_at),
        buttons,
        can_counter: acts_now.contains(&domain::cfa::Act::Counter),
        can_nudge: d.may_ask_progress(),
        acts: d
            .acts
            .iter()
            .map(|a| ActV {
                who: a.actor_name.clone(),
                act: a.act.replace('_', " "),
                message_html: a.message_html.clone(),
                terms: match (&a.title, a.due_at) {
                    (Some(t), Some(d)) => format!("{t} — due {}", due_text(Some(d))),
                    (Some(t), None) => t.clone(),
                    _ => String::new(),
                },
                ago: Ago::new(a.created_at),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestForm {
    csrf: String,
    #[serde(default)]
    kind: String,
    to: String,
    title: String,
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    space: String,
}
csrf_form!(NewRequestForm);

pub async fn create_request(
    State(state): State<AppState>,
    Acting(v, f): Acting<NewRequestForm>,
) -> Response {
    let kind = match ItemKind::conversation(&f.kind) {
        Ok(k) => k,
        Err(e) => return error_page(e.into(), "/work"),
    };
    let to = match svc::parse_to(&[f.to]) {
        Ok(to) => to,
        Err(e) => return error_page(e, "/work"),
    };
    let input = RequestInput {
        kind,
        to,
        space: Some(f.space),
        terms: TermsInput {
            title: Some(f.title),
            conditions: Some(f.conditions),
            due: Some(f.due),
        },
        message: None,
    };
    match svc::create(&state.ctx, &v, &input).await {
        Ok(ids) if ids.len() == 1 => Redirect::to(&format!("/requests/{}", ids[0])).into_response(),
        Ok(_) => Redirect::to("/work").into_response(),
        Err(e) => error_page(e, "/work"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActForm {
    csrf: String,
    act: String,
    #[serde(default)]
    message: String,
    version: Option<i64>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    due: String,
}
csrf_form!(ActForm);

pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Acting(v, f): Acting<ActForm>,
) -> Response {
    let id: ItemId = id.parse().unwrap_or(ItemId(-1));
    let back = format!("/requests/{id}");
    let terms = (f.act == "counter").then(|| TermsInput {
        title: Some(f.title).filter(|t| !t.trim().is_empty()),
        conditions: None,
        due: Some(f.due).filter(|d| !d.trim().is_empty()),
    });
    let input = ActInput {
        act: f.act,
        message: Some(f.message),
        terms,
        version: f.version,
    };
    done(svc::act(&state.ctx, &v, id, &input).await, &back)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TodoForm {
    csrf: String,
    title: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    shared: Option<String>,
}
csrf_form!(TodoForm);

pub async fn create_todo(
    State(state): State<AppState>,
    Acting(v, f): Acting<TodoForm>,
) -> Response {
    let input = TodoInput {
        title: Some(f.title),
        due: Some(f.due),
        shared: Some(f.shared.is_some()),
        ..Default::default()
    };
    done(svc::create_todo(&state.ctx, &v, &input).await, "/work")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToggleForm {
    csrf: String,
    /// "1" to check off, "0" to reopen, "delete" to delete.
    done: String,
}
csrf_form!(ToggleForm);

pub async fn toggle_todo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Acting(v, f): Acting<ToggleForm>,
) -> Response {
    if f.done == "delete" {
        return done(svc::delete_todo(&state.ctx, &v, &id).await, "/work");
    }
    let input = TodoInput {
        completed: Some(f.done == "1"),
        ..Default::default()
    };
    done(svc::update_todo(&state.ctx, &v, &id, &input).await, "/work")
}
