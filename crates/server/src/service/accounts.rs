//! The account services under one path, re-exported from their feature
//! modules (`signup`, `sessions`, `tokens`, `profiles`, `org`,
//! `invitations`, and `viewer` for who is asking). Handlers move to the
//! feature paths next.

pub use super::invitations::*;
pub use super::org::*;
pub use super::profiles::*;
pub use super::sessions::*;
pub use super::signup::*;
pub use super::tokens::*;
pub use super::viewer::{Auth, Viewer, act_as, system_actor};
