//! The gate service: a durable pull consumer on `nl.evt.score.computed` that runs [`decide`] and
//! publishes `candidate.promoted` / `candidate.rejected` (meta = [`GateDecision`]).
//!
//! Each decision needs nothing but its score event: it carries the evaluation and the snapshot it was
//! computed from ([`nl_domain::ScoreComputed`]). The decision's `decided_at` is the score's `computed_at`, not the wall clock,
//! and its event id derives from asset, inputs, rule-set version and config hash, so re-deriving from the
//! same events gives byte-identical decisions. L5 is final: nothing but the score event is an input.
//!
//! Decide only on change: a decision equal to the asset's last published one is not re-emitted (counted
//! as `unchanged`; see [`crate::changes`], seeded from the ledger's latest decisions when the service has a
//! reader, so it holds across restarts); that memory is the service's only state, and it decides
//! what is published, never what a decision says. Score events of one asset are decided in order (the asset is
//! the order key).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_bus::{
    BusError, CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Handler, Message, Outcome, Registry,
    ServiceCtx,
};
use nl_domain::{Body, Decision, Envelope, EventType, GateDecision, LedgerReader};
use nl_domain::RunIdentity;
use serde::{Deserialize, Serialize};
use tracing::{Span, info, warn};

use crate::changes::LastDecisions;
use crate::{ExecutionConfig, GateConfig, decide};

/// Subject the service consumes.
pub const SCORE_SUBJECT: &str = "nl.evt.score.computed";
/// `source` stamped on the decisions.
pub const SERVICE_SOURCE: &str = "gate";
/// Largest accepted `batch_size` (invariant 8).
pub const MAX_BATCH_SIZE: usize = 10_000;

/// `[gate]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateServiceConfig {
    /// Durable consumer name (default `gate`).
    pub durable: String,
    pub gate: GateConfig,
    /// L6 switches; the defaults make execution impossible.
    pub execution: ExecutionConfig,
    /// Deliveries per fetch (default 256).
    pub batch_size: usize,
    /// How long one fetch waits for messages (default 500).
    pub fetch_wait_ms: u64,
    /// Consumer `ack_wait` (default 30 000).
    pub ack_wait_ms: u64,
    /// Consumer `max_deliver` (default 5).
    pub max_deliver: u32,
    /// Redelivery delay after a publish failure (default 1 000).
    pub nak_delay_ms: u64,
    /// Assets whose last decision is remembered to suppress unchanged ones (default 100 000).
    pub max_remembered_assets: usize,
}

impl Default for GateServiceConfig {
    fn default() -> Self {
        Self {
            durable: "gate".into(),
            gate: GateConfig::default(),
            execution: ExecutionConfig::default(),
            batch_size: 256,
            fetch_wait_ms: 500,
            ack_wait_ms: 30_000,
            max_deliver: 5,
            nak_delay_ms: 1_000,
            max_remembered_assets: 100_000,
        }
    }
}

impl GateServiceConfig {
    /// The consumer spec this config asks for.
    #[must_use]
    pub fn consumer_spec(&self) -> ConsumerSpec {
        ConsumerSpec::tuned(self.durable.clone(), SCORE_SUBJECT, self.ack_wait_ms, self.max_deliver, self.batch_size)
    }

    /// Validates the gate thresholds and the consumer bounds.
    ///
    /// # Errors
    /// [`GateServiceError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), GateServiceError> {
        self.gate.validate().map_err(|e| GateServiceError::Config(e.to_string()))?;
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) || self.fetch_wait_ms == 0 || self.max_remembered_assets == 0 {
            return Err(GateServiceError::Config(format!(
                "batch_size must be 1..={MAX_BATCH_SIZE}, fetch_wait_ms and max_remembered_assets positive"
            )));
        }
        self.consumer_spec().validate().map_err(|e| GateServiceError::Config(e.to_string()))
    }
}

/// Errors of the gate service and its gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum GateServiceError {
    #[error("invalid gate service config: {0}")]
    Config(String),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("grpc transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Why a score event was not decided.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Not a usable `score.computed` event: dead-letter it.
    #[error("poison: {0}")]
    Poison(String),
}

/// Live counters: the kernel's, plus the decisions published.
#[derive(Debug, Default)]
pub struct GateStats {
    pub consumer: Arc<ConsumerStats>,
    pub promoted: AtomicU64,
    pub rejected: AtomicU64,
    /// Decisions equal to their asset's last published one, not re-emitted.
    pub unchanged: AtomicU64,
    /// Reads of one asset's last decision from the ledger.
    pub asset_reads: AtomicU64,
    /// Bulk loads of the ledger's latest decisions (attempts).
    pub bulk_reads: AtomicU64,
    /// Decisions of the batch being published, counted once the publish succeeds.
    pending: Mutex<(u64, u64)>,
}

