//! Golden scenarios: recorded-shape provider payloads, market snapshots and the decision each must
//! produce. The file (`tests/golden_scenarios.json`) carries its own rules, score and gate configs, so it
//! can be replayed here (parse → evaluate → score → decide) and through the full event pipeline.
//!
//! A scenario has one or more steps. Steps are cumulative: step *k* sees every payload of steps 1..=k,
//! and the risk rules use the newest report per provider (so "LP locked later" is a second step with a
//! newer rugcheck report). A payload with an `http_status` other than 200, or one that does not parse,
//! yields no report: the checks it would have fed are unknown.

use nl_adapters::providers::{Provider, ProviderError, ProviderReport, goplus, honeypot, rugcheck};
use nl_domain::{AssetId, Decimal, Decision, GateDecision, RiskEvaluation, ScoreRecord, Snapshot, Ts};
use nl_risk_scorer::{RiskRules, ScoreConfig, evaluate, score};
use serde::{Deserialize, Serialize};

use crate::{GateConfig, GateError, decide};

/// The golden file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenFile {
    pub rules: RiskRules,
    pub score: ScoreConfig,
    pub gate: GateConfig,
    pub config_hash: String,
    pub scenarios: Vec<GoldenScenario>,
}

/// One asset's story.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenScenario {
    pub name: String,
    pub description: String,
    pub asset_id: AssetId,
    /// Sources that saw the asset (feeds the score's `sources` term).
    pub source_count: u32,
    pub steps: Vec<GoldenStep>,
}

/// One evaluation of the asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenStep {
    pub now: Ts,
    pub snapshot: Option<GoldenSnapshot>,
    #[serde(default)]
    pub payloads: Vec<GoldenPayload>,
    pub expected: GoldenExpected,
}

/// The market values of a snapshot (the asset id comes from the scenario).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenSnapshot {
    pub observed_at: Ts,
    pub source: String,
    pub liquidity_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub holders: Option<u64>,
    pub age_minutes: Option<i64>,
}

impl GoldenSnapshot {
    /// The domain snapshot for `asset`.
    #[must_use]
    pub fn to_snapshot(&self, asset: &AssetId) -> Snapshot {
        Snapshot {
            asset_id: asset.clone(),
            observed_at: self.observed_at,
            source: self.source.clone(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: self.liquidity_usd,
            volume_24h_usd: self.volume_24h_usd,
            holders: self.holders,
            age_minutes: self.age_minutes,
            raw_event_id: None,
        }
    }
}

/// A provider response as fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenPayload {
    pub provider: Provider,
    pub observed_at: Ts,
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The JSON body, or a string for a non-JSON body (e.g. a 429 page).
    pub body: serde_json::Value,
}

impl GoldenPayload {
    /// The body as the provider sent it.
    #[must_use]
    pub fn body_text(&self) -> String {
        match &self.body {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// Parses the payload for `asset` with the provider's parser.
    ///
    /// # Errors
    /// The parser's [`ProviderError`], or [`ProviderError::Field`] for a non-200 status or GoPlus asked about a
    /// CEX-only asset.
    pub fn parse(&self, asset: &AssetId) -> Result<ProviderReport, ProviderError> {
        if let Some(status) = self.http_status.filter(|s| *s != 200) {
            return Err(ProviderError::Field { provider: self.provider, field: "http_status", reason: format!("HTTP {status}") });
        }
        let body = self.body_text();
        match self.provider {
            Provider::Goplus => {
                let AssetId::Chain { address, .. } = asset else {
                    return Err(ProviderError::Field { provider: self.provider, field: "asset_id", reason: "not an on-chain asset".into() });
                };
                goplus::parse_token_security(&body, address, self.observed_at)
            }
            Provider::HoneypotIs => honeypot::parse_is_honeypot(&body, self.observed_at),
            Provider::Rugcheck => rugcheck::parse_report(&body, self.observed_at),
        }
    }
}

/// What the step must decide.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenExpected {
    pub decision: Decision,
    pub reason_codes: Vec<String>,
}

/// Everything one step produced.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub evaluation: RiskEvaluation,
    pub score: ScoreRecord,
    pub decision: GateDecision,
    /// Payloads that yielded no report, with why.
    pub provider_errors: Vec<String>,
}

/// Prepared inputs of one step: what the pipeline has after parsing.
#[derive(Debug, Clone)]
pub struct StepInputs {
    pub asset: AssetId,
    pub snapshot: Option<Snapshot>,
    pub reports: Vec<ProviderReport>,
    pub source_count: u32,
    pub now: Ts,
    pub inputs: Vec<String>,
    pub provider_errors: Vec<String>,
}

impl GoldenFile {
    /// Parses and validates a golden file.
    ///
    /// # Errors
    /// [`GateError::Json`] for malformed JSON, [`GateError::Golden`] for invalid configs or empty scenarios.
    pub fn from_json(text: &str) -> Result<Self, GateError> {
        let file: Self = serde_json::from_str(text)?;
        file.rules.validate().map_err(|e| GateError::Golden(e.to_string()))?;
        file.score.validate().map_err(|e| GateError::Golden(e.to_string()))?;
        file.gate.validate()?;
        if let Some(s) = file.scenarios.iter().find(|s| s.steps.is_empty()) {
            return Err(GateError::Golden(format!("scenario {} has no steps", s.name)));
        }
        Ok(file)
    }

    /// The parsed inputs of step `step` (0-based) of `scenario`; payloads accumulate over steps.
    #[must_use]
    pub fn step_inputs(scenario: &GoldenScenario, step: usize) -> StepInputs {
        let asset = scenario.asset_id.clone();
        let mut reports = Vec::new();
        let mut provider_errors = Vec::new();
        for (i, p) in scenario.steps.iter().take(step + 1).flat_map(|s| &s.payloads).enumerate() {
            match p.parse(&asset) {
                Ok(r) => reports.push(r),
                Err(e) => provider_errors.push(format!("payload {i}: {e}")),
            }
        }
        let st = &scenario.steps[step.min(scenario.steps.len().saturating_sub(1))];
        let inputs = vec![format!("golden:{}:{step}:snapshot", scenario.name), format!("golden:{}:{step}:risk", scenario.name), format!("golden:{}:{step}:score", scenario.name)];
        StepInputs { snapshot: st.snapshot.as_ref().map(|s| s.to_snapshot(&asset)), asset, reports, source_count: scenario.source_count, now: st.now, inputs, provider_errors }
    }

    /// Runs evaluate → score → decide over prepared inputs.
    #[must_use]
    pub fn run_inputs(&self, i: &StepInputs) -> StepOutcome {
        let evaluation = evaluate(&i.asset, i.snapshot.as_ref(), &i.reports, &self.rules, i.now);
        let score = score(&evaluation, i.snapshot.as_ref(), i.source_count, &self.score);
        let decision = decide(&evaluation, &score, i.snapshot.as_ref(), &self.gate, &self.config_hash, i.inputs.clone(), i.now);
        StepOutcome { evaluation, score, decision, provider_errors: i.provider_errors.clone() }
    }

    /// Parses, evaluates, scores and decides step `step` of `scenario`.
    #[must_use]
    pub fn run_step(&self, scenario: &GoldenScenario, step: usize) -> StepOutcome {
        self.run_inputs(&Self::step_inputs(scenario, step))
    }
}
