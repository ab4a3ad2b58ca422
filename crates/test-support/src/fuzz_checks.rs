//! The checks the fuzz targets (`fuzz/` at the repository root) run on
//! each input, shared with the test that replays their committed corpora
//! (`tests/fuzz_corpus.rs`), so both hold `domain`'s parsers to the same
//! properties.
//!
//! Each check takes raw bytes, reads them as UTF-8 (invalid sequences
//! become U+FFFD: every parser here takes `&str`), and panics when a
//! property fails. Besides "does not panic", they assert what is cheap to
//! assert: rendered markdown passes [`crate::safety`], a parsed value
//! parses again to itself, scanning finds only valid handles and topics.

use std::collections::HashSet;
use std::fmt::Debug;

use domain::markdown::{self, Renderer};
use domain::social::{self, FollowLevel, SpaceVisibility, TargetType};
use domain::validate::{is_bidi_control, looks_empty};
use domain::{
    DisplayName, DomainList, Email, Handle, InvitePolicy, Markdown, Password, Role, ShortText,
    TimeZoneName, cfa,
};

use crate::safety::{assert_safe_html, unsafe_fragments, unsafe_page_fragments};

/// A fuzz target's check of one input; panics when a property fails.
pub type Check = fn(&[u8]);

/// The fuzz targets, each with its check: the directory names under
/// `fuzz/corpus/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("markdown", markdown),
    ("scan", scan),
    ("newtypes", newtypes),
];

/// Markdown rendering: every way a text becomes HTML passes the safety
/// checker; the checker itself survives any input.
pub fn markdown(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    assert_safe_html(&markdown::render(&text));
    assert_safe_html(
        &Renderer::new()
            .heading_shift(0)
            .autolink(false)
            .render(&text),
    );
    // The checker reads hostile HTML too (it runs over whole pages).
    let _ = unsafe_fragments(&text);
    let _ = unsafe_page_fragments(&text);
}

/// `@mention` / `#topic` scanning and linking.
pub fn scan(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (handles, topics) = social::scan(&text);
    let lowered = text.to_ascii_lowercase();
    for handle in &handles {
        reparses(handle, |h| Handle::parse(h).map(Handle::into_string));
        assert!(
            lowered.contains(&format!("@{handle}")),
            "@{handle} is not in the text"
        );
    }
    for topic in &topics {
        reparses(topic, social::parse_topic);
    }
    assert_unique(&handles);
    assert_unique(&topics);

    // Rendered with every scanned handle known (all linked) and with none.
    let known: HashSet<String> = handles.iter().cloned().collect();
    assert_safe_html(&social::render_post(&text, &known));
    assert_safe_html(&social::render_post(&text, &HashSet::new()));

    if let Ok(topic) = social::parse_topic(&text) {
        reparses(&topic, social::parse_topic);
    }
}

