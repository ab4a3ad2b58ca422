//! Search: the index and its queries.
//!
//! `search_docs` holds one row per thing that can be found (an item, a
//! comment, a to-do, a person, a space, a topic), kept by triggers on the
//! source tables (migration 0014) in the transaction of every write. Each
//! engine indexes it its own way: SQLite with two contentless FTS5 tables
//! (`search_content`, `search_directory`; porter, unicode61 without
//! diacritics), PostgreSQL with a stored `tsvector` (english, `unaccent`)
//! and two partial GIN indexes.
//!
//! A [`Query`](domain::search::Query) becomes the engine's syntax here, and
//! only here: every word and phrase is a quoted FTS5 string (quotes
//! doubled) or a bound parameter of `phraseto_tsquery` (a word with
//! punctuation, `e-mail`, is a phrase on both engines),
//! so no text typed into the box is ever read as engine syntax or SQL.
//!
//! [`candidates`] returns at most `limit` matches, newest first, with their
//! engine relevance: the bounded set the service applies the visibility
//! rule to, then ranks. Whether a viewer may see a candidate is decided
//! there, by `domain::social`, on the facts [`item_access`],
//! [`people_facts`], [`space_facts`] and [`topic_items`] return.

use domain::cfa::State;
use domain::search::{StateFilter, Term};
use domain::social::SpaceVisibility;
use domain::{ItemId, MemberId, Role, SpaceId};

use crate::items::{ITEM_ACCESS_JOINS, ItemAccessCols, ItemRow, item_access as decode_access};
use crate::rows::{Column, Params, present};
use crate::{Conn, Error, Kind, Row, Tx, params};

/// Which of the two indexes a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// Items, comments and to-dos.
    Content,
    /// People, spaces and topics.
    Directory,
}

impl Index {
    fn fts(self) -> &'static str {
        match self {
            Index::Content => "search_content",
            Index::Directory => "search_directory",
        }
    }

    fn docs(self) -> &'static str {
        match self {
            Index::Content => "('item', 'comment', 'todo')",
            Index::Directory => "('person', 'space', 'topic')",
        }
    }
}

/// What a candidate query asks, resolved to ids: the words of the query and
/// the filters, each list meaning "any of these" (empty: no restriction).
#[derive(Debug, Clone, Default)]
pub struct Filters<'a> {
    pub terms: &'a [Term],
    pub excluded: &'a [Term],
    pub authors: Vec<MemberId>,
    pub spaces: Vec<SpaceId>,
    /// `search_docs.doc` values (item, comment, todo, person, space, topic).
    pub docs: Vec<&'static str>,
    /// `search_docs.kind` values (post, request, ..., or the doc).
    pub kinds: Vec<&'static str>,
    /// Topics all of which the item carries (items only).
    pub topics: &'a [String],
    pub state: Option<StateFilter>,
    /// Microseconds: created at or after.
    pub after: Option<i64>,
    /// Microseconds: created before.
    pub before: Option<i64>,
}

/// A match, before the visibility rule: what the rule and the ranking need.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub doc_id: i64,
    pub doc: String,
    pub kind: String,
    pub source_id: i64,
    pub item_id: Option<ItemId>,
    pub space_id: Option<SpaceId>,
    pub author_id: Option<MemberId>,
    pub created_at: i64,
    /// The relevance, higher is better, 0 without words: SQLite 1 to 4
    /// (see `sqlite_relevance`), PostgreSQL `ts_rank_cd` (title A, body B).
    pub relevance: f64,
}

fn candidate(mut r: Row) -> Result<Candidate, Error> {
    Ok(Candidate {
        doc_id: r.i64(0)?,
        doc: r.take_text(1)?,
        kind: r.take_text(2)?,
        source_id: r.i64(3)?,
        item_id: Column::take(&mut r, 4)?,
        space_id: Column::take(&mut r, 5)?,
        author_id: Column::take(&mut r, 6)?,
        created_at: r.i64(7)?,
        relevance: r.f64(8)?,
    })
}

/// An FTS5 string: the words as one quoted phrase, quotes doubled.
fn fts_string(words: &[&str]) -> String {
    format!("\"{}\"", words.join(" ").replace('"', "\"\""))
}

fn term_words(t: &Term) -> Vec<&str> {
    match t {
        Term::Word(w) => vec![w.as_str()],
        Term::Phrase(ws) => ws.iter().map(String::as_str).collect(),
    }
}

