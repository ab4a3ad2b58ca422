//! Spaces, items, comments, reactions, follows, streams, audiences and
//! notifications.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::json::RawJson;
use super::{ListQuery, decode_cursor, decode_id_cursor, encode_cursor};
use crate::error::AppError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::accounts::Viewer;
use crate::service::social::{self as svc, ItemInput, JoinOutcome, SpaceInput, StreamRequest};
use crate::state::AppState;
use crate::views::Page;
use crate::views::social::*;
use axum::response::{IntoResponse, Response};

fn item_id(s: &str) -> Result<i64, Problem> {
    s.parse()
        .map_err(|_| Problem::not_found(format!("There is no item {s} that you can see.")))
}

fn mail_domain(state: &AppState) -> String {
    crate::config::host_of(&state.ctx.base_url).unwrap_or_else(|| "localhost".to_owned())
}

// ---- spaces ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpaceListQuery {
    pub limit: Option<i64>,
    pub before: Option<String>,
    /// Only spaces the viewer belongs to.
    pub mine: Option<bool>,
}

/// Spaces the viewer may know exist, by short name.
#[utoipa::path(get, path = "/spaces", tag = "spaces", params(SpaceListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<SpaceView>)))]
pub async fn list_spaces(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<SpaceListQuery>,
) -> Result<Json<Page<SpaceView>>, Problem> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let after = q
        .before
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .unwrap_or_default();
    let spaces = svc::list_spaces(
        &state.ctx,
        &viewer,
        q.mine.unwrap_or(false),
        &after,
        limit + 1,
    )
    .await?;
    let more = spaces.len() as i64 > limit;
    let domain = mail_domain(&state);
    let items: Vec<SpaceView> = spaces
        .iter()
        .take(limit as usize)
        .map(|s| SpaceView::new(s, &domain))
        .collect();
    let next = more
        .then(|| items.last().map(|s| encode_cursor(&s.slug)))
        .flatten();
    Ok(Json(Page { items, next }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpaceRequest {
    pub name: Option<String>,
    /// Short name for URLs and mail; made from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// `open` (default), `closed` or `secret`.
    pub visibility: Option<String>,
    /// On PATCH: archive (true) or unarchive (false).
    pub archived: Option<bool>,
}

impl From<SpaceRequest> for SpaceInput {
    fn from(r: SpaceRequest) -> Self {
        SpaceInput {
            name: r.name,
            slug: r.slug,
            description: r.description,
            visibility: r.visibility,
            archived: r.archived,
        }
    }
}

/// Creates a space; the creator is its admin.
#[utoipa::path(post, path = "/spaces", tag = "spaces", request_body = SpaceRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = SpaceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<SpaceRequest>,
) -> Result<(StatusCode, Json<SpaceView>), Problem> {
    let s = svc::create_space(&state.ctx, &viewer, &req.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SpaceView::new(&s, &mail_domain(&state))),
    ))
}

/// One space (secret spaces are 404 to non-members).
#[utoipa::path(get, path = "/spaces/{slug}", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SpaceView), (status = 404, body = Problem)))]
pub async fn get_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<SpaceView>, Problem> {
    let s = svc::get_space(&state.ctx, &viewer, &slug).await?;
    Ok(Json(SpaceView::new(&s, &mail_domain(&state))))
}

