//! M7, list mail: a post to a space whose members all have list mode on;
//! the time from the post's answer until a local SMTP sink has accepted
//! every mail, and the post's own request time.
//!
//! The sink is the benchmark's own: a small SMTP server on loopback that
//! accepts every message and counts them (no parsing beyond the dot that
//! ends DATA), so the figure is the server's sending, not the sink's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use anyhow::Context;
use hyper::Method;
use store::Db;
use store::bench_data as data;

use crate::AllArgs;
use crate::drive::{self, Req};

/// The counting sink.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let sink = Sink {
            addr: listener.local_addr()?,
            accepted: Arc::default(),
        };
        let accepted = sink.accepted.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let accepted = accepted.clone();
                tokio::spawn(async move {
                    let _ = session(conn, &accepted).await;
                });
            }
        });
        Ok(sink)
    }

    pub fn relay(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

async fn session(conn: tokio::net::TcpStream, accepted: &AtomicU64) -> std::io::Result<()> {
    let _ = conn.set_nodelay(true);
    let (r, mut w) = conn.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("DATA") {
            w.write_all(b"354 go ahead\r\n").await?;
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" {
                    break;
                }
            }
            accepted.fetch_add(1, Ordering::Relaxed);
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        w.write_all(reply).await?;
    }
}

/// What M7 measured.
#[derive(Debug, Clone, Default)]
pub struct M7 {
    /// Mails expected: the list's members but the author.
    pub mails: u64,
    pub accepted: u64,
    pub post_ms: f64,
    /// From the post's answer until the sink accepted the last mail.
    pub all_accepted_s: f64,
}

/// Waits until the sink has `n` more mails than `before`, up to `limit`;
/// returns when the last arrived (or None at the limit).
pub async fn wait_for(sink: &Sink, before: u64, n: u64, limit: Duration) -> Option<Instant> {
    let start = Instant::now();
    loop {
        if sink.accepted() >= before + n {
            return Some(Instant::now());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// M7: a post to space 2 with every member in list mode, until the sink
/// has accepted every mail.
pub(crate) async fn measure(
    args: &AllArgs,
    db: &Db,
    addr: SocketAddr,
    sink: &Sink,
    tokens: &[i64],
) -> anyhow::Result<M7> {
    const SPACE: i64 = 2;
    let listed = {
        let mut tx = db.write().await?;
        store::lists::set_for_members(&mut tx, SPACE, false, 0).await?;
        let n = store::lists::set_for_members(&mut tx, SPACE, true, 0).await?;
        tx.commit().await?;
        n
    };
    let members = crate::tokens_in_space(db, tokens, SPACE).await?;
    let writer = *members.last().context("no token member is in space 2")?;
    let mut m = M7 {
        mails: listed.saturating_sub(1),
        ..Default::default()
    };
    let before = sink.accepted();
    let mut sender = drive::connect(addr).await?;
    let req = Req {
        method: Method::POST,
        path: "/api/v1/items".into(),
        token: Some(data::api_token(writer)),
        body: Some(
            serde_json::json!({"space": format!("space-{SPACE}"), "title": "M7 list mail",
                "body": "Every member of this space gets this by mail."})
            .to_string(),
        ),
        kind: 0,
    };
    let t0 = Instant::now();
    let (status, body) = drive::send(&mut sender, addr, &req).await?;
    let answered = Instant::now();
    anyhow::ensure!(
        status.is_success(),
        "posting failed: {status} {}",
        String::from_utf8_lossy(&body)
    );
    m.post_ms = answered.duration_since(t0).as_secs_f64() * 1000.0;
    let limit = Duration::from_secs(if args.smoke { 30 } else { 120 });
    let last = wait_for(sink, before, m.mails, limit).await;
    m.accepted = sink.accepted() - before;
    m.all_accepted_s = last.map_or(f64::NAN, |l| l.duration_since(answered).as_secs_f64());
    let mut tx = db.write().await?;
    store::lists::set_for_members(&mut tx, SPACE, false, 0).await?;
    tx.commit().await?;
    Ok(m)
}
