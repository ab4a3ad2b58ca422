//! Validated newtypes for everything a person types in: handles, email
//! addresses, names, passwords, time zones, short single-line texts,
//! markdown bodies and lists of email domains.
//!
//! A value of one of these types has passed its rules, so code that holds
//! one never checks again. Each `parse` normalises the way the value is
//! stored (trimmed, lowercased where comparison is case-insensitive), and
//! each refusal carries a message that tells the person what to type
//! instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why some input was refused, and what to do about it.
///
/// `field` is the form field or JSON key it belongs to, so a page can show
/// the message next to the right input; `message` is a whole sentence
/// meant for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same refusal, for a field of another name (a new password
    /// checked by the password rules).
    pub fn for_field(self, field: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: self.message,
        }
    }
}

/// The accessors every string newtype shares.
///
/// `from_trusted` exists because rules tighten over time (a newly reserved
/// handle, say): values already stored were valid when written and must
/// still load, so the store rebuilds them without re-parsing. Input from
/// people must always go through `parse`.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// Rebuilds a value that was validated when it was stored. Never
            /// use it for input.
            pub fn from_trusted(stored: impl Into<String>) -> Self {
                Self(stored.into())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Also lets serde and `str::parse` validate, for the types whose `parse`
/// needs nothing but the input.
macro_rules! parse_from_string {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Bidirectional overrides and isolates let a name display as something
/// other than what it is ("Trojan Source" spoofing); nobody needs them in a
/// one-line name or title.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing: zero-width spaces and joiners, the
/// word joiner, the byte-order mark, soft hyphens, Hangul and braille
/// fillers, and the like. A name or title made only of them (and spaces)
/// looks empty, so it counts as empty.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1D159}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Whether the text shows nothing at all.
pub fn looks_empty(text: &str) -> bool {
    text.chars().all(is_invisible)
}

// ---------------------------------------------------------------------------
// Handle

const HANDLE_RULES: &str =
    "Handles are 2–30 characters: letters, digits and underscores, starting with a letter.";

/// Names that are, or may become, paths or words with a meaning of their
/// own (`/@admin` must never be mistaken for the admin pages, `@everyone`
/// for a broadcast mention).
const RESERVED_HANDLES: &[&str] = &[
    "admin",
    "api",
    "setup",
    "login",
    "logout",
    "signup",
    "settings",
    "me",
    "new",
    "home",
    "everything",
    "popular",
    "spaces",
    "topics",
    "members",
    "notifications",
    "work",
    "static",
    "assets",
    "healthz",
    "metrics",
    "directory",
    "invite",
    "invitations",
    "search",
    "all",
    "everyone",
    "chorus",
    "system",
    "root",
    "help",
];

/// A member's @handle: lowercase ASCII, so `@Ana` and `@ana` are one person
/// and a handle reads the same in a URL, a mention and an email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Handle(String);

impl Handle {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: &str| ValidationError::new("handle", message);
        let trimmed = input.trim();
        let bare = trimmed.strip_prefix('@').unwrap_or(trimmed);
        // Checked before lowercasing: Unicode lowercasing maps some
        // look-alikes (the Kelvin sign) onto ASCII letters.
        if !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(HANDLE_RULES));
        }
        let handle = bare.to_ascii_lowercase();
        if !(2..=30).contains(&handle.len())
            || !handle.starts_with(|c: char| c.is_ascii_lowercase())
        {
            return Err(err(HANDLE_RULES));
        }
        if RESERVED_HANDLES.contains(&handle.as_str()) {
            return Err(err(&format!(
                "“{handle}” is reserved; choose another handle."
            )));
        }
        Ok(Self(handle))
    }
}

string_newtype!(Handle);
parse_from_string!(Handle);

/// Whom a login names: a handle, or else the text typed (without `@`,
/// lowercased) to be matched with an email address. Either may name
/// nobody, which is a failed login like a wrong password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Handle(Handle),
    Email(String),
}

impl LoginName {
    pub fn parse(typed: &str) -> Self {
        let bare = typed.trim().trim_start_matches('@');
        match Handle::parse(bare) {
            Ok(h) => Self::Handle(h),
            Err(_) => Self::Email(bare.to_lowercase()),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Email(e) if e.is_empty())
    }
}