/// Every validated newtype's and enum's parser: a value that parses
/// parses again to itself, and keeps the rules its type promises.
pub fn newtypes(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    if let Ok(h) = Handle::parse(text) {
        let s = h.as_str();
        assert!((2..=30).contains(&s.len()), "handle length: {s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "handle characters: {s:?}"
        );
        reparses(s, |s| Handle::parse(s).map(Handle::into_string));
    }

    if let Ok(e) = Email::parse(text) {
        let s = e.as_str();
        assert!(s.len() <= 254, "email length: {s:?}");
        assert!(
            (1..=64).contains(&e.local_part().len()),
            "local part length: {s:?}"
        );
        assert_eq!(format!("{}@{}", e.local_part(), e.domain()), s);
        assert!(readable(e.local_part()), "email: {s:?}");
        reparses(s, |s| Email::parse(s).map(Email::into_string));
    }

    if let Ok(n) = DisplayName::parse(text) {
        let s = n.as_str();
        assert!(s.chars().count() <= 80, "name length: {s:?}");
        assert!(readable(s), "name: {s:?}");
        reparses(s, |s| DisplayName::parse(s).map(DisplayName::into_string));
    }

    if let Ok(p) = Password::parse(text) {
        assert_eq!(p.as_str(), text, "a password is kept as typed");
        assert_eq!(Password::parse(p.as_str()).ok().as_ref(), Some(&p));
    }

    if let Ok(tz) = TimeZoneName::parse(text) {
        reparses(tz.as_str(), |s| {
            TimeZoneName::parse(s).map(TimeZoneName::into_string)
        });
        let _ = tz.time_zone();
    }

    for max in [0, 1, 80, 5000] {
        if let Ok(t) = ShortText::parse("title", text, max) {
            assert!(t.as_str().chars().count() <= max, "short text length");
            assert!(!t.as_str().chars().any(is_bidi_control), "short text");
            reparses(t.as_str(), |s| {
                ShortText::parse("title", s, max).map(ShortText::into_string)
            });
        }
        if let Ok(m) = Markdown::parse("body", text, max) {
            assert!(m.as_str().chars().count() <= max, "markdown length");
            assert!(!m.as_str().chars().any(is_bidi_control), "markdown");
            reparses(m.as_str(), |s| {
                Markdown::parse("body", s, max).map(Markdown::into_string)
            });
        }
    }

    if let Ok(list) = DomainList::parse(text) {
        assert!(list.len() <= 50, "too many domains");
        assert_unique(list.as_slice());
        for domain in list.as_slice() {
            assert!(list.contains(domain));
            // A domain may be up to 253 bytes, an address 254 in all, so
            // the longest domains hold no address; the rest hold `a@…`.
            assert!(
                domain.len() > 252 || Email::parse(&format!("a@{domain}")).is_ok(),
                "{domain:?} is not a mail domain"
            );
        }
        assert_eq!(DomainList::parse(&list.to_string()).as_ref(), Ok(&list));
    }

    if let Ok(slug) = social::parse_slug(text) {
        reparses(&slug, social::parse_slug);
    }
    let suggested = social::slugify(text);
    assert!(
        suggested.len() <= 40,
        "slug suggestion length: {suggested:?}"
    );
    assert!(
        suggested
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !suggested.starts_with('-')
            && !suggested.ends_with('-')
            && !suggested.contains("--"),
        "slug suggestion: {suggested:?}"
    );
    if suggested.len() >= 2 && suggested.starts_with(|c: char| c.is_ascii_lowercase()) {
        assert_eq!(social::parse_slug(&suggested).as_ref(), Ok(&suggested));
    }

    if let Ok(emoji) = social::parse_reaction(text) {
        reparses(&emoji, social::parse_reaction);
    }

    // Enums: whatever parses is one of the names, and its name parses back.
    round_trips(text, Role::parse, Role::as_str);
    round_trips(text, InvitePolicy::parse, InvitePolicy::as_str);
    round_trips(text, SpaceVisibility::parse, |v| v.as_str());
    round_trips(text, FollowLevel::parse, |v| v.as_str());
    round_trips(text, TargetType::parse, |v| v.as_str());
    round_trips(text, cfa::State::parse, |v| v.as_str());
    round_trips(text, cfa::Act::parse, |v| v.as_str());
    round_trips(text, cfa::Role::parse, |v| v.as_str());
}

/// `value` came out of `parse`; parsing it again gives it back.
fn reparses<E: Debug>(value: &str, parse: impl Fn(&str) -> Result<String, E>) {
    match parse(value) {
        Ok(again) => assert_eq!(again, value, "parsing {value:?} again changed it"),
        Err(e) => panic!("{value:?} came out of parse but does not parse again: {e:?}"),
    }
}

fn round_trips<T: PartialEq + Debug + Copy, E>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    name: impl Fn(T) -> &'static str,
) {
    if let Ok(value) = parse(text) {
        assert_eq!(parse(name(value)).ok(), Some(value));
    }
}

/// Shows something, and shows it in the order it is written.
fn readable(text: &str) -> bool {
    !looks_empty(text) && !text.chars().any(is_bidi_control)
}

fn assert_unique(values: &[String]) {
    let set: HashSet<&String> = values.iter().collect();
    assert_eq!(set.len(), values.len(), "duplicates in {values:?}");
}
