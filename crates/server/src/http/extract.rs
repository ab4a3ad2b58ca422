//! Request extractors: who is asking (session cookie or bearer token, with
//! CSRF checks), JSON bodies whose every failure is a problem, and the
//! client's address.

use std::net::SocketAddr;

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::service::viewer::Viewer;
use crate::service::{sessions, tokens};
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
        return match tokens::authenticate_token(&state.ctx, token).await {
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
        Some(token) => sessions::authenticate_session(&state.ctx, token)
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
        if !is_safe(&parts.method)
            && let Some(limits) = &state.writes
        {
            limits.check(viewer.id())?;
        }
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
        let s = &state.ctx.settings;
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
/// of the wrong shape (a missing, mistyped or unknown field) a 422 that
/// names the field, a missing content type a 415, too large a 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !json_content_type(req.headers()) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let body = bytes::Bytes::from_request(req, state)
            .await
            .map_err(bytes_problem)?;
        if has_escaped_nul(&body) {
            return Err(nul_problem("body", "The JSON"));
        }
        let mut de = serde_json::Deserializer::from_slice(&body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let e = e.into_inner();
            if e.is_data() {
                shape_problem("body", "The JSON", &path, &json_message(&e))
            } else {
                malformed_json(&e)
            }
        })?;
        de.end().map_err(|e| malformed_json(&e))?;
        Ok(ApiJson(value))
    }
}

/// Whether a JSON text holds `\u0000` in a string (a NUL cannot appear
/// there otherwise): PostgreSQL refuses the character in text, so it is
/// refused for every backend at the door rather than failing a query.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// A 422 for text with the NUL character in `field`.
fn nul_problem(field: &str, what: &str) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "Invalid input",
        format!(
            "{what} holds the NUL character (U+0000), which no text here may contain. \
             Remove it and send again; nothing was changed."
        ),
    );
    p.errors.push(super::problem::FieldError {
        field: field.to_owned(),
        message: "The NUL character (U+0000) is not allowed.".to_owned(),
    });
    p
}

/// `application/json`, or any `application/…+json`.
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

fn malformed_json(e: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "malformed-json",
        "Malformed JSON",
        format!("The body is not valid JSON: {e}. Fix it and send again."),
    )
}

/// serde_json's message without the position it appends.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A 422 for input of the wrong shape: `what` ("The JSON", "The query
/// string") did not fit at `path` (serde_path_to_error's, `.` for the
/// top), with serde's `message`. An unknown field is named by itself, with
/// the fields accepted in its place; anything else by its path.
fn shape_problem(whole: &str, what: &str, path: &str, message: &str) -> Problem {
    let prefix = if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    let (field, message, detail) = match unknown_field(message) {
        Some((name, accepted)) => {
            // serde_path_to_error's path ends with the unknown key itself.
            let field = if path == name || path.ends_with(&format!(".{name}")) {
                path.to_owned()
            } else {
                format!("{prefix}{name}")
            };
            let message = match accepted {
                Some(list) => {
                    format!("Unknown field `{field}`; the fields accepted here are {list}.")
                }
                None => format!("Unknown field `{field}`; no fields are accepted here."),
            };
            let detail = format!(
                "{what} has a field this endpoint does not accept: `{field}`. Correct its name \
                 or leave it out (see `errors` for the accepted fields), and send again; \
                 nothing was changed."
            );
            (field, message, detail)
        }
        None => {
            let field = if prefix.is_empty() {
                whole.to_owned()
            } else {
                path.to_owned()
            };
            let detail = if prefix.is_empty() {
                format!(
                    "{what} does not have the expected shape: {message}. Fix it and send again."
                )
            } else {
                format!("`{field}` is not valid: {message}. Fix it and send again.")
            };
            (field, message.to_owned(), detail)
        }
    };
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
        "Invalid input",
        detail,
    );
    p.errors.push(super::problem::FieldError { field, message });
    p
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or
/// "expected `a`", "expected `a` or `b`", "there are no fields"): the
/// name, and the accepted fields as serde listed them.
fn unknown_field(message: &str) -> Option<(&str, Option<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let accepted = rest
        .strip_prefix(", expected ")
        .map(|l| l.strip_prefix("one of ").unwrap_or(l));
    Some((name, accepted))
}

/// A query string; a parameter of the wrong type or one the endpoint does
/// not know is a 422 problem that names it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((key, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(nul_problem(&key, "The query string"));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                shape_problem("query", "The query string", &path, &e.inner().to_string())
            })
    }
}

/// [`ApiQuery`] for what is typed into a search box: control characters
/// (NUL included) read as spaces, as the query language reads them,
/// instead of being refused.
pub struct ApiSearchQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiSearchQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        let cleaned = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (clean(&k), clean(&v))),
            )
            .finish();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(cleaned.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiSearchQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                shape_problem("query", "The query string", &path, &e.inner().to_string())
            })
    }
}

/// Path parameters; a segment that cannot be read (such as invalid UTF-8)
/// is a 400 problem.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        if parts.uri.path().contains("%00") {
            return Err(nul_problem("path", "The URL's path"));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(Problem::new(
                e.status(),
                "bad-request",
                "Bad request",
                format!(
                    "The URL's path cannot be read: {}. Check the address (see \
                     /api/v1/openapi.json) and send again.",
                    e.body_text()
                ),
            )),
        }
    }
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
