//! Logging in and out, and changing the password (which ends the other
//! sessions).

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{LoginName, Password};
use serde::Deserialize;

use super::profiles::settings_after;
use super::{
    Acting, CsrfForm, check_csrf, form_errors, org_name, render, safe_next, same_origin, viewer,
    with_cookie,
};
use crate::error::AppError;
use crate::http::api::sessions::{clear_cookie, session_cookie};
use crate::http::extract::{ClientIp, user_agent};
use crate::service::{org, sessions, signup};
use crate::state::AppState;

#[derive(Template, Default)]
#[template(path = "login.html")]
struct LoginPage {
    org_name: String,
    login: String,
    next: String,
    notice: Option<String>,
    signup_open: bool,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if viewer(&state, &headers).await.is_some() {
        return Redirect::to("/").into_response();
    }
    let notice = match signup::setup_needed(&state.ctx).await {
        Ok(true) => Some(
            "Chorus has no owner yet: open the setup link that `chorus serve` printed.".to_owned(),
        ),
        _ => None,
    };
    let org = org::org_settings(&state.ctx).await.ok();
    let page = LoginPage {
        org_name: org
            .as_ref()
            .map_or_else(|| "Chorus".into(), |o| o.org_name.clone()),
        next: q.next.unwrap_or_default(),
        notice,
        signup_open: org.is_some_and(|o| o.signup_open() && !o.signup_domains.is_empty()),
        ..Default::default()
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    match sessions::login(
        &state.ctx,
        &LoginName::parse(&f.login),
        &f.password,
        &ip,
        user_agent(&headers),
    )
    .await
    {
        Ok((_, s)) => with_cookie(session_cookie(&state, &s), safe_next(&f.next)),
        Err(e) => {
            let retry_after = match &e {
                AppError::RateLimited { retry_after, .. } => Some(*retry_after),
                _ => None,
            };
            match form_errors(e) {
                Ok((status, errors)) => {
                    let page = LoginPage {
                        org_name: org_name(&state).await,
                        login: f.login,
                        next: f.next,
                        errors,
                        ..Default::default()
                    };
                    let mut res = render(status, &page);
                    if let Some(secs) = retry_after {
                        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
                    }
                    res
                }
                Err(r) => r,
            }
        }
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(v) = viewer(&state, &headers).await {
        if let Err(r) = check_csrf(&v, &f.csrf) {
            return r;
        }
        if let Err(e) = sessions::logout(&state.ctx, &v).await {
            return e.into_response();
        }
    }
    with_cookie(clear_cookie(&state), "/login")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    /// The account's handle, a hidden field for password managers; unused.
    #[serde(default, rename = "username")]
    _username: String,
}
csrf_form!(PasswordForm);

pub async fn change_password(
    State(state): State<AppState>,
    Acting(v, f): Acting<PasswordForm>,
) -> Response {
    let r = match Password::parse(&f.new_password) {
        Ok(new) => sessions::change_password(&state.ctx, &v, &f.current_password, &new).await,
        Err(e) => Err(e.for_field("new_password").into()),
    };
    let said = match r {
        Ok(0) => "Password changed. Your other logins have ended.".to_owned(),
        Ok(1) => "Password changed. Your other logins have ended, and your API token was revoked: create a new one below if a script needs it.".to_owned(),
        Ok(n) => format!("Password changed. Your other logins have ended, and your {n} API tokens were revoked: create new ones below where scripts need them."),
        Err(_) => String::new(),
    };
    settings_after(&state, &v, r, &said).await
}
