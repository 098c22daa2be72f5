//! Alerts: `[alerts.<name>]` sinks (generic JSON webhook, Slack, Discord, Telegram `sendMessage`) that
//! follow the ledger's committed events (`candidate.promoted` by default; `asset.discovered`,
//! `asset.delisted`) through [`LedgerReader::events_after`]. Read-side only, like the dashboard: a sink
//! reads the ledger and posts; it never writes the ledger and never blocks the pipeline.
//!
//! Per sink: filters (chain, venue, minimum score, minimum liquidity), a pace (`per_minute`), bounded
//! retries with backoff honouring 429 waits, and a durable cursor file under the state dir
//! (`<out_dir>/alerts/<name>.cursor.json`) that makes every event alerted on at most once, across
//! restarts, and none lost while a receiver is down. One process runs the sinks of a cursor directory: it
//! holds `<dir>/alerts.lock` (an OS file lock) while they run, and a second one refuses to start
//! ([`WebError::Locked`]). Each sink's counters show on the dashboard's sources page ([`AlertBoard`]).

pub mod config;
pub mod cursor;
pub mod deliver;
pub mod message;
mod page;
mod worker;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use nl_bus::{BoxError, Counts, Service, ServiceCtx};
use nl_domain::{LedgerReader, Ts};
use nl_telemetry::Registry;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use config::{AlertSinkConfig, SinkKind};
pub(crate) use page::board_section;

use crate::error::WebError;

/// One sink's counters and state, shown on the sources page and in `/metrics`.
#[derive(Debug)]
pub struct SinkStats {
    pub name: String,
    pub kind: SinkKind,
    /// Messages the receiver took.
    pub sent_total: AtomicU64,
    /// Events the filters left out.
    pub filtered: AtomicU64,
    /// Failed attempts that were retried (refused, timed out, 5xx).
    pub retries: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
    /// Rounds of `max_attempts` that all failed (the sink keeps trying).
    pub failures: AtomicU64,
    /// Requests whose outcome a crash left unknown (skipped, never sent twice).
    pub unconfirmed: AtomicU64,
    cursor: AtomicU64,
    state: Mutex<SinkState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct SinkState {
    state: String,
    last_error: Option<String>,
    last_sent_at: Option<Ts>,
}

/// A sink's figures at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkSnapshot {
    pub name: String,
    pub kind: &'static str,
    /// `starting`, `running`, `failing` (retrying), `stopped` (the receiver refused it; see `last_error`).
    pub state: String,
    pub sent: u64,
    pub filtered: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub failures: u64,
    pub unconfirmed: u64,
    /// The ledger sequence number the sink is done with.
    pub cursor: u64,
    pub last_error: Option<String>,
    pub last_sent_at: Option<Ts>,
}

impl SinkStats {
    fn new(name: &str, kind: SinkKind) -> Self {
        Self {
            name: name.to_string(),
            kind,
            sent_total: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unconfirmed: AtomicU64::new(0),
            cursor: AtomicU64::new(0),
            state: Mutex::new(SinkState { state: "starting".into(), ..SinkState::default() }),
        }
    }

    fn with_state(&self, f: impl FnOnce(&mut SinkState)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn set_state(&self, s: &str) {
        self.with_state(|st| st.state = s.to_string());
    }

    pub(crate) fn set_cursor(&self, seq: i64) {
        self.cursor.store(u64::try_from(seq).unwrap_or(0), Ordering::Relaxed);
    }

    pub(crate) fn note_error(&self, e: &str) {
        self.with_state(|st| st.last_error = Some(e.to_string()));
    }

    /// A counted failure: the sink keeps trying.
    pub(crate) fn fail(&self, e: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(sink = %self.name, error = %e, "Alert sink failing; it will retry.");
        self.with_state(|st| {
            st.state = "failing".into();
            st.last_error = Some(e.to_string());
        });
    }

    /// The sink gave up until it is restarted with a fixed setting.
    pub(crate) fn stop(&self, e: &str) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.with_state(|st| {
            st.state = "stopped".into();
            st.last_error = Some(e.to_string());
        });
    }

    pub(crate) fn sent(&self, at: Ts) {
        self.sent_total.fetch_add(1, Ordering::Relaxed);
        self.with_state(|st| {
            st.state = "running".into();
            st.last_sent_at = Some(at);
        });
    }

    #[must_use]
    pub fn snapshot(&self) -> SinkSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner).clone();
        SinkSnapshot {
            name: self.name.clone(),
            kind: self.kind.as_str(),
            state: st.state,
            sent: g(&self.sent_total),
            filtered: g(&self.filtered),
            retries: g(&self.retries),
            rate_limited: g(&self.rate_limited),
            failures: g(&self.failures),
            unconfirmed: g(&self.unconfirmed),
            cursor: g(&self.cursor),
            last_error: st.last_error,
            last_sent_at: st.last_sent_at,
        }
    }
}

