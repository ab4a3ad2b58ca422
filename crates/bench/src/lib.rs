//! The project's own benchmark (DESIGN.md section 10): a load driver that
//! measures a running `chorus serve` on loopback, over the data set of
//! `store::bench_data`.
//!
//! - M1: home stream page (20 items, authenticated) throughput and p50/p99,
//!   and the same server's hello-world throughput in the same run;
//! - M2: a post to a space with many followers: request latency, time
//!   until every follower's home has it, time until a sample of open live
//!   connections has it;
//! - M3: 90% reads / 10% writes: writes/s and read p99 against idle;
//! - M4: search: a top-20 search as a random member (the access filter
//!   applied) over rare, common and the most frequent words, a phrase and
//!   `from:` with a word: p50 and p99, and the index's size on disk;
//! - M5: the server's resident memory with the data set and many open
//!   live connections;
//! - M7: list mail: a post to a space of 10,000 members in list mode,
//!   until a local SMTP sink (`list_mail`) has accepted every mail.
//! - M9 (`chorus-bench import`): `chorus import mbox` of a generated
//!   100,000-message archive, in messages per second;
//! - M8 (`chorus-bench mail-in`): mail into the SMTP listener, each message
//!   a post to a space of 10,000 followers: acceptance time p99.
//!
//! `chorus-bench all` generates the data set (unless it exists), starts
//! the `chorus` binary as a child process, runs everything and prints the
//! table. The benchmark is a binary of its own so that the server carries
//! no load driver; it speaks to the server only over HTTP, and to the
//! database only through `store`.

pub mod drive;
pub mod import;
pub mod list_mail;
pub mod m3;
pub mod m4;
pub mod mail_in;
pub mod report;

pub use m3::*;
pub use report::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::Method;
use rand::Rng;
use store::Db;
use store::bench_data::{self as data, PgAdmin, Shape};

use drive::{Req, percentile, pick};

#[derive(Debug, clap::Parser)]
#[command(
    name = "chorus-bench",
    version,
    about = "The Chorus benchmark: generate the data set, measure a server (see BENCHMARKS.md)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Create the data set in an empty database
    Generate {
        /// Where: `sqlite://<file>` or `postgres://…` (an empty database)
        #[arg(long)]
        database_url: String,
        #[command(flatten)]
        shape: ShapeArgs,
    },
    /// Generate (if needed), start the server, measure, print the table
    All(AllArgs),
    /// M9: generate a mail archive and time `chorus import mbox` on it
    Import(import::ImportArgs),
    /// M8: mail into the SMTP listener at a fixed rate, each message a post
    /// to a space of 10,000 followers; acceptance time p99
    MailIn(mail_in::MailInArgs),
}

#[derive(Debug, clap::Args)]
pub struct AllArgs {
    /// The `chorus` binary to measure (default: the one beside this
    /// executable, as cargo builds both into one target directory)
    #[arg(long)]
    pub chorus: Option<PathBuf>,
    /// `sqlite`, `postgres` or `both`
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Directory for the SQLite data set and server data
    #[arg(long, default_value = "./bench-data")]
    pub dir: PathBuf,
    /// A PostgreSQL server URL; the database `--pg-database` is (re)created on it
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_admin_url: String,
    /// The PostgreSQL database the data set lives in (dropped and recreated
    /// when it holds another shape)
    #[arg(long, default_value = "chorus_bench")]
    pub pg_database: String,
    /// Seconds per throughput measurement
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent connections for M1 and M3
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Posts measured in M2
    #[arg(long, default_value_t = 10)]
    pub posts: usize,
    /// Live connections sampled in M2
    #[arg(long, default_value_t = 200)]
    pub live_sample: usize,
    /// Open live connections for M5
    #[arg(long, default_value_t = 10_000)]
    pub live_connections: usize,
    /// M3 offers comments at rising rates (100, 200, … per second, reads at
    /// nine times the rate) up to this one, and stops at the first rate the
    /// server does not sustain
    #[arg(long, default_value_t = 500.0)]
    pub m3_writes: f64,
    /// The first rate M3 offers (the first multiple of 100 at or above it):
    /// with `--m3-writes` the same, M3 measures that one rate, to compare
    /// builds or settings at the rate that decides (the sustained figure
    /// then says only whether that rate held)
    #[arg(long, default_value_t = 100.0)]
    pub m3_from: f64,
    /// Keep-alive connections the M3 load is spread over
    #[arg(long, default_value_t = 64)]
    pub m3_connections: usize,
    /// Measure only these (comma-separated: m1,m2,m3,m4,m5,m7;
    /// m3-everyday, m3-comments and m3-closed are M3's parts one at a time)
    #[arg(long, default_value = "m1,m2,m3,m4,m5")]
    pub only: String,
    /// Regenerate the data set even if it exists
    #[arg(long)]
    pub regenerate: bool,
    /// A small data set and short runs (seconds), to check the benchmark works
    #[arg(long)]
    pub smoke: bool,
    #[command(flatten)]
    pub shape: ShapeArgs,
}

