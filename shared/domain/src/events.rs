//! Typed event bodies: one body type per event type, and the one decoder every consumer uses.
//!
//! An envelope's `meta` is the body serialized as JSON (the wire and events.jsonl format). Consumers call
//! [`Body::decode`] (or [`Envelope::body`]) instead of picking fields out of `meta` by hand, so a body that
//! does not fit its type is refused in one place, with the type and the serde error.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AssetUpsert, CheckCode, DomainError, Envelope, EventId, EventType, GateDecision, ListingObservation, RawEvent, RiskEvaluation, ScoreRecord, Sighting, Snapshot};

/// `snapshot.recorded`: a market snapshot, plus how many sources had seen the asset when the enricher
/// knew (`None` = one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecorded {
    #[serde(flatten)]
    pub snapshot: Snapshot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_count: Option<u32>,
}

/// `score.computed`: a [`ScoreRecord`] plus everything the gate needs to decide without state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreComputed {
    #[serde(flatten)]
    pub record: ScoreRecord,
    /// `[snapshot_event_id, risk_event_id]`.
    pub inputs: Vec<String>,
    pub evaluation: RiskEvaluation,
    pub snapshot: Option<Snapshot>,
    pub source_count: u32,
    /// Raw events of the provider reports the evaluation used (replay provenance).
    #[serde(default)]
    pub provider_raw_ids: Vec<String>,
}

impl ScoreComputed {
    /// The meta JSON.
    ///
    /// # Errors
    /// Only if a value cannot be represented as JSON, which these types never produce.
    pub fn to_meta(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// Parses a `score.computed` meta.
    ///
    /// # Errors
    /// The serde error when a field is missing or malformed.
    pub fn from_meta(meta: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(meta)
    }
}

/// `asset.discovered` and `asset.updated`, emitted by the ledger after the commit that caused them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetChanged {
    /// The asset row as stored after the change.
    pub asset: Value,
    /// Every sighting of the asset so far.
    pub sightings: Vec<Sighting>,
    /// The sighting that caused the change.
    pub sighting: Sighting,
    /// `new_sighting` and/or `status` (updates only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    pub cause_event_id: EventId,
    /// The runbook's `meta.contract_address`: the token's contract (mint on Solana); `null` while a CEX
    /// listing is not linked to one.
    #[serde(default)]
    pub contract_address: Option<String>,
    /// The runbook's `meta.venue_type`: `CEX` or `DEX` (absent only in events stored before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_type: Option<String>,
    /// No source named the asset yet (an address-only sighting whose token lookup failed): its symbol is
    /// unknown, never `""` on the event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metadata_missing: bool,
}

/// `asset.reviewed`: an operator marked the asset reviewed (`nl review`); the ledger sets
/// `assets.reviewed_at` to the event's `ts`, so the asset leaves `v_assets_new` once it is older than the
/// window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssetReviewed {
    /// Who reviewed it, as they gave it (free text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AssetReviewed {
    /// The `asset.reviewed` event for `asset` at `now`: what `nl review` and the dashboard's "mark reviewed"
    /// button emit (the ledger applies it). Its id covers the asset, the time to the nanosecond and the
    /// body, so two reviews are two events and a retried publish of one is one.
    #[must_use]
    pub fn envelope(&self, asset: &crate::AssetId, now: crate::Ts, run_id: &str, config_hash: &str, source: &str) -> Envelope {
        let meta = serde_json::to_value(self).unwrap_or(Value::Null);
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let id = asset.to_string();
        let env = Envelope::new(EventType::AssetReviewed, &[&id, &stamp, &meta.to_string()], now, run_id, config_hash, meta).with_asset(id.clone()).with_source(source);
        match asset.chain_slug() {
            Some(chain) => env.with_chain(chain),
            None => env,
        }
    }
}

