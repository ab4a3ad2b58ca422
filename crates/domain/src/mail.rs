//! The names Chorus gives its mail, and the signed addresses in it.
//!
//! Every item and comment has one `Message-ID`, so mail clients thread a
//! list's mail and a reply's `In-Reply-To` names what it answers. A reply
//! address (`reply+…@<mail domain>`) and a one-click unsubscribe link carry
//! who they were made for, signed with the server's mail key (HMAC-SHA256,
//! truncated to 80 bits): nobody can make one for another member or item,
//! and bumping the member's epoch revokes every reply address made before.
//!
//! Local parts are lower-case ASCII digits, letters, `.` and `+`, so a
//! relay that folds case or a client that quotes oddly changes nothing.

use hmac::{KeyInit, Mac};

use crate::kinds::NotificationReason;
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of the HMAC kept in an address or link (hex doubles it).
const TAG_BYTES: usize = 10;

/// The server's secret for signing mail addresses and links: 32 random
/// bytes kept in the database, the same on every node.
#[derive(Clone)]
pub struct MailKey([u8; 32]);

impl MailKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        MailKey(bytes)
    }

    /// The truncated tag of `purpose` and `fields`, in hex.
    fn tag(&self, purpose: &str, fields: &[&str]) -> String {
        hex::encode(&self.mac(purpose, fields).finalize().into_bytes()[..TAG_BYTES])
    }

    fn mac(&self, purpose: &str, fields: &[&str]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        for f in fields {
            // A separator no field contains keeps ("1", "23") and ("12", "3") apart.
            mac.update(b"\0");
            mac.update(f.as_bytes());
        }
        mac
    }

    /// Whether `tag_hex` is the tag of `purpose` and `fields` (compared in
    /// constant time).
    fn verify(&self, purpose: &str, fields: &[&str], tag_hex: &str) -> bool {
        let Ok(tag) = hex::decode(tag_hex) else {
            return false;
        };
        tag.len() == TAG_BYTES
            && self
                .mac(purpose, fields)
                .verify_truncated_left(&tag)
                .is_ok()
    }
}

impl std::fmt::Debug for MailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailKey(…)")
    }
}

/// What a Chorus `Message-ID` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    Item(i64),
    Comment(i64),
}

/// The `Message-ID` of an item or comment, without the angle brackets:
/// `chorus.item.12@lists.example.com`.
pub fn message_id(thread: Thread, mail_domain: &str) -> String {
    match thread {
        Thread::Item(id) => format!("chorus.item.{id}@{mail_domain}"),
        Thread::Comment(id) => format!("chorus.comment.{id}@{mail_domain}"),
    }
}

/// What a `Message-ID` (with or without angle brackets) names, when
/// Chorus made it for `mail_domain`; `None` for anyone else's.
pub fn parse_message_id(id: &str, mail_domain: &str) -> Option<Thread> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(mail_domain) {
        return None;
    }
    let rest = local.strip_prefix("chorus.")?;
    let (what, n) = rest.split_once('.')?;
    let n: i64 = digits(n)?;
    match what {
        "item" => Some(Thread::Item(n)),
        "comment" => Some(Thread::Comment(n)),
        _ => None,
    }
}

/// A positive decimal number written only with ASCII digits.
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n > 0)
}

/// Who a reply address was made for, and what a mail to it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyAddress {
    pub member: i64,
    pub item: i64,
    /// The member's reply epoch when it was made; a higher epoch on the
    /// member revokes it.
    pub epoch: i64,
}

const REPLY: &str = "reply";

impl ReplyAddress {
    /// The local part: `reply+<member>.<item>.<epoch>.<tag>`.
    pub fn local_part(&self, key: &MailKey) -> String {
        let (m, i, e) = (
            self.member.to_string(),
            self.item.to_string(),
            self.epoch.to_string(),
        );
        let tag = key.tag(REPLY, &[&m, &i, &e]);
        format!("{REPLY}+{m}.{i}.{e}.{tag}")
    }

    /// The whole address at `mail_domain`.
    pub fn address(&self, key: &MailKey, mail_domain: &str) -> String {
        format!("{}@{mail_domain}", self.local_part(key))
    }

    /// The reply address a local part (any case) stands for, when its
    /// signature holds; `None` for a forged, altered or foreign one.
    pub fn parse(key: &MailKey, local_part: &str) -> Option<ReplyAddress> {
        let local = local_part.to_ascii_lowercase();
        let rest = local.strip_prefix("reply+")?;
        let mut parts = rest.split('.');
        let (m, i, e, tag) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (member, item) = (digits(m)?, digits(i)?);
        let epoch = if e == "0" { 0 } else { digits(e)? };
        key.verify(REPLY, &[m, i, e], tag).then_some(ReplyAddress {
            member,
            item,
            epoch,
        })
    }
}

const UNSUBSCRIBE: &str = "unsubscribe";

