//! Records the pipeline stores: raw payloads, market snapshots, risk verdicts, scores and gate decisions.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AssetId, Envelope, EventId, EventType, Ts};

/// A fetched payload, kept verbatim (`raw_events`). Parse failures keep the payload and the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEvent {
    pub raw_id: String,
    pub source: String,
    /// The URL or RPC method fetched, with any credentials removed.
    pub endpoint: String,
    pub http_status: Option<u16>,
    pub observed_at: Ts,
    /// SHA-256 hex of `payload`.
    pub content_hash: String,
    /// The payload as text; when `payload_encoding` is [`PAYLOAD_BASE64`], the base64 of the exact bytes
    /// received (they were not valid UTF-8).
    pub payload: String,
    pub parse_error: Option<String>,
    pub run_id: String,
    /// `None`: `payload` is the body as received. [`PAYLOAD_BASE64`]: the body was not valid UTF-8 and
    /// `payload` holds its bytes base64-encoded (never replaced by U+FFFD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<String>,
}

/// [`RawEvent::payload_encoding`] of a payload kept as base64 because it was not valid UTF-8.
pub const PAYLOAD_BASE64: &str = "base64";

impl RawEvent {
    /// A raw event whose id derives from source, endpoint, observation time and content.
    #[must_use]
    pub fn new(source: &str, endpoint: &str, http_status: Option<u16>, observed_at: Ts, payload: String, run_id: &str) -> Self {
        let content_hash = hex::encode(Sha256::digest(payload.as_bytes()));
        let at = observed_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let raw_id = EventId::derive(EventType::RawCaptured, &[source, endpoint, &at, &content_hash]).0;
        Self {
            raw_id,
            source: source.into(),
            endpoint: endpoint.into(),
            http_status,
            observed_at,
            content_hash,
            payload,
            parse_error: None,
            run_id: run_id.into(),
            payload_encoding: None,
        }
    }

    /// Like [`new`](Self::new) from the bytes received: valid UTF-8 is kept as text; anything else is kept
    /// byte-exact as base64 ([`PAYLOAD_BASE64`]) with a `parse_error` saying so, and `content_hash` is the
    /// SHA-256 of the bytes themselves.
    #[must_use]
    pub fn from_bytes(source: &str, endpoint: &str, http_status: Option<u16>, observed_at: Ts, bytes: &[u8], run_id: &str) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::new(source, endpoint, http_status, observed_at, text.to_owned(), run_id),
            Err(e) => {
                use base64::Engine as _;
                let mut raw = Self::new(source, endpoint, http_status, observed_at, String::new(), run_id);
                raw.content_hash = hex::encode(Sha256::digest(bytes));
                let at = observed_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
                raw.raw_id = EventId::derive(EventType::RawCaptured, &[source, endpoint, &at, &raw.content_hash]).0;
                raw.payload = base64::engine::general_purpose::STANDARD.encode(bytes);
                raw.payload_encoding = Some(PAYLOAD_BASE64.to_owned());
                raw.parse_error = Some(not_utf8_error(e.valid_up_to()));
                raw
            }
        }
    }

    /// The payload's bytes as received (decoding [`PAYLOAD_BASE64`]); `None` for an undecodable base64
    /// payload (a damaged row).
    #[must_use]
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        match self.payload_encoding.as_deref() {
            Some(PAYLOAD_BASE64) => base64::engine::general_purpose::STANDARD.decode(&self.payload).ok(),
            _ => Some(self.payload.as_bytes().to_vec()),
        }
    }

    /// The `raw.captured` envelope of this capture, published by `run`: event id = `raw_id`, published on
    /// [`raw_subject`] of its source (see [`Envelope::subject`]). A capture made outside a run (a long-lived
    /// poller) gets the publishing run's id. The one builder every producer of raw captures uses.
    #[must_use]
    pub fn to_envelope(&self, run: &crate::RunIdentity) -> Envelope {
        let mut meta = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if self.run_id.is_empty() {
            meta["run_id"] = serde_json::Value::String(run.run_id.clone());
        }
        let mut env = Envelope::new(EventType::RawCaptured, &[], self.observed_at, &run.run_id, &run.config_hash, meta).with_source(self.source.clone());
        env.event_id = EventId(self.raw_id.clone());
        env
    }
}

