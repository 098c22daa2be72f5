//! Comparing the gate decisions of two runs (`nl diff-runs`): the operator's what-if for a config change.
//!
//! A run's decisions are each asset's latest decision in that run (latest by decision time, then event id,
//! so the choice does not depend on insert order); [`ALL_RUNS`] takes each asset's latest decision across
//! every run of the DB. Two decisions are the same when decision, reason codes, score and rule-set version
//! are; anything else is listed, with both sides' reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use nl_ledger::SqliteReader;
use serde::Serialize;

pub use nl_ledger::{ALL_RUNS, RunDecision};

/// Two decisions are the same when decision, reason codes, score and rule-set version are.
fn same(a: &RunDecision, b: &RunDecision) -> bool {
    (&a.decision, &a.reason_codes, &a.score, &a.rule_set_version) == (&b.decision, &b.reason_codes, &b.score, &b.rule_set_version)
}

/// An asset whose decision differs between run A and run B (`None`: not decided in that run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionDiff {
    pub asset_id: String,
    pub a: Option<RunDecision>,
    pub b: Option<RunDecision>,
}

impl DecisionDiff {
    /// What differs: `decision`, `reasons`, `score`, `rule_set`, `only_a` or `only_b`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match (&self.a, &self.b) {
            (Some(_), None) => "only_a",
            (None, Some(_)) => "only_b",
            (Some(a), Some(b)) if a.decision != b.decision => "decision",
            (Some(a), Some(b)) if a.reason_codes != b.reason_codes => "reasons",
            (Some(a), Some(b)) if a.score != b.score => "score",
            _ => "rule_set",
        }
    }
}

/// Each asset's latest decision in `run` (or in every run, for [`ALL_RUNS`]) of the DB at `db`.
///
/// # Errors
/// The DB does not exist or cannot be read, or `run` is neither a run of it nor [`ALL_RUNS`].
pub async fn run_decisions(db: &Path, run: &str) -> anyhow::Result<BTreeMap<String, RunDecision>> {
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    let reader = SqliteReader::open(db, 1).await.with_context(|| format!("opening {}", db.display()))?;
    let known = run == ALL_RUNS || reader.has_run(run).await?;
    let decisions = if known { Some(reader.run_decisions(run).await.with_context(|| format!("reading decisions of {run}"))?) } else { None };
    reader.pool().close().await;
    decisions.ok_or_else(|| anyhow::anyhow!("run {run} is not in {} (give the run's database with --db-a/--db-b, or `{ALL_RUNS}`)", db.display()))
}

/// The assets whose latest decisions differ between `a` and `b`, by asset id.
#[must_use]
pub fn diff_decisions(a: &BTreeMap<String, RunDecision>, b: &BTreeMap<String, RunDecision>) -> Vec<DecisionDiff> {
    let assets: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    assets
        .into_iter()
        .filter_map(|id| {
            let (da, db) = (a.get(id), b.get(id));
            match (da, db) {
                (Some(x), Some(y)) if same(x, y) => None,
                _ => Some(DecisionDiff { asset_id: id.clone(), a: da.cloned(), b: db.cloned() }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(asset: &str, decision: &str, reasons: &[&str], score: &str) -> (String, RunDecision) {
        let r = RunDecision {
            asset_id: asset.into(),
            decision: decision.into(),
            reason_codes: reasons.iter().map(ToString::to_string).collect(),
            score: Some(score.into()),
            rule_set_version: "risk-rules-v1".into(),
            event_id: format!("{asset}-{decision}"),
            decided_at: "2026-01-01T00:00:00.000Z".into(),
        };
        (asset.into(), r)
    }

    #[test]
    fn lists_exactly_the_assets_that_differ_and_what_differs() {
        let a: BTreeMap<_, _> = [
            d("eth:0x1", "promoted", &["PROMOTED"], "70"),
            d("eth:0x2", "rejected", &["SCORE_BELOW_MIN"], "40"),
            d("eth:0x3", "rejected", &["HARD_FAIL:honeypot"], "10"),
            d("eth:0x4", "promoted", &["PROMOTED"], "80"),
        ]
        .into_iter()
        .collect();
        let mut b = a.clone();
        b.insert("eth:0x1".into(), d("eth:0x1", "rejected", &["SCORE_BELOW_MIN"], "70").1);
        b.insert("eth:0x3".into(), d("eth:0x3", "rejected", &["HARD_FAIL:honeypot", "UNKNOWN_AS_FAIL:mintable"], "10").1);
        b.remove("eth:0x4");
        b.insert("eth:0x5".into(), d("eth:0x5", "promoted", &["PROMOTED"], "90").1);
        // Same decision but a different event id (another run) is not a difference.
        if let Some(r) = b.get_mut("eth:0x2") {
            r.event_id = "other".into();
        }
        let diffs = diff_decisions(&a, &b);
        let got: Vec<(&str, &str)> = diffs.iter().map(|x| (x.asset_id.as_str(), x.kind())).collect();
        assert_eq!(got, vec![("eth:0x1", "decision"), ("eth:0x3", "reasons"), ("eth:0x4", "only_a"), ("eth:0x5", "only_b")]);
        assert!(diff_decisions(&a, &a).is_empty());
    }
}
