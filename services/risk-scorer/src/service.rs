//! The risk-scorer service: a durable pull consumer on `nl.evt.snapshot.recorded`.
//!
//! Per snapshot: refresh the provider reports of the asset that are older than the cache TTL
//! (EVM: GoPlus + honeypot.is; Solana: rugcheck; CEX-only: none), then [`evaluate`] → `risk.evaluated` and
//! [`score`] → `score.computed`. Per fetched batch, every captured response is published as a `raw.captured`
//! event on `nl.raw.<provider>` FIRST (one pipelined batch), then the batch's events (another), and only
//! then are the snapshots acked.
//!
//! * `risk.evaluated` meta is the [`RiskEvaluation`]; its id derives from asset, snapshot event id and
//!   rule-set version, so a redelivered snapshot republishes the same id (deduplicated downstream).
//! * `score.computed` meta is a [`ScoreComputed`]: the [`ScoreRecord`] fields plus `inputs`
//!   (`[snapshot_event_id, risk_event_id]`), `evaluation`, `snapshot`, `source_count` and
//!   `provider_raw_ids`, so the gate is stateless and a decision can be re-derived from the event alone.
//! * The score's source count is the snapshot event's `meta.source_count` when present, else 1: the
//!   enricher knows how many sources saw the asset, the snapshot itself does not.
//! * A merged snapshot (`meta.merge.members`, one snapshot per source) adds the `source_disagreement`
//!   check when two or more sources gave a price ([`crate::sources`]).
//! * A provider that fails, is rate-limited or whose budget is paused gives no report: its checks are
//!   `Unknown`, never `Pass`. Re-evaluation over time follows from the enricher re-snapshotting on a
//!   schedule; verdicts past their TTL count as unknown.
//! * The clock is injected ([`Clock`]) so recorded scenarios replay at their own time. By default
//!   ([`ServiceClock`]) a snapshot is evaluated as of its observation time, and provider requests can be
//!   answered from recorded responses ([`RiskScorerCtx::with_recorded`]), so re-deriving from raw_events
//!   gives the same results.
//!
//! The consumer loop is the `nl-bus` handler kernel: [`RiskScorer`] is a [`Handler`] whose order key is the
//! asset, so snapshots of one asset are evaluated in order and different assets concurrently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_bus::handler::ERRORS_HELP;
use nl_bus::{
    Bus, BusError, CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Handler, Message, Outcome, Registry,
    ServiceCtx,
};
use nl_domain::{AssetId, Envelope, EventType, RawEvent, Snapshot, Ts};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{Span, debug, info};

use nl_adapters::kit::RecordedResponses;
use nl_adapters::providers::{ClientError, Provider, ProviderClients, ProvidersConfig};

use crate::cache::{CachedReport, ReportCache};
use crate::{RiskRules, ScoreConfig, evaluate, score};

/// Subject the service consumes.
pub const SNAPSHOT_SUBJECT: &str = "nl.evt.snapshot.recorded";
/// `source` stamped on the envelopes the service publishes.
pub const SERVICE_SOURCE: &str = "risk-scorer";
/// Largest accepted `batch_size` and `concurrency` (invariant 8).
pub const MAX_BOUND: usize = 10_000;

/// Where the scorer gets time from: the service clock plus replay timing.
pub trait Clock: Send + Sync {
    /// The evaluation time.
    fn now(&self) -> Ts;
    /// The time recorded on a provider response for `asset` received now (raw event and report alike).
    /// Defaults to [`Clock::now`]; a replay clock returns the recorded time.
    fn received_at(&self, _provider: Provider, _asset: &AssetId) -> Ts {
        self.now()
    }
    /// The time a snapshot observed at `snapshot_observed_at` is evaluated at. Defaults to [`Clock::now`].
    fn evaluation_time(&self, _snapshot_observed_at: Ts) -> Ts {
        self.now()
    }
}

/// The service's clock ([`ServiceCtx::clock`]) for provider responses; snapshots are evaluated at their
/// observation time.
pub struct ServiceClock(pub Arc<dyn nl_bus::Clock>);

impl Clock for ServiceClock {
    fn now(&self) -> Ts {
        self.0.now()
    }
    /// A snapshot is evaluated as of its own observation time, never the wall clock, so re-deriving it
    /// from raw_events gives the same ages, expiries, scores and decisions.
    fn evaluation_time(&self, snapshot_observed_at: Ts) -> Ts {
        snapshot_observed_at
    }
}

