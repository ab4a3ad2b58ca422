//! The social features' queries under one path, re-exported from their
//! feature modules (`spaces`, `items`, `comments`, `reactions`, `follows`,
//! `activities`, `streams`, `fanout`, `notifications`, `audience`, `acks`,
//! `suggestions`, `rows`). The server moves to the feature paths as its own
//! services are split.

pub use crate::acks::*;
pub use crate::activities::*;
pub use crate::audience::*;
pub use crate::comments::*;
pub use crate::fanout::*;
pub use crate::follows::*;
pub use crate::items::*;
pub use crate::notifications::*;
pub use crate::reactions::*;
pub use crate::rows::*;
pub use crate::spaces::*;
pub use crate::streams::*;
pub use crate::suggestions::*;
