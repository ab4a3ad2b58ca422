//! The search results page: tabs with their counts, the query's parts as
//! chips that each remove themselves, the hits, the next page, an empty
//! state that says what to try, and the form that follows the search.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::search::Query as SearchQuery;
use serde::Deserialize;

use super::views::{Ago, ShellV};
use super::{error_page, member, render, shell_v};
use crate::service::pages;
use crate::service::search::{Hit, HitKind, Tab};
use crate::state::AppState;

/// `/search?q=…` with the tab and cursor when they are not the first.
pub fn url(q: &str, tab: Option<Tab>, cursor: Option<&str>) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    url.append_pair("q", q);
    if let Some(t) = tab.filter(|t| *t != Tab::Everything) {
        url.append_pair("tab", t.as_str());
    }
    if let Some(c) = cursor {
        url.append_pair("cursor", c);
    }
    format!("/search?{}", url.finish())
}

/// A part of the query shown as a chip, and the search without it.
pub struct ChipV {
    pub text: String,
    pub without: String,
}

pub struct TabV {
    pub label: &'static str,
    /// "12", or "1000+" where the search stopped counting.
    pub count: String,
    pub url: String,
    pub current: bool,
}

pub struct HitV {
    /// What it is, in a word: `post`, `question`, `comment`, `person`…
    pub kind: String,
    pub url: String,
    pub title: String,
    /// Safe HTML from the search (matched words in `<mark>`).
    pub snippet_html: String,
    /// (slug, name)
    pub space: Option<(String, String)>,
    /// (handle, name)
    pub author: Option<(String, String)>,
    /// A person's `@handle`.
    pub detail: String,
    pub ago: Option<Ago>,
}

impl HitV {
    fn new(h: &Hit) -> HitV {
        let kind = match h.kind {
            HitKind::Item => h.item_kind.clone().unwrap_or_else(|| "post".into()),
            HitKind::Comment => "comment".into(),
            HitKind::Person => "person".into(),
            HitKind::Space => "space".into(),
            HitKind::Topic => "topic".into(),
        };
        HitV {
            title: if h.title.trim().is_empty() {
                format!("Untitled {kind}")
            } else {
                h.title.clone()
            },
            kind,
            url: super::safe_next(&h.url).to_owned(),
            snippet_html: h.snippet_html.clone(),
            // A space is not "in" itself, nor is a person their own author.
            space: h.space.clone().filter(|_| h.kind != HitKind::Space),
            author: h.author.clone().filter(|_| h.kind != HitKind::Person),
            detail: match (&h.kind, &h.author) {
                (HitKind::Person, Some((handle, _))) => format!("@{handle}"),
                _ => String::new(),
            },
            ago: h.at.map(Ago::new),
        }
    }
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    s: ShellV,
    /// The query's canonical text (what following the search keeps).
    canonical: String,
    /// The viewer's level when they follow this search.
    followed: Option<String>,
    chips: Vec<ChipV>,
    tabs: Vec<TabV>,
    tab: &'static str,
    hits: Vec<HitV>,
    next_url: Option<String>,
    /// The operators, each with an example search, for the empty state:
    /// (operator, what it does, example, its link).
    examples: Vec<(&'static str, &'static str, &'static str, String)>,
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    tab: Option<String>,
    cursor: Option<String>,
}

/// What to try when nothing was found: (operator, what it does, example).
const OPERATORS: [(&str, &str, &str); 7] = [
    ("\"a phrase\"", "these words together", "\"release plan\""),
    ("-word", "leaves out what has the word", "launch -draft"),
    ("from:@handle", "written by someone", "from:@ada"),
    ("in:space", "in one space", "in:engineering"),
    (
        "type:question",
        "one kind: post, question, idea, request, comment, person, space",
        "type:question",
    ),
    (
        "is:open",
        "open, done or unanswered",
        "type:request is:open",
    ),
    ("#topic", "carries a topic", "#launch"),
];

pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(p): Query<SearchParams>,
) -> Response {
    let v = match member(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let query = SearchQuery::parse(&p.q);
    let tab = p.tab.as_deref().and_then(Tab::parse).unwrap_or_default();
    let cursor = p.cursor.as_deref().filter(|c| !c.is_empty());
    let r = match pages::search(&state.ctx, &v, &query, tab, cursor).await {
        Ok(r) => r,
        Err(e) => return error_page(e, "/"),
    };
    let canonical = query.to_string();
    let parts = query.parts();
    let chips = parts
        .iter()
        .enumerate()
        .map(|(n, part)| {
            let rest: Vec<&str> = parts
                .iter()
                .enumerate()
                .filter(|(m, _)| *m != n)
                .map(|(_, p)| p.as_str())
                .collect();
            ChipV {
                text: part.clone(),
                without: url(&rest.join(" "), Some(tab), None),
            }
        })
        .collect();
    let c = r.page.counts;
    let tabs = Tab::ALL
        .iter()
        .map(|&t| TabV {
            label: match t {
                Tab::Everything => "Everything",
                Tab::Posts => "Posts",
                Tab::People => "People",
                Tab::Spaces => "Spaces",
            },
            count: {
                let n = match t {
                    Tab::Everything => c.everything,
                    Tab::Posts => c.posts,
                    Tab::People => c.people,
                    Tab::Spaces => c.spaces,
                };
                if c.capped {
                    format!("{n}+")
                } else {
                    n.to_string()
                }
            },
            url: url(&canonical, Some(t), None),
            current: t == tab,
        })
        .collect();
    let mut s = shell_v(r.shell, &v, "search", &uri);
    s.search = p.q.chars().take(domain::search::MAX_QUERY_CHARS).collect();
    let page = SearchPage {
        chips,
        tabs,
        tab: tab.as_str(),
        hits: r.page.hits.iter().map(HitV::new).collect(),
        next_url: r
            .page
            .next_cursor
            .as_deref()
            .map(|n| url(&canonical, Some(tab), Some(n))),
        examples: OPERATORS
            .iter()
            .map(|(op, what, ex)| (*op, *what, *ex, url(ex, None, None)))
            .collect(),
        followed: r.followed,
        canonical,
        s,
    };
    render(StatusCode::OK, &page)
}
