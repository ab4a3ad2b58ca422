//! The load driver: many keep-alive HTTP/1.1 connections on loopback, each
//! sending requests back to back, with latencies recorded per request.
//! Lean on purpose (raw hyper, no pooling layer), since it shares the
//! machine with the server it measures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;

/// One request to make.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
    /// Which latency series it belongs to (e.g. 0 = read, 1 = write).
    pub kind: usize,
}

impl Req {
    pub fn get(path: impl Into<String>, token: Option<String>) -> Req {
        Req {
            method: Method::GET,
            path: path.into(),
            token,
            body: None,
            kind: 0,
        }
    }
}

pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request; returns the status and the body.
pub async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    r: &Req,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let mut b = Request::builder()
        .method(r.method.clone())
        .uri(&r.path)
        .header(hyper::header::HOST, addr.to_string());
    if let Some(t) = &r.token {
        b = b.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match &r.body {
        Some(s) => {
            b = b.header(hyper::header::CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(s.clone()))
        }
        None => Full::new(Bytes::new()),
    };
    let res = sender.send_request(b.body(body)?).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// Latencies (µs) per kind, and how many requests failed.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub latencies: Vec<Vec<u32>>,
    pub errors: u64,
    pub elapsed: Duration,
    /// Requests slower than [`SLOW_MS`], open loop only: (kind, ms from
    /// the run's start to when it was handed out, latency in ms), to see
    /// when in a run the slow ones come (`CHORUS_BENCH_DEBUG`).
    pub slow: Vec<(usize, u32, u32)>,
    /// When an open-loop run's clock started, to line its slow windows up
    /// with the server's log (`CHORUS_BENCH_DEBUG`).
    pub started: Option<std::time::SystemTime>,
}

/// What [`Outcome::slow`] counts as slow: what the server's debug log
/// does, so the two line up.
pub const SLOW_MS: u32 = store::db::SLOW.as_millis() as u32;

impl Outcome {
    pub fn count(&self, kind: usize) -> usize {
        self.latencies.get(kind).map_or(0, Vec::len)
    }

    pub fn rate(&self, kind: usize) -> f64 {
        self.count(kind) as f64 / self.elapsed.as_secs_f64()
    }

    /// The p-th percentile latency of a kind, in milliseconds.
    pub fn pct(&self, kind: usize, p: f64) -> f64 {
        percentile(self.latencies.get(kind).map_or(&[][..], Vec::as_slice), p)
    }

    /// Records a successful request of `kind` that started at `since`.
    fn record(&mut self, kind: usize, since: Instant) -> u32 {
        if self.latencies.len() <= kind {
            self.latencies.resize(kind + 1, Vec::new());
        }
        let us = since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.latencies[kind].push(us);
        us
    }

    /// [`Outcome::record`], noting a slow request's time in the run.
    fn record_in_run(&mut self, kind: usize, since: Instant, run_start: Instant) {
        let ms = self.record(kind, since) / 1000;
        if ms > SLOW_MS {
            let at = since.saturating_duration_since(run_start).as_millis() as u32;
            self.slow.push((kind, at, ms));
        }
    }

    /// Slow requests of `kind` per 100 ms of the run: (start ms, count,
    /// slowest ms), busiest first.
    pub fn slow_windows(&self, kind: usize) -> Vec<(u32, usize, u32)> {
        let mut w: std::collections::BTreeMap<u32, (usize, u32)> = Default::default();
        for (k, at, ms) in &self.slow {
            if *k == kind {
                let e = w.entry(at / 100 * 100).or_default();
                e.0 += 1;
                e.1 = e.1.max(*ms);
            }
        }
        let mut v: Vec<_> = w.into_iter().map(|(at, (n, ms))| (at, n, ms)).collect();
        v.sort_by_key(|(at, n, _)| (std::cmp::Reverse(*n), *at));
        v
    }

    /// Adds another connection's latencies and errors to these.
    fn absorb(&mut self, other: Outcome) {
        self.errors += other.errors;
        self.slow.extend(other.slow);
        for (k, l) in other.latencies.into_iter().enumerate() {
            if self.latencies.len() <= k {
                self.latencies.resize(k + 1, Vec::new());
            }
            self.latencies[k].extend(l);
        }
    }
}

pub fn percentile(samples: &[u32], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v = samples.to_vec();
    v.sort_unstable();
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    f64::from(v[i.min(v.len() - 1)]) / 1000.0
}

