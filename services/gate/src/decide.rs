//! The L5 decision. Deterministic: the same evaluation, score, snapshot, config and `now` always give the
//! same decision and the same reason codes in the same order.
//!
//! Reason codes, in order:
//! * `INPUT_MISMATCH`: the score or snapshot belongs to another asset;
//! * `NO_MARKET_DATA`: no source gave any market value (price, FDV, market cap, liquidity, 24 h volume,
//!   holders) yet: the asset is evaluated anyway and stays rejected until data arrives;
//! * per hard-fail check, in evaluation order: `HARD_FAIL:<code>` when it failed; when it is unknown
//!   (or its verdict expired by `now`), `UNKNOWN_AS_FAIL:<code>`, or the non-rejecting note
//!   `UNKNOWN_ALLOWED:<code>` if `unknown_as_fail = false`;
//! * `LIQUIDITY_UNKNOWN` / `LIQUIDITY_BELOW_MIN`;
//! * `AGE_UNKNOWN` / `AGE_BELOW_MIN` / `AGE_ABOVE_MAX`;
//! * `SCORE_BELOW_THRESHOLD`.
//!
//! A decision with no rejecting code is `PROMOTED`, followed by any `UNKNOWN_ALLOWED:` notes and
//! `PASS:<code>` for every check that passed and has not expired.

use nl_domain::{CheckCode, Decimal, Decision, GateDecision, RiskEvaluation, ScoreRecord, Snapshot, Ts, Verdict};
use serde::{Deserialize, Serialize};

use crate::GateError;

/// Gate thresholds. Hard-fail codes name risk checks whose failure (or, by default, unknown verdict)
/// rejects outright whatever the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    pub score_threshold: Decimal,
    pub min_liquidity_usd: Decimal,
    /// Minutes since pool creation required before promotion.
    pub min_age_minutes: i64,
    /// Older than this is not a new listing any more.
    #[serde(default)]
    pub max_age_minutes: Option<i64>,
    /// An unknown hard-fail check rejects (the default). `false` only notes it.
    #[serde(default = "default_true")]
    pub unknown_as_fail: bool,
    pub hard_fail: Vec<CheckCode>,
}

const fn default_true() -> bool {
    true
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            score_threshold: Decimal::from(50),
            min_liquidity_usd: Decimal::from(10_000),
            min_age_minutes: 10,
            max_age_minutes: None,
            unknown_as_fail: true,
            hard_fail: CheckCode::DEFAULT_HARD_FAIL.to_vec(),
        }
    }
}

impl GateConfig {
    /// Checks that the thresholds are coherent (hard-fail codes are checked when the config is read).
    ///
    /// # Errors
    /// [`GateError::Config`] naming the first problem.
    pub fn validate(&self) -> Result<(), GateError> {
        if self.min_liquidity_usd < Decimal::ZERO || self.min_age_minutes < 0 {
            return Err(GateError::Config("min_liquidity_usd and min_age_minutes must be >= 0".into()));
        }
        if self.max_age_minutes.is_some_and(|m| m < self.min_age_minutes) {
            return Err(GateError::Config("max_age_minutes must be >= min_age_minutes".into()));
        }
        Ok(())
    }
}

/// Decides promotion of one asset at `now`. `inputs` are the event ids of the snapshot, evaluation and
/// score used, recorded on the decision; `config_hash` identifies the effective config.
///
/// There is deliberately no parameter for AI output or free text: L5 is final and AI is advisory.
#[must_use]
pub fn decide(eval: &RiskEvaluation, score: &ScoreRecord, snapshot: Option<&Snapshot>, cfg: &GateConfig, config_hash: &str, inputs: Vec<String>, now: Ts) -> GateDecision {
    // (code, rejects)
    let mut codes: Vec<(String, bool)> = Vec::new();
    let mut passes = Vec::new();
    if score.asset_id != eval.asset_id || snapshot.is_some_and(|s| s.asset_id != eval.asset_id) {
        codes.push(("INPUT_MISMATCH".into(), true));
    }
    let snap = snapshot.filter(|s| s.asset_id == eval.asset_id);
    if !snap.is_some_and(has_market_data) {
        codes.push(("NO_MARKET_DATA".into(), true));
    }
    for c in &eval.checks {
        let verdict = if c.verdict != Verdict::Unknown && c.expires_at <= now { Verdict::Unknown } else { c.verdict };
        let hard = cfg.hard_fail.contains(&c.code);
        match (verdict, hard) {
            (Verdict::Fail, true) => codes.push((format!("HARD_FAIL:{}", c.code), true)),
            (Verdict::Unknown, true) if cfg.unknown_as_fail => codes.push((format!("UNKNOWN_AS_FAIL:{}", c.code), true)),
            (Verdict::Unknown, true) => codes.push((format!("UNKNOWN_ALLOWED:{}", c.code), false)),
            (Verdict::Pass, _) => passes.push(format!("PASS:{}", c.code)),
            _ => {}
        }
    }
    match snap.and_then(|s| s.liquidity_usd) {
        None => codes.push(("LIQUIDITY_UNKNOWN".into(), true)),
        Some(l) if l < cfg.min_liquidity_usd => codes.push(("LIQUIDITY_BELOW_MIN".into(), true)),
        Some(_) => {}
    }
    match snap.and_then(|s| s.age_minutes_at(now)) {
        None if cfg.min_age_minutes > 0 || cfg.max_age_minutes.is_some() => codes.push(("AGE_UNKNOWN".into(), true)),
        Some(a) if a < cfg.min_age_minutes => codes.push(("AGE_BELOW_MIN".into(), true)),
        Some(a) if cfg.max_age_minutes.is_some_and(|m| a > m) => codes.push(("AGE_ABOVE_MAX".into(), true)),
        _ => {}
    }
    if score.score < cfg.score_threshold {
        codes.push(("SCORE_BELOW_THRESHOLD".into(), true));
    }

    let rejected = codes.iter().any(|(_, rejects)| *rejects);
    let reason_codes = if rejected {
        codes.into_iter().map(|(c, _)| c).collect()
    } else {
        std::iter::once("PROMOTED".to_string()).chain(codes.into_iter().map(|(c, _)| c)).chain(passes).collect()
    };
    GateDecision {
        asset_id: eval.asset_id.clone(),
        decision: if rejected { Decision::Rejected } else { Decision::Promoted },
        reason_codes,
        rule_set_version: eval.rule_set_version.clone(),
        config_hash: config_hash.to_string(),
        inputs,
        decided_at: now,
    }
}

