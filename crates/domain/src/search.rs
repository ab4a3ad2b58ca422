//! The search query language (DESIGN.md section 7): what a person types in
//! the search box, read into a [`Query`] the store turns into its engine's
//! own syntax. Parsing never fails: an unknown operator, a known one with a
//! value it does not take, an unbalanced quote or engine syntax (`NEAR(`,
//! `*`, `OR`) is read as words, so any text gets results or an empty page.
//!
//! - `word`, `"a phrase"`, `-word`, `-"a phrase"`
//! - `from:@handle` (or `from:handle`), `in:space-slug`, `#topic`
//! - `type:post|question|idea|request|offer|comment|person|space|topic|todo`
//! - `is:open|done|unanswered`, `has:attachment`
//! - `before:YYYY-MM-DD`, `after:YYYY-MM-DD` (dates in UTC; `before` is
//!   exclusive, `after` inclusive of the whole day)

use std::fmt;

use crate::social::{parse_slug, parse_topic};
use crate::validate::Handle;

/// At most this many characters of a query are read; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 500;
/// At most this many words and phrases (included and excluded) are kept.
pub const MAX_TERMS: usize = 16;
/// A word or phrase longer than this is cut to it.
pub const MAX_TERM_CHARS: usize = 64;

/// A word, or the words of a phrase in order. Each word holds at least one
/// letter or digit and no whitespace; it may hold punctuation the engine's
/// tokenizer splits on (the store quotes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Word(String),
    Phrase(Vec<String>),
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Word(w) => f.write_str(w),
            Term::Phrase(ws) => write!(f, "\"{}\"", ws.join(" ")),
        }
    }
}

/// What `type:` restricts results to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchType {
    Post,
    Question,
    Idea,
    Request,
    Offer,
    Comment,
    Person,
    Space,
    Topic,
    Todo,
}

impl SearchType {
    pub const ALL: &[SearchType] = &[
        SearchType::Post,
        SearchType::Question,
        SearchType::Idea,
        SearchType::Request,
        SearchType::Offer,
        SearchType::Comment,
        SearchType::Person,
        SearchType::Space,
        SearchType::Topic,
        SearchType::Todo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchType::Post => "post",
            SearchType::Question => "question",
            SearchType::Idea => "idea",
            SearchType::Request => "request",
            SearchType::Offer => "offer",
            SearchType::Comment => "comment",
            SearchType::Person => "person",
            SearchType::Space => "space",
            SearchType::Topic => "topic",
            SearchType::Todo => "todo",
        }
    }

    pub fn parse(s: &str) -> Option<SearchType> {
        let s = s.to_ascii_lowercase();
        let s = match s.as_str() {
            "people" => "person",
            "spaces" => "space",
            "posts" => "post",
            "topics" => "topic",
            "comments" => "comment",
            "questions" => "question",
            "ideas" => "idea",
            "requests" => "request",
            "offers" => "offer",
            "todos" => "todo",
            other => other,
        };
        SearchType::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// An item kind (searched in the items index), as opposed to a comment,
    /// person, space or topic.
    pub fn is_item_kind(self) -> bool {
        !matches!(
            self,
            SearchType::Comment | SearchType::Person | SearchType::Space | SearchType::Topic
        )
    }
}

impl fmt::Display for SearchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `is:` asks of a thing that has a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateFilter {
    /// A request or offer not yet completed, declined or cancelled; a to-do
    /// not done; a question without an accepted answer; an open idea.
    Open,
    /// A request completed, a to-do done, a question answered, an idea
    /// adopted.
    Done,
    /// A question with no accepted answer (for other kinds: no comment).
    Unanswered,
}

impl StateFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            StateFilter::Open => "open",
            StateFilter::Done => "done",
            StateFilter::Unanswered => "unanswered",
        }
    }

    pub fn parse(s: &str) -> Option<StateFilter> {
        match s.to_ascii_lowercase().as_str() {
            "open" => Some(StateFilter::Open),
            "done" | "closed" => Some(StateFilter::Done),
            "unanswered" => Some(StateFilter::Unanswered),
            _ => None,
        }
    }
}

/// A parsed query. Every filter narrows; words and phrases must all match
/// (AND), excluded ones must not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    pub excluded: Vec<Term>,
    /// Handles, without `@`, lowercased; several mean any of them.
    pub from: Vec<String>,
    /// Space slugs; several mean any of them.
    pub in_spaces: Vec<String>,
    /// Topics, normalised as `parse_topic` does; all must be on the thing.
    pub topics: Vec<String>,
    pub kind: Option<SearchType>,
    pub state: Option<StateFilter>,
    pub has_attachment: bool,
    /// Inclusive lower bound (`after:`), the start of that day in UTC.
    pub after: Option<jiff::civil::Date>,
    /// Exclusive upper bound (`before:`), the start of that day in UTC.
    pub before: Option<jiff::civil::Date>,
}