/// Runs `concurrency` connections for `duration`, each asking `next` for
/// its next request.
pub async fn run<F>(
    addr: SocketAddr,
    concurrency: usize,
    duration: Duration,
    seed: u64,
    next: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(&mut StdRng) -> Req + Send + Sync + 'static,
{
    let next = Arc::new(next);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let next = next.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(w as u64 * 7919));
            let mut out = Outcome::default();
            let mut sender = match connect(addr).await {
                Ok(s) => s,
                Err(_) => {
                    out.errors += 1;
                    return out;
                }
            };
            while !stop.load(Ordering::Relaxed) {
                let r = next(&mut rng);
                let t = Instant::now();
                match send(&mut sender, addr, &r).await {
                    Ok((status, _)) if status.is_success() => {
                        out.record(r.kind, t);
                    }
                    Ok(_) => out.errors += 1,
                    Err(_) => {
                        out.errors += 1;
                        match connect(addr).await {
                            Ok(s) => sender = s,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            out
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Outcome::default();
    for t in tasks {
        total.absorb(t.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// Offers requests at a fixed rate (open loop), as many people using the
/// server independently would: request `i` is due at `start + i / rate`,
/// whatever happened to the ones before it, and its latency counts from
/// when it was handed out, waiting for a free connection included, so a
/// server that falls behind shows it in the percentiles instead of
/// slowing the driver down (no coordinated omission). Due requests go to
/// the first free one of `connections` keep-alive connections. `next` gets
/// the request number and may return None to leave that slot empty (so a
/// read-only run can keep exactly the read schedule of a mixed one).
/// Requests still running when `duration` ends are waited for, up to 10 s.
pub async fn run_at_rate<F>(
    addr: SocketAddr,
    connections: usize,
    rate: f64,
    duration: Duration,
    seed: u64,
    next: F,
) -> anyhow::Result<Outcome>
where
    F: Fn(u64, &mut StdRng) -> Option<Req> + Send + Sync + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<(Instant, Instant, Req)>(1 << 16);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    // Every connection is open before the clock starts: opening 64 at
    // once is not what the rate measures (it made the first tenth of a
    // second's requests wait up to 80 ms).
    let ready = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (rx, ready) = (rx.clone(), ready.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut sender = connect(addr).await.ok();
            ready.wait().await;
            loop {
                let Some((start, queued, r)) = rx.lock().await.recv().await else {
                    return out;
                };
                if sender.is_none() {
                    sender = connect(addr).await.ok();
                }
                let Some(s) = sender.as_mut() else {
                    out.errors += 1;
                    continue;
                };
                match send(s, addr, &r).await {
                    Ok((status, _)) if status.is_success() => {
                        out.record_in_run(r.kind, queued, start)
                    }
                    Ok(_) => out.errors += 1,
                    Err(_) => {
                        out.errors += 1;
                        sender = None;
                    }
                }
            }
        }));
    }
    ready.wait().await;
    let start = Instant::now();
    let started = std::time::SystemTime::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let total = (rate * duration.as_secs_f64()) as u64;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if let Some(r) = next(i, &mut rng) {
            // The timer wakes on millisecond ticks: the clock starts when
            // the request is handed out, not up to a tick earlier, so the
            // driver's own lateness is not counted against the server.
            tx.send((start, Instant::now(), r)).await?;
        }
    }
    drop(tx);
    let mut outcome = Outcome::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    for w in workers {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, w).await {
            Ok(o) => outcome.absorb(o?),
            // Still busy 10 s after the end: count it as failed.
            Err(_) => outcome.errors += 1,
        }
    }
    // Rates are per second of offered load: a server that kept up
    // completes every request within the run (plus the last latency).
    outcome.elapsed = duration;
    outcome.started = Some(started);
    Ok(outcome)
}

/// An open Server-Sent Events connection that reports when an event
/// containing a given text arrives.
pub struct LiveWatch {
    pub connected: tokio::sync::oneshot::Receiver<()>,
    pub seen: tokio::sync::mpsc::UnboundedReceiver<(Instant, String)>,
}

/// Opens an SSE connection for `token` on `path` and forwards each event's
/// data with its arrival time.
pub fn open_live(addr: SocketAddr, path: String, token: String) -> LiveWatch {
    let (ctx, crx) = tokio::sync::oneshot::channel();
    let (stx, srx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let Ok(mut sender) = connect(addr).await else {
            return;
        };
        let req = Request::builder()
            .uri(&path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::new()));
        let Ok(req) = req else { return };
        let Ok(res) = sender.send_request(req).await else {
            return;
        };
        if !res.status().is_success() {
            return;
        }
        let _ = ctx.send(());
        let mut body = res.into_body();
        let mut buf = String::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                buf.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    if stx.send((Instant::now(), block)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    LiveWatch {
        connected: crx,
        seen: srx,
    }
}

pub fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}
