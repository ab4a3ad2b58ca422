//! Spaces: the list and creating one, a space's stream, about, members
//! and settings tabs, joining and leaving, and its admins' actions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Handle;
use domain::kinds::SpaceRole;
use serde::Deserialize;

use super::items::{ComposerV, composer};
use super::views::{EntryV, FollowV, PersonV, ShellV, SpaceV};
use super::{
    Acting, BeforeQuery, CsrfForm, PAGE, done, error_page, form_errors, member, next_url, render,
    shell_v,
};
use crate::error::AppError;
use crate::service::pages;
use crate::service::profiles;
use crate::service::spaces;
use crate::service::spaces::SpaceInput;
use crate::state::AppState;

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
csrf_form!(SpaceForm);

pub async fn create_space(
    State(state): State<AppState>,
    Acting(v, f): Acting<SpaceForm>,
) -> Response {
    let input = SpaceInput {
        name: Some(f.name.clone()),
        slug: (!f.slug.trim().is_empty()).then(|| f.slug.clone()),
        description: Some(f.description.clone()),
        visibility: Some(f.visibility.clone()),
        archived: None,
    };
    match spaces::create_space(&state.ctx, &v, &input).await {
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
    /// The space's mail address (`slug@<mail domain>`): mail to it posts.
    mail_address: String,
    /// Whether the viewer gets every post here by mail; None when they
    /// may not choose it (they cannot read the space, or mail is off).
    list_mode: Option<bool>,
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
    let list_mode = if p.can_read && crate::service::mail::enabled(&state.ctx) {
        crate::service::lists::list_mode(&state.ctx, &v, slug)
            .await
            .ok()
    } else {
        None
    };
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
        mail_address: format!("{}@{}", p.space.slug, state.ctx.settings.mail_domain()),
        list_mode,
        sp,
        s: shell_v(p.shell, &v, "spaces", uri),
    };
    render(StatusCode::OK, &page)
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
csrf_form!(JoinForm);

pub async fn join_space(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Acting(v, f): Acting<JoinForm>,
) -> Response {
    done(
        spaces::join_space(&state.ctx, &v, &slug, &f.message).await,
        &format!("/spaces/{slug}"),
    )
}

pub async fn leave_space(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    done(
        spaces::leave_space(&state.ctx, &v, &slug).await,
        &format!("/spaces/{slug}"),
    )
}

pub async fn update_space(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Acting(v, f): Acting<SpaceForm>,
) -> Response {
    let input = SpaceInput {
        name: Some(f.name),
        slug: None,
        description: Some(f.description),
        visibility: (!f.visibility.is_empty()).then_some(f.visibility),
        archived: Some(f.archived.is_some()),
    };
    done(
        spaces::update_space(&state.ctx, &v, &slug, &input).await,
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
csrf_form!(AddMemberForm);

pub async fn add_space_member(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Acting(v, f): Acting<AddMemberForm>,
) -> Response {
    let handle = f.handle.trim().trim_start_matches('@').to_owned();
    let role = if f.role.is_empty() {
        Ok(SpaceRole::Member)
    } else {
        SpaceRole::from_input(&f.role).map_err(AppError::from)
    };
    let handle = Handle::parse(&handle).map_err(|_| spaces::no_active_member(&handle));
    done(
        match (role, handle) {
            (Ok(role), Ok(handle)) => {
                spaces::add_member(&state.ctx, &v, &slug, &handle, role).await
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        &format!("/spaces/{slug}/settings"),
    )
}

pub async fn remove_space_member(
    State(state): State<AppState>,
    Path((slug, handle)): Path<(String, String)>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    done(
        match profiles::handle_named(&handle) {
            Ok(h) => spaces::remove_member(&state.ctx, &v, &slug, &h).await,
            Err(e) => Err(e),
        },
        &format!("/spaces/{slug}/settings"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideForm {
    csrf: String,
    decision: String,
}
csrf_form!(DecideForm);

pub async fn decide_request(
    State(state): State<AppState>,
    Path((slug, handle)): Path<(String, String)>,
    Acting(v, f): Acting<DecideForm>,
) -> Response {
    done(
        match profiles::handle_named(&handle) {
            Ok(h) => {
                spaces::decide_request(&state.ctx, &v, &slug, &h, f.decision == "approve").await
            }
            Err(e) => Err(e),
        },
        &format!("/spaces/{slug}/settings"),
    )
}