/// `asset.delisted`: a venue delists (or has dropped) an asset. Emitted by the collector from a delisting
/// announcement or an instrument gone for N consecutive polls; never creates an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetDelisted {
    /// `cex:<venue>:<BASE>`.
    pub asset_id: String,
    pub symbol: String,
    pub venue: String,
    /// The collector source that saw it.
    pub source: String,
    /// `announcement` (a delisting title) or `vanished` (gone from the instrument list).
    pub reason: String,
    /// When the delisting takes effect, where the title or feed says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<crate::Ts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The venue instruments concerned (vanished ones, or the pairs a title names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruments: Vec<String>,
    /// When nl saw it (the receive time of the response).
    pub observed_at: crate::Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_event_id: Option<String>,
}

impl AssetDelisted {
    /// The envelope: deterministic id from asset, venue, reason and announcement (or instruments), stamped
    /// with the observation time so a re-derivation gives the same event.
    #[must_use]
    pub fn to_envelope(&self, run_id: &str, config_hash: &str) -> Envelope {
        let which = self.announcement_id.clone().unwrap_or_else(|| self.instruments.join(","));
        let meta = serde_json::to_value(self).unwrap_or(Value::Null);
        Envelope::new(EventType::AssetDelisted, &[&self.asset_id, &self.venue, &self.reason, &which], self.observed_at, run_id, config_hash, meta)
            .with_asset(self.asset_id.clone())
            .with_symbol(self.symbol.clone())
            .with_source(self.source.clone())
    }
}

/// `risk.flagged`: an evaluation got worse than the asset's previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFlagged {
    pub asset_id: String,
    pub severity: u8,
    pub previous_severity: Option<i64>,
    pub rule_set_version: String,
    /// RFC 3339 evaluation time.
    pub evaluated_at: String,
    pub failed_checks: Vec<CheckCode>,
    pub disagreements: Vec<CheckCode>,
    pub risk_event_id: EventId,
}

/// `run.started` / `run.completed`: the fields every consumer uses; the whole meta is the run manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMeta {
    pub dry_run: bool,
    pub status: Option<String>,
}

/// `ai.l<N>.completed`: the fields the ledger indexes; the whole meta is the body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AiMeta {
    pub model: Option<String>,
    pub artifact_path: Option<String>,
    /// `l1` … `l4`.
    pub layer: Option<String>,
    /// `completed` or `abstained`.
    pub status: Option<String>,
    /// `l1/v1`: the prompt file, and the hash of prompt and schema as loaded.
    pub prompt_id: Option<String>,
    pub prompt_sha256: Option<String>,
    /// `l1.v1`: the output schema.
    pub schema_version: Option<String>,
    /// SHA-256 of the canonical evidence pack.
    pub input_sha256: Option<String>,
    /// SHA-256 of the artifact file (`<out_dir>/ai/<layer>/<sha256>.json`).
    pub artifact_sha256: Option<String>,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub latency_ms: Option<u64>,
    pub trigger_event_id: Option<String>,
    /// The validated output (L1: tags, summary, red flags, open questions, confidence).
    pub output: Option<serde_json::Value>,
}

/// The body of an event, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    RawCaptured(Box<RawEvent>),
    /// `listing.observed` and `listing.retracted`.
    Listing(Box<ListingObservation>),
    AssetUpserted(Box<AssetUpsert>),
    /// `asset.discovered` and `asset.updated`.
    AssetChanged(Box<AssetChanged>),
    AssetReviewed(AssetReviewed),
    AssetDelisted(Box<AssetDelisted>),
    SnapshotRecorded(Box<SnapshotRecorded>),
    RiskEvaluated(Box<RiskEvaluation>),
    RiskFlagged(Box<RiskFlagged>),
    ScoreComputed(Box<ScoreComputed>),
    /// `candidate.promoted` and `candidate.rejected`.
    Decision(Box<GateDecision>),
    /// `run.started` and `run.completed`.
    Run(RunMeta),
    /// `ai.l1.completed` … `ai.l4.completed`.
    Ai(AiMeta),
    OrderSubmitted(Box<crate::OrderSubmitted>),
    OrderFilled(Box<crate::OrderFilled>),
    PositionUpdated(Box<crate::PositionUpdated>),
    TradeBlocked(Box<crate::TradeBlocked>),
    ExperimentCreated(Box<crate::ExperimentCreated>),
    ExperimentStatusChanged(Box<crate::ExperimentStatusChanged>),
    LearningGateUpdated(Box<crate::LearningGateUpdated>),
    /// `strategy_run.started` and `strategy_run.completed`.
    StrategyRun(Box<crate::StrategyRun>),
    /// Types whose meta is free-form (`manual.note`).
    Other(Value),
}

