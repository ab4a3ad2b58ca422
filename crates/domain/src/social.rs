//! The social model's rules: spaces and their visibility, topics, follow
//! levels, reactions, @mentions and #tags in text, and THE visibility
//! rule — [`can_see`] — that every read path applies.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::markdown::{Renderer, Segment};
use crate::{Role, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceVisibility {
    /// Everyone (but guests) reads and may join.
    Open,
    /// The name is visible; content is for members, who join by request.
    Closed,
    /// Invisible to non-members; the only way in is an invitation.
    Secret,
}

impl SpaceVisibility {
    pub const ALL: [SpaceVisibility; 3] = [Self::Open, Self::Closed, Self::Secret];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            "secret" => Ok(Self::Secret),
            _ => Err(ValidationError::new(
                "visibility",
                "Visibility is open (everyone reads and may join), closed (members only, join by \
                 request) or secret (invisible, by invitation).",
            )),
        }
    }
}

/// A space's slug: its URL and mail address, `design-review`.
pub fn parse_slug(input: &str) -> Result<String, ValidationError> {
    let s = input.trim().to_ascii_lowercase();
    let ok = (2..=40).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(s)
    } else {
        Err(ValidationError::new(
            "slug",
            "A space's short name is 2–40 characters: lowercase letters, digits and single \
             hyphens, starting with a letter (e.g. design-review). It is also its mail address.",
        ))
    }
}

/// Makes a slug suggestion from a name: "Design Review!" → "design-review".
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    out.trim_end_matches('-').to_owned()
}

/// A topic (#tag): 1–50 letters, digits, `_` or `-`, with at least one
/// letter (so `#1` stays an ordinary number), stored lowercase.
pub fn parse_topic(input: &str) -> Result<String, ValidationError> {
    let s = input.trim().trim_start_matches('#').to_lowercase();
    if is_topic(&s) {
        Ok(s)
    } else {
        Err(ValidationError::new(
            "topic",
            "A topic is 1–50 letters, digits, _ or -, with at least one letter (e.g. launch).",
        ))
    }
}

fn is_topic(s: &str) -> bool {
    (1..=50).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && s.chars().any(char::is_alphabetic)
        && !s.ends_with('-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowLevel {
    /// Every activity, and a notification for each.
    Watching,
    /// In the home stream.
    Following,
    /// Never shown.
    Muted,
}

impl FollowLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Watching => "watching",
            Self::Following => "following",
            Self::Muted => "muted",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "watching" => Ok(Self::Watching),
            "following" => Ok(Self::Following),
            "muted" => Ok(Self::Muted),
            _ => Err(ValidationError::new(
                "level",
                "The level is watching (everything, with notifications), following (in your \
                 home stream) or muted (never shown).",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetType {
    Member,
    Space,
    Topic,
    Item,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Space => "space",
            Self::Topic => "topic",
            Self::Item => "item",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(Self::Member),
            "space" => Ok(Self::Space),
            "topic" => Ok(Self::Topic),
            "item" => Ok(Self::Item),
            _ => Err(ValidationError::new(
                "target_type",
                "You can follow a member, a space, a topic or an item.",
            )),
        }
    }
}

/// A reaction: one emoji (up to a few code points for skin tones and
/// joined sequences), no letters, digits or spaces.
pub fn parse_reaction(input: &str) -> Result<String, ValidationError> {
    let s = input.trim();
    let ok = !s.is_empty()
        && s.chars().count() <= 8
        && s.chars().all(|c| {
            !c.is_ascii() && !c.is_whitespace() && !c.is_control() && !c.is_alphanumeric()
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::new(
            "emoji",
            "A reaction is a single emoji, like 👍 or 🎉.",
        ))
    }
}

/// Where an item lives, which decides who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// In a space of this visibility.
    Space(SpaceVisibility),
    /// On the author's profile: every member, guests excepted.
    Profile,
    /// To named people.
    Direct,
}

/// What the visibility rule needs to know about an item and one viewer.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub audience: Audience,
    pub viewer_is_author: bool,
    /// The viewer belongs to the item's space (space items).
    pub viewer_in_space: bool,
    /// The viewer is a named recipient (direct items).
    pub viewer_is_recipient: bool,
    pub viewer_role: Role,
    pub viewer_active: bool,
}

