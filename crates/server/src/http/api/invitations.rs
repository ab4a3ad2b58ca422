//! Invitations and their acceptance.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::sessions::session_cookie;
use super::{ListQuery, decode_id_cursor};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer, ClientIp, user_agent};
use crate::http::problem::Problem;
use crate::service::invitations::InviteInput;
use crate::service::signup::SignupInput;
use crate::service::{invitations, sessions};
use crate::state::AppState;
use crate::views::{InvitationView, MemberView, Page, SessionView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    /// `member` (default), `guest`, or `admin` (admins only).
    pub role: Option<String>,
    /// A note for the invitee (markdown).
    pub message: Option<String>,
}

/// Invites someone by email. The answer holds the one-time link.
#[utoipa::path(post, path = "/invitations", tag = "invitations", request_body = InviteRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = InvitationView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationView>), Problem> {
    let input = InviteInput::parse(&req.email, req.role.as_deref(), req.message.as_deref())?;
    let (inv, url) = invitations::invite(&state.ctx, &viewer, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationView::new(&inv, Some(url))),
    ))
}

/// Invitations sent by the logged-in member (admins: by everyone), newest first.
#[utoipa::path(get, path = "/invitations", tag = "invitations", params(ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<InvitationView>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<InvitationView>>, Problem> {
    let limit = q.limit();
    let before = q.before.as_deref().map(decode_id_cursor).transpose()?;
    let invs = invitations::list_invitations(&state.ctx, &viewer, before, limit + 1).await?;
    let more = invs.len() as i64 > limit;
    let invs = &invs[..invs.len().min(limit as usize)];
    Ok(Json(Page {
        items: invs.iter().map(|i| InvitationView::new(i, None)).collect(),
        next: more
            .then(|| invs.last().map(|i| super::encode_cursor(&i.id.to_string())))
            .flatten(),
    }))
}

/// Withdraws an unused invitation.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "invitations",
    params(("id" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("There is no invitation {id} of yours.")))?;
    invitations::revoke_invitation(&state.ctx, &viewer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPreview {
    pub email: String,
    #[schema(value_type = String)]
    pub role: domain::Role,
    pub inviter_handle: String,
    pub inviter_name: String,
    pub message: String,
    pub expires_at: String,
}

/// What an invitation link offers, if it can still be used.
#[utoipa::path(get, path = "/invitations/{token}/accept", tag = "invitations",
    params(("token" = String, Path)),
    responses((status = 200, body = InvitationPreview), (status = 404, body = Problem),
        (status = 410, body = Problem, description = "used, withdrawn or expired")))]
pub async fn preview(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<InvitationPreview>, Problem> {
    let inv = invitations::open_invitation(&state.ctx, &token).await?;
    Ok(Json(InvitationPreview {
        email: inv.email,
        role: inv.role,
        inviter_handle: inv.inviter_handle,
        inviter_name: inv.inviter_name,
        message: inv.message,
        expires_at: crate::views::time(inv.expires_at),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    pub handle: String,
    pub display_name: String,
    pub password: String,
}

/// Accepts an invitation: creates the account and logs it in.
#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "invitations",
    params(("token" = String, Path)), request_body = AcceptRequest,
    responses((status = 201, body = SessionView), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 410, body = Problem),
        (status = 422, body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
    ApiJson(req): ApiJson<AcceptRequest>,
) -> Result<Response, Problem> {
    let input = SignupInput::parse(&req.handle, &req.display_name, None, &req.password)?;
    let member = invitations::accept_invitation(&state.ctx, &token, &input).await?;
    let s = sessions::start_session(&state.ctx, member.id, &ip, user_agent(&headers)).await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    use axum::response::IntoResponse;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::SET_COOKIE, session_cookie(&state, &s))],
        Json(body),
    )
        .into_response())
}
