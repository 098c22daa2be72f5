//! `nl serve <service>`: one service against NATS JetStream (distributed mode).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use nl_bus::{Bus, NatsBus};
use nl_config::Loaded;

use crate::cli::ServiceName;
use crate::config::NlConfig;
use crate::shutdown;

/// Runs one service until SIGINT/SIGTERM, then drains the batch in flight and exits.
///
/// # Errors
/// NATS unreachable, bad service config, or a fatal service error.
pub async fn serve(loaded: &Loaded<NlConfig>, service: ServiceName) -> anyhow::Result<ExitCode> {
    let cfg = &loaded.config;
    let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&cfg.nats).await.with_context(|| format!("connecting to NATS at {}", cfg.nats.url))?);
    tracing::info!(service = ?service, config_hash = %loaded.config_hash, "Serving.");
    match service {
        ServiceName::Ledger => {
            let svc = nl_ledger::build(cfg.ledger.clone(), bus).await.context("starting the ledger")?;
            let counts = svc.run(shutdown::signal()).await.context("ledger stopped")?;
            tracing::info!(?counts, "Ledger stopped.");
        }
        ServiceName::Recorder => {
            let svc = nl_recorder::build(cfg.recorder.clone(), bus).await.context("starting the recorder")?;
            let counts = svc.run(shutdown::signal()).await.context("recorder stopped")?;
            tracing::info!(?counts, "Recorder stopped.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