impl Body {
    /// Decodes `env.meta` as the body of `env.kind`.
    ///
    /// # Errors
    /// [`DomainError::Body`] naming the type, the expected body and the serde error.
    pub fn decode(env: &Envelope) -> Result<Self, DomainError> {
        use EventType as T;
        Ok(match env.kind {
            T::RawCaptured => Self::RawCaptured(typed(env, "RawEvent")?),
            T::ListingObserved | T::ListingRetracted => Self::Listing(typed(env, "ListingObservation")?),
            T::AssetUpserted => Self::AssetUpserted(typed(env, "AssetUpsert")?),
            T::AssetDiscovered | T::AssetUpdated => Self::AssetChanged(typed(env, "AssetChanged")?),
            T::AssetReviewed => Self::AssetReviewed(object_or_null(env, "AssetReviewed")?),
            T::AssetDelisted => Self::AssetDelisted(typed(env, "AssetDelisted")?),
            T::SnapshotRecorded => Self::SnapshotRecorded(typed(env, "Snapshot")?),
            T::RiskEvaluated => Self::RiskEvaluated(typed(env, "RiskEvaluation")?),
            T::RiskFlagged => Self::RiskFlagged(typed(env, "RiskFlagged")?),
            T::ScoreComputed => Self::ScoreComputed(typed(env, "ScoreComputed")?),
            T::CandidatePromoted | T::CandidateRejected => Self::Decision(typed(env, "GateDecision")?),
            T::RunStarted | T::RunCompleted => Self::Run(object_or_null(env, "run meta")?),
            T::AiL1Completed | T::AiL2Completed | T::AiL3Completed | T::AiL4Completed => Self::Ai(object_or_null(env, "AI meta")?),
            T::OrderSubmitted => Self::OrderSubmitted(tagged(env, "OrderSubmitted")?),
            T::OrderFilled => Self::OrderFilled(tagged(env, "OrderFilled")?),
            T::PositionUpdated => Self::PositionUpdated(tagged(env, "PositionUpdated")?),
            T::TradeBlocked => Self::TradeBlocked(tagged(env, "TradeBlocked")?),
            T::ExperimentCreated => Self::ExperimentCreated(tagged(env, "ExperimentCreated")?),
            T::ExperimentStatusChanged => Self::ExperimentStatusChanged(tagged(env, "ExperimentStatusChanged")?),
            T::LearningGateUpdated => Self::LearningGateUpdated(tagged(env, "LearningGateUpdated")?),
            T::StrategyRunStarted | T::StrategyRunCompleted => Self::StrategyRun(typed(env, "StrategyRun")?),
            T::Manual | T::AiFailed | T::AiJobRequested => Self::Other(env.meta.clone()),
        })
    }
}

impl Envelope {
    /// The typed body of this event ([`Body::decode`]).
    ///
    /// # Errors
    /// See [`Body::decode`].
    pub fn body(&self) -> Result<Body, DomainError> {
        Body::decode(self)
    }
}

fn meta_as<T: DeserializeOwned>(env: &Envelope, what: &'static str) -> Result<T, DomainError> {
    T::deserialize(&env.meta).map_err(|e| DomainError::Body { kind: env.kind, what, reason: e.to_string() })
}