// ---------------------------------------------------------------------------
// Email

const EMAIL_RULES: &str = "Enter an email address like ana@example.com.";

/// An email address, lowercased whole: uniqueness of accounts is
/// case-insensitive, and in practice every mail system treats the local
/// part that way too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: &str| ValidationError::new("email", message);
        let trimmed = input.trim();
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(err(EMAIL_RULES));
        };
        if domain.contains('@') {
            return Err(err(
                "An email address has exactly one @; enter one address like ana@example.com.",
            ));
        }
        // Lowercased first: the address is stored lowercased, and some
        // letters grow when lowercased ("İ" is 2 bytes, "i̇" 3).
        let local = local.to_lowercase();
        // SMTP limits count octets, not characters.
        if local.is_empty() || local.len() > 64 {
            return Err(err(
                "The part before @ must be 1–64 characters; enter an address like ana@example.com.",
            ));
        }
        // These characters would need quoting in mail headers or split an
        // address list; no address a mail server hands out contains them.
        if local.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | '<' | '>' | ',' | ';' | ':' | '(' | ')' | '[' | ']' | '\\'
                )
        }) {
            return Err(err(
                "The part before @ may not contain spaces, quotes, brackets, commas or semicolons.",
            ));
        }
        // As in names: an address shown in a list must read as what it is.
        if local.chars().any(is_bidi_control) || looks_empty(&local) {
            return Err(err(
                "The part before @ may not contain direction overrides or be only invisible characters.",
            ));
        }
        let domain = parse_domain(domain)
            .map_err(|()| err("The part after @ must be a domain name like example.com."))?;
        let email = format!("{local}@{domain}");
        if email.len() > 254 {
            return Err(err("Email addresses can be at most 254 characters long."));
        }
        Ok(Self(email))
    }

    /// The part after the @, for matching against allowed domains.
    pub fn domain(&self) -> &str {
        // The address was built from a local part without '@', so the last
        // '@' is the separator.
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// The part before the @.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }
}

string_newtype!(Email);
parse_from_string!(Email);

/// Checks a DNS name as mail accepts it and returns it lowercased.
/// International names must be given in their `xn--` form, which is what
/// mail systems exchange.
fn parse_domain(input: &str) -> Result<String, ()> {
    let domain = input.to_ascii_lowercase();
    if domain.is_empty() || domain.len() > 253 {
        return Err(());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(());
    }
    for label in &labels {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(());
        }
    }
    let tld = labels[labels.len() - 1];
    let tld_ok =
        tld.bytes().all(|b| b.is_ascii_lowercase()) || (tld.starts_with("xn--") && tld.len() > 4);
    if !tld_ok {
        return Err(());
    }
    Ok(domain)
}

// ---------------------------------------------------------------------------
// DisplayName

/// The name shown for a member: any script, one line, single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: &str| ValidationError::new("display_name", message);
        // Pasted names often carry tabs, double spaces or a line break;
        // those are harmless once collapsed, unlike other control
        // characters.
        let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if looks_empty(&name) {
            return Err(err("Enter your name as colleagues know it."));
        }
        if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(err(
                "Names may not contain control characters; type the name as plain text.",
            ));
        }
        if name.chars().count() > 80 {
            return Err(err("Names can be at most 80 characters long."));
        }
        Ok(Self(name))
    }
}

string_newtype!(DisplayName);
parse_from_string!(DisplayName);

// ---------------------------------------------------------------------------
// Password

/// A password as typed, kept only until it is hashed.
///
/// It has no `Display` and no `Serialize`, and its `Debug` hides it, so it
/// cannot end up in a log line or a response by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Not trimmed: spaces a person typed are part of their password.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |message: &str| ValidationError::new("password", message);
        let count = input.chars().count();
        if count < 10 {
            return Err(err(
                "Passwords need at least 10 characters; a few unrelated words make a good one.",
            ));
        }
        if count > 256 {
            return Err(err("Passwords can be at most 256 characters long."));
        }
        let mut chars = input.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(err("Choose a password that is not one character repeated."));
        }
        Ok(Self(input.to_owned()))
    }

    /// The password itself, for hashing or verifying.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

// ---------------------------------------------------------------------------
// TimeZoneName

