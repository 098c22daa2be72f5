//! Typed rows from domain values, and the meta each row stands for: both directions of one mapping, so
//! what the ledger writes and what it reads back go through the same code. A meta rebuilt from a row is the
//! published one up to what the row cannot hold (a time finer than milliseconds, a key the type does not
//! know, a citation); [`crate::kept`] keeps that difference in the `events` row.

use std::str::FromStr;

use nl_domain::check_times;
use nl_domain::{
    AiMeta, AssetDelisted, AssetId, AssetReviewed, AssetUpsert, Body, Decimal, Decision, Envelope, EventType, GateDecision, RawEvent, RiskEvaluation, RunMeta,
    ScoreRecord, Snapshot, Ts,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::db::ts_str;
use crate::error::{LedgerError, Result};
use crate::insert::AiRow;
use crate::rows::{DecisionRow, RawRow, RiskRow, ScoreRow, SnapshotRow};

/// An envelope's meta parsed for its type, as the row it goes to.
pub(crate) enum Typed {
    /// Types the ledger only logs in `events`.
    Plain,
    Raw(Box<RawRow>),
    Asset(Box<AssetUpsert>),
    /// Marks a known asset delisted; never creates one.
    Delisted(Box<AssetDelisted>),
    Snapshot(Box<SnapshotRow>),
    /// The evaluation (risk flags are derived from it) and its row.
    Risk(Box<(RiskEvaluation, RiskRow)>),
    Score(Box<ScoreRow>),
    Decision(Box<DecisionRow>),
    Run(RunMeta),
    Ai(Box<AiRow>),
    /// `asset.reviewed`: the asset and the review time.
    Review(String, String),
    /// Paper trading and experiments (`order.*`, `position.updated`, `trade.blocked`, `experiment.*`,
    /// `learning.gate_updated`, `strategy_run.*`).
    Paper(Box<crate::paper::PaperRow>),
}

fn meta_as<T: DeserializeOwned>(env: &Envelope, what: &str) -> std::result::Result<T, String> {
    T::deserialize(&env.meta).map_err(|e| format!("meta of {} is not a valid {what}: {e}", env.kind))
}

/// A body of another kind than the envelope's (never: [`Body::decode`] decodes by kind).
fn other_body(env: &Envelope) -> String {
    format!("meta of {} decoded as another kind's body", env.kind)
}

fn object_meta<T: DeserializeOwned + Default>(env: &Envelope, what: &str) -> std::result::Result<T, String> {
    match &env.meta {
        Value::Null => Ok(T::default()),
        Value::Object(_) => meta_as(env, what),
        other => Err(format!("meta of {} must be an object, got {}", env.kind, nl_domain::events::json_kind(other))),
    }
}

impl Typed {
    /// Parses `env`'s meta for its type into its row (`now` stamps raw rows); the error says why it does
    /// not parse.
    pub(crate) fn parse(env: &Envelope, now: &str) -> std::result::Result<Self, String> {
        use EventType as T;
        let (id, run, cfg) = (env.event_id.as_str(), env.run_id.as_str(), env.config_hash.as_str());
        let encode = |e: LedgerError| format!("meta of {} cannot be stored: {e}", env.kind);
        // The kinds whose row is their typed body ([`Body::decode`], the one decoder every consumer uses).
        let body = || env.body().map_err(|e| e.to_string());
        Ok(match env.kind {
            T::RawCaptured => match body()? {
                Body::RawCaptured(raw) => Self::Raw(Box::new(RawRow::of(*raw, now))),
                _ => return Err(other_body(env)),
            },
            T::AssetUpserted => match body()? {
                Body::AssetUpserted(up) => Self::Asset(up),
                _ => return Err(other_body(env)),
            },
            T::AssetDelisted => match body()? {
                Body::AssetDelisted(d) => Self::Delisted(d),
                _ => return Err(other_body(env)),
            },
            T::SnapshotRecorded => {
                let s: Snapshot = meta_as(env, "Snapshot")?;
                let count = env.meta.get("source_count").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
                Self::Snapshot(Box::new(SnapshotRow::of(id, run, &s, count)))
            }
            T::RiskEvaluated => {
                let r: RiskEvaluation = meta_as(env, "RiskEvaluation")?;
                let row = RiskRow::of(id, run, cfg, &r).map_err(encode)?;
                Self::Risk(Box::new((r, row)))
            }
            T::ScoreComputed => {
                let s: ScoreRecord = meta_as(env, "ScoreRecord")?;
                // What does not fit the columns stays in the events row's residual.
                let extras: ScoreExtras = meta_as(env, "ScoreComputed").unwrap_or_default();
                Self::Score(Box::new(ScoreRow::of(id, run, cfg, &s, &extras).map_err(encode)?))
            }
            T::CandidatePromoted | T::CandidateRejected => {
                let Body::Decision(d) = body()? else { return Err(other_body(env)) };
                let expected = if env.kind == T::CandidatePromoted { Decision::Promoted } else { Decision::Rejected };
                if d.decision != expected {
                    return Err(format!("{} carries decision {:?}", env.kind, d.decision));
                }
                Self::Decision(Box::new(DecisionRow::of(id, run, &d).map_err(encode)?))
            }
            T::RunStarted | T::RunCompleted => match body()? {
                Body::Run(r) => Self::Run(r),
                _ => return Err(other_body(env)),
            },
            T::AssetReviewed => {
                let _: AssetReviewed = object_meta(env, "AssetReviewed")?;
                let asset = env.asset_id.clone().ok_or_else(|| format!("{} has no asset_id", env.kind))?;
                Self::Review(asset, ts_str(&env.ts))
            }
            T::AiL1Completed => Self::ai(env, "l1")?,
            T::AiL2Completed => Self::ai(env, "l2")?,
            T::AiL3Completed => Self::ai(env, "l3")?,
            T::AiL4Completed => Self::ai(env, "l4")?,
            T::OrderSubmitted
            | T::OrderFilled
            | T::PositionUpdated
            | T::TradeBlocked
            | T::ExperimentCreated
            | T::ExperimentStatusChanged
            | T::LearningGateUpdated
            | T::StrategyRunStarted
            | T::StrategyRunCompleted => Self::Paper(Box::new(crate::paper::PaperRow::parse(env)?)),
            T::ListingObserved | T::ListingRetracted | T::AssetDiscovered | T::AssetUpdated | T::RiskFlagged | T::Manual | T::AiFailed | T::AiJobRequested => {
                Self::Plain
            }
        })
    }

    fn ai(env: &Envelope, layer: &'static str) -> std::result::Result<Self, String> {
        let a: AiMeta = object_meta(env, "AI output")?;
        Ok(Self::Ai(Box::new(AiRow {
            event_id: env.event_id.0.clone(),
            run_id: env.run_id.clone(),
            asset_id: env.asset_id.clone(),
            layer,
            body_json: serde_json::to_string(&env.meta).map_err(|e| e.to_string())?,
            ai_tags: if layer == "l1" && a.status.as_deref() == Some("completed") {
                a.output
                    .as_ref()
                    .and_then(|o| o.get("tags"))
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(Value::as_str).map(String::from).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
            model: a.model,
            artifact_path: a.artifact_path,
            prompt_id: a.prompt_id,
            prompt_sha256: a.prompt_sha256,
            schema_version: a.schema_version,
            input_sha256: a.input_sha256,
            artifact_sha256: a.artifact_sha256,
            status: a.status,
            tokens_in: a.tokens_in.and_then(|n| i64::try_from(n).ok()),
            tokens_out: a.tokens_out.and_then(|n| i64::try_from(n).ok()),
            latency_ms: a.latency_ms.and_then(|n| i64::try_from(n).ok()),
            trigger_event_id: a.trigger_event_id,
            created_at: ts_str(&env.ts),
        })))
    }

    /// The meta this row stands for (see [`crate::kept`]); `None` for types without a row of their own.
    pub(crate) fn base(&self) -> Result<Option<Value>> {
        Ok(Some(match self {
            Self::Raw(r) => r.meta()?,
            Self::Snapshot(s) => s.meta()?,
            Self::Risk(r) => r.1.meta()?,
            Self::Score(s) => s.meta()?,
            Self::Decision(d) => d.meta()?,
            Self::Ai(a) => serde_json::from_str(&a.body_json)?,
            Self::Plain | Self::Asset(_) | Self::Delisted(_) | Self::Run(_) | Self::Review(..) | Self::Paper(_) => return Ok(None),
        }))
    }
}

/// A stored time (RFC 3339) as a domain time.
pub(crate) fn ts(what: &str, id: &str, s: &str) -> Result<Ts> {
    chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&chrono::Utc)).map_err(|e| LedgerError::Corrupt(format!("{what} of {id}: {s:?}: {e}")))
}

