//! ExperimentSpec: the schema that binds a learning-book question to its exposure and metrics, its status
//! machine (draft → approved → running ⇄ paused → completed | aborted) and its validation.
//!
//! A spec is JSON or YAML ([`ExperimentSpec::parse_file`] picks by the file's extension). Both refuse a bad
//! one with the field path of the first error (`exposure.sample_rate: must be in [0, 1]`), whether serde or
//! a rule found it. The spec's SHA-256 is
//! over its canonical JSON (keys sorted, no whitespace) and is frozen when the experiment starts running.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the ExperimentSpec schema this build reads.
pub const SPEC_SCHEMA_VERSION: u32 = 1;

/// A bad spec: where (`exposure.sample_rate`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SpecError {
    pub path: String,
    pub message: String,
}

impl SpecError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Which gate decisions an experiment may trade on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalDecision {
    Promoted,
    Rejected,
}

/// Which markets: CEX listings or DEX pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKindSel {
    Cex,
    Dex,
}

/// What an experiment trades: which signals, how many of them, how big and how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    /// Gate decisions to take signals from (may include `rejected`: learning explores what L5 refused).
    pub decisions: Vec<SignalDecision>,
    /// Chains (slugs) to take; empty = every chain (and CEX listings).
    #[serde(default)]
    pub chains: Vec<String>,
    /// Market kinds to take; empty = both.
    #[serde(default)]
    pub kinds: Vec<MarketKindSel>,
    /// Share of matching signals taken, in [0, 1]; sampling is a hash of the signal and the spec, so it
    /// is the same in paper and backtest.
    pub sample_rate: f64,
    /// Signals whose latest liquidity is below this are skipped (none: no floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_liquidity_usd: Option<Decimal>,
    /// Notional per trade, USD.
    pub notional_usd: Decimal,
    /// Exits: take-profit and stop-loss in percent of entry, and the longest hold.
    pub take_profit_pct: Decimal,
    pub stop_loss_pct: Decimal,
    pub max_hold_minutes: u32,
}

/// The primary metric an experiment is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryMetric {
    /// Mean return per closed trade, percent of notional (after fees).
    MeanReturnPct,
    /// Share of closed trades with a positive PnL.
    HitRate,
}

/// How the metric is compared with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Comparator {
    /// `value <op> threshold`.
    #[must_use]
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
        }
    }
}

/// The success criterion: `primary <op> threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessCriterion {
    pub op: Comparator,
    pub threshold: f64,
}

/// `metrics`: what answers the question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub primary: PrimaryMetric,
    pub success_criterion: SuccessCriterion,
    /// Below this many closed trades the verdict is "insufficient sample".
    pub min_trades: u32,
}

/// `risk`: per-spec caps, on top of the learning book's daily budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRisk {
    /// Most open notional at once, USD.
    pub max_notional_usd: Decimal,
    pub max_open_positions: u32,
}

/// A no-learn zone: while it holds, learning signals of the spec are blocked with its reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NoLearnZone {
    /// A daily UTC window `start`..`end` (`HH:MM`, end exclusive; may wrap midnight). Code `no_learn_window`.
    UtcWindow { start: String, end: String },
    /// The regime label the paper service is configured with equals `label`. Code `no_learn_regime`.
    Regime { label: String },
    /// The venue has not opened trading yet (scheduled start in the future). Code `venue_not_open`.
    VenueNotOpen,
}

impl NoLearnZone {
    /// The reason code a signal blocked by this zone carries.
    #[must_use]
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::UtcWindow { .. } => "no_learn_window",
            Self::Regime { .. } => "no_learn_regime",
            Self::VenueNotOpen => "venue_not_open",
        }
    }

    /// Minutes after UTC midnight of a window's bounds.
    ///
    /// # Errors
    /// The bound that is not `HH:MM`.
    pub fn window_minutes(&self) -> Result<Option<(u32, u32)>, String> {
        let Self::UtcWindow { start, end } = self else { return Ok(None) };
        Ok(Some((hhmm(start)?, hhmm(end)?)))
    }

    /// Whether the zone holds at minute-of-day `minute` under `regime` (venue openness is checked by the
    /// caller, who knows the asset).
    #[must_use]
    pub fn holds_at(&self, minute: u32, regime: Option<&str>) -> bool {
        match self {
            Self::UtcWindow { .. } => match self.window_minutes() {
                Ok(Some((s, e))) if s <= e => minute >= s && minute < e,
                Ok(Some((s, e))) => minute >= s || minute < e,
                _ => false,
            },
            Self::Regime { label } => regime == Some(label.as_str()),
            Self::VenueNotOpen => false,
        }
    }
}

fn hhmm(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not HH:MM (00:00..23:59)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// The ExperimentSpec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// `[a-z0-9_-]{1,64}`; the experiment id every learning trade carries.
    pub spec_id: String,
    /// The spec's own version (a changed spec is a new version, or a new spec).
    pub version: u32,
    pub question: String,
    pub hypothesis: String,
    pub exposure: Exposure,
    pub metrics: Metrics,
    pub risk: SpecRisk,
    #[serde(default)]
    pub no_learn_zones: Vec<NoLearnZone>,
}

