//! The gate service: a durable pull consumer on `nl.evt.score.computed` that runs [`decide`] and
//! publishes `candidate.promoted` / `candidate.rejected` (meta = [`GateDecision`]).
//!
//! Stateless by construction: the score event carries the evaluation and the snapshot it was computed
//! from ([`ScoreComputed`]). The decision's `decided_at` is the score's `computed_at`, not the wall clock,
//! and its event id derives from asset, inputs, rule-set version and config hash, so re-deriving from the
//! same events gives byte-identical decisions. L5 is final: nothing but the score event is an input.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl_bus::{Bus, BusError, ConsumerSpec, Delivery, Message, Subscription};
use nl_domain::{Decision, Envelope, EventType, GateDecision};
use nl_domain::{RunIdentity, ScoreComputed};
use serde::{Deserialize, Serialize};
use tracing::{Instrument, Span, info, warn};

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
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) || self.fetch_wait_ms == 0 {
            return Err(GateServiceError::Config(format!("batch_size must be 1..={MAX_BATCH_SIZE} and fetch_wait_ms positive")));
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

/// Live counters.
#[derive(Debug, Default)]
pub struct GateStats {
    pub received: AtomicU64,
    pub promoted: AtomicU64,
    pub rejected: AtomicU64,
    pub poison: AtomicU64,
    pub retried: AtomicU64,
    pub settle_errors: AtomicU64,
}

/// A snapshot of [`GateStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct GateCounts {
    pub received: u64,
    pub promoted: u64,
    pub rejected: u64,
    pub poison: u64,
    pub retried: u64,
    pub settle_errors: u64,
}

impl GateStats {
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> GateCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GateCounts {
            received: g(&self.received),
            promoted: g(&self.promoted),
            rejected: g(&self.rejected),
            poison: g(&self.poison),
            retried: g(&self.retried),
            settle_errors: g(&self.settle_errors),
        }
    }
}

/// Decides one `score.computed` envelope under `cfg`. Pure: the same envelope, config and hash always
/// give the same decision envelope, byte for byte.
///
/// # Errors
/// [`DecideError::Poison`] when the envelope is not a `score.computed` event with a [`ScoreComputed`] meta.
pub fn decide_envelope(env: &Envelope, cfg: &GateConfig, run: &RunIdentity) -> Result<(GateDecision, Envelope), DecideError> {
    if env.kind != EventType::ScoreComputed {
        return Err(DecideError::Poison(format!("expected score.computed, got {}", env.kind)));
    }
    let sc = ScoreComputed::from_meta(&env.meta).map_err(|e| DecideError::Poison(format!("meta is not a ScoreComputed: {e}")))?;
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
    worker: Worker,
    sub: Box<dyn Subscription>,
}

/// Everything but the subscription (which is `Send` but not `Sync`), so `&Worker` may cross awaits.
struct Worker {
    cfg: GateServiceConfig,
    run: RunIdentity,
    bus: Arc<dyn Bus>,
    stats: Arc<GateStats>,
}

impl std::fmt::Debug for GateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateService").field("cfg", &self.worker.cfg).field("run", &self.worker.run).finish_non_exhaustive()
    }
}

/// Validates `cfg` and binds the durable consumer.
///
/// # Errors
/// [`GateServiceError::Config`] or [`GateServiceError::Bus`].
pub async fn build(cfg: GateServiceConfig, bus: Arc<dyn Bus>, run: RunIdentity) -> Result<GateService, GateServiceError> {
    cfg.validate()?;
    let sub = bus.subscribe(cfg.consumer_spec()).await?;
    Ok(GateService { worker: Worker { cfg, run, bus, stats: Arc::new(GateStats::default()) }, sub })
}

impl GateService {
    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<GateStats> {
        Arc::clone(&self.worker.stats)
    }

    /// Decides score events until `shutdown` completes; the batch in flight is finished first.
    ///
    /// # Errors
    /// A non-retryable bus error on fetch.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<GateCounts, GateServiceError> {
        let GateService { worker, mut sub } = self;
        tokio::pin!(shutdown);
        let wait = Duration::from_millis(worker.cfg.fetch_wait_ms);
        info!(durable = %worker.cfg.durable, "Gate running.");
        while let Some(batch) = nl_bus::next_batch(&mut *sub, worker.cfg.batch_size, wait, shutdown.as_mut()).await? {
            worker.handle_batch(batch).await;
        }
        let counts = worker.stats.snapshot();
        info!(?counts, "Gate stopped.");
        Ok(counts)
    }
}

impl Worker {
    /// Decides one delivery in its handling span: the decision and the message to publish, carrying the
    /// span's trace context.
    fn decide(&self, d: &Delivery, span: &Span) -> Result<(GateDecision, Message), String> {
        let env = Envelope::from_json(&d.message.payload).map_err(|e| format!("undecodable envelope: {e}"))?;
        if let Some(asset) = &env.asset_id {
            span.record("asset_id", asset.as_str());
        }
        let (decision, out) = decide_envelope(&env, &self.cfg.gate, &self.run).map_err(|DecideError::Poison(reason)| reason)?;
        let body = out.to_json().map_err(|e| format!("envelope JSON: {e}"))?;
        Ok((decision, Message::new(out.subject(), out.event_id.0.clone(), body).traced(span)))
    }

    /// Decides a fetched batch, publishes all its decisions in one pipelined `publish_batch` (in delivery
    /// order) and only then acks the inputs; a failed publish naks them all (event ids make the retry
    /// safe). Poison is terminated at once.
    async fn handle_batch(&self, batch: Vec<Delivery>) {
        let mut decided = Vec::with_capacity(batch.len());
        let mut msgs = Vec::with_capacity(batch.len());
        for d in batch {
            GateStats::inc(&self.stats.received);
            let span = nl_bus::trace::handle_span("gate", &d.message);
            match self.decide(&d, &span) {
                Ok((decision, msg)) => {
                    msgs.push(msg);
                    decided.push((d, decision.decision, span));
                }
                Err(reason) => {
                    GateStats::inc(&self.stats.poison);
                    span.in_scope(|| warn!(sequence = d.sequence, %reason, "Unusable score event; terminating."));
                    self.settled(d.term(&reason).instrument(span).await, d.sequence);
                }
            }
        }
        if decided.is_empty() {
            return;
        }
        match self.bus.publish_batch(msgs).await {
            Ok(_) => {
                let acks = decided.iter().map(|(d, decision, span)| {
                    GateStats::inc(if *decision == Decision::Promoted { &self.stats.promoted } else { &self.stats.rejected });
                    async move { (d.sequence, d.ack().instrument(span.clone()).await) }
                });
                for (sequence, settled) in futures::future::join_all(acks).await {
                    self.settled(settled, sequence);
                }
            }
            Err(error) => {
                warn!(batch = decided.len(), %error, "Publishing decisions failed; the batch will be redelivered.");
                let delay = error.retry_after().unwrap_or(Duration::from_millis(self.cfg.nak_delay_ms));
                let reason = error.to_string();
                for (d, _, span) in &decided {
                    GateStats::inc(&self.stats.retried);
                    self.settled(d.nak(Some(delay), &reason).instrument(span.clone()).await, d.sequence);
                }
            }
        }
    }

    fn settled(&self, settled: Result<(), BusError>, sequence: u64) {
        if let Err(error) = settled {
            GateStats::inc(&self.stats.settle_errors);
            warn!(%error, sequence, "Settle failed; the bus will redeliver.");
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
