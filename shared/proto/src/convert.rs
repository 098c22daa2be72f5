//! `From`/`TryFrom` between generated `pb` types and `nl_domain` types.

use chrono::SecondsFormat;
use nl_domain::{AssetId, Decision, GateDecision, Ts};

use crate::pb;

/// A protobuf value that does not map to a valid domain value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("field {field}: value is unspecified")]
    Unspecified { field: &'static str },
    #[error("field {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// RFC 3339 with milliseconds and `Z`, the format of every time string in the contracts.
#[must_use]
pub fn ts_to_string(ts: &Ts) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time string of the contracts.
///
/// # Errors
/// `ConvertError::Invalid` naming `field` when the string is not RFC 3339.
pub fn ts_from_str(field: &'static str, s: &str) -> Result<Ts, ConvertError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| ConvertError::Invalid { field, reason: format!("{s:?}: {e}") })
}

impl From<Decision> for pb::Decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Promoted => Self::Promoted,
            Decision::Rejected => Self::Rejected,
        }
    }
}

impl TryFrom<pb::Decision> for Decision {
    type Error = ConvertError;
    fn try_from(d: pb::Decision) -> Result<Self, Self::Error> {
        match d {
            pb::Decision::Promoted => Ok(Self::Promoted),
            pb::Decision::Rejected => Ok(Self::Rejected),
            pb::Decision::Unspecified => Err(ConvertError::Unspecified { field: "decision" }),
        }
    }
}

impl From<&GateDecision> for pb::GateDecision {
    fn from(g: &GateDecision) -> Self {
        Self {
            asset_id: g.asset_id.to_string(),
            decision: pb::Decision::from(g.decision).into(),
            reason_codes: g.reason_codes.clone(),
            rule_set_version: g.rule_set_version.clone(),
            config_hash: g.config_hash.clone(),
            inputs: g.inputs.clone(),
            decided_at: ts_to_string(&g.decided_at),
        }
    }
}

impl TryFrom<pb::GateDecision> for GateDecision {
    type Error = ConvertError;
    fn try_from(g: pb::GateDecision) -> Result<Self, Self::Error> {
        let decision = pb::Decision::try_from(g.decision)
            .map_err(|e| ConvertError::Invalid { field: "decision", reason: e.to_string() })
            .and_then(Decision::try_from)?;
        Ok(Self {
            asset_id: AssetId::parse(&g.asset_id).map_err(|e| ConvertError::Invalid { field: "asset_id", reason: e.to_string() })?,
            decision,
            reason_codes: g.reason_codes,
            rule_set_version: g.rule_set_version,
            config_hash: g.config_hash,
            inputs: g.inputs,
            decided_at: ts_from_str("decided_at", &g.decided_at)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> GateDecision {
        GateDecision {
            asset_id: AssetId::parse("cex:okx:NEW").unwrap(),
            decision: Decision::Promoted,
            reason_codes: vec!["liquidity_ok".into()],
            rule_set_version: "r1".into(),
            config_hash: "abc".into(),
            inputs: vec!["e1".into(), "e2".into()],
            decided_at: chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn gate_decision_roundtrips() {
        let d = sample();
        let p = pb::GateDecision::from(&d);
        assert_eq!(p.decided_at, "2026-01-02T03:04:05.000Z");
        assert_eq!(p.decision(), pb::Decision::Promoted);
        assert_eq!(GateDecision::try_from(p).unwrap(), d);
    }

    #[test]
    fn unspecified_and_bad_values_are_rejected() {
        let mut p = pb::GateDecision::from(&sample());
        p.decision = pb::Decision::Unspecified.into();
        assert_eq!(GateDecision::try_from(p.clone()), Err(ConvertError::Unspecified { field: "decision" }));
        p.decision = 99;
        assert!(GateDecision::try_from(p.clone()).is_err());
        p.decision = pb::Decision::Rejected.into();
        p.asset_id = "nope".into();
        assert!(matches!(GateDecision::try_from(p), Err(ConvertError::Invalid { field: "asset_id", .. })));
    }
}
