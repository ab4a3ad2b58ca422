//! Server-rendered pages. Core actions are plain HTML forms; every form
//! post from a logged-in member carries the session's CSRF token, and
//! pre-login forms refuse cross-site posts.

// Helpers here return the response to send instead, axum's own idiom.
#![allow(clippy::result_large_err)]

mod app;
mod views;
mod work;

use crate::service::accounts::Invitation;
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::api::sessions::{clear_cookie, session_cookie};
use crate::http::extract::{ClientIp, constant_time_eq, find_viewer, user_agent};
use crate::service::accounts::{self, SignupInput, Viewer};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(app::home))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/invite/{token}", get(invite_page).post(invite_submit))
        .route("/invitations", post(app::invite_from_home))
        .route("/items", post(app::compose))
        .route("/items/{id}", get(app::item))
        .route("/items/{id}/comments", post(app::comment))
        .route("/items/{id}/react", post(app::react))
        .route("/items/{id}/ack", post(app::acknowledge))
        .route("/items/{id}/edit", post(app::edit_item))
        .route("/items/{id}/delete", post(app::delete_item))
        .route("/follow", post(app::follow))
        .route("/spaces", get(app::spaces).post(app::create_space))
        .route("/spaces/{slug}", get(app::space))
        .route("/spaces/{slug}/about", get(app::space_about))
        .route("/spaces/{slug}/join", post(app::join_space))
        .route("/spaces/{slug}/leave", post(app::leave_space))
        .route(
            "/spaces/{slug}/settings",
            get(app::space_settings).post(app::update_space),
        )
        .route(
            "/spaces/{slug}/members",
            get(app::space_members).post(app::add_space_member),
        )
        .route(
            "/spaces/{slug}/members/{handle}/remove",
            post(app::remove_space_member),
        )
        .route(
            "/spaces/{slug}/requests/{handle}",
            post(app::decide_request),
        )
        .route("/topics/{tag}", get(app::topic))
        .route("/members/{handle}", get(app::profile))
        .route("/members/{handle}/{tab}", get(app::profile_tab))
        .route("/directory", get(app::directory))
        .route("/notifications", get(app::notifications))
        .route("/work", get(work::work_page))
        .route("/requests", post(work::create_request))
        .route("/requests/{id}", get(work::request_page))
        .route("/requests/{id}/acts", post(work::act))
        .route("/todos", post(work::create_todo))
        .route("/todos/{id}", post(work::toggle_todo))
        .route("/notifications/read", post(app::mark_read))
        .route("/settings", get(app::settings))
        .route("/settings/profile", post(app::save_profile))
        .route(
            "/settings/avatar",
            post(app::upload_avatar).layer(DefaultBodyLimit::max(AVATAR_FORM_LIMIT)),
        )
        .route("/settings/avatar/remove", post(app::remove_avatar))
        .route("/settings/password", post(app::change_password))
        .route("/settings/tokens", post(app::create_token))
        .route("/settings/tokens/{id}/revoke", post(app::revoke_token))
        .route("/settings/calendar", post(app::issue_calendar))
        .route("/settings/calendar/revoke", post(app::revoke_calendar))
        .route("/admin", get(app::admin))
        .route("/admin/settings", post(app::admin_settings))
        .route("/admin/invitations", post(app::admin_invite))
        .route(
            "/admin/invitations/{id}/revoke",
            post(app::admin_revoke_invitation),
        )
        .route("/admin/members/{handle}", post(app::admin_member))
        .route("/admin/jobs/{id}/retry", post(app::admin_retry_job))
        .route("/fragments/activities/{id}", get(app::entry_fragment))
        .route(
            "/fragments/items/{id}/comments",
            get(app::comments_fragment),
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
    accounts::org_settings(&state.ctx)
        .await
        .map(|o| o.org_name)
        .unwrap_or_else(|_| "Chorus".into())
}

pub(crate) async fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    find_viewer(state, headers).await.ok().flatten()
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

// ---- setup ----

