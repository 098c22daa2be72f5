//! A backtest: stored events replayed through the same [`Engine`] a paper session uses, in time order.
//! The clock is each event's own time; nothing later than an event is visible when it is handled, so
//! there is no look-ahead. The run is bracketed by `strategy_run.started` / `strategy_run.completed`,
//! stamped with the first and last input times, so the same inputs, config and seed give the same
//! events, byte for byte (up to the run id).

use nl_domain::paper::paper_envelope;
use nl_domain::{Envelope, EventType, RunIdentity, StrategyRun, Ts};

use crate::engine::{Engine, Experiment};
use crate::{PaperConfig, PaperError};

/// What a backtest replays.
#[derive(Debug, Clone, Default)]
pub struct BacktestInput {
    /// Stored events (decisions, snapshots, risk evaluations, asset upserts), any order: sorted by time.
    pub events: Vec<Envelope>,
    /// Experiments the learning book runs (as `running`).
    pub experiments: Vec<Experiment>,
    pub source_run_id: Option<String>,
}

/// The started/completed pair of a strategy run.
#[must_use]
pub fn strategy_run_event(kind: EventType, run: &RunIdentity, body: &StrategyRun, at: Ts) -> Envelope {
    paper_envelope(kind, &[&run.run_id], at, run, None, body)
}

/// Runs a backtest; returns every event it emits, in order.
///
/// # Errors
/// [`PaperError::Config`] when the config is invalid (e.g. no fee model).
pub fn run(cfg: &PaperConfig, run: &RunIdentity, mut input: BacktestInput) -> Result<Vec<Envelope>, PaperError> {
    let mut engine = Engine::new(cfg.clone(), run.clone())?;
    let ids: Vec<String> = input.experiments.iter().map(|e| e.spec.spec_id.clone()).collect();
    for mut e in input.experiments {
        e.status = nl_domain::ExperimentStatus::Running;
        engine.add_experiment(e);
    }
    input.events.sort_by_key(|e| e.ts);
    let start = input.events.first().map_or_else(|| chrono::DateTime::UNIX_EPOCH, |e| e.ts);
    let end = input.events.last().map_or(start, |e| e.ts);
    let mut body = StrategyRun {
        mode: "backtest".into(),
        settings: cfg.settings_json(),
        experiment_ids: if cfg.learning.enabled { ids } else { Vec::new() },
        started_at: start,
        ended_at: None,
        source_run_id: input.source_run_id,
    };
    let mut out = vec![strategy_run_event(EventType::StrategyRunStarted, run, &body, start)];
    for env in &input.events {
        out.extend(engine.on_event(env));
    }
    out.extend(engine.finish(end));
    body.ended_at = Some(end);
    out.push(strategy_run_event(EventType::StrategyRunCompleted, run, &body, end));
    Ok(out)
}
