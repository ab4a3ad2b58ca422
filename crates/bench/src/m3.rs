//! M3: reads with writes beside them, in alternating slices.

use crate::*;

/// M3 for one kind of write.
#[derive(Debug, Clone, Default)]
pub struct M3 {
    /// The highest offered write rate at which every write was done and
    /// the read p99 grew at most 1.5× (0 when none).
    pub sustained: f64,
    /// The last rate tried (the first that failed, or the highest): writes
    /// per second offered and done, and their latency.
    pub offered: f64,
    pub done: f64,
    pub write_p50: f64,
    pub write_p99: f64,
    /// Read p99 of the same read schedule without the writes, and with.
    pub read_p99_idle: f64,
    pub read_p99: f64,
    pub ratio: f64,
}

/// The home page's p99 bar (DESIGN.md section 10), which M3's reads
/// without the writes must meet for a rate to count.
pub(crate) const READ_P99_BAR_MS: f64 = 10.0;
/// M3's request kinds: writes are 1 (as in every run), reads are told
/// apart by the slice they were handed out in.
pub(crate) const READ_IDLE: usize = 0;
pub(crate) const READ_MIXED: usize = 2;
pub(crate) const READ_UNCOUNTED: usize = 3;

/// How an M3 run alternates: slices without writes and slices with them,
/// one after the other, each as long as `slice`. The reads are offered
/// throughout and compared slice kind against slice kind, so a host that
/// slows down for a few seconds (other tenants, stolen CPU time) weighs on
/// both alike; two runs back to back measured the host's moods as often
/// as the writes. A read handed out in the first `settle` of a slice
/// counts in neither: it may meet the last writes of the slice before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slices {
    slice: Duration,
    settle: Duration,
}

impl Slices {
    /// One-second slices, or a run's half when it is shorter (smoke runs).
    pub(crate) fn for_run(secs: Duration) -> Slices {
        let slice = secs.min(Duration::from_secs(1));
        Slices {
            slice,
            settle: slice / 10,
        }
    }

    /// Whether a request due at `at` into the run falls in a slice with
    /// writes, and whether a read there counts.
    pub(crate) fn of(self, at: Duration) -> (bool, bool) {
        let n = at.as_nanos() / self.slice.as_nanos();
        let into = at.as_nanos() % self.slice.as_nanos();
        (n % 2 == 1, into >= self.settle.as_nanos())
    }
}

/// The writes M3 offers.
#[derive(Debug, Clone, Copy)]
pub enum WriteMix {
    /// What people at work mostly do, per 20 writes: 7 reactions, 5
    /// "seen" marks, 5 comments, 2 "mark all notifications read", 1 post
    /// on their profile.
    Everyday,
    /// Comments only.
    Comments,
}

impl WriteMix {
    /// Its part of M3 in `--only`.
    pub(crate) fn part(self) -> &'static str {
        match self {
            WriteMix::Everyday => "m3-everyday",
            WriteMix::Comments => "m3-comments",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            WriteMix::Everyday => "everyday writes",
            WriteMix::Comments => "comments only",
        }
    }

    pub(crate) fn request(
        self,
        rng: &mut rand::rngs::StdRng,
        items: &[i64],
        writers: &[i64],
    ) -> Req {
        let slot = match self {
            WriteMix::Everyday => rng.random_range(0..20),
            WriteMix::Comments => 7,
        };
        let item = *pick(rng, items);
        let (path, body) = match slot {
            0..7 => (
                format!("/api/v1/items/{item}/reactions"),
                format!(
                    r#"{{"emoji":"{}"}}"#,
                    ["👍", "🎉", "❤️", "🙏", "👀"][rng.random_range(0..5)]
                ),
            ),
            7..12 => (
                format!("/api/v1/items/{item}/comments"),
                r#"{"body":"Agreed, let's do it."}"#.to_owned(),
            ),
            12..17 => (format!("/api/v1/items/{item}/seen"), "{}".to_owned()),
            17..19 => ("/api/v1/notifications/read-all".to_owned(), String::new()),
            _ => (
                "/api/v1/items".to_owned(),
                r#"{"body":"Notes from today's planning are in the shared folder."}"#.to_owned(),
            ),
        };
        Req {
            method: Method::POST,
            path,
            token: Some(data::api_token(*pick(rng, writers))),
            body: Some(body),
            kind: 1,
        }
    }
}