/// An IANA time zone name such as `Europe/Berlin`, stored in the
/// database's own spelling so equal zones compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let name = input.trim();
        let refuse = || {
            ValidationError::new(
                "time_zone",
                "Choose a time zone from the IANA list, like “Europe/Berlin” or “UTC”.",
            )
        };
        // Names are short ASCII; refusing anything else up front keeps odd
        // input away from the database lookup.
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        {
            return Err(refuse());
        }
        let tz = jiff::tz::db().get(name).map_err(|_| refuse())?;
        let canonical = tz.iana_name().unwrap_or(name).to_owned();
        Ok(Self(canonical))
    }

    /// The zone itself, for converting times. A name that has since left
    /// the database falls back to UTC rather than failing a page.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::db()
            .get(&self.0)
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        Self("UTC".to_owned())
    }
}

string_newtype!(TimeZoneName);
parse_from_string!(TimeZoneName);

// ---------------------------------------------------------------------------
// ShortText

/// A one-line text such as a job title or team name; may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ShortText(String);

impl ShortText {
    /// `field` names the input for the error, `max_chars` is that field's
    /// limit in characters.
    pub fn parse(field: &str, input: &str, max_chars: usize) -> Result<Self, ValidationError> {
        let text = input.trim();
        if text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(ValidationError::new(
                field,
                "Keep this to a single line of plain text, without line breaks or control characters.",
            ));
        }
        if text.chars().count() > max_chars {
            return Err(ValidationError::new(
                field,
                format!("Keep this to at most {max_chars} characters."),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Empty, or made only of characters that show nothing.
    pub fn is_empty(&self) -> bool {
        looks_empty(&self.0)
    }
}

string_newtype!(ShortText);

// ---------------------------------------------------------------------------
// Markdown

/// Markdown source as its author wrote it; [`crate::markdown::render`]
/// turns it into safe HTML when shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Markdown(String);

impl Markdown {
    /// `field` names the input for the error, `max_chars` is that field's
    /// limit in characters. Empty is allowed; a field that needs text
    /// checks [`Markdown::is_empty`].
    pub fn parse(field: &str, input: &str, max_chars: usize) -> Result<Self, ValidationError> {
        // Leading whitespace is kept: four spaces start a code block.
        let text = input.trim_end();
        if text
            .chars()
            .any(|c| (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || is_bidi_control(c))
        {
            return Err(ValidationError::new(
                field,
                "Remove the invisible control characters (or direction overrides) from this text; they usually come from copying out of another program.",
            ));
        }
        let count = text.chars().count();
        if count > max_chars {
            return Err(ValidationError::new(
                field,
                format!("Keep this to at most {max_chars} characters; it has {count}."),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// Empty, or made only of characters that show nothing.
    pub fn is_empty(&self) -> bool {
        looks_empty(&self.0)
    }

    /// The text as HTML that is safe to put in a page.
    pub fn render(&self) -> String {
        crate::markdown::render(&self.0)
    }
}

string_newtype!(Markdown);

// ---------------------------------------------------------------------------
// DomainList

const MAX_DOMAINS: usize = 50;

/// Email domains whose people may join without an invitation, such as
/// `acme.com, acme.de`. Lowercase, without duplicates, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct DomainList(Vec<String>);

impl DomainList {
    /// Accepts the list as people type it: separated by commas, semicolons,
    /// spaces or line breaks, each entry with or without a leading '@'.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        Self::from_entries(
            input
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|entry| !entry.is_empty()),
        )
    }

    fn from_entries<'a>(entries: impl Iterator<Item = &'a str>) -> Result<Self, ValidationError> {
        let err = |message: String| ValidationError::new("allowed_domains", message);
        let mut domains: Vec<String> = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            let bare = entry.strip_prefix('@').unwrap_or(entry);
            let domain = parse_domain(bare).map_err(|()| {
                err(format!(
                    "“{entry}” is not a domain name; list domains like example.com, separated by commas."
                ))
            })?;
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        if domains.len() > MAX_DOMAINS {
            return Err(err(format!(
                "List at most {MAX_DOMAINS} domains; this list has {}.",
                domains.len()
            )));
        }
        Ok(Self(domains))
    }

    /// Rebuilds a list that was validated when it was stored. Never use it
    /// for input.
    pub fn from_vec(v: Vec<String>) -> Self {
        Self(v)
    }

    /// Whether `domain` (for example [`Email::domain`]) is on the list.
    /// Exact match only: allowing `acme.com` does not let in
    /// `evil-acme.com` or `mail.acme.com`.
    pub fn contains(&self, domain: &str) -> bool {
        self.0.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<Vec<String>> for DomainList {
    type Error = ValidationError;

    fn try_from(v: Vec<String>) -> Result<Self, Self::Error> {
        Self::from_entries(v.iter().map(String::as_str))
    }
}

impl From<DomainList> for Vec<String> {
    fn from(list: DomainList) -> Self {
        list.0
    }
}

/// Shown in forms as people type the list.
impl fmt::Display for DomainList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<impl fmt::Debug, ValidationError>) -> String {
        r.expect_err("should be refused").message
    }

    #[test]
    fn validation_error_displays_field_and_message() {
        let e = ValidationError::new("handle", "Pick another.");
        assert_eq!(e.to_string(), "handle: Pick another.");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"field": "handle", "message": "Pick another."})
        );
    }

    #[test]
    fn handle_good() {
        for (input, stored) in [
            ("ana", "ana"),
            ("@Ana", "ana"),
            ("  @Bo_Li99 ", "bo_li99"),
            ("ab", "ab"),
            ("a_", "a_"),
            (
                "x23456789012345678901234567890",
                "x23456789012345678901234567890",
            ),
            ("Administrator", "administrator"),
            ("me2", "me2"),
        ] {
            let h = Handle::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(h.as_str(), stored);
            assert_eq!(h.to_string(), stored);
        }
    }

    #[test]
    fn handle_bad() {
        for input in [
            "",
            "@",
            "a",
            "@a",
            "x234567890123456789012345678901", // 31
            "1ana",
            "_ana",
            "ana-bo",
            "ana.bo",
            "ana bo",
            "@@ana",
            "anä",
            "\u{212A}elvin", // Kelvin sign lowercases to ASCII 'k'
            "ａｎａ",        // fullwidth
            "ana\u{0}",
        ] {
            let e = Handle::parse(input).expect_err(input);
            assert_eq!(e.field, "handle");
            assert_eq!(e.message, HANDLE_RULES, "{input:?}");
        }
    }

    #[test]
    fn handle_reserved() {
        for input in [
            "admin", "@Admin", "EVERYONE", "api", "healthz", "help", "me",
        ] {
            let e = Handle::parse(input).expect_err(input);
            assert!(e.message.contains("reserved"), "{input}: {}", e.message);
        }
        assert!(message(Handle::parse("root")).contains("“root”"));
    }

    #[test]
    fn handle_serde() {
        let h = Handle::parse("ana").unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"ana\"");
        let back: Handle = serde_json::from_str("\"@Ana\"").unwrap();
        assert_eq!(back, h);
        assert!(serde_json::from_str::<Handle>("\"admin\"").is_err());
        assert_eq!("Ana".parse::<Handle>().unwrap(), h);
    }

