//! The words Chorus stores in `TEXT` columns: an item's kind and
//! audience, an activity's verb, a notification's reason, a member's role
//! in a space, what an activity is about. Each `as_str` is the stored text and `parse` reads it back
//! (None for text no version of Chorus writes), so rows decode into these
//! types without a migration.

use crate::cfa::Act;
use crate::validate::ValidationError;

/// A closed set of stored words: the enum, `ALL`, `as_str`, `parse` and
/// `Display`.
macro_rules! stored_words {
    (
        $(#[$m:meta])*
        pub enum $Name:ident { $($(#[$vm:meta])* $V:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $Name {
            $($(#[$vm])* $V),+
        }

        impl $Name {
            pub const ALL: &[$Name] = &[$($Name::$V),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($Name::$V => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$Name> {
                match s {
                    $($text => Some($Name::$V),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $Name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_words! {
    /// What an item is.
    #[derive(Default)]
    pub enum ItemKind {
        #[default]
        Post = "post",
        /// A conversation for action that A opened by asking.
        Request = "request",
        /// One that B opened by offering.
        Offer = "offer",
        /// A shared to-do.
        Todo = "todo",
    }
}

stored_words! {
    /// Where an item lives; with a space's visibility it is the
    /// [`Audience`](crate::social::Audience) the visibility rule reads.
    #[derive(Default)]
    pub enum AudienceKind {
        Space = "space",
        Profile = "profile",
        /// To named people; the narrowest, so the default.
        #[default]
        Direct = "direct",
    }
}

stored_words! {
    /// Why a member was notified.
    pub enum NotificationReason {
        Mention = "mention",
        Reply = "reply",
        /// A comment on an item they watch.
        Watching = "watching",
        Reaction = "reaction",
        Direct = "direct",
        Follower = "follower",
        AddedToSpace = "added_to_space",
        JoinRequest = "join_request",
        /// An act of a conversation for action they are party to.
        Request = "request",
        DueSoon = "due_soon",
        Overdue = "overdue",
        /// A new match of a search they watch.
        SearchMatch = "search_match",
    }
}

stored_words! {
    /// A member's role in a space.
    pub enum SpaceRole {
        Admin = "admin",
        Member = "member",
    }
}

stored_words! {
    /// What an activity is about (its object) or done in (its target).
    pub enum ObjectType {
        Item = "item",
        Comment = "comment",
        Space = "space",
        Member = "member",
    }
}

impl ItemKind {
    /// The kind of conversation for action someone asked to open: a
    /// request (also when they named none) or an offer.
    pub fn conversation(s: &str) -> Result<ItemKind, ValidationError> {
        match s.trim() {
            "" | "request" => Ok(ItemKind::Request),
            "offer" => Ok(ItemKind::Offer),
            _ => Err(ValidationError::new(
                "kind",
                "A conversation starts with a request (you ask) or an offer (you offer).",
            )),
        }
    }
}

impl SpaceRole {
    /// A role someone typed: the stored word exactly.
    pub fn from_input(s: &str) -> Result<SpaceRole, ValidationError> {
        SpaceRole::parse(s)
            .ok_or_else(|| ValidationError::new("role", "A space role is member or admin."))
    }
}

/// What an activity did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Also what a row read without its verb holds (a brief stream row).
    #[default]
    Post,
    Comment,
    /// A space was created.
    Create,
    Join,
    Update,
    Delete,
    React,
    Follow,
    Acknowledge,
    /// A shared to-do was completed.
    Completed,
    /// A requester asked the performer how it goes.
    AskProgress,
    DueSoon,
    Overdue,
    /// An act of a conversation for action; `Act(Request)` on a space is
    /// also a request to join it.
    Act(Act),
}

impl Verb {
    const WORDS: [(Verb, &'static str); 13] = [
        (Verb::Post, "post"),
        (Verb::Comment, "comment"),
        (Verb::Create, "create"),
        (Verb::Join, "join"),
        (Verb::Update, "update"),
        (Verb::Delete, "delete"),
        (Verb::React, "react"),
        (Verb::Follow, "follow"),
        (Verb::Acknowledge, "acknowledge"),
        (Verb::Completed, "completed"),
        (Verb::AskProgress, "ask_progress"),
        (Verb::DueSoon, "due_soon"),
        (Verb::Overdue, "overdue"),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Act(a) => a.as_str(),
            v => {
                Verb::WORDS
                    .iter()
                    .find(|(w, _)| *w == v)
                    .expect("every verb but an act has a word")
                    .1
            }
        }
    }

    pub fn parse(s: &str) -> Option<Verb> {
        Verb::WORDS
            .iter()
            .find(|(_, w)| *w == s)
            .map(|(v, _)| *v)
            .or_else(|| {
                Act::ALL
                    .into_iter()
                    .find(|a| a.as_str() == s)
                    .map(Verb::Act)
            })
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_words_round_trip() {
        for k in ItemKind::ALL {
            assert_eq!(ItemKind::parse(k.as_str()), Some(*k));
        }
        for a in AudienceKind::ALL {
            assert_eq!(AudienceKind::parse(a.as_str()), Some(*a));
        }
        for r in NotificationReason::ALL {
            assert_eq!(NotificationReason::parse(r.as_str()), Some(*r));
        }
        for o in ObjectType::ALL {
            assert_eq!(ObjectType::parse(o.as_str()), Some(*o));
        }
        for r in SpaceRole::ALL {
            assert_eq!(SpaceRole::parse(&r.to_string()), Some(*r));
        }
        for (v, _) in Verb::WORDS {
            assert_eq!(Verb::parse(v.as_str()), Some(v));
        }
        for a in Act::ALL {
            assert_eq!(Verb::parse(a.as_str()), Some(Verb::Act(a)));
        }
        assert_eq!(Verb::parse("request"), Some(Verb::Act(Act::Request)));
        assert_eq!(ItemKind::parse("Post"), None, "stored text is exact");
        assert_eq!(Verb::parse(""), None);
    }
}
