//! First-run setup of the owner, and signing up by address domain.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sessions::with_session;
use crate::http::extract::{ApiJson, ClientIp, user_agent};
use crate::http::problem::Problem;
use crate::service::signup::SignupInput;
use crate::service::{sessions, signup};
use crate::state::AppState;
use crate::views::{MemberView, SessionView};

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    /// True until the first owner is created.
    pub needed: bool,
}

/// Whether first-run setup is still open.
#[utoipa::path(get, path = "/setup", tag = "accounts",
    responses((status = 200, body = SetupStatus)))]
pub async fn setup_status(State(state): State<AppState>) -> Result<Json<SetupStatus>, Problem> {
    Ok(Json(SetupStatus {
        needed: signup::setup_needed(&state.ctx).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token from the link `chorus serve` printed.
    pub token: String,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
}

/// Creates the owner with the one-time setup token, and logs them in.
#[utoipa::path(post, path = "/setup", tag = "accounts", request_body = SetupRequest,
    responses((status = 201, body = SessionView),
        (status = 410, body = Problem, description = "the link was used or replaced"),
        (status = 422, body = Problem)))]
pub async fn setup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<Response, Problem> {
    let input = SignupInput::parse(
        &req.handle,
        &req.display_name,
        Some(&req.email),
        &req.password,
    )?;
    let member = signup::complete_setup(&state.ctx, &req.token, &input).await?;
    let s = sessions::start_session(&state.ctx, member.id, &ip, user_agent(&headers)).await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::CREATED, body, &s))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// A work address at one of the allowed domains.
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupStarted {
    pub detail: String,
}

/// Signs up without an invitation, first step: mails a one-time link (24
/// hours) to a work address at an allowed domain; the link leads to the
/// join form (`POST /signup/complete`). The answer is the same whether or
/// not the address already has an account. Refused (403) while Chorus
/// sends no mail (see `signup_domains_in_effect` in the admin settings).
#[utoipa::path(post, path = "/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 202, body = SignupStarted), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn signup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupStarted>), Problem> {
    let email = domain::Email::parse(&req.email).map_err(crate::error::AppError::from)?;
    signup::start_signup(&state.ctx, &email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignupStarted {
            detail: format!(
                "We sent a link to {}: open it within a day to choose your handle and password.",
                email.as_str()
            ),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteSignupRequest {
    /// The token of the mailed link (its last path segment).
    pub token: String,
    pub handle: String,
    pub display_name: String,
    pub password: String,
}

/// Signs up, second step: with the mailed link's token, creates the member
/// (the address verified) and logs in.
#[utoipa::path(post, path = "/signup/complete", tag = "accounts", request_body = CompleteSignupRequest,
    responses((status = 201, body = SessionView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 410, body = Problem, description = "used or expired"),
        (status = 422, body = Problem)))]
pub async fn complete_signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CompleteSignupRequest>,
) -> Result<Response, Problem> {
    let input = SignupInput::parse(&req.handle, &req.display_name, None, &req.password)?;
    let member = signup::complete_signup(&state.ctx, &req.token, &input).await?;
    let s = sessions::start_session(&state.ctx, member.id, &ip, user_agent(&headers)).await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::CREATED, body, &s))
}
