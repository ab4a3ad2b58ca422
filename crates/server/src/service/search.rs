//! Search (DESIGN.md section 7): full-text search over what the viewer may
//! see, on each backend's own engine, and the matching a followed search
//! runs. The query language is `domain::search`; the index and the engine
//! syntax are `store::search`.
//!
//! A search reads at most [`CANDIDATES`] matches of each index, newest
//! first (reading on, at most [`ROUNDS`] times, when the visibility rule
//! left too few), applies the rule to every one of them, and only then
//! ranks and counts what is left: a result, a snippet or a count never
//! comes from what the viewer may not see. Counts are exact below
//! [`CANDIDATES`] and say `capped` above.

use std::collections::{HashMap, HashSet};

use domain::search::{Query, SearchType};
use domain::{ItemId, MemberId, SpaceId};
use store::search::{self as q, Candidate, DocRow, Filters, Index};

use crate::context::Ctx;
use crate::error::{AppError, AppResult};
use crate::service::viewer::{self, Viewer};

/// Matches of one index read per round, newest first.
pub const CANDIDATES: i64 = 1000;
/// Rounds of [`CANDIDATES`] read while the rule leaves fewer than
/// [`ENOUGH`] visible.
pub const ROUNDS: usize = 4;
const ENOUGH: usize = 200;
/// Topics matched are checked against the rule (by one visible item each)
/// up to this many a round; older ones are left out.
const TOPICS_CHECKED: usize = 20;

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
    /// There may be more than counted: the search read its bound of
    /// candidates ("1,000+").
    pub capped: bool,
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
    ctx: &Ctx,
    viewer: &Viewer,
    query: &Query,
    tab: Tab,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<SearchPage> {
    let limit = limit.clamp(1, 100);
    // A cursor carries the time its first page was ranked at, so that
    // recency (and so the order) is the same on every page.
    let (now, after) = match cursor {
        Some(c) => {
            let (now, key) = decode_cursor(c)?;
            (now, Some(key))
        }
        None => (ctx.now(), None),
    };
    // No files yet: nothing has an attachment.
    if query.is_empty() || query.has_attachment {
        return Ok(SearchPage::default());
    }
    let mut reader = Reader::open(ctx).await?;
    let c = reader.conn();
    let Some(plan) = Plan::new(c, query).await? else {
        return Ok(SearchPage::default());
    };
    let k = match ctx.db.kind() {
        store::Kind::Sqlite => 2.0,
        store::Kind::Postgres => 0.1,
    };
    let mut found: Vec<Found> = Vec::new();
    let mut counts = TabCounts::default();
    if let Some(f) = &plan.content {
        let (visible, capped) = gather(c, viewer, Index::Content, f).await?;
        counts.posts = visible.len() as u64;
        counts.capped |= capped;
        found.extend(visible.into_iter().map(|cand| Found::new(cand, now, k)));
    }
    if let Some(f) = &plan.directory {
        let (visible, capped) = gather(c, viewer, Index::Directory, f).await?;
        counts.people = visible.iter().filter(|v| v.doc == "person").count() as u64;
        counts.spaces = visible.iter().filter(|v| v.doc == "space").count() as u64;
        counts.capped |= capped;
        found.extend(visible.into_iter().map(|cand| Found::new(cand, now, k)));
    }
    counts.everything = found.len() as u64;
    found.retain(|f| match tab {
        Tab::Everything => true,
        Tab::Posts => matches!(f.cand.doc.as_str(), "item" | "comment" | "todo"),
        Tab::People => f.cand.doc == "person",
        Tab::Spaces => f.cand.doc == "space",
    });
    found.sort_by(|a, b| {
        b.key()
            .partial_cmp(&a.key())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if let Some(after) = after {
        found.retain(|f| f.key() < after);
    }
    let more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = more
        .then(|| found.last().map(|f| encode_cursor(now, f.key())))
        .flatten();
    let ids: Vec<i64> = found.iter().map(|f| f.cand.doc_id).collect();
    let mut rows: HashMap<i64, DocRow> = q::docs(c, &ids)
        .await?
        .into_iter()
        .map(|d| (d.doc_id, d))
        .collect();
    let words: Vec<&str> = query.words().collect();
    let hits = found
        .iter()
        .filter_map(|f| rows.remove(&f.cand.doc_id))
        .map(|d| hit(d, &words))
        .collect();
    Ok(SearchPage {
        hits,
        counts,
        next_cursor,
    })
}

/// The activities after `after_activity` (ascending, at most `limit`) that
/// made an item or a comment `query` matches and `viewer` may see: what a
/// followed search delivers.
pub async fn matches_after(
    ctx: &Ctx,
    viewer: &Viewer,
    query: &Query,
    after_activity: i64,
    limit: usize,
) -> AppResult<Vec<i64>> {
    const BATCH: i64 = 500;
    if query.is_empty() || query.has_attachment || limit == 0 {
        return Ok(Vec::new());
    }
    let mut reader = Reader::open(ctx).await?;
    let c = reader.conn();
    let Some(plan) = Plan::new(c, query).await? else {
        return Ok(Vec::new());
    };
    let Some(f) = &plan.content else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut after = after_activity;
    loop {
        let made = q::docs_of_activities(c, after, BATCH).await?;
        let Some(&(last, _)) = made.last() else {
            break;
        };
        let ids: Vec<i64> = made.iter().map(|(_, d)| *d).collect();
        let cands = q::candidates(c, Index::Content, f, None, Some(&ids), BATCH).await?;
        let seen: HashSet<i64> = visible(c, viewer, cands)
            .await?
            .into_iter()
            .map(|c| c.doc_id)
            .collect();
        out.extend(
            made.iter()
                .filter(|(_, d)| seen.contains(d))
                .map(|(a, _)| *a),
        );
        if out.len() >= limit || (made.len() as i64) < BATCH {
            break;
        }
        after = last;
    }
    out.truncate(limit);
    Ok(out)
}

/// A connection to read with. On PostgreSQL, a transaction whose
/// statements are planned for their values (`store::search::plan_for_values`),
/// rolled back when dropped.
enum Reader {
    Conn(store::Conn),
    Tx(store::Tx),
}

impl Reader {
    async fn open(ctx: &Ctx) -> AppResult<Reader> {
        Ok(match ctx.db.kind() {
            store::Kind::Sqlite => Reader::Conn(ctx.db.read().await?),
            store::Kind::Postgres => {
                let mut tx = ctx.db.write().await?;
                q::plan_for_values(&mut tx).await?;
                Reader::Tx(tx)
            }
        })
    }

    fn conn(&mut self) -> &mut store::Conn {
        match self {
            Reader::Conn(c) => c,
            Reader::Tx(tx) => tx,
        }
    }
}

/// Which indexes a query reads, with what filters.
struct Plan<'a> {
    content: Option<Filters<'a>>,
    directory: Option<Filters<'a>>,
}

impl<'a> Plan<'a> {
    /// None when the query cannot match anything (a `from:` or `in:` that
    /// names no one and nothing).
    async fn new(c: &mut store::Conn, query: &'a Query) -> AppResult<Option<Plan<'a>>> {
        let authors = q::member_ids(c, &query.from).await?;
        let spaces = q::space_ids(c, &query.in_spaces).await?;
        if authors.is_empty() && !query.from.is_empty()
            || spaces.is_empty() && !query.in_spaces.is_empty()
        {
            return Ok(None);
        }
        let base = Filters {
            terms: &query.terms,
            excluded: &query.excluded,
            topics: &query.topics,
            ..Filters::default()
        };
        let content_only = !query.from.is_empty()
            || !query.in_spaces.is_empty()
            || !query.topics.is_empty()
            || query.state.is_some()
            || query.after.is_some()
            || query.before.is_some();
        let day = |d: jiff::civil::Date| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp().as_microsecond())
                .ok()
        };
        let content = Filters {
            authors,
            spaces,
            state: query.state,
            after: query.after.and_then(day),
            before: query.before.and_then(day),
            ..base.clone()
        };
        let (content, directory) = match query.kind {
            None => (
                Some(content),
                (!content_only && query.has_text()).then_some(base),
            ),
            Some(SearchType::Comment) => (
                Some(Filters {
                    docs: vec!["comment"],
                    ..content
                }),
                None,
            ),
            Some(SearchType::Todo) => (
                Some(Filters {
                    docs: vec!["todo"],
                    ..content
                }),
                None,
            ),
            Some(t @ (SearchType::Person | SearchType::Space | SearchType::Topic)) => {
                if content_only {
                    return Ok(None);
                }
                (
                    None,
                    Some(Filters {
                        docs: vec![t.as_str()],
                        ..base
                    }),
                )
            }
            Some(t) => (
                Some(Filters {
                    docs: vec!["item"],
                    kinds: vec![t.as_str()],
                    ..content
                }),
                None,
            ),
        };
        Ok(Some(Plan { content, directory }))
    }
}

