//! Startup and shutdown: open and migrate the database, bind the HTTP and
//! SMTP listeners, serve until told to stop, then let in-flight requests
//! and mail sessions finish and close the database cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use store::Db;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::context::Ctx;
use crate::service::signup;
use crate::state::AppState;

pub struct App {
    listener: TcpListener,
    smtp: crate::mail::smtp::Listener,
    state: AppState,
    jobs: crate::jobs::Registry,
}

/// The process-wide metrics recorder; several apps in one process (tests
/// that start two nodes) share it.
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// Folds the request-duration samples into the metrics' summaries every
/// few seconds. The recorder keeps every sample until then (or until
/// `/metrics` is scraped): on a server nobody scraped, memory grew with
/// every request, for as long as it ran. It runs on a thread of its own:
/// a fold of some ten thousand samples took up to 50 ms in the benchmark,
/// and on an async worker every request queued on that worker waited for
/// it.
fn metrics_upkeep(metrics: PrometheusHandle, stopping: tokio_util::sync::CancellationToken) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            while !stopping.is_cancelled() {
                std::thread::sleep(Duration::from_secs(5));
                metrics.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread; metrics keep every sample until scraped");
    }
}

/// Opens and migrates the database named by the settings, for a command
/// that may run beside the server (`chorus migrate`, `chorus admin`).
pub async fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    open(settings, false).await
}

/// Opens and migrates the database; `serving` for the server's own handle
/// (see `store::Options::serving`).
async fn open(settings: &Settings, serving: bool) -> anyhow::Result<Db> {
    let url = settings.database_url();
    let db = Db::open(
        &url,
        &store::Options {
            max_connections: settings.db_max_connections,
            fanout_inline_max: settings.fanout_inline_max,
            checkpoints: true,
            serving,
            fold_at: settings.fold_deliveries_at.max(1),
            ..Default::default()
        },
    )
    .await?;
    let applied = store::migrate::run(&db).await?;
    if !applied.is_empty() {
        tracing::info!(
            ?applied,
            database = db.redacted_url(),
            "migrated the database"
        );
    }
    Ok(db)
}

impl App {
    /// Opens the database and binds the HTTP port (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        let db = open(&settings, true).await?;
        let listener = TcpListener::bind(settings.http_addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e}. Is another program using that port? Choose another \
                 with --http-addr.",
                settings.http_addr
            )
        })?;
        let smtp = crate::mail::smtp::Listener::bind(&settings).await?;
        let mut settings = settings;
        // With port 0 the real ports are known only now.
        settings.http_addr = listener.local_addr()?;
        settings.smtp_addr = smtp.local_addr()?;
        let state = AppState {
            writes: crate::http::limits::WriteLimits::new(settings.writes_per_minute)
                .map(std::sync::Arc::new),
            live: std::sync::Arc::new(crate::http::api::live::LiveConnections::new(
                settings.live_per_member,
            )),
            ctx: Ctx::new(db, settings),
            metrics: metrics_handle(),
        };
        let jobs = crate::jobs::kinds::registry(&state.ctx.db);
        Ok(App {
            listener,
            smtp,
            state,
            jobs,
        })
    }

    /// The job kinds this node runs; more may be registered before
    /// [`App::run`] (the tests' own kinds).
    pub fn jobs_mut(&mut self) -> &mut crate::jobs::Registry {
        &mut self.jobs
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.state.ctx.settings.http_addr
    }

    /// Where the SMTP listener takes mail.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.state.ctx.settings.smtp_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The first-run link, when the org has no owner yet.
    pub async fn setup_link(&self) -> anyhow::Result<Option<String>> {
        Ok(signup::issue_setup_token(&self.state.ctx)
            .await?
            .map(|t| format!("{}/setup?token={t}", self.state.ctx.base_url)))
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests
    /// (up to the grace period) and closes the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            listener,
            smtp,
            state,
            jobs,
        } = self;
        let router = crate::http::router(state.clone());
        let runner = crate::jobs::Runner::new(
            state.ctx.clone(),
            jobs,
            Duration::from_secs(state.ctx.settings.job_lease_seconds),
            state.ctx.stopping.clone(),
        );
        let runner = tokio::spawn(runner.run());
        let token_use = tokio::spawn(token_use_worker(state.clone()));
        tokio::spawn(crate::service::audience::warm_counts(state.ctx.clone()));
        if let Some(metrics) = state.metrics.clone() {
            metrics_upkeep(metrics, state.ctx.stopping.clone());
        }
        let grace = Duration::from_secs(state.ctx.settings.shutdown_grace_seconds);
        let smtp = tokio::spawn(smtp.run(state.ctx.clone(), grace));
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let stopping = state.ctx.stopping.clone();
        // Every write goes out as soon as it is made. With Nagle's algorithm
        // the kernel holds a small segment while an earlier one is not yet
        // acknowledged, and a client delays its acknowledgement by up to
        // 40 ms: a live event written just after another, or a response
        // written in two pieces, could wait that long.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            stopping.cancel();
            let _ = stopping_tx.send(());
        });
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            r = &mut server => r?,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("in-flight requests did not finish within {grace:?}; closing anyway");
            }
        }
        state.ctx.stopping.cancel();
        let _ = runner.await;
        let _ = token_use.await;
        // Mail sessions end at their next command, or finish their message.
        let _ = smtp.await;
        // Uses noted by the requests that finished during the shutdown.
        flush_token_use(&state).await;
        state.ctx.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Writes API tokens' uses once a minute (`caches::TokenUse`);
/// what is left when the server stops, `App::run` writes. This is the
/// node's own timer, not a job: the uses wait in this node's memory,
/// where no other node's runner can reach them.
async fn token_use_worker(state: AppState) {
    loop {
        tokio::select! {
            _ = state.ctx.stopping.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        };
        flush_token_use(&state).await;
    }
}

async fn flush_token_use(state: &AppState) {
    if let Err(e) = state.ctx.caches.token_use.flush(&state.ctx.db).await {
        tracing::warn!(error = %e, "could not record API tokens' last use");
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
