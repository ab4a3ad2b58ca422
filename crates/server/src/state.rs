//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use store::Db;

use crate::config::Settings;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub base_url: Arc<str>,
    pub metrics: Option<PrometheusHandle>,
    /// Cancelled when the server starts shutting down, so live connections
    /// end and graceful shutdown does not wait for them.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Rendered stream entries (SQLite; see `http::api::stream_cache`).
    pub streams: Option<Arc<crate::http::api::stream_cache::StreamCache>>,
    /// Members by API token (SQLite; see `service::accounts::TokenCache`).
    pub tokens: Option<Arc<crate::service::accounts::TokenCache>>,
    /// API tokens' uses not yet written (see `service::accounts::TokenUse`).
    pub token_use: Arc<crate::service::accounts::TokenUse>,
    /// Open live connections by member (see `http::api::live::LiveConnections`).
    pub live: Arc<crate::http::api::live::LiveConnections>,
    /// Writes per member per minute (see `http::limits`); `None`: no limit.
    pub writes: Option<Arc<crate::http::limits::WriteLimits>>,
}