#[derive(Template, Default)]
#[template(path = "setup.html")]
struct SetupPage {
    org_name: String,
    valid: bool,
    token: String,
    display_name: String,
    handle: String,
    email: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn setup_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    let valid = accounts::setup_token_valid(&state.ctx, &token)
        .await
        .unwrap_or(false);
    let page = SetupPage {
        org_name: org_name(&state).await,
        valid,
        token,
        ..Default::default()
    };
    render(
        if valid {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        &page,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupForm {
    token: String,
    display_name: String,
    handle: String,
    email: String,
    password: String,
}

async fn setup_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let input = SignupInput {
        handle: f.handle.clone(),
        display_name: f.display_name.clone(),
        email: f.email.clone(),
        password: f.password,
    };
    let result = async {
        let m = accounts::complete_setup(&state.ctx, &f.token, &input).await?;
        accounts::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let page = SetupPage {
                    org_name: org_name(&state).await,
                    valid: status != StatusCode::GONE,
                    token: f.token,
                    display_name: f.display_name,
                    handle: f.handle,
                    email: f.email,
                    errors,
                };
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}

// ---- login / logout ----

#[derive(Template, Default)]
#[template(path = "login.html")]
struct LoginPage {
    org_name: String,
    login: String,
    next: String,
    notice: Option<String>,
    signup_open: bool,
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
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

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if viewer(&state, &headers).await.is_some() {
        return Redirect::to("/").into_response();
    }
    let notice = match accounts::setup_needed(&state.ctx).await {
        Ok(true) => Some(
            "Chorus has no owner yet: open the setup link that `chorus serve` printed.".to_owned(),
        ),
        _ => None,
    };
    let org = accounts::org_settings(&state.ctx).await.ok();
    let page = LoginPage {
        org_name: org
            .as_ref()
            .map_or_else(|| "Chorus".into(), |o| o.org_name.clone()),
        next: q.next.unwrap_or_default(),
        notice,
        signup_open: org.is_some_and(|o| o.signup_open() && !o.signup_domains.is_empty()),
        ..Default::default()
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    match accounts::login(&state.ctx, &f.login, &f.password, &ip, user_agent(&headers)).await {
        Ok((_, s)) => with_cookie(session_cookie(&state, &s), safe_next(&f.next)),
        Err(e) => {
            let retry_after = match &e {
                AppError::RateLimited { retry_after, .. } => Some(*retry_after),
                _ => None,
            };
            match form_errors(e) {
                Ok((status, errors)) => {
                    let page = LoginPage {
                        org_name: org_name(&state).await,
                        login: f.login,
                        next: f.next,
                        errors,
                        ..Default::default()
                    };
                    let mut res = render(status, &page);
                    if let Some(secs) = retry_after {
                        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
                    }
                    res
                }
                Err(r) => r,
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(v) = viewer(&state, &headers).await {
        if let Err(r) = check_csrf(&v, &f.csrf) {
            return r;
        }
        if let Err(e) = accounts::logout(&state.ctx, &v).await {
            return e.into_response();
        }
    }
    with_cookie(clear_cookie(&state), "/login")
}

// ---- sign-up ----

#[derive(Template, Default)]
#[template(path = "signup.html")]
struct SignupPage {
    org_name: String,
    /// Why nobody signs up by domain now, while that holds.
    off: Option<&'static str>,
    domains: Vec<String>,
    display_name: String,
    handle: String,
    email: String,
    errors: Vec<String>,
}

async fn signup_page(State(state): State<AppState>) -> Response {
    match accounts::org_settings(&state.ctx).await {
        Ok(org) => render(
            StatusCode::OK,
            &SignupPage {
                off: (!org.signup_open()).then_some(accounts::DOMAIN_SIGNUP_OFF),
                org_name: org.org_name,
                domains: org.signup_domains.as_slice().to_vec(),
                ..Default::default()
            },
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupForm {
    display_name: String,
    handle: String,
    email: String,
    password: String,
}

async fn signup_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let input = SignupInput {
        handle: f.handle.clone(),
        display_name: f.display_name.clone(),
        email: f.email.clone(),
        password: f.password,
    };
    let result = async {
        let m = accounts::self_signup(&state.ctx.db, &input).await?;
        accounts::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let org = accounts::org_settings(&state.ctx).await.ok();
                let page = SignupPage {
                    off: org
                        .as_ref()
                        .is_none_or(|o| !o.signup_open())
                        .then_some(accounts::DOMAIN_SIGNUP_OFF),
                    org_name: org
                        .as_ref()
                        .map_or_else(|| "Chorus".into(), |o| o.org_name.clone()),
                    domains: org
                        .map(|o| o.signup_domains.as_slice().to_vec())
                        .unwrap_or_default(),
                    display_name: f.display_name,
                    handle: f.handle,
                    email: f.email,
                    errors,
                };
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}

// ---- invitations ----

#[derive(Template, Default)]
#[template(path = "invite.html")]
struct InvitePage {
    org_name: String,
    token: String,
    invitation: Option<Invitation>,
    problem: String,
    display_name: String,
    handle: String,
    errors: Vec<String>,
}

async fn invite_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let org_name = org_name(&state).await;
    match accounts::open_invitation(&state.ctx, &token).await {
        Ok(inv) => render(
            StatusCode::OK,
            &InvitePage {
                org_name,
                token,
                invitation: Some(inv),
                ..Default::default()
            },
        ),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => render(
                status,
                &InvitePage {
                    org_name,
                    problem: errors.join(" "),
                    ..Default::default()
                },
            ),
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptForm {
    display_name: String,
    handle: String,
    password: String,
}

async fn invite_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let input = SignupInput {
        handle: f.handle.clone(),
        display_name: f.display_name.clone(),
        email: String::new(),
        password: f.password,
    };
    let result = async {
        let m = accounts::accept_invitation(&state.ctx, &token, &input).await?;
        accounts::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => {
            let org_name = org_name(&state).await;
            let invitation = accounts::open_invitation(&state.ctx, &token).await;
            match form_errors(e) {
                Ok((status, errors)) => {
                    let page = match invitation {
                        Ok(inv) => InvitePage {
                            org_name,
                            token,
                            invitation: Some(inv),
                            display_name: f.display_name,
                            handle: f.handle,
                            errors,
                            ..Default::default()
                        },
                        Err(_) => InvitePage {
                            org_name,
                            problem: errors.join(" "),
                            ..Default::default()
                        },
                    };
                    render(status, &page)
                }
                Err(r) => r,
            }
        }
    }
}