/// The size and shape of a data set, on the command line: the fields of
/// [`Shape`], defaulting to [`Shape::REFERENCE`].
#[derive(Debug, Clone, clap::Args)]
pub struct ShapeArgs {
    /// Members.
    #[arg(long, default_value_t = Shape::REFERENCE.members)]
    pub members: u32,
    /// Spaces (space 1 holds everyone; space 2 `big_space` members).
    #[arg(long, default_value_t = Shape::REFERENCE.spaces)]
    pub spaces: u32,
    /// Members of the second-largest space.
    #[arg(long, default_value_t = Shape::REFERENCE.big_space)]
    pub big_space: u32,
    /// Items (posts).
    #[arg(long, default_value_t = Shape::REFERENCE.items)]
    pub items: u32,
    /// Comments, on recent items.
    #[arg(long, default_value_t = Shape::REFERENCE.comments)]
    pub comments: u32,
    /// Reactions, on recent items.
    #[arg(long, default_value_t = Shape::REFERENCE.reactions)]
    pub reactions: u32,
    /// Follows per member: spaces joined + people + topics.
    #[arg(long, default_value_t = Shape::REFERENCE.follows)]
    pub follows: u32,
    /// Of those, spaces joined (besides the two big ones).
    #[arg(long, default_value_t = Shape::REFERENCE.space_follows)]
    pub space_follows: u32,
    /// Of those, topics.
    #[arg(long, default_value_t = Shape::REFERENCE.topic_follows)]
    pub topic_follows: u32,
    /// Distinct topics.
    #[arg(long, default_value_t = Shape::REFERENCE.topics)]
    pub topics: u32,
    /// Zipf exponent of popularity (people, spaces, topics, authors).
    #[arg(long, default_value_t = Shape::REFERENCE.skew)]
    pub skew: f64,
    /// Days the items span, ending now.
    #[arg(long, default_value_t = Shape::REFERENCE.days)]
    pub days: u32,
    /// Newest entries kept in each member's home inbox.
    #[arg(long, default_value_t = Shape::REFERENCE.inbox_cap)]
    pub inbox_cap: u32,
    /// Members that get an API token `bench-<id>` for the load driver.
    #[arg(long, default_value_t = Shape::REFERENCE.tokens)]
    pub tokens: u32,
    #[arg(long, default_value_t = Shape::REFERENCE.seed)]
    pub seed: u64,
}

impl From<&ShapeArgs> for Shape {
    fn from(a: &ShapeArgs) -> Shape {
        Shape {
            members: a.members,
            spaces: a.spaces,
            big_space: a.big_space,
            items: a.items,
            comments: a.comments,
            reactions: a.reactions,
            follows: a.follows,
            space_follows: a.space_follows,
            topic_follows: a.topic_follows,
            topics: a.topics,
            skew: a.skew,
            days: a.days,
            inbox_cap: a.inbox_cap,
            tokens: a.tokens,
            seed: a.seed,
        }
    }
}

/// Whether `--only` asks for `m`: "m3" is all of M3; "m3-everyday",
/// "m3-comments" and "m3-closed" are its parts, one at a time.
fn wants(only: &str, m: &str) -> bool {
    only.split(',').any(|o| {
        let o = o.trim().to_ascii_lowercase();
        o == m || (m == "m3" && o.starts_with("m3-")) || (o == "m3" && m.starts_with("m3-"))
    })
}

/// The read M1 and M3 measure: a random token member's home page.
fn home_page(rng: &mut rand::rngs::StdRng, members: &[i64]) -> Req {
    Req::get(
        "/api/v1/streams/home?limit=20",
        Some(data::api_token(*pick(rng, members))),
    )
}