impl Query {
    /// Reads what was typed. Never fails.
    pub fn parse(input: &str) -> Query {
        let text: String = input
            .chars()
            .take(MAX_QUERY_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut q = Query::default();
        let mut rest = text.as_str();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let (negated, body) = match rest.strip_prefix('-') {
                Some(after) if !after.starts_with(char::is_whitespace) && !after.is_empty() => {
                    (true, after)
                }
                _ => (false, rest),
            };
            if let Some(quoted) = body.strip_prefix('"') {
                let (phrase, next) = match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                };
                q.push_term(negated, phrase_term(phrase));
                rest = next;
                continue;
            }
            let end = body.find(char::is_whitespace).unwrap_or(body.len());
            let token = &body[..end];
            rest = &body[end..];
            if negated || !q.operator(token) {
                q.push_term(negated, word_term(token));
            }
        }
        q
    }

    /// True when nothing was asked: no words and no filter.
    pub fn is_empty(&self) -> bool {
        *self == Query::default()
    }

    /// True when the query has words or phrases to match text against
    /// (a filter-only query such as `from:@ana` lists by recency).
    pub fn has_text(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Every word of the included terms, in order (for highlighting).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().flat_map(|t| match t {
            Term::Word(w) => std::slice::from_ref(w).iter().map(String::as_str),
            Term::Phrase(ws) => ws.as_slice().iter().map(String::as_str),
        })
    }

    /// The query as the chips of a results page show it: one string per
    /// word, phrase or filter, each of which parses back to itself.
    pub fn parts(&self) -> Vec<String> {
        let mut out: Vec<String> = self.terms.iter().map(Term::to_string).collect();
        out.extend(self.excluded.iter().map(|t| format!("-{t}")));
        out.extend(self.from.iter().map(|h| format!("from:@{h}")));
        out.extend(self.in_spaces.iter().map(|s| format!("in:{s}")));
        out.extend(self.topics.iter().map(|t| format!("#{t}")));
        if let Some(k) = self.kind {
            out.push(format!("type:{k}"));
        }
        if let Some(s) = self.state {
            out.push(format!("is:{}", s.as_str()));
        }
        if self.has_attachment {
            out.push("has:attachment".to_owned());
        }
        if let Some(d) = self.after {
            out.push(format!("after:{d}"));
        }
        if let Some(d) = self.before {
            out.push(format!("before:{d}"));
        }
        out
    }

    fn push_term(&mut self, negated: bool, term: Option<Term>) {
        let Some(term) = term else { return };
        if self.terms.len() + self.excluded.len() >= MAX_TERMS {
            return;
        }
        let list = if negated {
            &mut self.excluded
        } else {
            &mut self.terms
        };
        if !list.contains(&term) {
            list.push(term);
        }
    }

    /// Applies `token` if it is an operator with a value it takes.
    fn operator(&mut self, token: &str) -> bool {
        if let Some(topic) = token.strip_prefix('#') {
            return match parse_topic(topic) {
                Ok(t) => {
                    push_unique(&mut self.topics, t);
                    true
                }
                Err(_) => false,
            };
        }
        let Some((op, value)) = token.split_once(':') else {
            return false;
        };
        match op.to_ascii_lowercase().as_str() {
            "from" => match Handle::parse(value) {
                Ok(h) => {
                    push_unique(&mut self.from, h.as_str().to_owned());
                    true
                }
                Err(_) => false,
            },
            "in" => match parse_slug(value) {
                Ok(s) => {
                    push_unique(&mut self.in_spaces, s);
                    true
                }
                Err(_) => false,
            },
            "type" => set(&mut self.kind, SearchType::parse(value)),
            "is" => set(&mut self.state, StateFilter::parse(value)),
            "has" if value.eq_ignore_ascii_case("attachment") => {
                self.has_attachment = true;
                true
            }
            "before" => set(&mut self.before, value.parse().ok()),
            "after" => set(&mut self.after, value.parse().ok()),
            _ => false,
        }
    }
}

