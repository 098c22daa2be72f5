//! Replays the golden scenarios (`nl_testkit::golden`) in process: parse → evaluate (risk-scorer) → score →
//! decide (gate), for the end-to-end tests that check decisions and their properties. It lives here, not in
//! a service crate, because it links two services.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use nl_domain::{GateDecision, RiskEvaluation, ScoreRecord};
use nl_gate::{GateConfig, decide};
use nl_risk_scorer::{RiskRules, ScoreConfig, evaluate, score};
pub use nl_testkit::golden::{GoldenScenario, StepInputs};

/// The golden file with the risk-scorer's and the gate's config types.
pub type GoldenFile = nl_testkit::golden::GoldenFile<RiskRules, ScoreConfig, GateConfig>;

/// Everything one step produced.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub evaluation: RiskEvaluation,
    pub score: ScoreRecord,
    pub decision: GateDecision,
    /// Payloads that yielded no report, with why.
    pub provider_errors: Vec<String>,
}

/// The shipped golden file, parsed, with its rules, score and gate configs validated.
///
/// # Errors
/// Malformed JSON, a scenario without steps, or an invalid config.
pub fn load() -> anyhow::Result<GoldenFile> {
    let file = GoldenFile::shipped()?;
    file.rules.validate()?;
    file.score.validate()?;
    file.gate.validate()?;
    Ok(file)
}

/// Replay of a golden file's steps (a trait so the tests read `file.run_step(..)`).
pub trait Replay {
    /// Runs evaluate → score → decide over prepared inputs.
    fn run_inputs(&self, i: &StepInputs) -> StepOutcome;

    /// Parses, evaluates, scores and decides step `step` of `scenario`.
    fn run_step(&self, scenario: &GoldenScenario, step: usize) -> StepOutcome {
        self.run_inputs(&GoldenFile::step_inputs(scenario, step))
    }
}

impl Replay for GoldenFile {
    fn run_inputs(&self, i: &StepInputs) -> StepOutcome {
        let evaluation = evaluate(&i.asset, i.snapshot.as_ref(), &i.reports, &self.rules, i.now);
        let score = score(&evaluation, i.snapshot.as_ref(), i.source_count, &self.score);
        let decision = decide(&evaluation, &score, i.snapshot.as_ref(), &self.gate, &self.config_hash, i.inputs.clone(), i.now);
        StepOutcome { evaluation, score, decision, provider_errors: i.provider_errors.clone() }
    }
}

/// Runs evaluate + score + decide `n` times, cycling through every golden step (payload parsing is done
/// once, up front). Returns `(decisions per second, p99 latency in microseconds)`; `(0.0, 0.0)` when
/// `n == 0` or the golden file is unusable (the golden test reports why).
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn bench_pipeline(n: usize) -> (f64, f64) {
    let Ok(file) = load() else { return (0.0, 0.0) };
    let steps: Vec<_> = file.scenarios.iter().flat_map(|s| (0..s.steps.len()).map(move |i| GoldenFile::step_inputs(s, i))).collect();
    if n == 0 || steps.is_empty() {
        return (0.0, 0.0);
    }
    let mut micros = Vec::with_capacity(n);
    let start = Instant::now();
    for k in 0..n {
        let t = Instant::now();
        let out = file.run_inputs(&steps[k % steps.len()]);
        std::hint::black_box(&out);
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64();
    micros.sort_by(f64::total_cmp);
    let idx = ((micros.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(micros.len() - 1);
    let per_sec = if total > 0.0 { n as f64 / total } else { f64::INFINITY };
    (per_sec, micros[idx])
}