/// Runs a command; returns what it has to say on standard output (the
/// result table), the progress having gone to standard error.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<String> {
    match cmd {
        BenchCommand::Generate {
            database_url,
            shape,
        } => {
            let db = open(&database_url).await?;
            data::generate(&db, &(&shape).into(), &mut |m| eprintln!("generate: {m}")).await?;
            db.close().await;
            Ok(String::new())
        }
        BenchCommand::All(args) => {
            let chorus = chorus_binary(args.chorus.as_deref())?;
            let _ = rlimit::increase_nofile_limit(1 << 20);
            let mut reports = Vec::new();
            let backends: Vec<&str> = match args.backend.as_str() {
                "both" => vec!["sqlite", "postgres"],
                "sqlite" => vec!["sqlite"],
                "postgres" => vec!["postgres"],
                other => anyhow::bail!("--backend is sqlite, postgres or both, not {other}"),
            };
            // M3's fixed rates are the multiples of 100 from --m3-from up
            // to --m3-writes (see `measure`).
            let fixed_rates = wants(&args.only, "m3-everyday") || wants(&args.only, "m3-comments");
            if fixed_rates
                && !args.smoke
                && (args.m3_from.max(1.0) / 100.0).ceil() * 100.0 > args.m3_writes
            {
                anyhow::bail!(
                    "--m3-from {} and --m3-writes {} leave M3 no rate to offer (it offers \
                     multiples of 100 between the two): lower --m3-from or raise --m3-writes",
                    args.m3_from,
                    args.m3_writes
                );
            }
            for b in backends {
                reports.push(all(&args, &chorus, b).await?);
            }
            Ok(table(&reports))
        }
        BenchCommand::Import(args) => {
            let chorus = chorus_binary(args.chorus.as_deref())?;
            import::run(&args, &chorus).await
        }
        BenchCommand::MailIn(args) => {
            let chorus = chorus_binary(args.chorus.as_deref())?;
            mail_in::run(&args, &chorus).await
        }
    }
}

/// The `chorus` binary to start: `given`, or the one beside this
/// executable.
fn chorus_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        anyhow::ensure!(path.is_file(), "--chorus {}: no such file", path.display());
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe()?;
    let beside = beside(&exe);
    anyhow::ensure!(
        beside.is_file(),
        "no chorus binary at {}: build it (cargo build --release builds both) or pass --chorus PATH",
        beside.display()
    );
    Ok(beside)
}

/// Where `chorus` is when it was built with the executable `exe`.
fn beside(exe: &Path) -> PathBuf {
    exe.with_file_name(format!("chorus{}", std::env::consts::EXE_SUFFIX))
}

async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::open(
        url,
        &store::Options {
            max_connections: 4,
            // Generating and resetting rewrite the data set: not while a
            // server (another run's) serves it.
            serving: true,
            ..Default::default()
        },
    )
    .await?;
    store::migrate::run(&db).await?;
    Ok(db)
}

