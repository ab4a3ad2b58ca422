//! People: a member's page and its tabs, the directory, and the
//! settings page with the viewer's own profile and picture.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::{Handle, MemberId};
use serde::Deserialize;

use super::views::{Ago, EntryV, FollowV, PersonV, ShellV, SpaceV};
use super::{
    Acting, BeforeQuery, CsrfForm, PAGE, actor, error_page, form_errors, member, next_url, render,
    shell_v,
};
use crate::error::AppError;
use crate::service::pages;
use crate::service::profiles;
use crate::service::profiles::{ProfileInput, ProfileText};
use crate::service::viewer::Viewer;
use crate::state::AppState;

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
    let p = match profiles::handle_named(handle) {
        Ok(h) => pages::profile(&state.ctx, &v, &h, before, PAGE, tab == "following").await,
        Err(e) => Err(e),
    };
    let p = match p {
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

#[derive(Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    s: ShellV,
    /// (person, follow, "title · team")
    people: Vec<(PersonV, FollowV, String)>,
    suggested: Vec<(PersonV, FollowV)>,
    spaces: Vec<SpaceV>,
    next_url: Option<String>,
    /// What the list is filtered by (a search), or empty.
    filter: String,
    /// The filter as a search of everything.
    search_url: String,
}

#[derive(Deserialize)]
pub struct AfterHandle {
    /// The last handle shown, or with a filter the search's cursor.
    after: Option<String>,
    /// Filters the list by a search.
    #[serde(default)]
    q: String,
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
    let p = match pages::directory(&state.ctx, &v, q.after.as_deref(), &q.q).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let level = |id: MemberId| {
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
        next_url: p.next.as_ref().map(|after| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            if !q.q.trim().is_empty() {
                url.append_pair("q", &q.q);
            }
            url.append_pair("after", after);
            format!("/directory?{}", url.finish())
        }),
        search_url: super::search::url(&q.q, None, None),
        filter: q.q.clone(),
        s: shell_v(p.shell, &v, "people", &uri),
    };
    render(StatusCode::OK, &page)
}

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
    me: crate::service::profiles::Member,
    tokens: Vec<TokenV>,
    notice: Option<String>,
    new_token: Option<String>,
    /// The calendar address just issued: shown only now.
    new_calendar: Option<String>,
    /// When the current calendar address was issued ("3 days ago").
    calendar_since: Option<String>,
    errors: Vec<String>,
    mail: MailV,
    /// The spaces in list mode (slug, name).
    list_spaces: Vec<(String, String)>,
}

/// The Notifications choices.
pub struct MailV {
    on: bool,
    paused: bool,
    /// The member's address, when mail to it bounces.
    bouncing: Option<String>,
    /// (kind, how it is named, its choice)
    kinds: Vec<(&'static str, &'static str, &'static str)>,
    /// The new address waiting for its link to be opened.
    pending: Option<String>,
    digest_hour: i64,
    /// The zone the hour is counted in, and whether it is the member's.
    digest_zone: String,
    own_zone: bool,
    /// The hours to choose from: (hour, "08:00").
    hours: Vec<(i64, String)>,
}

pub(super) async fn settings_page(
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
pub(super) async fn settings_page_with(
    state: &AppState,
    v: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    (new_token, new_calendar): (Option<String>, Option<String>),
    errors: Vec<String>,
) -> Response {
    // Read the member again: an action may just have changed them.
    let me = profiles::member(&state.ctx, &Handle::from_trusted(&v.member.handle))
        .await
        .unwrap_or_else(|_| v.member.clone());
    let v = Viewer {
        member: me.clone(),
        auth: v.auth.clone(),
    };
    let pending = crate::service::addresses::pending_address(&state.ctx, &v)
        .await
        .ok()
        .flatten();
    let mail = match crate::service::mail::mail_settings(&state.ctx, &v).await {
        Ok(m) => MailV {
            pending,
            on: m.mail_on,
            paused: m.paused,
            bouncing: m.bouncing,
            kinds: m
                .choices
                .iter()
                .map(|(k, c)| (k.as_str(), crate::service::mail::kind_label(*k), c.as_str()))
                .collect(),
            digest_hour: m.digest_hour,
            digest_zone: m.digest_zone,
            own_zone: m.own_zone,
            hours: (0..24).map(|h| (h, format!("{h:02}:00"))).collect(),
        },
        Err(e) => return error_page(e, "/"),
    };
    let list_spaces = match crate::service::lists::list_spaces(&state.ctx, &v).await {
        Ok(l) => l.into_iter().map(|l| (l.slug, l.name)).collect(),
        Err(e) => return error_page(e, "/"),
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
                mail,
                list_spaces,
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
pub(super) async fn settings_after<T>(
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
csrf_form!(ProfileForm);

pub async fn save_profile(
    State(state): State<AppState>,
    Acting(v, f): Acting<ProfileForm>,
) -> Response {
    let r = match ProfileInput::parse(&ProfileText {
        display_name: Some(f.display_name),
        title: Some(f.title),
        team: Some(f.team),
        about: Some(f.about),
        time_zone: (!f.time_zone.trim().is_empty()).then_some(f.time_zone),
    }) {
        Ok(input) => profiles::update_profile(&state.ctx, &v, &input).await,
        Err(e) => Err(e),
    };
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
    let r = profiles::set_avatar(&state.ctx, &v, &bytes, state.ctx.settings.max_avatar_bytes).await;
    settings_after(&state, &v, r, "Picture saved.").await
}

pub async fn remove_avatar(
    State(state): State<AppState>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    let r = profiles::remove_avatar(&state.ctx, &v).await;
    settings_after(&state, &v, r, "Picture removed.").await
}
