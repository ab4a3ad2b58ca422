//! M9: `chorus import mbox` of a generated archive. A fresh database gets
//! the small data set (300 members `u<id>@bench.test`, 20 spaces); the
//! archive's messages come from a few hundred senders, a quarter of them
//! members; threads are of varying depth (replies name their parent by
//! In-Reply-To and References; some only by subject); some messages are
//! HTML only, some quoted-printable. The figure is messages read per
//! second of the whole command, process start to exit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use store::bench_data::{self as data, Shape};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The `chorus` binary (default: the one beside this executable)
    #[arg(long)]
    pub chorus: Option<PathBuf>,
    /// `sqlite`, `postgres` or `both`
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Directory for the archive, the SQLite database and server data
    #[arg(long, default_value = "./bench-data")]
    pub dir: PathBuf,
    /// A PostgreSQL server URL; the database `chorus_bench_import` is
    /// recreated on it
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub pg_admin_url: String,
    /// Messages in the archive
    #[arg(long, default_value_t = 100_000)]
    pub messages: u32,
    /// Distinct senders
    #[arg(long, default_value_t = 400)]
    pub senders: u32,
}

/// One M9 figure.
#[derive(Debug)]
pub struct M9 {
    pub backend: String,
    pub messages: u32,
    pub seconds: f64,
    /// What the command printed.
    pub summary: String,
}

impl M9 {
    pub fn rate(&self) -> f64 {
        f64::from(self.messages) / self.seconds
    }
}

pub async fn run(args: &ImportArgs, chorus: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(&args.dir)?;
    let archive = args
        .dir
        .join(format!("archive-{}m-{}s.mbox", args.messages, args.senders));
    if !archive.exists() {
        eprintln!("M9: writing {}", archive.display());
        write_archive(&archive, args.messages, args.senders)?;
    }
    let backends: Vec<&str> = match args.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => anyhow::bail!("--backend is sqlite, postgres or both, not {other}"),
    };
    let mut out = String::from(
        "| backend | messages | seconds | messages/s | bar |\n|---|---|---|---|---|\n",
    );
    for b in backends {
        let m = measure(args, chorus, b, &archive).await?;
        eprintln!("{}", m.summary);
        let bar = if b == "sqlite" { 1000 } else { 500 };
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.0} | {bar}/s {} |\n",
            m.backend,
            m.messages,
            m.seconds,
            m.rate(),
            if m.rate() >= f64::from(bar) {
                "met"
            } else {
                "NOT met"
            }
        ));
    }
    Ok(out)
}

async fn measure(
    args: &ImportArgs,
    chorus: &Path,
    backend: &str,
    archive: &Path,
) -> anyhow::Result<M9> {
    let url = crate::fresh_database(
        backend,
        &args.dir.join("import-bench.db"),
        &args.pg_admin_url,
        "chorus_bench_import",
    )
    .await?;
    let db = crate::open(&url).await?;
    data::generate(&db, &Shape::smoke(), &mut |m| eprintln!("generate: {m}")).await?;
    db.close().await;
    let data_dir = args.dir.join(format!("import-{backend}"));
    std::fs::create_dir_all(&data_dir)?;
    let started = Instant::now();
    let out = tokio::process::Command::new(chorus)
        .args(["import", "mbox"])
        .arg(archive)
        .args(["--space", "space-3", "--database-url", &url])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .with_context(|| format!("starting {}", chorus.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(
        out.status.success(),
        "chorus import failed: {}{}",
        summary,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(M9 {
        backend: backend.to_owned(),
        messages: args.messages,
        seconds,
        summary,
    })
}

const WORDS: &[&str] = &[
    "launch",
    "plan",
    "review",
    "budget",
    "release",
    "customer",
    "design",
    "test",
    "deploy",
    "meeting",
    "agenda",
    "draft",
    "notes",
    "question",
    "answer",
    "schedule",
    "migration",
    "database",
    "latency",
    "report",
    "team",
    "office",
    "travel",
    "hiring",
    "roadmap",
];

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes an archive of `messages` messages from `senders` senders.
pub fn write_archive(path: &Path, messages: u32, senders: u32) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(9);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    // Threads: (first message's number, subject, the thread's messages).
    let mut threads: Vec<(u32, String, Vec<u32>)> = Vec::new();
    let start: i64 = 1_600_000_000;
    for n in 0..messages {
        let sender = rng.random_range(0..senders);
        // A quarter of the senders are members of the data set.
        let (name, addr) = if sender % 4 == 0 {
            (
                format!("Member {sender}"),
                format!("u{}@bench.test", sender / 4 + 1),
            )
        } else {
            (
                format!("Person {sender}"),
                format!("person{sender}@lists.example.org"),
            )
        };
        let at = start + i64::from(n) * 60;
        let date = jiff::Timestamp::from_second(at)?;
        let mut headers = format!(
            "From: {name} <{addr}>\nTo: dev@lists.example.org\nDate: {}\nMessage-ID: <m{n}@lists.example.org>\n",
            date.strftime("%a, %d %b %Y %H:%M:%S +0000")
        );
        // A new thread a third of the time, else a reply somewhere in one
        // of the recent threads (deep ones grow deeper).
        let new = threads.is_empty() || rng.random_bool(0.3);
        if new {
            let subject = words(&mut rng, 4);
            headers.push_str(&format!("Subject: [dev] {subject}\n"));
            threads.push((n, subject, vec![n]));
        } else {
            let recent = threads.len().saturating_sub(200);
            let t = rng.random_range(recent..threads.len());
            let (_, subject, msgs) = &mut threads[t];
            let parent = msgs[rng.random_range(0..msgs.len())];
            headers.push_str(&format!("Subject: Re: [dev] {subject}\n"));
            // One reply in twenty has lost its threading headers.
            if !rng.random_bool(0.05) {
                headers.push_str(&format!(
                    "In-Reply-To: <m{parent}@lists.example.org>\nReferences: <m{}@lists.example.org> <m{parent}@lists.example.org>\n",
                    msgs[0]
                ));
            }
            msgs.push(n);
        }
        let text = format!(
            "{}.\n\n{}.\nFrom the {} side, {}.\n",
            words(&mut rng, 12),
            words(&mut rng, 30),
            words(&mut rng, 1),
            words(&mut rng, 8)
        );
        let body = match n % 20 {
            0 => {
                headers.push_str("MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n");
                format!(
                    "<p>{}</p><p><b>{}</b></p>\n",
                    text.replace('\n', " "),
                    words(&mut rng, 3)
                )
            }
            1 => {
                headers.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n");
                format!("Caf=E9 {text}")
            }
            _ if !new => format!(
                "{text}\n> {}\n> {}\n\n-- \n{name}\n",
                words(&mut rng, 10),
                words(&mut rng, 10)
            ),
            _ => format!("{text}\n-- \n{name}\n"),
        };
        writeln!(f, "From {addr} {}", date.strftime("%a %b %e %H:%M:%S %Y"))?;
        f.write_all(headers.as_bytes())?;
        f.write_all(b"\n")?;
        for line in body.lines() {
            if line.trim_start_matches('>').starts_with("From ") {
                f.write_all(b">")?;
            }
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
        }
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}
