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
//! * A provider that fails, is rate-limited or whose budget is paused gives no report: its checks are
//!   `Unknown`, never `Pass`. Re-evaluation over time follows from the enricher re-snapshotting on a
//!   schedule; verdicts past their TTL count as unknown.
//! * The clock is injected ([`Clock`]) so recorded scenarios replay at their own time. The wall clock
//!   evaluates a snapshot as of its observation time, and provider requests can be answered from recorded
//!   responses ([`RiskScorerCtx::with_recorded`]), so re-deriving from raw_events gives the same results.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_bus::{Bus, BusError, ConsumerSpec, Delivery, Message, Subscription, raw_messages};
use nl_domain::{AssetId, Envelope, EventType, RawEvent, Snapshot, Ts};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{Instrument, Span, debug, info, warn};

use nl_adapters::kit::RecordedResponses;
use nl_adapters::providers::{ClientError, Provider, ProviderClients, ProvidersConfig, providers_for};

use crate::cache::{CachedReport, ReportCache};
use crate::{RiskRules, ScoreConfig, evaluate, score};

/// Subject the service consumes.
pub const SNAPSHOT_SUBJECT: &str = "nl.evt.snapshot.recorded";
/// `source` stamped on the envelopes the service publishes.
pub const SERVICE_SOURCE: &str = "risk-scorer";
/// Largest accepted `batch_size` and `concurrency` (invariant 8).
pub const MAX_BOUND: usize = 10_000;

/// Where the service gets time from.
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

/// The wall clock for provider responses; snapshots are evaluated at their observation time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Ts {
        chrono::Utc::now()
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
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the service needs from its surroundings.
#[derive(Clone)]
pub struct RiskScorerCtx {
    pub bus: Arc<dyn Bus>,
    pub run: RunIdentity,
    pub clock: Arc<dyn Clock>,
    /// Resolves API key variables (normally `std::env::var`).
    pub env: EnvLookup,
    /// Recorded provider responses to answer from instead of the network (re-derivation).
    pub recorded: Option<Arc<dyn RecordedResponses>>,
}

impl RiskScorerCtx {
    /// A context on the wall clock and the process environment.
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>, run: RunIdentity) -> Self {
        Self { bus, run, clock: Arc::new(SystemClock), env: Arc::new(|k| std::env::var(k).ok()), recorded: None }
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Answers provider requests from `recorded` instead of the network (re-derivation from raw_events).
    #[must_use]
    pub fn with_recorded(mut self, recorded: Arc<dyn RecordedResponses>) -> Self {
        self.recorded = Some(recorded);
        self
    }
}

/// Live counters.
#[derive(Debug, Default)]
pub struct RiskScorerStats {
    pub received: AtomicU64,
    pub evaluated: AtomicU64,
    pub published: AtomicU64,
    pub provider_fetches: AtomicU64,
    pub provider_failures: AtomicU64,
    pub cache_hits: AtomicU64,
    pub poison: AtomicU64,
    pub retried: AtomicU64,
    pub settle_errors: AtomicU64,
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
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RiskScorerCounts {
            received: g(&self.received),
            evaluated: g(&self.evaluated),
            published: g(&self.published),
            provider_fetches: g(&self.provider_fetches),
            provider_failures: g(&self.provider_failures),
            cache_hits: g(&self.cache_hits),
            poison: g(&self.poison),
            retried: g(&self.retried),
            settle_errors: g(&self.settle_errors),
        }
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
    ctx: RiskScorerCtx,
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
        let mut clients = ProviderClients::new(&cfg.providers, &ctx.run.run_id, ctx.env.as_ref())?;
        if let Some(rec) = &ctx.recorded {
            clients = clients.with_recorded(Arc::clone(rec));
        }
        let cache = Mutex::new(ReportCache::new(cfg.report_cache_max_assets, cfg.report_cache_ttl_secs));
        Ok(Self { cfg, ctx, clients, cache, stats: Arc::new(RiskScorerStats::default()) })
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
        let now = self.ctx.clock.evaluation_time(snapshot.observed_at);