/// A snapshot of [`GateStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct GateCounts {
    pub received: u64,
    pub promoted: u64,
    pub rejected: u64,
    /// Decisions not re-emitted because they equal the asset's last one.
    pub unchanged: u64,
    /// Undecodable deliveries and score events that could not be decided, terminated.
    pub poison: u64,
    /// Reads of one asset's last decision from the ledger, and bulk loads of the latest decisions.
    pub asset_reads: u64,
    pub bulk_reads: u64,
    pub retried: u64,
    pub settle_errors: u64,
}

impl GateStats {
    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> GateCounts {
        let c = self.consumer.snapshot();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GateCounts {
            received: c.received,
            promoted: g(&self.promoted),
            rejected: g(&self.rejected),
            unchanged: g(&self.unchanged),
            poison: c.undecodable + c.poison,
            asset_reads: g(&self.asset_reads),
            bulk_reads: g(&self.bulk_reads),
            retried: c.retried,
            settle_errors: c.settle_errors,
        }
    }

    /// The kernel's fixed metric set plus `nl_gate_decisions_total{decision}`, `nl_gate_unchanged_total` and
    /// `nl_gate_ledger_reads_total{kind = asset | bulk}`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        let c = self.snapshot();
        r.counter_set("nl_gate_decisions_total", "Gate decisions.", &[("decision", "promoted")], c.promoted as f64);
        r.counter_set("nl_gate_decisions_total", "Gate decisions.", &[("decision", "rejected")], c.rejected as f64);
        r.counter_set("nl_gate_unchanged_total", "Decisions equal to the asset's last one, not re-emitted.", &[], c.unchanged as f64);
        let help = "Reads of the ledger's last decisions: one asset's, or the latest in bulk.";
        r.counter_set("nl_gate_ledger_reads_total", help, &[("kind", "asset")], c.asset_reads as f64);
        r.counter_set("nl_gate_ledger_reads_total", help, &[("kind", "bulk")], c.bulk_reads as f64);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, (u64, u64)> {
        // Two plain counters: a panicked holder cannot leave them half-written.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Decides one `score.computed` envelope under `cfg`. Pure: the same envelope, config and hash always
/// give the same decision envelope, byte for byte.
///
/// # Errors
/// [`DecideError::Poison`] when the envelope is not a `score.computed` event with a [`nl_domain::ScoreComputed`] meta.
pub fn decide_envelope(env: &Envelope, cfg: &GateConfig, run: &RunIdentity) -> Result<(GateDecision, Envelope), DecideError> {
    if env.kind != EventType::ScoreComputed {
        return Err(DecideError::Poison(format!("expected score.computed, got {}", env.kind)));
    }
    let sc = match env.body() {
        Ok(Body::ScoreComputed(sc)) => sc,
        Ok(_) => return Err(DecideError::Poison(format!("{} decoded as another body", env.kind))),
        Err(e) => return Err(DecideError::Poison(format!("meta is not a ScoreComputed: {e}"))),
    };
    let mut inputs = sc.inputs.clone();
    inputs.push(env.event_id.0.clone());
    let decision = decide(&sc.evaluation, &sc.record, sc.snapshot.as_ref(), cfg, &run.config_hash, inputs, sc.record.computed_at);
    let kind = match decision.decision {
        Decision::Promoted => EventType::CandidatePromoted,
        Decision::Rejected => EventType::CandidateRejected,
    };
    let asset = decision.asset_id.to_string();
    let mut parts: Vec<&str> = vec![&asset];
    parts.extend(decision.inputs.iter().map(String::as_str));
    parts.push(&decision.rule_set_version);
    parts.push(&run.config_hash);
    let meta = serde_json::to_value(&decision).map_err(|e| DecideError::Poison(format!("decision JSON: {e}")))?;
    let mut out = Envelope::new(kind, &parts, decision.decided_at, &run.run_id, &run.config_hash, meta).with_asset(asset).with_source(SERVICE_SOURCE);
    out.symbol.clone_from(&env.symbol);
    out.chain = decision.asset_id.chain_slug().map(String::from).or_else(|| env.chain.clone());
    Ok((decision, out))
}

/// The built service; [`GateService::run`] drives it.
pub struct GateService {
    consumer: Consumer<Decider>,
    stats: Arc<GateStats>,
}

impl std::fmt::Debug for GateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateService").field("consumer", &self.consumer).finish_non_exhaustive()
    }
}