/// `[risk_scorer]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskScorerConfig {
    /// Durable consumer name (default `risk-scorer`); replicas with the same name share the work.
    pub durable: String,
    pub rules: RiskRules,
    pub score: ScoreConfig,
    pub providers: ProvidersConfig,
    /// A cached provider report younger than this is reused instead of asking again (default 300).
    pub report_cache_ttl_secs: u64,
    /// Assets whose reports are cached (default 10 000); the least recently used is evicted.
    pub report_cache_max_assets: usize,
    /// Deliveries per fetch (default 64).
    pub batch_size: usize,
    /// Assets evaluated at once (default 16).
    pub concurrency: usize,
    /// How long one fetch waits for messages (default 500).
    pub fetch_wait_ms: u64,
    /// Consumer `ack_wait` (default 60 000: provider calls are slow).
    pub ack_wait_ms: u64,
    /// Consumer `max_deliver` (default 5).
    pub max_deliver: u32,
    /// Redelivery delay after a publish failure (default 1 000).
    pub nak_delay_ms: u64,
}

impl Default for RiskScorerConfig {
    fn default() -> Self {
        Self {
            durable: "risk-scorer".into(),
            rules: RiskRules::default(),
            score: ScoreConfig::default(),
            providers: ProvidersConfig::default(),
            report_cache_ttl_secs: 300,
            report_cache_max_assets: 10_000,
            batch_size: 64,
            concurrency: 16,
            fetch_wait_ms: 500,
            ack_wait_ms: 60_000,
            max_deliver: 5,
            nak_delay_ms: 1_000,
        }
    }
}

impl RiskScorerConfig {
    /// The consumer spec this config asks for.
    #[must_use]
    pub fn consumer_spec(&self) -> ConsumerSpec {
        ConsumerSpec::tuned(self.durable.clone(), SNAPSHOT_SUBJECT, self.ack_wait_ms, self.max_deliver, self.batch_size)
    }

    /// Validates rules, score formula, budgets and bounds.
    ///
    /// # Errors
    /// [`ServiceError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let bad = |m: String| Err(ServiceError::Config(m));
        self.rules.validate().map_err(|e| ServiceError::Config(e.to_string()))?;
        self.score.validate().map_err(|e| ServiceError::Config(e.to_string()))?;
        for p in Provider::ALL {
            self.providers.of(p).budget.validate().map_err(|e| ServiceError::Config(format!("providers.{p}.budget: {e}")))?;
        }
        if !(1..=MAX_BOUND).contains(&self.batch_size) || !(1..=MAX_BOUND).contains(&self.concurrency) {
            return bad(format!("batch_size and concurrency must be 1..={MAX_BOUND}"));
        }
        if self.report_cache_max_assets == 0 || self.fetch_wait_ms == 0 {
            return bad("report_cache_max_assets and fetch_wait_ms must be positive".into());
        }
        self.consumer_spec().validate().map_err(|e| ServiceError::Config(e.to_string()))
    }
}

/// Errors of the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid risk-scorer config: {0}")]
    Config(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

/// The `score.computed` body (defined with every other event body in nl-domain).
pub use nl_domain::ScoreComputed;

/// The run identity (shared with every service).
pub use nl_domain::RunIdentity;

/// Resolves an environment variable (injected so tests need not touch the process environment).
pub use nl_bus::EnvLookup;

/// What the service needs from its surroundings: the [`ServiceCtx`] plus the scorer's own extras.
#[derive(Clone)]
pub struct RiskScorerCtx {
    pub service: ServiceCtx,
    /// Replay timing; `None` is [`ServiceClock`] over the service clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// Recorded provider responses to answer from instead of the network (re-derivation).
    pub recorded: Option<Arc<dyn RecordedResponses>>,
}

impl From<ServiceCtx> for RiskScorerCtx {
    fn from(service: ServiceCtx) -> Self {
        Self { service, clock: None, recorded: None }
    }
}

impl RiskScorerCtx {
    /// A context on the wall clock and the process environment.
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>, run: RunIdentity) -> Self {
        ServiceCtx::new(bus, run).into()
    }

    /// Replaces the clock (replays: a fixed `now`, recorded response times).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Answers provider requests from `recorded` instead of the network (re-derivation from raw_events).
    #[must_use]
    pub fn with_recorded(mut self, recorded: Arc<dyn RecordedResponses>) -> Self {
        self.recorded = Some(recorded);
        self
    }
}

