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

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;

pub const CHANNEL: &str = "chorus_stream";

/// "The stream reached `position`; these members got notifications."
/// An empty `notified` with `everyone` set means "anyone may have".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    pub position: i64,
    pub notified: Vec<i64>,
    pub everyone: bool,
}

impl Announcement {
    pub fn may_concern(&self, member: i64) -> bool {
        self.everyone || self.notified.contains(&member)
    }

    /// `position` or `position:n1,n2`; long lists become `position:*`
    /// (NOTIFY payloads are limited to 8000 bytes).
    pub fn encode(&self) -> String {
        if self.everyone || self.notified.len() > 500 {
            return format!("{}:*", self.position);
        }
        let list: Vec<String> = self.notified.iter().map(i64::to_string).collect();
        format!("{}:{}", self.position, list.join(","))
    }

    pub fn decode(s: &str) -> Option<Announcement> {
        let (pos, rest) = s.split_once(':').unwrap_or((s, ""));
        let position = pos.parse().ok()?;
        if rest == "*" {
            return Some(Announcement {
                position,
                notified: Vec::new(),
                everyone: true,
            });
        }
        let notified = rest
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(Announcement {
            position,
            notified,
            everyone: false,
        })
    }

    fn catch_all() -> Announcement {
        Announcement {
            position: 0,
            notified: Vec::new(),
            everyone: true,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Bus {
    tx: broadcast::Sender<Announcement>,
}

impl Bus {
    pub(crate) fn new() -> Bus {
        Bus {
            tx: broadcast::channel(1024).0,
        }
    }

    pub(crate) fn send(&self, a: Announcement) {
        // Nobody listening is fine.
        let _ = self.tx.send(a);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.tx.subscribe()
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
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .await
                        .is_ok()
                    {
                        delay = Duration::from_millis(100);
                        bus.send(Announcement::catch_all());
                        while let Some(m) = msg_rx.recv().await {
                            if let tokio_postgres::AsyncMessage::Notification(n) = m
                                && let Some(a) = Announcement::decode(n.payload())
                            {
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
                notified: vec![],
                everyone: false,
            },
            Announcement {
                position: 7,
                notified: vec![1, 2],
                everyone: false,
            },
            Announcement {
                position: 9,
                notified: vec![],
                everyone: true,
            },
        ] {
            assert_eq!(Announcement::decode(&a.encode()), Some(a));
        }
    }
}
