//! Typed row ids: a member's id cannot be passed where an item's belongs.
//! A request (or offer) is an item, keyed by the item's id, so it has no
//! id type of its own.
//!
//! Each is an `i64` as the database keeps it; serde reads and writes the
//! bare number (`#[serde(transparent)]`), so JSON, job payloads, path
//! segments and query strings look as they did with plain integers.

use std::fmt;
use std::str::FromStr;

macro_rules! ids {
    ($($(#[$m:meta])* $Name:ident;)+) => {$(
        $(#[$m])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $Name(pub i64);

        impl $Name {
            /// The number the database keeps.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $Name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $Name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($Name)
            }
        }

        impl From<$Name> for i64 {
            fn from(id: $Name) -> i64 {
                id.0
            }
        }
    )+};
}

ids! {
    /// A member (`members.id`).
    MemberId;
    /// A space (`spaces.id`).
    SpaceId;
    /// An item: a post, to-do, request or event (`items.id`).
    ItemId;
    /// A comment (`comments.id`).
    CommentId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_write_as_bare_numbers() {
        assert_eq!(serde_json::to_string(&ItemId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<MemberId>("42").unwrap(),
            MemberId(42)
        );
        assert_eq!("12".parse::<SpaceId>().unwrap(), SpaceId(12));
        assert!("x1".parse::<ItemId>().is_err());
        assert_eq!(CommentId(3).to_string(), "3");
    }
}
