//! The pages of a logged-in member: home, spaces, topics, items, profiles,
//! the directory, notifications, settings and admin, the form actions
//! behind them, and the HTML fragments the script asks for live updates.
//!
//! Each page handler parses, calls one `service::pages` function and
//! renders; each action checks the form's CSRF token, calls one service
//! function and redirects back (post/redirect/get), or shows what went
//! wrong.

#![allow(clippy::result_large_err)]

use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::views::{Ago, CommentV, EntryV, FollowV, ItemV, PersonV, ShellV, SpaceV, excerpt};
use super::{check_csrf, form_errors, render, safe_next, viewer};
use crate::error::AppError;
use crate::service::accounts::{self, InviteInput, ProfileInput, Viewer};
use crate::service::jobs::JobState;
use crate::service::pages::{self, HomeFilter};
use crate::service::social::{self as svc, ItemInput, SpaceInput};
use crate::state::AppState;

const PAGE: i64 = 20;

/// What stays as it is in the `next` parameter of a login redirect: the
/// unreserved characters and `/`; everything else is percent-encoded.
const NEXT_PARAMETER: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

// ---- helpers ----

/// The logged-in viewer, or a redirect to the login page that comes back.
pub(crate) async fn member(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Viewer, Response> {
    match viewer(state, headers).await {
        Some(v) => Ok(v),
        None => {
            let next = uri.path_and_query().map_or("/", |p| p.as_str());
            let next = utf8_percent_encode(next, NEXT_PARAMETER);
            Err(Redirect::to(&format!("/login?next={next}")).into_response())
        }
    }
}

/// Where an action goes back to: the form's `back`, else the page the
/// browser says it came from (on this site), else `fallback`.
fn back_to(headers: &HeaderMap, back: &str, fallback: &str) -> String {
    if !back.is_empty() {
        return back.to_owned();
    }
    headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<Uri>().ok())
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| fallback.to_owned())
}

fn path_of(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

pub(crate) fn shell_v(s: pages::Shell, v: &Viewer, nav: &'static str, uri: &Uri) -> ShellV {
    ShellV::new(s, v, nav, path_of(uri))
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    org_name: String,
    title: String,
    text: String,
    back: String,
    back_label: String,
}

/// A page for a service error: what went wrong and the way back.
pub(crate) fn error_page(e: AppError, back: &str) -> Response {
    let (status, title) = match &e {
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Please check that"),
        AppError::Conflict { .. } => (StatusCode::CONFLICT, "That did not work"),
        AppError::ActNotAllowed { .. } => (StatusCode::CONFLICT, "Not possible now"),
        AppError::Gone { .. } => (StatusCode::GONE, "No longer available"),
        AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "That did not work"),
        AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "Please log in"),
        AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Slow down"),
        AppError::Unavailable(_) | AppError::Internal(_) => return e.into_response(),
    };
    let retry_after = match &e {
        AppError::RateLimited { retry_after, .. } => Some(*retry_after),
        _ => None,
    };
    let mut res = render(
        status,
        &MessagePage {
            org_name: "Chorus".into(),
            title: title.into(),
            text: e.to_string(),
            back: safe_next(back).to_owned(),
            back_label: "Go back".into(),
        },
    );
    if let Some(secs) = retry_after {
        res.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    res
}

/// Checks the CSRF token of an action's form.
pub(crate) async fn actor(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
) -> Result<Viewer, Response> {
    let v = member(state, headers, uri).await?;
    check_csrf(&v, csrf)?;
    if let Some(limits) = &state.writes {
        limits
            .check(v.id())
            .map_err(|e| error_page(e, uri.path()))?;
    }
    Ok(v)
}

/// After an action: back where the form came from, or what went wrong.
pub(crate) fn done<T>(r: Result<T, AppError>, back: &str) -> Response {
    match r {
        Ok(_) => Redirect::to(safe_next(back)).into_response(),
        Err(e) => error_page(e, back),
    }
}

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

fn next_url(base: &str, extra: &str, next: &Option<String>) -> Option<String> {
    next.as_ref().map(|n| {
        if extra.is_empty() {
            format!("{base}?before={n}")
        } else {
            format!("{base}?{extra}&before={n}")
        }
    })
}

// ---- the composer ----

pub struct ComposerV {
    /// (value, label, selected)
    pub targets: Vec<(String, String, bool)>,
    pub audience: String,
    pub placeholder: &'static str,
    /// The one place this composer posts to (on a space's page).
    pub fixed: Option<String>,
}

