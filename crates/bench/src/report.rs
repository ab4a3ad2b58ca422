//! The result table: one [`Report`] per backend, printed as markdown.

use crate::*;

/// One row of the result table.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub backend: String,
    /// The measurements that ran ("m1", "m2", …); the table says "not run"
    /// for the others.
    pub ran: Vec<String>,
    pub m1_home_rps: f64,
    pub m1_home_p50: f64,
    pub m1_home_p99: f64,
    pub m1_hello_rps: f64,
    pub m1_ratio: f64,
    pub m2_space_followers: i64,
    pub m2_post_p50: f64,
    pub m2_post_p99: f64,
    pub m2_home_done_max: f64,
    pub m2_live_max: f64,
    pub m2_live_seen: String,
    pub m2_big_followers: i64,
    pub m2_big_post: f64,
    pub m2_big_home_done: f64,
    pub m3_everyday: M3,
    pub m3_comments: M3,
    /// Closed loop (`--concurrency` connections back to back): the most
    /// the machine does at 90/10, and the read p99 then.
    pub m3_saturated_writes: f64,
    pub m3_saturated_read_p99: f64,
    pub m5_rss_idle_mib: f64,
    pub m5_rss_live_mib: f64,
    pub m5_open: usize,
    /// The machine's own steadiness, measured before anything else with
    /// nothing running: the share of time a fixed piece of CPU work ran at
    /// less than half its usual speed, and its slowest round against the
    /// median.
    pub cpu_slow_share: f64,
    pub cpu_worst: f64,
    /// The share of the machine's CPU time its hypervisor gave to other
    /// guests (`steal` in `/proc/stat`) while the benchmark ran, in
    /// percent: NaN where the kernel does not say.
    pub cpu_stolen: f64,
    pub m4: m4::M4,
    /// The search index on disk (its rows, full-text indexes and their
    /// B-trees), MiB.
    pub m4_index_mib: f64,
    pub m7: list_mail::M7,
    pub errors: u64,
}

pub fn table(reports: &[Report]) -> String {
    let mut s = String::new();
    s.push_str("| metric | bar | ");
    s.push_str(
        &reports
            .iter()
            .map(|r| r.backend.clone())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" |\n|---|---|");
    s.push_str(&"---|".repeat(reports.len()));
    s.push('\n');
    let row = |s: &mut String, name: &str, bar: &str, f: &dyn Fn(&Report) -> String| {
        s.push_str(&format!("| {name} | {bar} | "));
        let key = name.split_whitespace().next().unwrap_or("").to_lowercase();
        let cells: Vec<String> = reports
            .iter()
            .map(|r| {
                if key.starts_with('m') && !r.ran.contains(&key) {
                    "not run".to_owned()
                } else {
                    f(r)
                }
            })
            .collect();
        s.push_str(&cells.join(" | "));
        s.push_str(" |\n");
    };
    row(&mut s, "M1 home page/s", "", &|r| {
        format!("{:.0}", r.m1_home_rps)
    });
    row(&mut s, "M1 hello-world/s", "", &|r| {
        format!("{:.0}", r.m1_hello_rps)
    });
    row(
        &mut s,
        "M1 ratio home/hello",
        "≥ 0.10 (SQLite), ≥ 0.05 (PostgreSQL)",
        &|r| format!("{:.3}", r.m1_ratio),
    );
    row(&mut s, "M1 home p50 / p99 ms", "p99 ≤ 10", &|r| {
        format!("{:.2} / {:.2}", r.m1_home_p50, r.m1_home_p99)
    });
    row(&mut s, "M2 space followers", "10k", &|r| {
        r.m2_space_followers.to_string()
    });
    row(&mut s, "M2 post p50 / p99 ms", "p99 ≤ 20", &|r| {
        format!("{:.2} / {:.2}", r.m2_post_p50, r.m2_post_p99)
    });
    row(&mut s, "M2 in every home, ms", "≤ 500", &|r| {
        format!("{:.1}", r.m2_home_done_max)
    });
    row(&mut s, "M2 on live sample, ms", "≤ 500", &|r| {
        format!("{:.1} ({})", r.m2_live_max, r.m2_live_seen)
    });
    row(&mut s, "M2 big space followers", "100k", &|r| {
        r.m2_big_followers.to_string()
    });
    row(
        &mut s,
        "M2 big: post ms / in every home ms",
        "home ≤ 5000",
        &|r| format!("{:.1} / {:.1}", r.m2_big_post, r.m2_big_home_done),
    );
    for (label, m) in [
        (
            "everyday writes",
            (|r: &Report| r.m3_everyday.clone()) as fn(&Report) -> M3,
        ),
        ("comments only", |r: &Report| r.m3_comments.clone()),
    ] {
        row(
            &mut s,
            &format!("M3 writes/s sustained at 90/10, {label}"),
            "≥ 500",
            &|r| format!("{:.0}", m(r).sustained),
        );
        row(
            &mut s,
            &format!("M3 {label}, last rate: done of offered (p50 / p99 ms)"),
            "",
            &|r| {
                let m = m(r);
                format!(
                    "{:.0} of {:.0} ({:.1} / {:.1})",
                    m.done, m.offered, m.write_p50, m.write_p99
                )
            },
        );
        row(
            &mut s,
            &format!("M3 {label}, last rate: read p99 ms with / without writes"),
            "≤ 1.5×",
            &|r| {
                let m = m(r);
                format!(
                    "{:.2} / {:.2} ({:.2}×)",
                    m.read_p99, m.read_p99_idle, m.ratio
                )
            },
        );
    }
    row(
        &mut s,
        "M3 comments, closed loop: writes/s, read p99 ms",
        "",
        &|r| {
            format!(
                "{:.0}, {:.2}",
                r.m3_saturated_writes, r.m3_saturated_read_p99
            )
        },
    );
    row(
        &mut s,
        "M4 search p50 / p99 ms",
        "p99 ≤ 20 (SQLite), ≤ 50 (PostgreSQL)",
        &|r| {
            format!(
                "{:.2} / {:.2} ({} searches)",
                r.m4.p50, r.m4.p99, r.m4.searches
            )
        },
    );
    row(
        &mut s,
        "M4 p99 ms by query: rare, common, most frequent, phrase, from:+word",
        "",
        &|r| {
            r.m4.p99_by_kind
                .iter()
                .map(|p| format!("{p:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    row(&mut s, "M4 search index on disk, MiB", "", &|r| {
        format!("{:.1}", r.m4_index_mib)
    });
    row(&mut s, "M5 RSS MiB idle / live", "≤ 512", &|r| {
        format!(
            "{:.0} / {:.0} ({} open)",
            r.m5_rss_idle_mib, r.m5_rss_live_mib, r.m5_open
        )
    });
    row(
        &mut s,
        "M7 list mail: post ms; all mails accepted, s after the post",
        "≤ 20 s (goal 5 s)",
        &|r| {
            format!(
                "{:.1}; {:.2} ({} of {} mails)",
                r.m7.post_ms, r.m7.all_accepted_s, r.m7.accepted, r.m7.mails
            )
        },
    );
    row(
        &mut s,
        "CPU steadiness: time below half speed, slowest round",
        "",
        &|r| format!("{:.1}%, {:.1}×", r.cpu_slow_share, r.cpu_worst),
    );
    row(
        &mut s,
        "CPU time stolen by the host while measuring",
        "",
        &|r| format!("{:.1}%", r.cpu_stolen),
    );
    row(&mut s, "errors", "0", &|r| r.errors.to_string());
    s
}
