//! The embedded SMTP listener on `smtp_addr`: a company's MX or relay hands
//! it mail for `<space>@<mail domain>` and reply addresses.
//!
//! It speaks ESMTP (RFC 5321) with PIPELINING, 8BITMIME, SIZE (the
//! `smtp_max_bytes` setting), ENHANCEDSTATUSCODES and, when a certificate
//! is configured, STARTTLS (RFC 3207). Commands are parsed by smtp-proto,
//! which also ends and dot-unstuffs DATA; the message is read by
//! `mail::message`. Every refusal is a reply with an enhanced status code
//! and a sentence saying why; nothing a client sends stops the listener.
//!
//! Mail a program sent (auto-replies, bounces, other lists, Chorus's own)
//! is accepted with 250 and dropped: refusing it would make the sending
//! server write a bounce, the very loop this avoids. Each sender address
//! may start 30 messages a minute on a node (451 4.7.1 past that).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::config::Settings;
use crate::context::Ctx;
use crate::error::AppError;
use crate::mail::message::{self, Unreadable};
use crate::service::mail_in::{self, Delivered, Destination};
use crate::service::viewer::Viewer;

/// Recipients one message may have (RFC 5321 asks servers to take 100).
pub const MAX_RECIPIENTS: usize = 100;
/// Messages a sender address may start in a minute, on this node.
const PER_SENDER_PER_MINUTE: u32 = 30;
/// Sessions served at once; more are told to come back (421).
const MAX_SESSIONS: usize = 256;
/// How long the listener waits for a client's next bytes (RFC 5321
/// 4.5.3.2 asks at least five minutes).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest a session may last, however it trickles.
const SESSION_LIMIT: Duration = Duration::from_secs(1800);
/// Commands one session may send, and malformed or misplaced ones, before
/// it is closed.
const MAX_COMMANDS: usize = 10_000;
const MAX_ERRORS: usize = 20;
/// The longest command line (RFC 5321 asks for 512 octets at least),
/// below smtp-proto's own 4,096 so that this check comes first.
const MAX_LINE: usize = 4000;

/// The bound listener, not yet serving.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// Binds `smtp_addr` (port 0 picks a free one) and loads the STARTTLS
    /// certificate, so a wrong setting stops `chorus serve` at once.
    pub async fn bind(settings: &Settings) -> anyhow::Result<Listener> {
        let tls = tls_acceptor(settings)?;
        let tcp = TcpListener::bind(settings.smtp_addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot take mail on {}: {e}. Is another program using that port? Choose another \
                 with --smtp-addr.",
                settings.smtp_addr
            )
        })?;
        Ok(Listener { tcp, tls })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.tcp.local_addr()
    }

    /// Serves until the context's stopping token is cancelled, then waits
    /// up to `grace` for the sessions to end (each is told 421 at its next
    /// command).
    pub async fn run(self, ctx: Ctx, grace: Duration) {
        let shared = Arc::new(Shared {
            senders: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(PER_SENDER_PER_MINUTE).expect("not zero"),
            )),
            sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
            tls: self.tls,
        });
        loop {
            let accepted = tokio::select! {
                _ = ctx.stopping.cancelled() => break,
                a = self.tcp.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "SMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
                tokio::spawn(async move {
                    let mut tcp = tcp;
                    let _ = tcp
                        .write_all(b"421 4.3.2 Chorus is serving too many mail sessions; try again later\r\n")
                        .await;
                });
                continue;
            };
            let (ctx, shared) = (ctx.clone(), shared.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let session = serve(tcp, &ctx, &shared);
                if tokio::time::timeout(SESSION_LIMIT, session).await.is_err() {
                    tracing::info!(%peer, "SMTP session ended at its time limit");
                }
            });
        }
        let all = u32::try_from(MAX_SESSIONS).expect("small");
        let _ = tokio::time::timeout(grace, shared.sessions.acquire_many(all)).await;
    }
}

/// What every session shares.
struct Shared {
    senders: DefaultKeyedRateLimiter<String>,
    sessions: Arc<Semaphore>,
    tls: Option<TlsAcceptor>,
}

