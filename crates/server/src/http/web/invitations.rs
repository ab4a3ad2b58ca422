//! Invitations: inviting from home, and the page where an invited
//! person accepts and creates their account.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::streams::{StreamQuery, home_page};
use super::{actor, error_page, form_errors, org_name, render, same_origin, with_cookie};
use crate::http::api::sessions::session_cookie;
use crate::http::extract::{ClientIp, user_agent};
use crate::service::invitations::Invitation;
use crate::service::invitations::InviteInput;
use crate::service::signup::SignupInput;
use crate::service::{invitations, sessions};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    csrf: String,
    email: String,
}

pub async fn invite_from_home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<InviteForm>,
) -> Response {
    let uri = Uri::from_static("/");
    let v = match actor(&state, &headers, &uri, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let result = match InviteInput::parse(&f.email, None, None) {
        Ok(input) => invitations::invite(&state.ctx, &v, &input).await,
        Err(e) => Err(e),
    };
    let mut page = match home_page(&state, &v, &uri, &StreamQuery::default()).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    match result {
        Ok((_, link)) => {
            page.invite_link = Some(link);
            page.invite_email = f.email;
            render(StatusCode::CREATED, &page)
        }
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => {
                page.errors = errors;
                render(status, &page)
            }
            Err(r) => r,
        },
    }
}

#[derive(Template, Default)]
#[template(path = "invite.html")]
struct InvitePage {
    org_name: String,
    token: String,
    invitation: Option<Invitation>,
    problem: String,
    display_name: String,
    handle: String,
    errors: Vec<String>,
}

pub async fn invite_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let org_name = org_name(&state).await;
    match invitations::open_invitation(&state.ctx, &token).await {
        Ok(inv) => render(
            StatusCode::OK,
            &InvitePage {
                org_name,
                token,
                invitation: Some(inv),
                ..Default::default()
            },
        ),
        Err(e) => match form_errors(e) {
            Ok((status, errors)) => render(
                status,
                &InvitePage {
                    org_name,
                    problem: errors.join(" "),
                    ..Default::default()
                },
            ),
            Err(r) => r,
        },
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptForm {
    display_name: String,
    handle: String,
    password: String,
}

pub async fn invite_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Response {
    if let Err(r) = same_origin(&headers) {
        return r;
    }
    let result = async {
        let input = SignupInput::parse(&f.handle, &f.display_name, None, &f.password)?;
        let m = invitations::accept_invitation(&state.ctx, &token, &input).await?;
        sessions::start_session(&state.ctx, m.id, &ip, user_agent(&headers)).await
    }
    .await;
    match result {
        Ok(s) => with_cookie(session_cookie(&state, &s), "/"),
        Err(e) => {
            let org_name = org_name(&state).await;
            let invitation = invitations::open_invitation(&state.ctx, &token).await;
            match form_errors(e) {
                Ok((status, errors)) => {
                    let page = match invitation {
                        Ok(inv) => InvitePage {
                            org_name,
                            token,
                            invitation: Some(inv),
                            display_name: f.display_name,
                            handle: f.handle,
                            errors,
                            ..Default::default()
                        },
                        Err(_) => InvitePage {
                            org_name,
                            problem: errors.join(" "),
                            ..Default::default()
                        },
                    };
                    render(status, &page)
                }
                Err(r) => r,
            }
        }
    }
}
