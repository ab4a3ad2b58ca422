//! The account features' queries under one path, re-exported from their
//! feature modules (`profiles`, `sessions`, `tokens`, `invitations`,
//! `signup`, `org`, `throttle`). The server moves to the feature paths as
//! its own services are split.

pub use crate::invitations::*;
pub use crate::org::*;
pub use crate::profiles::*;
pub use crate::sessions::*;
pub use crate::signup::*;
pub use crate::throttle::*;
pub use crate::tokens::*;
