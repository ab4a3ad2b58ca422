//! Request extractors: who is asking (session cookie or bearer token, with
//! CSRF checks), JSON bodies whose every failure is a problem, and the
//! client's address.

use std::net::SocketAddr;

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::service::accounts::{self, Viewer};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "chorus_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Reads one cookie from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Finds the viewer from a bearer token or the session cookie. A bearer
/// token that does not work is an error even when a cookie is present.
pub async fn find_viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, Problem> {
    if let Some(token) = bearer(headers) {
        return match accounts::authenticate_token(state, token).await {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not logged in",
                "That API token is not valid: it was revoked, mistyped, or its member was \
                 deactivated. Create a new one under Settings → API tokens.",
            )),
            Err(e) => Err(e.into()),
        };
    }
    match cookie(headers, SESSION_COOKIE) {
        Some(token) => accounts::authenticate_session(state, token)
            .await
            .map_err(Problem::from),
        None => Ok(None),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A logged-in member calling the JSON API. Cookie-authenticated unsafe
/// requests must send the session's CSRF token in `X-CSRF-Token`.
pub struct ApiViewer(pub Viewer);

impl FromRequestParts<AppState> for ApiViewer {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let viewer = find_viewer(state, &parts.headers)
            .await?
            .ok_or_else(Problem::unauthorized)?;
        if let Some(expected) = viewer.csrf_token()
            && !is_safe(&parts.method)
        {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "Missing CSRF token",
                    "Requests made with the session cookie must send the `X-CSRF-Token` header \
                     from the login response (or use an API token instead).",
                ));
            }
        }
        Ok(ApiViewer(viewer))
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address: the socket peer, or, when the settings say
/// trusted proxies sit in front, the address the outermost of them saw.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = &state.settings;
        if s.trust_proxy_headers
            && let Some(ip) = forwarded_client(&parts.headers, s.trusted_proxy_hops)
        {
            return Ok(ClientIp(ip.to_string()));
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        Ok(ClientIp(ip))
    }
}

/// The client address in `X-Forwarded-For` behind `hops` trusted proxies.
/// Each proxy appends the address it saw, so the entries a client wrote
/// itself are on the left and only the last `hops` are trustworthy: the
/// client is the entry `hops` places from the right. None when there are
/// fewer entries than that (the request did not come through every proxy)
/// or the entry is not an address.
fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<std::net::IpAddr> {
    if hops == 0 {
        return None;
    }
    // Several header lines are one list, in order.
    let mut entries = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        entries.extend(v.to_str().ok()?.split(',').map(str::trim));
    }
    let entry = entries.len().checked_sub(hops).map(|i| entries[i])?;
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

pub fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A JSON body; malformed JSON is a 400 that says where it broke, a body
/// of the wrong shape a 422, a missing content type a 415, too large a 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!(
                "The body is not valid JSON: {}. Fix it and send again.",
                source_text(&e)
            ),
        ),
        JsonRejection::JsonDataError(e) => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
                format!(
                    "The JSON does not have the expected shape: {}.",
                    source_text(&e)
                ),
            );
            p.errors.push(super::problem::FieldError {
                field: "body".into(),
                message: source_text(&e),
            });
            p
        }
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::BytesRejection(e) => bytes_problem(e),
        other => Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            other.body_text(),
        ),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

pub fn bytes_problem(e: BytesRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let mut p = Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request too large",
            "The request body is larger than this server accepts. Send less.",
        );
        p.close = true;
        p
    } else {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            e.body_text(),
        )
    }
}

/// Raw body bytes with the size limit reported as a problem.
pub struct ApiBytes(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        bytes::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(bytes_problem)
    }
}