/// THE visibility rule: may this viewer see this item? Every read path
/// (streams, item pages, live updates, notifications, search, mail) asks
/// this, and the SQL that narrows candidates is only ever an
/// optimisation in front of it.
pub fn can_see(a: &Access) -> bool {
    if !a.viewer_active {
        return false;
    }
    if a.viewer_is_author {
        return true;
    }
    match a.audience {
        Audience::Space(SpaceVisibility::Open) => a.viewer_in_space || a.viewer_role != Role::Guest,
        Audience::Space(SpaceVisibility::Closed | SpaceVisibility::Secret) => a.viewer_in_space,
        Audience::Profile => a.viewer_role != Role::Guest,
        Audience::Direct => a.viewer_is_recipient,
    }
}

/// May this viewer know the space exists (its name and page)?
pub fn can_see_space(
    visibility: SpaceVisibility,
    viewer_in_space: bool,
    viewer_role: Role,
) -> bool {
    match visibility {
        _ if viewer_in_space => true,
        SpaceVisibility::Open | SpaceVisibility::Closed => viewer_role != Role::Guest,
        SpaceVisibility::Secret => false,
    }
}

/// May this viewer find this person (search, suggestions)? Members find
/// every active member; a guest finds only the people of their spaces
/// (and themselves).
pub fn can_see_person(
    viewer_role: Role,
    viewer_is_person: bool,
    shares_a_space: bool,
    person_active: bool,
) -> bool {
    person_active && (viewer_is_person || viewer_role != Role::Guest || shares_a_space)
}

/// The `@handle`s and `#topics` written in a text, in order, deduplicated.
/// Code spans are not excluded here; a mention in code simply renders as
/// code, and notifying its owner is harmless.
pub fn scan(text: &str) -> (Vec<String>, Vec<String>) {
    let mut handles = Vec::new();
    let mut topics = Vec::new();
    for (sigil, word) in tokens(text) {
        match sigil {
            '@' => {
                if let Ok(h) = crate::Handle::parse(&word)
                    && !handles.contains(&h.as_str().to_owned())
                {
                    handles.push(h.as_str().to_owned());
                }
            }
            _ => {
                let t = word.to_lowercase();
                if is_topic(&t) && !topics.contains(&t) {
                    topics.push(t);
                }
            }
        }
    }
    (handles, topics)
}

/// `(sigil, word)` for each `@word` / `#word` that starts a token.
fn tokens(text: &str) -> Vec<(char, String)> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let at_start = prev
            .is_none_or(|p| !(p.is_alphanumeric() || p == '_' || p == '@' || p == '#' || p == '/'));
        if (c == '@' || c == '#') && at_start {
            let mut word = String::new();
            while let Some(&(_, n)) = chars.peek() {
                if n.is_alphanumeric() || n == '_' || (c == '#' && n == '-') {
                    word.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let word = word.trim_end_matches('-').to_owned();
            if !word.is_empty() {
                out.push((c, word));
            }
            prev = Some('x');
            continue;
        }
        prev = Some(c);
    }
    out
}

/// Renders a post or comment: markdown to safe HTML, with `@handle`s of
/// existing members linked to their profiles (unknown ones stay text) and
/// `#topics` linked to their topic pages.
pub fn render_post(markdown: &str, known_handles: &HashSet<String>) -> String {
    let hook = |text: &str| link_tokens(text, known_handles);
    Renderer::new().with_text_hook(&hook).render(markdown)
}

