//! Mail pages: one-click unsubscribe (RFC 8058: the POST needs no login
//! and no CSRF token, the signed link says who and what), its confirming
//! page, and saving the Notifications choices on the settings page.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::profiles::settings_after;
use super::{actor, error_page, render};
use crate::error::AppError;
use crate::service::mail;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    org_name: String,
    token: String,
    what: String,
    done: bool,
}

/// The page an unsubscribe link opens: what it turns off, and a button.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    let r = mail::open_unsubscribe(&state.ctx, &token).await;
    unsubscribe_answer(r, token, false)
}

/// Turns the mail off: the button, or a mail client's one-click POST.
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let r = mail::unsubscribe(&state.ctx, &token).await;
    unsubscribe_answer(r, token, true)
}

/// The unsubscribe page for the kind a token names, before or after.
fn unsubscribe_answer(
    r: Result<mail::Unsubscribed, AppError>,
    token: String,
    done: bool,
) -> Response {
    match r {
        Ok(what) => render(
            StatusCode::OK,
            &UnsubscribePage {
                org_name: "Chorus".into(),
                token,
                what: what.label(),
                done,
            },
        ),
        Err(e) => error_page(e, "/settings#notifications"),
    }
}

/// Saves the Notifications choices: `csrf`, `paused` when ticked,
/// `digest_hour` (0-23), and one `<kind>=<page|now|digest>` per kind.
pub async fn save_choices(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let v = match actor(&state, &headers, &uri, &csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let paused = fields.iter().any(|(k, v)| k == "paused" && v == "1");
    // An hour that is not a number is refused like one out of range.
    let hour = fields
        .iter()
        .find(|(k, _)| k == "digest_hour")
        .map(|(_, v)| v.trim().parse::<i64>().unwrap_or(-1));
    let choices: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(k, _)| k != "csrf" && k != "paused" && k != "digest_hour")
        .collect();
    let r = match mail::ChoicesInput::parse(&choices, Some(paused), hour) {
        Ok(input) => mail::save_mail_settings(&state.ctx, &v, &input).await,
        Err(e) => Err(e),
    };
    settings_after(&state, &v, r, "Notification choices saved.").await
}
