//! Search (DESIGN.md section 7): full-text search over what the viewer may
//! see, on each backend's own engine, and the matching a followed search
//! runs. The query language is `domain::search`.
//!
//! INTERFACE STUB: the types and signatures below are the contract the
//! results page, the suggestions and followed searches are written
//! against; the bodies come with the search index.

use domain::search::Query;

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::viewer::Viewer;

/// Which tab of results is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// Items, comments, people, spaces and topics together.
    #[default]
    Everything,
    /// Items of every kind and comments.
    Posts,
    People,
    Spaces,
}

impl Tab {
    pub const ALL: &[Tab] = &[Tab::Everything, Tab::Posts, Tab::People, Tab::Spaces];

    pub fn as_str(self) -> &'static str {
        match self {
            Tab::Everything => "everything",
            Tab::Posts => "posts",
            Tab::People => "people",
            Tab::Spaces => "spaces",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Tab::ALL.iter().copied().find(|t| t.as_str() == s)
    }
}

/// What a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    /// An item (post, request, offer, to-do, ...; `item_kind` says which).
    Item,
    Comment,
    Person,
    Space,
    Topic,
}

/// One result, ready to show: every field has passed the visibility rule.
#[derive(Debug, Clone)]
pub struct Hit {
    pub kind: HitKind,
    /// The stored kind word of an item (`post`, `request`, ...), else None.
    pub item_kind: Option<String>,
    /// Item id for items and comments (the comment's item), else None.
    pub item_id: Option<i64>,
    pub comment_id: Option<i64>,
    /// Path in the app: `/items/12#comment-3`, `/people/ana`, `/spaces/eng`,
    /// `/topics/rust`.
    pub url: String,
    /// Plain text: an item's title (or its first words), a person's name,
    /// a space's name, `#topic`.
    pub title: String,
    /// Safe HTML: matched words in `<mark>`, everything else escaped.
    pub snippet_html: String,
    /// The space it is in: (slug, name).
    pub space: Option<(String, String)>,
    /// Who wrote it: (handle, display name).
    pub author: Option<(String, String)>,
    /// When it was written (or last edited), microseconds since the epoch.
    pub at: Option<i64>,
}

/// How many results each tab holds for this viewer (only what they may
/// see is counted).
#[derive(Debug, Clone, Copy, Default)]
pub struct TabCounts {
    pub everything: u64,
    pub posts: u64,
    pub people: u64,
    pub spaces: u64,
}

#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    pub counts: TabCounts,
    /// Opaque; pass back to read on.
    pub next_cursor: Option<String>,
}

/// One page of results for `query` as `viewer` may see them, best first.
pub async fn search(
    _ctx: &Ctx,
    _viewer: &Viewer,
    _query: &Query,
    _tab: Tab,
    _cursor: Option<&str>,
    _limit: usize,
) -> AppResult<SearchPage> {
    Ok(SearchPage::default())
}

/// The activities after `after_activity` (ascending, at most `limit`) that
/// made an item or a comment `query` matches and `viewer` may see: what a
/// followed search delivers.
pub async fn matches_after(
    _ctx: &Ctx,
    _viewer: &Viewer,
    _query: &Query,
    _after_activity: i64,
    _limit: usize,
) -> AppResult<Vec<i64>> {
    Ok(Vec::new())
}
