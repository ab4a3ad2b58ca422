//! M8: mail in. A fresh database holds 12,000 members, space 2
//! ("space-2", open) followed by 10,000 of them; `chorus serve` takes mail
//! for `@bench.test`. Messages are offered at a fixed rate (default 100 a
//! second for 20 s), each in its own SMTP session from one of many members
//! (the listener allows 30 a minute per sender) to `space-2@bench.test`,
//! so each becomes a post to 10,000 followers. The figure is each
//! message's acceptance time: from the end of its DATA (the final ".")
//! to the server's 250, p50 and p99 (bar: p99 under 200 ms).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use store::bench_data::{self as data, Shape};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::drive::percentile;

#[derive(Debug, clap::Args)]
pub struct MailInArgs {
    /// The `chorus` binary (default: the one beside this executable)
    #[arg(long)]
    pub chorus: Option<PathBuf>,
    /// `sqlite`, `postgres` or `both`
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Directory for the SQLite database and server data
    #[arg(long, default_value = "./bench-data")]
    pub dir: PathBuf,
    /// A PostgreSQL server URL; the database `chorus_bench_mail_in` is
    /// recreated on it
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_admin_url: String,
    /// Messages offered per second
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// Seconds of load
    #[arg(long, default_value_t = 20)]
    pub seconds: u32,
    /// Followers of the space posted to
    #[arg(long, default_value_t = 10_000)]
    pub followers: u32,
    /// Members who send (each sends rate × seconds / senders messages)
    #[arg(long, default_value_t = 1_000)]
    pub senders: u32,
}

fn shape(args: &MailInArgs) -> Shape {
    Shape {
        members: args.followers + 2_000,
        spaces: 3,
        big_space: args.followers,
        items: 20_000,
        comments: 20_000,
        reactions: 0,
        follows: 20,
        space_follows: 1,
        topic_follows: 1,
        topics: 10,
        skew: 1.0,
        days: 30,
        inbox_cap: 50,
        tokens: 100,
        seed: 8,
    }
}

pub async fn run(args: &MailInArgs, chorus: &Path) -> anyhow::Result<String> {
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => anyhow::bail!("--backend is sqlite, postgres or both, not {other}"),
    };
    std::fs::create_dir_all(&args.dir)?;
    let mut out = String::from(
        "| backend | offered | accepted | refused | acceptance p50 | p99 | max | bar (p99 < 200 ms) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for b in backends {
        out.push_str(&measure(args, chorus, b).await?);
    }
    Ok(out)
}

async fn measure(args: &MailInArgs, chorus: &Path, backend: &str) -> anyhow::Result<String> {
    let shape = shape(args);
    let url = crate::fresh_database(
        backend,
        &args.dir.join("mail-in-bench.db"),
        &args.pg_admin_url,
        "chorus_bench_mail_in",
    )
    .await?;
    let db = crate::open(&url).await?;
    data::generate(&db, &shape, &mut |m| eprintln!("generate: {m}")).await?;
    // Space 2's members, who follow it; senders are any members.
    let followers = {
        let mut c = db.read().await?;
        data::space_followers(&mut c, 2).await?
    };
    db.close().await;
    eprintln!("M8: space-2 has {followers} followers");
    let free = || -> anyhow::Result<SocketAddr> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        Ok(l.local_addr()?)
    };
    let (http, smtp) = (free()?, free()?);
    let data_dir = args.dir.join(format!("mail-in-{backend}"));
    std::fs::create_dir_all(&data_dir)?;
    let mut child = tokio::process::Command::new(chorus)
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--http-addr", &http.to_string()])
        .args(["--smtp-addr", &smtp.to_string()])
        .args(["--mail-domain", "bench.test"])
        .args(["--database-url", &url])
        .args(["--writes-per-minute", "0"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", chorus.display()))?;
    crate::wait_healthy(http, &mut child).await?;
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let members = shape.members;
    let senders = args.senders.min(members);
    let results = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(total as usize)));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        tokio::time::sleep_until(start + interval * n).await;
        // Senders spread over the id range.
        let id = 1 + (u64::from(n % senders) * u64::from(members) / u64::from(senders)) as u32;
        let results = results.clone();
        tasks.push(tokio::spawn(async move {
            let r = send(smtp, id, n).await;
            results.lock().await.push(r);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    let results = std::mem::take(&mut *results.lock().await);
    // Microseconds.
    let mut times: Vec<u32> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for r in results {
        match r {
            Ok((reply, t)) if reply.starts_with("250") => {
                times.push(u32::try_from(t.as_micros()).unwrap_or(u32::MAX))
            }
            Ok((reply, _)) => refused.push(reply),
            Err(e) => refused.push(e.to_string()),
        }
    }
    if let Some(first) = refused.first() {
        eprintln!(
            "M8: {} refused or failed; the first: {first}",
            refused.len()
        );
    }
    times.sort_unstable();
    // `percentile` takes microseconds and gives milliseconds.
    let p99 = percentile(&times, 99.0);
    Ok(format!(
        "| {backend} | {total} ({}/s for {} s) | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |\n",
        args.rate,
        args.seconds,
        times.len(),
        refused.len(),
        percentile(&times, 50.0),
        p99,
        f64::from(times.last().copied().unwrap_or(0)) / 1000.0,
        if p99 < 200.0 && refused.is_empty() {
            "met"
        } else {
            "NOT met"
        }
    ))
}

/// One SMTP session: member `id` sends message `n` to space 2; the last
/// reply and the time from the end of DATA to it.
async fn send(smtp: SocketAddr, id: u32, n: u32) -> anyhow::Result<(String, Duration)> {
    let stream = TcpStream::connect(smtp).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut reply = String::new();
    // The reply to the last command (the last line of a multi-line one).
    async fn read(
        r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        reply: &mut String,
    ) -> anyhow::Result<()> {
        loop {
            reply.clear();
            anyhow::ensure!(
                r.read_line(reply).await? > 0,
                "the server closed the session"
            );
            if reply.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    }
    read(&mut r, &mut reply).await?;
    let from = format!("u{id}@bench.test");
    for cmd in [
        "EHLO bench.test\r\n".to_owned(),
        format!("MAIL FROM:<{from}>\r\n"),
        "RCPT TO:<space-2@bench.test>\r\n".to_owned(),
        "DATA\r\n".to_owned(),
    ] {
        w.write_all(cmd.as_bytes()).await?;
        read(&mut r, &mut reply).await?;
        anyhow::ensure!(
            reply.starts_with('2') || reply.starts_with('3'),
            "{}: {}",
            cmd.trim(),
            reply.trim()
        );
    }
    let message = format!(
        "From: Member {id} <{from}>\r\nTo: space-2@bench.test\r\nSubject: Mail in {n}\r\nMessage-ID: <bench.{n}.{id}@bench.test>\r\n\r\nMessage {n} of the mail-in benchmark, from member {id}.\r\n"
    );
    w.write_all(format!("{message}.\r\n").as_bytes()).await?;
    let sent = Instant::now();
    read(&mut r, &mut reply).await?;
    let took = sent.elapsed();
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok((reply.trim().to_owned(), took))
}