        let stale: Vec<Provider> = {
            let cache = self.cache();
            providers_for(&asset).iter().copied().filter(|p| !cache.is_fresh(&asset, *p, now)).collect()
        };
        RiskScorerStats::add(&self.stats.cache_hits, providers_for(&asset).len() - stale.len());
        let fetches = futures::future::join_all(stale.iter().map(|p| self.clients.fetch(*p, &asset, self.ctx.clock.received_at(*p, &asset)))).await;
        let mut raws = Vec::with_capacity(fetches.len());
        {
            let mut cache = self.cache();
            for f in fetches {
                RiskScorerStats::add(&self.stats.provider_fetches, 1);
                let raw_id = f.raw.as_ref().map(|r| r.raw_id.clone());
                match f.report {
                    Ok(report) => cache.put(&asset, CachedReport { report, raw_id }),
                    Err(why) => {
                        RiskScorerStats::add(&self.stats.provider_failures, 1);
                        debug!(provider = %f.provider, asset = %asset, %why, "No provider report; its checks stay unknown.");
                    }
                }
                raws.extend(f.raw);
            }
        }
        let cached = self.cache().get(&asset);
        let reports: Vec<_> = cached.iter().map(|c| c.report.clone()).collect();
        let provider_raw_ids: Vec<String> = cached.iter().filter_map(|c| c.raw_id.clone()).collect();

        let evaluation = evaluate(&asset, Some(&snapshot), &reports, &self.cfg.rules, now);
        let record = score(&evaluation, Some(&snapshot), source_count, &self.cfg.score);
        let asset_str = asset.to_string();
        let (run_id, config_hash) = (&self.ctx.run.run_id, &self.ctx.run.config_hash);
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
    core: Arc<RiskScorerCore>,
    sub: Box<dyn Subscription>,
}

impl std::fmt::Debug for RiskScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RiskScorer").field("core", &self.core).finish_non_exhaustive()
    }
}

/// Validates `cfg`, builds the provider clients and binds the durable consumer.
///
/// # Errors
/// [`ServiceError::Config`], [`ServiceError::Client`], or [`ServiceError::Bus`] when the consumer
/// cannot be bound.
pub async fn build(cfg: RiskScorerConfig, ctx: RiskScorerCtx) -> Result<RiskScorer, ServiceError> {
    let spec = cfg.consumer_spec();
    let bus = Arc::clone(&ctx.bus);
    let core = Arc::new(RiskScorerCore::new(cfg, ctx)?);
    let sub = bus.subscribe(spec).await?;
    Ok(RiskScorer { core, sub })
}

impl RiskScorer {
    /// The evaluation core (shares the cache and counters with the running service).
    #[must_use]
    pub fn core(&self) -> Arc<RiskScorerCore> {
        Arc::clone(&self.core)
    }

    /// Fetches and processes snapshots until `shutdown` completes; the batch in flight is finished
    /// first. Snapshots of one asset are processed in order, different assets concurrently (bounded).
    ///
    /// # Errors
    /// A non-retryable bus error on fetch.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<RiskScorerCounts, ServiceError> {
        let RiskScorer { core, mut sub } = self;
        tokio::pin!(shutdown);
        let wait = Duration::from_millis(core.cfg.fetch_wait_ms);
        info!(durable = %core.cfg.durable, "Risk scorer running.");
        while let Some(batch) = nl_bus::next_batch(&mut *sub, core.cfg.batch_size, wait, shutdown.as_mut()).await? {
            handle_batch(&core, batch).await;
        }
        let counts = core.stats.snapshot();
        info!(?counts, "Risk scorer stopped.");
        Ok(counts)
    }
}

/// A delivery's payload as an envelope, or why it is not one.
type Decoded = Result<Envelope, String>;

/// One evaluated delivery, with its handling span (the trace context its outputs carry).
struct Handled {
    delivery: Delivery,
    span: Span,
    result: Result<Evaluated, HandleError>,
}

