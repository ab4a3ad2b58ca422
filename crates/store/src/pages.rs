//! Reads that only the server-rendered pages need, re-exported from their
//! feature modules. The server moves to the feature paths as its own
//! services are split.

pub use crate::notifications::mention_notifications;
pub use crate::spaces::space_names;