fn composer(
    v: &Viewer,
    spaces: &[crate::service::social::Space],
    selected: Option<&str>,
    audience: String,
) -> ComposerV {
    let mut targets = Vec::new();
    if v.role() != domain::Role::Guest {
        targets.push((
            "profile".to_owned(),
            "My profile: everyone".to_owned(),
            selected.is_none(),
        ));
    }
    for s in spaces.iter().filter(|s| s.archived_at.is_none()) {
        targets.push((
            format!("space:{}", s.slug),
            format!("Space: {}", s.name),
            selected == Some(s.slug.as_str()),
        ));
    }
    targets.push((
        "direct".to_owned(),
        "Direct: only the people I name".to_owned(),
        false,
    ));
    ComposerV {
        targets,
        audience,
        placeholder: "Share an update, ask a question… @mention people, #tag topics.",
        fixed: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeForm {
    csrf: String,
    #[serde(default)]
    back: String,
    target: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    title: String,
    body: String,
    ack: Option<String>,
}

pub async fn compose(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ComposeForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut input = ItemInput {
        title: Some(f.title),
        body: f.body,
        ack_requested: f.ack.is_some(),
        ..Default::default()
    };
    if let Some(slug) = f.target.strip_prefix("space:") {
        input.space = Some(slug.to_owned());
    } else if f.target == "direct" {
        input.to =
            f.to.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|h| !h.trim().is_empty())
                .map(str::to_owned)
                .collect();
        if input.to.is_empty() {
            return error_page(
                AppError::invalid("to", "Name the people a direct post goes to, like @ana."),
                &f.back,
            );
        }
    }
    done(svc::create_item(&state.ctx, &v, &input).await, &f.back)
}

// ---- home ----

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    s: ShellV,
    c: ComposerV,
    role: &'static str,
    can_invite: bool,
    invite_link: Option<String>,
    invite_email: String,
    errors: Vec<String>,
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

async fn home_page(
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
        errors: Vec::new(),
        tabs,
        entries: EntryV::all(&h.entries.rows, &h.entries.reactions),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    csrf: String,
    email: String,
}

pub async fn invite_from_home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<InviteForm>,
) -> Response {
    let uri = Uri::from_static("/");
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = InviteInput {
        email: f.email.clone(),
        ..Default::default()
    };
    let result = accounts::invite(&state.ctx, &v, &input).await;
    let mut page = match home_page(&state, &v, &uri, &StreamQuery::default()).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    match result {
        Ok((_, link)) => {
            page.invite_link = Some(link);
            page.invite_email = f.email;
            render(StatusCode::CREATED, &page)
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                page.errors = errors;
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}

// ---- fragments for the script ----

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
}

fn fragment_shell(v: &Viewer, back: Option<&str>) -> ShellV {
    ShellV::new(
        pages::Shell {
            org_name: String::new(),
            unread: 0,
            work: 0,
            can_invite: false,
        },
        v,
        "",
        safe_next(back.unwrap_or("/")).to_owned(),
    )
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
    match pages::entry(&state.ctx, &v, id).await {
        Ok(Some(e)) => {
            let entries: Vec<EntryV> = e
                .rows
                .iter()
                .filter(|r| filter.admits(r))
                .filter_map(|r| EntryV::new(r, &e.reactions))
                .collect();
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
#[template(path = "fragment_comments.html")]
struct CommentsFragment {
    s: ShellV,
    comments: Vec<CommentV>,
}

#[derive(Deserialize)]
pub struct AfterQuery {
    after: Option<i64>,
    back: Option<String>,
}

/// An item's comments after a comment id, as HTML.
pub async fn comments_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<AfterQuery>,
) -> Response {
    let Some(v) = viewer(&state, &headers).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match pages::comments_after(&state.ctx, &v, id, q.after.unwrap_or(0)).await {
        Ok((comments, reactions)) => render(
            StatusCode::OK,
            &CommentsFragment {
                s: fragment_shell(&v, q.back.as_deref()),
                comments: comments
                    .iter()
                    .map(|c| CommentV::new(c, &reactions))
                    .collect(),
            },
        ),
        Err(e) => e.into_response(),
    }
}

// ---- items ----

#[derive(Template)]
#[template(path = "item.html")]
pub struct ItemPage {
    s: ShellV,
    i: ItemV,
    label: String,
    body: String,
    topics: Vec<String>,
    recipients: Vec<PersonV>,
    audience: String,
    comments: Vec<CommentV>,
    follow: FollowV,
    followers: Vec<PersonV>,
    follower_count: i64,
    seen_count: i64,
    seen_by: Vec<PersonV>,
    is_author: bool,
    can_delete: bool,
    acked_me: bool,
    ack_count: i64,
    ack_pending_count: i64,
    acked: Vec<PersonV>,
    pending: Vec<PersonV>,
    revisions: usize,
}

pub async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<i64>() else {
        return error_page(AppError::NotFound(format!("There is no item {id}.")), "/");
    };
    let p = match pages::item(&state.ctx, &v, id).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let d = &p.detail;
    let i = ItemV::new(&d.item, &d.reactions);
    let page = ItemPage {
        label: i.label(),
        body: d.item.body.clone(),
        topics: d.topics.clone(),
        recipients: d.recipients.iter().map(PersonV::person).collect(),
        audience: p.audience.label.clone(),
        comments: p
            .comments
            .iter()
            .map(|c| CommentV::new(c, &d.reactions))
            .collect(),
        follow: FollowV::new("item", &id.to_string(), d.follow_level.as_deref()),
        followers: p.followers.iter().map(PersonV::person).collect(),
        follower_count: p.follower_count,
        seen_count: p.seen_count,
        seen_by: p.seen_by.iter().map(PersonV::person).collect(),
        is_author: d.item.author_id == v.id(),
        can_delete: d.item.author_id == v.id() || v.role().is_admin(),
        acked_me: p.acks.me,
        ack_count: p.acks.count,
        ack_pending_count: p.acks.pending_count,
        acked: p.acks.acknowledged.iter().map(PersonV::person).collect(),
        pending: p.acks.pending.iter().map(PersonV::person).collect(),
        revisions: p.revisions,
        i,
        s: shell_v(p.shell, &v, "", &uri),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentForm {
    csrf: String,
    #[serde(default)]
    back: String,
    body: String,
}

pub async fn comment(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CommentForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let back = back_to(&headers, &f.back, &format!("/items/{id}"));
    match svc::add_comment(&state.ctx, &v, id, &f.body).await {
        Ok(c) if back.starts_with("/items/") => {
            Redirect::to(&format!("{}#c{}", safe_next(&back), c.id)).into_response()
        }
        r => done(r, &back),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactForm {
    csrf: String,
    /// `+emoji` adds, `-emoji` removes.
    r: String,
    #[serde(default)]
    comment_id: String,
}

pub async fn react(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<ReactForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cid = f.comment_id.parse::<i64>().ok();
    let (add, emoji) = match f.r.chars().next() {
        Some('-') => (false, &f.r[1..]),
        Some('+') => (true, &f.r[1..]),
        _ => (true, f.r.as_str()),
    };
    let r = svc::react(&state.ctx, &v, id, cid, emoji, add).await;
    done(r, &back_to(&headers, "", &format!("/items/{id}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::acknowledge(&state.ctx, &v, id).await,
        &format!("/items/{id}#ack"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditForm {
    csrf: String,
    title: String,
    body: String,
}

pub async fn edit_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<EditForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::edit_item(&state.ctx, &v, id, Some(&f.title), Some(&f.body)).await,
        &format!("/items/{id}"),
    )
}

pub async fn delete_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::delete_item(&state.ctx, &v, id).await,
        &format!("/items/{id}"),
    )
}

// ---- follows ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowForm {
    csrf: String,
    #[serde(default)]
    back: String,
    target_type: String,
    target: String,
    level: String,
}

pub async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<FollowForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = if f.level == "none" {
        svc::unfollow(&state.ctx, &v, &f.target_type, &f.target).await
    } else {
        svc::follow(&state.ctx, &v, &f.target_type, &f.target, &f.level).await
    };
    done(r, &f.back)
}

// ---- spaces ----

#[derive(Template)]
#[template(path = "spaces.html")]
pub struct SpacesPage {
    s: ShellV,
    all: Vec<SpaceV>,
    mine: Vec<SpaceV>,
    errors: Vec<String>,
    name: String,
    slug: String,
    description: String,
    visibility: String,
}

pub async fn spaces(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match pages::spaces(&state.ctx, &v).await {
        Ok(p) => render(
            StatusCode::OK,
            &SpacesPage {
                s: shell_v(p.shell, &v, "spaces", &uri),
                all: p.all.iter().map(SpaceV::new).collect(),
                mine: p.mine.iter().map(SpaceV::new).collect(),
                errors: Vec::new(),
                name: String::new(),
                slug: String::new(),
                description: String::new(),
                visibility: "open".into(),
            },
        ),
        Err(e) => error_page(e, "/"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
    archived: Option<String>,
}

pub async fn create_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<SpaceForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = SpaceInput {
        name: Some(f.name.clone()),
        slug: (!f.slug.trim().is_empty()).then(|| f.slug.clone()),
        description: Some(f.description.clone()),
        visibility: Some(f.visibility.clone()),
        archived: None,
    };
    match svc::create_space(&state.ctx, &v, &input).await {
        Ok(s) => Redirect::to(&format!("/spaces/{}", s.slug)).into_response(),
        Err(e) => {
            let (status, errors) = match form_errors(e) {
                Ok(x) => x,
                Err(r) => return r,
            };
            match pages::spaces(&state.ctx, &v).await {
                Ok(p) => render(
                    status,
                    &SpacesPage {
                        s: shell_v(p.shell, &v, "spaces", &Uri::from_static("/spaces")),
                        all: p.all.iter().map(SpaceV::new).collect(),
                        mine: p.mine.iter().map(SpaceV::new).collect(),
                        errors,
                        name: f.name,
                        slug: f.slug,
                        description: f.description,
                        visibility: f.visibility,
                    },
                ),
                Err(e) => error_page(e, "/spaces"),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "space.html")]
pub struct SpacePage {
    s: ShellV,
    sp: SpaceV,
    tab: &'static str,
    can_read: bool,
    is_admin: bool,
    c: ComposerV,
    entries: Vec<EntryV>,
    live: String,
    filter: &'static str,
    next_url: Option<String>,
    empty: &'static str,
    members: Vec<PersonV>,
    requests: Vec<PersonV>,
    follow: FollowV,
    audience: String,
    description: String,
}

async fn space_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    slug: &str,
    tab: &'static str,
    before: Option<&str>,
) -> Response {
    let v = match member(state, headers, uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match pages::space(&state.ctx, &v, slug, before, PAGE).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/spaces"),
    };
    if tab == "settings" && !p.is_admin {
        return error_page(
            AppError::Forbidden("Only this space's admins change its settings.".into()),
            &format!("/spaces/{slug}"),
        );
    }
    let sp = SpaceV::new(&p.space);
    let mut c = composer(
        &v,
        std::slice::from_ref(&p.space),
        Some(&p.space.slug),
        p.audience.label.clone(),
    );
    c.fixed = Some(format!("space:{}", p.space.slug));
    c.placeholder = "Write to the space… @mention people, #tag topics.";
    let page = SpacePage {
        c,
        tab,
        can_read: p.can_read,
        is_admin: p.is_admin,
        entries: EntryV::all(&p.entries.rows, &p.entries.reactions),
        live: if p.can_read {
            format!("/api/v1/spaces/{}/events", p.space.slug)
        } else {
            String::new()
        },
        filter: "all",
        next_url: next_url(&format!("/spaces/{}", p.space.slug), "", &p.entries.next),
        empty: "<p><strong>Nothing here yet.</strong></p><p>Start the conversation: write the first post above.</p>",
        members: p.members.iter().map(PersonV::person).collect(),
        requests: p.requests.iter().map(PersonV::person).collect(),
        follow: FollowV::new("space", &p.space.slug, p.follow_level.as_deref()),
        audience: p.audience.label.clone(),
        description: p.space.description.clone(),
        sp,
        s: shell_v(p.shell, &v, "spaces", uri),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct BeforeQuery {
    before: Option<String>,
}

pub async fn space(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
    Query(q): Query<BeforeQuery>,
) -> Response {
    space_page(&state, &headers, &uri, &slug, "stream", q.before.as_deref()).await
}

pub async fn space_about(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
) -> Response {
    space_page(&state, &headers, &uri, &slug, "about", None).await
}

pub async fn space_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
) -> Response {
    space_page(&state, &headers, &uri, &slug, "members", None).await
}

pub async fn space_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
) -> Response {
    space_page(&state, &headers, &uri, &slug, "settings", None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinForm {
    csrf: String,
    #[serde(default)]
    message: String,
}

pub async fn join_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
    Form(f): Form<JoinForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::join_space(&state.ctx, &v, &slug, &f.message).await,
        &format!("/spaces/{slug}"),
    )
}

pub async fn leave_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::leave_space(&state.ctx, &v, &slug).await,
        &format!("/spaces/{slug}"),
    )
}

pub async fn update_space(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
    Form(f): Form<SpaceForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = SpaceInput {
        name: Some(f.name),
        slug: None,
        description: Some(f.description),
        visibility: (!f.visibility.is_empty()).then_some(f.visibility),
        archived: Some(f.archived.is_some()),
    };
    done(
        svc::update_space(&state.ctx, &v, &slug, &input).await,
        &format!("/spaces/{slug}/settings"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMemberForm {
    csrf: String,
    handle: String,
    #[serde(default)]
    role: String,
}

pub async fn add_space_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(slug): Path<String>,
    Form(f): Form<AddMemberForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let handle = f.handle.trim().trim_start_matches('@').to_owned();
    let role = (!f.role.is_empty()).then_some(f.role.as_str());
    done(
        svc::add_member(&state.ctx, &v, &slug, &handle, role).await,
        &format!("/spaces/{slug}/settings"),
    )
}

pub async fn remove_space_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((slug, handle)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::remove_member(&state.ctx, &v, &slug, &handle).await,
        &format!("/spaces/{slug}/settings"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideForm {
    csrf: String,
    decision: String,
}

pub async fn decide_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((slug, handle)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(
        svc::decide_request(&state.ctx, &v, &slug, &handle, f.decision == "approve").await,
        &format!("/spaces/{slug}/settings"),
    )
}

// ---- topics ----

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

// ---- profiles ----

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    s: ShellV,
    p: PersonV,
    title: String,
    team: String,
    about_html: String,
    role: &'static str,
    joined: String,
    deactivated: bool,
    is_me: bool,
    tab: &'static str,
    follow: FollowV,
    follower_count: i64,
    following_count: i64,
    followers: Vec<PersonV>,
    /// (type, target, name, level, link)
    following: Vec<(String, String, String, String, String)>,
    entries: Vec<EntryV>,
    live: String,
    filter: &'static str,
    next_url: Option<String>,
    empty: &'static str,
}

async fn profile_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    handle: &str,
    tab: &'static str,
    before: Option<&str>,
) -> Response {
    let v = match member(state, headers, uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match pages::profile(&state.ctx, &v, handle, before, PAGE, tab == "following").await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/directory"),
    };
    let m = &p.member;
    let page = ProfilePage {
        p: PersonV::member(m),
        title: m.title.clone(),
        team: m.team.clone(),
        about_html: m.about_html.clone(),
        role: m.role.as_str(),
        joined: Ago::new(m.created_at).full,
        deactivated: m.deactivated_at.is_some(),
        is_me: m.id == v.id(),
        tab,
        follow: FollowV::new("member", &m.handle, p.my_level.as_deref()),
        follower_count: p.follower_count,
        following_count: p.following_count,
        followers: p.followers.iter().map(PersonV::person).collect(),
        following: p
            .following
            .iter()
            .map(|(t, target, name, level)| {
                let link = match t.as_str() {
                    "member" => format!("/members/{target}"),
                    "space" => format!("/spaces/{target}"),
                    "topic" => format!("/topics/{target}"),
                    _ => format!("/items/{target}"),
                };
                (t.clone(), target.clone(), name.clone(), level.clone(), link)
            })
            .collect(),
        entries: EntryV::all(&p.entries.rows, &p.entries.reactions),
        live: format!("/api/v1/members/{}/events", m.handle),
        filter: "all",
        next_url: next_url(&format!("/members/{}", m.handle), "", &p.entries.next),
        empty: "<p>No posts or comments yet.</p>",
        s: shell_v(p.shell, &v, "people", uri),
    };
    render(StatusCode::OK, &page)
}

pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(handle): Path<String>,
    Query(q): Query<BeforeQuery>,
) -> Response {
    profile_page(
        &state,
        &headers,
        &uri,
        &handle,
        "stream",
        q.before.as_deref(),
    )
    .await
}

pub async fn profile_tab(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path((handle, tab)): Path<(String, String)>,
) -> Response {
    let tab = match tab.as_str() {
        "followers" => "followers",
        "following" => "following",
        _ => {
            return error_page(
                AppError::NotFound("There is no such page.".into()),
                &format!("/members/{handle}"),
            );
        }
    };
    profile_page(&state, &headers, &uri, &handle, tab, None).await
}

// ---- directory ----

#[derive(Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    s: ShellV,
    /// (person, follow, "title · team")
    people: Vec<(PersonV, FollowV, String)>,
    suggested: Vec<(PersonV, FollowV)>,
    spaces: Vec<SpaceV>,
    next_url: Option<String>,
}

#[derive(Deserialize)]
pub struct AfterHandle {
    after: Option<String>,
}

pub async fn directory(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<AfterHandle>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match pages::directory(&state.ctx, &v, q.after.as_deref()).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let level = |id: i64| {
        let key = format!("member:{id}");
        p.following
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| l.as_str())
    };
    let page = DirectoryPage {
        people: p
            .members
            .iter()
            .map(|m| {
                let line = [m.title.as_str(), m.team.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · ");
                (
                    PersonV::member(m),
                    FollowV::new("member", &m.handle, level(m.id)),
                    line,
                )
            })
            .collect(),
        suggested: p
            .suggested_people
            .iter()
            .map(|x| (PersonV::person(x), FollowV::new("member", &x.handle, None)))
            .collect(),
        spaces: p.spaces.iter().map(SpaceV::new).collect(),
        next_url: p.next.as_ref().map(|h| format!("/directory?after={h}")),
        s: shell_v(p.shell, &v, "people", &uri),
    };
    render(StatusCode::OK, &page)
}

// ---- notifications ----

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
        id.and_then(|id| p.spaces.iter().find(|s| s.0 == id))
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
                "request" => (request_sentence(a.verb.as_str()).to_owned(), request_link()),
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

/// The sentence after the actor's name for an act on a request the viewer
/// is a party to; the request's title follows.
fn request_sentence(verb: &str) -> &'static str {
    match verb {
        "request" => "asked you:",
        "offer" => "offered you:",
        "promise" => "promised you:",
        "counter" => "proposed new terms for",
        "accept" => "accepted your terms for",
        "decline" => "declined",
        "withdraw" => "withdrew",
        "report" => "reports done:",
        "renege" => "reneged on",
        "cancel" => "cancelled",
        "approve" => "approved your work on",
        "reject" => "sent back your report on",
        "ask_progress" => "asks how it is going with",
        "completed" => "completed",
        _ => "acted on",
    }
}

pub async fn mark_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    done(svc::mark_read(&state.ctx, &v, None).await, "/notifications")
}

// ---- settings ----

pub struct TokenV {
    id: i64,
    name: String,
    prefix: String,
    created: String,
    used: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    s: ShellV,
    me: crate::service::accounts::Member,
    tokens: Vec<TokenV>,
    notice: Option<String>,
    new_token: Option<String>,
    /// The calendar address just issued: shown only now.
    new_calendar: Option<String>,
    /// When the current calendar address was issued ("3 days ago").
    calendar_since: Option<String>,
    errors: Vec<String>,
}

async fn settings_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    new_token: Option<String>,
    errors: Vec<String>,
) -> Response {
    settings_page_with(state, v, status, notice, (new_token, None), errors).await
}

/// The settings page with a secret shown once: a new API token or a new
/// calendar address.
async fn settings_page_with(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    (new_token, new_calendar): (Option<String>, Option<String>),
    errors: Vec<String>,
) -> Response {
    // Read the member again: an action may just have changed them.
    let me = accounts::member(&state.ctx, &v.member.handle)
        .await
        .unwrap_or_else(|_| v.member.clone());
    let v = Viewer {
        member: me.clone(),
        auth: v.auth.clone(),
    };
    match pages::settings(&state.ctx, &v).await {
        Ok(p) => render(
            status,
            &SettingsPage {
                s: shell_v(p.shell, &v, "", &Uri::from_static("/settings")),
                me,
                tokens: p
                    .tokens
                    .iter()
                    .map(|t| TokenV {
                        id: t.id,
                        name: t.name.clone(),
                        prefix: t.prefix.clone(),
                        created: Ago::new(t.created_at).text,
                        used: t.last_used_at.map_or("never used".into(), |u| {
                            format!("last used {}", Ago::new(u).text)
                        }),
                    })
                    .collect(),
                notice,
                new_token,
                new_calendar,
                calendar_since: p.calendar_since.map(|t| Ago::new(t).text),
                errors,
            },
        ),
        Err(e) => error_page(e, "/"),
    }
}

pub async fn settings(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    settings_page(&state, &v, StatusCode::OK, None, None, Vec::new()).await
}

/// Shows the settings page after an action: a notice, or the errors.
async fn settings_after<T>(
    state: &AppState,
    v: &Viewer,
    r: Result<T, AppError>,
    ok: &str,
) -> Response {
    match r {
        Ok(_) => settings_page(state, v, StatusCode::OK, Some(ok.into()), None, Vec::new()).await,
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => settings_page(state, v, status, None, None, errors).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileForm {
    csrf: String,
    display_name: String,
    title: String,
    team: String,
    about: String,
    time_zone: String,
}

pub async fn save_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<ProfileForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = ProfileInput {
        display_name: Some(f.display_name),
        title: Some(f.title),
        team: Some(f.team),
        about: Some(f.about),
        time_zone: (!f.time_zone.trim().is_empty()).then_some(f.time_zone),
    };
    let r = accounts::update_profile(&state.ctx, &v, &input).await;
    settings_after(&state, &v, r, "Profile saved.").await
}

pub async fn upload_avatar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    mut form: Multipart,
) -> Response {
    let mut csrf = String::new();
    let mut bytes = Vec::new();
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("avatar") => bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            _ => {}
        }
    }
    if csrf.is_empty() {
        // The form sends it in the address too, before the file.
        csrf = uri
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("csrf=")))
            .unwrap_or_default()
            .to_owned();
    }
    let v = match actor(&state, &headers, &uri, &csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = accounts::set_avatar(&state.ctx, &v, &bytes, state.ctx.settings.max_avatar_bytes).await;
    settings_after(&state, &v, r, "Picture saved.").await
}