/// Edits or archives a space (its admins).
#[utoipa::path(patch, path = "/spaces/{slug}", tag = "spaces", params(("slug" = String, Path)),
    request_body = SpaceRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SpaceView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<SpaceRequest>,
) -> Result<Json<SpaceView>, Problem> {
    let s = svc::update_space(&state.ctx, &viewer, &slug, &req.into()).await?;
    Ok(Json(SpaceView::new(&s, &mail_domain(&state))))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// For closed spaces: a note to the admins.
    pub message: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JoinAnswer {
    /// `joined`, `requested` or `already_member`.
    pub outcome: String,
}

/// Joins an open space, or asks to join a closed one.
#[utoipa::path(post, path = "/spaces/{slug}/join", tag = "spaces", params(("slug" = String, Path)),
    request_body = JoinRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = JoinAnswer), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn join_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    body: bytes::Bytes,
) -> Result<Json<JoinAnswer>, Problem> {
    // The body is optional: `{}` or nothing at all.
    let req: JoinRequest = if body.iter().all(u8::is_ascii_whitespace) {
        JoinRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("The body is not valid JSON: {e}."),
            )
        })?
    };
    let message = req.message.unwrap_or_default();
    let outcome = match svc::join_space(&state.ctx, &viewer, &slug, &message).await? {
        JoinOutcome::Joined => "joined",
        JoinOutcome::Requested => "requested",
        JoinOutcome::AlreadyMember => "already_member",
    };
    Ok(Json(JoinAnswer {
        outcome: outcome.into(),
    }))
}

/// Leaves a space.
#[utoipa::path(post, path = "/spaces/{slug}/leave", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn leave_space(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    svc::leave_space(&state.ctx, &viewer, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The space's members.
#[utoipa::path(get, path = "/spaces/{slug}/members", tag = "spaces",
    params(("slug" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn space_members(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    people_page(q, |after, limit| async move {
        svc::space_members(&state.ctx, &viewer, &slug, &after, limit).await
    })
    .await
}

async fn people_page<F, Fut>(q: ListQuery, fetch: F) -> Result<Json<Page<PersonView>>, Problem>
where
    F: FnOnce(String, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<svc::Person>, AppError>>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub handle: String,
    /// `member` (default) or `admin`.
    pub role: Option<String>,
}

/// Adds someone to the space, or changes their role there (space admins).
/// The only way into a secret space.
#[utoipa::path(post, path = "/spaces/{slug}/members", tag = "spaces", params(("slug" = String, Path)),
    request_body = AddMemberRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = PersonView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn add_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> Result<Json<PersonView>, Problem> {
    let p = svc::add_member(&state.ctx, &viewer, &slug, &req.handle, req.role.as_deref()).await?;
    Ok(Json(PersonView::from(&p)))
}

/// Removes someone from the space (space admins; anyone for themselves).
#[utoipa::path(delete, path = "/spaces/{slug}/members/{handle}", tag = "spaces",
    params(("slug" = String, Path), ("handle" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((slug, handle)): ApiPath<(String, String)>,
) -> Result<StatusCode, Problem> {
    svc::remove_member(&state.ctx, &viewer, &slug, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pending requests to join (space admins).
#[utoipa::path(get, path = "/spaces/{slug}/requests", tag = "spaces", params(("slug" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn join_requests(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Page<PersonView>>, Problem> {
    let people = svc::join_requests(&state.ctx, &viewer, &slug).await?;
    Ok(Json(Page {
        items: people.iter().map(PersonView::from).collect(),
        next: None,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// True to let them in, false to turn them down.
    pub approve: bool,
}

/// Approves or denies a request to join (space admins).
#[utoipa::path(post, path = "/spaces/{slug}/requests/{handle}", tag = "spaces",
    params(("slug" = String, Path), ("handle" = String, Path)), request_body = DecisionRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn decide_request(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((slug, handle)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<StatusCode, Problem> {
    svc::decide_request(&state.ctx, &viewer, &slug, &handle, req.approve).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- streams ----

/// A page of a stream (`Page<ActivityView>`).
async fn stream_page(
    state: &AppState,
    viewer: &Viewer,
    which: StreamRequest,
    q: &ListQuery,
) -> Result<Response, Problem> {
    let before = q.before.as_deref().map(decode_position).transpose()?;
    let cursor = |(a, b): (i64, i64)| encode_cursor(&format!("{a}-{b}"));
    let json = svc::stream_page(&state.ctx, viewer, which, before, q.limit(), cursor).await?;
    Ok(RawJson(json).into_response())
}

fn decode_position(s: &str) -> Result<(i64, i64), Problem> {
    let text = decode_cursor(s)?;
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-cursor",
            "Bad cursor",
            "The `before` cursor is not one this server gave out. Pass the `next` value of the \
             previous page unchanged, or leave it out to start from the top.",
        )
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// The home stream: activity on everything the viewer follows, muted removed.
#[utoipa::path(get, path = "/streams/home", tag = "streams", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn home_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Home, &q).await
}

/// Everything: every new item the viewer may see.
#[utoipa::path(get, path = "/streams/everything", tag = "streams", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn everything_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Everything, &q).await
}

/// A space's stream.
#[utoipa::path(get, path = "/spaces/{slug}/stream", tag = "streams", params(("slug" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<ActivityView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn space_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Space(slug), &q).await
}

/// A topic's stream: items tagged #topic.
#[utoipa::path(get, path = "/topics/{tag}/stream", tag = "streams", params(("tag" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>)))]
pub async fn topic_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(tag): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Topic(tag), &q).await
}

/// A member's stream: their posts and comments the viewer may see.
#[utoipa::path(get, path = "/members/{handle}/stream", tag = "streams", params(("handle" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>),
    (status = 404, body = Problem)))]
pub async fn member_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Profile(handle), &q).await
}