/// `meta : ("x1" OR "x2")`: any of these filter words.
fn meta_any(prefix: &str, values: impl IntoIterator<Item = String>) -> String {
    let alts: Vec<String> = values
        .into_iter()
        .map(|v| fts_string(&[&format!("{prefix}{v}")]))
        .collect();
    format!("meta : ({})", alts.join(" OR "))
}

/// The FTS5 MATCH expression for `f`.
fn fts_match(f: &Filters<'_>) -> String {
    let mut positive: Vec<String> = f
        .terms
        .iter()
        .map(|t| format!("{{title body}} : {}", fts_string(&term_words(t))))
        .collect();
    if !f.authors.is_empty() {
        positive.push(meta_any("xa", f.authors.iter().map(|a| a.0.to_string())));
    }
    if !f.spaces.is_empty() {
        positive.push(meta_any("xs", f.spaces.iter().map(|s| s.0.to_string())));
    }
    if !f.docs.is_empty() {
        positive.push(meta_any("xd", f.docs.iter().map(|d| d.to_string())));
    }
    if !f.kinds.is_empty() {
        positive.push(meta_any("xk", f.kinds.iter().map(|k| k.to_string())));
    }
    if positive.is_empty() {
        positive.push("meta : \"xall\"".to_owned());
    }
    let mut expr = positive
        .iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    for t in f.excluded {
        expr = format!(
            "({expr}) NOT ({{title body}} : {})",
            fts_string(&term_words(t))
        );
    }
    expr
}

/// A PostgreSQL tsquery expression for these terms (joined by `join`:
/// `&&` or `||`), its texts bound in `p`; None for no terms.
fn pg_tsquery(p: &mut Params, terms: &[Term], join: &str) -> Option<String> {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match t {
            Term::Word(w) => format!(
                "phraseto_tsquery('english', search_unaccent(translate(CAST({} AS TEXT), '<>&', '   ')))",
                p.bind(w.as_str())
            ),
            Term::Phrase(ws) => format!(
                "phraseto_tsquery('english', search_unaccent(translate(CAST({} AS TEXT), '<>&', '   ')))",
                p.bind(ws.join(" "))
            ),
        })
        .collect();
    (!parts.is_empty()).then(|| format!("({})", parts.join(join)))
}

/// Conditions on `d` the engine's index does not hold: dates, topics,
/// states (and on PostgreSQL, the filters SQLite keeps as words).
fn outer_filters(p: &mut Params, f: &Filters<'_>, kind: Kind, sql: &mut String) {
    if kind == Kind::Postgres {
        let any = |p: &mut Params, col: &str, vals: Vec<crate::Value>, sql: &mut String| {
            if vals.is_empty() {
                return;
            }
            let marks: Vec<String> = vals.into_iter().map(|v| p.bind(v)).collect();
            sql.push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
        };
        any(
            p,
            "d.author_id",
            f.authors.iter().map(|a| a.0.into()).collect(),
            sql,
        );
        any(
            p,
            "d.space_id",
            f.spaces.iter().map(|s| s.0.into()).collect(),
            sql,
        );
        any(
            p,
            "d.doc",
            f.docs.iter().map(|d| (*d).into()).collect(),
            sql,
        );
        any(
            p,
            "d.kind",
            f.kinds.iter().map(|k| (*k).into()).collect(),
            sql,
        );
    }
    if let Some(a) = f.after {
        sql.push_str(&format!(" AND d.created_at >= {}", p.bind(a)));
    }
    if let Some(b) = f.before {
        sql.push_str(&format!(" AND d.created_at < {}", p.bind(b)));
    }
    for t in f.topics {
        sql.push_str(&format!(
            " AND d.doc = 'item' AND EXISTS (SELECT 1 FROM item_topics it WHERE it.topic = {} AND it.item_id = d.item_id)",
            p.bind(t.as_str())
        ));
    }
    let closed: Vec<String> = State::ALL
        .iter()
        .filter(|s| s.is_closed())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let closed = closed.join(", ");
    match f.state {
        None => {}
        Some(StateFilter::Open) => sql.push_str(&format!(
            " AND ((d.doc = 'item' AND EXISTS (SELECT 1 FROM requests r WHERE r.item_id = d.item_id \
               AND r.state NOT IN ({closed}))) \
             OR (d.doc = 'todo' AND EXISTS (SELECT 1 FROM todos t WHERE t.id = d.source_id \
               AND t.completed_at IS NULL)))"
        )),
        Some(StateFilter::Done) => sql.push_str(&format!(
            " AND ((d.doc = 'item' AND EXISTS (SELECT 1 FROM requests r WHERE r.item_id = d.item_id \
               AND r.state = '{}')) \
             OR (d.doc = 'todo' AND EXISTS (SELECT 1 FROM todos t WHERE t.id = d.source_id \
               AND t.completed_at IS NOT NULL)))",
            State::Completed.as_str()
        )),
        Some(StateFilter::Unanswered) => sql.push_str(
            " AND d.doc = 'item' AND EXISTS (SELECT 1 FROM items ui WHERE ui.id = d.item_id \
               AND ui.comment_count = 0)",
        ),
    }
}