pub async fn remove_avatar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = accounts::remove_avatar(&state.ctx, &v).await;
    settings_after(&state, &v, r, "Picture removed.").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    /// The account's handle, a hidden field for password managers; unused.
    #[serde(default, rename = "username")]
    _username: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<PasswordForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = accounts::change_password(&state.ctx, &v, &f.current_password, &f.new_password).await;
    let said = match r {
        Ok(0) => "Password changed. Your other logins have ended.".to_owned(),
        Ok(1) => "Password changed. Your other logins have ended, and your API token was revoked: create a new one below if a script needs it.".to_owned(),
        Ok(n) => format!("Password changed. Your other logins have ended, and your {n} API tokens were revoked: create new ones below where scripts need them."),
        Err(_) => String::new(),
    };
    settings_after(&state, &v, r, &said).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    csrf: String,
    name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TokenForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match accounts::create_token(&state.ctx, &v, &f.name).await {
        Ok((_, token)) => {
            settings_page(
                &state,
                &v,
                StatusCode::CREATED,
                Some("Token created.".into()),
                Some(token),
                Vec::new(),
            )
            .await
        }
        Err(e) => settings_after::<()>(&state, &v, Err(e), "").await,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = accounts::revoke_token(&state.ctx, &v, id).await;
    settings_after(&state, &v, r, "Token revoked: it no longer works.").await
}