/// An item's own history.
#[utoipa::path(get, path = "/items/{id}/stream", tag = "streams", params(("id" = String, Path), ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = Page<ActivityView>),
    (status = 404, body = Problem)))]
pub async fn item_stream(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    stream_page(&state, &viewer, StreamRequest::Item(item_id(&id)?), &q).await
}

// ---- items ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItemRequest {
    /// Post in this space (its slug)…
    pub space: Option<String>,
    /// …or directly to these people (handles); with neither, on your profile.
    #[serde(default)]
    pub to: Vec<String>,
    pub title: Option<String>,
    /// Markdown; `@handle` mentions and `#topic` tags are linked.
    pub body: String,
    /// Ask the audience to acknowledge it.
    #[serde(default)]
    pub ack_requested: bool,
}

async fn item_answer(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<Json<ItemView>, Problem> {
    let d = svc::get_item(&state.ctx, viewer, id).await?;
    let audience = svc::audience_of_item(&state.ctx, viewer, &d.item).await?;
    Ok(Json(ItemView::detail(&d, &audience)))
}

/// Posts an item.
#[utoipa::path(post, path = "/items", tag = "items", request_body = NewItemRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = ItemView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<NewItemRequest>,
) -> Result<(StatusCode, Json<ItemView>), Problem> {
    let input = ItemInput {
        space: req.space,
        to: req.to,
        title: req.title,
        body: req.body,
        ack_requested: req.ack_requested,
    };
    let id = svc::create_item(&state.ctx, &viewer, &input).await?;
    Ok((StatusCode::CREATED, item_answer(&state, &viewer, id).await?))
}

/// One item, with who can see it.
#[utoipa::path(get, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ItemView), (status = 404, body = Problem)))]
pub async fn get_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ItemView>, Problem> {
    item_answer(&state, &viewer, item_id(&id)?).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditItemRequest {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// Edits an item (its author); the earlier text is kept in its revisions.
#[utoipa::path(patch, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    request_body = EditItemRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = ItemView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn edit_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<EditItemRequest>,
) -> Result<Json<ItemView>, Problem> {
    let id = item_id(&id)?;
    svc::edit_item(
        &state.ctx,
        &viewer,
        id,
        req.title.as_deref(),
        req.body.as_deref(),
    )
    .await?;
    item_answer(&state, &viewer, id).await
}

/// Deletes an item: a tombstone stays, and so does its thread.
#[utoipa::path(delete, path = "/items/{id}", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_item(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    svc::delete_item(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct RevisionView {
    pub title: String,
    pub body: String,
    pub edited_by: String,
    pub replaced_at: String,
}

