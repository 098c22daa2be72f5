//! One topology: which consuming services run and how each is built, the same way in every mode.
//!
//! `nl run-cycle`, `nl run`, `nl demo` and `nl rederive` start [`Topology::pipeline`] over one `MemoryBus`;
//! `nl serve <service>` builds one [`Stage`] over NATS; the benches use either. What differs between modes
//! is only the bus in the [`ServiceCtx`] and the [`Extras`]: the ledger store shared with in-process
//! readers, and a re-derivation's recorded answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use nl_adapters::dex::dexscreener::PairFetcher;
use nl_adapters::kit::RecordedResponses;
use nl_ai_dispatch::AiConfig;
use nl_bus::{Bus, Service, ServiceCtx};
use nl_domain::{LedgerReader, RunIdentity};
use nl_enricher::{EnricherConfig, RoundControl};
use nl_gate::GateServiceConfig;
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_recorder::RecorderConfig;
use nl_risk_scorer::RiskScorerConfig;

use crate::pipeline::Pipeline;

/// A consuming service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Enricher,
    RiskScorer,
    Gate,
    Ledger,
    Recorder,
    /// The optional AI layers (L1–L4): advisory, never an input of the gate.
    AiDispatch,
}

impl Stage {
    /// Every stage, upstream first (the order draining checks consumers in).
    pub const PIPELINE: [Stage; 5] = [Stage::Enricher, Stage::RiskScorer, Stage::Gate, Stage::Ledger, Stage::Recorder];

    /// The service's name, as `nl serve` spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Enricher => "enricher",
            Stage::RiskScorer => "risk-scorer",
            Stage::Gate => "gate",
            Stage::Ledger => "ledger",
            Stage::Recorder => "recorder",
            Stage::AiDispatch => "ai-dispatch",
        }
    }
}

/// The configs services are built from.
#[derive(Debug, Clone, Copy)]
pub struct ServiceConfigs<'a> {
    pub enricher: &'a EnricherConfig,
    pub risk_scorer: &'a RiskScorerConfig,
    pub gate: &'a GateServiceConfig,
    pub ledger: &'a LedgerConfig,
    pub recorder: &'a RecorderConfig,
    /// `[ai]`; the AI stage only runs when it is active.
    pub ai: &'a AiConfig,
    /// Venue → REST base URL of its instrument-list source (where the enricher looks tickers up).
    pub venue_urls: &'a BTreeMap<String, String>,
}

/// Recorded answers for a re-derivation: pair lookups, provider reports and tickers come from captures,
/// never the network, and the enricher runs no re-snapshot rounds.
#[derive(Clone)]
pub struct Recorded {
    pub pairs: Arc<dyn PairFetcher>,
    pub providers: Arc<dyn RecordedResponses>,
    pub tickers: Arc<dyn RecordedResponses>,
}

/// What a mode adds to the bus context.
#[derive(Clone, Default)]
pub struct Extras {
    /// The ledger store shared with in-process readers (embedded mode); `None` opens the configured DB.
    pub store: Option<LedgerStore>,
    /// Answers of a re-derivation.
    pub recorded: Option<Recorded>,
    /// Closes the enricher's rounds: [`Pipeline::drain`] closes one once the pipeline settled. `None` in
    /// [`Topology::start`] is a timed control (the `round_ms` timer runs too); `nl run-cycle`, `nl demo` and
    /// `nl rederive` pass [`RoundControl::explicit`], so a run's round is exactly its observations.
    pub rounds: Option<RoundControl>,
    /// The AI stage's artifact root (`<out_dir>`), and the ledger reader of the AI stage, the gate and the
    /// enricher when `store` is not in process.
    pub ai_out_dir: Option<std::path::PathBuf>,
    pub ledger_reader: Option<Arc<dyn LedgerReader>>,
}

/// The services to start, in pipeline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    stages: Vec<Stage>,
}

impl Topology {
    /// Every consuming service: enricher, risk-scorer, gate, ledger, recorder.
    #[must_use]
    pub fn pipeline() -> Self {
        Self { stages: Stage::PIPELINE.to_vec() }
    }

    /// The pipeline plus the AI stage when `ai` is active (`[ai] enabled` with an endpoint).
    #[must_use]
    pub fn pipeline_with(ai: &AiConfig) -> Self {
        let mut t = Self::pipeline();
        if ai.active() {
            // After the ledger: it consumes what the ledger emits after commit (`asset.discovered`).
            t.stages.insert(4, Stage::AiDispatch);
        }
        t
    }

