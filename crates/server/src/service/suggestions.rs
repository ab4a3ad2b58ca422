//! Suggestions: people and spaces a member might follow, and what the
//! search box offers as they type (people, spaces, topics and their recent
//! searches), only ever what they may see.

use domain::Role;
use domain::search::Query;
use store::suggestions as q;

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::profiles::Person;
use crate::service::spaces::Space;
use crate::service::viewer::{self, Viewer};

/// Whom and what a member might follow: people in their spaces, and busy
/// open spaces they are not in.
pub async fn suggestions(ctx: &Ctx, viewer: &Viewer) -> AppResult<(Vec<Person>, Vec<Space>)> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    let people = q::suggested_people(&mut c, viewer.id(), 10).await?;
    let spaces = if viewer.role() == Role::Guest {
        Vec::new()
    } else {
        let month = 30 * 86_400_000_000;
        q::suggested_spaces(&mut c, viewer.id(), ctx.now() - month, 5).await?
    };
    Ok((people, spaces))
}

/// At most this many characters are read of what was typed.
pub const MAX_TYPED_CHARS: usize = domain::search::MAX_QUERY_CHARS;
/// How many recent searches a member keeps.
const RECENT_KEPT: i64 = 10;

/// What the last word typed is an operator for: picking a suggestion then
/// completes the word (`from:@ada`) instead of opening the thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `from:@…`, `from:…` or `@…`: people.
    From,
    /// `in:…`: spaces.
    In,
    /// `#…`: topics.
    Topic,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::From => "from",
            Operator::In => "in",
            Operator::Topic => "topic",
        }
    }
}

/// What the search box offers for the text typed so far.
#[derive(Debug, Clone, Default)]
pub struct SearchSuggestions {
    pub operator: Option<Operator>,
    pub people: Vec<Person>,
    pub spaces: Vec<Space>,
    pub topics: Vec<String>,
    /// The member's recent searches (canonical query text), latest first.
    pub recent: Vec<String>,
}

/// Reads what was typed: the operator its last word is typed for and the
/// prefix after it, or else the whole text as the prefix.
pub fn typed_for(typed: &str) -> (Option<Operator>, String) {
    let typed: String = typed.chars().take(MAX_TYPED_CHARS).collect();
    let last = typed.rsplit(char::is_whitespace).next().unwrap_or("");
    let lower = last.to_lowercase();
    for (op, lead) in [
        (Operator::From, "from:@"),
        (Operator::From, "from:"),
        (Operator::From, "@"),
        (Operator::In, "in:"),
        (Operator::Topic, "#"),
    ] {
        if let Some(rest) = lower.strip_prefix(lead) {
            return (Some(op), rest.to_owned());
        }
    }
    let whole = typed.split_whitespace().collect::<Vec<_>>().join(" ");
    (None, whole)
}

/// What to offer for `typed`: with an operator, that kind alone; with
/// text, people, spaces, topics and recent searches that start with it;
/// with nothing, the recent searches. Each read is an index range bounded
/// by its limit, and each thing passes the rule for the viewer.
pub async fn search_suggestions(
    ctx: &Ctx,
    viewer: &Viewer,
    typed: &str,
) -> AppResult<SearchSuggestions> {
    let (operator, prefix) = typed_for(typed);
    let guest = viewer.role() == Role::Guest;
    let mut c = ctx.db.read().await?;
    let mut out = SearchSuggestions {
        operator,
        ..Default::default()
    };
    if operator.is_none() {
        let wanted = if prefix.is_empty() { RECENT_KEPT } else { 4 };
        let lower = prefix.to_lowercase();
        out.recent = q::recent_searches(&mut c, viewer.id(), RECENT_KEPT)
            .await?
            .into_iter()
            .filter(|r| r.to_lowercase().starts_with(&lower))
            .take(wanted as usize)
            .collect();
        if prefix.is_empty() {
            return Ok(out);
        }
    }
    let (people, spaces, topics) = match operator {
        None => (5, 4, 4),
        Some(Operator::From) => (8, 0, 0),
        Some(Operator::In) => (0, 8, 0),
        Some(Operator::Topic) => (0, 0, 8),
    };
    if people > 0 {
        let handle = prefix.strip_prefix('@').unwrap_or(&prefix);
        out.people = q::people_by_prefix(&mut c, viewer.id(), guest, handle, &prefix, people)
            .await?
            .into_iter()
            .filter(|m| viewer::visible_person(viewer, m.person.id, m.shares_a_space, m.active))
            .map(|m| m.person)
            .take(people as usize)
            .collect();
    }
    if spaces > 0 {
        out.spaces = q::spaces_by_prefix(&mut c, viewer.id(), guest, &prefix, &prefix, spaces)
            .await?
            .into_iter()
            .filter(|s| viewer::visible_space(viewer, s.visibility, s.viewer_role.is_some()))
            .collect();
    }
    if topics > 0 {
        let topic = prefix.trim_start_matches('#').to_lowercase();
        out.topics = q::topics_by_prefix(&mut c, viewer.id(), guest, &topic, topics)
            .await?
            .into_iter()
            .filter(|(_, item)| viewer::visible(viewer, item))
            .map(|(t, _)| t)
            .take(topics as usize)
            .collect();
    }
    Ok(out)
}

/// Remembers a search the member made (its canonical text), keeping their
/// last ten distinct ones.
pub async fn remember_search(ctx: &Ctx, viewer: &Viewer, query: &Query) -> AppResult<()> {
    if query.is_empty() {
        return Ok(());
    }
    let text = query.to_string();
    let member = viewer.id();
    ctx.on_writer(move |ctx| async move {
        let mut tx = ctx.db.write().await?;
        q::remember_search(&mut tx, member, &text, ctx.now(), RECENT_KEPT).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{Operator, typed_for};

    #[test]
    fn the_last_word_says_what_is_typed() {
        assert_eq!(typed_for("ada"), (None, "ada".into()));
        assert_eq!(typed_for("  ada   love "), (None, "ada love".into()));
        assert_eq!(
            typed_for("budget from:@Ad"),
            (Some(Operator::From), "ad".into())
        );
        assert_eq!(typed_for("from:bo"), (Some(Operator::From), "bo".into()));
        assert_eq!(typed_for("@"), (Some(Operator::From), String::new()));
        assert_eq!(typed_for("x in:eng"), (Some(Operator::In), "eng".into()));
        assert_eq!(typed_for("#Ru"), (Some(Operator::Topic), "ru".into()));
        assert_eq!(typed_for("#rust "), (None, "#rust".into()));
        assert_eq!(typed_for(""), (None, String::new()));
    }
}
