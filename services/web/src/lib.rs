//! The web dashboard (`nl web`, `nl serve web`, `nl run --web ADDR`): server-rendered pages over a
//! [`LedgerReader`] — new listings (live over SSE), asset detail with SVG charts, candidates, sources and
//! runs — plus CSV exports. Read-only: it never writes the ledger. Every asset is embedded in the binary.
//!
//! Lifecycle as every service: [`WebService::bind`] (config, [`ServiceCtx`], reader), then
//! [`WebService::run`] until shutdown.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod charts;
pub mod config;
pub mod csv;
mod detail;
pub mod error;
pub mod filters;
mod learning;
mod learning_chart;
pub mod leases;
mod live;
mod ops_api;
pub mod ops_openapi;
pub mod pages;
pub mod review;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_bus::{BoxError, Counts, Service, ServiceCtx};
use nl_domain::LedgerReader;
use nl_telemetry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use alerts::{AlertBoard, AlertSinkConfig, AlertsService, SinkKind};
pub use config::WebConfig;
pub use error::WebError;
pub use leases::LeaseHolders;
pub use review::{BusWriter, EventWriter};
pub use server::{WebCounts, WebStats};

/// A bound dashboard, ready to serve.
pub struct WebService {
    listener: TcpListener,
    state: Arc<server::AppState>,
    changes: watch::Sender<i64>,
    reader: Arc<dyn LedgerReader>,
    poll: Duration,
    /// The `/v1` ops API, when the binary provides the paper side ([`WebService::with_ops`]).
    ops: Option<(Arc<dyn nl_domain::paper_read::PaperReader>, Arc<dyn nl_domain::paper_ops::PaperOps>)>,
}

impl std::fmt::Debug for WebService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebService").field("addr", &self.listener.local_addr().ok()).finish_non_exhaustive()
    }
}

impl WebService {
    /// Validates `cfg`, reads the token from the environment and binds `cfg.addr`.
    ///
    /// # Errors
    /// [`WebError::Config`] for a bad config or a missing token, [`WebError::Bind`] when the address is taken.
    pub async fn bind(cfg: WebConfig, ctx: &ServiceCtx, reader: Arc<dyn LedgerReader>) -> Result<Self, WebError> {
        cfg.validate()?;
        let token = cfg.token(&ctx.env)?;
        let listener = TcpListener::bind(cfg.addr).await.map_err(|source| WebError::Bind { addr: cfg.addr, source })?;
        let (changes, rx) = watch::channel(-1);
        let poll = Duration::from_millis(cfg.poll_ms);
        let state = Arc::new(server::AppState {
            reader: reader.clone(),
            cfg,
            token,
            clock: ctx.clock.clone(),
            stats: Arc::default(),
            changes: rx,
            alerts: None,
            writer: None,
            leases: None,
            run: ctx.run.clone(),
            paper: None,
        });
        Ok(Self { listener, state, changes, reader, poll, ops: None })
    }

    /// Serves the `/v1` ops API too, over `reader` and `ops`, behind the same token; the learning-book
    /// page reads through the same `reader`.
    #[must_use]
    pub fn with_ops(mut self, reader: Arc<dyn nl_domain::paper_read::PaperReader>, ops: Arc<dyn nl_domain::paper_ops::PaperOps>) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.paper = Some(Arc::clone(&reader));
        }
        self.ops = Some((reader, ops));
        self
    }

    /// The bound address (the real port when `addr` asked for port 0).
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Shows `board` (the alert sinks running beside the dashboard) on the sources page.
    #[must_use]
    pub fn with_alerts(mut self, board: Arc<alerts::AlertBoard>) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.alerts = Some(board);
        }
        self
    }

    /// Lets "mark reviewed" emit `asset.reviewed` through `writer` (without one the button answers 501).
    #[must_use]
    pub fn with_writer(mut self, writer: Arc<dyn review::EventWriter>) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.writer = Some(writer);
        }
        self
    }

    /// Shows who holds each source's lease (distributed mode: the collectors' NATS KV lease bucket) on the
    /// sources page.
    #[must_use]
    pub fn with_leases(mut self, leases: Arc<dyn leases::LeaseHolders>) -> Self {
        if let Some(state) = Arc::get_mut(&mut self.state) {
            state.leases = Some(leases);
        }
        self
    }

    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<WebStats> {
        self.state.stats.clone()
    }

    /// Serves until `shutdown`; open live streams end with it.
    ///
    /// # Errors
    /// [`WebError::Serve`] when accepting connections fails.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<WebCounts, WebError> {
        let poller = tokio::spawn(live::poll_changes(self.reader, self.poll, self.changes, shutdown.clone()));
        let stats = self.state.stats.clone();
        let token = self.state.token.clone();
        let mut app = server::router(self.state);
        if let Some((reader, ops)) = self.ops {
            app = app.merge(ops_api::router(reader, ops, token));
        }
        let stop = shutdown.clone();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        shutdown.cancel();
        let _ = poller.await;
        served?;
        Ok(stats.snapshot())
    }
}

#[async_trait]
impl Service for WebService {
    fn name(&self) -> &'static str {
        "web"
    }

    fn durables(&self) -> Vec<String> {
        Vec::new()
    }

    fn register_metrics(&self, registry: &Registry) {
        let stats = self.state.stats.clone();
        registry.on_scrape(move |r| {
            let c = stats.snapshot();
            for (name, v) in [("pages", c.pages), ("exports", c.exports), ("live_streams", c.live_streams), ("live_pushes", c.live_pushes), ("read_errors", c.read_errors), ("unauthorized", c.unauthorized)] {
                r.counter_set("nl_web_total", "Dashboard requests and pushes by kind.", &[("kind", name)], v as f64);
            }
        });
    }

    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<Counts, BoxError> {
        let counts = self.serve(shutdown).await?;
        Ok(Counts::of(&counts))
    }
}