fn link_tokens(text: &str, known: &HashSet<String>) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let at_start = prev
            .is_none_or(|p| !(p.is_alphanumeric() || p == '_' || p == '@' || p == '#' || p == '/'));
        if (c == '@' || c == '#') && at_start {
            let mut word = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_alphanumeric() || n == '_' || (c == '#' && n == '-') {
                    word.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            let trailing: String = {
                let t = word.len() - word.trim_end_matches('-').len();
                word.split_off(word.len() - t)
            };
            let link = match c {
                '@' => crate::Handle::parse(&word)
                    .ok()
                    .filter(|h| known.contains(h.as_str()))
                    .map(|h| (format!("/members/{}", h.as_str()), format!("@{word}"))),
                _ => {
                    let t = word.to_lowercase();
                    is_topic(&t).then(|| (format!("/topics/{t}"), format!("#{word}")))
                }
            };
            match link {
                Some((href, text)) => {
                    if !plain.is_empty() {
                        out.push(Segment::Text(std::mem::take(&mut plain)));
                    }
                    out.push(Segment::Link { href, text });
                }
                None => {
                    plain.push(c);
                    plain.push_str(&word);
                }
            }
            plain.push_str(&trailing);
            prev = Some('x');
            continue;
        }
        plain.push(c);
        prev = Some(c);
    }
    if !plain.is_empty() {
        out.push(Segment::Text(plain));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(audience: Audience, role: Role) -> Access {
        Access {
            audience,
            viewer_is_author: false,
            viewer_in_space: false,
            viewer_is_recipient: false,
            viewer_role: role,
            viewer_active: true,
        }
    }

    #[test]
    fn visibility_table() {
        use SpaceVisibility::*;
        let roles = [Role::Owner, Role::Admin, Role::Member, Role::Guest];
        for role in roles {
            let guest = role == Role::Guest;
            // (audience, in_space, recipient) → visible
            let cases = [
                (Audience::Space(Open), false, false, !guest),
                (Audience::Space(Open), true, false, true),
                (Audience::Space(Closed), false, false, false),
                (Audience::Space(Closed), true, false, true),
                (Audience::Space(Secret), false, false, false),
                (Audience::Space(Secret), true, false, true),
                (Audience::Profile, false, false, !guest),
                (Audience::Direct, false, false, false),
                (Audience::Direct, false, true, true),
            ];
            for (audience, in_space, recipient, want) in cases {
                let mut a = access(audience, role);
                a.viewer_in_space = in_space;
                a.viewer_is_recipient = recipient;
                assert_eq!(
                    can_see(&a),
                    want,
                    "{role:?} {audience:?} in={in_space} rcpt={recipient}"
                );
                a.viewer_active = false;
                assert!(!can_see(&a), "deactivated sees nothing");
                a.viewer_active = true;
                a.viewer_is_author = true;
                assert!(can_see(&a), "authors see their own");
            }
        }
        assert!(!can_see_space(Secret, false, Role::Owner));
        assert!(can_see_space(Closed, false, Role::Member));
        assert!(!can_see_space(Closed, false, Role::Guest));
        assert!(can_see_space(Secret, true, Role::Guest));
    }

    #[test]
    fn scans_mentions_and_tags() {
        let (h, t) =
            scan("Hi @Ana and @bo_2, see #Launch #q3-plan. mail x@y.com, issue #12, @ana again");
        assert_eq!(h, ["ana", "bo_2"]);
        assert_eq!(t, ["launch", "q3-plan"]);
    }

    #[test]
    fn renders_known_mentions_and_tags() {
        let known: HashSet<String> = ["ana".to_owned()].into();
        let html = render_post("Hi @Ana and @ghost about #Launch! `@ana` <b>x</b>", &known);
        assert!(html.contains("<a href=\"/members/ana\""), "{html}");
        assert!(html.contains(">@Ana</a>"), "{html}");
        assert!(!html.contains("/members/ghost"), "{html}");
        assert!(html.contains("@ghost"));
        assert!(html.contains("<a href=\"/topics/launch\""), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        test_support::safety::assert_safe_html(&html);
    }

    #[test]
    fn slugs_topics_reactions() {
        assert_eq!(slugify("Design Review!"), "design-review");
        assert_eq!(parse_slug("Design-Review").unwrap(), "design-review");
        assert!(
            parse_slug("-x").is_err() && parse_slug("a").is_err() && parse_slug("a--b").is_err()
        );
        assert_eq!(parse_topic("#Launch").unwrap(), "launch");
        assert!(parse_topic("#12").is_err());
        assert!(parse_reaction("👍").is_ok() && parse_reaction("👍🏽").is_ok());
        assert!(
            parse_reaction("x").is_err()
                && parse_reaction("<b>").is_err()
                && parse_reaction("").is_err()
        );
    }
}