/// What a one-click unsubscribe link turns off for one member: a word the
/// caller chooses (`list:42` for list mode in space 42, `kind:mention`
/// for one kind of mail), made of ASCII letters, digits, `:`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub member: i64,
    pub what: String,
}

impl Unsubscribe {
    /// The token for the link: `<member>.<what>.<tag>`, URL-safe.
    pub fn token(&self, key: &MailKey) -> String {
        let m = self.member.to_string();
        let tag = key.tag(UNSUBSCRIBE, &[&m, &self.what]);
        format!("{m}.{}.{tag}", self.what)
    }

    /// What a token stands for, when its signature holds.
    pub fn parse(key: &MailKey, token: &str) -> Option<Unsubscribe> {
        let (m, rest) = token.split_once('.')?;
        let (what, tag) = rest.rsplit_once('.')?;
        let member = digits(m)?;
        let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-');
        if what.is_empty() || what.len() > 64 || !what.chars().all(fine) {
            return None;
        }
        key.verify(UNSUBSCRIBE, &[m, what], tag)
            .then(|| Unsubscribe {
                member,
                what: what.to_owned(),
            })
    }
}

const BOUNCE: &str = "bounce";

/// What a mail was sent about, as its bounce address names it: the
/// recipient address is that of a member, an invitation or a mailed link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceFor {
    Member(i64),
    Invitation(i64),
    Link(i64),
}

/// The envelope sender (VERP) of a mail Chorus sends:
/// `bounce+<m|i|l><id>.<tag>@<mail domain>`. The tag signs the recipient
/// address as well, so a bounce counts only against the address the mail
/// went to, and nobody can make one for another address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceAddress {
    pub about: BounceFor,
    tag: String,
}

impl BounceAddress {
    fn fields(about: BounceFor) -> String {
        match about {
            BounceFor::Member(id) => format!("m{id}"),
            BounceFor::Invitation(id) => format!("i{id}"),
            BounceFor::Link(id) => format!("l{id}"),
        }
    }

    /// The whole bounce address of a mail about `about` to `recipient`.
    pub fn address(key: &MailKey, about: BounceFor, recipient: &str, mail_domain: &str) -> String {
        let what = Self::fields(about);
        let tag = key.tag(BOUNCE, &[&what, &recipient.to_ascii_lowercase()]);
        format!("{BOUNCE}+{what}.{tag}@{mail_domain}")
    }

    /// What a local part (any case) names, before its tag is checked
    /// against the recipient's address ([`BounceAddress::holds`]).
    pub fn parse(local_part: &str) -> Option<BounceAddress> {
        let local = local_part.to_ascii_lowercase();
        let rest = local.strip_prefix("bounce+")?;
        let (what, tag) = rest.split_once('.')?;
        let (kind, id) = what.split_at_checked(1)?;
        let id = digits(id)?;
        let about = match kind {
            "m" => BounceFor::Member(id),
            "i" => BounceFor::Invitation(id),
            "l" => BounceFor::Link(id),
            _ => return None,
        };
        Some(BounceAddress {
            about,
            tag: tag.to_owned(),
        })
    }

    /// Whether the tag was made for a mail to `recipient`.
    pub fn holds(&self, key: &MailKey, recipient: &str) -> bool {
        key.verify(
            BOUNCE,
            &[&Self::fields(self.about), &recipient.to_ascii_lowercase()],
            &self.tag,
        )
    }
}

/// Permanent failures after which Chorus stops mailing an address.
pub const BOUNCES_STOP: i64 = 3;

/// What a member chose for one kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// In the page only.
    Page,
    /// A mail at once.
    Now,
    /// In the daily digest.
    Digest,
}

