//! First-run setup of the owner, and signing up by address domain.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{error_page, form_errors, org_name, render, same_origin, with_cookie};
use crate::error::AppError;
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
    email: String,
    /// The address a link was just mailed to.
    sent: Option<String>,
    errors: Vec<String>,
}

async fn signup_page_with(
    state: &AppState,
    status: StatusCode,
    email: String,
    sent: Option<String>,
    errors: Vec<String>,
) -> Response {
    match org::org_settings(&state.ctx).await {
        Ok(org) => render(
            status,
            &SignupPage {
                off: (!org.signup_open()).then_some(signup::DOMAIN_SIGNUP_OFF),
                org_name: org.org_name,
                domains: org.signup_domains.as_slice().to_vec(),
                email,
                sent,
                errors,
            },
        ),
        Err(e) => e.into_response(),
    }
}

pub async fn signup_page(State(state): State<AppState>) -> Response {
    signup_page_with(&state, StatusCode::OK, String::new(), None, Vec::new()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupForm {
    email: String,
}

/// The first step: the work address, to which a link goes.
pub async fn signup_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let r = match domain::Email::parse(&f.email) {
        Ok(e) => signup::start_signup(&state.ctx, &e)
            .await
            .map(|()| e.as_str().to_owned()),
        Err(e) => Err(e.into()),
    };
    match r {
        Ok(sent) => {
            signup_page_with(
                &state,
                StatusCode::OK,
                String::new(),
                Some(sent),
                Vec::new(),
            )
            .await
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => signup_page_with(&state, status, f.email, None, errors).await,
            Err(r) => r,
        },
    }
}

#[derive(Template, Default)]
#[template(path = "signup_join.html")]
struct JoinPage {
    org_name: String,
    token: String,
    email: String,
    display_name: String,
    handle: String,
    errors: Vec<String>,
}

/// The join form the mailed link opens.
pub async fn join_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match signup::open_signup(&state.ctx, &token).await {
        Ok(email) => render(
            StatusCode::OK,
            &JoinPage {
                org_name: org_name(&state).await,
                token,
                email,
                ..Default::default()
            },
        ),
        Err(e) => error_page(e, "/signup"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinForm {
    display_name: String,
    handle: String,
    password: String,
}

pub async fn join_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<JoinForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let result = async {
        let input = SignupInput::parse(&f.handle, &f.display_name, None, &f.password)?;
        let m = signup::complete_signup(&state.ctx, &token, &input).await?;
        sessions::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e @ (AppError::Gone { .. } | AppError::NotFound(_) | AppError::Forbidden(_))) => {
            error_page(e, "/signup")
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                let email = signup::open_signup(&state.ctx, &token)
                    .await
                    .unwrap_or_default();
                render(
                    status,
                    &JoinPage {
                        org_name: org_name(&state).await,
                        token,
                        email,
                        display_name: f.display_name,
                        handle: f.handle,
                        errors,
                    },
                )
            }
            Err(r) => r,
        },
    }
}