fn typed<T: DeserializeOwned>(env: &Envelope, what: &'static str) -> Result<Box<T>, DomainError> {
    meta_as(env, what).map(Box::new)
}

/// A paper body whose book tags must agree (`learning_book` ⇔ `experiment_id`).
fn tagged<T: DeserializeOwned>(env: &Envelope, what: &'static str) -> Result<Box<T>, DomainError> {
    if let Some(tags) = crate::paper::tags_of(env.kind, &env.meta) {
        tags.check().map_err(|reason| DomainError::Body { kind: env.kind, what, reason })?;
    }
    typed(env, what)
}

/// An object meta as `T`; `null` is `T::default()`; any other JSON kind is refused.
fn object_or_null<T: DeserializeOwned + Default>(env: &Envelope, what: &'static str) -> Result<T, DomainError> {
    match &env.meta {
        Value::Null => Ok(T::default()),
        Value::Object(_) => meta_as(env, what),
        other => Err(DomainError::Body { kind: env.kind, what, reason: format!("must be an object, got {}", json_kind(other)) }),
    }
}

/// The JSON kind of `v`, as an error message names it.
#[must_use]
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn env(kind: EventType, meta: Value) -> Envelope {
        let ts = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        Envelope::new(kind, &["x"], ts, "r", "c", meta)
    }

    #[test]
    fn bodies_decode_by_type_and_bad_ones_name_the_type() {
        assert_eq!(env(EventType::RunStarted, Value::Null).body().unwrap(), Body::Run(RunMeta::default()));
        let run = env(EventType::RunCompleted, json!({"dry_run": true, "status": "completed", "summary": {}})).body().unwrap();
        assert_eq!(run, Body::Run(RunMeta { dry_run: true, status: Some("completed".into()) }));
        let err = env(EventType::RunStarted, json!([1])).body().unwrap_err().to_string();
        assert!(err.contains("run.started") && err.contains("an array"), "{err}");
        let err = env(EventType::ScoreComputed, json!({"score": "1"})).body().unwrap_err().to_string();
        assert!(err.contains("score.computed") && err.contains("ScoreComputed"), "{err}");
        assert!(matches!(env(EventType::Manual, json!("note")).body().unwrap(), Body::Other(_)));
    }

    #[test]
    fn a_review_body_is_an_optional_reviewer_and_note() {
        let r = env(EventType::AssetReviewed, json!({"reviewed_by": "desk", "note": "seen"})).body().unwrap();
        assert_eq!(r, Body::AssetReviewed(AssetReviewed { reviewed_by: Some("desk".into()), note: Some("seen".into()) }));
        assert_eq!(env(EventType::AssetReviewed, Value::Null).body().unwrap(), Body::AssetReviewed(AssetReviewed::default()));
        let err = env(EventType::AssetReviewed, json!({"reviewd_by": "x"})).body().unwrap_err().to_string();
        assert!(err.contains("asset.reviewed") && err.contains("reviewd_by"), "{err}");
    }

    #[test]
    fn snapshot_body_keeps_the_flat_snapshot_shape() {
        let ts = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let snap = Snapshot {
            asset_id: crate::AssetId::parse("cex:okx:NEW").unwrap(),
            observed_at: ts,
            source: "okx_spot".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: None,
            volume_24h_usd: None,
            holders: Some(7),
            age_minutes: Some(3),
            raw_event_id: None,
        };
        let e = env(EventType::SnapshotRecorded, serde_json::to_value(&snap).unwrap());
        let Body::SnapshotRecorded(b) = e.body().unwrap() else { panic!("not a snapshot body") };
        assert_eq!(b.snapshot, snap);
        assert_eq!(b.source_count, None);
        assert_eq!(snap.age_minutes_at(ts + chrono::Duration::minutes(10)), Some(13));
    }
}
