//! Server-rendered pages. Core actions are plain HTML forms; every form
//! post from a logged-in member carries the session's CSRF token, and
//! pre-login forms refuse cross-site posts.
//!
//! Each page handler parses, calls one `service::pages` function and
//! renders; each action takes [`Acting<F>`] (its form, its member and the
//! CSRF check), calls one service function and redirects back
//! (post/redirect/get), or shows what went wrong.

// Helpers here return the response to send instead, axum's own idiom.
#![allow(clippy::result_large_err)]

/// Lets a form's `csrf` field be read by [`Acting`].
macro_rules! csrf_form {
    ($form:ty) => {
        impl $crate::http::web::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    };
}

mod acks;
mod addresses;
mod admin;
mod calendar;
mod comments;
mod follows;
mod invitations;
mod items;
mod lists;
mod mail;
mod notifications;
mod profiles;
mod reactions;
mod search;
mod searches;
mod sessions;
mod signup;
mod spaces;
mod streams;
mod tokens;
mod views;
mod work;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use self::views::ShellV;
use crate::error::AppError;
use crate::http::extract::{constant_time_eq, find_viewer};
use crate::service::pages;
use crate::service::viewer::Viewer;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(streams::home))
        .route("/setup", get(signup::setup_page).post(signup::setup_submit))
        .route(
            "/login",
            get(sessions::login_page).post(sessions::login_submit),
        )
        .route("/logout", post(sessions::logout))
        .route(
            "/signup",
            get(signup::signup_page).post(signup::signup_submit),
        )
        .route(
            "/signup/{token}",
            get(signup::join_page).post(signup::join_submit),
        )
        .route(
            "/invite/{token}",
            get(invitations::invite_page).post(invitations::invite_submit),
        )
        .route("/invitations", post(invitations::invite_from_home))
        .route("/items", post(items::compose))
        .route("/items/{id}", get(items::item))
        .route("/items/{id}/comments", post(comments::comment))
        .route("/items/{id}/react", post(reactions::react))
        .route("/items/{id}/ack", post(acks::acknowledge))
        .route("/items/{id}/edit", post(items::edit_item))
        .route("/items/{id}/delete", post(items::delete_item))
        .route("/follow", post(follows::follow))
        .route("/spaces", get(spaces::spaces).post(spaces::create_space))
        .route("/spaces/{slug}", get(spaces::space))
        .route("/spaces/{slug}/about", get(spaces::space_about))
        .route("/spaces/{slug}/join", post(spaces::join_space))
        .route("/spaces/{slug}/leave", post(spaces::leave_space))
        .route("/spaces/{slug}/mail", post(lists::set_list_mode))
        .route(
            "/spaces/{slug}/settings",
            get(spaces::space_settings).post(spaces::update_space),
        )
        .route(
            "/spaces/{slug}/members",
            get(spaces::space_members).post(spaces::add_space_member),
        )
        .route(
            "/spaces/{slug}/members/{handle}/remove",
            post(spaces::remove_space_member),
        )
        .route(
            "/spaces/{slug}/requests/{handle}",
            post(spaces::decide_request),
        )
        .route(
            "/searches",
            get(searches::searches_list).post(searches::follow_search),
        )
        .route("/searches/{id}", post(searches::set_search_level))
        .route("/topics/{tag}", get(streams::topic))
        .route("/members/{handle}", get(profiles::profile))
        .route("/members/{handle}/{tab}", get(profiles::profile_tab))
        .route("/directory", get(profiles::directory))
        .route("/search", get(search::search))
        .route("/notifications", get(notifications::notifications))
        .route("/work", get(work::work_page))
        .route("/requests", post(work::create_request))
        .route("/requests/{id}", get(work::request_page))
        .route("/requests/{id}/acts", post(work::act))
        .route("/todos", post(work::create_todo))
        .route("/todos/{id}", post(work::toggle_todo))
        .route("/notifications/read", post(notifications::mark_read))
        .route("/settings", get(profiles::settings))
        .route("/settings/profile", post(profiles::save_profile))
        .route(
            "/settings/avatar",
            post(profiles::upload_avatar).layer(DefaultBodyLimit::max(AVATAR_FORM_LIMIT)),
        )
        .route("/settings/avatar/remove", post(profiles::remove_avatar))
        .route("/settings/password", post(sessions::change_password))
        .route("/settings/tokens", post(tokens::create_token))
        .route("/settings/tokens/{id}/revoke", post(tokens::revoke_token))
        .route("/settings/calendar", post(calendar::issue_calendar))
        .route("/settings/calendar/revoke", post(calendar::revoke_calendar))
        .route("/settings/notifications", post(mail::save_choices))
        .route("/settings/address", post(addresses::change_address))
        .route("/settings/address/resend", post(addresses::resend))
        .route(
            "/settings/reply-addresses/revoke",
            post(addresses::revoke_reply_addresses),
        )
        .route(
            "/address/confirm/{token}",
            get(addresses::confirm_page).post(addresses::confirm),
        )
        .route(
            "/password/forgot",
            get(addresses::forgot_page).post(addresses::forgot),
        )
        .route(
            "/password/reset/{token}",
            get(addresses::reset_page).post(addresses::reset),
        )
        .route(
            "/mail/unsubscribe/{token}",
            get(mail::unsubscribe_page).post(mail::unsubscribe),
        )
        .route("/admin", get(admin::admin))
        .route("/admin/settings", post(admin::admin_settings))
        .route("/admin/invitations", post(admin::admin_invite))
        .route(
            "/admin/invitations/{id}/revoke",
            post(admin::admin_revoke_invitation),
        )
        .route(
            "/admin/invitations/{id}/resend",
            post(admin::admin_resend_invitation),
        )
        .route("/admin/members/{handle}", post(admin::admin_member))
        .route("/admin/jobs/{id}/retry", post(admin::admin_retry_job))
        .route("/fragments/activities/{id}", get(streams::entry_fragment))
        .route(
            "/fragments/items/{id}/comments",
            get(comments::comments_fragment),
        )
        .route("/static/style.css", get(style))
        .route("/static/app.js", get(script))
}

