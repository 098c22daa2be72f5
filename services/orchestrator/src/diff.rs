//! Comparing the gate decisions of two runs (`nl diff-runs`): the operator's what-if for a config change.
//!
//! A run's decisions are each asset's latest decision in that run (latest by decision time, then event id,
//! so the choice does not depend on insert order); [`ALL_RUNS`] takes each asset's latest decision across
//! every run of the DB. Two decisions are the same when decision, reason codes, score and rule-set version
//! are; anything else is listed, with both sides' reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use nl_ledger::LedgerReader;
use serde::Serialize;

/// The run id that selects every run of a DB.
pub const ALL_RUNS: &str = "all";

/// One asset's latest decision in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDecision {
    pub asset_id: String,
    pub decision: String,
    pub reason_codes: Vec<String>,
    /// The score the decision used (exact decimal text), when stored.
    pub score: Option<String>,
    pub rule_set_version: String,
    pub event_id: String,
    pub decided_at: String,
}

impl RunDecision {
    fn same(&self, other: &Self) -> bool {
        (&self.decision, &self.reason_codes, &self.score, &self.rule_set_version)
            == (&other.decision, &other.reason_codes, &other.score, &other.rule_set_version)
    }
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

type DecisionDbRow = (String, String, String, String, String, String, Option<String>);

/// Each asset's latest decision in `run` (or in every run, for [`ALL_RUNS`]) of the DB at `db`.
///
/// # Errors
/// The DB does not exist or cannot be read, or `run` is neither a run of it nor [`ALL_RUNS`].
pub async fn run_decisions(db: &Path, run: &str) -> anyhow::Result<BTreeMap<String, RunDecision>> {
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    let reader = LedgerReader::open(db, 1).await.with_context(|| format!("opening {}", db.display()))?;
    let pool = reader.pool();
    if run != ALL_RUNS {
        let known: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM runs WHERE run_id = ?1 UNION SELECT 1 FROM gate_decisions WHERE run_id = ?1 LIMIT 1")
            .bind(run)
            .fetch_optional(pool)
            .await?;
        if known.is_none() {
            pool.close().await;
            anyhow::bail!("run {run} is not in {} (give the run's database with --db-a/--db-b, or `{ALL_RUNS}`)", db.display());
        }
    }
    let rows: Vec<DecisionDbRow> = sqlx::query_as(
        "SELECT g.asset_id, g.decision, g.reason_codes_json, g.rule_set_version, g.event_id, g.decided_at, \
           (SELECT s.score FROM listing_scores s WHERE s.event_id IN (SELECT value FROM json_each(g.inputs_json)) LIMIT 1) \
         FROM gate_decisions g WHERE ?1 = 'all' OR g.run_id = ?1 ORDER BY g.asset_id, g.decided_at, g.event_id",
    )
    .bind(run)
    .fetch_all(pool)
    .await
    .with_context(|| format!("reading decisions of {run}"))?;
    pool.close().await;
    let mut out = BTreeMap::new();
    for (asset_id, decision, reasons, rule_set_version, event_id, decided_at, score) in rows {
        let reason_codes: Vec<String> = serde_json::from_str(&reasons).with_context(|| format!("decision {event_id}: reason codes {reasons:?}"))?;
        // Rows come in decision-time order per asset: the last one is the latest.
        out.insert(asset_id.clone(), RunDecision { asset_id, decision, reason_codes, score, rule_set_version, event_id, decided_at });
    }
    Ok(out)
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
                (Some(x), Some(y)) if x.same(y) => None,
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
