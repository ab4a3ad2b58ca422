//! The one error type of Chorus's services. Each variant says what went
//! wrong in words a person can act on; `http::problem` turns it into an RFC
//! 9457 problem and the pages into a message.

use domain::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(" "))]
    Validation(Vec<ValidationError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    Conflict {
        detail: String,
        field: Option<&'static str>,
    },
    /// Something that existed but can no longer be used (an expired or used
    /// invitation); `slug` names the problem type.
    #[error("{detail}")]
    Gone { slug: &'static str, detail: String },
    #[error("{detail}")]
    RateLimited { detail: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// A conversation-for-action act the table does not allow now;
    /// `allowed` lists (act, role) pairs possible instead.
    #[error("{detail}")]
    ActNotAllowed {
        detail: String,
        allowed: Vec<(String, String)>,
    },
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError::Validation(vec![ValidationError::new(field, message)])
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        AppError::Validation(vec![e])
    }
}

impl From<store::Error> for AppError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound => AppError::NotFound("Not found.".into()),
            store::Error::Busy => {
                AppError::Unavailable("The database is busy. Try again in a moment.".into())
            }
            store::Error::Conflict(key) => AppError::Conflict {
                detail: format!("That already exists ({key})."),
                field: None,
            },
            // Input that reached PostgreSQL with a NUL character (the
            // API refuses it at the door; pages and forms land here).
            store::Error::BadText(_) => AppError::Validation(vec![ValidationError::new(
                "text",
                "Text may not contain the NUL character (U+0000).",
            )]),
            other => AppError::Internal(other.into()),
        }
    }
}

/// Collects validation errors field by field, so a form shows every
/// problem at once.
#[derive(Default)]
pub struct Checks(Vec<ValidationError>);

impl Checks {
    pub fn check<T>(&mut self, r: Result<T, ValidationError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, e: ValidationError) {
        self.0.push(e);
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