/// The visible matches of `f` in `index`, newest first: [`CANDIDATES`] at
/// a time, reading on while the rule leaves fewer than [`ENOUGH`]; and
/// whether there may be more than were read.
async fn gather(
    c: &mut store::Conn,
    viewer: &Viewer,
    index: Index,
    f: &Filters<'_>,
) -> AppResult<(Vec<Candidate>, bool)> {
    let mut out = Vec::new();
    let mut below = None;
    for _ in 0..ROUNDS {
        let cands = q::candidates(c, index, f, below, None, CANDIDATES).await?;
        let read = cands.len() as i64;
        below = cands.last().map(|c| c.doc_id);
        out.extend(visible(c, viewer, cands).await?);
        if read < CANDIDATES {
            return Ok((out, false));
        }
        if out.len() >= ENOUGH {
            break;
        }
    }
    Ok((out, true))
}

/// The candidates the visibility rule lets `viewer` see: an item by its
/// audience (`viewer::visible`), a comment by its item's, a to-do by its
/// owner, a space and a person by theirs, a topic by one visible item
/// that carries it.
async fn visible(
    c: &mut store::Conn,
    viewer: &Viewer,
    cands: Vec<Candidate>,
) -> AppResult<Vec<Candidate>> {
    let mut items: Vec<ItemId> = Vec::new();
    let mut people: Vec<MemberId> = Vec::new();
    let mut spaces: Vec<SpaceId> = Vec::new();
    for cand in &cands {
        match cand.doc.as_str() {
            "item" | "comment" => items.extend(cand.item_id),
            "person" => people.push(MemberId(cand.source_id)),
            "space" => spaces.extend(cand.space_id),
            _ => {}
        }
    }
    items.sort_unstable();
    items.dedup();
    let items: HashSet<ItemId> = q::item_access(c, viewer.id(), &items)
        .await?
        .into_iter()
        .filter(|i| viewer::visible(viewer, i))
        .map(|i| i.id)
        .collect();
    let people: HashSet<MemberId> = q::people_facts(c, viewer.id(), &people)
        .await?
        .into_iter()
        .filter(|(id, _, active, shares)| viewer::visible_person(viewer, *id, *shares, *active))
        .map(|p| p.0)
        .collect();
    let spaces: HashSet<SpaceId> = q::space_facts(c, viewer.id(), &spaces)
        .await?
        .into_iter()
        .filter(|(_, vis, in_space)| viewer::visible_space(viewer, *vis, *in_space))
        .map(|s| s.0)
        .collect();
    let mut out = Vec::with_capacity(cands.len());
    let mut topics_checked = 0;
    for cand in cands {
        let ok = match cand.doc.as_str() {
            "item" | "comment" => cand.item_id.is_some_and(|i| items.contains(&i)),
            "todo" => cand
                .author_id
                .is_some_and(|owner| viewer::visible_own(viewer, owner)),
            "person" => people.contains(&MemberId(cand.source_id)),
            "space" => cand.space_id.is_some_and(|s| spaces.contains(&s)),
            // Each costs two statements: the newest few topics only.
            "topic" if topics_checked < TOPICS_CHECKED => {
                topics_checked += 1;
                topic_visible(c, viewer, &cand).await?
            }
            _ => false,
        };
        if ok {
            out.push(cand);
        }
    }
    Ok(out)
}

