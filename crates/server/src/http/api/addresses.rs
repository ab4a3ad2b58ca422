//! The member's address (its change takes effect when the mailed link is
//! opened), password reset by a mailed link, and stopping one's old reply
//! addresses.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::{Email, Password};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sessions::with_session;
use crate::http::extract::{ApiJson, ApiViewer, ClientIp, user_agent};
use crate::http::problem::Problem;
use crate::service::addresses;
use crate::service::viewer::Viewer;
use crate::state::AppState;
use crate::views::{MemberView, SessionView};

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressView {
    /// The member's address now.
    pub email: String,
    /// Whether it is verified (only a verified address posts by mail and
    /// gets password reset links).
    pub verified: bool,
    /// A new address waiting for the link mailed to it to be opened.
    pub pending: Option<String>,
    /// Whether this Chorus sends mail; without it a new address takes
    /// effect at once, unverified.
    pub mail_on: bool,
}

async fn view(state: &AppState, viewer: &Viewer) -> Result<AddressView, Problem> {
    let m = crate::service::profiles::member(
        &state.ctx,
        &domain::Handle::from_trusted(&viewer.member.handle),
    )
    .await?;
    let v = Viewer {
        member: m.clone(),
        auth: viewer.auth.clone(),
    };
    Ok(AddressView {
        email: m.email,
        verified: m.email_verified_at.is_some(),
        pending: addresses::pending_address(&state.ctx, &v).await?,
        mail_on: crate::service::mail::enabled(&state.ctx),
    })
}

/// The logged-in member's address.
#[utoipa::path(get, path = "/me/email", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = AddressView), (status = 401, body = Problem)))]
pub async fn get_address(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<AddressView>, Problem> {
    Ok(Json(view(&state, &viewer).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    pub email: String,
}

/// Changes the address: with mail on, a link goes to the new address and
/// it takes effect when the link is opened (`pending`); with mail off it
/// changes at once, unverified.
#[utoipa::path(put, path = "/me/email", tag = "accounts", request_body = AddressRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 202, body = AddressView), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
pub async fn put_address(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<AddressRequest>,
) -> Result<(StatusCode, Json<AddressView>), Problem> {
    let email = Email::parse(&req.email).map_err(crate::error::AppError::from)?;
    addresses::change_address(&state.ctx, &viewer, &email).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &viewer).await?)))
}

/// Mails the link for the pending address again (the old link stops).
#[utoipa::path(post, path = "/me/email/resend", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses((status = 202, body = AddressView), (status = 401, body = Problem),
        (status = 409, body = Problem, description = "no change is pending"),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn resend_address_link(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<(StatusCode, Json<AddressView>), Problem> {
    addresses::resend_verification(&state.ctx, &viewer).await?;
    Ok((StatusCode::ACCEPTED, Json(view(&state, &viewer).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token of the mailed link (its last path segment).
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmedView {
    /// The address now in effect, verified.
    pub email: String,
}

/// Confirms an address change with the token of the mailed link (no login
/// needed: the link is the proof).
#[utoipa::path(post, path = "/address/confirm", tag = "accounts", request_body = TokenRequest,
    responses((status = 200, body = ConfirmedView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 410, body = Problem, description = "used or expired"),
        (status = 422, body = Problem)))]
pub async fn confirm_address(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<ConfirmedView>, Problem> {
    let email = addresses::confirm_address(&state.ctx, &req.token).await?;
    Ok(Json(ConfirmedView { email }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedView {
    /// The new reply epoch: reply addresses made before it are refused.
    pub reply_epoch: i64,
}

/// Stops every reply address made for the member so far: mail to one is
/// refused (`550 5.7.1`).
#[utoipa::path(post, path = "/me/reply-addresses/revoke", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = RevokedView), (status = 401, body = Problem)))]
pub async fn revoke_reply_addresses(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<RevokedView>, Problem> {
    let reply_epoch = addresses::revoke_reply_addresses(&state.ctx, &viewer).await?;
    Ok(Json(RevokedView { reply_epoch }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    /// Handle or email address.
    pub login: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForgotView {
    pub detail: String,
}

/// Mails a password reset link (one hour, once) to the verified address
/// of the account a handle or address names. The answer is the same
/// whether or not such an account exists.
#[utoipa::path(post, path = "/password/forgot", tag = "accounts", request_body = ForgotRequest,
    responses((status = 202, body = ForgotView), (status = 403, body = Problem, description = "mail is off"),
        (status = 422, body = Problem)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ForgotRequest>,
) -> Result<(StatusCode, Json<ForgotView>), Problem> {
    addresses::forgot_password(&state.ctx, &req.login).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ForgotView {
            detail: "If an account has that handle or address, we sent a link to its address; \
                     it works for an hour."
                .into(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token of the mailed link (its last path segment).
    pub token: String,
    pub new_password: String,
}

/// Sets a new password with a reset link's token: every session and API
/// token of the member ends, and this request logs in (the session cookie).
#[utoipa::path(post, path = "/password/reset", tag = "accounts", request_body = ResetRequest,
    responses((status = 200, body = SessionView), (status = 404, body = Problem),
        (status = 410, body = Problem, description = "used or expired"),
        (status = 422, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Response, Problem> {
    let password = Password::parse(&req.new_password)
        .map_err(|e| crate::error::AppError::from(e.for_field("new_password")))?;
    let (member, s) =
        addresses::reset_password(&state.ctx, &req.token, &password, &ip, user_agent(&headers))
            .await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::OK, body, &s))
}
