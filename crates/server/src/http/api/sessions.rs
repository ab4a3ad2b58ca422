//! Sessions: logging in and out, the session cookie, and changing the
//! password (which ends the other sessions).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{LoginName, Password};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiViewer, ClientIp, SESSION_COOKIE, user_agent};
use crate::http::problem::Problem;
use crate::service::sessions;
use crate::service::sessions::NewSession;
use crate::state::AppState;
use crate::views::{MemberView, SessionView};

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(state: &AppState, s: &NewSession) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        s.token,
        s.max_age_seconds,
        if state.ctx.settings.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

pub fn clear_cookie(state: &AppState) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if state.ctx.settings.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

pub(crate) fn with_session(
    state: &AppState,
    status: StatusCode,
    body: SessionView,
    s: &NewSession,
) -> Response {
    (
        status,
        [(header::SET_COOKIE, session_cookie(state, s))],
        Json(body),
    )
        .into_response()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Handle or email address.
    pub login: String,
    pub password: String,
}

/// Logs in; sets the session cookie.
#[utoipa::path(post, path = "/session", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = SessionView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "deactivated"),
        (status = 429, body = Problem, description = "too many failures")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, Problem> {
    let (member, s) = sessions::login(
        &state.ctx,
        &LoginName::parse(&req.login),
        &req.password,
        &ip,
        user_agent(&headers),
    )
    .await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::OK, body, &s))
}

/// Logs out: ends this session and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "accounts",
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Response, Problem> {
    sessions::logout(&state.ctx, &viewer).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(&state))],
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password; the member's other sessions end and every API
/// token of theirs is revoked (the one making this call too).
#[utoipa::path(put, path = "/me/password", tag = "accounts", request_body = PasswordRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<StatusCode, Problem> {
    let new = Password::parse(&req.new_password)
        .map_err(|e| AppError::from(e.for_field("new_password")))?;
    sessions::change_password(&state.ctx, &viewer, &req.current_password, &new).await?;
    Ok(StatusCode::NO_CONTENT)
}