/// A topic is found by whoever may see one of its newest items.
async fn topic_visible(c: &mut store::Conn, viewer: &Viewer, cand: &Candidate) -> AppResult<bool> {
    let name = q::docs(c, &[cand.doc_id])
        .await?
        .pop()
        .map(|d| d.title)
        .unwrap_or_default();
    Ok(q::topic_items(c, viewer.id(), &name, 50)
        .await?
        .iter()
        .any(|i| viewer::visible(viewer, i)))
}

/// A visible candidate and its score.
struct Found {
    cand: Candidate,
    score: f64,
}

impl Found {
    /// The ranking (ARCHITECTURE.md, Search): relevance `r` from the
    /// engine squashed into [0, 1) (`x / (x + k)`, `k` 2 for SQLite's 1
    /// to 4 and 0.1 for ts_rank_cd; 1 for a query without words), times recency
    /// `0.35 + 0.65 / (1 + age_days / 30)`; people, spaces and topics do
    /// not age (recency 0.6).
    fn new(cand: Candidate, now: i64, k: f64) -> Found {
        let x = cand.relevance.max(0.0);
        let r = if cand.relevance == 0.0 {
            1.0
        } else {
            x / (x + k)
        };
        let recency = match cand.doc.as_str() {
            "item" | "comment" | "todo" => {
                let days = (now - cand.created_at).max(0) as f64 / 86_400_000_000.0;
                0.35 + 0.65 / (1.0 + days / 30.0)
            }
            _ => 0.6,
        };
        Found {
            score: r * recency,
            cand,
        }
    }