/// The STARTTLS acceptor, when a certificate and key are configured.
fn tls_acceptor(settings: &Settings) -> anyhow::Result<Option<TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = match (&settings.smtp_tls_cert, &settings.smtp_tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => anyhow::bail!(
            "STARTTLS needs both smtp_tls_cert and smtp_tls_key (PEM files); set both, or neither \
             to take mail without TLS."
        ),
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let certs = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{} is not a PEM certificate chain: {e}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| anyhow::anyhow!("{} is not a PEM private key: {e}", key.display()))?;
    // The provider the build selects (ring, the one lettre uses too).
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow::anyhow!("the SMTP certificate and key do not go together: {e}"))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// One connection: in plain text, then (after STARTTLS) over TLS.
async fn serve(mut tcp: TcpStream, ctx: &Ctx, shared: &Shared) {
    let mut session = Session::new(ctx, shared, false);
    if let Err(e) = tcp
        .write_all(format!("220 {} ESMTP Chorus\r\n", session.domain).as_bytes())
        .await
    {
        tracing::debug!(error = %e, "SMTP client left before the greeting");
        return;
    }
    match session.run(&mut tcp).await {
        End::Closed => {}
        End::StartTls => {
            let Some(acceptor) = shared.tls.clone() else {
                return;
            };
            match acceptor.accept(tcp).await {
                Ok(mut tls) => {
                    // RFC 3207: the client starts again with EHLO.
                    let mut session = Session::new(ctx, shared, true);
                    let _ = session.run(&mut tls).await;
                }
                Err(e) => tracing::info!(error = %e, "SMTP TLS handshake failed"),
            }
        }
    }
}

enum End {
    Closed,
    StartTls,
}

/// A reply: code, enhanced status code, one line of text.
struct Reply {
    code: u16,
    esc: &'static str,
    text: String,
}

fn reply(code: u16, esc: &'static str, text: impl Into<String>) -> Reply {
    Reply {
        code,
        esc,
        text: text.into(),
    }
}

impl Reply {
    /// The reply's lines (`250-…` continuation lines for each `\n` in the
    /// text), each within RFC 5321's 512 octets.
    fn write(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let mut text: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            if text.len() > 440 {
                let mut end = 440;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push('…');
            }
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            let line = if self.esc.is_empty() {
                format!("{}{sep}{text}\r\n", self.code)
            } else {
                format!("{}{sep}{} {text}\r\n", self.code, self.esc)
            };
            out.extend_from_slice(line.as_bytes());
        }
    }
}

/// An AppError as an SMTP reply.
fn refusal(e: AppError) -> Reply {
    match e {
        AppError::Unauthorized(m) | AppError::Forbidden(m) => reply(550, "5.7.1", m),
        AppError::NotFound(m) => reply(550, "5.1.1", m),
        AppError::BadRequest(m) => reply(501, "5.1.3", m),
        AppError::Gone { detail, .. } => reply(550, "5.1.1", detail),
        AppError::Conflict { detail, .. } => reply(550, "5.2.1", detail),
        AppError::ActNotAllowed { detail, .. } => reply(550, "5.7.1", detail),
        e @ AppError::Validation(_) => reply(550, "5.6.0", e.to_string()),
        AppError::RateLimited { detail, .. } => reply(451, "4.7.1", detail),
        AppError::Unavailable(m) => reply(451, "4.3.0", m),
        AppError::Internal(e) => {
            tracing::error!(error = %e, "mail in failed");
            reply(
                451,
                "4.3.0",
                "Chorus could not take the message just now; try again later.",
            )
        }
    }
}

/// The envelope of the message being sent.
struct Envelope {
    from: String,
    /// The sender as a member, or why they may not post; `None` for the
    /// null reverse path.
    sender: Option<Result<Viewer, String>>,
    to: Vec<Destination>,
    /// Bounce addresses among the recipients: delivery reports to read.
    bounces: Vec<String>,
    /// RCPT commands seen, refused ones included.
    attempts: usize,
}

struct Session<'a> {
    ctx: &'a Ctx,
    shared: &'a Shared,
    domain: String,
    max_bytes: usize,
    tls: bool,
    helo: bool,
    envelope: Option<Envelope>,
    commands: usize,
    errors: usize,
}

/// What reading DATA is doing.
enum Data {
    Keeping(DataReceiver, Vec<u8>),
    /// Past the size limit: read to the end and thrown away.
    Discarding(DummyDataReceiver),
}