/// The gate's [`Handler`]: one score event in, its decision out when it changed.
struct Decider {
    gate: GateConfig,
    run: RunIdentity,
    stats: Arc<GateStats>,
    last: Mutex<LastDecisions>,
    /// Where an asset's last decision is read back when none is remembered (a restart, an eviction).
    reader: Option<Arc<dyn LedgerReader>>,
    /// Whether the bulk load of the ledger's latest decisions is done (`Some`), and whether it held every
    /// decided asset (`Some(true)`: then an asset unknown here has no decision unless memory forgot it).
    bulk: tokio::sync::Mutex<Option<bool>>,
    /// After a failed read, seeding is skipped until then, so an unreachable ledger costs one bounded
    /// wait and one warning per [`SEED_BACKOFF`], not one per decision.
    seed_paused_until: Mutex<Option<tokio::time::Instant>>,
}

/// The longest a decision waits on the ledger for its asset's last decision.
const SEED_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest the first decision waits for the bulk load of the ledger's latest decisions.
const BULK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long seeding pauses after a failed or timed-out read.
const SEED_BACKOFF: Duration = Duration::from_secs(30);

impl Decider {
    /// Seeds the last decision of `d`'s asset from the ledger when none is remembered. The first time, the
    /// latest decisions of as many assets as memory holds are loaded in bulk; after that the ledger is
    /// asked for one asset only when the bulk set may have missed it (it was cut at memory's size, or
    /// memory has forgotten assets since). A failed or timed-out read ([`SEED_TIMEOUT`], [`BULK_TIMEOUT`])
    /// is logged, seeds nothing (the decision is then emitted, as without a reader) and pauses seeding for
    /// [`SEED_BACKOFF`].
    async fn seed(&self, d: &GateDecision) {
        let Some(reader) = &self.reader else { return };
        let asset = d.asset_id.to_string();
        let paused = || self.seed_paused().is_some_and(|until| tokio::time::Instant::now() < until);
        if self.last().knows(&asset) || paused() {
            return;
        }
        let complete = {
            let mut bulk = self.bulk.lock().await;
            match *bulk {
                Some(complete) => complete,
                // Another decision's failed load paused seeding while this one waited for the lock.
                None if paused() => return,
                None => match self.load_bulk(reader.as_ref()).await {
                    Ok(complete) => *bulk.insert(complete),
                    Err(error) => return self.pause(&asset, &error),
                },
            }
        };
        if (complete && !self.last().has_forgotten()) || self.last().knows(&asset) {
            return;
        }
        self.stats.asset_reads.fetch_add(1, Ordering::Relaxed);
        let error = match tokio::time::timeout(SEED_TIMEOUT, reader.latest_decision(&d.asset_id)).await {
            Ok(Ok(Some(last))) => return self.last().seed(&last),
            Ok(Ok(None)) => return,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {SEED_TIMEOUT:?}"),
        };
        self.pause(&asset, &error);
    }

    /// Loads the latest decisions of as many assets as memory holds, oldest first (so the most recent are
    /// forgotten last); true when they are every decided asset's.
    async fn load_bulk(&self, reader: &dyn LedgerReader) -> Result<bool, String> {
        self.stats.bulk_reads.fetch_add(1, Ordering::Relaxed);
        let limit = self.last().capacity();
        let ask = u32::try_from(limit).unwrap_or(u32::MAX);
        let decisions = match tokio::time::timeout(BULK_TIMEOUT, reader.latest_decisions(ask)).await {
            Ok(Ok(decisions)) => decisions,
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err(format!("no bulk answer within {BULK_TIMEOUT:?}")),
        };
        let complete = decisions.len() < limit;
        let mut last = self.last();
        for d in decisions.iter().rev() {
            last.seed(d);
        }
        info!(assets = decisions.len(), complete, "Loaded the ledger's latest decisions.");
        Ok(complete)
    }

    fn pause(&self, asset: &str, error: &str) {
        *self.seed_paused_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(tokio::time::Instant::now() + SEED_BACKOFF);
        warn!(%asset, %error, pause = ?SEED_BACKOFF, "Cannot read the asset's last decision from the ledger; deciding as if there were none, without asking again for the pause.");
    }