impl fmt::Display for Query {
    /// The canonical text of the query (what a saved search stores).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts().join(" "))
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = Some(v);
            true
        }
        None => false,
    }
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// A word as typed, cut to [`MAX_TERM_CHARS`]; None when it holds no letter
/// or digit (`*`, `(`, `-`: nothing a tokenizer would keep).
fn clean_word(raw: &str) -> Option<String> {
    let w: String = raw
        .chars()
        .filter(|c| *c != '"')
        .take(MAX_TERM_CHARS)
        .collect();
    w.chars().any(char::is_alphanumeric).then_some(w)
}

fn word_term(raw: &str) -> Option<Term> {
    clean_word(raw).map(Term::Word)
}

fn phrase_term(raw: &str) -> Option<Term> {
    let mut words: Vec<String> = raw.split_whitespace().filter_map(clean_word).collect();
    words.truncate(MAX_TERMS);
    match words.len() {
        0 => None,
        1 => words.pop().map(Term::Word),
        _ => Some(Term::Phrase(words)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Term {
        Term::Word(s.to_owned())
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = Query::parse(r#"budget "quarterly review" -draft -"old plan""#);
        assert_eq!(
            q.terms,
            vec![
                w("budget"),
                Term::Phrase(vec!["quarterly".into(), "review".into()])
            ]
        );
        assert_eq!(
            q.excluded,
            vec![w("draft"), Term::Phrase(vec!["old".into(), "plan".into()])]
        );
        assert!(q.has_text());
    }

    #[test]
    fn operators() {
        let q = Query::parse(
            "from:@Ana in:engineering type:question is:open has:attachment \
             after:2026-01-01 before:2026-02-01 #Rust-lang deploy",
        );
        assert_eq!(q.from, vec!["ana"]);
        assert_eq!(q.in_spaces, vec!["engineering"]);
        assert_eq!(q.kind, Some(SearchType::Question));
        assert_eq!(q.state, Some(StateFilter::Open));
        assert!(q.has_attachment);
        assert_eq!(q.after, Some(jiff::civil::date(2026, 1, 1)));
        assert_eq!(q.before, Some(jiff::civil::date(2026, 2, 1)));
        assert_eq!(q.topics.len(), 1);
        assert_eq!(q.terms, vec![w("deploy")]);
        assert_eq!(Query::parse("from:ana").from, vec!["ana"]);
        assert_eq!(Query::parse("type:people").kind, Some(SearchType::Person));
    }

    #[test]
    fn unknown_operators_and_bad_values_are_words() {
        let q = Query::parse("foo:bar type:banana before:yesterday from:@!! in:../x");
        assert_eq!(
            q.terms,
            vec![
                w("foo:bar"),
                w("type:banana"),
                w("before:yesterday"),
                w("from:@!!"),
                w("in:../x")
            ]
        );
        assert_eq!(q.kind, None);
        assert!(q.from.is_empty());
    }

    #[test]
    fn hostile_text_never_fails() {
        for input in [
            "",
            "   ",
            "\"",
            "\"unbalanced phrase",
            "NEAR(",
            "*",
            "a OR b AND NOT c",
            "-",
            "- -- ---",
            "'; DROP TABLE items; --",
            "😀 🎉",
            "שלום עולם",
            "\u{0}\u{1b}[31m",
            "\"\"\"\"",
            "col:value^2 {x y}",
        ] {
            let q = Query::parse(input);
            for t in q.terms.iter().chain(&q.excluded) {
                let words = match t {
                    Term::Word(w) => vec![w.clone()],
                    Term::Phrase(ws) => ws.clone(),
                };
                for word in words {
                    assert!(word.chars().any(char::is_alphanumeric), "{input:?}");
                    assert!(!word.contains('"') && !word.contains(char::is_whitespace));
                }
            }
        }
        assert!(Query::parse("*").is_empty());
        assert_eq!(Query::parse("\"unbalanced phrase").terms.len(), 1);
        assert_eq!(Query::parse("NEAR(").terms, vec![w("NEAR(")]);
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "word ".repeat(2_000) + &"x".repeat(10_000);
        let q = Query::parse(&long);
        assert!(q.terms.len() <= MAX_TERMS);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        let q = Query::parse(&many);
        assert_eq!(q.terms.len(), MAX_TERMS);
        let q = Query::parse(&"y".repeat(10_000));
        assert_eq!(q.terms, vec![w(&"y".repeat(MAX_TERM_CHARS))]);
    }

    #[test]
    fn display_round_trips() {
        for input in [
            r#"budget "quarterly review" -draft from:@ana in:eng #ops type:post is:done after:2026-03-01"#,
            "has:attachment before:2025-12-31",
        ] {
            let q = Query::parse(input);
            assert_eq!(Query::parse(&q.to_string()), q, "{input}");
        }
    }
}