/// The error of a payload that is not UTF-8: where it stops being valid, and how it is kept.
#[must_use]
pub fn not_utf8_error(valid_up_to: usize) -> String {
    format!("payload is not valid UTF-8 (first invalid byte at offset {valid_up_to}); kept byte-exact, base64-encoded")
}

/// The subject raw captures of `source` are published on: `nl.raw.<source>`.
#[must_use]
pub fn raw_subject(source: &str) -> String {
    format!("nl.raw.{source}")
}

impl Snapshot {
    /// The asset's age at `now`: the recorded age plus the minutes elapsed since the snapshot was observed.
    #[must_use]
    pub fn age_minutes_at(&self, now: Ts) -> Option<i64> {
        let elapsed = (now - self.observed_at).num_minutes().max(0);
        self.age_minutes.map(|a| a.saturating_add(elapsed))
    }
}

/// A market snapshot. Missing values are `None` (NULL), never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub asset_id: AssetId,
    pub observed_at: Ts,
    pub source: String,
    pub price_usd: Option<Decimal>,
    pub fdv_usd: Option<Decimal>,
    pub market_cap_usd: Option<Decimal>,
    pub liquidity_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub holders: Option<u64>,
    pub age_minutes: Option<i64>,
    pub raw_event_id: Option<String>,
}

/// Tri-state verdict of one risk check. A failed or rate-limited provider gives `Unknown`, never `Pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

/// One check's verdict with its provenance and expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskCheck {
    pub code: crate::CheckCode,
    pub verdict: Verdict,
    pub provider: String,
    pub observed_at: Ts,
    pub expires_at: Ts,
    /// 0 (info) to 100 (critical).
    pub severity: u8,
    /// The input value the rule judged, when there was one.
    pub value: Option<serde_json::Value>,
    pub detail: Option<String>,
}

/// All checks of one evaluation of one asset under one rule-set version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskEvaluation {
    pub asset_id: AssetId,
    pub rule_set_version: String,
    pub evaluated_at: Ts,
    pub checks: Vec<RiskCheck>,
    /// Highest severity among failed checks.
    pub severity: u8,
    /// Codes on which providers disagreed.
    pub disagreements: Vec<crate::CheckCode>,
}

/// One term of the score formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreComponent {
    pub name: String,
    pub input: Option<Decimal>,
    pub weight: Decimal,
    pub contribution: Decimal,
}

/// A computed score with its breakdown and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub asset_id: AssetId,
    pub score: Decimal,
    pub components: Vec<ScoreComponent>,
    pub reason: String,
    pub formula_version: String,
    pub computed_at: Ts,
}

/// L5's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Promoted,
    Rejected,
}

/// A deterministic gate decision and everything needed to re-derive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDecision {
    pub asset_id: AssetId,
    pub decision: Decision,
    pub reason_codes: Vec<String>,
    pub rule_set_version: String,
    pub config_hash: String,
    /// Event ids of the snapshot, risk evaluation and score the decision used.
    pub inputs: Vec<String>,
    pub decided_at: Ts,
}

/// Key of a DEX sighting's `pair` detail holding the base token's decimals, where the source gave them
/// (the ledger's `assets.decimals`).
pub const BASE_DECIMALS_KEY: &str = "base_decimals";

/// One source's sighting of an asset, as kept in `assets.sources_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub source: String,
    pub venue: String,
    pub kind: crate::ObservationKind,
    pub instrument_id: String,
    pub status: Option<String>,
    pub source_published_at: Option<Ts>,
    pub scheduled_at: Option<Ts>,
    pub first_observed_at: Ts,
    /// Pair/pool detail for DEX sightings (pair address, dex, quote token, fee), `null` otherwise.
    pub pair: serde_json::Value,
    /// The announcement's own URL (the observation's `details.url`) for announcement sightings whose
    /// source gave one: `instrument_id` is `<announcement id>:<SYMBOL>`, never a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The enricher's normalized view of an asset after a sighting (`asset.upserted`). The ledger merges it:
/// a new asset id emits `asset.discovered`; a new sighting or changed status emits `asset.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetUpsert {
    pub asset_id: AssetId,
    pub symbol: String,
    pub name: Option<String>,
    /// Chain slug and contract address when known (always for on-chain ids; after linking for CEX).
    pub chain: Option<String>,
    pub address: Option<String>,
    pub sighting: Sighting,
}