/// At most `limit` matches of `f` in `index`, newest first, below doc
/// `below` when given, or among `only` when given (a followed search
/// matching new docs). Work is bounded by `limit`: the engines walk
/// their index newest first and stop there (filters outside the index,
/// dates and states, are checked on the way).
pub async fn candidates(
    c: &mut Conn,
    index: Index,
    f: &Filters<'_>,
    below: Option<i64>,
    only: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<Candidate>, Error> {
    let mut p = Params::new();
    // SQLite: bounds and order on the FTS table's own rowid, which FTS5
    // seeks and walks in order itself.
    let id = match c.kind() {
        Kind::Sqlite => format!("{}.rowid", index.fts()),
        Kind::Postgres => "d.id".to_owned(),
    };
    let mut sql = match c.kind() {
        Kind::Sqlite => {
            // No bm25(): it counts every match of each word in the whole
            // index (for the inverse document frequency), which for a
            // common word costs more than the rest of the search; the
            // relevance is worked out for the candidates alone below.
            let fts = index.fts();
            let m = p.bind(fts_match(f));
            format!(
                "SELECT d.id, d.doc, d.kind, d.source_id, d.item_id, d.space_id, d.author_id, \
                 d.created_at, 0.0 FROM {fts} JOIN search_docs d ON d.id = {fts}.rowid \
                 WHERE {fts} MATCH {m}"
            )
        }
        Kind::Postgres => {
            let positive = pg_tsquery(&mut p, f.terms, " && ");
            let negative = pg_tsquery(&mut p, f.excluded, " || ");
            let relevance = match &positive {
                Some(q) => format!("CAST(ts_rank_cd(d.tsv, {q}) AS DOUBLE PRECISION)"),
                None => "CAST(0 AS DOUBLE PRECISION)".to_owned(),
            };
            let mut s = format!(
                "SELECT d.id, d.doc, d.kind, d.source_id, d.item_id, d.space_id, d.author_id, \
                 d.created_at, {relevance} FROM search_docs d WHERE d.doc IN {}",
                index.docs()
            );
            if let Some(q) = &positive {
                s.push_str(&format!(" AND d.tsv @@ {q}"));
            }
            if let Some(q) = &negative {
                s.push_str(&format!(" AND NOT (d.tsv @@ {q})"));
            }
            s
        }
    };
    outer_filters(&mut p, f, c.kind(), &mut sql);
    if let Some(b) = below {
        sql.push_str(&format!(" AND {id} < {}", p.bind(b)));
    }
    if let Some(ids) = only {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = id_marks(&mut p, ids.iter().copied());
        sql.push_str(&format!(" AND {id} IN ({marks})"));
    }
    sql.push_str(&format!(" ORDER BY {id} DESC LIMIT {}", p.bind(limit)));
    let mut cands: Vec<Candidate> = c
        .query(&sql, p.values())
        .await?
        .into_iter()
        .map(candidate)
        .collect::<Result<_, _>>()?;
    if c.kind() == Kind::Sqlite && !f.terms.is_empty() {
        sqlite_relevance(c, index, f.terms, &mut cands).await?;
    }
    Ok(cands)
}

/// SQLite: the relevance of candidates, from two walks of the index over
/// the candidates' range of ids (each well under a millisecond): every
/// word in the title counts 2, all the words as one phrase (in the order
/// typed) 1, on top of 1 for matching at all.
async fn sqlite_relevance(
    c: &mut Conn,
    index: Index,
    terms: &[Term],
    cands: &mut [Candidate],
) -> Result<(), Error> {
    let (Some(lo), Some(hi)) = (
        cands.iter().map(|c| c.doc_id).min(),
        cands.iter().map(|c| c.doc_id).max(),
    ) else {
        return Ok(());
    };
    let fts = index.fts();
    let in_title = format!(
        "{{title}} : ({})",
        terms
            .iter()
            .map(|t| fts_string(&term_words(t)))
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let words: Vec<&str> = terms.iter().flat_map(term_words).collect();
    let mut probes = vec![(in_title, 2.0)];
    if words.len() > 1 {
        probes.push((format!("{{title body}} : {}", fts_string(&words)), 1.0));
    }
    for c2 in cands.iter_mut() {
        c2.relevance = 1.0;
    }
    for (m, weight) in probes {
        let hits: std::collections::HashSet<i64> = c
            .query(
                &format!(
                    "SELECT rowid FROM {fts} WHERE {fts} MATCH $1 AND rowid >= $2 AND rowid <= $3"
                ),
                params![m, lo, hi],
            )
            .await?
            .iter()
            .map(|r| r.i64(0))
            .collect::<Result<_, _>>()?;
        for cand in cands.iter_mut() {
            if hits.contains(&cand.doc_id) {
                cand.relevance += weight;
            }
        }
    }
    Ok(())
}

/// PostgreSQL: plans the statements of this transaction for their values
/// (how common a word is decides between walking the newest documents and
/// the GIN index), not the generic plan the server's connections use; and
/// without parallel workers, whose start costs a search more than it saves
/// (a walk of the newest rows took 10 times as long in parallel).
pub async fn plan_for_values(tx: &mut Tx) -> Result<(), Error> {
    if tx.kind() == Kind::Postgres {
        tx.batch(
            "SET LOCAL plan_cache_mode = force_custom_plan; \
             SET LOCAL max_parallel_workers_per_gather = 0",
        )
        .await?;
    }
    Ok(())
}

/// Member ids by handle (unknown handles left out).
pub async fn member_ids(c: &mut Conn, handles: &[String]) -> Result<Vec<MemberId>, Error> {
    let mut out = Vec::new();
    for h in handles {
        if let Some(r) = c
            .query_opt(
                "SELECT id FROM members WHERE handle = $1",
                params![h.as_str()],
            )
            .await?
        {
            out.push(MemberId(r.i64(0)?));
        }
    }
    Ok(out)
}

/// Space ids by slug (unknown slugs left out).
pub async fn space_ids(c: &mut Conn, slugs: &[String]) -> Result<Vec<SpaceId>, Error> {
    let mut out = Vec::new();
    for s in slugs {
        if let Some(r) = c
            .query_opt("SELECT id FROM spaces WHERE slug = $1", params![s.as_str()])
            .await?
        {
            out.push(SpaceId(r.i64(0)?));
        }
    }
    Ok(out)
}

/// Placeholders for an `IN (…)` list of ids, bound in `p`, padded (by
/// repeating the last) to one of a few lengths: PostgreSQL connections
/// keep each statement text they prepare, so lists of every length would
/// pile up statements.
fn id_marks(p: &mut Params, ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.into_iter().collect();
    let size = [8usize, 32, 128, 512, 1024, 4096]
        .into_iter()
        .find(|s| *s >= ids.len())
        .unwrap_or(ids.len());
    let last = ids.last().copied().unwrap_or(-1);
    ids.into_iter()
        .chain(std::iter::repeat(last))
        .take(size)
        .map(|id| p.bind(id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the visibility rule needs about these items for viewer `viewer`.
pub async fn item_access(
    c: &mut Conn,
    viewer: MemberId,
    ids: &[ItemId],
) -> Result<Vec<ItemRow>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::new();
    p.bind(viewer);
    let marks = id_marks(&mut p, ids.iter().map(|i| i.0));
    let sql = format!(
        "SELECT {} FROM items i {ITEM_ACCESS_JOINS} WHERE i.id IN ({marks})",
        ItemAccessCols::sql()
    );
    c.query(&sql, p.values())
        .await?
        .into_iter()
        .map(|mut r| decode_access(&mut r, ItemAccessCols::at(0)))
        .collect()
}

/// People's role and whether they are active, and (for a guest viewer,
/// who finds only the people of their spaces) whether they share a space
/// with `viewer`.
pub async fn people_facts(
    c: &mut Conn,
    viewer: MemberId,
    ids: &[MemberId],
) -> Result<Vec<(MemberId, Role, bool, bool)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::new();
    p.bind(viewer);
    let marks = id_marks(&mut p, ids.iter().map(|i| i.0));
    let sql = format!(
        "SELECT m.id, m.role, CASE WHEN m.deactivated_at IS NULL THEN 1 ELSE 0 END, \
         (SELECT 1 FROM space_members a JOIN space_members b ON b.space_id = a.space_id \
          WHERE a.member_id = $1 AND b.member_id = m.id LIMIT 1) \
         FROM members m WHERE m.id IN ({marks})"
    );
    c.query(&sql, p.values())
        .await?
        .into_iter()
        .map(|mut r| {
            Ok((
                MemberId(r.i64(0)?),
                Column::take(&mut r, 1)?,
                r.bool(2)?,
                present(&mut r, 3)?,
            ))
        })
        .collect()
}

/// Spaces' visibility and whether `viewer` belongs.
pub async fn space_facts(
    c: &mut Conn,
    viewer: MemberId,
    ids: &[SpaceId],
) -> Result<Vec<(SpaceId, SpaceVisibility, bool)>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::new();
    p.bind(viewer);
    let marks = id_marks(&mut p, ids.iter().map(|i| i.0));
    let sql = format!(
        "SELECT s.id, s.visibility, \
         (SELECT 1 FROM space_members sm WHERE sm.space_id = s.id AND sm.member_id = $1) \
         FROM spaces s WHERE s.id IN ({marks})"
    );
    c.query(&sql, p.values())
        .await?
        .into_iter()
        .map(|mut r| {
            Ok((
                SpaceId(r.i64(0)?),
                Column::take(&mut r, 1)?,
                present(&mut r, 2)?,
            ))
        })
        .collect()
}

/// The newest `limit` items carrying `topic`, with what the visibility rule
/// needs for `viewer`: a topic is found by whoever may see one of them.
pub async fn topic_items(
    c: &mut Conn,
    viewer: MemberId,
    topic: &str,
    limit: i64,
) -> Result<Vec<ItemRow>, Error> {
    let sql = format!(
        "SELECT {} FROM item_topics t JOIN items i ON i.id = t.item_id {ITEM_ACCESS_JOINS} \
         WHERE t.topic = $2 AND i.deleted_at IS NULL ORDER BY t.item_id DESC LIMIT $3",
        ItemAccessCols::sql()
    );
    c.query(&sql, params![viewer, topic, limit])
        .await?
        .into_iter()
        .map(|mut r| decode_access(&mut r, ItemAccessCols::at(0)))
        .collect()
}

/// A found thing as a result shows it.
#[derive(Debug, Clone, Default)]
pub struct DocRow {
    pub doc_id: i64,
    pub doc: String,
    pub kind: String,
    pub source_id: i64,
    pub item_id: Option<ItemId>,
    pub created_at: i64,
    pub title: String,
    pub body: String,
    /// The author's (or for a person, their own) handle and name.
    pub author: Option<(String, String)>,
    pub space: Option<(String, String)>,
    /// For a comment: its item's title and (when untitled) text.
    pub item_title: Option<String>,
    pub item_body: Option<String>,
    /// When it was last edited.
    pub edited_at: Option<i64>,
}

/// The docs with these ids, as results show them (ids not there are left
/// out).
pub async fn docs(c: &mut Conn, ids: &[i64]) -> Result<Vec<DocRow>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::new();
    let marks = id_marks(&mut p, ids.iter().copied());
    let sql = format!(
        "SELECT d.id, d.doc, d.kind, d.source_id, d.item_id, d.created_at, d.title, d.body, \
         am.handle, COALESCE(i.imported_from, am.display_name), sp.slug, sp.name, i.title, i.body, \
         CASE WHEN d.doc = 'comment' THEN cm.edited_at WHEN d.doc = 'item' THEN i.edited_at END \
         FROM search_docs d \
         LEFT JOIN members am ON am.id = CASE WHEN d.doc = 'person' THEN d.source_id ELSE d.author_id END \
         LEFT JOIN spaces sp ON sp.id = d.space_id \
         LEFT JOIN items i ON i.id = d.item_id \
         LEFT JOIN comments cm ON d.doc = 'comment' AND cm.id = d.source_id \
         WHERE d.id IN ({marks})"
    );
    c.query(&sql, p.values())
        .await?
        .into_iter()
        .map(|mut r| {
            let handle = r.take_opt_text(8)?;
            let name = r.take_opt_text(9)?;
            let slug = r.take_opt_text(10)?;
            let space_name = r.take_opt_text(11)?;
            Ok(DocRow {
                doc_id: r.i64(0)?,
                doc: r.take_text(1)?,
                kind: r.take_text(2)?,
                source_id: r.i64(3)?,
                item_id: Column::take(&mut r, 4)?,
                created_at: r.i64(5)?,
                title: r.take_text(6)?,
                body: r.take_text(7)?,
                author: handle.zip(name),
                space: slug.zip(space_name),
                item_title: r.take_opt_text(12)?,
                item_body: r.take_opt_text(13)?,
                edited_at: r.opt_i64(14)?,
            })
        })
        .collect()
}

/// The doc ids of the items and comments these activities made (a post or
/// a comment), as `(activity id, doc id)`, in activity order.
pub async fn docs_of_activities(
    c: &mut Conn,
    after_activity: i64,
    limit: i64,
) -> Result<Vec<(i64, i64)>, Error> {
    c.query(
        "SELECT a.id, COALESCE(di.id, dc.id) FROM activities a \
         LEFT JOIN search_docs di ON a.verb IN ('post', 'request', 'offer') AND a.object_type = 'item' \
           AND di.doc = 'item' AND di.source_id = a.object_id \
         LEFT JOIN search_docs dc ON a.verb = 'comment' AND a.object_type = 'comment' \
           AND dc.doc = 'comment' AND dc.source_id = a.object_id \
         WHERE a.id > $1 AND a.verb IN ('post', 'request', 'offer', 'comment') AND COALESCE(di.id, dc.id) IS NOT NULL \
         ORDER BY a.id LIMIT $2",
        params![after_activity, limit],
    )
    .await?
    .into_iter()
    .map(|r| Ok((r.i64(0)?, r.i64(1)?)))
    .collect()
}

/// What a rebuild of the index walks, in this order, each by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    People,
    Spaces,
    Topics,
    Items,
    Comments,
    Todos,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::People,
        Phase::Spaces,
        Phase::Topics,
        Phase::Items,
        Phase::Comments,
        Phase::Todos,
    ];

    pub fn next(self) -> Option<Phase> {
        let i = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(i + 1).copied()
    }

    /// The source table and the doc its rows are.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Phase::People => ("members", "person"),
            Phase::Spaces => ("spaces", "space"),
            Phase::Topics => ("item_topics", "topic"),
            Phase::Items => ("items", "item"),
            Phase::Comments => ("comments", "comment"),
            Phase::Todos => ("todos", "todo"),
        }
    }

    /// The docs the source rows with ids in ($1, $2] should be, with the
    /// columns of `search_docs` (the same text the triggers write).
    fn rows(self) -> &'static str {
        match self {
            Phase::People => {
                "SELECT 'person' AS doc, 'person' AS kind, m.id AS source_id, \
                 CAST(NULL AS BIGINT) AS item_id, CAST(NULL AS BIGINT) AS space_id, \
                 CAST(NULL AS BIGINT) AS author_id, m.created_at AS created_at, \
                 m.display_name AS title, \
                 m.handle || '\n' || m.title || '\n' || m.team || '\n' || m.about AS body \
                 FROM members m WHERE m.id > $1 AND m.id <= $2"
            }
            Phase::Spaces => {
                "SELECT 'space' AS doc, 'space' AS kind, s.id AS source_id, \
                 CAST(NULL AS BIGINT) AS item_id, s.id AS space_id, CAST(NULL AS BIGINT) AS author_id, \
                 s.created_at AS created_at, s.name AS title, s.slug || '\n' || s.description AS body \
                 FROM spaces s WHERE s.id > $1 AND s.id <= $2"
            }
            Phase::Items => {
                "SELECT 'item' AS doc, i.kind AS kind, i.id AS source_id, i.id AS item_id, \
                 i.space_id AS space_id, i.author_id AS author_id, i.created_at AS created_at, \
                 COALESCE(r.title, i.title) AS title, \
                 i.body || CASE WHEN r.conditions IS NOT NULL AND r.conditions <> i.body \
                   THEN '\n' || r.conditions ELSE '' END AS body \
                 FROM items i LEFT JOIN requests r ON r.item_id = i.id \
                 WHERE i.id > $1 AND i.id <= $2 AND i.kind <> 'todo' AND i.deleted_at IS NULL"
            }
            Phase::Comments => {
                "SELECT 'comment' AS doc, 'comment' AS kind, c.id AS source_id, c.item_id AS item_id, \
                 i.space_id AS space_id, c.author_id AS author_id, c.created_at AS created_at, \
                 '' AS title, c.body AS body \
                 FROM comments c JOIN items i ON i.id = c.item_id \
                 WHERE c.id > $1 AND c.id <= $2 AND c.deleted_at IS NULL"
            }
            Phase::Todos => {
                "SELECT 'todo' AS doc, 'todo' AS kind, t.id AS source_id, t.item_id AS item_id, \
                 t.space_id AS space_id, t.owner_id AS author_id, t.created_at AS created_at, \
                 t.title AS title, t.notes AS body \
                 FROM todos t WHERE t.id > $1 AND t.id <= $2"
            }
            Phase::Topics => unreachable!("topics are rebuilt in one statement"),
        }
    }
}

