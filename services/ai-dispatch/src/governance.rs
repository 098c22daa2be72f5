//! L4's deterministic checks, run in Rust before the model sees anything: does each promoted candidate
//! have a snapshot, a provider verdict on every critical check, a score breakdown, a `config_hash` and a
//! rule-set version? The result is a report; it never changes a decision.

use nl_domain::{AssetDetail, Verdict};
use serde::{Deserialize, Serialize};

/// Severity at or above which a risk check is critical.
pub const CRITICAL_SEVERITY: u8 = 80;

/// The checks on one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateCheck {
    pub asset_id: String,
    pub decision_event_id: Option<String>,
    pub snapshot_present: bool,
    /// Critical checks without a provider verdict (`unknown`, or no provider named).
    pub critical_without_verdict: Vec<String>,
    pub score_breakdown_present: bool,
    pub config_hash_present: bool,
    pub rule_set_version: Option<String>,
    /// Names of the checks that failed; empty = all passed.
    pub failed: Vec<String>,
}

/// Checks one candidate (`detail` `None`: the ledger does not hold it, every check fails).
#[must_use]
pub fn check(asset_id: &str, detail: Option<&AssetDetail>) -> CandidateCheck {
    let snapshot_present = detail.is_some_and(|d| !d.snapshots.is_empty());
    let critical_without_verdict: Vec<String> = detail
        .and_then(|d| d.risk.as_ref())
        .map(|r| {
            r.checks
                .iter()
                .filter(|c| c.severity >= CRITICAL_SEVERITY && (c.verdict == Verdict::Unknown || c.provider.is_empty()))
                .map(|c| c.code.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let has_risk = detail.is_some_and(|d| d.risk.is_some());
    let score_breakdown_present = detail.and_then(|d| d.score.as_ref()).is_some_and(|s| !s.components.is_empty());
    let decision = detail.and_then(|d| d.decision.as_ref());
    let config_hash_present = decision.is_some_and(|d| !d.config_hash.is_empty());
    let rule_set_version = decision.map(|d| d.rule_set_version.clone()).filter(|v| !v.is_empty());
    let mut failed = Vec::new();
    if !snapshot_present {
        failed.push("snapshot_present".into());
    }
    if !has_risk || !critical_without_verdict.is_empty() {
        failed.push("critical_checks_have_verdicts".into());
    }
    if !score_breakdown_present {
        failed.push("score_breakdown_present".into());
    }
    if !config_hash_present {
        failed.push("config_hash_present".into());
    }
    if rule_set_version.is_none() {
        failed.push("rule_set_version_present".into());
    }
    CandidateCheck {
        asset_id: asset_id.to_owned(),
        decision_event_id: detail.and_then(|d| d.decision_event_id.clone()),
        snapshot_present,
        critical_without_verdict,
        score_breakdown_present,
        config_hash_present,
        rule_set_version,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_candidate_fails_every_check() {
        let c = check("eth:0x01", None);
        assert_eq!(c.failed, ["snapshot_present", "critical_checks_have_verdicts", "score_breakdown_present", "config_hash_present", "rule_set_version_present"]);
    }
}
