//! Chorus's domain: the pure types and rules every other crate builds on.
//!
//! It owns validated newtypes (so invalid input cannot travel past the
//! edge), member roles and what each may do, the one path from
//! user-written markdown to HTML that is safe to put in a page, and the
//! hashes the database keeps for tokens and passwords. It does no
//! I/O and nothing async, so every rule here is tested without a server or
//! a database.

pub mod cfa;
pub mod ids;
pub mod kinds;
pub mod mail;
pub mod mail_in;
pub mod markdown;
pub mod role;
pub mod search;
pub mod secrets;
pub mod social;
pub mod validate;

pub use ids::{CommentId, ItemId, MemberId, SpaceId};
pub use role::{InvitePolicy, Role};
pub use validate::{
    DisplayName, DomainList, Email, Handle, LoginName, Markdown, Password, ShortText, TimeZoneName,
    ValidationError,
};
