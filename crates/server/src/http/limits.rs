//! Writes per member: a member (or a script with their token) may make at
//! most `writes_per_minute` unsafe requests a minute, in bursts of as many;
//! past that the answer is 429 with `Retry-After`. Counted per node, in
//! memory: a limit against floods, not an account of anything.

use domain::MemberId;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

pub struct WriteLimits {
    members: DefaultKeyedRateLimiter<MemberId>,
}

impl WriteLimits {
    /// `None` when the setting is 0 (no limit).
    pub fn new(per_minute: u32) -> Option<WriteLimits> {
        let n = NonZeroU32::new(per_minute)?;
        Some(WriteLimits {
            members: RateLimiter::keyed(Quota::per_minute(n)),
        })
    }

    /// Takes one write of `member`'s allowance, or says when to try again.
    pub fn check(&self, member: MemberId) -> Result<(), AppError> {
        let r = self.members.check_key(&member);
        // Members who stopped writing are forgotten once their allowance
        // is whole again.
        if self.members.len() > 10_000 {
            self.members.retain_recent();
        }
        r.map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited {
                detail: "You are writing faster than this server allows. Wait a moment and \
                         send it again."
                    .into(),
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}