/// Live counters: the kernel's, plus the scorer's own.
#[derive(Debug, Default)]
pub struct RiskScorerStats {
    pub consumer: Arc<ConsumerStats>,
    pub evaluated: AtomicU64,
    pub provider_fetches: AtomicU64,
    pub provider_failures: AtomicU64,
    pub cache_hits: AtomicU64,
}

/// A snapshot of [`RiskScorerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RiskScorerCounts {
    pub received: u64,
    pub evaluated: u64,
    pub published: u64,
    pub provider_fetches: u64,
    pub provider_failures: u64,
    pub cache_hits: u64,
    /// Undecodable deliveries and snapshot events that could not be evaluated, terminated.
    pub poison: u64,
    pub retried: u64,
    pub settle_errors: u64,
}

impl RiskScorerStats {
    fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> RiskScorerCounts {
        let c = self.consumer.snapshot();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RiskScorerCounts {
            received: c.received,
            evaluated: g(&self.evaluated),
            published: c.published,
            provider_fetches: g(&self.provider_fetches),
            provider_failures: g(&self.provider_failures),
            cache_hits: g(&self.cache_hits),
            poison: c.undecodable + c.poison,
            retried: c.retried,
            settle_errors: c.settle_errors,
        }
    }

    /// The kernel's fixed metric set plus `nl_errors_total{stage="provider"}` and
    /// `nl_risk_provider_fetches_total`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        let c = self.snapshot();
        r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", "provider")], c.provider_failures as f64);
        r.counter_set("nl_risk_provider_fetches_total", "Security-provider calls.", &[], c.provider_fetches as f64);
    }
}

/// Why a snapshot was not processed.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message can never be processed (not an envelope, meta not a snapshot): dead-letter it.
    #[error("poison: {0}")]
    Poison(String),
}

/// The events one snapshot produced, in publish order.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub raws: Vec<RawEvent>,
    pub risk: Envelope,
    pub score: Envelope,
}

/// The evaluation core, shared by the consumer loop and in-process callers (benches, replays).
pub struct RiskScorerCore {
    cfg: RiskScorerConfig,
    run: RunIdentity,
    clock: Arc<dyn Clock>,
    clients: ProviderClients,
    cache: Mutex<ReportCache>,
    stats: Arc<RiskScorerStats>,
}

impl std::fmt::Debug for RiskScorerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskScorerCore").field("durable", &self.cfg.durable).field("clients", &self.clients).finish_non_exhaustive()
    }
}

impl RiskScorerCore {
    /// Validates `cfg` and builds the provider clients.
    ///
    /// # Errors
    /// [`ServiceError::Config`] or [`ServiceError::Client`].
    pub fn new(cfg: RiskScorerConfig, ctx: RiskScorerCtx) -> Result<Self, ServiceError> {
        cfg.validate()?;
        let RiskScorerCtx { service, clock, recorded } = ctx;
        let mut clients = ProviderClients::new(&cfg.providers, &service.run.run_id, service.env.as_ref())?;
        if let Some(rec) = recorded {
            clients = clients.with_recorded(rec);
        }
        let cache = Mutex::new(ReportCache::new(cfg.report_cache_max_assets, cfg.report_cache_ttl_secs));
        let clock = clock.unwrap_or_else(|| Arc::new(ServiceClock(service.clock)));
        Ok(Self { cfg, run: service.run, clock, clients, cache, stats: Arc::new(RiskScorerStats::default()) })
    }

    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<RiskScorerStats> {
        Arc::clone(&self.stats)
    }