    fn key(&self) -> (f64, i64) {
        (self.score, self.cand.doc_id)
    }
}

fn encode_cursor(now: i64, (score, id): (f64, i64)) -> String {
    format!("{now}.{:x}.{id}", score.to_bits())
}

fn decode_cursor(s: &str) -> AppResult<(i64, (f64, i64))> {
    let bad = || {
        AppError::BadRequest(
            "The search cursor is not one this server gave out. Pass the `next` value of the \
             previous page unchanged, or leave it out to start from the top."
                .into(),
        )
    };
    let (now, rest) = s.split_once('.').ok_or_else(bad)?;
    let now: i64 = now.parse().map_err(|_| bad())?;
    let (score, id) = rest.split_once('.').ok_or_else(bad)?;
    let score = u64::from_str_radix(score, 16)
        .map(f64::from_bits)
        .map_err(|_| bad())?;
    if !score.is_finite() {
        return Err(bad());
    }
    Ok((now, (score, id.parse().map_err(|_| bad())?)))
}

/// At most this many characters of text around the first match.
const SNIPPET_CHARS: usize = 200;
/// A title made of an untitled item's first words.
const TITLE_CHARS: usize = 80;

fn hit(d: DocRow, words: &[&str]) -> Hit {
    let text = match d.doc.as_str() {
        "person" => d.body.replace('\n', " · "),
        "space" => d
            .body
            .split_once('\n')
            .map(|(_, b)| b)
            .unwrap_or("")
            .to_owned(),
        _ => domain::markdown::plain_text(&d.body),
    };
    let text = if text.trim().is_empty() && d.doc != "topic" {
        d.title.clone()
    } else {
        text
    };
    let snippet_html = snippet(&text, words);
    let at = Some(d.edited_at.unwrap_or(d.created_at));
    let first_words = |title: &str, body: &str| {
        if title.trim().is_empty() {
            let plain = domain::markdown::plain_text(body);
            match cut(plain.trim(), TITLE_CHARS) {
                // A comment on a deleted post.
                t if t.is_empty() => "A deleted post".to_owned(),
                t => t,
            }
        } else {
            title.to_owned()
        }
    };
    match d.doc.as_str() {
        "item" => Hit {
            kind: HitKind::Item,
            item_kind: Some(d.kind.clone()),
            item_id: d.item_id.map(|i| i.get()),
            comment_id: None,
            url: format!("/items/{}", d.source_id),
            title: first_words(&d.title, &d.body),
            snippet_html,
            space: d.space,
            author: d.author,
            at,
        },
        "comment" => Hit {
            kind: HitKind::Comment,
            item_kind: None,
            item_id: d.item_id.map(|i| i.get()),
            comment_id: Some(d.source_id),
            url: format!(
                "/items/{}#c{}",
                d.item_id.map(|i| i.get()).unwrap_or_default(),
                d.source_id
            ),
            title: first_words(
                d.item_title.as_deref().unwrap_or(""),
                d.item_body.as_deref().unwrap_or(""),
            ),
            snippet_html,
            space: d.space,
            author: d.author,
            at,
        },
        "todo" => Hit {
            kind: HitKind::Item,
            item_kind: Some("todo".into()),
            item_id: d.item_id.map(|i| i.get()),
            comment_id: None,
            url: "/work".into(),
            title: d.title,
            snippet_html,
            space: d.space,
            author: d.author,
            at,
        },
        "person" => Hit {
            kind: HitKind::Person,
            item_kind: None,
            item_id: None,
            comment_id: None,
            url: format!(
                "/members/{}",
                d.author.as_ref().map(|a| a.0.as_str()).unwrap_or_default()
            ),
            title: d.title,
            snippet_html,
            space: None,
            author: d.author,
            at: None,
        },
        "space" => Hit {
            kind: HitKind::Space,
            item_kind: None,
            item_id: None,
            comment_id: None,
            url: format!(
                "/spaces/{}",
                d.space.as_ref().map(|s| s.0.as_str()).unwrap_or_default()
            ),
            title: d.title,
            snippet_html,
            space: d.space,
            author: None,
            at: None,
        },
        _ => Hit {
            kind: HitKind::Topic,
            item_kind: None,
            item_id: None,
            comment_id: None,
            url: format!("/topics/{}", d.title),
            title: format!("#{}", d.title),
            snippet_html: format!("#{}", escape(&d.title)),
            space: None,
            author: None,
            at: None,
        },
    }
}

