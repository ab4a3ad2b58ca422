//! First run, sessions, sign-up, the viewer's own account, members and
//! API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ListQuery, decode_cursor, encode_cursor};
use crate::http::extract::{
    ApiBytes, ApiJson, ApiPath, ApiQuery, ApiViewer, ClientIp, SESSION_COOKIE, user_agent,
};
use crate::http::problem::Problem;
use crate::service::accounts::{self, NewSession, ProfileInput, SignupInput};
use crate::state::AppState;
use crate::views::{MemberView, NewTokenView, Page, SessionView, TokenView};

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

fn with_session(
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
        needed: accounts::setup_needed(&state.ctx).await?,
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
    let input = SignupInput {
        handle: req.handle,
        display_name: req.display_name,
        email: req.email,
        password: req.password,
    };
    let member = accounts::complete_setup(&state.ctx, &req.token, &input).await?;
    let s = accounts::start_session(&state.ctx, member.id, &ip, user_agent(&headers)).await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::CREATED, body, &s))
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
    let (member, s) = accounts::login(
        &state.ctx,
        &req.login,
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
    accounts::logout(&state.ctx, &viewer).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(&state))],
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
}

/// Signs up without an invitation, with an address at an allowed domain:
/// refused (403) while Chorus cannot confirm the address by mail, which it
/// cannot yet (see `signup_domains_in_effect` in the admin settings).
#[utoipa::path(post, path = "/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = SessionView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<Response, Problem> {
    let input = SignupInput {
        handle: req.handle,
        display_name: req.display_name,
        email: req.email,
        password: req.password,
    };
    let member = accounts::self_signup(&state.ctx.db, &input).await?;
    let s = accounts::start_session(&state.ctx, member.id, &ip, user_agent(&headers)).await?;
    let body = SessionView {
        member: MemberView::own(&member),
        csrf_token: s.csrf_token.clone(),
    };
    Ok(with_session(&state, StatusCode::CREATED, body, &s))
}

/// The logged-in member.
#[utoipa::path(get, path = "/me", tag = "accounts", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 401, body = Problem)))]
pub async fn me(ApiViewer(viewer): ApiViewer) -> Json<MemberView> {
    Json(MemberView::new(&viewer.member, Some(&viewer)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub team: Option<String>,
    /// Markdown.
    pub about: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`.
    pub time_zone: Option<String>,
}

/// Edits the logged-in member's profile; absent fields stay as they are.
#[utoipa::path(patch, path = "/me", tag = "accounts", request_body = ProfileRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<ProfileRequest>,
) -> Result<Json<MemberView>, Problem> {
    let input = ProfileInput {
        display_name: req.display_name,
        title: req.title,
        team: req.team,
        about: req.about,
        time_zone: req.time_zone,
    };
    let m = accounts::update_profile(&state.ctx, &viewer, &input).await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
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
    accounts::change_password(
        &state.ctx,
        &viewer,
        &req.current_password,
        &req.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Uploads an avatar: the image file as the body (PNG, JPEG, GIF or WebP).
#[utoipa::path(put, path = "/me/avatar", tag = "accounts",
    request_body(content = Vec<u8>, content_type = "image/png"),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_avatar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiBytes(body): ApiBytes,
) -> Result<Json<MemberView>, Problem> {
    let m = accounts::set_avatar(
        &state.ctx,
        &viewer,
        &body,
        state.ctx.settings.max_avatar_bytes,
    )
    .await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

/// Removes the avatar.
#[utoipa::path(delete, path = "/me/avatar", tag = "accounts",
    security(("bearer" = []), ("session" = [])), responses((status = 204)))]
pub async fn delete_avatar(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<StatusCode, Problem> {
    accounts::remove_avatar(&state.ctx, &viewer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members in handle order (admins also see deactivated members).
#[utoipa::path(get, path = "/members", tag = "members", params(ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<MemberView>)))]
pub async fn list_members(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<MemberView>>, Problem> {
    let limit = q.limit();
    let after = q.before.as_deref().map(decode_cursor).transpose()?;
    let members = accounts::list_members(&state.ctx, &viewer, after.as_deref(), limit + 1).await?;
    let more = members.len() as i64 > limit;
    let items: Vec<MemberView> = members
        .iter()
        .take(limit as usize)
        .map(|m| MemberView::new(m, Some(&viewer)))
        .collect();
    let next = more
        .then(|| items.last().map(|m| encode_cursor(&m.handle)))
        .flatten();
    Ok(Json(Page { items, next }))
}

/// One member's profile.
#[utoipa::path(get, path = "/members/{handle}", tag = "members",
    params(("handle" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MemberView), (status = 404, body = Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<MemberView>, Problem> {
    let m = accounts::member(&state.ctx, &handle).await?;
    Ok(Json(MemberView::new(&m, Some(&viewer))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvatarQuery {
    /// The avatar version, for caching.
    #[allow(dead_code)]
    pub v: Option<i64>,
}

/// A member's avatar image.
#[utoipa::path(get, path = "/members/{handle}/avatar", tag = "members",
    params(("handle" = String, Path), AvatarQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, content_type = "image/png"), (status = 404, body = Problem)))]
pub async fn get_avatar(
    State(state): State<AppState>,
    ApiViewer(_viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
) -> Result<Response, Problem> {
    let Some((content_type, bytes)) = accounts::avatar(&state.ctx, &handle).await? else {
        return Err(Problem::not_found(format!("@{handle} has no avatar.")));
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// The logged-in member's live API tokens.
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<TokenView>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<Page<TokenView>>, Problem> {
    let tokens = accounts::list_tokens(&state.ctx, &viewer).await?;
    Ok(Json(Page {
        items: tokens.iter().map(TokenView::from).collect(),
        next: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// Where the token is used, e.g. "laptop script".
    pub name: String,
}

/// Creates a personal API token; the secret is shown once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewTokenRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = NewTokenView), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> Result<(StatusCode, Json<NewTokenView>), Problem> {
    let (t, secret) = accounts::create_token(&state.ctx, &viewer, &req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            token: TokenView::from(&t),
            secret,
        }),
    ))
}

/// Revokes one of the logged-in member's tokens.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found(format!("You have no token {id}.")))?;
    accounts::revoke_token(&state.ctx, &viewer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
