//! The social services under one path, re-exported from their feature
//! modules (`spaces`, `items`, `comments`, `reactions`, `follows`,
//! `streams`, `audience`, `notifications`, `acks`, `suggestions`, and the
//! visibility rule's entry points in `viewer`). Handlers move to the
//! feature paths next.

pub use super::acks::*;
pub use super::audience::*;
pub use super::comments::*;
pub use super::follows::*;
pub use super::items::*;
pub use super::notifications::*;
pub use super::profiles::Person;
pub use super::reactions::*;
pub use super::spaces::*;
pub use super::streams::*;
pub use super::suggestions::*;
pub use super::viewer::{visible, visible_activity};