async fn all(args: &AllArgs, chorus: &Path, backend: &str) -> anyhow::Result<Report> {
    let shape = if args.smoke {
        Shape::smoke()
    } else {
        Shape::from(&args.shape)
    };
    std::fs::create_dir_all(&args.dir)?;
    let tag = format!("{}m-{}i-{}", shape.members, shape.items, shape.seed);
    let url = match backend {
        "sqlite" => {
            let file = args.dir.join(format!("bench-{tag}.db"));
            if args.regenerate || args.smoke {
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
                }
            }
            let fresh = !file.exists();
            let url = format!("sqlite://{}", file.display());
            if fresh {
                let db = open(&url).await?;
                data::generate(&db, &shape, &mut |m| eprintln!("generate: {m}")).await?;
                db.close().await;
            }
            url
        }
        _ => {
            let dbname = args.pg_database.as_str();
            anyhow::ensure!(
                dbname
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "--pg-database takes letters, digits and _ only"
            );
            let url = replace_db(&args.pg_admin_url, dbname);
            let exists = {
                let admin = PgAdmin::connect(&args.pg_admin_url).await?;
                let exists = admin.exists(dbname).await?;
                let marker_ok = exists
                    && !args.regenerate
                    && !args.smoke
                    && data::tag(&url).await.as_deref() == Some(tag.as_str());
                if !marker_ok {
                    admin.recreate(dbname).await?;
                }
                marker_ok
            };
            if !exists {
                let db = open(&url).await?;
                data::generate(&db, &shape, &mut |m| eprintln!("generate: {m}")).await?;
                data::set_tag(&db, &tag).await?;
                db.close().await;
            }
            url
        }
    };
    // Bring the schema up to date (a data set generated by an older build
    // is migrated here, not while the server starts), then read the data
    // into the operating system's cache, as on a server that has been
    // running: the figures are of a warm server, not of the disk.
    {
        let db = open(&url).await?;
        if !data::reset(&db).await? {
            eprintln!(
                "bench: this data set predates reset marks, so earlier runs' writes stay in it; \
                 --regenerate for comparable runs"
            );
        }
        db.close().await;
    }
    warm(&url).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let data_dir = args.dir.join(format!("serve-{backend}"));
    std::fs::create_dir_all(&data_dir)?;
    // M7 mails into the benchmark's own sink; without it no relay is set.
    let sink = if wants(&args.only, "m7") {
        Some(list_mail::Sink::start().await?)
    } else {
        None
    };
    let mut command = tokio::process::Command::new(chorus);
    command.arg("serve");
    if let Some(sink) = &sink {
        command
            .arg("--mail-relay")
            .arg(sink.relay())
            .arg("--mail-from")
            .arg("chorus@bench.test")
            .arg("--mail-domain")
            .arg("bench.test");
    }
    let mut child = command
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--http-addr")
        .arg(addr.to_string())
        // Mail in is not measured here: any free port.
        .arg("--smtp-addr")
        .arg("127.0.0.1:0")
        .arg("--database-url")
        .arg(&url)
        // M5 opens its 10,000 connections with the data set's few hundred
        // tokens, some 34 per member: stand-ins for that many people.
        .arg("--live-per-member")
        .arg("100")
        // M3 writes 500/s with the same tokens (100 a minute each on
        // average, more for some): the limit would measure itself.
        .arg("--writes-per-minute")
        .arg("0")
        // When debugging, the server's own debug lines (slow requests,
        // writer statements and checkpoint passes, WAL restarts, folds)
        // go to the same output, to line up with the slow windows.
        .env(
            "RUST_LOG",
            if debugging() {
                "warn,store=debug,server=debug"
            } else {
                "warn"
            },
        )
        .stdout(if debugging() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", chorus.display()))?;
    let pid = child.id().unwrap_or(0);
    wait_healthy(addr, &mut child).await?;
    let db = Db::open(
        &url,
        &store::Options {
            max_connections: 2,
            // The server checkpoints its database.
            checkpoints: false,
            ..Default::default()
        },
    )
    .await?;
    let result = measure(
        args,
        (&shape, &url),
        backend,
        (addr, sink.as_ref()),
        pid,
        &db,
    )
    .await;
    db.close().await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

/// Reads the database once so it sits in the operating system's page
/// cache (see [`data::warm`]); where PostgreSQL lacks `pg_prewarm`, says
/// so and goes on.
async fn warm(url: &str) {
    if let Err(e) = data::warm(url).await {
        eprintln!("bench: could not prewarm PostgreSQL ({e}); figures start from a cold cache");
    }
}

/// An empty database for a measurement of its own: the SQLite file
/// `file` removed, or the PostgreSQL database `pg_database` recreated.
pub(crate) async fn fresh_database(
    backend: &str,
    file: &Path,
    pg_admin_url: &str,
    pg_database: &str,
) -> anyhow::Result<String> {
    if backend == "sqlite" {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
        }
        return Ok(format!("sqlite://{}", file.display()));
    }
    PgAdmin::connect(pg_admin_url)
        .await?
        .recreate(pg_database)
        .await?;
    Ok(replace_db(pg_admin_url, pg_database))
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

async fn wait_healthy(addr: SocketAddr, child: &mut tokio::process::Child) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the server exited ({status}) before it answered; its error is above");
        }
        if let Ok(mut s) = drive::connect(addr).await
            && let Ok((status, _)) = drive::send(&mut s, addr, &Req::get("/healthz", None)).await
            && status.is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the server at {addr} did not become healthy within a minute")
}

/// The members holding an API token who belong to a space, in id order.
pub(crate) async fn tokens_in_space(
    db: &Db,
    tokens: &[i64],
    space: i64,
) -> anyhow::Result<Vec<i64>> {
    let mut c = db.read().await?;
    let set = data::space_member_ids(&mut c, space).await?;
    Ok(tokens.iter().copied().filter(|t| set.contains(t)).collect())
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Whether `CHORUS_BENCH_DEBUG` asks for the details behind the figures.
fn debugging() -> bool {
    std::env::var_os("CHORUS_BENCH_DEBUG").is_some()
}

/// The machine's CPU time so far, as (stolen, all) clock ticks from the
/// first line of `/proc/stat`; None where there is no such file.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    // user nice system idle iowait irq softirq steal (guest time is
    // already counted in user and nice).
    let f: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    (f.len() == 8).then(|| (f[7], f.iter().sum()))
}

/// The percentage of CPU time stolen between two [`cpu_ticks`] readings.
fn stolen_since(before: Option<(u64, u64)>) -> f64 {
    match (before, cpu_ticks()) {
        (Some((s0, t0)), Some((s1, t1))) if t1 > t0 => {
            100.0 * s1.saturating_sub(s0) as f64 / (t1 - t0) as f64
        }
        _ => f64::NAN,
    }
}

