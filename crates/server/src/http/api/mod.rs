//! The JSON API under `/api/v1`, and its OpenAPI document. Routes are
//! registered through `utoipa_axum`, so a handler cannot be routed without
//! also being described.

pub mod acks;
pub mod addresses;
pub mod admin;
pub mod audience;
pub mod comments;
pub mod follows;
pub mod invitations;
pub mod items;
pub mod json;
pub mod lists;
pub mod live;
pub mod mail;
pub mod notifications;
pub mod profiles;
pub mod reactions;
pub mod requests;
pub mod search;
pub mod searches;
pub mod sessions;
pub mod signup;
pub mod spaces;
pub mod streams;
pub mod suggestions;
pub mod tokens;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use base64::Engine;
use serde::Deserialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::error::AppError;
use crate::http::problem::Problem;
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::PersonView;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chorus API",
        description = "The JSON API of Chorus, a self-hosted social network for work. \
            Authenticate with the session cookie (and `X-CSRF-Token` on unsafe requests) or \
            `Authorization: Bearer <personal API token>`. Errors are RFC 9457 \
            `application/problem+json`. Lists take `limit` and `before` and answer \
            `{items, next}`."
    ),
    servers((url = "/api/v1")),
    modifiers(&Security),
    components(schemas(Problem))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::http::extract::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every operation of the document.
fn operations(
    api: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    api.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

/// Gives every response without a description its status's reason
/// ("OK", "Not Found"): OpenAPI requires one, and utoipa leaves it out when
/// a handler's annotation has none.
fn describe_responses(api: &mut utoipa::openapi::OpenApi) {
    for op in operations(api) {
        for (code, r) in &mut op.responses.responses {
            if let utoipa::openapi::RefOr::T(r) = r
                && r.description.is_empty()
            {
                r.description = code
                    .parse()
                    .ok()
                    .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Response")
                    .to_owned();
            }
        }
    }
}

/// Documents the errors as they are sent: every error response is
/// `application/problem+json` (utoipa writes `application/json` for
/// `body = Problem`), and every operation lists the errors its extractors
/// answer before the handler runs — 400 (a path, cursor or JSON that
/// cannot be read), 401 (when it needs a login), 413 and 415 (when it
/// takes a body) and 422 (a query string or body of the wrong shape).
fn document_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const PROBLEM: &str = "application/problem+json";
    let problem = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build()
    };
    for op in operations(api) {
        for (code, r) in &mut op.responses.responses {
            if let RefOr::T(r) = r
                && !code.starts_with(['1', '2', '3'])
                && let Some(content) = r.content.shift_remove("application/json")
            {
                r.content.insert(PROBLEM.to_owned(), content);
            }
        }
        let has_body = op.request_body.is_some();
        let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let mut common = vec![(400, "Bad Request")];
        if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
            common.push((401, "Unauthorized"));
        }
        if has_body {
            common.push((413, "Payload Too Large"));
            common.push((415, "Unsupported Media Type"));
        }
        if has_body || has_params {
            common.push((422, "Unprocessable Entity"));
        }
        for (code, reason) in common {
            op.responses
                .responses
                .entry(code.to_string())
                .or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(reason)
                            .content(PROBLEM, problem())
                            .build(),
                    )
                });
        }
    }
}

/// `?limit=&before=` on every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(20).clamp(1, 100)
    }
}

pub fn encode_cursor(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

pub fn decode_cursor(s: &str) -> Result<String, Problem> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad_cursor)
}

pub fn decode_id_cursor(s: &str) -> Result<i64, Problem> {
    decode_cursor(s)?.parse().map_err(|_| bad_cursor())
}

pub fn bad_cursor() -> Problem {
    Problem::new(
        axum::http::StatusCode::BAD_REQUEST,
        "bad-cursor",
        "Bad cursor",
        "The `before` cursor is not one this server gave out. Pass the `next` value of the \
         previous page unchanged, or leave it out to start from the top.",
    )
}