/// Whether a source gave any market value for the asset (its age alone is not market data).
fn has_market_data(s: &Snapshot) -> bool {
    [s.price_usd, s.fdv_usd, s.market_cap_usd, s.liquidity_usd, s.volume_24h_usd].iter().any(Option::is_some) || s.holders.is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use nl_domain::{AssetId, RiskCheck};

    use super::*;

    fn now() -> Ts {
        "2026-10-08T12:00:00Z".parse().unwrap()
    }

    fn later(s: i64) -> Ts {
        now() + chrono::Duration::seconds(s)
    }

    fn asset() -> AssetId {
        AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap()
    }

    fn check(code: &str, verdict: Verdict) -> RiskCheck {
        RiskCheck { code: code.parse().unwrap(), verdict, provider: "goplus".into(), observed_at: now(), expires_at: later(600), severity: 0, value: None, detail: None }
    }

    fn eval(checks: Vec<RiskCheck>) -> RiskEvaluation {
        RiskEvaluation { asset_id: asset(), rule_set_version: "risk-rules-v1".into(), evaluated_at: now(), checks, severity: 0, disagreements: vec![] }
    }

    fn score(s: i64) -> ScoreRecord {
        ScoreRecord { asset_id: asset(), score: Decimal::from(s), components: vec![], reason: String::new(), formula_version: "score-v1".into(), computed_at: now() }
    }

    fn snap(liq: Option<i64>, age: Option<i64>) -> Snapshot {
        Snapshot {
            asset_id: asset(),
            observed_at: now(),
            source: "geckoterminal".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: liq.map(Decimal::from),
            volume_24h_usd: None,
            holders: None,
            age_minutes: age,
            raw_event_id: None,
        }
    }

    fn run(checks: Vec<RiskCheck>, s: i64, snapshot: Option<Snapshot>, cfg: &GateConfig) -> GateDecision {
        decide(&eval(checks), &score(s), snapshot.as_ref(), cfg, "cfg", vec!["ev1".into()], now())
    }

    #[test]
    fn decision_table() {
        let cfg = GateConfig::default();
        let fine = Some(snap(Some(50_000), Some(60)));
        type Case = (&'static str, Vec<RiskCheck>, i64, Option<Snapshot>, Decision, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("promoted", vec![check("honeypot", Verdict::Pass), check("proxy", Verdict::Fail)], 60, fine.clone(), Decision::Promoted, vec!["PROMOTED", "PASS:honeypot"]),
            ("hard fail", vec![check("honeypot", Verdict::Fail)], 90, fine.clone(), Decision::Rejected, vec!["HARD_FAIL:honeypot"]),
            ("unknown hard", vec![check("honeypot", Verdict::Unknown)], 90, fine.clone(), Decision::Rejected, vec!["UNKNOWN_AS_FAIL:honeypot"]),
            ("soft unknown ignored", vec![check("proxy", Verdict::Unknown)], 90, fine.clone(), Decision::Promoted, vec!["PROMOTED"]),
            ("score", vec![], 49, fine.clone(), Decision::Rejected, vec!["SCORE_BELOW_THRESHOLD"]),
            ("thin", vec![], 90, Some(snap(Some(9_999), Some(60))), Decision::Rejected, vec!["LIQUIDITY_BELOW_MIN"]),
            ("no liq", vec![], 90, Some(Snapshot { volume_24h_usd: Some(Decimal::from(5_000)), ..snap(None, Some(60)) }), Decision::Rejected, vec!["LIQUIDITY_UNKNOWN"]),
            ("no market data", vec![], 90, Some(snap(None, Some(60))), Decision::Rejected, vec!["NO_MARKET_DATA", "LIQUIDITY_UNKNOWN"]),
            ("young", vec![], 90, Some(snap(Some(50_000), Some(9))), Decision::Rejected, vec!["AGE_BELOW_MIN"]),
            ("no snapshot", vec![], 90, None, Decision::Rejected, vec!["NO_MARKET_DATA", "LIQUIDITY_UNKNOWN", "AGE_UNKNOWN"]),
            (
                "everything",
                vec![check("sell_tax_high", Verdict::Fail), check("mintable", Verdict::Unknown)],
                10,
                Some(snap(Some(5), Some(1))),
                Decision::Rejected,
                vec!["HARD_FAIL:sell_tax_high", "UNKNOWN_AS_FAIL:mintable", "LIQUIDITY_BELOW_MIN", "AGE_BELOW_MIN", "SCORE_BELOW_THRESHOLD"],
            ),
        ];
        for (name, checks, s, snapshot, want, reasons) in cases {
            let d = run(checks, s, snapshot, &cfg);
            assert_eq!(d.decision, want, "{name}");
            assert_eq!(d.reason_codes, reasons, "{name}");
            assert_eq!(d.inputs, vec!["ev1".to_string()]);
        }
    }

    #[test]
    fn unknown_allowed_only_notes() {
        let cfg = GateConfig { unknown_as_fail: false, ..GateConfig::default() };
        let d = run(vec![check("honeypot", Verdict::Unknown), check("mintable", Verdict::Pass)], 60, Some(snap(Some(50_000), Some(60))), &cfg);
        assert_eq!(d.decision, Decision::Promoted);
        assert_eq!(d.reason_codes, ["PROMOTED", "UNKNOWN_ALLOWED:honeypot", "PASS:mintable"]);
        let d = run(vec![check("honeypot", Verdict::Fail)], 60, Some(snap(Some(50_000), Some(60))), &cfg);
        assert_eq!(d.reason_codes, ["HARD_FAIL:honeypot"], "a failed check is never allowed");
    }

    #[test]
    fn expired_pass_is_unknown_at_decision_time() {
        let mut c = check("honeypot", Verdict::Pass);
        c.expires_at = now();
        let d = run(vec![c], 60, Some(snap(Some(50_000), Some(60))), &GateConfig::default());
        assert_eq!(d.reason_codes, ["UNKNOWN_AS_FAIL:honeypot"]);
    }

    #[test]
    fn age_window_and_elapsed_time() {
        let cfg = GateConfig { max_age_minutes: Some(120), ..GateConfig::default() };
        let d = run(vec![], 60, Some(snap(Some(50_000), Some(121))), &cfg);
        assert_eq!(d.reason_codes, ["AGE_ABOVE_MAX"]);
        // Snapshot taken 5 minutes ago at age 7: the asset is 12 minutes old now.
        let mut s = snap(Some(50_000), Some(7));
        s.observed_at = now() - chrono::Duration::minutes(5);
        let d = run(vec![], 60, Some(s), &GateConfig::default());
        assert_eq!(d.decision, Decision::Promoted);
    }

    #[test]
    fn mismatched_inputs_reject() {
        let mut sc = score(90);
        sc.asset_id = AssetId::parse("cex:okx:OTHER").unwrap();
        let d = decide(&eval(vec![]), &sc, Some(&snap(Some(50_000), Some(60))), &GateConfig::default(), "cfg", vec![], now());
        assert_eq!(d.reason_codes, ["INPUT_MISMATCH"]);
    }

    #[test]
    fn deterministic_and_carries_provenance() {
        let cfg = GateConfig::default();
        let a = run(vec![check("honeypot", Verdict::Pass)], 60, Some(snap(Some(50_000), Some(60))), &cfg);
        let b = run(vec![check("honeypot", Verdict::Pass)], 60, Some(snap(Some(50_000), Some(60))), &cfg);
        assert_eq!(a, b);
        assert_eq!((a.config_hash.as_str(), a.rule_set_version.as_str(), a.decided_at), ("cfg", "risk-rules-v1", now()));
    }

    #[test]
    fn config_validation_and_defaults() {
        assert!(GateConfig::default().validate().is_ok());
        let bad = r#"{"score_threshold":50,"min_liquidity_usd":1,"min_age_minutes":1,"hard_fail":["ai_says_ok"]}"#;
        assert!(serde_json::from_str::<GateConfig>(bad).is_err(), "an unknown hard-fail code is refused");
        let bad = GateConfig { max_age_minutes: Some(1), ..GateConfig::default() };
        assert!(bad.validate().is_err());
        let cfg: GateConfig = serde_json::from_str(r#"{"score_threshold":"50","min_liquidity_usd":10000,"min_age_minutes":10,"hard_fail":[]}"#).unwrap();
        assert!(cfg.unknown_as_fail, "unknown_as_fail defaults to true");
        assert_eq!(cfg.score_threshold, Decimal::from_str("50").unwrap());
        assert!(serde_json::from_str::<GateConfig>(r#"{"score_threshold":50,"min_liquidity_usd":1,"min_age_minutes":1,"hard_fail":[],"ai_override":true}"#).is_err());
    }
}