/// Runs the same piece of arithmetic over and over for `time` and times
/// each round: on a machine whose virtual CPUs slow down now and then (one
/// this benchmark ran on did, for 50–100 ms every 1.5 s), the slow rounds
/// show it. Returns the percentage of the time spent in rounds that took
/// over twice the median, and the slowest round over the median.
fn cpu_steadiness(time: Duration) -> (f64, f64) {
    let start = Instant::now();
    let mut rounds = Vec::new();
    while start.elapsed() < time {
        let t = Instant::now();
        let mut x = 0u64;
        for i in 0..200_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        rounds.push(t.elapsed().as_secs_f64());
    }
    if rounds.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = rounds.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2].max(f64::MIN_POSITIVE);
    let slow: f64 = rounds.iter().filter(|r| **r > 2.0 * median).sum();
    let total: f64 = rounds.iter().sum();
    (
        100.0 * slow / total.max(f64::MIN_POSITIVE),
        sorted.last().copied().unwrap_or(0.0) / median,
    )
}

async fn measure(
    args: &AllArgs,
    (shape, url): (&Shape, &str),
    backend: &str,
    (addr, sink): (SocketAddr, Option<&list_mail::Sink>),
    pid: u32,
    db: &Db,
) -> anyhow::Result<Report> {
    let secs = Duration::from_secs(if args.smoke { 1 } else { args.seconds });
    let conc = if args.smoke { 4 } else { args.concurrency };
    let tokens: Vec<i64> = data::token_members(shape);
    let mut r = Report {
        backend: backend.into(),
        ..Default::default()
    };
    r.m5_rss_idle_mib = rss_mib(pid);
    (r.cpu_slow_share, r.cpu_worst) =
        tokio::task::spawn_blocking(move || cpu_steadiness(secs.min(Duration::from_secs(5))))
            .await?;
    eprintln!(
        "CPU steadiness: {:.1}% of the time below half speed, slowest round {:.1}× the median",
        r.cpu_slow_share, r.cpu_worst
    );
    let ticks = cpu_ticks();
    let want = |m: &str| wants(&args.only, m);
    r.ran = ["m1", "m2", "m3", "m4", "m5", "m7"]
        .into_iter()
        .filter(|m| want(m))
        .map(String::from)
        .collect();

    // M1: home stream vs hello world, same server, same run.
    if want("m1") {
        let t2 = tokens.clone();
        let home = drive::run(addr, conc, secs, 1, move |rng| home_page(rng, &t2)).await?;
        let hello = drive::run(addr, conc, secs, 2, |_| Req::get("/hello", None)).await?;
        r.m1_home_rps = home.rate(0);
        r.m1_home_p50 = home.pct(0, 50.0);
        r.m1_home_p99 = home.pct(0, 99.0);
        r.m1_hello_rps = hello.rate(0);
        r.m1_ratio = r.m1_home_rps / r.m1_hello_rps;
        r.errors += home.errors + hello.errors;
        eprintln!(
            "M1 {backend}: home {:.0}/s p50 {:.2} ms p99 {:.2} ms; hello {:.0}/s; ratio {:.3}",
            r.m1_home_rps, r.m1_home_p50, r.m1_home_p99, r.m1_hello_rps, r.m1_ratio
        );
    }

    // M4: search, as a random member, before M2 and M3 write.
    if want("m4") {
        r.m4 = m4::measure(addr, shape, if args.smoke { 5 } else { 200 }).await?;
        r.m4_index_mib = data::search_index_bytes(db)
            .await
            .map_or(f64::NAN, |b| b as f64 / (1024.0 * 1024.0));
        r.errors += r.m4.errors as u64;
        eprintln!(
            "M4 {backend}: {} searches, p50 {:.2} ms, p99 {:.2} ms (by kind: {}); \
             \"good\" found {:.1} a page; index {:.0} MiB",
            r.m4.searches,
            r.m4.p50,
            r.m4.p99,
            m4::KINDS
                .iter()
                .zip(&r.m4.p99_by_kind)
                .map(|(k, p)| format!("{k} {p:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            r.m4.most_frequent_hits,
            r.m4_index_mib
        );
    }

    // M2: posts to the big space (space 2) and to everyone (space 1).
    let m2: &[(i64, bool)] = if want("m2") {
        &[(2, false), (1, true)]
    } else {
        &[]
    };
    for &(space, big) in m2 {
        let followers = {
            let mut c = db.read().await?;
            data::space_followers(&mut c, space).await?
        };
        let members = tokens_in_space(db, &tokens, space).await?;
        anyhow::ensure!(!members.is_empty(), "no token member is in space {space}");
        // Low ids are the most followed people; post as the least followed
        // so the space's followers are the audience being measured.
        let writer = *members.last().expect("checked");
        let sample: Vec<i64> = members
            .iter()
            .copied()
            .filter(|m| *m != writer)
            .take(if args.smoke { 10 } else { args.live_sample })
            .collect();
        let mut watches = Vec::new();
        for m in &sample {
            let w = drive::open_live(
                addr,
                "/api/v1/streams/home/events".into(),
                data::api_token(*m),
            );
            watches.push(w);
        }
        for w in &mut watches {
            let _ = tokio::time::timeout(Duration::from_secs(10), &mut w.connected).await;
        }
        let posts = if big {
            2
        } else if args.smoke {
            3
        } else {
            args.posts
        };
        let mut post_lat = Vec::new();
        let mut done_max: f64 = 0.0;
        let mut live_max: f64 = 0.0;
        let mut live_seen = (0usize, 0usize);
        let mut sender = drive::connect(addr).await?;
        for k in 0..posts {
            let marker = format!("bench-m2-{space}-{k}-{}", rand::rng().random::<u32>());
            let req = Req {
                method: Method::POST,
                path: "/api/v1/items".into(),
                token: Some(data::api_token(writer)),
                body: Some(serde_json::json!({"space": format!("space-{space}"), "body": format!("Announcement {marker}")}).to_string()),
                kind: 0,
            };
            let t0 = Instant::now();
            let (status, body) = drive::send(&mut sender, addr, &req).await?;
            let lat = t0.elapsed();
            anyhow::ensure!(
                status.is_success(),
                "posting failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
            post_lat.push(lat.as_micros() as u32);
            let item: serde_json::Value = serde_json::from_slice(&body)?;
            let item_id: i64 = item["id"].as_str().unwrap_or("0").parse()?;
            // Home: the fan-out for this item's activity has finished.
            loop {
                let mut c = db.read().await?;
                let pending = data::fanout_pending(&mut c, item_id).await?;
                if pending == 0 {
                    break;
                }
                drop(c);
                if t0.elapsed() > Duration::from_secs(60) {
                    anyhow::bail!("fan-out of item {item_id} did not finish within a minute");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            done_max = done_max.max(t0.elapsed().as_secs_f64() * 1000.0);
            // Live: every sampled connection sees it.
            let deadline = t0 + Duration::from_secs(if big { 30 } else { 10 });
            for w in &mut watches {
                live_seen.1 += 1;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, w.seen.recv()).await {
                        Ok(Some((at, data))) if data.contains(&marker) => {
                            live_max = live_max.max(at.duration_since(t0).as_secs_f64() * 1000.0);
                            live_seen.0 += 1;
                            break;
                        }
                        Ok(Some(_)) => continue,
                        _ => break,
                    }
                }
            }
        }
        drop(watches);
        if big {
            r.m2_big_followers = followers;
            r.m2_big_post = percentile(&post_lat, 100.0);
            r.m2_big_home_done = done_max;
        } else {
            r.m2_space_followers = followers;
            r.m2_post_p50 = percentile(&post_lat, 50.0);
            r.m2_post_p99 = percentile(&post_lat, 99.0);
            r.m2_home_done_max = done_max;
            r.m2_live_max = live_max;
            r.m2_live_seen = format!("{}/{}", live_seen.0, live_seen.1);
        }
        eprintln!(
            "M2 {backend} space {space} ({followers} followers): post p50 {:.2} ms max {:.2} ms; home done ≤ {done_max:.1} ms; live ≤ {live_max:.1} ms ({}/{})",
            percentile(&post_lat, 50.0),
            percentile(&post_lat, 100.0),
            live_seen.0,
            live_seen.1
        );
    }

    // M3: 90% reads / 10% writes, offered at fixed rates as independent
    // users would. At each rate the reads run throughout and the writes
    // in every other slice of the run: how much the writes make the
    // reads' p99 grow decides whether the rate is sustained. Two kinds of
    // writes: the everyday mix of people at work, and comments alone (the
    // heaviest common write: every comment reaches the item's watchers
    // and the commenter's followers).
    if want("m3") {
        let recent: Vec<i64> = {
            let mut c = db.read().await?;
            data::recent_items(&mut c, 2, 1000).await?
        };
        let writers = Arc::new(tokens_in_space(db, &tokens, 2).await?);
        let recent = Arc::new(recent);
        let readers = Arc::new(tokens.clone());
        // One run per rate interleaves slices without writes and slices
        // with them (see [`Slices`]), so the two read p99s compare reads
        // that met the same host.
        let slices = Slices::for_run(secs);
        let closed = (recent.clone(), writers.clone(), readers.clone());
        let mix = move |writes: WriteMix, rate: f64| {
            let (recent, writers, readers) = (recent.clone(), writers.clone(), readers.clone());
            move |i: u64, rng: &mut rand::rngs::StdRng| -> Option<Req> {
                let at = Duration::from_secs_f64(i as f64 / rate);
                let (mixed, counted) = slices.of(at);
                if i.is_multiple_of(10) {
                    mixed.then(|| writes.request(rng, &recent, &writers))
                } else {
                    let mut r = home_page(rng, &readers);
                    r.kind = match (counted, mixed) {
                        (false, _) => READ_UNCOUNTED,
                        (true, false) => READ_IDLE,
                        (true, true) => READ_MIXED,
                    };
                    Some(r)
                }
            }
        };
        let conns = if args.smoke { 8 } else { args.m3_connections };
        let rates: Vec<f64> = if args.smoke {
            vec![20.0]
        } else {
            (1..)
                .map(|k| f64::from(k) * 100.0)
                .skip_while(|w| *w < args.m3_from)
                .take_while(|w| *w <= args.m3_writes)
                .collect()
        };
        for kind in [WriteMix::Everyday, WriteMix::Comments] {
            if !want(kind.part()) {
                continue;
            }
            let mut m = M3::default();
            for &writes in &rates {
                // Read the data into the page cache again: a kernel that
                // reclaims file pages left untouched for a minute (as this
                // benchmark's reference machine does) would otherwise
                // have dropped by now what only the first warming read,
                // and reads that wait for the disk are not what M3
                // measures (see BENCHMARKS.md).
                warm(url).await;
                let log_before = data::logged_deliveries(db).await;
                let ticks = cpu_ticks();
                let run = drive::run_at_rate(
                    addr,
                    conns,
                    writes * 10.0,
                    secs * 2,
                    3,
                    mix(kind, writes * 10.0),
                )
                .await?;
                let stolen = stolen_since(ticks);
                let log_after = data::logged_deliveries(db).await;
                m.offered = writes;
                // The writes ran for half the run.
                m.done = run.count(1) as f64 / secs.as_secs_f64();
                m.write_p50 = run.pct(1, 50.0);
                m.write_p99 = run.pct(1, 99.0);
                m.read_p99_idle = run.pct(READ_IDLE, 99.0);
                m.read_p99 = run.pct(READ_MIXED, 99.0);
                m.ratio = m.read_p99 / m.read_p99_idle;
                r.errors += run.errors;
                eprintln!(
                    "M3 {backend} {}: offered {writes:.0} writes/s + {:.0} reads/s: {:.0} writes/s \
                     done (p50 {:.2} ms, p99 {:.2} ms); read p99 {:.2} ms against {:.2} ms without \
                     the writes ({:.2}×); CPU time stolen by the host {:.0}%",
                    kind.name(),
                    writes * 9.0,
                    m.done,
                    m.write_p50,
                    m.write_p99,
                    m.read_p99,
                    m.read_p99_idle,
                    m.ratio,
                    stolen
                );
                if debugging() {
                    // SQLite: fewer log rows after than before means the
                    // server folded the log into the inboxes meanwhile.
                    if let (Some(b), Some(a)) = (log_before, log_after) {
                        eprintln!("  delivery log rows: {b} before, {a} after");
                    }
                    if let Some(at) = run
                        .started
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    {
                        eprintln!(
                            "  the run's clock started at {:.3} s past the epoch",
                            at.as_secs_f64()
                        );
                    }
                    for (name, kind) in [("without", READ_IDLE), ("with", READ_MIXED)] {
                        eprintln!(
                            "  reads {name} writes: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
                            run.pct(kind, 50.0),
                            run.pct(kind, 90.0),
                            run.pct(kind, 99.0),
                            run.pct(kind, 99.9),
                            run.pct(kind, 100.0)
                        );
                        let w = run.slow_windows(kind);
                        if !w.is_empty() {
                            let top: Vec<String> = w
                                .iter()
                                .take(6)
                                .map(|(at, n, ms)| format!("{n} at {at} ms (max {ms})"))
                                .collect();
                            eprintln!(
                                "    reads over {} ms by 100 ms of the run, busiest: {}",
                                drive::SLOW_MS,
                                top.join(", ")
                            );
                        }
                    }
                }
                // Sustained: every write done (a backlog shows as latency,
                // so the writes' p99 stays under a second), the reads
                // alone kept up (their p99 within the home page's own bar:
                // a machine the reads alone saturate has p99s of 100 ms
                // and more with the writes and without, and their ratio
                // says nothing), and the reads' p99 grew at most 1.5×.
                let kept_up = run.errors == 0
                    && run.count(1) as f64 >= writes * secs.as_secs_f64() * 0.99
                    && m.write_p99 < 1000.0;
                let reads_kept_up = m.read_p99_idle <= READ_P99_BAR_MS;
                if !reads_kept_up {
                    eprintln!(
                        "M3 {backend} {}: at {writes:.0} writes/s the reads alone had a p99 of \
                         {:.2} ms, over the home page's {READ_P99_BAR_MS} ms: the machine is \
                         saturated by the reads, so this rate does not count",
                        kind.name(),
                        m.read_p99_idle
                    );
                }
                if !(kept_up && reads_kept_up && m.ratio <= 1.5) {
                    break;
                }
                m.sustained = writes;
            }
            match kind {
                WriteMix::Everyday => r.m3_everyday = m,
                WriteMix::Comments => r.m3_comments = m,
            }
        }
        // Comments back to back on `--concurrency` connections: the most
        // the machine does, for comparison with earlier runs.
        if want("m3-closed") {
            let (recent, writers, readers) = closed;
            let saturated = drive::run(addr, conc, secs, 4, move |rng| {
                if rng.random_range(0..10) == 0 {
                    WriteMix::Comments.request(rng, &recent, &writers)
                } else {
                    home_page(rng, &readers)
                }
            })
            .await?;
            r.m3_saturated_writes = saturated.rate(1);
            r.m3_saturated_read_p99 = saturated.pct(0, 99.0);
            r.errors += saturated.errors;
            eprintln!(
                "M3 {backend} comments, closed loop: {:.0} writes/s, {:.0} reads/s, read p99 {:.2} ms",
                r.m3_saturated_writes,
                saturated.rate(0),
                r.m3_saturated_read_p99
            );
        }
    }

    // M5: memory with many open live connections.
    if want("m5") {
        let n = if args.smoke {
            50
        } else {
            args.live_connections
        };
        let mut open = Vec::with_capacity(n);
        for i in 0..n {
            let m = tokens[i % tokens.len()];
            open.push(drive::open_live(
                addr,
                "/api/v1/streams/home/events".into(),
                data::api_token(m),
            ));
        }
        let mut connected = 0;
        for w in &mut open {
            if tokio::time::timeout(Duration::from_secs(30), &mut w.connected)
                .await
                .is_ok_and(|r| r.is_ok())
            {
                connected += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        r.m5_open = connected;
        r.m5_rss_live_mib = rss_mib(pid);
        drop(open);
        eprintln!(
            "M5 {backend}: {connected} live connections, RSS {:.0} MiB (idle {:.0} MiB)",
            r.m5_rss_live_mib, r.m5_rss_idle_mib
        );
    }
    // M7: list mail to the big space (space 2), every member in list mode.
    if let (true, Some(sink)) = (want("m7"), sink) {
        r.m7 = list_mail::measure(args, db, addr, sink, &tokens).await?;
        eprintln!(
            "M7 {backend}: post {:.1} ms; {} of {} mails accepted {:.2} s after its answer",
            r.m7.post_ms, r.m7.accepted, r.m7.mails, r.m7.all_accepted_s
        );
    }
    r.cpu_stolen = stolen_since(ticks);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_shape_flags_default_to_the_reference_set() {
        let cli = Cli::try_parse_from(["chorus-bench", "generate", "--database-url", "sqlite://x"])
            .unwrap();
        let BenchCommand::Generate { shape, .. } = cli.command else {
            panic!("generate");
        };
        assert_eq!(Shape::from(&shape), Shape::REFERENCE);
    }

    #[test]
    fn chorus_is_looked_for_beside_the_bench() {
        let exe = Path::new("target/release")
            .join(format!("chorus-bench{}", std::env::consts::EXE_SUFFIX));
        assert_eq!(
            beside(&exe),
            Path::new("target/release").join(format!("chorus{}", std::env::consts::EXE_SUFFIX))
        );
    }

    #[test]
    fn a_missing_chorus_is_named() {
        let e = chorus_binary(Some(Path::new("no/such/chorus"))).unwrap_err();
        assert!(e.to_string().contains("no/such/chorus"), "{e}");
    }
}