async fn people_page<F, Fut>(q: ListQuery, fetch: F) -> Result<Json<Page<PersonView>>, Problem>
where
    F: FnOnce(String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<crate::service::profiles::Person>, AppError>>,
{
    let limit = q.limit();
    let after = q
        .before
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or_default();
    let people = fetch(after, limit + 1).await?;
    let more = people.len() as i64 > limit;
    let items: Vec<PersonView> = people
        .iter()
        .take(limit as usize)
        .map(PersonView::from)
        .collect();
    let next = more
        .then(|| items.last().map(|p| encode_cursor(&p.handle)))
        .flatten();
    Ok(Json(Page { items, next }))
}

/// The API routes (relative to `/api/v1`) and the OpenAPI document.
pub fn router(state: &AppState) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let avatar_limit = state.ctx.settings.max_avatar_bytes + 1024;
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(signup::setup_status, signup::setup))
        .routes(routes!(sessions::login, sessions::logout))
        .routes(routes!(signup::signup))
        .routes(routes!(signup::complete_signup))
        .routes(routes!(profiles::me, profiles::update_me))
        .routes(routes!(sessions::change_password))
        .routes(routes!(mail::mail_choices, mail::put_mail_choices))
        .routes(routes!(addresses::get_address, addresses::put_address))
        .routes(routes!(addresses::resend_address_link))
        .routes(routes!(addresses::confirm_address))
        .routes(routes!(addresses::revoke_reply_addresses))
        .routes(routes!(addresses::forgot_password))
        .routes(routes!(addresses::reset_password))
        .routes(
            routes!(profiles::put_avatar, profiles::delete_avatar)
                .layer(DefaultBodyLimit::max(avatar_limit)),
        )
        .routes(routes!(profiles::list_members))
        .routes(routes!(profiles::get_member))
        .routes(routes!(profiles::get_avatar))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(invitations::create, invitations::list))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitations::preview, invitations::accept))
        .routes(routes!(admin::get_settings, admin::update_settings))
        .routes(routes!(admin::update_member))
        .routes(routes!(admin::list_jobs))
        .routes(routes!(admin::retry_job))
        .routes(routes!(spaces::list_spaces, spaces::create_space))
        .routes(routes!(spaces::get_space, spaces::update_space))
        .routes(routes!(spaces::join_space))
        .routes(routes!(spaces::leave_space))
        .routes(routes!(lists::get_list_mode, lists::put_list_mode))
        .routes(routes!(spaces::space_members, spaces::add_member))
        .routes(routes!(spaces::remove_member))
        .routes(routes!(spaces::join_requests))
        .routes(routes!(spaces::decide_request))
        .routes(routes!(streams::space_stream))
        .routes(routes!(streams::home_stream))
        .routes(routes!(streams::everything_stream))
        .routes(routes!(streams::topic_stream))
        .routes(routes!(streams::member_stream))
        .routes(routes!(streams::item_stream))
        .routes(routes!(items::create_item))
        .routes(routes!(
            items::get_item,
            items::edit_item,
            items::delete_item
        ))
        .routes(routes!(items::item_revisions))
        .routes(routes!(comments::list_comments, comments::add_comment))
        .routes(routes!(reactions::add_reaction))
        .routes(routes!(reactions::remove_reaction))
        .routes(routes!(follows::follow))
        .routes(routes!(follows::unfollow))
        .routes(routes!(follows::followers))
        .routes(routes!(searches::list_searches, searches::follow_search))
        .routes(routes!(
            searches::get_search,
            searches::put_search,
            searches::unfollow_search
        ))
        .routes(routes!(suggestions::suggestions))
        .routes(routes!(suggestions::search_suggestions))
        .routes(routes!(follows::following))
        .routes(routes!(audience::audience))
        .routes(routes!(notifications::notifications))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::mark_all_read))
        .routes(routes!(acks::mark_seen, acks::seen))
        .routes(routes!(acks::acknowledge, acks::acknowledgements))
        .routes(routes!(live::home))
        .routes(routes!(live::everything))
        .routes(routes!(live::space))
        .routes(routes!(live::topic))
        .routes(routes!(live::member))
        .routes(routes!(live::item))
        .routes(routes!(live::notifications))
        .routes(routes!(requests::create_request))
        .routes(routes!(requests::get_request))
        .routes(routes!(requests::make_act))
        .routes(routes!(requests::my_work))
        .routes(routes!(requests::list_todos, requests::create_todo))
        .routes(routes!(requests::update_todo, requests::delete_todo))
        .routes(routes!(requests::issue_calendar, requests::revoke_calendar))
        .routes(routes!(requests::calendar_feed))
        .routes(routes!(search::search))
        .split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    describe_responses(&mut api);
    document_errors(&mut api);
    let doc = api.clone();
    let router = router.route(
        "/openapi.json",
        axum::routing::get(move || async move { Json(doc) }),
    );
    (router, api)
}
