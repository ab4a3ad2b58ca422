//! RFC 9457 problem details: every API error is `application/problem+json`
//! with a stable `type` slug, a human `detail` and, for validation, the
//! fields at fault.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable identifier, `/problems/<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What happened and what to do.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `act-not-allowed`: the acts possible now and who may make them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<AllowedAct>>)]
    pub allowed: Option<Box<Vec<AllowedAct>>>,
    #[serde(skip)]
    /// Seconds (u32 keeps the problem small enough to return by value).
    pub retry_after: Option<u32>,
    /// Ask the client not to reuse the connection (the request body was
    /// not read, so the connection cannot carry another request).
    #[serde(skip)]
    pub close: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllowedAct {
    pub act: String,
    /// `requester` or `performer`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            allowed: None,
            retry_after: None,
            close: false,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not logged in",
            "Log in, or send a personal API token as `Authorization: Bearer <token>`.",
        )
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        match e {
            AppError::Validation(errors) => {
                let detail = if errors.len() == 1 {
                    errors[0].message.clone()
                } else {
                    "Some fields are not valid; see `errors`.".to_owned()
                };
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "Invalid input",
                    detail,
                );
                p.errors = errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: e.field,
                        message: e.message,
                    })
                    .collect();
                p
            }
            AppError::BadRequest(d) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", d)
            }
            AppError::Unauthorized(d) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Not logged in", d)
            }
            AppError::Forbidden(d) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", d)
            }
            AppError::NotFound(d) => Problem::not_found(d),
            AppError::Conflict { detail, field } => {
                let mut p = Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", &detail);
                if let Some(field) = field {
                    p.errors.push(FieldError {
                        field: field.to_owned(),
                        message: detail,
                    });
                }
                p
            }
            AppError::Gone { slug, detail } => {
                Problem::new(StatusCode::GONE, slug, "No longer valid", detail)
            }
            AppError::RateLimited {
                detail,
                retry_after,
            } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many attempts",
                    detail,
                );
                p.retry_after = Some(u32::try_from(retry_after).unwrap_or(u32::MAX));
                p
            }
            AppError::Unavailable(d) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Unavailable",
                d,
            ),
            AppError::ActNotAllowed { detail, allowed } => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "act-not-allowed",
                    "Act not allowed now",
                    detail,
                );
                p.allowed = Some(Box::new(
                    allowed
                        .into_iter()
                        .map(|(act, role)| AllowedAct { act, role })
                        .collect(),
                ));
                p
            }
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "Something went wrong on our side. It has been logged; try again, and tell \
                     an admin if it keeps happening.",
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.close {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
