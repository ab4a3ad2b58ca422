//! M4, search: `GET /api/v1/search?q=…&limit=20` as a random token
//! member, so the server applies the access filter (the one visibility
//! rule) before ranking, as for anyone. One request at a time over one
//! keep-alive connection, the query kinds interleaved, so each latency is
//! the search's own.
//!
//! The generated text is small on purpose: every item reads "Update on
//! the W1 W2: progress is good, next steps below." (W from 26 words) and
//! every comment "Thanks, looks good for the W.", so
//! - the most frequent word is "good" (every item and comment);
//! - a common word is one of the 26 (about 8% of items, 4% of comments);
//! - a rare word is a person's handle named in a "cc @u…" (a few items);
//! - a phrase is "W1 W2";
//! - `from:@u… W` is a word among one member's writing.

use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::bench_data::{self as data, Shape};

use crate::drive::{self, Req, percentile, pick};

/// The query kinds, in the order of [`M4::p99_by_kind`].
pub const KINDS: [&str; 5] = ["rare", "common", "most frequent", "phrase", "from:+word"];

const WORDS: [&str; 8] = [
    "launch", "budget", "security", "incident", "pricing", "audit", "roadmap", "hiring",
];

/// What M4 measured.
#[derive(Debug, Clone, Default)]
pub struct M4 {
    pub searches: usize,
    pub errors: usize,
    pub p50: f64,
    pub p99: f64,
    /// p99 per kind of query (see [`KINDS`]).
    pub p99_by_kind: Vec<f64>,
    /// Results the most frequent word's searches returned, on average
    /// (so a figure that is fast because it found nothing shows).
    pub most_frequent_hits: f64,
}

fn query(rng: &mut StdRng, kind: usize, shape: &Shape) -> String {
    let member = rng.random_range(1..=i64::from(shape.members.max(2)));
    let w1 = WORDS[rng.random_range(0..WORDS.len())];
    let w2 = WORDS[rng.random_range(0..WORDS.len())];
    match kind {
        0 => format!("u{member}"),
        1 => w1.to_owned(),
        2 => "good".to_owned(),
        3 => format!("\"{w1} {w2}\""),
        // The most followed (low ids) write the most.
        _ => format!("from:@u{} {w1}", rng.random_range(1..=50)),
    }
}

/// `q` for a query string: letters and digits as they are, every other
/// byte as `%XX`.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs `per_kind` searches of each kind, interleaved.
pub async fn measure(addr: SocketAddr, shape: &Shape, per_kind: usize) -> anyhow::Result<M4> {
    let tokens = data::token_members(shape);
    let mut rng = StdRng::seed_from_u64(4);
    let mut sender = drive::connect(addr).await?;
    let mut by_kind: Vec<Vec<u32>> = vec![Vec::new(); KINDS.len()];
    let mut all = Vec::new();
    let mut m = M4::default();
    let mut frequent_hits = 0usize;
    // A few searches first: the first of each kind prepares its statements.
    for round in 0..per_kind + 2 {
        for (kind, lat) in by_kind.iter_mut().enumerate() {
            let q = query(&mut rng, kind, shape);
            let req = Req::get(
                format!("/api/v1/search?q={}&limit=20", encode(&q)),
                Some(data::api_token(*pick(&mut rng, &tokens))),
            );
            let t = Instant::now();
            let (status, body) = drive::send(&mut sender, addr, &req).await?;
            let us = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            if !status.is_success() {
                m.errors += 1;
                if m.errors == 1 {
                    eprintln!(
                        "M4: {q:?} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                continue;
            }
            if round < 2 {
                continue;
            }
            if kind == 2 {
                frequent_hits += serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["items"].as_array().map(Vec::len))
                    .unwrap_or(0);
            }
            lat.push(us);
            all.push(us);
        }
    }
    m.searches = all.len();
    m.p50 = percentile(&all, 50.0);
    m.p99 = percentile(&all, 99.0);
    m.p99_by_kind = by_kind.iter().map(|l| percentile(l, 99.0)).collect();
    m.most_frequent_hits = frequent_hits as f64 / per_kind.max(1) as f64;
    Ok(m)
}