    #[test]
    fn login_names_a_handle_or_else_an_email() {
        let ana = LoginName::Handle(Handle::parse("ana").unwrap());
        assert_eq!(LoginName::parse(" @Ana "), ana);
        assert_eq!(
            LoginName::parse("Ana@Example.com"),
            LoginName::Email("ana@example.com".into())
        );
        // Text that is no handle is looked for as an address, and found by none.
        assert_eq!(LoginName::parse("admin"), LoginName::Email("admin".into()));
        assert!(LoginName::parse("  ").is_empty());
        assert!(!LoginName::parse("x").is_empty());
    }

    #[test]
    fn email_good() {
        for (input, stored, domain) in [
            ("ana@example.com", "ana@example.com", "example.com"),
            ("  Ana.Bo@Example.COM ", "ana.bo@example.com", "example.com"),
            (
                "ana+chorus@mail.acme.co.uk",
                "ana+chorus@mail.acme.co.uk",
                "mail.acme.co.uk",
            ),
            ("o'neil@example.org", "o'neil@example.org", "example.org"),
            ("x@a-b.io", "x@a-b.io", "a-b.io"),
            ("jürgen@example.de", "jürgen@example.de", "example.de"),
            (
                "ana@xn--mnchen-3ya.de",
                "ana@xn--mnchen-3ya.de",
                "xn--mnchen-3ya.de",
            ),
            (
                "ana@example.xn--p1ai",
                "ana@example.xn--p1ai",
                "example.xn--p1ai",
            ),
            (
                "ana@123.example.com",
                "ana@123.example.com",
                "123.example.com",
            ),
        ] {
            let e = Email::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(e.as_str(), stored);
            assert_eq!(e.domain(), domain);
        }
        let e = Email::parse("Ana@Example.com").unwrap();
        assert_eq!(e.local_part(), "ana");
    }

