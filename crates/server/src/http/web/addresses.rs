//! Address pages: changing one's address (settings), confirming it from
//! the mailed link, "Forgot your password?" and the reset form, and
//! stopping one's old reply addresses.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::{Email, Password};
use serde::Deserialize;

use super::profiles::settings_after;
use super::{
    Acting, CsrfForm, error_page, form_errors, org_name, render, same_origin, with_cookie,
};
use crate::http::api::sessions::session_cookie;
use crate::http::extract::{ClientIp, user_agent};
use crate::service::addresses::{self, AddressChange};
use crate::state::AppState;
use store::addresses::Purpose;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressForm {
    csrf: String,
    email: String,
}
csrf_form!(AddressForm);

fn change_notice(c: &AddressChange) -> String {
    match c {
        AddressChange::Pending(e) => format!(
            "We sent a link to {e}; the new address takes effect when you open it (within {} \
             hours). Until then your old address keeps working.",
            addresses::VERIFY_HOURS
        ),
        AddressChange::Changed(e) => format!(
            "Your address is now {e}. Mail is off on this Chorus, so it is unverified until mail \
             is set up: mail from it does not post."
        ),
    }
}

/// Changes the address (settings).
pub async fn change_address(
    State(state): State<AppState>,
    Acting(v, f): Acting<AddressForm>,
) -> Response {
    let r = match Email::parse(&f.email) {
        Ok(e) => addresses::change_address(&state.ctx, &v, &e).await,
        Err(e) => Err(e.into()),
    };
    let said = r.as_ref().map(change_notice).unwrap_or_default();
    settings_after(&state, &v, r, &said).await
}

/// Mails the link for the pending address again.
pub async fn resend(State(state): State<AppState>, Acting(v, _f): Acting<CsrfForm>) -> Response {
    let r = addresses::resend_verification(&state.ctx, &v).await;
    let said = r.as_ref().map(change_notice).unwrap_or_default();
    settings_after(&state, &v, r, &said).await
}

/// Stops every reply address made so far.
pub async fn revoke_reply_addresses(
    State(state): State<AppState>,
    Acting(v, _f): Acting<CsrfForm>,
) -> Response {
    let r = addresses::revoke_reply_addresses(&state.ctx, &v).await;
    settings_after(
        &state,
        &v,
        r,
        "Your old reply addresses no longer work: replies to mails Chorus sent before now are \
         refused. Mails from now on carry new ones.",
    )
    .await
}

#[derive(Template)]
#[template(path = "address_confirm.html")]
struct ConfirmPage {
    org_name: String,
    token: String,
    email: String,
    done: bool,
}

/// The page the mailed link opens: the address, and a button (a link
/// scanner that opens it changes nothing).
pub async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match addresses::open_link(&state.ctx, &token, Purpose::Verify).await {
        Ok(l) => render(
            StatusCode::OK,
            &ConfirmPage {
                org_name: org_name(&state).await,
                token,
                email: l.email,
                done: false,
            },
        ),
        Err(e) => error_page(e, "/settings"),
    }
}

pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    match addresses::confirm_address(&state.ctx, &token).await {
        Ok(email) => render(
            StatusCode::OK,
            &ConfirmPage {
                org_name: org_name(&state).await,
                token: String::new(),
                email,
                done: true,
            },
        ),
        Err(e) => error_page(e, "/settings"),
    }
}

#[derive(Template, Default)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    org_name: String,
    login: String,
    sent: bool,
    errors: Vec<String>,
}

pub async fn forgot_page(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            org_name: org_name(&state).await,
            ..Default::default()
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotForm {
    login: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let (status, sent, errors) = match addresses::forgot_password(&state.ctx, &f.login).await {
        Ok(()) => (StatusCode::OK, true, Vec::new()),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => (status, false, errors),
            Err(r) => return r,
        },
    };
    render(
        status,
        &ForgotPage {
            org_name: org_name(&state).await,
            login: f.login,
            sent,
            errors,
        },
    )
}

#[derive(Template, Default)]
#[template(path = "password_reset.html")]
struct ResetPage {
    org_name: String,
    token: String,
    handle: String,
    errors: Vec<String>,
}

pub async fn reset_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let link = match addresses::open_link(&state.ctx, &token, Purpose::Reset).await {
        Ok(l) => l,
        Err(e) => return error_page(e, "/password/forgot"),
    };
    render(
        StatusCode::OK,
        &ResetPage {
            org_name: org_name(&state).await,
            token,
            handle: link.email,
            errors: Vec::new(),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetForm {
    new_password: String,
    /// The account's address, a hidden field for password managers; unused.
    #[serde(default, rename = "username")]
    _username: String,
}

pub async fn reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<ResetForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let r = match Password::parse(&f.new_password) {
        Ok(p) => addresses::reset_password(&state.ctx, &token, &p, &ip, user_agent(&headers)).await,
        Err(e) => Err(e.for_field("new_password").into()),
    };
    match r {
        Ok((_, s)) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e @ (crate::error::AppError::Gone { .. } | crate::error::AppError::NotFound(_))) => {
            error_page(e, "/password/forgot")
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => render(
                status,
                &ResetPage {
                    org_name: org_name(&state).await,
                    token,
                    handle: f._username,
                    errors,
                },
            ),
            Err(r) => r,
        },
    }
}
