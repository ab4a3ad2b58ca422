//! Search: `GET /search?q=…`, what the viewer may see, best first.

use axum::Json;
use axum::extract::State;
use domain::search::{Query, SearchType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;
use crate::http::extract::{ApiSearchQuery, ApiViewer};
use crate::http::problem::Problem;
use crate::service::search::{self, Hit, HitKind, Tab};
use crate::state::AppState;
use crate::views::opt_time;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What was typed: words, "phrases", -word, from:@handle, in:space,
    /// type:, is:open|done|unanswered, before:/after:YYYY-MM-DD, #topic.
    /// Empty: an empty page.
    pub q: Option<String>,
    /// Restricts to one kind, as `type:` in `q` does: post, question, idea,
    /// request, offer, comment, person, space, topic, todo.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// everything (default), posts, people or spaces.
    pub tab: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// The same as `cursor`, as other lists name it.
    pub before: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchSpace {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAuthor {
    pub handle: String,
    pub display_name: String,
}

/// One result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// item, comment, person, space or topic.
    pub kind: String,
    /// An item's kind (post, request, offer, todo, ...).
    pub item_kind: Option<String>,
    /// The item, or the comment's item.
    pub item_id: Option<String>,
    pub comment_id: Option<String>,
    /// Where it is in the web app.
    pub url: String,
    pub title: String,
    /// Safe HTML: the text around the first match, matched words in
    /// `<mark>`, everything else escaped.
    pub snippet_html: String,
    pub space: Option<SearchSpace>,
    /// Who wrote it (for a person: themselves).
    pub author: Option<SearchAuthor>,
    /// When it was written or last edited.
    pub at: Option<String>,
}

impl From<Hit> for SearchHit {
    fn from(h: Hit) -> SearchHit {
        SearchHit {
            kind: match h.kind {
                HitKind::Item => "item",
                HitKind::Comment => "comment",
                HitKind::Person => "person",
                HitKind::Space => "space",
                HitKind::Topic => "topic",
            }
            .to_owned(),
            item_kind: h.item_kind,
            item_id: h.item_id.map(|i| i.to_string()),
            comment_id: h.comment_id.map(|i| i.to_string()),
            url: h.url,
            title: h.title,
            snippet_html: h.snippet_html,
            space: h.space.map(|(slug, name)| SearchSpace { slug, name }),
            author: h.author.map(|(handle, display_name)| SearchAuthor {
                handle,
                display_name,
            }),
            at: opt_time(h.at),
        }
    }
}

/// How many results each tab holds, of what the viewer may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchCounts {
    pub everything: u64,
    pub posts: u64,
    pub people: u64,
    pub spaces: u64,
    /// The counts are lower bounds ("1,000+"): the search reads a bounded
    /// number of the newest matches.
    pub capped: bool,
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Pass back as `cursor` for the next page.
    pub next: Option<String>,
    pub counts: SearchCounts,
}

/// Full-text search over what the viewer may see: items, comments, to-dos
/// they own, people, spaces and topics, ranked by relevance and recency.
/// Any text is a query (unknown operators are words); an empty one is an
/// empty page.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, body = SearchResults)))]
pub async fn search(
    State(state): State<AppState>,
    ApiViewer(viewer): ApiViewer,
    ApiSearchQuery(p): ApiSearchQuery<SearchParams>,
) -> Result<Json<SearchResults>, Problem> {
    let mut query = Query::parse(p.q.as_deref().unwrap_or(""));
    if let Some(k) = p.kind.as_deref().filter(|k| !k.is_empty()) {
        query.kind = Some(SearchType::parse(k).ok_or_else(|| {
            AppError::invalid(
                "type",
                "Name one of post, question, idea, request, offer, comment, person, space, \
                 topic, todo.",
            )
        })?);
    }
    let tab = match p.tab.as_deref().filter(|t| !t.is_empty()) {
        None => Tab::Everything,
        Some(t) => Tab::parse(t).ok_or_else(|| {
            AppError::invalid("tab", "Name one of everything, posts, people, spaces.")
        })?,
    };
    let limit = p.limit.unwrap_or(20).clamp(1, 100) as usize;
    let cursor = p.cursor.as_deref().or(p.before.as_deref());
    let page = search::search(&state.ctx, &viewer, &query, tab, cursor, limit).await?;
    Ok(Json(SearchResults {
        items: page.hits.into_iter().map(SearchHit::from).collect(),
        next: page.next_cursor,
        counts: SearchCounts {
            everything: page.counts.everything,
            posts: page.counts.posts,
            people: page.counts.people,
            spaces: page.counts.spaces,
            capped: page.counts.capped,
        },
    }))
}
