//! Golden scenarios, as data: recorded-shape provider payloads, market snapshots and the decision each must
//! produce ([`GOLDEN_SCENARIOS`], `data/golden_scenarios.json`). The file carries its own rules, score and
//! gate configs; their types belong to the risk-scorer and the gate, so [`GoldenFile`] is generic over
//! them (JSON values by default) and the replay (evaluate → score → decide) lives with the end-to-end tests
//! that link those services (`tests/golden_replay`).
//!
//! A scenario has one or more steps. Steps are cumulative: step *k* sees every payload of steps 1..=k,
//! and the risk rules use the newest report per provider (so "LP locked later" is a second step with a
//! newer rugcheck report). A payload with an `http_status` other than 200, or one that does not parse,
//! yields no report: the checks it would have fed are unknown.

use nl_adapters::providers::{Provider, ProviderError, ProviderReport, goplus, honeypot, rugcheck};
use nl_domain::{AssetId, Decimal, Decision, Snapshot, Ts};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::provider_mock::{MockResponse, ProviderMock};

/// The shipped golden scenarios, embedded so tests and benches need no files at run time.
pub const GOLDEN_SCENARIOS: &str = include_str!("../data/golden_scenarios.json");

/// Why a golden file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("golden file JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("golden file: {0}")]
    Invalid(String),
}

/// The golden file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenFile<Rules = serde_json::Value, Score = serde_json::Value, Gate = serde_json::Value> {
    pub rules: Rules,
    pub score: Score,
    pub gate: Gate,
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
            Provider::SolanaRpc => nl_adapters::providers::parse(Provider::SolanaRpc, asset, &body, self.observed_at),
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

impl<Rules: DeserializeOwned, Score: DeserializeOwned, Gate: DeserializeOwned> GoldenFile<Rules, Score, Gate> {
    /// Parses a golden file and checks that every scenario has a step (validating the configs is the
    /// caller's: their types know how).
    ///
    /// # Errors
    /// [`GoldenError::Json`] for malformed JSON, [`GoldenError::Invalid`] for a scenario without steps.
    pub fn from_json(text: &str) -> Result<Self, GoldenError> {
        let file: Self = serde_json::from_str(text)?;
        if let Some(s) = file.scenarios.iter().find(|s| s.steps.is_empty()) {
            return Err(GoldenError::Invalid(format!("scenario {} has no steps", s.name)));
        }
        Ok(file)
    }

    /// The shipped file, [`GOLDEN_SCENARIOS`].
    ///
    /// # Errors
    /// As [`GoldenFile::from_json`].
    pub fn shipped() -> Result<Self, GoldenError> {
        Self::from_json(GOLDEN_SCENARIOS)
    }
}

impl<Rules, Score, Gate> GoldenFile<Rules, Score, Gate> {
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
}

/// Serves GoPlus and honeypot.is on `127.0.0.1:0` answering every EVM token with the golden `fine_evm`
/// payloads (GoPlus keyed to the asked address); rugcheck answers 404. For benchmarks of the event path.
///
/// # Errors
/// The golden file lacks the `fine_evm` payloads, or the port cannot be bound.
pub async fn serve_fine_evm_providers() -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), String> {
    let file: GoldenFile = GoldenFile::shipped().map_err(|e| e.to_string())?;
    let fine = file.scenarios.iter().find(|s| s.name == "fine_evm").ok_or("no fine_evm scenario")?;
    let AssetId::Chain { address: fine_addr, .. } = &fine.asset_id else { return Err("fine_evm is not on-chain".into()) };
    let body = |p: Provider| fine.steps[0].payloads.iter().find(|x| x.provider == p).map(GoldenPayload::body_text);
    let goplus = body(Provider::Goplus).ok_or("no goplus payload")?;
    let honeypot = body(Provider::HoneypotIs).ok_or("no honeypot payload")?;
    let fine_addr = fine_addr.clone();
    let mock = ProviderMock::new().with_fallback(move |p, addr| match p {
        Provider::Goplus => Some(MockResponse::ok(goplus.replace(&fine_addr, addr))),
        Provider::HoneypotIs => Some(MockResponse::ok(honeypot.clone())),
        Provider::Rugcheck | Provider::SolanaRpc => None,
    });
    mock.serve().await.map_err(|e| e.to_string())
}