fn asset(id: &str, s: &str) -> Result<AssetId> {
    AssetId::parse(s).map_err(|e| LedgerError::Corrupt(format!("asset_id of {id}: {e}")))
}

/// A stored decimal (exact TEXT), if any.
pub(crate) fn decimal(what: &str, id: &str, s: Option<&str>) -> Result<Option<Decimal>> {
    s.map(|s| Decimal::from_str(s).map_err(|e| LedgerError::Corrupt(format!("{what} of {id}: {s:?}: {e}")))).transpose()
}

/// A stored JSON column.
pub(crate) fn json<T: for<'de> Deserialize<'de>>(what: &str, id: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| LedgerError::Corrupt(format!("{what} of {id}: {e}")))
}

/// Adds `key: value` to an object meta.
fn with(mut meta: Value, key: &str, value: Option<Value>) -> Value {
    if let (Some(obj), Some(v)) = (meta.as_object_mut(), value) {
        obj.insert(key.to_string(), v);
    }
    meta
}

fn dec(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// A score as stored: REAL. Scores are small decimals (two places), which a double holds to the digit.
fn score_real(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// A stored score as the decimal it was: the shortest text that reads back as the same double. A score
/// with more digits than a double holds rebuilds rounded; [`crate::kept`] keeps the published one.
fn score_decimal(id: &str, f: f64) -> Result<Decimal> {
    Decimal::from_str(&f.to_string()).map_err(|e| LedgerError::Corrupt(format!("score of {id}: {f}: {e}")))
}

impl SnapshotRow {
    pub(crate) fn of(event_id: &str, run_id: &str, s: &Snapshot, source_count: Option<u32>) -> Self {
        Self {
            id: 0,
            event_id: event_id.to_string(),
            asset_id: s.asset_id.to_string(),
            ts: ts_str(&s.observed_at),
            source: s.source.clone(),
            price: dec(s.price_usd),
            fdv: dec(s.fdv_usd),
            market_cap_usd: dec(s.market_cap_usd),
            liquidity_usd: dec(s.liquidity_usd),
            volume_24h_usd: dec(s.volume_24h_usd),
            holders: s.holders.map(|h| i64::try_from(h).unwrap_or(i64::MAX)),
            age_minutes: s.age_minutes,
            raw_event_id: s.raw_event_id.clone(),
            run_id: run_id.to_string(),
            source_count: source_count.map(i64::from),
        }
    }

    /// The `snapshot.recorded` meta this row stands for.
    pub(crate) fn meta(&self) -> Result<Value> {
        let id = self.event_id.as_str();
        let s = Snapshot {
            asset_id: asset(id, &self.asset_id)?,
            observed_at: ts("ts", id, &self.ts)?,
            source: self.source.clone(),
            price_usd: decimal("price", id, self.price.as_deref())?,
            fdv_usd: decimal("fdv", id, self.fdv.as_deref())?,
            market_cap_usd: decimal("market_cap_usd", id, self.market_cap_usd.as_deref())?,
            liquidity_usd: decimal("liquidity_usd", id, self.liquidity_usd.as_deref())?,
            volume_24h_usd: decimal("volume_24h_usd", id, self.volume_24h_usd.as_deref())?,
            holders: self.holders.and_then(|h| u64::try_from(h).ok()),
            age_minutes: self.age_minutes,
            raw_event_id: self.raw_event_id.clone(),
        };
        Ok(with(serde_json::to_value(s)?, "source_count", self.source_count.map(Value::from)))
    }
}

impl RiskRow {
    /// The row of an evaluation: its checks with their provider times kept once (`check_times_json`, see
    /// [`check_times`]), or whole when they do not compact (none, or not the shape `compact` keeps exactly).
    pub(crate) fn of(event_id: &str, run_id: &str, config_hash: &str, r: &RiskEvaluation) -> Result<Self> {
        let checks = serde_json::to_value(&r.checks)?;
        let compact = checks.as_array().filter(|c| !c.is_empty()).and_then(|c| check_times::compact(c));
        let (flags_json, check_times_json) = match compact {
            Some((checks, times)) => (serde_json::to_string(&checks)?, Some(serde_json::to_string(&times)?)),
            None => (serde_json::to_string(&checks)?, None),
        };
        Ok(Self {
            id: 0,
            event_id: event_id.to_string(),
            asset_id: r.asset_id.to_string(),
            ts: ts_str(&r.evaluated_at),
            rule_set_version: r.rule_set_version.clone(),
            severity: i64::from(r.severity),
            flags_json,
            disagreements_json: serde_json::to_string(&r.disagreements)?,
            run_id: run_id.to_string(),
            config_hash: config_hash.to_string(),
            check_times_json,
        })
    }

    /// `flags_json` with every check whole.
    pub(crate) fn checks(&self) -> Result<Value> {
        whole_checks(&self.event_id, &self.flags_json, self.check_times_json.as_deref())
    }

    /// This row as readers get it: `flags_json` holds every check whole, `check_times_json` is `None`.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] when the stored checks do not parse.
    pub fn whole(mut self) -> Result<Self> {
        if self.check_times_json.is_some() {
            self.flags_json = serde_json::to_string(&self.checks()?)?;
            self.check_times_json = None;
        }
        Ok(self)
    }

    /// The `risk.evaluated` meta this row stands for: the [`RiskEvaluation`] JSON, built from the stored
    /// JSON columns without a typed round trip (the ledger rebuilds one per evaluation it stores).
    pub(crate) fn meta(&self) -> Result<Value> {
        let id = self.event_id.as_str();
        let mut m = Map::new();
        m.insert("asset_id".into(), Value::String(self.asset_id.clone()));
        m.insert("rule_set_version".into(), Value::String(self.rule_set_version.clone()));
        m.insert("evaluated_at".into(), serde_json::to_value(ts("ts", id, &self.ts)?)?);
        m.insert("checks".into(), self.checks()?);
        m.insert("severity".into(), Value::from(self.severity));
        m.insert("disagreements".into(), json::<Value>("disagreements_json", id, &self.disagreements_json)?);
        Ok(Value::Object(m))
    }
}

/// The checks of risk_flags row `id` whole: `flags_json` with each check's times and `null`s put back from
/// `check_times_json` (when set, see [`RiskRow::of`]).
pub(crate) fn whole_checks(id: &str, flags_json: &str, check_times_json: Option<&str>) -> Result<Value> {
    let mut checks = json::<Value>("flags_json", id, flags_json)?;
    if let Some(times) = check_times_json {
        let times = json::<Value>("check_times_json", id, times)?;
        check_times::expand(&mut checks, &times)
            .ok_or_else(|| LedgerError::Corrupt(format!("risk_flags.flags_json of {id}: checks do not match check_times_json")))?;
    }
    Ok(checks)
}

/// What a `score.computed` meta carries beyond its [`ScoreRecord`], as far as `listing_scores` keeps it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScoreExtras {
    inputs: Option<Vec<String>>,
    source_count: Option<u32>,
    provider_raw_ids: Option<Vec<String>>,
}

impl ScoreRow {
    pub(crate) fn of(event_id: &str, run_id: &str, config_hash: &str, s: &ScoreRecord, extras: &ScoreExtras) -> Result<Self> {
        let list = |v: &Option<Vec<String>>| v.as_ref().map(serde_json::to_string).transpose();
        Ok(Self {
            id: 0,
            event_id: event_id.to_string(),
            asset_id: s.asset_id.to_string(),
            ts: ts_str(&s.computed_at),
            score: score_real(s.score),
            breakdown_json: serde_json::to_string(&s.components)?,
            reason: s.reason.clone(),
            formula_version: s.formula_version.clone(),
            run_id: run_id.to_string(),
            config_hash: config_hash.to_string(),
            inputs_json: list(&extras.inputs)?,
            source_count: extras.source_count.map(i64::from),
            provider_raw_ids_json: list(&extras.provider_raw_ids)?,
        })
    }

    /// The `score.computed` meta this row stands for, without what it cites (see [`nl_domain::stored`]).
    pub(crate) fn meta(&self) -> Result<Value> {
        let id = self.event_id.as_str();
        let record = ScoreRecord {
            asset_id: asset(id, &self.asset_id)?,
            score: score_decimal(id, self.score)?,
            components: json("breakdown_json", id, &self.breakdown_json)?,
            reason: self.reason.clone(),
            formula_version: self.formula_version.clone(),
            computed_at: ts("ts", id, &self.ts)?,
        };
        let list = |what: &str, s: &Option<String>| s.as_deref().map(|s| json::<Value>(what, id, s)).transpose();
        let meta = with(serde_json::to_value(record)?, "inputs", list("inputs_json", &self.inputs_json)?);
        let meta = with(meta, "source_count", self.source_count.map(Value::from));
        Ok(with(meta, "provider_raw_ids", list("provider_raw_ids_json", &self.provider_raw_ids_json)?))
    }
}

impl DecisionRow {
    pub(crate) fn of(event_id: &str, run_id: &str, d: &GateDecision) -> Result<Self> {
        let decision = match d.decision {
            nl_domain::Decision::Promoted => "promoted",
            nl_domain::Decision::Rejected => "rejected",
        };
        Ok(Self {
            id: 0,
            event_id: event_id.to_string(),
            asset_id: d.asset_id.to_string(),
            decision: decision.to_string(),
            reason_codes_json: serde_json::to_string(&d.reason_codes)?,
            rule_set_version: d.rule_set_version.clone(),
            config_hash: d.config_hash.clone(),
            inputs_json: serde_json::to_string(&d.inputs)?,
            decided_at: ts_str(&d.decided_at),
            run_id: run_id.to_string(),
        })
    }

    /// The `candidate.*` meta this row stands for.
    pub(crate) fn meta(&self) -> Result<Value> {
        let d = GateDecision::try_from(self.clone()).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
        Ok(serde_json::to_value(d)?)
    }
}

impl RawRow {
    pub(crate) fn of(r: RawEvent, inserted_at: &str) -> Self {
        Self {
            observed_at: ts_str(&r.observed_at),
            raw_id: r.raw_id,
            source: r.source,
            endpoint: r.endpoint,
            http_status: r.http_status.map(i64::from),
            content_hash: r.content_hash,
            payload_json: r.payload,
            parse_error: r.parse_error,
            run_id: r.run_id,
            inserted_at: inserted_at.to_string(),
            venue_type: None,
            payload_encoding: r.payload_encoding,
        }
    }

    /// The raw event this row holds.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] for an unreadable `observed_at`.
    pub fn to_event(&self) -> Result<RawEvent> {
        Ok(RawEvent {
            raw_id: self.raw_id.clone(),
            source: self.source.clone(),
            endpoint: self.endpoint.clone(),
            http_status: self.http_status(),
            observed_at: ts("observed_at", &self.raw_id, &self.observed_at)?,
            content_hash: self.content_hash.clone(),
            payload: self.payload_json.clone(),
            parse_error: self.parse_error.clone(),
            run_id: self.run_id.clone(),
            payload_encoding: self.payload_encoding.clone(),
        })
    }

    fn http_status(&self) -> Option<u16> {
        self.http_status.and_then(|s| u16::try_from(s).ok())
    }

    /// The `raw.captured` meta this row stands for: the [`RawEvent`] JSON, built with one copy of each
    /// field (a payload can be large).
    pub(crate) fn meta(&self) -> Result<Value> {
        let text = |s: &str| Value::String(s.to_string());
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        let mut m = Map::new();
        m.insert("raw_id".into(), text(&self.raw_id));
        m.insert("source".into(), text(&self.source));
        m.insert("endpoint".into(), text(&self.endpoint));
        m.insert("http_status".into(), self.http_status().map_or(Value::Null, Value::from));
        m.insert("observed_at".into(), serde_json::to_value(ts("observed_at", &self.raw_id, &self.observed_at)?)?);
        m.insert("content_hash".into(), text(&self.content_hash));
        m.insert("payload".into(), text(&self.payload_json));
        m.insert("parse_error".into(), opt(&self.parse_error));
        m.insert("run_id".into(), text(&self.run_id));
        if let Some(enc) = &self.payload_encoding {
            m.insert("payload_encoding".into(), text(enc));
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;
    use nl_domain::{CheckCode, RiskCheck, Verdict};

    /// The metas built from columns without a typed round trip are the domain types' JSON.
    #[test]
    fn column_built_metas_are_the_domain_json() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(250);
        let r = RiskEvaluation {
            asset_id: AssetId::parse("eth:0x00000000000000000000000000000000000000aa").unwrap(),
            rule_set_version: "risk-rules-v1".into(),
            evaluated_at: at,
            checks: vec![RiskCheck {
                code: CheckCode::Honeypot,
                verdict: Verdict::Unknown,
                provider: "goplus".into(),
                observed_at: at,
                expires_at: at,
                severity: 0,
                value: Some(serde_json::json!(0.25)),
                detail: Some("goplus: fact not reported".into()),
            }],
            severity: 70,
            disagreements: vec![CheckCode::Honeypot],
        };
        assert_eq!(RiskRow::of("e", "r", "c", &r).unwrap().meta().unwrap(), serde_json::to_value(&r).unwrap());
        for status in [Some(200), None] {
            let mut raw = RawEvent::new("goplus", "https://x/y", status, at, "{\"a\":1}".into(), "run");
            raw.parse_error = status.is_none().then(|| "EOF".into());
            assert_eq!(RawRow::of(raw.clone(), "now").meta().unwrap(), serde_json::to_value(&raw).unwrap());
            assert_eq!(RawRow::of(raw.clone(), "now").to_event().unwrap(), raw);
        }
    }
}
