//! Services: Chorus's use cases. Each public function validates its input
//! with the domain's types, checks who may do it, and reads or writes
//! through the store in one transaction. HTTP handlers, pages and the CLI
//! all call these, so a rule holds whichever door a request comes in by.
//!
//! One module per feature, named as the store's: `spaces`, `items`,
//! `comments`, `reactions`, `follows`, `streams`, `audience`,
//! `notifications`, `acks`, `suggestions`; `profiles`, `sessions`,
//! `tokens`, `invitations`, `signup`, `org`; `mail`, `mail_in`. `viewer` is who asks and the
//! visibility rule's entry points; `requests`, `calendar`, `pages`, `jobs`
//! and `ops` stand beside them.

pub mod acks;
pub mod addresses;
pub mod audience;
pub mod calendar;
pub mod comments;
pub mod digest;
pub mod follows;
pub mod import;
pub mod invitations;
pub mod items;
pub mod jobs;
pub mod lists;
pub mod mail;
pub mod mail_in;
pub mod notifications;
pub mod ops;
pub mod org;
pub mod pages;
pub mod profiles;
pub mod reactions;
pub mod requests;
pub mod search;
pub mod searches;
pub mod sessions;
pub mod signup;
pub mod spaces;
pub mod streams;
pub mod suggestions;
pub mod tokens;
pub mod viewer;
