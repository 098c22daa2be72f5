//! Distributed collector wiring (`nl-collector`, later `nl serve collector`): NATS bus, per-source leases and
//! source state in JetStream KV, every poll and push source of `[sources]`, until shutdown.
//!
//! Config sections used: `[nats]` ([`NatsConfig`]), `[sources]` ([`SourcesConfig`], poll and push entries),
//! `[push]` ([`PushOptionsMap`]) and `[collector]` ([`CollectorSettings`]). Other top-level sections are
//! ignored, so the shared `config/default.toml` loads as is. `[dex]` ([`DexSourcesConfig`]) adds the DEX
//! sources to the polled set.
//!
//! [`build_sources`] builds the sources alone (the embedded `nl run` uses it with its own bus and state).
//! [`build`] connects and builds everything and hands back a [`CollectorReplica`] whose per-source
//! counters can be exported before [`CollectorReplica::run`]; [`serve`] does both in one call.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use nl_bus::{Bus, NatsBus, NatsConfig, NatsLeases};
use nl_sourcekit::{BudgetConfig, BudgetRegistry, EnvLookup};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::{SourcesConfig, build_sources_for_run};
use crate::push::{PUSH_KINDS, PushOptionsMap, PushSource, build_push_sources, run_push_sources};
use crate::runtime::{Collector, CollectorCtx, RunIdentity, SourceCounters};
use crate::source::Source;
use crate::sources::dex::config::{DexBuildError, DexSourcesConfig, build_dex_sources};
use crate::state_nats::{NatsStateStore, STATE_BUCKET};

fn d_lease_ttl_secs() -> u64 {
    15
}
fn d_lease_bucket() -> String {
    "nl_leases".into()
}
fn d_state_bucket() -> String {
    STATE_BUCKET.into()
}

/// `[collector]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorSettings {
    /// Lease TTL in seconds (default 15); leases are renewed every third of it.
    #[serde(default = "d_lease_ttl_secs")]
    pub lease_ttl_secs: u64,
    /// Replica id written into leases (default `<hostname>-<pid>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// KV bucket of the leases (default `nl_leases`).
    #[serde(default = "d_lease_bucket")]
    pub lease_bucket: String,
    /// KV bucket of the source state (default `nl_source_state`).
    #[serde(default = "d_state_bucket")]
    pub state_bucket: String,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        Self { lease_ttl_secs: d_lease_ttl_secs(), owner: None, lease_bucket: d_lease_bucket(), state_bucket: d_state_bucket() }
    }
}

/// The config of the distributed collector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServeConfig {
    #[serde(default)]
    pub nats: NatsConfig,
    #[serde(default)]
    pub sources: SourcesConfig,
    #[serde(default)]
    pub push: PushOptionsMap,
    #[serde(default)]
    pub collector: CollectorSettings,
    /// DEX sources (GeckoTerminal, DexScreener, EVM factory logs), polled under leases like the rest.
    #[serde(default)]
    pub dex: DexSourcesConfig,
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("sources: {0}")]
    Sources(#[from] crate::config::BuildError),
    #[error("budgets: {0}")]
    Budget(String),
    #[error("nats: {0}")]
    Bus(#[from] nl_bus::BusError),
    #[error("source state: {0}")]
    State(#[from] crate::state::StateError),
    #[error("invalid [collector] setting: {0}")]
    Settings(String),
    #[error("dex sources: {0}")]
    Dex(#[from] DexBuildError),
}

/// `<hostname>-<pid>`: unique per replica (containers have distinct hostnames, processes distinct pids).
#[must_use]
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("{host}-{}", std::process::id())
}

/// A collector replica, connected and built, not yet running.
pub struct CollectorReplica {
    collector: Collector,
    pushes: Vec<Arc<PushSource>>,
    ctx: CollectorCtx,
    owner: String,
}

impl std::fmt::Debug for CollectorReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorReplica").field("owner", &self.owner).field("run", &self.ctx.run).finish_non_exhaustive()
    }
}

/// Every enabled poll source (CEX lists and announcements, then DEX) and push feed of a config.
pub struct SourceSet {
    pub polls: Vec<Arc<dyn Source>>,
    pub pushes: Vec<Arc<PushSource>>,
}

