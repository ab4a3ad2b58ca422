//! First-run setup of the owner, and signing up by address domain.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{form_errors, org_name, render, same_origin, with_cookie};
use crate::http::api::sessions::session_cookie;
use crate::http::extract::{ClientIp, user_agent};
use crate::service::signup::SignupInput;
use crate::service::{org, sessions, signup};
use crate::state::AppState;

#[derive(Template, Default)]
#[template(path = "setup.html")]
struct SetupPage {
    org_name: String,
    valid: bool,
    token: String,
    display_name: String,
    handle: String,
    email: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn setup_page(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    let valid = signup::setup_token_valid(&state.ctx, &token)
        .await
        .unwrap_or(false);
    let page = SetupPage {
        org_name: org_name(&state).await,
        valid,
        token,
        ..Default::default()
    };
    render(
        if valid {
            StatusCode::OK
        } else {
            StatusCode::GONE
        },
        &page,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupForm {
    token: String,
    display_name: String,
    handle: String,
    email: String,
    password: String,
}

pub async fn setup_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let result = async {
        let input = SignupInput::parse(&f.handle, &f.display_name, Some(&f.email), &f.password)?;
        let m = signup::complete_setup(&state.ctx, &f.token, &input).await?;
        sessions::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let page = SetupPage {
                    org_name: org_name(&state).await,
                    valid: status != StatusCode::GONE,
                    token: f.token,
                    display_name: f.display_name,
                    handle: f.handle,
                    email: f.email,
                    errors,
                };
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}

#[derive(Template, Default)]
#[template(path = "signup.html")]
struct SignupPage {
    org_name: String,
    /// Why nobody signs up by domain now, while that holds.
    off: Option<&'static str>,
    domains: Vec<String>,
    display_name: String,
    handle: String,
    email: String,
    errors: Vec<String>,
}

pub async fn signup_page(State(state): State<AppState>) -> Response {
    match org::org_settings(&state.ctx).await {
        Ok(org) => render(
            StatusCode::OK,
            &SignupPage {
                off: (!org.signup_open()).then_some(signup::DOMAIN_SIGNUP_OFF),
                org_name: org.org_name,
                domains: org.signup_domains.as_slice().to_vec(),
                ..Default::default()
            },
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupForm {
    display_name: String,
    handle: String,
    email: String,
    /// Accepted so the form parses; while sign-up is off nothing reads it.
    #[allow(dead_code)]
    password: String,
}

pub async fn signup_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let result = async {
        let m = signup::self_signup(&state.ctx).await?;
        sessions::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let org = org::org_settings(&state.ctx).await.ok();
                let page = SignupPage {
                    off: org
                        .as_ref()
                        .is_none_or(|o| !o.signup_open())
                        .then_some(signup::DOMAIN_SIGNUP_OFF),
                    org_name: org
                        .as_ref()
                        .map_or_else(|| "Chorus".into(), |o| o.org_name.clone()),
                    domains: org
                        .map(|o| o.signup_domains.as_slice().to_vec())
                        .unwrap_or_default(),
                    display_name: f.display_name,
                    handle: f.handle,
                    email: f.email,
                    errors,
                };
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}