pub async fn issue_calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::service::calendar::issue(&state.ctx, &v).await {
        Ok(token) => {
            let url = format!("{}/api/v1/calendar/{token}.ics", state.ctx.base_url);
            settings_page_with(
                &state,
                &v,
                StatusCode::CREATED,
                Some("Calendar address created.".into()),
                (None, Some(url)),
                Vec::new(),
            )
            .await
        }
        Err(e) => settings_after::<()>(&state, &v, Err(e), "").await,
    }
}

pub async fn revoke_calendar(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = crate::service::calendar::revoke(&state.ctx, &v).await;
    settings_after(
        &state,
        &v,
        r,
        "Calendar address revoked: it no longer works.",
    )
    .await
}

// ---- admin ----

pub struct MemberRowV {
    p: PersonV,
    /// (role, selected)
    roles: Vec<(&'static str, bool)>,
    active: bool,
}

pub struct InvitationV {
    id: i64,
    email: String,
    role: &'static str,
    by: String,
    status: &'static str,
}

pub struct DeadJobV {
    id: i64,
    kind: String,
    attempts: i64,
    error: String,
    /// When it was queued, and when it last changed (it died).
    queued: Ago,
    died: Ago,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    s: ShellV,
    notice: Option<String>,
    errors: Vec<String>,
    invite_link: Option<String>,
    policy: &'static str,
    domains: String,
    /// Why the sign-up domains are not in effect, while they are not.
    domains_off: Option<&'static str>,
    members: Vec<MemberRowV>,
    invitations: Vec<InvitationV>,
    /// Jobs queued, running and dead, and how long the most overdue
    /// queued job has waited.
    jobs_depth: (i64, i64, i64),
    jobs_waited: Option<Ago>,
    dead_jobs: Vec<DeadJobV>,
}

async fn admin_page(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    invite_link: Option<String>,
    errors: Vec<String>,
) -> Response {
    let p = match pages::admin(&state.ctx, v).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let now = jiff::Timestamp::now().as_microsecond();
    let page = AdminPage {
        notice,
        errors,
        invite_link,
        policy: p.org.invite_policy.as_str(),
        domains: p.org.signup_domains.as_slice().join(", "),
        domains_off: (!p.org.signup_open()).then_some(accounts::DOMAIN_SIGNUP_OFF),
        members: p
            .members
            .iter()
            .map(|m| MemberRowV {
                p: PersonV::member(m),
                roles: ["owner", "admin", "member", "guest"]
                    .into_iter()
                    .map(|r| (r, r == m.role.as_str()))
                    .collect(),
                active: m.is_active(),
            })
            .collect(),
        invitations: p
            .invitations
            .iter()
            .map(|i| InvitationV {
                id: i.id,
                email: i.email.clone(),
                role: i.role.as_str(),
                by: i.inviter_handle.clone(),
                status: if i.accepted_at.is_some() {
                    "accepted"
                } else if i.revoked_at.is_some() {
                    "withdrawn"
                } else if i.expires_at <= now {
                    "expired"
                } else {
                    "open"
                },
            })
            .collect(),
        jobs_depth: {
            let count = |state| -> i64 {
                p.jobs
                    .stats
                    .counts
                    .iter()
                    .filter(|c| c.1 == state)
                    .map(|c| c.2)
                    .sum()
            };
            (
                count(JobState::Queued),
                count(JobState::Running),
                count(JobState::Dead),
            )
        },
        jobs_waited: p.jobs.stats.oldest_due.map(Ago::new),
        dead_jobs: p
            .jobs
            .dead
            .iter()
            .map(|j| DeadJobV {
                id: j.id,
                kind: j.kind.clone(),
                attempts: j.attempts,
                error: j.last_error.clone().unwrap_or_default(),
                queued: Ago::new(j.created_at),
                died: Ago::new(j.updated_at),
            })
            .collect(),
        s: shell_v(p.shell, v, "admin", &Uri::from_static("/admin")),
    };
    render(status, &page)
}

pub async fn admin(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    admin_page(&state, &v, StatusCode::OK, None, None, Vec::new()).await
}

async fn admin_after<T>(
    state: &AppState,
    v: &Viewer,
    r: Result<T, AppError>,
    ok: String,
) -> Response {
    match r {
        Ok(_) => admin_page(state, v, StatusCode::OK, Some(ok), None, Vec::new()).await,
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => admin_page(state, v, status, None, None, errors).await,
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgForm {
    csrf: String,
    org_name: String,
    invite_policy: String,
    signup_domains: String,
}

pub async fn admin_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<OrgForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = accounts::OrgSettingsInput {
        org_name: Some(f.org_name),
        invite_policy: Some(f.invite_policy),
        signup_domains: Some(f.signup_domains),
    };
    let r = accounts::update_org_settings(&state.ctx, &v, &input).await;
    admin_after(&state, &v, r, "Settings saved.".into()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminInviteForm {
    csrf: String,
    email: String,
    role: String,
    #[serde(default)]
    message: String,
}

pub async fn admin_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<AdminInviteForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let input = InviteInput {
        email: f.email,
        role: Some(f.role),
        message: (!f.message.trim().is_empty()).then_some(f.message),
    };
    match accounts::invite(&state.ctx, &v, &input).await {
        Ok((inv, link)) => {
            admin_page(
                &state,
                &v,
                StatusCode::CREATED,
                Some(format!("Invited {} as {}.", inv.email, inv.role.as_str())),
                Some(link),
                Vec::new(),
            )
            .await
        }
        Err(e) => admin_after::<()>(&state, &v, Err(e), String::new()).await,
    }
}

pub async fn admin_revoke_invitation(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = accounts::revoke_invitation(&state.ctx, &v, id).await;
    admin_after(&state, &v, r, "Invitation withdrawn.".into()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminMemberForm {
    csrf: String,
    role: Option<String>,
    deactivate: Option<String>,
}

pub async fn admin_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(handle): Path<String>,
    Form(f): Form<AdminMemberForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(role) = f.role {
        let r = accounts::set_role(&state.ctx, &v, &handle, &role).await;
        let msg = format!("@{handle} is now {role}.");
        return admin_after(&state, &v, r, msg).await;
    }
    let off = f.deactivate.as_deref() == Some("1");
    let r = accounts::set_deactivated(&state.ctx, &v, &handle, off).await;
    let msg = format!(
        "@{handle} is {}.",
        if off { "deactivated" } else { "active again" }
    );
    admin_after(&state, &v, r, msg).await
}

pub async fn admin_retry_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = crate::service::jobs::retry(&state.ctx, &v, id).await;
    let msg = format!("Job {id} is queued again.");
    admin_after(&state, &v, r, msg).await
}