/// At most `n` characters of `s`, with "…" when cut.
fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
        None => s.to_owned(),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Lowercased, without diacritics where a letter has a plain form (what
/// the engines' tokenizers do, near enough to find the match again).
fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c => c,
        })
        .collect()
}

/// Whether a word of the text matches a word of the query: the same, or
/// sharing the query word's stem (its first letters, as stemming keeps).
fn word_matches(token: &str, query: &[String]) -> bool {
    let t = fold(token);
    query.iter().any(|q| {
        let n = q.chars().count();
        let stem: String = q
            .chars()
            .take(if n > 4 { n.max(5) - 2 } else { n })
            .collect();
        t == *q || (!stem.is_empty() && t.starts_with(&stem))
    })
}

/// Safe HTML: about [`SNIPPET_CHARS`] of `text` from a little before the
/// first word matching the query, those words in `<mark>`, all else
/// escaped.
pub fn snippet(text: &str, words: &[&str]) -> String {
    let query: Vec<String> = words
        .iter()
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect();
    // Tokens: (start, end, is a word).
    let mut tokens: Vec<(usize, usize, bool)> = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, ch) in text.char_indices() {
        let w = ch.is_alphanumeric();
        if in_word != Some(w) {
            if let Some(prev) = in_word {
                tokens.push((start, i, prev));
            }
            start = i;
            in_word = Some(w);
        }
    }
    if let Some(prev) = in_word {
        tokens.push((start, text.len(), prev));
    }
    let first = tokens
        .iter()
        .position(|&(s, e, w)| w && word_matches(&text[s..e], &query));
    // Start a few words before the first match.
    let from = match first {
        Some(i) => {
            let mut j = i;
            let mut chars = 0;
            while j > 0 && chars < SNIPPET_CHARS / 4 {
                j -= 1;
                chars += text[tokens[j].0..tokens[j].1].chars().count();
            }
            j
        }
        None => 0,
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut chars = 0;
    let mut last = from;
    for (k, &(s, e, w)) in tokens.iter().enumerate().skip(from) {
        let piece = &text[s..e];
        let piece = if w {
            piece.to_owned()
        } else {
            // Runs of space and newlines read as one space.
            if piece.chars().all(char::is_whitespace) {
                " ".to_owned()
            } else {
                piece.to_owned()
            }
        };
        if chars > 0 && chars + piece.chars().count() > SNIPPET_CHARS {
            break;
        }
        chars += piece.chars().count();
        if w && word_matches(&text[s..e], &query) {
            out.push_str("<mark>");
            out.push_str(&escape(&piece));
            out.push_str("</mark>");
        } else {
            out.push_str(&escape(&piece));
        }
        last = k + 1;
    }
    if last < tokens.len() {
        out.push('…');
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mark_matches_and_escape_the_rest() {
        let s = snippet("A <b>budget</b> & the budgets for Q3", &["budget"]);
        assert_eq!(
            s,
            "A &lt;b&gt;<mark>budget</mark>&lt;/b&gt; &amp; the <mark>budgets</mark> for Q3"
        );
        let long = format!("{} needle {}", "hay ".repeat(200), "hay ".repeat(200));
        let s = snippet(&long, &["needle"]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        assert!(s.chars().count() < SNIPPET_CHARS + 40);
        assert_eq!(snippet("Café crème", &["cafe"]), "<mark>Café</mark> crème");
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = encode_cursor(7, (0.25, 42));
        assert_eq!(decode_cursor(&c).unwrap(), (7, (0.25, 42)));
        for bad in ["", "x", "1.zz.1", "1.1.", "1.7ff8000000000000.1", "x.0.1"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}

/// The job kind that rebuilds the index (`chorus admin reindex`).
pub const REINDEX: &str = "reindex";
/// Source rows a rebuild does in one transaction.
pub const REINDEX_BATCH: i64 = 1000;

/// Where a rebuild of the index is: the payload of its job, saved with
/// each batch.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reindex {
    pub phase: q::Phase,
    /// The last source id done in this phase.
    pub after: i64,
    /// Batches done so far.
    pub batches: i64,
}

impl Default for Reindex {
    fn default() -> Reindex {
        Reindex {
            phase: q::Phase::People,
            after: 0,
            batches: 0,
        }
    }
}

/// Queues a rebuild of the index (one at a time: while one is queued or
/// running, this finds it); returns the job's id and whether it is new.
pub async fn queue_reindex(ctx: &Ctx) -> AppResult<(i64, bool)> {
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    let job = store::jobs::NewJob::new(REINDEX, &Reindex::default(), now)?.unique(REINDEX);
    let e = store::jobs::enqueue(&mut tx, &job, now).await?;
    tx.commit().await?;
    Ok((e.id, e.new))
}

/// How many entries the index holds.
pub async fn index_size(ctx: &Ctx) -> AppResult<i64> {
    let mut c = ctx.db.read().await?;
    Ok(q::doc_count(&mut c).await?)
}

/// Does one batch of a rebuild in `tx` and moves `r` on; false when the
/// rebuild is over.
pub async fn reindex_step(tx: &mut store::Tx, r: &mut Reindex) -> AppResult<bool> {
    loop {
        match q::reindex_batch(tx, r.phase, r.after, REINDEX_BATCH).await? {
            Some(last) => {
                r.after = last;
                r.batches += 1;
                return Ok(true);
            }
            None => match r.phase.next() {
                Some(p) => {
                    r.phase = p;
                    r.after = 0;
                }
                None => return Ok(false),
            },
        }
    }
}
