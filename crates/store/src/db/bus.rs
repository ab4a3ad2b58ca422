//! Announcements that the stream moved on, so live connections read it.
//!
//! Following Synapse: the activity table is the truth and the bus carries
//! only "the stream reached position N" (and who got a notification). A
//! live connection that hears an announcement reads the table from its own
//! last position, so a lost or duplicated announcement costs nothing and a
//! reconnect is an ordinary read.
//!
//! With SQLite (one process) the announcement goes straight into an
//! in-process broadcast channel after commit. With PostgreSQL the
//! committing transaction runs `pg_notify`, and every node — this one
//! included — has a task LISTENing that forwards what arrives into its own
//! channel, so two `chorus serve` processes on one database both hear
//! every change. After a lost LISTEN connection the task reconnects and
//! sends a catch-all announcement, since notifications may have been
//! missed meanwhile.
//!
//! Jobs (`crate::jobs`) have a channel of their own, which carries only
//! "a job was queued": the committing transaction announces it the same
//! way (`JOBS_CHANNEL` on PostgreSQL), and every job runner listening
//! wakes to claim it. A reconnect wakes them too.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::{id_list, parse_id_list};

pub const CHANNEL: &str = "chorus_stream";
/// PostgreSQL's channel for "a job was queued".
pub const JOBS_CHANNEL: &str = "chorus_jobs";

/// "The stream reached `position`; these members got notifications; these
/// members got home deliveries." `everyone` means "anyone may have".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    pub position: i64,
    pub notified: Vec<i64>,
    pub delivered: Vec<i64>,
    pub everyone: bool,
}

/// NOTIFY payloads are limited to 8000 bytes.
const PAYLOAD_MAX: usize = 7_900;

impl Announcement {
    /// A notification for this member may have arrived.
    pub fn may_notify(&self, member: domain::MemberId) -> bool {
        self.everyone || self.notified.contains(&member.get())
    }

    /// Something may have been delivered to this member's home.
    pub fn may_deliver(&self, member: domain::MemberId) -> bool {
        self.everyone || self.delivered.contains(&member.get())
    }

    /// `position;notified;delivered` (lists comma-separated), split over
    /// several payloads when the lists are long.
    pub fn encode(&self) -> Vec<String> {
        if self.everyone {
            return vec![format!("{};*;*", self.position)];
        }
        let head = format!("{};{};", self.position, id_list(&self.notified));
        if head.len() > PAYLOAD_MAX {
            return vec![format!("{};*;*", self.position)];
        }
        let mut out = Vec::new();
        let mut cur = head.clone();
        let mut first = true;
        for m in &self.delivered {
            let piece = m.to_string();
            if cur.len() + piece.len() + 1 > PAYLOAD_MAX {
                out.push(std::mem::replace(&mut cur, format!("{};;", self.position)));
                first = true;
            }
            if !first {
                cur.push(',');
            }
            cur.push_str(&piece);
            first = false;
        }
        out.push(cur);
        out
    }

    pub fn decode(s: &str) -> Option<Announcement> {
        let mut parts = s.splitn(3, ';');
        let position = parts.next()?.parse().ok()?;
        let notified = parts.next().unwrap_or("");
        let delivered = parts.next().unwrap_or("");
        if notified == "*" || delivered == "*" {
            return Some(Announcement {
                position,
                everyone: true,
                ..Default::default()
            });
        }
        Some(Announcement {
            position,
            notified: parse_id_list(notified)?,
            delivered: parse_id_list(delivered)?,
            everyone: false,
        })
    }

    fn catch_all() -> Announcement {
        Announcement {
            everyone: true,
            ..Default::default()
        }
    }
}

#[derive(Clone)]
pub(crate) struct Bus {
    tx: broadcast::Sender<Announcement>,
    jobs: broadcast::Sender<()>,
}

impl Bus {
    pub(crate) fn new() -> Bus {
        Bus {
            tx: broadcast::channel(1024).0,
            // A runner that lags behind loses nothing: one wake-up makes
            // it look for every due job.
            jobs: broadcast::channel(16).0,
        }
    }

    pub(crate) fn send(&self, a: Announcement) {
        // Nobody listening is fine.
        let _ = self.tx.send(a);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.tx.subscribe()
    }

    /// "A job was queued."
    pub(crate) fn send_job(&self) {
        let _ = self.jobs.send(());
    }

    pub(crate) fn subscribe_jobs(&self) -> broadcast::Receiver<()> {
        self.jobs.subscribe()
    }
}

/// Runs for the life of the process: LISTEN on PostgreSQL and forward.
pub(crate) fn listen_postgres(url: String, bus: Bus) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(100);
        loop {
            match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                Ok((client, mut connection)) => {
                    let (msg_tx, mut msg_rx) = tokio::sync::mpsc::unbounded_channel();
                    let driver = tokio::spawn(async move {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(m) = messages.next().await {
                            match m {
                                Ok(m) => {
                                    if msg_tx.send(m).is_err() {
                                        break;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                    });
                    if client
                        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {JOBS_CHANNEL}"))
                        .await
                        .is_ok()
                    {
                        delay = Duration::from_millis(100);
                        bus.send(Announcement::catch_all());
                        bus.send_job();
                        while let Some(m) = msg_rx.recv().await {
                            let tokio_postgres::AsyncMessage::Notification(n) = m else {
                                continue;
                            };
                            if n.channel() == JOBS_CHANNEL {
                                bus.send_job();
                            } else if let Some(a) = Announcement::decode(n.payload()) {
                                bus.send(a);
                            }
                        }
                    }
                    driver.abort();
                    tracing::warn!("lost the PostgreSQL LISTEN connection; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN on PostgreSQL; retrying");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Announcement;

    #[test]
    fn round_trips() {
        for a in [
            Announcement {
                position: 7,
                ..Default::default()
            },
            Announcement {
                position: 7,
                notified: vec![1, 2],
                delivered: vec![3],
                everyone: false,
            },
            Announcement {
                position: 9,
                everyone: true,
                ..Default::default()
            },
        ] {
            let p = a.encode();
            assert_eq!(p.len(), 1);
            assert_eq!(Announcement::decode(&p[0]), Some(a));
        }
    }

    #[test]
    fn long_lists_split() {
        let a = Announcement {
            position: 5,
            notified: vec![1],
            delivered: (1..5000).collect(),
            everyone: false,
        };
        let parts = a.encode();
        assert!(parts.len() > 1 && parts.iter().all(|p| p.len() <= super::PAYLOAD_MAX));
        let mut got: Vec<i64> = Vec::new();
        for p in &parts {
            got.extend(Announcement::decode(p).unwrap().delivered);
        }
        assert_eq!(got, a.delivered);
    }
}