/// Rebuilds the index for the source rows of `phase` after id `after`, at
/// most `batch` of them: each doc rewritten in place (so it keeps its
/// place in the newest-first order, and the engine indexes it afresh),
/// missing ones added, ones that should not be there removed. Returns the
/// last source id done, or None when the phase has no more rows.
pub async fn reindex_batch(
    tx: &mut Tx,
    phase: Phase,
    after: i64,
    batch: i64,
) -> Result<Option<i64>, Error> {
    if phase == Phase::Topics {
        if after > 0 {
            return Ok(None);
        }
        tx.execute(
            "DELETE FROM search_docs WHERE doc = 'topic' \
             AND NOT EXISTS (SELECT 1 FROM item_topics t WHERE t.topic = search_docs.title)",
            params![],
        )
        .await?;
        tx.execute(
            "UPDATE search_docs SET body = '' WHERE doc = 'topic'",
            params![],
        )
        .await?;
        tx.execute(
            "INSERT INTO search_docs (doc, kind, source_id, created_at, title, body) \
             SELECT 'topic', 'topic', 0, MIN(i.created_at), t.topic, '' \
             FROM item_topics t JOIN items i ON i.id = t.item_id \
             WHERE NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.doc = 'topic' AND d.title = t.topic) \
             GROUP BY t.topic",
            params![],
        )
        .await?;
        return Ok(Some(1));
    }
    let (table, doc) = phase.source();
    let last = tx
        .query_one(
            &format!(
                "SELECT MAX(id) FROM (SELECT id FROM {table} WHERE id > $1 ORDER BY id LIMIT $2) x"
            ),
            params![after, batch],
        )
        .await?
        .opt_i64(0)?;
    let Some(last) = last else {
        // Rows past the last source row are for nothing.
        tx.execute(
            "DELETE FROM search_docs WHERE doc = $2 AND source_id > $1",
            params![after, doc],
        )
        .await?;
        return Ok(None);
    };
    let rows = phase.rows();
    tx.execute(
        &format!(
            "DELETE FROM search_docs WHERE doc = $3 AND source_id > $1 AND source_id <= $2 \
             AND source_id NOT IN (SELECT s.source_id FROM ({rows}) s)"
        ),
        params![after, last, doc],
    )
    .await?;
    tx.execute(
        &format!(
            "UPDATE search_docs SET kind = s.kind, item_id = s.item_id, space_id = s.space_id, \
             author_id = s.author_id, created_at = s.created_at, title = s.title, body = s.body \
             FROM ({rows}) s WHERE search_docs.doc = $3 AND search_docs.source_id = s.source_id"
        ),
        params![after, last, doc],
    )
    .await?;
    tx.execute(
        &format!(
            "INSERT INTO search_docs (doc, kind, source_id, item_id, space_id, author_id, created_at, title, body) \
             SELECT s.doc, s.kind, s.source_id, s.item_id, s.space_id, s.author_id, s.created_at, s.title, s.body \
             FROM ({rows}) s \
             WHERE NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.doc = $3 AND d.source_id = s.source_id) \
             ORDER BY s.created_at, s.source_id"
        ),
        params![after, last, doc],
    )
    .await?;
    Ok(Some(last))
}

/// How many rows the index holds (for progress).
pub async fn doc_count(c: &mut Conn) -> Result<i64, Error> {
    c.query_one("SELECT COUNT(*) FROM search_docs", params![])
        .await?
        .i64(0)
}
