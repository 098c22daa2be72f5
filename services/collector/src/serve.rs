//! Distributed collector wiring (`nl-collector`, later `nl serve collector`): NATS bus, per-source leases and
//! source state in JetStream KV, every poll and push source of `[sources]`, until shutdown.
//!
//! Config sections used: `[nats]` ([`NatsConfig`]), `[sources]` ([`SourcesConfig`], poll and push entries),
//! `[push]` ([`PushOptionsMap`]) and `[collector]` ([`CollectorSettings`]). Other top-level sections are
//! ignored, so the shared `config/default.toml` loads as is. `[dex]` ([`DexSourcesConfig`]) adds the DEX
//! sources: polled, except EVM chains with a `ws_url`, which run as push tasks.
//!
//! [`build_feed_sources`] and [`Feeds`] are the config-to-running-sources part without NATS, for other
//! long-running embeddings (`nl run`).
//!
//! [`build_sources`] is [`build_feed_sources`] over the process environment (the embedded `nl run` uses it
//! with its own bus and state).
//! [`build`] connects and builds everything and hands back a [`CollectorReplica`] whose per-source
//! counters can be exported before [`CollectorReplica::run`]; [`serve`] does both in one call.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{BuildError, SourcesConfig, build_sources_for_run};
use nl_adapters::cex::push::PUSH_KINDS;
use nl_adapters::dex::config::{DexBuildError, DexSourcesConfig};
use nl_adapters::kit::{BudgetConfig, BudgetRegistry, EnvLookup};
use nl_bus::{Bus, NatsBus, NatsConfig, NatsLeases};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::push::evm::{EvmPushSource, build_dex_feeds};
use crate::push::solana::SolanaPushSource;
use crate::push::{PushOptionsMap, PushSource, PushStatus, build_push_sources};
use crate::runtime::{Collector, CollectorCtx, RunIdentity, SourceCounters};
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
    Sources(#[from] BuildError),
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

/// Every source of a long-running collector, built from config but not running.
pub struct FeedSources {
    /// Poll sources: CEX, aggregators, EVM chains without `ws_url`.
    pub polls: Vec<Arc<dyn Source>>,
    /// CEX push feeds of `[sources]`.
    pub pushes: Vec<Arc<PushSource>>,
    /// EVM chains with `ws_url`.
    pub evm_pushes: Vec<Arc<EvmPushSource>>,
    /// Solana RPCs with `ws_url`.
    pub solana_pushes: Vec<Arc<SolanaPushSource>>,
}

impl std::fmt::Debug for FeedSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSources").field("polls", &self.polls.len()).field("pushes", &self.pushes.len()).field("evm_pushes", &self.evm_pushes.len()).finish()
    }
}

/// Builds every enabled poll, push and DEX source of `cfg` (no network), with secrets read through `env`
/// and raws stamped with `run_id`.
///
/// # Errors
/// [`ServeError`] naming the invalid source or setting.
pub fn build_feed_sources(cfg: &ServeConfig, run_id: &str, env: EnvLookup) -> Result<FeedSources, ServeError> {
    cfg.sources.ensure_kinds_known(&PUSH_KINDS)?;
    let budgets = BudgetRegistry::new(cfg.sources.budget_configs()?, BudgetConfig::new(1.0, 1.0)).map_err(|e| ServeError::Budget(e.to_string()))?;
    let mut polls = build_sources_for_run(&cfg.sources, &budgets, &|k| env(k), run_id)?;
    let dex = build_dex_feeds(&cfg.dex, run_id, &|k| env(k))?;
    polls.extend(dex.polls);
    let pushes = build_push_sources(&cfg.sources, &cfg.push, &budgets, Arc::clone(&env), run_id)?;
    Ok(FeedSources { polls, pushes, evm_pushes: dex.pushes, solana_pushes: dex.solana })
}

/// The sources of a collector bound to their surroundings, ready to run.
pub struct Feeds {
    collector: Collector,
    pushes: Vec<Arc<PushSource>>,
    evm_pushes: Vec<Arc<EvmPushSource>>,
    solana_pushes: Vec<Arc<SolanaPushSource>>,
    ctx: CollectorCtx,
}

impl std::fmt::Debug for Feeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feeds").field("run", &self.ctx.run).finish_non_exhaustive()
    }
}