impl<'a> Session<'a> {
    fn new(ctx: &'a Ctx, shared: &'a Shared, tls: bool) -> Self {
        Session {
            ctx,
            shared,
            domain: ctx.settings.mail_domain(),
            max_bytes: ctx.settings.smtp_max_bytes,
            tls,
            helo: false,
            envelope: None,
            commands: 0,
            errors: 0,
        }
    }

    /// Serves commands until the client quits, the connection ends or
    /// STARTTLS is agreed.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut S) -> End {
        let mut receiver = RequestReceiver::default();
        let mut data: Option<Data> = None;
        let mut skip_line = false;
        // Bytes of the command line the receiver holds so far.
        let mut partial = 0;
        let mut chunk = vec![0u8; 16 * 1024];
        let mut out: Vec<u8> = Vec::new();
        loop {
            if !out.is_empty() {
                if io.write_all(&out).await.is_err() || io.flush().await.is_err() {
                    return End::Closed;
                }
                out.clear();
            }
            let n = tokio::select! {
                r = tokio::time::timeout(READ_TIMEOUT, io.read(&mut chunk)) => match r {
                    Ok(Ok(0)) | Ok(Err(_)) => return End::Closed,
                    Ok(Ok(n)) => n,
                    Err(_) => {
                        reply(421, "4.4.2", "No command for five minutes; closing.").write(&mut out);
                        let _ = io.write_all(&out).await;
                        return End::Closed;
                    }
                },
                // A session in the middle of DATA finishes; one between
                // commands is told to come back.
                _ = self.ctx.stopping.cancelled(), if data.is_none() => {
                    reply(421, "4.3.2", "Chorus is shutting down; try again later.").write(&mut out);
                    let _ = io.write_all(&out).await;
                    return End::Closed;
                }
            };
            let mut bytes = chunk[..n].iter();
            while !bytes.as_slice().is_empty() {
                if let Some(d) = &mut data {
                    let done = match d {
                        Data::Keeping(rx, buf) => {
                            let done = rx.ingest(&mut bytes, buf);
                            // `+ 2`: the CRLF fed at the start (see DATA).
                            if buf.len() > self.max_bytes + 2 {
                                let rest = DummyDataReceiver::new_data(rx);
                                *d = Data::Discarding(rest);
                            }
                            done
                        }
                        Data::Discarding(rx) => rx.ingest(&mut bytes),
                    };
                    if done {
                        let r = match data.take().expect("reading data") {
                            Data::Keeping(_, buf) => self.message(&buf[2..]).await,
                            Data::Discarding(_) => reply(
                                552,
                                "5.3.4",
                                format!(
                                    "The message is larger than {} bytes, this server's limit; \
                                     send it shorter, without large attachments.",
                                    self.max_bytes
                                ),
                            ),
                        };
                        r.write(&mut out);
                        self.envelope = None;
                    }
                    continue;
                }
                if skip_line {
                    let rest = bytes.as_slice();
                    match rest.iter().position(|b| *b == b'\n') {
                        Some(p) => {
                            bytes = rest[p + 1..].iter();
                            skip_line = false;
                        }
                        None => bytes = [].iter(),
                    }
                    continue;
                }
                // smtp-proto bounds only lines that come in pieces.
                let rest = bytes.as_slice();
                let end = rest.iter().position(|b| *b == b'\n');
                let line = partial + end.map_or(rest.len(), |p| p + 1);
                let request = if line > MAX_LINE {
                    receiver = RequestReceiver::default();
                    partial = 0;
                    match end {
                        Some(p) => bytes = rest[p + 1..].iter(),
                        None => {
                            bytes = [].iter();
                            skip_line = true;
                        }
                    }
                    Err(ProtoError::ResponseTooLong)
                } else {
                    match receiver.ingest(&mut bytes) {
                        Ok(r) => {
                            partial = 0;
                            Ok(r.into_owned())
                        }
                        Err(ProtoError::NeedsMoreData { .. }) => {
                            partial = line;
                            break;
                        }
                        Err(e) => {
                            partial = 0;
                            Err(e)
                        }
                    }
                };
                self.commands += 1;
                let r = match request {
                    Ok(Request::Data) => match self.start_data() {
                        Ok(()) => {
                            let mut rx = DataReceiver::new();
                            let mut buf = Vec::new();
                            // smtp-proto finds the end only after a CRLF; the
                            // DATA line's own CRLF is fed first, so an empty
                            // message or a first line starting with a dot is
                            // read right, and dropped again at the end.
                            rx.ingest(&mut b"\r\n".iter(), &mut buf);
                            data = Some(Data::Keeping(rx, buf));
                            reply(354, "2.0.0", "Go ahead; end with <CRLF>.<CRLF>")
                        }
                        Err(r) => r,
                    },
                    Ok(Request::StartTls) => {
                        if self.tls {
                            reply(503, "5.5.1", "TLS is already on.")
                        } else if self.shared.tls.is_none() {
                            reply(
                                502,
                                "5.5.1",
                                "STARTTLS is not offered: this server has no certificate.",
                            )
                        } else {
                            reply(220, "2.0.0", "Ready to start TLS").write(&mut out);
                            if io.write_all(&out).await.is_err() || io.flush().await.is_err() {
                                return End::Closed;
                            }
                            // Anything pipelined after STARTTLS is dropped
                            // (RFC 3207 section 5: it was sent in the clear).
                            return End::StartTls;
                        }
                    }
                    Ok(Request::Quit) => {
                        reply(221, "2.0.0", "Bye").write(&mut out);
                        let _ = io.write_all(&out).await;
                        let _ = io.shutdown().await;
                        return End::Closed;
                    }
                    Ok(other) => self.command(other).await,
                    Err(ProtoError::ResponseTooLong) => reply(
                        500,
                        "5.5.2",
                        "Line too long: a command line is at most 4,000 bytes.",
                    ),
                    Err(ProtoError::UnknownCommand) => reply(
                        500,
                        "5.5.1",
                        "Unknown command: Chorus speaks SMTP (RFC 5321).",
                    ),
                    Err(ProtoError::InvalidSenderAddress) => {
                        reply(501, "5.1.7", "The sender address is not valid.")
                    }
                    Err(ProtoError::InvalidRecipientAddress) => {
                        reply(501, "5.1.3", "The recipient address is not valid.")
                    }
                    Err(ProtoError::SyntaxError { syntax }) => {
                        reply(501, "5.5.4", format!("Syntax: {syntax}"))
                    }
                    Err(ProtoError::InvalidParameter { param }) => {
                        reply(501, "5.5.4", format!("Invalid parameter {param}."))
                    }
                    Err(ProtoError::UnsupportedParameter { param }) => {
                        reply(504, "5.5.4", format!("Unsupported parameter {param}."))
                    }
                    Err(e) => reply(500, "5.5.2", format!("Cannot read the command: {e:?}.")),
                };
                if (500..=504).contains(&r.code) {
                    self.errors += 1;
                }
                r.write(&mut out);
                if self.errors >= MAX_ERRORS || self.commands >= MAX_COMMANDS {
                    reply(421, "4.7.0", "Too many commands or errors; closing.").write(&mut out);
                    let _ = io.write_all(&out).await;
                    return End::Closed;
                }
            }
        }
    }

    /// Every command but DATA, STARTTLS and QUIT.
    async fn command(&mut self, request: Request<String>) -> Reply {
        match request {
            Request::Ehlo { host: _ } => {
                self.helo = true;
                self.envelope = None;
                let mut caps = vec![
                    "PIPELINING".to_owned(),
                    "8BITMIME".to_owned(),
                    format!("SIZE {}", self.max_bytes),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if self.shared.tls.is_some() && !self.tls {
                    caps.push("STARTTLS".into());
                }
                let mut text = format!("{} Chorus", self.domain);
                for c in caps {
                    text.push('\n');
                    text.push_str(&c);
                }
                Reply {
                    code: 250,
                    esc: "",
                    text,
                }
            }
            Request::Helo { host: _ } | Request::Lhlo { host: _ } => {
                self.helo = true;
                self.envelope = None;
                reply(250, "2.0.0", format!("{} Chorus", self.domain))
            }
            Request::Mail { from } => self.mail(from).await,
            Request::Rcpt { to } => self.rcpt(&to.address).await,
            Request::Rset => {
                self.envelope = None;
                reply(250, "2.0.0", "Reset: start a new message.")
            }
            Request::Noop { .. } => reply(250, "2.0.0", "OK"),
            Request::Vrfy { .. } => reply(
                252,
                "2.5.0",
                "Chorus does not verify addresses; send the message and it answers.",
            ),
            Request::Help { .. } => reply(
                214,
                "2.0.0",
                "Chorus takes mail for its spaces (<space>@domain) and reply addresses.",
            ),
            Request::Auth { .. } => reply(
                502,
                "5.5.1",
                "Chorus takes no AUTH: it checks that the sender is a member.",
            ),
            other => reply(
                502,
                "5.5.1",
                format!("{} is not implemented here.", other.name()),
            ),
        }
    }

    async fn mail(&mut self, from: smtp_proto::MailFrom<String>) -> Reply {
        if !self.helo {
            return reply(
                503,
                "5.5.1",
                "Introduce yourself with EHLO (or HELO) first.",
            );
        }
        if self.envelope.is_some() {
            return reply(
                503,
                "5.5.1",
                "A message is already started: send RSET to start again.",
            );
        }
        if from.size > self.max_bytes {
            return reply(
                552,
                "5.3.4",
                format!(
                    "The message is larger than {} bytes, this server's limit; send it shorter, \
                     without large attachments.",
                    self.max_bytes
                ),
            );
        }
        let address = from.address.trim().to_lowercase();
        let key = if address.is_empty() {
            "<>".to_owned()
        } else {
            address.clone()
        };
        let limited = self.shared.senders.check_key(&key).is_err();
        if self.shared.senders.len() > 10_000 {
            self.shared.senders.retain_recent();
        }
        if limited {
            return reply(
                451,
                "4.7.1",
                format!(
                    "{key} is sending faster than {PER_SENDER_PER_MINUTE} messages a minute; try \
                     again in a minute."
                ),
            );
        }
        let sender = if address.is_empty() {
            None
        } else {
            Some(match mail_in::sender(self.ctx, &address).await {
                Ok(v) => Ok(v),
                Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => {
                    return refusal(e);
                }
                Err(e) => Err(e.to_string()),
            })
        };
        self.envelope = Some(Envelope {
            from: address,
            sender,
            to: Vec::new(),
            bounces: Vec::new(),
            attempts: 0,
        });
        reply(250, "2.1.0", "Sender OK")
    }

    async fn rcpt(&mut self, address: &str) -> Reply {
        let Some(env) = self.envelope.as_mut() else {
            return reply(503, "5.5.1", "Start a message with MAIL FROM first.");
        };
        env.attempts += 1;
        if env.attempts > MAX_RECIPIENTS {
            return reply(
                452,
                "4.5.3",
                format!(
                    "Too many recipients: at most {MAX_RECIPIENTS} a message; send the rest in \
                     another message."
                ),
            );
        }
        // Delivery reports come from anyone, mostly with a null reverse
        // path: a bounce address takes them before any other rule.
        if mail_in::is_bounce_address(self.ctx, address) {
            if env.bounces.len() < MAX_RECIPIENTS {
                env.bounces.push(address.trim().to_owned());
            }
            return reply(250, "2.1.5", "Recipient OK");
        }
        let viewer = match &env.sender {
            Some(Ok(v)) => v.clone(),
            Some(Err(why)) => return reply(550, "5.7.1", why.clone()),
            None => {
                // A delivery report: taken for any address here, then
                // dropped (see the module's note), so it makes no bounce.
                let ours = address
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&self.domain));
                if !ours {
                    return reply(
                        550,
                        "5.7.1",
                        format!(
                            "Chorus takes mail only for @{} and relays nothing.",
                            self.domain
                        ),
                    );
                }
                return reply(250, "2.1.5", "Recipient OK");
            }
        };
        match mail_in::recipient(self.ctx, &viewer, address).await {
            Ok(d) => {
                let env = self.envelope.as_mut().expect("checked above");
                if !env.to.contains(&d) {
                    env.to.push(d);
                }
                reply(250, "2.1.5", "Recipient OK")
            }
            Err(e) => refusal(e),
        }
    }

    fn start_data(&mut self) -> Result<(), Reply> {
        let Some(env) = &self.envelope else {
            return Err(reply(
                503,
                "5.5.1",
                "Start a message with MAIL FROM and RCPT TO first.",
            ));
        };
        if env.to.is_empty() && env.bounces.is_empty() && env.sender.is_some() {
            return Err(reply(
                554,
                "5.5.1",
                "No valid recipients: nothing to send to.",
            ));
        }
        if env.attempts == 0 {
            return Err(reply(503, "5.5.1", "Name a recipient with RCPT TO first."));
        }
        Ok(())
    }

    /// The message is in: read it and post it to every recipient.
    async fn message(&mut self, raw: &[u8]) -> Reply {
        let Some(env) = self.envelope.take() else {
            return reply(
                503,
                "5.5.1",
                "Start a message with MAIL FROM and RCPT TO first.",
            );
        };
        if !env.bounces.is_empty() {
            // Read before the loop guard (a report has a null reverse
            // path); accepted and dropped whatever it says.
            let copy = raw.to_vec();
            let status = tokio::task::spawn_blocking(move || message::delivery_status(&copy))
                .await
                .ok()
                .flatten();
            for b in &env.bounces {
                match mail_in::bounce(self.ctx, b, status.as_deref()).await {
                    Ok(Some(to)) => tracing::info!(%to, "a bounce report counted"),
                    Ok(None) => tracing::info!(bounce = %b, "a bounce report dropped"),
                    Err(e) => return refusal(e),
                }
            }
            if env.to.is_empty() {
                return reply(
                    250,
                    "2.0.0",
                    "Accepted: a delivery report, read and dropped.",
                );
            }
        }
        let (domain, mail_from) = (self.domain.clone(), self.ctx.settings.mail_from());
        let null_sender = env.sender.is_none();
        let raw = raw.to_vec();
        // Parsing and reading HTML take CPU time: off the async workers.
        let read = tokio::task::spawn_blocking(move || {
            message::read(&raw, null_sender, &domain, &mail_from)
        })
        .await;
        let read = match read {
            Ok(Ok(r)) => r,
            Ok(Err(Unreadable::Empty)) => {
                return reply(
                    554,
                    "5.6.0",
                    "The message is empty: Chorus posts a mail's subject and text.",
                );
            }
            Ok(Err(Unreadable::NotMail)) => {
                return reply(
                    554,
                    "5.6.0",
                    "This is not a mail message: send headers (From, Subject), a blank line, \
                     then the text.",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "reading a mail panicked");
                return reply(
                    554,
                    "5.6.0",
                    "Chorus cannot read this message; send it as plain text.",
                );
            }
        };
        if let Some(why) = read.automatic {
            tracing::info!(from = %env.from, why, "automatic mail dropped");
            return reply(
                250,
                "2.0.0",
                format!("Accepted and dropped: Chorus never posts or answers mail when {why}."),
            );
        }
        let Some(Ok(viewer)) = env.sender else {
            // Refused senders have no recipients, so DATA was refused.
            return reply(
                503,
                "5.5.1",
                "Start a message with MAIL FROM and RCPT TO first.",
            );
        };
        match read.from.as_deref() {
            Some(f) if f.eq_ignore_ascii_case(&env.from) => {}
            Some(f) => {
                return reply(
                    550,
                    "5.7.1",
                    format!(
                        "The From header ({f}) is not the envelope sender ({}): Chorus posts only \
                         mail whose From is the address of your account.",
                        env.from
                    ),
                );
            }
            None => {
                return reply(
                    550,
                    "5.7.1",
                    "The message has no From header: Chorus posts only mail whose From is the \
                     address of your account.",
                );
            }
        }
        let mut done = Vec::new();
        let mut first_refusal = None;
        for to in &env.to {
            match mail_in::deliver(self.ctx, &viewer, to, &read.inbound).await {
                Ok(Delivered::Item(id)) => done.push(format!("item {id}")),
                Ok(Delivered::Comment { item, comment }) => {
                    done.push(format!("comment {comment} on item {item}"))
                }
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match (done.is_empty(), first_refusal) {
            (true, Some(e)) => refusal(e),
            (_, None) => reply(250, "2.0.0", format!("Posted: {}.", done.join(", "))),
            (false, Some(e)) => reply(
                250,
                "2.0.0",
                format!(
                    "Posted: {}; not to every recipient: {}",
                    done.join(", "),
                    refusal(e).text
                ),
            ),
        }
    }
}
