//! Streams as pages: home (with its filters), everything, a topic's
//! page, and the stream entries the script fetches for live updates.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::items::{ComposerV, composer};
use super::views::{EntryV, FollowV, PersonV, ShellV, SpaceV};
use super::{
    BeforeQuery, PAGE, error_page, fragment_shell, member, next_url, render, shell_v, viewer,
};
use crate::error::AppError;
use crate::service::pages::{self, HomeFilter};
use crate::service::viewer::Viewer;
use crate::state::AppState;

fn stream_empty(filter: HomeFilter) -> &'static str {
    match filter {
        HomeFilter::Mentions => {
            "<p><strong>No mentions yet.</strong></p><p>When someone writes your @handle or posts to you directly, it shows up here.</p>"
        }
        HomeFilter::Everything => {
            "<p><strong>Nothing posted yet.</strong></p><p>Be the first: write something above.</p>"
        }
        _ => {
            "<p><strong>Your home stream is quiet.</strong></p><p>It shows what happens in the spaces, people and topics you follow. <a href=\"/spaces\">Join a space</a>, <a href=\"/directory\">follow some colleagues</a>, or look at <a href=\"/?filter=everything\">everything</a>.</p>"
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    s: ShellV,
    c: ComposerV,
    role: &'static str,
    can_invite: bool,
    pub(super) invite_link: Option<String>,
    pub(super) invite_email: String,
    /// The invitation went out by mail too.
    pub(super) invite_mailed: bool,
    pub(super) errors: Vec<String>,
    /// (label, url, current)
    tabs: Vec<(&'static str, String, bool)>,
    entries: Vec<EntryV>,
    live: String,
    filter: &'static str,
    next_url: Option<String>,
    empty: &'static str,
    spaces: Vec<SpaceV>,
    people: Vec<PersonV>,
    suggested_spaces: Vec<SpaceV>,
}

#[derive(Deserialize, Default)]
pub struct StreamQuery {
    filter: Option<String>,
    before: Option<String>,
}

fn article(role: domain::Role) -> &'static str {
    match role {
        domain::Role::Owner => "an owner",
        domain::Role::Admin => "an admin",
        domain::Role::Member => "a member",
        domain::Role::Guest => "a guest",
    }
}

pub(super) async fn home_page(
    state: &AppState,
    v: &Viewer,
    uri: &Uri,
    q: &StreamQuery,
) -> Result<HomePage, AppError> {
    let filter = HomeFilter::parse(q.filter.as_deref().unwrap_or("all"));
    let h = pages::home(&state.ctx, v, filter, q.before.as_deref(), PAGE).await?;
    let tabs = [
        ("All", HomeFilter::All),
        ("People", HomeFilter::People),
        ("Spaces", HomeFilter::Spaces),
        ("Mentions", HomeFilter::Mentions),
        ("Everything", HomeFilter::Everything),
    ]
    .into_iter()
    .map(|(label, f)| {
        let url = if f == HomeFilter::All {
            "/".to_owned()
        } else {
            format!("/?filter={}", f.as_str())
        };
        (label, url, f == filter)
    })
    .collect();
    let live = match filter {
        HomeFilter::Everything => "/api/v1/streams/everything/events",
        HomeFilter::Mentions => "",
        _ => "/api/v1/streams/home/events",
    };
    let extra = if filter == HomeFilter::All {
        String::new()
    } else {
        format!("filter={}", filter.as_str())
    };
    Ok(HomePage {
        c: composer(v, &h.my_spaces, None, h.audience.label.clone()),
        role: article(v.role()),
        can_invite: h.shell.can_invite,
        s: shell_v(h.shell, v, "home", uri),
        invite_link: None,
        invite_email: String::new(),
        invite_mailed: false,
        errors: Vec::new(),
        tabs,
        entries: EntryV::home(&h.entries),
        live: live.into(),
        filter: filter.as_str(),
        next_url: next_url("/", &extra, &h.entries.next),
        empty: stream_empty(filter),
        spaces: h.my_spaces.iter().map(SpaceV::new).collect(),
        people: h.suggested_people.iter().map(PersonV::person).collect(),
        suggested_spaces: h.suggested_spaces.iter().map(SpaceV::new).collect(),
    })
}

pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StreamQuery>,
) -> Response {
    let v = match viewer(&state, &headers).await {
        Some(v) => v,
        None => return Redirect::to("/login").into_response(),
    };
    match home_page(&state, &v, &uri, &q).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(e) => error_page(e, "/"),
    }
}

#[derive(Template)]
#[template(path = "fragment_entries.html")]
struct EntriesFragment {
    s: ShellV,
    entries: Vec<EntryV>,
}

#[derive(Deserialize)]
pub struct FragmentQuery {
    filter: Option<String>,
    back: Option<String>,
    /// Set by the home page: the entry says why it came there.
    home: Option<String>,
}

/// One stream entry as HTML (for live updates); 204 when the viewer may
/// not see it or the page's filter leaves it out.
pub async fn entry_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<FragmentQuery>,
) -> Response {
    let Some(v) = viewer(&state, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let filter = HomeFilter::parse(q.filter.as_deref().unwrap_or("all"));
    match pages::entry(&state.ctx, &v, id, q.home.is_some()).await {
        Ok(Some(mut e)) => {
            e.rows.retain(|r| filter.admits(r));
            let entries = EntryV::home(&e);
            if entries.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            render(
                StatusCode::OK,
                &EntriesFragment {
                    s: fragment_shell(&v, q.back.as_deref()),
                    entries,
                },
            )
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "topic.html")]
pub struct TopicPage {
    s: ShellV,
    topic: String,
    follow: FollowV,
    followers: i64,
    entries: Vec<EntryV>,
    live: String,
    filter: &'static str,
    next_url: Option<String>,
    empty: &'static str,
}

pub async fn topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(tag): Path<String>,
    Query(q): Query<BeforeQuery>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match pages::topic(&state.ctx, &v, &tag, q.before.as_deref(), PAGE).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let page = TopicPage {
        follow: FollowV::new("topic", &p.topic, p.follow_level.as_deref()),
        followers: p.followers,
        entries: EntryV::all(&p.entries.rows, &p.entries.reactions),
        live: format!("/api/v1/topics/{}/events", p.topic),
        filter: "all",
        next_url: next_url(&format!("/topics/{}", p.topic), "", &p.entries.next),
        empty: "<p>No posts with this topic yet. Write one with the tag in it.</p>",
        topic: p.topic,
        s: shell_v(p.shell, &v, "", &uri),
    };
    render(StatusCode::OK, &page)
}
