//! HTTP: the router, its middleware, and the operational endpoints. The
//! JSON API lives in `api`, the pages in `web`.

pub mod api;
pub mod extract;
pub mod limits;
pub mod problem;
pub mod web;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::service::ops;
use crate::state::AppState;
use problem::Problem;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random per-process prefix and a counter.
#[derive(Clone)]
struct RequestIds {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api::router(&state);
    let allowed = Arc::new(allowed_methods(&doc));
    let api = api.fallback(|| async {
        Problem::not_found("There is no such API endpoint. See /api/v1/openapi.json.")
    });
    let ids = RequestIds {
        prefix: crate::crypto::new_token()[..8].into(),
        next: Arc::new(AtomicU64::new(1)),
    };
    // The headers every response carries unless its handler set its own:
    // the security headers, no caching of anything that did not say how it
    // may be cached (pages and JSON are the viewer's own), HSTS when people
    // reach Chorus over https, and how to authenticate on a 401.
    let hsts = state.ctx.settings.secure_cookies();
    let response_headers = ServiceBuilder::new()
        .layer(default_header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(default_header(header::CACHE_CONTROL, "no-store"))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response| hsts.then(|| HeaderValue::from_static("max-age=31536000")),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::WWW_AUTHENTICATE,
            |res: &Response| {
                (res.status() == StatusCode::UNAUTHORIZED)
                    .then(|| HeaderValue::from_static("Bearer realm=\"chorus\""))
            },
        ))
        .layer(default_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(default_header(header::REFERRER_POLICY, "same-origin"))
        .layer(default_header(header::X_FRAME_OPTIONS, "DENY"));
    Router::new()
        .nest("/api/v1", api)
        .merge(web::router())
        .route("/healthz", get(healthz))
        .route("/hello", get(|| async { "Hello, world!" }))
        .route("/metrics", get(metrics))
        // A whole request's answer (not a live stream's body, which only
        // starts within it) gets this long, then 503.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(state.ctx.settings.request_timeout_seconds.max(1)),
        ))
        .layer(middleware::from_fn_with_state(allowed, errors_are_problems))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(response_headers)
        .layer(DefaultBodyLimit::max(state.ctx.settings.max_body_bytes))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, ids))
        .with_state(state)
}

/// The pages' only script is a static file, and they have no inline
/// styles: nothing else may run, and nobody may frame them.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Counts requests and their latency per route, and counts the queries
/// each request makes (reported as `X-Query-Count` when the settings ask).
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let (mut res, queries) = ops::counting_queries(next.run(req)).await;
    let took = start.elapsed();
    if took > ops::SLOW {
        tracing::debug!(%method, %route, ?took, "slow request");
    }
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("chorus_http_requests_total", &labels).increment(1);
    metrics::histogram!("chorus_http_request_duration_seconds", &labels).record(took.as_secs_f64());
    if state.ctx.settings.query_count_header {
        res.headers_mut()
            .insert("x-query-count", HeaderValue::from(queries));
    }
    res
}

/// A header every response carries unless its handler set its own.
fn default_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// The methods each API route answers (`GET,HEAD,POST`), by path template
/// as the OpenAPI document has it, for `Allow` on a 405.
fn allowed_methods(doc: &utoipa::openapi::OpenApi) -> HashMap<String, String> {
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let ops = [
                ("GET,HEAD", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            let methods: Vec<&str> = ops.iter().filter(|(_, on)| *on).map(|(m, _)| *m).collect();
            (path.clone(), methods.join(","))
        })
        .collect()
}

/// Every error the API (`/api/…`) answers is `application/problem+json`: the few that
/// the router writes itself (a wrong method, a rejection no extractor of
/// ours turned into a problem) are rewritten here, keeping their status and
/// headers (`Allow` on a 405).
async fn errors_are_problems(
    State(allowed): State<Arc<HashMap<String, String>>>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if res.status() == StatusCode::METHOD_NOT_ALLOWED
        && res
            .headers()
            .get(header::ALLOW)
            .is_none_or(|v| v.is_empty())
        && let Some(methods) = route
            .and_then(|r| allowed.get(r.as_str().trim_start_matches("/api/v1")))
            .and_then(|m| HeaderValue::from_str(m).ok())
    {
        res.headers_mut().insert(header::ALLOW, methods);
    }
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let problem = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Problem::new(
            status,
            "method-not-allowed",
            "Method not allowed",
            format!(
                "This endpoint does not answer {method}; it answers {allow}. See \
                 /api/v1/openapi.json."
            ),
        )
    } else if status == StatusCode::SERVICE_UNAVAILABLE && text.is_empty() {
        // The request timeout's answer.
        Problem::new(
            status,
            "unavailable",
            "Try again",
            "The server did not answer in time. Try again in a moment; for a write, look \
             first whether it was made.",
        )
    } else {
        let reason = status.canonical_reason().unwrap_or("Error");
        let slug = reason.to_ascii_lowercase().replace(' ', "-");
        let said = if text.is_empty() {
            String::new()
        } else {
            format!("{text}. ")
        };
        Problem::new(
            status,
            &slug,
            reason,
            format!("{said}Check the request against /api/v1/openapi.json and send again."),
        )
    };
    let new = problem.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Response::from_parts(parts, new.into_body())
}

async fn healthz(State(state): State<AppState>) -> Response {
    match ops::healthy(&state.ctx).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Prometheus metrics, for this machine's loopback addresses, or for
/// whoever sends the `metrics_token` as a bearer token when one is set.
async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
    let allowed = match &state.ctx.settings.metrics_token {
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|sent| {
                extract::constant_time_eq(sent.trim().as_bytes(), token.as_bytes())
            }),
        None => peer.is_some_and(|p| p.0.ip().is_loopback()),
    };
    if !allowed {
        return Problem::not_found(
            "Metrics are served to this machine only, or with the metrics token \
             (setting metrics_token) as a bearer token.",
        )
        .into_response();
    }
    ops::update_metrics(&state.ctx).await;
    match &state.metrics {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off\n").into_response(),
    }
}
