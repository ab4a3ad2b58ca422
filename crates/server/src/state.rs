//! What every request handler shares: the application context and what
//! only the HTTP layer needs.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::context::Ctx;

#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub metrics: Option<PrometheusHandle>,
    /// Open live connections by member (see `http::api::live::LiveConnections`).
    pub live: Arc<crate::http::api::live::LiveConnections>,
    /// Writes per member per minute (see `http::limits`); `None`: no limit.
    pub writes: Option<Arc<crate::http::limits::WriteLimits>>,
}
