//! `nl serve orchestrator`: L0 in distributed mode ([`nl_runtime::Orchestrator`]): gRPC `Orchestrator` on
//! `[orchestrator] grpc_addr` (bearer token as every gRPC service), cycles on trigger or on
//! `[orchestrator] cycle_every_secs`, run events on NATS, manifests under `<out_dir>/runs/`, and AI jobs on
//! the schedule ([`nl_runtime::ai_schedule`]: one `ai.job.requested` for L2 per `[ai] regime_interval_secs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use nl_bus::{Bus, CancellationToken, NatsBus};
use nl_config::Loaded;
use tokio::net::TcpListener;

use crate::config::NlConfig;

/// The durables a cycle waits on: every pipeline service's (the ledger has two: events and raws).
#[must_use]
pub fn pipeline_durables(cfg: &NlConfig) -> Vec<String> {
    vec![
        cfg.enricher.durable.clone(),
        cfg.risk_scorer.durable.clone(),
        cfg.gate.durable.clone(),
        cfg.ledger.durable.clone(),
        nl_ledger::service::raw_durable(&cfg.ledger.durable),
        cfg.recorder.durable.clone(),
    ]
}

/// Serves until `stop`.
///
/// # Errors
/// NATS unreachable, the state bucket or the listen address unavailable, or a bad token setting.
pub async fn serve(loaded: &Loaded<NlConfig>, ready: &AtomicBool, stop: CancellationToken) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let mut ocfg = cfg.orchestrator.clone();
    if ocfg.drain_durables.is_empty() {
        ocfg.drain_durables = pipeline_durables(cfg);
    }
    let nats = NatsBus::connect(&cfg.nats).await.with_context(|| format!("connecting to NATS at {}", nl_domain::redact::redact_urls(&cfg.nats.url)))?;
    let state = nl_collector::state_nats::NatsStateStore::open(nats.jetstream(), &cfg.collector.state_bucket).await.context("opening the source state bucket")?;
    let bus: Arc<dyn Bus> = Arc::new(nats);
    let bus_for_schedule = Arc::clone(&bus);
    let token = nl_proto::auth::token_from_env(&cfg.serve.grpc_token_env, |k| std::env::var(k).ok()).context("[serve] grpc_token_env")?;
    let reader: Arc<dyn nl_domain::LedgerReader> = Arc::new(cfg.serve.ledger_reader()?);
    let addr = ocfg.grpc_addr;
    let orch = nl_runtime::Orchestrator::new(crate::cmd_cycle::cycle_config(loaded), ocfg, bus, Arc::new(state), Some(reader), stop.clone());
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding gRPC Orchestrator on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "gRPC Orchestrator serving.");
    let schedule = tokio::spawn(orch.clone().schedule());
    // AI jobs on L0's schedule (L2 market regime every `[ai] regime_interval_secs`), under this process's identity.
    let identity = nl_domain::RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: loaded.config_hash.clone() };
    let ai_schedule = nl_runtime::ai_schedule::spawn(&cfg.ai, &bus_for_schedule, &identity, &stop);
    ready.store(true, Ordering::Relaxed);
    let service = orch.grpc(nl_proto::auth::RequireBearer::new(token));
    let stopped = stop.clone();
    nl_proto::tls::server(cfg.serve.server_tls()?)
        .context("[serve] tls_cert_path / tls_key_path")?
        .add_service(service)
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), stopped.cancelled_owned())
        .await
        .context("gRPC Orchestrator")?;
    stop.cancel();
    let _ = schedule.await;
    if let Some(s) = ai_schedule {
        let _ = s.await;
    }
    Ok(())
}