/// Builds every enabled poll, push and DEX source of `cfg` (one budget registry shared by all of them),
/// stamping `run_id` on their raws. Secrets are read from the environment variables the config names.
/// `[nats]` and `[collector]` are not used here.
///
/// # Errors
/// [`ServeError`] naming the source and field to fix (unknown kind, bad URL, conflicting budgets...).
pub fn build_sources(cfg: &ServeConfig, run_id: &str) -> Result<SourceSet, ServeError> {
    cfg.sources.ensure_kinds_known(&PUSH_KINDS)?;
    let budgets = BudgetRegistry::new(cfg.sources.budget_configs()?, BudgetConfig::new(1.0, 1.0)).map_err(|e| ServeError::Budget(e.to_string()))?;
    let env: EnvLookup = Arc::new(|k| std::env::var(k).ok());
    let mut polls = build_sources_for_run(&cfg.sources, &budgets, &|k| env(k), run_id)?;
    polls.extend(build_dex_sources(&cfg.dex, run_id)?);
    let pushes = build_push_sources(&cfg.sources, &cfg.push, &budgets, Arc::clone(&env), run_id)?;
    Ok(SourceSet { polls, pushes })
}

/// Connects NATS, opens the lease and state buckets and builds every enabled poll, push and DEX source,
/// stamping `run` on everything it publishes.
///
/// # Errors
/// [`ServeError`] when the config is invalid or NATS/KV cannot be reached.
pub async fn build(cfg: ServeConfig, run: RunIdentity) -> Result<CollectorReplica, ServeError> {
    if cfg.collector.lease_ttl_secs == 0 {
        return Err(ServeError::Settings("lease_ttl_secs must be at least 1".into()));
    }
    let sources = build_sources(&cfg, &run.run_id)?;
    let bus = NatsBus::connect(&cfg.nats).await?;
    let js = bus.jetstream().clone();
    let ttl = Duration::from_secs(cfg.collector.lease_ttl_secs);
    let owner = cfg.collector.owner.clone().unwrap_or_else(default_owner);
    let leases = NatsLeases::open(&js, &cfg.collector.lease_bucket, ttl, owner.clone()).await?;
    let state = NatsStateStore::open(&js, &cfg.collector.state_bucket).await?;
    let bus: Arc<dyn Bus> = Arc::new(bus);
    let ctx = CollectorCtx { bus, state: Arc::new(state), leases: Some(Arc::new(leases)), lease_renew_every: ttl / 3, run };
    info!(%owner, run_id = %ctx.run.run_id, polls = sources.polls.len(), pushes = sources.pushes.len(), lease_ttl = ?ttl, "Collector built.");
    Ok(CollectorReplica::new(sources, ctx, owner))
}

impl CollectorReplica {
    /// A replica over `sources` and any context: NATS with leases here, or the embedded bus without leases
    /// (`nl run`, where `owner` only names the process in logs).
    #[must_use]
    pub fn new(sources: SourceSet, ctx: CollectorCtx, owner: String) -> Self {
        Self { collector: Collector::new(sources.polls, ctx.clone()), pushes: sources.pushes, ctx, owner }
    }

    /// Names of the poll sources and push feeds, in that order.
    #[must_use]
    pub fn source_names(&self) -> Vec<String> {
        let mut names = self.collector.source_names();
        names.extend(self.pushes.iter().map(|p| p.name().to_string()));
        names
    }

    /// Counters of every poll and push source, keyed by source name (for metrics).
    #[must_use]
    pub fn counters(&self) -> BTreeMap<String, Arc<SourceCounters>> {
        let mut all = self.collector.counters().clone();
        for p in &self.pushes {
            all.insert(p.name().to_string(), Arc::clone(&p.status().counters));
        }
        all
    }

    /// This replica's lease owner id.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs every source (each under its lease) until `shutdown` resolves; then every task stops and
    /// releases its leases before this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let CollectorReplica { collector, pushes, ctx, owner } = self;
        info!(%owner, "Collector starting.");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut poll_stop = stop_rx.clone();
        let poll_task = tokio::spawn(collector.run(async move {
            let _ = poll_stop.wait_for(|s| *s).await;
        }));
        let push_task = tokio::spawn(run_push_sources(pushes, ctx, stop_rx));
        shutdown.await;
        info!("Collector stopping; releasing leases.");
        let _ = stop_tx.send(true);
        let _ = poll_task.await;
        let _ = push_task.await;
        info!("Collector stopped.");
    }
}

/// Runs the collector until `shutdown` resolves: [`build`] with a fresh run id, then
/// [`CollectorReplica::run`].
///
/// # Errors
/// [`ServeError`] when the config is invalid or NATS/KV cannot be reached at start.
pub async fn serve(cfg: ServeConfig, config_hash: String, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
    let run = RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash };
    build(cfg, run).await?.run(shutdown).await;
    Ok(())
}
