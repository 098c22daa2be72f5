//! The `ai-dispatch` service: durable consumers on `asset.discovered` (L1 light), `candidate.promoted` (L1
//! deep), `run.completed` (L2, L3, L4) and `ai.job.requested` (L2 on L0's schedule, one trigger per
//! period), shared by every replica. Each
//! delivery becomes jobs for the [`Engine`]; their events are the delivery's outputs, published before it
//! is acked. Nothing here is an input of the gate: AI output is advisory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nl_bus::{CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Handler, Message, Outcome, Registry, ServiceCtx};
use nl_domain::{Envelope, EventType, LedgerReader, Ts};
use serde::Serialize;
use tracing::{Span, info, warn};

use crate::engine::{Engine, Job};
use crate::error::AiError;
use crate::evidence::{self, PackError};
use crate::layers::Layer;
use crate::AiConfig;

/// What the service needs beyond the bus context.
#[derive(Clone, Default)]
pub struct AiCtx {
    /// Where artifacts live: `<out_dir>/ai/<layer>/`.
    pub out_dir: PathBuf,
    /// The ledger's reads (deep L1, L2–L4); without it those layers fail with `no_ledger_reader`.
    pub reader: Option<Arc<dyn LedgerReader>>,
    /// Use stored artifacts only (`nl rederive`): zero calls.
    pub cache_only: bool,
}

/// Live counters.
#[derive(Debug, Default)]
pub struct AiStats {
    pub consumers: Vec<Arc<ConsumerStats>>,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AiCounts {
    pub received: u64,
    pub calls: u64,
    pub cache_hits: u64,
    pub completed: u64,
    pub abstained: u64,
    pub failed: u64,
    pub poison: u64,
}

/// The built service.
pub struct AiService {
    consumers: Vec<Consumer<Trigger>>,
    engine: Arc<Engine>,
    stats: Arc<AiStats>,
    reader: Option<Arc<dyn LedgerReader>>,
    /// Whether the service makes calls (not a cache-only re-derivation), so today's spend is loaded first.
    calls: bool,
}

impl std::fmt::Debug for AiService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiService").field("engine", &self.engine).finish_non_exhaustive()
    }
}

/// Consumer names and subjects: one durable per trigger subject.
#[must_use]
pub fn subjects(cfg: &AiConfig) -> Vec<(String, String)> {
    [
        ("discovered", EventType::AssetDiscovered),
        ("promoted", EventType::CandidatePromoted),
        ("runs", EventType::RunCompleted),
        ("schedule", EventType::AiJobRequested),
    ]
        .into_iter()
        .map(|(n, t)| (format!("{}-{n}", cfg.durable), t.subject()))
        .collect()
}

/// Binds the consumers (the engine validates `cfg`).
///
/// # Errors
/// [`AiError`] on a bad config or a bus error.
pub async fn build(cfg: AiConfig, ctx: ServiceCtx, ai: AiCtx) -> Result<AiService, AiError> {
    let api_key = if cfg.api_key_env.is_empty() {
        None
    } else {
        Some((ctx.env)(&cfg.api_key_env).ok_or_else(|| AiError::Config(format!("[ai] api_key_env names {}, which is not set", cfg.api_key_env)))?)
    };
    let engine = Arc::new(Engine::new(cfg.clone(), &ai.out_dir, Arc::clone(&ctx.clock), ctx.run.clone(), api_key, ai.cache_only)?);
    let mut consumers = Vec::new();
    let mut stats = AiStats::default();
    for (durable, subject) in subjects(&cfg) {
        let spec = ConsumerSpec::tuned(durable, subject, cfg.ack_wait_ms, cfg.max_deliver, cfg.batch_size);
        spec.validate().map_err(|e| AiError::Config(e.to_string()))?;
        let kernel = ConsumerConfig::new(crate::engine::SOURCE, spec, cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms))
            .with_nak_delay(Duration::from_millis(cfg.nak_delay_ms));
        let cstats = Arc::new(ConsumerStats::default());
        stats.consumers.push(Arc::clone(&cstats));
        let trigger = Trigger { engine: Arc::clone(&engine), reader: ai.reader.clone() };
        consumers.push(Consumer::bind(Arc::clone(&ctx.bus), kernel, trigger, cstats).await?);
    }
    Ok(AiService { consumers, engine, stats: Arc::new(stats), reader: ai.reader, calls: !ai.cache_only })
}

