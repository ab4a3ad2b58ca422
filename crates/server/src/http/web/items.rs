//! Items: the composer and posting, an item's page, editing and
//! deleting.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::ItemId;
use serde::Deserialize;

use super::views::{CommentV, FollowV, ItemV, PersonV, ShellV};
use super::{Acting, CsrfForm, done, error_page, member, render, shell_v};
use crate::error::AppError;
use crate::service::audience::DirectTo;
use crate::service::items;
use crate::service::items::ItemInput;
use crate::service::pages;
use crate::service::viewer::Viewer;
use crate::state::AppState;

pub struct ComposerV {
    /// (value, label, selected)
    pub targets: Vec<(String, String, bool)>,
    pub audience: String,
    pub placeholder: &'static str,
    /// The one place this composer posts to (on a space's page).
    pub fixed: Option<String>,
}

pub(super) fn composer(
    v: &Viewer,
    spaces: &[crate::service::spaces::Space],
    selected: Option<&str>,
    audience: String,
) -> ComposerV {
    let mut targets = Vec::new();
    if v.role() != domain::Role::Guest {
        targets.push((
            "profile".to_owned(),
            "My profile: everyone".to_owned(),
            selected.is_none(),
        ));
    }
    for s in spaces.iter().filter(|s| s.archived_at.is_none()) {
        targets.push((
            format!("space:{}", s.slug),
            format!("Space: {}", s.name),
            selected == Some(s.slug.as_str()),
        ));
    }
    targets.push((
        "direct".to_owned(),
        "Direct: only the people I name".to_owned(),
        false,
    ));
    ComposerV {
        targets,
        audience,
        placeholder: "Share an update, ask a question… @mention people, #tag topics.",
        fixed: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeForm {
    csrf: String,
    #[serde(default)]
    back: String,
    target: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    title: String,
    body: String,
    ack: Option<String>,
}
csrf_form!(ComposeForm);

pub async fn compose(State(state): State<AppState>, Acting(v, f): Acting<ComposeForm>) -> Response {
    let mut input = ItemInput {
        title: Some(f.title),
        body: f.body,
        ack_requested: f.ack.is_some(),
        ..Default::default()
    };
    if let Some(slug) = f.target.strip_prefix("space:") {
        input.space = Some(slug.to_owned());
    } else if f.target == "direct" {
        input.to = DirectTo::parse(f.to.split(|c: char| c == ',' || c.is_whitespace()));
        if input.to.is_empty() {
            return error_page(
                AppError::invalid("to", "Name the people a direct post goes to, like @ana."),
                &f.back,
            );
        }
    }
    done(items::create_item(&state.ctx, &v, &input).await, &f.back)
}

#[derive(Template)]
#[template(path = "item.html")]
pub struct ItemPage {
    s: ShellV,
    i: ItemV,
    label: String,
    body: String,
    topics: Vec<String>,
    recipients: Vec<PersonV>,
    audience: String,
    comments: Vec<CommentV>,
    follow: FollowV,
    followers: Vec<PersonV>,
    follower_count: i64,
    seen_count: i64,
    seen_by: Vec<PersonV>,
    is_author: bool,
    can_delete: bool,
    acked_me: bool,
    ack_count: i64,
    ack_pending_count: i64,
    acked: Vec<PersonV>,
    pending: Vec<PersonV>,
    revisions: usize,
}

pub async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<ItemId>() else {
        return error_page(AppError::NotFound(format!("There is no item {id}.")), "/");
    };
    let p = match pages::item(&state.ctx, &v, id).await {
        Ok(p) => p,
        Err(e) => return error_page(e, "/"),
    };
    let d = &p.detail;
    let i = ItemV::new(&d.item, &d.reactions);
    let page = ItemPage {
        label: i.label(),
        body: d.item.body.clone(),
        topics: d.topics.clone(),
        recipients: d.recipients.iter().map(PersonV::person).collect(),
        audience: p.audience.label.clone(),
        comments: p
            .comments
            .iter()
            .map(|c| CommentV::new(c, &d.reactions))
            .collect(),
        follow: FollowV::new("item", &id.to_string(), d.follow_level.as_deref()),
        followers: p.followers.iter().map(PersonV::person).collect(),
        follower_count: p.follower_count,
        seen_count: p.seen_count,
        seen_by: p.seen_by.iter().map(PersonV::person).collect(),
        is_author: d.item.author_id == v.id(),
        can_delete: d.item.author_id == v.id() || v.role().is_admin(),
        acked_me: p.acks.me,
        ack_count: p.acks.count,
        ack_pending_count: p.acks.pending_count,
        acked: p.acks.acknowledged.iter().map(PersonV::person).collect(),
        pending: p.acks.pending.iter().map(PersonV::person).collect(),
        revisions: p.revisions,
        i,
        s: shell_v(p.shell, &v, "", &uri),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditForm {
    csrf: String,
    title: String,
    body: String,
}
csrf_form!(EditForm);

pub async fn edit_item(
    State(state): State<AppState>,
    Path(id): Path<ItemId>,
    Acting(v, f): Acting<EditForm>,
) -> Response {
    done(
        items::edit_item(&state.ctx, &v, id, Some(&f.title), Some(&f.body)).await,
        &format!("/items/{id}"),
    )
}

pub async fn delete_item(
    State(state): State<AppState>,
    Path(id): Path<ItemId>,
    Acting(v, _): Acting<CsrfForm>,
) -> Response {
    done(
        items::delete_item(&state.ctx, &v, id).await,
        &format!("/items/{id}"),
    )
}