impl ExperimentSpec {
    /// Parses and validates a JSON spec.
    ///
    /// # Errors
    /// [`SpecError`] with the field path of the first problem (`.` for the document itself).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            SpecError::at(path, e.into_inner().to_string())
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses and validates a YAML spec (the same fields as JSON; the same spec hashes the same either way).
    ///
    /// # Errors
    /// As [`ExperimentSpec::parse`].
    pub fn parse_yaml(text: &str) -> Result<Self, SpecError> {
        let spec: Self = serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text)).map_err(|e| {
            let path = e.path().to_string();
            SpecError::at(path, e.into_inner().to_string())
        })?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parses the text of the file named `name`: YAML for `.yaml` / `.yml`, JSON otherwise.
    ///
    /// # Errors
    /// As [`ExperimentSpec::parse`].
    pub fn parse_file(name: &std::path::Path, text: &str) -> Result<Self, SpecError> {
        match name.extension().and_then(std::ffi::OsStr::to_str).map(str::to_ascii_lowercase).as_deref() {
            Some("yaml" | "yml") => Self::parse_yaml(text),
            _ => Self::parse(text),
        }
    }

    /// Parses and validates a spec given as a JSON value.
    ///
    /// # Errors
    /// As [`ExperimentSpec::parse`].
    pub fn from_value(v: &serde_json::Value) -> Result<Self, SpecError> {
        Self::parse(&v.to_string())
    }

    /// The rules serde cannot express.
    ///
    /// # Errors
    /// [`SpecError`] naming the field.
    pub fn validate(&self) -> Result<(), SpecError> {
        let id_ok = !self.spec_id.is_empty()
            && self.spec_id.len() <= 64
            && self.spec_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(SpecError::at("spec_id", "must be 1 to 64 characters of a-z, 0-9, _ or -"));
        }
        if self.version == 0 {
            return Err(SpecError::at("version", "must be at least 1"));
        }
        for (k, v) in [("question", &self.question), ("hypothesis", &self.hypothesis)] {
            if v.trim().is_empty() {
                return Err(SpecError::at(k, "must not be empty"));
            }
        }
        let e = &self.exposure;
        if e.decisions.is_empty() {
            return Err(SpecError::at("exposure.decisions", "must name at least one of promoted, rejected"));
        }
        if e.decisions.iter().collect::<BTreeSet<_>>().len() != e.decisions.len() {
            return Err(SpecError::at("exposure.decisions", "lists a decision twice"));
        }
        if !(0.0..=1.0).contains(&e.sample_rate) {
            return Err(SpecError::at("exposure.sample_rate", "must be in [0, 1]"));
        }
        if e.notional_usd <= Decimal::ZERO {
            return Err(SpecError::at("exposure.notional_usd", "must be positive"));
        }
        if e.take_profit_pct <= Decimal::ZERO {
            return Err(SpecError::at("exposure.take_profit_pct", "must be positive"));
        }
        if e.stop_loss_pct <= Decimal::ZERO || e.stop_loss_pct > Decimal::ONE_HUNDRED {
            return Err(SpecError::at("exposure.stop_loss_pct", "must be in (0, 100]"));
        }
        if e.max_hold_minutes == 0 {
            return Err(SpecError::at("exposure.max_hold_minutes", "must be at least 1"));
        }
        if e.min_liquidity_usd.is_some_and(|l| l < Decimal::ZERO) {
            return Err(SpecError::at("exposure.min_liquidity_usd", "must not be negative"));
        }
        if !self.metrics.success_criterion.threshold.is_finite() {
            return Err(SpecError::at("metrics.success_criterion.threshold", "must be a finite number"));
        }
        if self.metrics.primary == PrimaryMetric::HitRate && !(0.0..=1.0).contains(&self.metrics.success_criterion.threshold) {
            return Err(SpecError::at("metrics.success_criterion.threshold", "a hit rate threshold is in [0, 1]"));
        }
        if self.metrics.min_trades == 0 {
            return Err(SpecError::at("metrics.min_trades", "must be at least 1"));
        }
        if self.risk.max_notional_usd < e.notional_usd {
            return Err(SpecError::at("risk.max_notional_usd", "must be at least exposure.notional_usd"));
        }
        if self.risk.max_open_positions == 0 {
            return Err(SpecError::at("risk.max_open_positions", "must be at least 1"));
        }
        for (i, z) in self.no_learn_zones.iter().enumerate() {
            match z {
                NoLearnZone::UtcWindow { .. } => {
                    z.window_minutes().map_err(|m| SpecError::at(format!("no_learn_zones[{i}]"), m))?;
                }
                NoLearnZone::Regime { label } if label.trim().is_empty() => {
                    return Err(SpecError::at(format!("no_learn_zones[{i}].label"), "must not be empty"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Lowercase hex SHA-256 of the canonical JSON (keys sorted, no whitespace).
    #[must_use]
    pub fn sha256(&self) -> String {
        // serde_json's Value keeps object keys sorted (no preserve_order feature): canonical by construction.
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }

    /// The JSON Schema of a spec (draft 2020-12).
    #[must_use]
    pub fn json_schema() -> serde_json::Value {
        crate::experiment_schema::schema()
    }
}

crate::wire_enum::wire_enum! {
    /// An experiment's lifecycle.
    ExperimentStatus, crate::DomainError::ExperimentStatus, {
        Draft => "draft",
        Approved => "approved",
        Running => "running",
        Paused => "paused",
        Completed => "completed",
        Aborted => "aborted",
    }
}

impl ExperimentStatus {
    /// Whether `self → to` is a legal step: draft → approved → running ⇄ paused → completed | aborted
    /// (draft and approved may also be aborted).
    #[must_use]
    pub fn can_become(self, to: Self) -> bool {
        use ExperimentStatus as S;
        matches!(
            (self, to),
            (S::Draft, S::Approved | S::Aborted)
                | (S::Approved, S::Running | S::Aborted)
                | (S::Running, S::Paused | S::Completed | S::Aborted)
                | (S::Paused, S::Running | S::Completed | S::Aborted)
        )
    }

    /// Completed and aborted experiments never change again.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Aborted)
    }
}

#[cfg(test)]
#[path = "experiment_tests.rs"]
mod tests;