/// Earlier versions of an item, newest first.
#[utoipa::path(get, path = "/items/{id}/revisions", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<RevisionView>), (status = 404, body = Problem)))]
pub async fn item_revisions(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Page<RevisionView>>, Problem> {
    let revs = svc::item_revisions(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(Page {
        items: revs
            .iter()
            .map(|r| RevisionView {
                title: r.title.clone(),
                body: r.body.clone(),
                edited_by: r.edited_by.clone(),
                replaced_at: crate::views::time(r.edited_at),
            })
            .collect(),
        next: None,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    pub limit: Option<i64>,
    /// The `next` cursor: comments come oldest first.
    pub after: Option<String>,
}

/// An item's comments, oldest first.
#[utoipa::path(get, path = "/items/{id}/comments", tag = "items", params(("id" = String, Path), CommentQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem)))]
pub async fn list_comments(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CommentQuery>,
) -> Result<Json<Page<CommentView>>, Problem> {
    let id = item_id(&id)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let after = q
        .after
        .as_deref()
        .map(decode_id_cursor)
        .transpose()?
        .unwrap_or(0);
    let (comments, reactions) =
        svc::comments_with_reactions(&state.ctx, &viewer, id, after, limit + 1).await?;
    let more = comments.len() as i64 > limit;
    let items: Vec<CommentView> = comments
        .iter()
        .take(limit as usize)
        .map(|c| CommentView::new(c, &reactions))
        .collect();
    let next = more
        .then(|| items.last().map(|c| encode_cursor(&c.id)))
        .flatten();
    Ok(Json(Page { items, next }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Markdown, with @mentions.
    pub body: String,
}

/// Comments on an item.
#[utoipa::path(post, path = "/items/{id}/comments", tag = "items", params(("id" = String, Path)),
    request_body = CommentRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 201, body = CommentView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn add_comment(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<CommentView>), Problem> {
    let id = item_id(&id)?;
    let c = svc::add_comment(&state.ctx, &viewer, id, &req.body).await?;
    Ok((StatusCode::CREATED, Json(CommentView::new(&c, &[]))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactionRequest {
    /// One emoji, like 👍.
    pub emoji: String,
    /// React to this comment of the item instead of the item.
    pub comment_id: Option<String>,
}

fn comment_id(s: Option<&str>) -> Result<Option<i64>, Problem> {
    s.map(|c| {
        c.parse()
            .map_err(|_| Problem::not_found(format!("There is no comment {c}.")))
    })
    .transpose()
}

/// Adds a reaction.
#[utoipa::path(post, path = "/items/{id}/reactions", tag = "items", params(("id" = String, Path)),
    request_body = ReactionRequest, security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReactionRequest>,
) -> Result<StatusCode, Problem> {
    let cid = comment_id(req.comment_id.as_deref())?;
    svc::react(&state.ctx, &viewer, item_id(&id)?, cid, &req.emoji, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReactionQuery {
    pub comment_id: Option<String>,
}

/// Removes the viewer's reaction.
#[utoipa::path(delete, path = "/items/{id}/reactions/{emoji}", tag = "items",
    params(("id" = String, Path), ("emoji" = String, Path), ReactionQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<ReactionQuery>,
) -> Result<StatusCode, Problem> {
    let cid = comment_id(q.comment_id.as_deref())?;
    svc::react(&state.ctx, &viewer, item_id(&id)?, cid, &emoji, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- follows ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowRequest {
    /// `member`, `space`, `topic` or `item`.
    pub target_type: String,
    /// A handle, space slug, topic or item id.
    pub target: String,
    /// `watching`, `following` (default) or `muted`.
    pub level: Option<String>,
}

/// Follows (or mutes) a member, space, topic or item.
#[utoipa::path(put, path = "/follows", tag = "follows", request_body = FollowRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn follow(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<FollowRequest>,
) -> Result<StatusCode, Problem> {
    svc::follow(
        &state.ctx,
        &viewer,
        &req.target_type,
        &req.target,
        req.level.as_deref().unwrap_or("following"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops following.
#[utoipa::path(delete, path = "/follows/{target_type}/{target}", tag = "follows",
    params(("target_type" = String, Path), ("target" = String, Path)), security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn unfollow(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath((target_type, target)): ApiPath<(String, String)>,
) -> Result<StatusCode, Problem> {
    svc::unfollow(&state.ctx, &viewer, &target_type, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who follows a member.
#[utoipa::path(get, path = "/members/{handle}/followers", tag = "follows",
    params(("handle" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<PersonView>), (status = 404, body = Problem)))]
pub async fn followers(
    State(state): State<AppState>,
    ApiViewer(_viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PersonView>>, Problem> {
    people_page(q, |after, limit| async move {
        svc::member_followers(&state.ctx, &handle, &after, limit).await
    })
    .await
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FollowView {
    pub target_type: String,
    /// A handle, space slug, topic or item id.
    pub target: String,
    pub name: String,
    pub level: String,
}

/// What a member follows (people, spaces the viewer may see, topics),
/// newest first. A page may hold fewer than `limit` entries (what the
/// viewer may not see is left out); follow `next` until it is null.
#[utoipa::path(get, path = "/members/{handle}/following", tag = "follows",
    params(("handle" = String, Path), ListQuery), security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = Page<FollowView>), (status = 404, body = Problem)))]
pub async fn following(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<FollowView>>, Problem> {
    let before = match q.before.as_deref() {
        Some(c) => {
            let c = crate::http::api::decode_cursor(c)?;
            let (at, key) = c
                .split_once('\t')
                .ok_or_else(crate::http::api::bad_cursor)?;
            Some((
                at.parse().map_err(|_| crate::http::api::bad_cursor())?,
                key.to_owned(),
            ))
        }
        None => None,
    };
    let (items, next) =
        svc::member_following_page(&state.ctx, &viewer, &handle, before, q.limit()).await?;
    let next = next.map(|(at, key)| crate::http::api::encode_cursor(&format!("{at}\t{key}")));
    Ok(Json(Page {
        items: items
            .into_iter()
            .map(|(t, target, name, level)| FollowView {
                target_type: t,
                target,
                name,
                level,
            })
            .collect(),
        next,
    }))
}

// ---- audience ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AudienceQuery {
    /// A space slug.
    pub space: Option<String>,
    /// Comma-separated handles, for a direct post.
    pub direct: Option<String>,
    /// Set for a post on your profile.
    pub profile: Option<String>,
}

/// Who will see a post with this target, before posting.
#[utoipa::path(get, path = "/audience", tag = "items", params(AudienceQuery),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = AudienceView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn audience(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<AudienceQuery>,
) -> Result<Json<AudienceView>, Problem> {
    let a = if let Some(slug) = q.space.as_deref().filter(|s| !s.is_empty()) {
        svc::audience_for_space(&state.ctx, &viewer, slug).await?
    } else if let Some(d) = q.direct.as_deref().filter(|d| !d.is_empty()) {
        let handles: Vec<String> = d.split(',').map(str::to_owned).collect();
        svc::audience_for_direct(&state.ctx, &viewer, &handles).await?
    } else if q.profile.is_some() {
        svc::audience_for_profile(&state.ctx).await?
    } else {
        return Err(AppError::invalid(
            "space",
            "Say where the post goes: ?space=<slug>, ?direct=<handles> or ?profile.",
        )
        .into());
    };
    Ok(Json(AudienceView::from(&a)))
}

// ---- notifications ----

/// The viewer's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(ListQuery),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = NotificationPage)))]
pub async fn notifications(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<NotificationPage>, Problem> {
    let before = q.before.as_deref().map(decode_id_cursor).transpose()?;
    let (rows, unread, next) = svc::notifications(&state.ctx, &viewer, before, q.limit()).await?;
    Ok(Json(NotificationPage {
        items: rows
            .into_iter()
            .map(|(n, a)| NotificationView::new(&n, a))
            .collect(),
        next: next.map(|n| encode_cursor(&n.to_string())),
        unread,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The notifications to mark read (their `id`s from the list). To mark
    /// everything read, call `POST /notifications/read-all`.
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UnreadView {
    pub unread: i64,
}

/// Marks the notifications named by `ids` read.
#[utoipa::path(post, path = "/notifications/read", tag = "notifications", request_body = ReadRequest,
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = UnreadView), (status = 422, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Result<Json<UnreadView>, Problem> {
    let Some(ids) = req.ids else {
        return Err(AppError::invalid(
            "ids",
            "Name the notifications to mark read by their `id`s; to mark all of them read, \
             call POST /notifications/read-all.",
        )
        .into());
    };
    let ids: Vec<i64> = ids
        .iter()
        .map(|i| {
            i.parse().map_err(|_| {
                AppError::invalid(
                    "ids",
                    "Notification ids are the `id` strings from the list.",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    svc::mark_read(&state.ctx, &viewer, Some(&ids)).await?;
    Ok(Json(UnreadView {
        unread: svc::unread_count(&state.ctx, &viewer).await?,
    }))
}

/// Marks every notification read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = UnreadView)))]
pub async fn mark_all_read(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<UnreadView>, Problem> {
    svc::mark_read(&state.ctx, &viewer, None).await?;
    Ok(Json(UnreadView {
        unread: svc::unread_count(&state.ctx, &viewer).await?,
    }))
}

// ---- seen and acknowledgements ----

/// Records that the viewer has seen the item.
#[utoipa::path(post, path = "/items/{id}/seen", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 204), (status = 404, body = Problem)))]
pub async fn mark_seen(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    svc::mark_seen(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SeenView {
    /// How many have seen it.
    pub count: i64,
    /// Who, for the item's author; empty for everyone else.
    pub people: Vec<PersonView>,
}

/// Seen by N (and, for the author, who).
#[utoipa::path(get, path = "/items/{id}/seen", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = SeenView), (status = 404, body = Problem)))]
pub async fn seen(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SeenView>, Problem> {
    let (count, people) = svc::seen(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(SeenView {
        count,
        people: people.iter().map(PersonView::from).collect(),
    }))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AcksView {
    pub count: i64,
    /// The viewer has acknowledged it.
    pub me: bool,
    /// For the author: who has…
    pub acknowledged: Vec<PersonView>,
    /// …and who has not yet (up to 200 of `pending_count`).
    pub pending: Vec<PersonView>,
    pub pending_count: i64,
}

/// Acknowledges an item whose author asked for it.
#[utoipa::path(post, path = "/items/{id}/acknowledgements", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    svc::acknowledge(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who has acknowledged the item (and, for the author, who has not).
#[utoipa::path(get, path = "/items/{id}/acknowledgements", tag = "items", params(("id" = String, Path)),
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = AcksView), (status = 404, body = Problem)))]
pub async fn acknowledgements(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AcksView>, Problem> {
    let a = svc::acknowledgements(&state.ctx, &viewer, item_id(&id)?).await?;
    Ok(Json(AcksView {
        count: a.count,
        me: a.me,
        acknowledged: a.acknowledged.iter().map(PersonView::from).collect(),
        pending: a.pending.iter().map(PersonView::from).collect(),
        pending_count: a.pending_count,
    }))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SuggestionsView {
    /// People in the viewer's spaces whom they do not follow yet.
    pub people: Vec<PersonView>,
    /// Busy open spaces the viewer is not in.
    pub spaces: Vec<SpaceView>,
}

/// Suggested follows, for a new member especially.
#[utoipa::path(get, path = "/follows/suggestions", tag = "follows",
    security(("bearer" = []), ("session" = [])), responses((status = 200, body = SuggestionsView)))]
pub async fn suggestions(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
) -> Result<Json<SuggestionsView>, Problem> {
    let (people, spaces) = svc::suggestions(&state.ctx, &viewer).await?;
    let domain = mail_domain(&state);
    Ok(Json(SuggestionsView {
        people: people.iter().map(PersonView::from).collect(),
        spaces: spaces.iter().map(|s| SpaceView::new(s, &domain)).collect(),
    }))
}
