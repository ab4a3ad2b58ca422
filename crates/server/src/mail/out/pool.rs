//! Chorus's own pooled connections to an `smtp://` relay: lettre's SMTP
//! client on TCP streams Chorus opens with `TCP_NODELAY`.
//!
//! lettre writes a message's body and its closing `.` in two writes.
//! Without `TCP_NODELAY` the second waits for the relay to acknowledge the
//! first, which a relay delays by ~40 ms (Nagle's algorithm meeting
//! delayed ACKs): 40 ms a mail, whatever the relay's speed. lettre's
//! released transport opens its own sockets and does not set the option,
//! so this pool opens them and hands them to
//! `AsyncSmtpConnection::connect_with_transport`, then does what lettre's
//! transport does: STARTTLS when the relay offers it, AUTH when the URL
//! has credentials, a NOOP before reusing an idle connection, idle ones
//! closed after a minute.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::{SMTP_TIMEOUT, SendError};

/// Idle connections kept at most (`mail::list::AT_ONCE` sends at once,
/// beside the other mail jobs).
const MAX_IDLE: usize = 32;

/// An idle connection older than this is closed.
const IDLE_FOR: Duration = Duration::from_secs(60);

pub struct Pool {
    host: String,
    port: u16,
    hello: ClientId,
    /// STARTTLS with these when the relay offers it.
    tls: TlsParameters,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    reaper: std::sync::Once,
}

impl Pool {
    pub fn new(
        (host, port): (String, u16),
        hello: ClientId,
        tls: TlsParameters,
        credentials: Option<Credentials>,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            host,
            port,
            hello,
            tls,
            credentials,
            idle: Mutex::new(Vec::new()),
            reaper: std::sync::Once::new(),
        })
    }

    /// Sends one message over an idle connection or a new one, and parks
    /// the connection again unless the send broke it.
    pub async fn send(self: &Arc<Self>, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let mut conn = self.connection().await?;
        let sent = conn.send(envelope, raw).await;
        // A broken connection is closed already (lettre sent QUIT).
        if !conn.has_broken() {
            let extra = {
                let mut idle = self.idle.lock().expect("the pool's lock");
                if idle.len() < MAX_IDLE {
                    idle.push((conn, Instant::now()));
                    None
                } else {
                    Some(conn)
                }
            };
            if let Some(mut conn) = extra {
                conn.abort().await;
            }
        }
        sent.map(|_| ()).map_err(SendError::Smtp)
    }

    async fn connection(self: &Arc<Self>) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = self.idle.lock().expect("the pool's lock").pop();
            let Some((mut conn, since)) = parked else {
                return self.connect().await;
            };
            if since.elapsed() < IDLE_FOR && conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
    }

    async fn connect(self: &Arc<Self>) -> Result<AsyncSmtpConnection, SendError> {
        self.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(self)));
        });
        let tcp = tokio::time::timeout(
            SMTP_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| SendError::TimedOut)?
        .map_err(SendError::Connect)?;
        tcp.set_nodelay(true).map_err(SendError::Connect)?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(SendError::Smtp)?;
        if conn.can_starttls() {
            conn.starttls(self.tls.clone(), &self.hello)
                .await
                .map_err(SendError::Smtp)?;
        }
        if let Some(c) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, c)
                .await
                .map_err(SendError::Smtp)?;
        }
        Ok(conn)
    }
}

/// Closes connections idle for longer than [`IDLE_FOR`], until the pool
/// is dropped.
async fn reap(pool: Weak<Pool>) {
    loop {
        tokio::time::sleep(IDLE_FOR / 2).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let stale: Vec<AsyncSmtpConnection> = {
            let mut idle = pool.idle.lock().expect("the pool's lock");
            let (stale, fresh) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|(_, since)| since.elapsed() >= IDLE_FOR);
            *idle = fresh;
            stale.into_iter().map(|(c, _)| c).collect()
        };
        for mut c in stale {
            c.abort().await;
        }
    }
}