impl Choice {
    pub const ALL: [Choice; 3] = [Choice::Page, Choice::Now, Choice::Digest];

    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Page => "page",
            Choice::Now => "now",
            Choice::Digest => "digest",
        }
    }

    pub fn parse(s: &str) -> Option<Choice> {
        Choice::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The choice of a kind nobody chose for: what is addressed to the member
/// in person and what waits on them (mentions, direct posts, requests and
/// their reminders) at once, the rest in the digest.
pub fn default_choice(kind: NotificationReason) -> Choice {
    use NotificationReason as R;
    match kind {
        R::Mention | R::Direct | R::Request | R::DueSoon | R::Overdue => Choice::Now,
        R::Reply
        | R::Watching
        | R::Reaction
        | R::Follower
        | R::AddedToSpace
        | R::JoinRequest
        | R::SearchMatch => Choice::Digest,
    }
}

/// What an unsubscribe link for one kind of notification turns off.
pub fn unsubscribe_kind(member: i64, kind: NotificationReason) -> Unsubscribe {
    Unsubscribe {
        member,
        what: format!("kind:{kind}"),
    }
}

impl Unsubscribe {
    /// The kind of notification this link turns off, if it is about one.
    pub fn kind(&self) -> Option<NotificationReason> {
        NotificationReason::parse(self.what.strip_prefix("kind:")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MailKey {
        MailKey::new([b; 32])
    }

    #[test]
    fn message_ids_round_trip_for_their_domain_only() {
        let id = message_id(Thread::Item(12), "lists.example.com");
        assert_eq!(id, "chorus.item.12@lists.example.com");
        assert_eq!(
            parse_message_id(&format!("<{id}>"), "LISTS.example.com"),
            Some(Thread::Item(12))
        );
        assert_eq!(
            parse_message_id("chorus.comment.7@lists.example.com", "lists.example.com"),
            Some(Thread::Comment(7))
        );
        for other in [
            "chorus.item.12@elsewhere.com",
            "chorus.item.-1@lists.example.com",
            "chorus.item.1x@lists.example.com",
            "chorus.space.1@lists.example.com",
            "chorus.item.@lists.example.com",
            "CAF123@mail.gmail.com",
            "",
            "<>",
        ] {
            assert_eq!(
                parse_message_id(other, "lists.example.com"),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn reply_addresses_verify_and_resist_forgery() {
        let k = key(7);
        let r = ReplyAddress {
            member: 3,
            item: 12345,
            epoch: 0,
        };
        let local = r.local_part(&k);
        assert!(local.starts_with("reply+3.12345.0."), "{local}");
        assert!(local.len() <= 64, "a local part is at most 64 octets");
        assert_eq!(ReplyAddress::parse(&k, &local), Some(r));
        assert_eq!(
            ReplyAddress::parse(&k, &local.to_ascii_uppercase()),
            Some(r)
        );
        assert_eq!(ReplyAddress::parse(&key(8), &local), None, "another key");
        let forged = local.replacen("reply+3.", "reply+4.", 1);
        assert_eq!(ReplyAddress::parse(&k, &forged), None, "another member");
        let bumped = local.replacen(".0.", ".1.", 1);
        assert_eq!(ReplyAddress::parse(&k, &bumped), None, "another epoch");
        for junk in [
            "reply+",
            "reply+1.2.3",
            "reply+1.2.3.zz",
            "bob",
            "reply+1.2.3.4.5",
        ] {
            assert_eq!(ReplyAddress::parse(&k, junk), None, "{junk}");
        }
    }

    #[test]
    fn bounce_addresses_name_their_recipient() {
        let (k, other) = (key(1), key(2));
        let a = BounceAddress::address(&k, BounceFor::Member(7), "Bo@Acme.test", "x.test");
        let local = a.strip_suffix("@x.test").unwrap();
        assert!(local.starts_with("bounce+m7."), "{a}");
        assert!(local.len() <= 64);
        let b = BounceAddress::parse(&local.to_ascii_uppercase()).unwrap();
        assert_eq!(b.about, BounceFor::Member(7));
        assert!(b.holds(&k, "bo@acme.test"));
        assert!(!b.holds(&k, "ana@acme.test"), "another address");
        assert!(!b.holds(&other, "bo@acme.test"), "another key");
        let forged = local.replace("m7.", "m8.");
        assert!(
            !BounceAddress::parse(&forged)
                .unwrap()
                .holds(&k, "bo@acme.test")
        );
        for bad in [
            "bounce+",
            "bounce+x7.00",
            "bounce+m.00",
            "bounce+m-1.00",
            "reply+m7.00",
        ] {
            assert!(
                BounceAddress::parse(bad).is_none_or(|b| !b.holds(&k, "bo@acme.test")),
                "{bad}"
            );
        }
    }

    #[test]
    fn unsubscribe_tokens_verify_and_resist_forgery() {
        let k = key(1);
        let u = Unsubscribe {
            member: 9,
            what: "list:42".into(),
        };
        let t = u.token(&k);
        assert_eq!(Unsubscribe::parse(&k, &t), Some(u));
        assert_eq!(
            Unsubscribe::parse(&k, &t.replace("list:42", "list:43")),
            None
        );
        assert_eq!(Unsubscribe::parse(&k, &t.replacen("9.", "8.", 1)), None);
        assert_eq!(Unsubscribe::parse(&key(2), &t), None);
        assert_eq!(Unsubscribe::parse(&k, "9..abc"), None);
        let kind = unsubscribe_kind(9, NotificationReason::AddedToSpace);
        let back = Unsubscribe::parse(&k, &kind.token(&k)).unwrap();
        assert_eq!(back.kind(), Some(NotificationReason::AddedToSpace));
    }

    #[test]
    fn choices_read_back_and_every_kind_has_a_default() {
        for c in Choice::ALL {
            assert_eq!(Choice::parse(c.as_str()), Some(c));
        }
        assert_eq!(default_choice(NotificationReason::Mention), Choice::Now);
        assert_eq!(default_choice(NotificationReason::Reaction), Choice::Digest);
    }
}