    /// The provider clients (budgets and HTTP stats for metrics).
    #[must_use]
    pub fn clients(&self) -> &ProviderClients {
        &self.clients
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ReportCache> {
        // Every cache update is a plain insert; a panicked holder cannot leave it half-written.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refreshes stale reports, evaluates and scores one `snapshot.recorded` envelope. Publishes nothing.
    ///
    /// # Errors
    /// [`HandleError::Poison`] when the envelope is not a snapshot event.
    pub async fn evaluate_envelope(&self, env: &Envelope) -> Result<Evaluated, HandleError> {
        if env.kind != EventType::SnapshotRecorded {
            return Err(HandleError::Poison(format!("expected snapshot.recorded, got {}", env.kind)));
        }
        let snapshot = Snapshot::deserialize(&env.meta).map_err(|e| HandleError::Poison(format!("meta is not a Snapshot: {e}")))?;
        let source_count = env.meta.get("source_count").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
        let asset = snapshot.asset_id.clone();
        let now = self.clock.evaluation_time(snapshot.observed_at);

        let asked = self.clients.asked_about(&asset);
        let stale: Vec<Provider> = {
            let cache = self.cache();
            asked.iter().copied().filter(|p| !cache.is_fresh(&asset, *p, now)).collect()
        };
        RiskScorerStats::add(&self.stats.cache_hits, asked.len() - stale.len());
        let fetches = futures::future::join_all(stale.iter().map(|p| self.clients.fetch(*p, &asset, self.clock.received_at(*p, &asset)))).await;
        let mut raws = Vec::with_capacity(fetches.len());
        {
            let mut cache = self.cache();
            for f in fetches {
                RiskScorerStats::add(&self.stats.provider_fetches, 1);
                let raw_ids = f.raws.iter().map(|r| r.raw_id.clone()).collect();
                match f.report {
                    Ok(report) => cache.put(&asset, CachedReport { report, raw_ids }),
                    Err(why) => {
                        RiskScorerStats::add(&self.stats.provider_failures, 1);
                        debug!(provider = %f.provider, asset = %asset, %why, "No provider report; its checks stay unknown.");
                    }
                }
                raws.extend(f.raws);
            }
        }
        let cached = self.cache().get(&asset);
        let reports: Vec<_> = cached.iter().map(|c| c.report.clone()).collect();
        let provider_raw_ids: Vec<String> = cached.iter().flat_map(|c| c.raw_ids.iter().cloned()).collect();

        let mut evaluation = evaluate(&asset, Some(&snapshot), &reports, &self.cfg.rules, now);
        // A merged view (one snapshot per source in `meta.merge`) whose sources' prices disagree is a fact.
        crate::sources::add_source_check(&mut evaluation, &crate::sources::members_of(&env.meta), &self.cfg.rules);
        let texts: Vec<&str> = env.symbol.iter().map(String::as_str).chain(["name", "token_name", "description"].iter().filter_map(|k| env.meta.get(*k).and_then(Value::as_str))).collect();
        crate::rules::apply_metadata_injection(&mut evaluation, &texts, &self.cfg.rules);
        let record = score(&evaluation, Some(&snapshot), source_count, &self.cfg.score);
        let asset_str = asset.to_string();
        let (run_id, config_hash) = (&self.run.run_id, &self.run.config_hash);
        let snap_id = env.event_id.as_str();

        let risk_meta = serde_json::to_value(&evaluation).map_err(|e| HandleError::Poison(format!("evaluation JSON: {e}")))?;
        let risk = stamp(
            Envelope::new(EventType::RiskEvaluated, &[&asset_str, snap_id, &evaluation.rule_set_version], now, run_id, config_hash, risk_meta),
            env,
            &asset,
        );
        let computed_at = record.computed_at;
        let formula = record.formula_version.clone();
        let meta = ScoreComputed {
            record,
            inputs: vec![snap_id.to_string(), risk.event_id.0.clone()],
            evaluation,
            snapshot: Some(snapshot),
            source_count,
            provider_raw_ids,
        }
        .to_meta()
        .map_err(|e| HandleError::Poison(format!("score JSON: {e}")))?;
        let score_env = stamp(
            Envelope::new(EventType::ScoreComputed, &[&asset_str, risk.event_id.as_str(), &formula], computed_at, run_id, config_hash, meta),
            env,
            &asset,
        );
        RiskScorerStats::add(&self.stats.evaluated, 1);
        Ok(Evaluated { raws, risk, score: score_env })
    }
}

/// Copies symbol and chain from the snapshot envelope and stamps asset and source.
fn stamp(mut out: Envelope, snap: &Envelope, asset: &AssetId) -> Envelope {
    out.symbol.clone_from(&snap.symbol);
    out.chain = asset.chain_slug().map(String::from).or_else(|| snap.chain.clone());
    out.with_asset(asset.to_string()).with_source(SERVICE_SOURCE)
}

/// The built service; [`RiskScorer::run`] drives it.
pub struct RiskScorer {
    consumer: Consumer<Scoring>,
    core: Arc<RiskScorerCore>,
}

impl std::fmt::Debug for RiskScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskScorer").field("core", &self.core).finish_non_exhaustive()
    }
}