impl AiStats {
    fn counts(&self, engine: &Engine) -> AiCounts {
        let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let (mut received, mut poison) = (0, 0);
        for c in &self.consumers {
            let s = c.snapshot();
            received += s.received;
            poison += s.undecodable + s.poison;
        }
        let e = &engine.stats;
        AiCounts { received, calls: g(&e.calls), cache_hits: g(&e.cache_hits), completed: g(&e.completed), abstained: g(&e.abstained), failed: g(&e.failed), poison }
    }
}

/// Counters and metrics handle.
#[derive(Debug, Clone)]
pub struct AiStatsHandle {
    stats: Arc<AiStats>,
    engine: Arc<Engine>,
}

impl AiStatsHandle {
    #[must_use]
    pub fn snapshot(&self) -> AiCounts {
        self.stats.counts(&self.engine)
    }

    /// The kernel's metrics per consumer plus `nl_ai_jobs_total{status}` and `nl_ai_calls_total`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        for c in &self.stats.consumers {
            c.export(r);
        }
        let c = self.snapshot();
        for (status, n) in [("completed", c.completed), ("abstained", c.abstained), ("failed", c.failed)] {
            r.counter_set("nl_ai_jobs_total", "AI jobs by outcome.", &[("status", status)], n as f64);
        }
        r.counter_set("nl_ai_calls_total", "Model calls made.", &[], c.calls as f64);
        r.counter_set("nl_ai_cache_hits_total", "Jobs answered from a stored artifact.", &[], c.cache_hits as f64);
    }
}

impl AiService {
    #[must_use]
    pub fn stats(&self) -> AiStatsHandle {
        AiStatsHandle { stats: Arc::clone(&self.stats), engine: Arc::clone(&self.engine) }
    }

    #[must_use]
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine)
    }

    fn durables(&self) -> Vec<String> {
        self.consumers.iter().map(|c| c.durable().to_owned()).collect()
    }

    /// Consumes triggers until `shutdown`.
    ///
    /// # Errors
    /// A non-retryable bus error.
    pub async fn run(self, shutdown: CancellationToken) -> Result<AiCounts, AiError> {
        info!(status = %self.engine.config().status_line(), "AI dispatch running.");
        let handle = self.stats();
        if self.calls && !load_spend(&self.engine, self.reader.as_deref(), &shutdown).await {
            return Ok(handle.snapshot());
        }
        let mut tasks = tokio::task::JoinSet::new();
        for c in self.consumers {
            let s = shutdown.clone();
            tasks.spawn(async move { c.run(s).await.map(|_| ()) });
        }
        let mut result = Ok(());
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Err(e)) if result.is_ok() => result = Err(e),
                Err(e) if result.is_ok() => result = Err(AiError::Config(format!("task panicked: {e}"))),
                _ => {}
            }
        }
        result?;
        let counts = handle.snapshot();
        info!(?counts, "AI dispatch stopped.");
        Ok(counts)
    }
}

nl_bus::impl_service!(AiService, crate::engine::SOURCE, durables = |s| s.durables(), stats = |s| s.stats());

