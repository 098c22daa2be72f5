//! The paper service: a durable consumer on `nl.evt.>` feeding the [`Engine`] in delivery order (decisions,
//! snapshots, risk evaluations, asset upserts and experiment steps; everything else passes by), publishing
//! what it emits before the delivery is acked. `nl serve paper` runs it over NATS; `nl run` embeds it when
//! `[paper] enabled = true`. A session is bracketed by `strategy_run.started` / `strategy_run.completed`;
//! orders still waiting for a price at shutdown are blocked `no_fresh_price`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_bus::{Bus, CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Handler, Message, Outcome, Registry, ServiceCtx};
use nl_domain::{Envelope, EventType, StrategyRun};
use serde::Serialize;
use tracing::{Span, info};

use crate::backtest::strategy_run_event;
use crate::engine::{Engine, Experiment};
use crate::{PaperConfig, PaperError};

/// Subject the service consumes.
pub const EVENTS_SUBJECT: &str = "nl.evt.>";
/// `source` stamped on paper events.
pub const SERVICE_SOURCE: &str = "paper";

/// Live counters.
#[derive(Debug, Default)]
pub struct PaperStats {
    pub consumer: Arc<ConsumerStats>,
    pub emitted: AtomicU64,
}

/// A snapshot of [`PaperStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PaperCounts {
    pub received: u64,
    pub emitted: u64,
    pub poison: u64,
}

impl PaperStats {
    #[must_use]
    pub fn snapshot(&self) -> PaperCounts {
        let c = self.consumer.snapshot();
        PaperCounts { received: c.received, emitted: self.emitted.load(Ordering::Relaxed), poison: c.undecodable + c.poison }
    }

    /// The kernel's fixed metric set plus `nl_paper_events_emitted_total`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        r.counter_set("nl_paper_events_emitted_total", "Paper events emitted.", &[], self.snapshot().emitted as f64);
    }
}

struct Feeder {
    engine: Arc<Mutex<Engine>>,
}

impl Handler for Feeder {
    type Input = Arc<Envelope>;
    type Error = PaperError;

    fn decode(&self, msg: &Message, span: &Span) -> Result<Arc<Envelope>, String> {
        nl_bus::handler::decode_envelope(msg, span)
    }

    async fn handle(&self, env: Arc<Envelope>, _span: &Span) -> Result<Outcome, PaperError> {
        let outs = self.engine.lock().unwrap_or_else(PoisonError::into_inner).on_event(&env);
        Ok(Outcome::Done(outs.into_iter().map(Message::typed).collect()))
    }
}

/// The built service.
pub struct PaperService {
    consumer: Consumer<Feeder>,
    engine: Arc<Mutex<Engine>>,
    bus: Arc<dyn Bus>,
    ctx: ServiceCtx,
    cfg: PaperConfig,
    experiment_ids: Vec<String>,
    stats: Arc<PaperStats>,
}

impl std::fmt::Debug for PaperService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaperService").field("consumer", &self.consumer).finish_non_exhaustive()
    }
}

/// Validates `cfg` (refusing a missing fee model), loads `experiments` and binds the durable consumer.
///
/// # Errors
/// [`PaperError::Config`] or [`PaperError::Bus`].
pub async fn build(cfg: PaperConfig, ctx: ServiceCtx, experiments: Vec<Experiment>) -> Result<PaperService, PaperError> {
    let mut engine = Engine::new(cfg.clone(), ctx.run.clone())?;
    let experiment_ids = experiments.iter().map(|e| e.spec.spec_id.clone()).collect();
    for e in experiments {
        engine.add_experiment(e);
    }
    let engine = Arc::new(Mutex::new(engine));
    let stats = Arc::new(PaperStats::default());
    let spec = ConsumerSpec::tuned(cfg.durable.clone(), EVENTS_SUBJECT, cfg.ack_wait_ms, cfg.max_deliver, cfg.batch_size);
    spec.validate()?;
    let kernel = ConsumerConfig::new(SERVICE_SOURCE, spec, cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms));
    let consumer = Consumer::bind(Arc::clone(&ctx.bus), kernel, Feeder { engine: Arc::clone(&engine) }, Arc::clone(&stats.consumer)).await?;
    Ok(PaperService { consumer, engine, bus: Arc::clone(&ctx.bus), ctx, cfg, experiment_ids, stats })
}

impl PaperService {
    #[must_use]
    pub fn stats(&self) -> Arc<PaperStats> {
        Arc::clone(&self.stats)
    }

    /// Paper-trades until `shutdown`; then blocks orders still waiting and closes the session.
    ///
    /// # Errors
    /// A non-retryable bus error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<PaperCounts, PaperError> {
        let PaperService { consumer, engine, bus, ctx, cfg, experiment_ids, stats } = self;
        let started = ctx.clock.now();
        let mut body = StrategyRun {
            mode: "paper".into(),
            settings: cfg.settings_json(),
            experiment_ids: if cfg.learning.enabled { experiment_ids } else { Vec::new() },
            started_at: started,
            ended_at: None,
            source_run_id: None,
        };
        publish(&*bus, &stats, vec![strategy_run_event(EventType::StrategyRunStarted, &ctx.run, &body, started)]).await?;
        info!("Paper running (paper only; nothing is ever sent to a venue).");
        consumer.run(shutdown).await?;
        let ended = ctx.clock.now();
        let mut tail = engine.lock().unwrap_or_else(PoisonError::into_inner).finish(ended);
        body.ended_at = Some(ended);
        tail.push(strategy_run_event(EventType::StrategyRunCompleted, &ctx.run, &body, ended));
        publish(&*bus, &stats, tail).await?;
        let counts = stats.snapshot();
        info!(?counts, "Paper stopped.");
        Ok(counts)
    }
}

async fn publish(bus: &dyn Bus, stats: &PaperStats, envs: Vec<Envelope>) -> Result<(), PaperError> {
    for e in envs {
        let body = e.to_json().map_err(|err| PaperError::Config(format!("envelope JSON: {err}")))?;
        bus.publish(Message::new(e.subject(), e.event_id.0.clone(), body)).await?;
        stats.emitted.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

nl_bus::impl_service!(PaperService, SERVICE_SOURCE, durables = |s| vec![s.consumer.durable().to_owned()], stats = |s| Arc::clone(&s.stats));