    /// Some stages, in the order given (a bench of part of the pipeline).
    #[must_use]
    pub fn of(stages: &[Stage]) -> Self {
        Self { stages: stages.to_vec() }
    }

    /// Builds every stage over `bus` and spawns it into a [`Pipeline`] (upstream first).
    ///
    /// # Errors
    /// The first service that fails to build, named.
    pub async fn start(&self, cfgs: ServiceConfigs<'_>, bus: &Arc<dyn Bus>, run: &RunIdentity, extras: &Extras) -> anyhow::Result<Pipeline> {
        let rounds = extras.rounds.clone().unwrap_or_else(RoundControl::timed);
        let extras = Extras { rounds: Some(rounds.clone()), ..extras.clone() };
        let mut pipeline = Pipeline::new(Arc::clone(bus)).with_rounds(rounds);
        for stage in &self.stages {
            let ctx = ServiceCtx::new(Arc::clone(bus), run.clone());
            pipeline.spawn_service(build(*stage, cfgs, ctx, &extras).await?);
        }
        Ok(pipeline)
    }
}

/// The ledger reader of the services that read back: the in-process store's, else [`Extras::ledger_reader`].
fn ledger_reader(extras: &Extras) -> Option<Arc<dyn LedgerReader>> {
    match &extras.store {
        Some(store) => Some(Arc::new(store.reader().clone()) as Arc<dyn LedgerReader>),
        None => extras.ledger_reader.clone(),
    }
}

/// Builds one service.
///
/// # Errors
/// The service's build error, with its name.
pub async fn build(stage: Stage, cfgs: ServiceConfigs<'_>, ctx: ServiceCtx, extras: &Extras) -> anyhow::Result<Box<dyn Service>> {
    let what = || format!("starting the {}", stage.name());
    Ok(match stage {
        Stage::Enricher => {
            let mut cfg = cfgs.enricher.clone();
            let mut ectx = nl_enricher::EnricherCtx::from(ctx).with_venue_urls(cfgs.venue_urls.clone());
            if let Some(r) = &extras.recorded {
                cfg.schedule.enabled = false;
                ectx = ectx.with_pair_fetcher(Arc::clone(&r.pairs)).with_recorded_tickers(Arc::clone(&r.tickers));
            }
            if let Some(rounds) = &extras.rounds {
                ectx = ectx.with_rounds(rounds.clone());
            }
            // Launches still deferred (`enrich_after_secs`) when the last enricher stopped are resumed from it.
            if let Some(reader) = ledger_reader(extras) {
                ectx = ectx.with_ledger_reader(reader);
            }
            Box::new(nl_enricher::build(cfg, ectx).await.with_context(what)?)
        }
        Stage::RiskScorer => {
            let mut rctx = nl_risk_scorer::RiskScorerCtx::from(ctx);
            if let Some(r) = &extras.recorded {
                rctx = rctx.with_recorded(Arc::clone(&r.providers));
            }
            Box::new(nl_risk_scorer::build(cfgs.risk_scorer.clone(), rctx).await.with_context(what)?)
        }
        Stage::Gate => Box::new(nl_gate::build_with_reader(cfgs.gate.clone(), ctx, ledger_reader(extras)).await.with_context(what)?),
        Stage::Ledger => match &extras.store {
            Some(store) => Box::new(nl_ledger::build_with_store(cfgs.ledger.clone(), store.clone(), ctx).await.with_context(what)?),
            None => Box::new(nl_ledger::build(cfgs.ledger.clone(), ctx).await.with_context(what)?),
        },
        Stage::Recorder => Box::new(nl_recorder::build(cfgs.recorder.clone(), ctx).await.with_context(what)?),
        Stage::AiDispatch => {
            let ai = nl_ai_dispatch::AiCtx {
                out_dir: extras.ai_out_dir.clone().unwrap_or_else(|| std::path::PathBuf::from(".")),
                reader: ledger_reader(extras),
                // A re-derivation replays stored artifacts and never calls a model.
                cache_only: extras.recorded.is_some(),
            };
            Box::new(nl_ai_dispatch::build(cfgs.ai.clone(), ctx, ai).await.with_context(what)?)
        }
    })
}