impl Feeds {
    /// Binds `sources` to `ctx` (bus, state, leases, run).
    #[must_use]
    pub fn new(sources: FeedSources, ctx: CollectorCtx) -> Self {
        // Known assets come from every instrument list: the poll sources and the push feeds' gap fills
        // (which save their state under the feed's name). Poll and push announcements check against them.
        let lists: Vec<Arc<dyn nl_adapters::Source>> =
            sources.polls.iter().cloned().chain(sources.pushes.iter().filter_map(|p| p.gap_fill_source().cloned())).collect();
        let known = Arc::new(crate::known::KnownAssets::of(&lists));
        for p in &sources.pushes {
            p.set_known(Arc::clone(&known));
        }
        Self {
            collector: Collector::new(sources.polls, ctx.clone()).with_known(known),
            pushes: sources.pushes,
            evm_pushes: sources.evm_pushes,
            solana_pushes: sources.solana_pushes,
            ctx,
        }
    }

    /// Names of the poll sources, then the push tasks (CEX feeds and EVM chains).
    #[must_use]
    pub fn source_names(&self) -> Vec<String> {
        let mut names = self.collector.source_names();
        names.extend(self.push_statuses().into_keys());
        names
    }

    /// Counters of every poll and push source, keyed by source name (for metrics).
    #[must_use]
    pub fn counters(&self) -> BTreeMap<String, Arc<SourceCounters>> {
        let mut all = self.collector.counters().clone();
        for (name, status) in self.push_statuses() {
            all.insert(name, Arc::clone(&status.counters));
        }
        all
    }

    /// Live status of every push task (CEX feeds and EVM chains), keyed by source name.
    #[must_use]
    pub fn push_statuses(&self) -> BTreeMap<String, Arc<PushStatus>> {
        let cex = self.pushes.iter().map(|p| (p.name().to_string(), p.status()));
        let evm = self.evm_pushes.iter().map(|p| (p.name().to_string(), p.status()));
        cex.chain(evm).chain(self.solana_pushes.iter().map(|p| (p.name().to_string(), Arc::clone(&p.status().push)))).collect()
    }

    /// Runs every source until `shutdown` resolves; then every task stops (releasing its leases) before
    /// this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let Feeds { collector, pushes, evm_pushes, solana_pushes, ctx } = self;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut poll_stop = stop_rx.clone();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(collector.run(async move {
            let _ = poll_stop.wait_for(|s| *s).await;
        }));
        for p in pushes {
            tasks.spawn(p.run(ctx.clone(), stop_rx.clone()));
        }
        for p in evm_pushes {
            tasks.spawn(p.run(ctx.clone(), stop_rx.clone()));
        }
        for p in solana_pushes {
            tasks.spawn(p.run(ctx.clone(), stop_rx.clone()));
        }
        shutdown.await;
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
    }
}

/// A collector replica, connected and built, not yet running.
pub struct CollectorReplica {
    feeds: Feeds,
    owner: String,
}

impl std::fmt::Debug for CollectorReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorReplica").field("owner", &self.owner).field("feeds", &self.feeds).finish_non_exhaustive()
    }
}

/// [`build_feed_sources`] with secrets read from the process environment (the variables the config names).
/// `[nats]` and `[collector]` are not used here.
///
/// # Errors
/// [`ServeError`] naming the source and field to fix (unknown kind, bad URL, conflicting budgets...).
pub fn build_sources(cfg: &ServeConfig, run_id: &str) -> Result<FeedSources, ServeError> {
    build_feed_sources(cfg, run_id, Arc::new(|k| std::env::var(k).ok()))
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
    info!(%owner, run_id = %ctx.run.run_id, ?sources, lease_ttl = ?ttl, "Collector built.");
    Ok(CollectorReplica::new(sources, ctx, owner))
}

impl CollectorReplica {
    /// A replica over `sources` and any context: NATS with leases here, or the embedded bus without leases
    /// (`nl run`, where `owner` only names the process in logs).
    #[must_use]
    pub fn new(sources: FeedSources, ctx: CollectorCtx, owner: String) -> Self {
        Self { feeds: Feeds::new(sources, ctx), owner }
    }

    /// Names of the poll sources and push tasks, in that order.
    #[must_use]
    pub fn source_names(&self) -> Vec<String> {
        self.feeds.source_names()
    }

    /// Counters of every poll and push source, keyed by source name (for metrics).
    #[must_use]
    pub fn counters(&self) -> BTreeMap<String, Arc<SourceCounters>> {
        self.feeds.counters()
    }

    /// This replica's lease owner id.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs every source (each under its lease) until `shutdown` resolves; then every task stops and
    /// releases its leases before this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let CollectorReplica { feeds, owner } = self;
        info!(%owner, "Collector starting.");
        feeds
            .run(async move {
                shutdown.await;
                info!("Collector stopping; releasing leases.");
            })
            .await;
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