/// Groups a batch by asset and evaluates the groups concurrently, each group in delivery order. Then the
/// batch's raw captures are published in one pipelined batch, then its `risk.evaluated` / `score.computed`
/// events in another (so every raw is stored before the events that use it), and only then are the
/// snapshots acked; a failed publish naks them all (event ids make the retry safe). Poison is terminated.
async fn handle_batch(core: &RiskScorerCore, batch: Vec<Delivery>) {
    use futures::StreamExt;
    RiskScorerStats::add(&core.stats.received, batch.len());
    let mut groups: BTreeMap<String, Vec<(Delivery, Decoded)>> = BTreeMap::new();
    for d in batch {
        let env = Envelope::from_json(&d.message.payload).map_err(|e| format!("undecodable envelope: {e}"));
        let key = env.as_ref().ok().and_then(|e| e.asset_id.clone()).unwrap_or_else(|| d.message.id.clone());
        groups.entry(key).or_default().push((d, env));
    }
    let handled: Vec<Vec<Handled>> = futures::stream::iter(groups.into_values())
        .map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            for (delivery, env) in group {
                let span = nl_bus::trace::handle_span("risk-scorer", &delivery.message);
                let result = evaluate_delivery(core, env, &span).instrument(span.clone()).await;
                out.push(Handled { delivery, span, result });
            }
            out
        })
        .buffered(core.cfg.concurrency)
        .collect()
        .await;
    let mut ok = Vec::new();
    let (mut raws, mut events) = (Vec::new(), Vec::new());
    for h in handled.into_iter().flatten() {
        match h.result.and_then(|out| encode(core, &out, &h.span)) {
            Ok((r, e)) => {
                raws.extend(r);
                events.extend(e);
                ok.push((h.delivery, h.span));
            }
            Err(HandleError::Poison(reason)) => {
                RiskScorerStats::add(&core.stats.poison, 1);
                let d = &h.delivery;
                h.span.in_scope(|| warn!(subject = %d.message.subject, sequence = d.sequence, %reason, "Unusable snapshot event; terminating."));
                settled(core, d.term(&reason).instrument(h.span.clone()).await, d.sequence);
            }
        }
    }
    if ok.is_empty() {
        return;
    }
    let (n_raws, n_events) = (raws.len(), events.len());
    let published = async {
        if !raws.is_empty() {
            core.ctx.bus.publish_batch(raws).await?;
            RiskScorerStats::add(&core.stats.published, n_raws);
        }
        core.ctx.bus.publish_batch(events).await?;
        RiskScorerStats::add(&core.stats.published, n_events);
        Ok::<(), BusError>(())
    };
    match published.await {
        Ok(()) => {
            let acks = ok.iter().map(|(d, span)| async move { (d.sequence, d.ack().instrument(span.clone()).await) });
            for (sequence, res) in futures::future::join_all(acks).await {
                settled(core, res, sequence);
            }
        }
        Err(error) => nak_all(core, &ok, &error).await,
    }
}

/// Naks deliveries whose outputs were not all stored, to be redelivered after the error's or the
/// configured delay.
async fn nak_all(core: &RiskScorerCore, deliveries: &[(Delivery, Span)], error: &BusError) {
    warn!(deliveries = deliveries.len(), %error, "Publish failed; will be redelivered.");
    let delay = error.retry_after().unwrap_or(Duration::from_millis(core.cfg.nak_delay_ms));
    let reason = error.to_string();
    for (d, span) in deliveries {
        RiskScorerStats::add(&core.stats.retried, 1);
        settled(core, d.nak(Some(delay), &reason).instrument(span.clone()).await, d.sequence);
    }
}

fn settled(core: &RiskScorerCore, res: Result<(), BusError>, sequence: u64) {
    if let Err(error) = res {
        RiskScorerStats::add(&core.stats.settle_errors, 1);
        warn!(%error, sequence, "Settle failed; the bus will redeliver.");
    }
}

/// The messages of one evaluated snapshot, all carrying `span`'s trace context: its raw captures, and its
/// `risk.evaluated` and `score.computed` events.
fn encode(core: &RiskScorerCore, out: &Evaluated, span: &Span) -> Result<(Vec<Message>, [Message; 2]), HandleError> {
    let raws = raw_messages(&out.raws, &core.ctx.run).into_iter().map(|m| m.traced(span)).collect();
    let message = |e: &Envelope| {
        let body = e.to_json().map_err(|e| HandleError::Poison(format!("envelope JSON: {e}")))?;
        Ok::<_, HandleError>(Message::new(e.subject(), e.event_id.0.clone(), body).traced(span))
    };
    Ok((raws, [message(&out.risk)?, message(&out.score)?]))
}

/// Refreshes reports for, evaluates and scores one delivered snapshot (`env` is its decoded payload).
async fn evaluate_delivery(core: &RiskScorerCore, env: Decoded, span: &Span) -> Result<Evaluated, HandleError> {
    let env = env.map_err(HandleError::Poison)?;
    if let Some(asset) = &env.asset_id {
        span.record("asset_id", asset.as_str());
    }
    core.evaluate_envelope(&env).await
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