/// The scorer's [`Handler`]: one snapshot in; its raw captures, `risk.evaluated` and `score.computed` out.
struct Scoring(Arc<RiskScorerCore>);

/// Validates `cfg`, builds the provider clients and binds the durable consumer. `ctx` is a
/// [`ServiceCtx`], or a [`RiskScorerCtx`] with the scorer's extras.
///
/// # Errors
/// [`ServiceError::Config`], [`ServiceError::Client`], or [`ServiceError::Bus`] when the consumer
/// cannot be bound.
pub async fn build(cfg: RiskScorerConfig, ctx: impl Into<RiskScorerCtx>) -> Result<RiskScorer, ServiceError> {
    let ctx = ctx.into();
    let kernel = ConsumerConfig::new(SERVICE_SOURCE, cfg.consumer_spec(), cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms))
        .with_nak_delay(Duration::from_millis(cfg.nak_delay_ms));
    let bus = Arc::clone(&ctx.service.bus);
    let core = Arc::new(RiskScorerCore::new(cfg, ctx)?);
    let consumer = Consumer::bind(bus, kernel, Scoring(Arc::clone(&core)), Arc::clone(&core.stats.consumer)).await?;
    Ok(RiskScorer { consumer, core })
}

impl RiskScorer {
    /// The evaluation core (shares the cache and counters with the running service).
    #[must_use]
    pub fn core(&self) -> Arc<RiskScorerCore> {
        Arc::clone(&self.core)
    }

    /// Fetches and processes snapshots until `shutdown` is cancelled; the batch in flight is finished
    /// first. Snapshots of one asset are processed in order, different assets concurrently (bounded).
    ///
    /// # Errors
    /// A non-retryable bus error on fetch.
    pub async fn run(self, shutdown: CancellationToken) -> Result<RiskScorerCounts, ServiceError> {
        info!("Risk scorer running.");
        self.consumer.run(shutdown).await?;
        let counts = self.core.stats.snapshot();
        info!(?counts, "Risk scorer stopped.");
        Ok(counts)
    }
}

nl_bus::impl_service!(RiskScorer, SERVICE_SOURCE, durables = |s| vec![s.consumer.durable().to_owned()], stats = |s| s.core.stats());

impl Handler for Scoring {
    type Input = Arc<Envelope>;
    type Error = ServiceError;

    fn decode(&self, msg: &Message, span: &Span) -> Result<Arc<Envelope>, String> {
        nl_bus::handler::decode_envelope(msg, span)
    }

    fn order_key<'a>(&self, env: &'a Arc<Envelope>) -> Option<&'a str> {
        env.asset_id.as_deref()
    }

    fn concurrency(&self) -> usize {
        self.0.cfg.concurrency
    }

    /// Refreshes reports for, evaluates and scores one snapshot. Its raw captures go out before its events
    /// (the kernel publishes a batch's raws first), so every raw is stored before the events that use it.
    async fn handle(&self, env: Arc<Envelope>, _span: &Span) -> Result<Outcome, ServiceError> {
        let core = &self.0;
        let out = match core.evaluate_envelope(&env).await {
            Ok(out) => out,
            Err(HandleError::Poison(reason)) => return Ok(Outcome::Poison(reason)),
        };
        let mut msgs = nl_bus::raw_messages(&out.raws, &core.run);
        msgs.push(Message::typed(out.risk));
        msgs.push(Message::typed(out.score));
        Ok(Outcome::Done(msgs))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn config_defaults_validate_and_reject_unknown_keys() {
        RiskScorerConfig::default().validate().unwrap();
        let c: RiskScorerConfig = serde_json::from_str(r#"{"durable":"rs2"}"#).unwrap();
        assert_eq!(c.durable, "rs2");
        assert_eq!(c.rules, RiskRules::default());
        assert!(serde_json::from_str::<RiskScorerConfig>(r#"{"bogus":1}"#).is_err());
        let bad = RiskScorerConfig { concurrency: 0, ..RiskScorerConfig::default() };
        assert!(bad.validate().is_err());
        let json = serde_json::to_value(RiskScorerConfig::default()).unwrap();
        assert_eq!(serde_json::from_value::<RiskScorerConfig>(json).unwrap(), RiskScorerConfig::default());
    }
}
