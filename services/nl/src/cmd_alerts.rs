//! Starting the `[alerts.<name>]` sinks beside `nl run` (embedded, over the run's DB read-only) and
//! `nl serve web` (distributed, over the ledger's gRPC). Cursors live in `<out_dir>/alerts/`. Sinks run in
//! one place only: `nl web` (a viewer) does not start them.

use std::sync::Arc;

use anyhow::Context;
use nl_bus::{CancellationToken, ServiceCtx};
use nl_domain::LedgerReader;
use nl_web::{AlertBoard, AlertsService};

use crate::config::NlConfig;

/// Running sinks: their board (for the dashboard), the stop token and the task.
pub struct RunningAlerts {
    pub board: Arc<AlertBoard>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Vec<nl_web::alerts::SinkSnapshot>>,
}

impl RunningAlerts {
    /// Stops the sinks (a request in progress finishes) and prints each sink's figures on stderr.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Ok(snaps) = self.task.await {
            for s in snaps {
                eprintln!(
                    "alerts {}: {} sent, {} filtered, {} retries, {} 429s, {} failures{}",
                    s.name,
                    s.sent,
                    s.filtered,
                    s.retries,
                    s.rate_limited,
                    s.failures,
                    s.last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
                );
            }
        }
    }
}

/// Starts the enabled sinks, `None` when there are none.
///
/// # Errors
/// A sink's setting or environment variable is missing or bad (one line naming it).
pub fn start(cfg: &NlConfig, ctx: &ServiceCtx, reader: Arc<dyn LedgerReader>) -> anyhow::Result<Option<RunningAlerts>> {
    if !cfg.alerts.values().any(|s| s.enabled) {
        return Ok(None);
    }
    let dir = cfg.storage.out_dir.join("alerts");
    let svc = AlertsService::build(&cfg.alerts, dir.clone(), ctx, reader).context("starting the alert sinks")?;
    let board = svc.board();
    tracing::info!(sinks = board.sinks.len(), cursors = %dir.display(), "Alert sinks.");
    let stop = CancellationToken::new();
    let task = tokio::spawn(svc.serve(stop.clone()));
    Ok(Some(RunningAlerts { board, stop, task }))
}