/// Loads today's spend from the ledger into the daily cap before any trigger is consumed; while the ledger
/// cannot tell, nothing is consumed (fail closed: a restart never gets a fresh day's budget). Returns
/// false when `shutdown` came first. Without a reader the daily cap counts this process's calls only.
async fn load_spend(engine: &Engine, reader: Option<&dyn LedgerReader>, shutdown: &CancellationToken) -> bool {
    let Some(reader) = reader else {
        warn!("No ledger reader: [ai.budget] daily_cap counts this process's calls only.");
        return true;
    };
    loop {
        match engine.load_spend(reader).await {
            Ok(spent) => {
                info!(spent, daily_cap = engine.config().budget.daily_cap, "AI tokens already spent today (from the ledger).");
                return true;
            }
            Err(error) => warn!(%error, "Today's AI spend is unknown; no trigger is consumed until the ledger answers."),
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Runs the run-level `layers` as of `as_of` and returns their events (failures included).
pub async fn run_level_jobs(engine: &Engine, reader: &Arc<dyn LedgerReader>, trigger_id: &str, trigger_type: &str, as_of: Ts, layers: &[Layer]) -> Vec<Envelope> {
    let mut out = Vec::new();
    let max = evidence::Limits::of(engine.config());
    for &layer in layers.iter().filter(|l| engine.config().layer_on(l.id())) {
        let built = match layer {
            Layer::L4 => evidence::l4(as_of, reader, max).await.map(|(p, checks)| (p, serde_json::to_value(checks).ok())),
            _ => evidence::run_level(layer.id(), as_of, reader, max).await.map(|p| (p, None)),
        };
        let job = |pack, extra| Job { layer, trigger_event_id: trigger_id.to_owned(), trigger_type: trigger_type.to_owned(), pack, extra, symbol: None, chain: None };
        match built {
            Ok((pack, extra)) => out.push(engine.run(&job(pack, extra), false).await),
            Err(e) => {
                let empty = crate::pack::PackBuilder::new(layer.id(), as_of, None, max.chars).finish();
                out.push(engine.fail_job(&job(empty, None), "pack_unavailable", &e.to_string()));
            }
        }
    }
    out
}

/// The layer an `ai.job.requested` asks for: a run-level layer (L2–L4); anything else is poison.
fn requested(env: &Envelope) -> Result<Vec<Layer>, PackError> {
    let id = env.meta.get("layer").and_then(serde_json::Value::as_str).unwrap_or_default();
    match Layer::parse(id) {
        Some(l @ (Layer::L2 | Layer::L3 | Layer::L4)) => Ok(vec![l]),
        _ => Err(PackError::Trigger(format!("ai.job.requested names layer {id:?}; a scheduled job is L2, L3 or L4"))),
    }
}

/// The handler of every trigger subject.
struct Trigger {
    engine: Arc<Engine>,
    reader: Option<Arc<dyn LedgerReader>>,
}

impl Trigger {
    async fn jobs(&self, env: &Envelope) -> Result<Vec<Envelope>, PackError> {
        let cfg = self.engine.config();
        match env.kind {
            EventType::AssetDiscovered | EventType::CandidatePromoted if cfg.layer_on("l1") => {
                let pack = evidence::l1(env, self.reader.as_ref(), evidence::Limits::of(cfg)).await?;
                let job = Job {
                    layer: Layer::L1,
                    trigger_event_id: env.event_id.0.clone(),
                    trigger_type: env.kind.as_str().to_owned(),
                    pack,
                    extra: None,
                    symbol: env.symbol.clone(),
                    chain: env.chain.clone(),
                };
                Ok(vec![self.engine.run(&job, false).await])
            }
            EventType::RunCompleted | EventType::AiJobRequested => {
                let mut layers = if env.kind == EventType::RunCompleted { vec![Layer::L2, Layer::L3, Layer::L4] } else { requested(env)? };
                // A period requested again (by a second or restarted orchestrator, after the bus's dedup
                // window) is answered once: the ledger already holds its output, whichever replica made it.
                if env.kind == EventType::AiJobRequested
                    && let Some(reader) = &self.reader
                {
                    let answered = reader.ai_layers_answered(&env.event_id.0).await.map_err(|e| PackError::Read(e.to_string()))?;
                    layers.retain(|l| !answered.iter().any(|a| a == l.id()));
                }
                match &self.reader {
                    Some(reader) => Ok(run_level_jobs(&self.engine, reader, &env.event_id.0, env.kind.as_str(), env.ts, &layers).await),
                    None => Ok(layers
                        .iter()
                        .filter(|l| cfg.layer_on(l.id()))
                        .map(|&layer| {
                            let pack = crate::pack::PackBuilder::new(layer.id(), env.ts, None, 1).finish();
                            let job = Job { layer, trigger_event_id: env.event_id.0.clone(), trigger_type: env.kind.as_str().into(), pack, extra: None, symbol: None, chain: None };
                            self.engine.fail_job(&job, "no_ledger_reader", "run-level layers read the ledger")
                        })
                        .collect()),
                }
            }
            _ => Ok(Vec::new()),
        }
    }
}

impl Handler for Trigger {
    type Input = Arc<Envelope>;
    type Error = AiError;

    fn decode(&self, msg: &Message, span: &Span) -> Result<Arc<Envelope>, String> {
        nl_bus::handler::decode_envelope(msg, span)
    }

    fn concurrency(&self) -> usize {
        self.engine.config().budget.concurrency_per_layer.max(1) * 2
    }

    async fn handle(&self, env: Arc<Envelope>, _span: &Span) -> Result<Outcome, AiError> {
        let events = match self.jobs(&env).await {
            Ok(events) => events,
            Err(PackError::Trigger(reason)) => return Ok(Outcome::Poison(reason)),
            Err(PackError::Read(reason)) => return Ok(Outcome::retry(Some(Duration::from_secs(1)), reason)),
        };
        Ok(Outcome::Done(events.into_iter().map(Message::typed).collect()))
    }
}
