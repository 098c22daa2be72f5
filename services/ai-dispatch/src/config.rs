//! `[ai]`: the endpoint, sampling, budgets and consumer bounds of the AI layers. Off unless `enabled` and
//! an endpoint (`base_url`, `model`) are set: there is no built-in model.

use serde::{Deserialize, Serialize};

use crate::error::AiError;

/// How the reply's JSON schema is asked for: servers spell `response_format` differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI and llama.cpp's own server: `{"type":"json_schema","json_schema":{"name":..,"strict":true,"schema":..}}`.
    #[default]
    JsonSchema,
    /// llama-cpp-python's server: `{"type":"json_object","schema":..}`.
    JsonObjectSchema,
}

/// Where the datamark of a call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerMode {
    /// A fresh random marker per call (the default): nothing in the pack can predict it, but two calls on
    /// the same input send different prompts, so even a greedy model may answer differently.
    #[default]
    PerCall,
    /// Derived from the pack's and the prompt's hashes: the same input sends the byte-identical request
    /// (what a reproducibility check of a model needs); predictable only to whoever can predict the whole pack.
    PerInput,
}

/// Token budgets and the failure breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Tokens (prompt + completion) per UTC day, counting what the ledger's `ai_outputs` already spent today.
    pub daily_cap: u64,
    /// Tokens per run (per process run id).
    pub run_cap: u64,
    /// Calls in flight per layer.
    pub concurrency_per_layer: usize,
    /// Consecutive failed calls that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls (ms).
    pub breaker_cooldown_ms: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { daily_cap: 500_000, run_cap: 100_000, concurrency_per_layer: 1, breaker_failures: 5, breaker_cooldown_ms: 60_000 }
    }
}

/// `[ai]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AiConfig {
    /// Off by default; on needs `base_url` and `model` too.
    pub enabled: bool,
    /// OpenAI-compatible API root, e.g. `http://127.0.0.1:8088/v1` (`/chat/completions` is appended).
    pub base_url: String,
    pub model: String,
    /// Env variable holding the API key (sent as `Authorization: Bearer`); empty: none.
    pub api_key_env: String,
    pub temperature: f64,
    /// Sent as the request's `seed` (greedy sampling plus a fixed seed gives repeatable replies).
    pub rng: u64,
    pub timeout_ms: u64,
    pub response_format_dialect: Dialect,
    /// `per_call` (default) or `per_input` (see [`MarkerMode`]).
    pub marker: MarkerMode,
    /// Completion tokens asked for per call (`max_tokens`), also what a call reserves from the budget.
    pub max_completion: u32,
    /// Layers that run: any of `l1`, `l2`, `l3`, `l4`.
    pub layers: Vec<String>,
    /// L2 regime schedule (seconds; 0 = only on `run.completed`).
    pub regime_interval_secs: u64,
    /// Cap on one untrusted text field (characters, after normalization).
    pub max_text_chars: usize,
    /// Cap on the items of one evidence pack (small local models have small contexts).
    pub max_pack_items: usize,
    /// Cap on a reply body (bytes); longer replies abstain.
    pub max_reply_bytes: usize,
    pub budget: BudgetConfig,
    /// Durable consumer name prefix (one consumer per trigger subject).
    pub durable: String,
    pub batch_size: usize,
    pub fetch_wait_ms: u64,
    pub ack_wait_ms: u64,
    pub max_deliver: u32,
    pub nak_delay_ms: u64,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            base_url: String::new(),
            model: String::new(),
            api_key_env: String::new(),
            temperature: 0.0,
            rng: 42,
            timeout_ms: 60_000,
            response_format_dialect: Dialect::JsonSchema,
            marker: MarkerMode::PerCall,
            max_completion: 384,
            layers: ["l1", "l2", "l3", "l4"].map(String::from).to_vec(),
            regime_interval_secs: 3600,
            max_text_chars: 200,
            max_pack_items: 60,
            max_reply_bytes: 16_384,
            budget: BudgetConfig::default(),
            durable: "ai-dispatch".into(),
            batch_size: 16,
            fetch_wait_ms: 500,
            ack_wait_ms: 300_000,
            max_deliver: 3,
            nak_delay_ms: 1_000,
        }
    }
}

impl AiConfig {
    /// On: enabled with an endpoint and a model.
    #[must_use]
    pub fn active(&self) -> bool {
        self.enabled && !self.base_url.is_empty() && !self.model.is_empty()
    }

    /// Whether `layer` (`l1`…`l4`) runs.
    #[must_use]
    pub fn layer_on(&self, layer: &str) -> bool {
        self.layers.iter().any(|l| l == layer)
    }

    /// One line for `nl status`.
    #[must_use]
    pub fn status_line(&self) -> String {
        if self.active() {
            format!("on: model {} at {} ({:?}), layers {}", self.model, self.base_url, self.response_format_dialect, self.layers.join(","))
        } else if self.enabled {
            "off: [ai] enabled = true but base_url or model is empty (no endpoint configured)".into()
        } else {
            "off: no endpoint configured ([ai] enabled = false)".into()
        }
    }

    /// Checks the config.
    ///
    /// # Errors
    /// [`AiError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), AiError> {
        let bad = |m: String| Err(AiError::Config(m));
        if self.enabled && (self.base_url.is_empty() || self.model.is_empty()) {
            return bad("[ai] enabled = true needs base_url and model (an OpenAI-compatible endpoint)".into());
        }
        if !(self.base_url.is_empty() || self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad(format!("[ai] base_url must start with http:// or https://, got {:?}", self.base_url));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad("[ai] temperature must be within 0..=2".into());
        }
        if let Some(l) = self.layers.iter().find(|l| !crate::layers::Layer::ALL.iter().any(|x| x.id() == l.as_str())) {
            return bad(format!("[ai] layers: unknown layer {l:?} (use l1, l2, l3, l4)"));
        }
        if self.timeout_ms == 0 || self.max_completion == 0 || self.max_text_chars == 0 || self.max_reply_bytes == 0 || self.max_pack_items == 0 {
            return bad("[ai] timeout_ms, max_completion, max_text_chars and max_reply_bytes must be positive".into());
        }
        if self.budget.concurrency_per_layer == 0 || self.budget.breaker_failures == 0 {
            return bad("[ai.budget] concurrency_per_layer and breaker_failures must be positive".into());
        }
        if !(1..=1000).contains(&self.batch_size) || self.fetch_wait_ms == 0 {
            return bad("[ai] batch_size must be 1..=1000 and fetch_wait_ms positive".into());
        }
        Ok(())
    }
}