/// Every sink's stats, shared with the dashboard.
#[derive(Debug, Default)]
pub struct AlertBoard {
    pub sinks: Vec<Arc<SinkStats>>,
}

impl AlertBoard {
    #[must_use]
    pub fn snapshot(&self) -> Vec<SinkSnapshot> {
        self.sinks.iter().map(|s| s.snapshot()).collect()
    }

    /// The sink called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<SinkSnapshot> {
        self.sinks.iter().find(|s| s.name == name).map(|s| s.snapshot())
    }
}

/// The enabled sinks, ready to run.
pub struct AlertsService {
    workers: Vec<worker::Worker>,
    board: Arc<AlertBoard>,
    /// Held while the sinks run (none when no sink is enabled).
    lock: Option<cursor::DirLock>,
}

impl std::fmt::Debug for AlertsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsService").field("sinks", &self.workers.iter().map(|w| w.name.as_str()).collect::<Vec<_>>()).finish()
    }
}

impl AlertsService {
    /// Validates every `[alerts.<name>]` table, reads the URLs and tokens from `ctx.env`, and prepares one
    /// worker per enabled sink; cursors live in `state_dir`, which this service locks (one alert process
    /// per cursor directory) until it stops.
    ///
    /// # Errors
    /// [`WebError::Config`] naming the sink and the key (or variable) to fix; [`WebError::Locked`] when
    /// another alert process holds `state_dir`.
    pub fn build(sinks: &BTreeMap<String, AlertSinkConfig>, state_dir: PathBuf, ctx: &ServiceCtx, reader: Arc<dyn LedgerReader>) -> Result<Self, WebError> {
        nl_adapters::kit::install_crypto_provider();
        let mut workers = Vec::new();
        for (name, cfg) in sinks.iter().filter(|(_, c)| c.enabled) {
            cfg.validate(name)?;
            let url = cfg.endpoint(name, &ctx.env)?;
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(cfg.timeout_ms))
                .user_agent(nl_adapters::kit::USER_AGENT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| WebError::Config(format!("[alerts.{name}] HTTP client: {e}")))?;
            workers.push(worker::Worker {
                name: name.clone(),
                cfg: cfg.clone(),
                url,
                client,
                reader: Arc::clone(&reader),
                file: cursor::CursorFile::new(&state_dir, name),
                stats: Arc::new(SinkStats::new(name, cfg.kind)),
            });
        }
        let lock = if workers.is_empty() { None } else { Some(cursor::DirLock::acquire(&state_dir)?) };
        let board = Arc::new(AlertBoard { sinks: workers.iter().map(|w| Arc::clone(&w.stats)).collect() });
        Ok(Self { workers, board, lock })
    }

    /// Whether any sink is enabled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The sinks' live stats (give it to the dashboard with [`crate::WebService::with_alerts`]).
    #[must_use]
    pub fn board(&self) -> Arc<AlertBoard> {
        Arc::clone(&self.board)
    }

    /// Runs every sink until `shutdown`; a request in progress is finished first.
    pub async fn serve(self, shutdown: CancellationToken) -> Vec<SinkSnapshot> {
        let Self { workers, board, lock } = self;
        let mut set = tokio::task::JoinSet::new();
        for w in workers {
            set.spawn(w.run(shutdown.clone()));
        }
        while set.join_next().await.is_some() {}
        drop(lock);
        board.snapshot()
    }
}

/// `nl_alerts_total{sink, kind}` (sent, filtered, retries, rate_limited, failures, unconfirmed) on every scrape.
pub fn export_metrics(board: Arc<AlertBoard>, registry: &Registry) {
    registry.on_scrape(move |r| {
        for s in board.snapshot() {
            for (kind, v) in [("sent", s.sent), ("filtered", s.filtered), ("retries", s.retries), ("rate_limited", s.rate_limited), ("failures", s.failures), ("unconfirmed", s.unconfirmed)] {
                r.counter_set("nl_alerts_total", "Alert sink messages and failures by kind.", &[("sink", s.name.as_str()), ("kind", kind)], v as f64);
            }
        }
    });
}

#[async_trait]
impl Service for AlertsService {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn durables(&self) -> Vec<String> {
        Vec::new()
    }

    fn register_metrics(&self, registry: &Registry) {
        export_metrics(self.board(), registry);
    }

    async fn run(self: Box<Self>, shutdown: CancellationToken) -> Result<Counts, BoxError> {
        let snaps = self.serve(shutdown).await;
        let sent: u64 = snaps.iter().map(|s| s.sent).sum();
        Ok(Counts::of(&serde_json::json!({ "sent": sent })))
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