    #[test]
    fn email_length_edges() {
        let local64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local64}@example.com")).is_ok());
        let local65 = "a".repeat(65);
        assert!(Email::parse(&format!("{local65}@example.com")).is_err());

        let label63 = "b".repeat(63);
        assert!(Email::parse(&format!("ana@{label63}.com")).is_ok());
        let label64 = "b".repeat(64);
        assert!(Email::parse(&format!("ana@{label64}.com")).is_err());

        // 64 + 1 + 189 = 254 is the longest address SMTP carries.
        let domain189 = format!(
            "{}.{}.{}.com",
            "c".repeat(61),
            "d".repeat(61),
            "e".repeat(61)
        );
        assert_eq!(domain189.len(), 189);
        assert!(Email::parse(&format!("{local64}@{domain189}")).is_ok());
        let domain190 = format!(
            "{}.{}.{}.com",
            "c".repeat(61),
            "d".repeat(61),
            "e".repeat(62)
        );
        let e = Email::parse(&format!("{local64}@{domain190}")).unwrap_err();
        assert!(e.message.contains("254"), "{}", e.message);

        // The limit holds for the address as stored: 32 × "İ" is 64
        // bytes typed but 96 lowercased (found by the newtypes fuzz target).
        assert!(Email::parse(&format!("{}@example.com", "İ".repeat(32))).is_err());
        assert!(Email::parse(&format!("{}@example.com", "İ".repeat(21))).is_ok());
    }

    #[test]
    fn email_bad() {
        for input in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@@example.com",
            "ana@bo@example.com",
            "ana bo@example.com",
            "\"ana\"@example.com",
            "<ana@example.com>",
            "ana,bo@example.com",
            "ana\t@example.com",
            "ana\u{7}@example.com",
            "ana@localhost",
            "ana@example",
            "ana@example.c0m",
            "ana@example.123",
            "ana@-example.com",
            "ana@example-.com",
            "ana@exa_mple.com",
            "ana@example..com",
            "ana@.example.com",
            "ana@example.com.",
            "ana@exämple.com",
            "ana@xn--.com",
            "ana@example.com, bo@example.com",
            "\u{202E}moc.live@example.com",
            "ana\u{2066}@example.com",
            "\u{200B}@example.com",
            "\u{200B}\u{FEFF}@example.com",
        ] {
            let e = Email::parse(input).expect_err(input);
            assert_eq!(e.field, "email");
            assert!(e.message.ends_with('.'), "{input:?}: {}", e.message);
        }
    }

    #[test]
    fn email_serde() {
        let e = Email::parse("Ana@Example.com").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"ana@example.com\"");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[test]
    fn display_name_good() {
        for (input, stored) in [
            ("Ana", "Ana"),
            ("  Ana   María\tLópez \n", "Ana María López"),
            ("李小龙", "李小龙"),
            ("Zoë O'Brien-Šimić", "Zoë O'Brien-Šimić"),
            ("👩‍💻 Ana", "👩‍💻 Ana"),
            ("A", "A"),
        ] {
            let n = DisplayName::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(n.as_str(), stored);
        }
        // 80 characters, each several bytes.
        let long = "é".repeat(80);
        assert_eq!(DisplayName::parse(&long).unwrap().as_str(), long);
    }

    #[test]
    fn invisible_only_text_counts_as_empty() {
        for blank in [
            "",
            " ",
            "\u{200B}",
            "\u{200C}\u{200D}",
            "\u{FEFF} \u{2060}",
            "\u{3164}",
            "\u{00AD}",
        ] {
            assert!(
                ShortText::parse("name", blank, 80).unwrap().is_empty(),
                "{blank:?}"
            );
            assert!(
                Markdown::parse("body", blank, 80).unwrap().is_empty(),
                "{blank:?}"
            );
        }
        for shown in ["a", "👩\u{200D}💻", "\u{200B}x", "李"] {
            assert!(
                !ShortText::parse("name", shown, 80).unwrap().is_empty(),
                "{shown:?}"
            );
            assert!(
                !Markdown::parse("body", shown, 80).unwrap().is_empty(),
                "{shown:?}"
            );
        }
        // Direction overrides are refused in bodies as in names and titles.
        assert!(Markdown::parse("body", "pay \u{202E}0001\u{202C} now", 80).is_err());
        assert!(Markdown::parse("body", "x\u{2067}y", 80).is_err());
        assert!(ShortText::parse("title", "a\u{202D}b", 80).is_err());
    }

    #[test]
    fn display_name_bad() {
        for input in [
            "",
            "   ",
            "\n\t",
            "Ana\u{0}",
            "Ana\u{1b}[31m",
            "Ana\u{7f}",
            "Ana\u{202E}moc.evil",
            "\u{2066}Ana",
            "\u{200B}",
            "\u{200B}\u{200D} \u{FEFF}",
            "\u{3164}\u{3164}",
            "\u{2800}",
        ] {
            let e = DisplayName::parse(input).expect_err(input);
            assert_eq!(e.field, "display_name");
        }
        let e = DisplayName::parse(&"é".repeat(81)).unwrap_err();
        assert!(e.message.contains("80"));
    }

    #[test]
    fn password_rules() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("0123456789").is_ok()); // exactly 10
        assert!(Password::parse("ääääääääää1").is_ok());
        assert_eq!(
            Password::parse("  spaced out  ").unwrap().as_str(),
            "  spaced out  "
        );
        assert!(Password::parse(&"ab".repeat(128)).is_ok()); // exactly 256

        for input in ["", "short", "123456789", "ääääääääää", "aaaaaaaaaaaaaaaa"] {
            let e = Password::parse(input).expect_err(input);
            assert_eq!(e.field, "password");
        }
        assert!(message(Password::parse(&format!("{}z", "ab".repeat(128)))).contains("256"));
        assert!(message(Password::parse(&"x".repeat(20))).contains("repeated"));
        // Nine characters, even if they are many bytes.
        assert!(message(Password::parse("ääääääää1")).contains("10"));
    }

    #[test]
    fn password_never_shows_itself() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(format!("{:?}", Some(p.clone())), "Some(Password(***))");
    }

    #[test]
    fn time_zone_good() {
        for (input, stored) in [
            ("Europe/Berlin", "Europe/Berlin"),
            (" America/New_York ", "America/New_York"),
            ("UTC", "UTC"),
            ("Asia/Kolkata", "Asia/Kolkata"),
            (
                "America/Argentina/Buenos_Aires",
                "America/Argentina/Buenos_Aires",
            ),
            ("Etc/GMT+5", "Etc/GMT+5"),
        ] {
            let tz = TimeZoneName::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(tz.as_str(), stored);
            assert!(tz.time_zone().iana_name().is_some());
        }
        assert_eq!(TimeZoneName::default().as_str(), "UTC");
    }

    #[test]
    fn time_zone_bad() {
        for input in [
            "",
            "Mars/Olympus_Mons",
            "Europe/Berlinn",
            "Berlin",
            "../../etc/passwd",
            "/etc/localtime",
            "Europe/Berlin\u{0}",
            "Europe/Berlin/",
            "Europe/Berlin; DROP TABLE",
            "+02:00",
        ] {
            let e = TimeZoneName::parse(input).expect_err(input);
            assert_eq!(e.field, "time_zone");
            assert!(e.message.contains("Europe/Berlin"));
        }
    }

    #[test]
    fn short_text_rules() {
        let t = ShortText::parse("title", "  Head of Ops  ", 11).unwrap();
        assert_eq!(t.as_str(), "Head of Ops");
        assert!(ShortText::parse("title", "Head of Ops", 10).is_err());
        assert!(ShortText::parse("title", "", 10).unwrap().is_empty());
        assert!(ShortText::parse("title", "   ", 10).unwrap().is_empty());
        assert_eq!(
            ShortText::parse("team", "Équipe 日本", 9).unwrap().as_str(),
            "Équipe 日本"
        );
        let e = ShortText::parse("team", "Équipe 日本!", 9).unwrap_err();
        assert_eq!(e.field, "team");
        assert!(e.message.contains('9'));
        for input in ["two\nlines", "tab\there", "nul\u{0}", "rtl\u{202E}x"] {
            let e = ShortText::parse("title", input, 100).expect_err(input);
            assert_eq!(e.field, "title");
        }
    }

    #[test]
    fn markdown_rules() {
        let m = Markdown::parse("body", "    code\n\n*hi*  \n\n", 100).unwrap();
        assert_eq!(m.as_str(), "    code\n\n*hi*");
        assert!(Markdown::parse("body", "a\r\nb\tc", 100).is_ok());
        assert!(Markdown::parse("body", "", 100).unwrap().is_empty());
        assert!(Markdown::parse("body", &"ü".repeat(100), 100).is_ok());
        let e = Markdown::parse("about", &"ü".repeat(101), 100).unwrap_err();
        assert_eq!(e.field, "about");
        assert!(e.message.contains("100"));
        // Trailing whitespace does not count against the limit.
        assert!(Markdown::parse("body", &format!("{}   \n", "x".repeat(100)), 100).is_ok());
        for input in ["nul\u{0}", "bell\u{7}", "esc\u{1b}[0m", "del\u{7f}"] {
            assert_eq!(
                Markdown::parse("body", input, 100).expect_err(input).field,
                "body"
            );
        }
        assert_eq!(
            Markdown::parse("body", "**hi**", 10).unwrap().render(),
            "<p><strong>hi</strong></p>\n"
        );
    }

    #[test]
    fn domain_list_good() {
        let l =
            DomainList::parse("acme.com, Example.ORG;@acme.de\n acme.com  mail.acme.com").unwrap();
        assert_eq!(
            l.as_slice(),
            ["acme.com", "example.org", "acme.de", "mail.acme.com"]
        );
        assert!(l.contains("acme.com"));
        assert!(l.contains("ACME.com"));
        assert!(!l.contains("evil-acme.com"));
        assert!(!l.contains("sub.acme.de"));
        assert_eq!(
            l.to_string(),
            "acme.com, example.org, acme.de, mail.acme.com"
        );
        assert!(DomainList::parse("").unwrap().is_empty());
        assert!(DomainList::parse(" , ,\n").unwrap().is_empty());

        let fifty: Vec<String> = (0..50).map(|i| format!("d{i}.example")).collect();
        assert_eq!(DomainList::parse(&fifty.join(",")).unwrap().len(), 50);
    }

    #[test]
    fn domain_list_bad() {
        for input in [
            "acme",
            "acme.com, ana@acme.com",
            "acme..com",
            "*.acme.com",
            "acme.com/x",
        ] {
            let e = DomainList::parse(input).expect_err(input);
            assert_eq!(e.field, "allowed_domains");
        }
        let e = DomainList::parse("acme.com, nope").unwrap_err();
        assert!(e.message.contains("“nope”"), "{}", e.message);
        let many: Vec<String> = (0..51).map(|i| format!("d{i}.example")).collect();
        assert!(message(DomainList::parse(&many.join(" "))).contains("50"));
    }

    #[test]
    fn domain_list_serde() {
        let l = DomainList::parse("acme.com b.org").unwrap();
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"["acme.com","b.org"]"#
        );
        let back: DomainList = serde_json::from_str(r#"["ACME.com","b.org","acme.com"]"#).unwrap();
        assert_eq!(back, l);
        assert!(serde_json::from_str::<DomainList>(r#"["nope"]"#).is_err());
        let trusted = DomainList::from_vec(vec!["legacy.example".into()]);
        assert!(trusted.contains("legacy.example"));
    }

    #[test]
    fn trusted_values_skip_parsing() {
        // A handle reserved after it was taken still loads from storage.
        assert_eq!(Handle::from_trusted("help").as_str(), "help");
        assert_eq!(
            Email::from_trusted("ana@example.com").domain(),
            "example.com"
        );
    }
}
