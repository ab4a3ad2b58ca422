//! The notifications page and marking them read.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::views::{Ago, ItemV, PersonV, ShellV, excerpt};
use super::{Acting, BeforeQuery, CsrfForm, done, error_page, member, render, shell_v};
use crate::service::notifications;
use crate::service::pages;
use crate::state::AppState;

pub struct NotifV {
    actor: PersonV,
    /// Whether the sentence starts with the actor's name; a reminder has
    /// no one behind it.
    lead: bool,
    text: String,
    link: String,
    target: String,
    excerpt: String,
    reason: String,
    read: bool,
    ago: Ago,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    s: ShellV,
    rows: Vec<NotifV>,
    next_url: Option<String>,
}

pub async fn notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<BeforeQuery>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let before = q.before.as_deref().and_then(|b| b.parse().ok());
    let p = match pages::notifications(&state.ctx, &v, before).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let space = |id: Option<i64>| {
        id.and_then(|id| p.spaces.iter().find(|s| s.0.get() == id))
            .map(|s| (format!("/spaces/{}", s.1), s.2.clone()))
            .unwrap_or_default()
    };
    let rows = p
        .rows
        .iter()
        .map(|(n, a)| {
            let item = a.item.as_ref().map(|i| ItemV::new(i, &Vec::new()));
            let item_link = item
                .as_ref()
                .map(|i| (format!("/items/{}", i.id), i.label()))
                .unwrap_or_default();
            let request_link = || {
                a.item
                    .as_ref()
                    .map(|i| {
                        (
                            format!("/requests/{}", i.id),
                            ItemV::new(i, &Vec::new()).label(),
                        )
                    })
                    .unwrap_or_default()
            };
            let mut lead = true;
            let (text, (link, target)) = match n.reason.as_str() {
                "request" => (
                    notifications::request_sentence(a.verb.as_str()).to_owned(),
                    request_link(),
                ),
                "due_soon" => {
                    lead = false;
                    ("Due within 24 hours:".to_owned(), request_link())
                }
                "overdue" => {
                    lead = false;
                    ("Overdue:".to_owned(), request_link())
                }
                "mention" => ("mentioned you in".to_owned(), item_link),
                "reply" => ("replied to".to_owned(), item_link),
                "watching" => ("commented on".to_owned(), item_link),
                "reaction" => ("reacted to".to_owned(), item_link),
                "direct" => ("wrote to you:".to_owned(), item_link),
                "search_match" => match p.searches.get(&a.id) {
                    Some((_, q)) => (format!("wrote what your search “{q}” matches:"), item_link),
                    None => (
                        "wrote what a search you watch matches:".to_owned(),
                        item_link,
                    ),
                },
                "follower" => ("started following you".to_owned(), Default::default()),
                "added_to_space" => ("added you to".to_owned(), space(a.target_id)),
                "join_request" => {
                    let (l, t) = space(Some(a.object_id));
                    ("asks to join".to_owned(), (format!("{l}/settings"), t))
                }
                other => (other.replace('_', " "), item_link),
            };
            let excerpt = match (&a.comment_body, a.verb.as_str()) {
                (Some(c), "comment") => excerpt(c, 140),
                _ => String::new(),
            };
            NotifV {
                actor: PersonV::person(&a.actor),
                lead,
                text,
                link,
                target,
                excerpt,
                reason: n.reason.as_str().replace('_', " "),
                read: n.read_at.is_some(),
                ago: Ago::new(n.created_at),
            }
        })
        .collect();
    let page = NotificationsPage {
        rows,
        next_url: p.next.map(|n| format!("/notifications?before={n}")),
        s: shell_v(p.shell, &v, "notifications", &uri),
    };
    render(StatusCode::OK, &page)
}

pub async fn mark_read(State(state): State<AppState>, Acting(v, _): Acting<CsrfForm>) -> Response {
    done(
        notifications::mark_read(&state.ctx, &v, None).await,
        "/notifications",
    )
}