/// The avatar form's body limit; the service holds the image itself to
/// the configured maximum.
const AVATAR_FORM_LIMIT: usize = 8 << 20;

pub(crate) fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    }
}

/// Messages for a form, from a service error; other errors become a page.
pub(crate) fn form_errors(e: AppError) -> Result<(StatusCode, Vec<String>), Response> {
    let status = match &e {
        AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict { .. } | AppError::ActNotAllowed { .. } => StatusCode::CONFLICT,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Gone { .. } => StatusCode::GONE,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
        AppError::Unavailable(_) | AppError::Internal(_) => {
            return Err(e.into_response());
        }
    };
    let messages = match e {
        AppError::Validation(errs) => errs.into_iter().map(|e| e.message).collect(),
        other => vec![other.to_string()],
    };
    Ok((status, messages))
}

/// Refuses form posts that a browser says came from another site: by
/// `Sec-Fetch-Site`, or by an `Origin` whose host is not the one the
/// request was sent to (an opaque `null` origin included). Forms before
/// login have no session to carry a CSRF token, so this is their guard.
fn same_origin(headers: &HeaderMap) -> Result<(), Response> {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let foreign_origin = headers.get(header::ORIGIN).is_some_and(|o| {
        let origin = o.to_str().ok().and_then(|o| o.parse::<Uri>().ok());
        let origin_host = origin
            .as_ref()
            .filter(|uri| uri.scheme().is_some())
            .and_then(Uri::authority)
            .map(|authority| authority.as_str());
        origin_host.is_none() || origin_host != host
    });
    if cross_site || foreign_origin {
        Err((StatusCode::FORBIDDEN, "Cross-site form posts are refused.").into_response())
    } else {
        Ok(())
    }
}

pub(crate) fn check_csrf(viewer: &Viewer, sent: &str) -> Result<(), Response> {
    match viewer.csrf_token() {
        Some(expected) if constant_time_eq(expected.as_bytes(), sent.as_bytes()) => Ok(()),
        _ => Err((
            StatusCode::FORBIDDEN,
            Html("This form has expired. Go back, reload the page and send it again."),
        )
            .into_response()),
    }
}

fn with_cookie(cookie: String, to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn org_name(state: &AppState) -> String {
    crate::service::org::org_settings(&state.ctx)
        .await
        .map(|o| o.org_name)
        .unwrap_or_else(|_| "Chorus".into())
}

pub(crate) async fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    find_viewer(state, headers).await.ok().flatten()
}

/// Where to go after login or a form, if it is a path on this site;
/// anything else goes home. A path here is one `/` followed by anything
/// but another `/` or a `\` (`//host` and `/\host` name another site),
/// with no backslash, control character or whitespace anywhere, as sent or
/// once percent-decoded: browsers drop tabs and newlines from a
/// `Location` (`/\t/host` becomes `//host`), and a header cannot carry a
/// newline at all. Without a scheme or host, it cannot leave this origin.
pub(crate) fn safe_next(next: &str) -> &str {
    fn plain(s: &str) -> bool {
        s.starts_with('/')
            && !s[1..].starts_with('/')
            && !s
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    }
    let decoded = percent_encoding::percent_decode_str(next).decode_utf8_lossy();
    if plain(next) && plain(&decoded) {
        next
    } else {
        "/"
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsrfForm {
    csrf: String,
}
csrf_form!(CsrfForm);

const PAGE: i64 = 20;

/// What stays as it is in the `next` parameter of a login redirect: the
/// unreserved characters and `/`; everything else is percent-encoded.
const NEXT_PARAMETER: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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

/// The member behind an action: logged in (else the login page that
/// comes back), the form's CSRF token theirs, within the write limit.
/// [`Acting`] does this for a urlencoded form.
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

/// A form that carries the session's CSRF token.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// An action's preamble, as an extractor: the strict form `F` (refused as
/// `Form` refuses it, unknown fields included), then its member as
/// [`actor`] finds them.
pub struct Acting<F>(pub Viewer, pub F);

impl<F> FromRequest<AppState> for Acting<F>
where
    F: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let uri = req.uri().clone();
        let Form(f) = Form::<F>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let v = actor(state, &headers, &uri, f.csrf()).await?;
        Ok(Self(v, f))
    }
}

/// After an action: back where the form came from, or what went wrong.
pub(crate) fn done<T>(r: Result<T, AppError>, back: &str) -> Response {
    match r {
        Ok(_) => Redirect::to(safe_next(back)).into_response(),
        Err(e) => error_page(e, back),
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

#[derive(Deserialize)]
pub struct BeforeQuery {
    before: Option<String>,
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

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/app.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/style.css"),
    )
}