    fn seed_paused(&self) -> Option<tokio::time::Instant> {
        *self.seed_paused_until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, LastDecisions> {
        // Staging and committing are plain map updates; a panicked holder cannot leave them half-done.
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Validates `cfg` and binds the durable consumer.
///
/// # Errors
/// [`GateServiceError::Config`] or [`GateServiceError::Bus`].
pub async fn build(cfg: GateServiceConfig, ctx: ServiceCtx) -> Result<GateService, GateServiceError> {
    build_with_reader(cfg, ctx, None).await
}

/// [`build`] with the ledger `reader` the last decision of an asset not remembered is read from, so an
/// unchanged decision is not emitted again after a restart.
///
/// # Errors
/// As [`build`].
pub async fn build_with_reader(cfg: GateServiceConfig, ctx: ServiceCtx, reader: Option<Arc<dyn LedgerReader>>) -> Result<GateService, GateServiceError> {
    cfg.validate()?;
    let stats = Arc::new(GateStats::default());
    let kernel = ConsumerConfig::new(SERVICE_SOURCE, cfg.consumer_spec(), cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms))
        .with_nak_delay(Duration::from_millis(cfg.nak_delay_ms));
    let last = Mutex::new(LastDecisions::new(cfg.max_remembered_assets));
    let decider = Decider {
        gate: cfg.gate,
        run: ctx.run,
        stats: Arc::clone(&stats),
        last,
        reader,
        bulk: tokio::sync::Mutex::new(None),
        seed_paused_until: Mutex::new(None),
    };
    let consumer = Consumer::bind(ctx.bus, kernel, decider, Arc::clone(&stats.consumer)).await?;
    Ok(GateService { consumer, stats })
}

impl GateService {
    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<GateStats> {
        Arc::clone(&self.stats)
    }

    /// Decides score events until `shutdown` is cancelled; the batch in flight is finished first.
    ///
    /// # Errors
    /// A non-retryable bus error on fetch.
    pub async fn run(self, shutdown: CancellationToken) -> Result<GateCounts, GateServiceError> {
        info!("Gate running.");
        self.consumer.run(shutdown).await?;
        let counts = self.stats.snapshot();
        info!(?counts, "Gate stopped.");
        Ok(counts)
    }
}

nl_bus::impl_service!(GateService, SERVICE_SOURCE, durables = |s| vec![s.consumer.durable().to_owned()], stats = |s| Arc::clone(&s.stats));

impl Handler for Decider {
    type Input = Arc<Envelope>;
    type Error = GateServiceError;

    fn decode(&self, msg: &Message, span: &Span) -> Result<Arc<Envelope>, String> {
        nl_bus::handler::decode_envelope(msg, span)
    }

    fn order_key<'a>(&self, env: &'a Arc<Envelope>) -> Option<&'a str> {
        env.asset_id.as_deref()
    }

    /// Decides one score event; its decision goes out (carrying the handling span's trace context) when
    /// it differs from the asset's last one.
    async fn handle(&self, env: Arc<Envelope>, _span: &Span) -> Result<Outcome, GateServiceError> {
        let (decision, out) = match decide_envelope(&env, &self.gate, &self.run) {
            Ok(decided) => decided,
            Err(DecideError::Poison(reason)) => return Ok(Outcome::Poison(reason)),
        };
        self.seed(&decision).await;
        if !self.last().stage_if_changed(&decision) {
            self.stats.unchanged.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::Done(vec![]));
        }
        let mut pending = self.stats.pending();
        if decision.decision == Decision::Promoted {
            pending.0 += 1
        } else {
            pending.1 += 1
        }
        Ok(Outcome::Done(vec![Message::typed(out)]))
    }

    fn after_publish(&self, published: bool) {
        let (promoted, rejected) = std::mem::take(&mut *self.stats.pending());
        if published {
            self.last().commit();
        } else {
            self.last().discard();
        }
        if published {
            self.stats.promoted.fetch_add(promoted, Ordering::Relaxed);
            self.stats.rejected.fetch_add(rejected, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn config_defaults_validate_and_reject_unknown_keys() {
        GateServiceConfig::default().validate().unwrap();
        assert!(serde_json::from_str::<GateServiceConfig>(r#"{"ai_override":true}"#).is_err());
        let c: GateServiceConfig = serde_json::from_str(r#"{"execution":{"armed":true}}"#).unwrap();
        assert!(c.execution.armed && !c.execution.enabled);
        let json = serde_json::to_value(GateServiceConfig::default()).unwrap();
        assert_eq!(serde_json::from_value::<GateServiceConfig>(json).unwrap(), GateServiceConfig::default());
    }

    #[test]
    fn non_score_events_are_poison() {
        let env = Envelope::new(EventType::RiskEvaluated, &["x"], chrono::Utc::now(), "r", "c", serde_json::json!({}));
        let run = RunIdentity { run_id: "r".into(), config_hash: "c".into() };
        assert!(matches!(decide_envelope(&env, &GateConfig::default(), &run), Err(DecideError::Poison(_))));
        let env = Envelope::new(EventType::ScoreComputed, &["x"], chrono::Utc::now(), "r", "c", serde_json::json!({"score": "1"}));
        assert!(matches!(decide_envelope(&env, &GateConfig::default(), &run), Err(DecideError::Poison(_))));
    }
}
