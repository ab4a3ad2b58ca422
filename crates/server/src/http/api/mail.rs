//! The logged-in member's mail choices: per kind of notification, in the
//! page only, mail at once or the daily digest; the digest's hour; and a
//! pause of all mail.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::{ApiJson, ApiViewer};
use crate::http::problem::Problem;
use crate::service::mail;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct MailChoicesView {
    /// Whether this Chorus sends mail at all (a relay is set).
    pub mail_on: bool,
    /// No mail goes to the member while paused.
    pub paused: bool,
    /// The member's address, when mail to it bounces and no longer goes.
    pub bouncing: Option<String>,
    /// Every kind of notification with its choice: `page`, `now` or
    /// `digest`. The daily digest goes to members with at least one kind
    /// in it.
    pub choices: BTreeMap<String, String>,
    /// The hour (0-23) the daily digest comes, in `digest_time_zone`.
    pub digest_hour: i64,
    /// The IANA time zone the digest hour is counted in: the member's
    /// (`time_zone` of the profile), or `UTC` when theirs is empty or
    /// unknown.
    pub digest_time_zone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailChoicesRequest {
    pub paused: Option<bool>,
    /// Kinds to change (`mention`, `reply`, …) and their new choice
    /// (`page`, `now` or `digest`); kinds left out keep theirs.
    #[serde(default)]
    pub choices: BTreeMap<String, String>,
    /// The hour (0-23) of the daily digest, in the member's time zone.
    #[schema(minimum = 0, maximum = 23)]
    pub digest_hour: Option<i64>,
}

async fn view(
    state: &AppState,
    viewer: &crate::service::viewer::Viewer,
) -> Result<MailChoicesView, Problem> {
    let m = mail::mail_settings(&state.ctx, viewer).await?;
    Ok(MailChoicesView {
        mail_on: m.mail_on,
        paused: m.paused,
        bouncing: m.bouncing,
        choices: m
            .choices
            .iter()
            .map(|(k, c)| (k.as_str().to_owned(), c.as_str().to_owned()))
            .collect(),
        digest_hour: m.digest_hour,
        digest_time_zone: m.digest_zone,
    })
}

/// The logged-in member's mail choices.
#[utoipa::path(get, path = "/me/mail", tag = "accounts",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MailChoicesView), (status = 401, body = Problem)))]
pub async fn mail_choices(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<MailChoicesView>, Problem> {
    Ok(Json(view(&state, &viewer).await?))
}

/// Changes the logged-in member's mail choices; what is left out stays.
#[utoipa::path(put, path = "/me/mail", tag = "accounts", request_body = MailChoicesRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = MailChoicesView), (status = 401, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_mail_choices(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<MailChoicesRequest>,
) -> Result<Json<MailChoicesView>, Problem> {
    let choices: Vec<(String, String)> = req.choices.into_iter().collect();
    let input = mail::ChoicesInput::parse(&choices, req.paused, req.digest_hour)?;
    mail::save_mail_settings(&state.ctx, &viewer, &input).await?;
    Ok(Json(view(&state, &viewer).await?))
}
