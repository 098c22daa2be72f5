//! Golden scenarios: parse → evaluate → score → decide for every asset and step in
//! `shared/testkit/data/golden_scenarios.json`, compared with the expected decision and reason codes.

use crate::golden_replay;

use golden_replay::{GoldenFile, Replay};
use nl_domain::{Decision, Verdict};

fn load() -> GoldenFile {
    golden_replay::load().expect("golden file parses and validates")
}

#[test]
fn golden_scenarios_decide_as_expected() {
    let file = load();
    assert!(file.scenarios.len() >= 12, "at least 12 assets");
    let mut failures = Vec::new();
    for sc in &file.scenarios {
        for (i, step) in sc.steps.iter().enumerate() {
            let out = file.run_step(sc, i);
            let got = (&out.decision.decision, &out.decision.reason_codes);
            if got != (&step.expected.decision, &step.expected.reason_codes) {
                failures.push(format!(
                    "{} step {i}: got {:?} {:?}\n  expected {:?} {:?}\n  score {} — {}\n  provider errors {:?}",
                    sc.name, got.0, got.1, step.expected.decision, step.expected.reason_codes, out.score.score, out.score.reason, out.provider_errors
                ));
            }
            assert_eq!(out.decision.inputs.len(), 3, "decision carries the input event ids");
            assert_eq!(out.decision.config_hash, file.config_hash);
        }
    }
    assert!(failures.is_empty(), "{} golden mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn golden_covers_the_required_situations() {
    let file = load();
    let names: Vec<&str> = file.scenarios.iter().map(|s| s.name.as_str()).collect();
    for required in [
        "honeypot",
        "high_sell_tax",
        "mintable",
        "thin_liquidity",
        "fine_evm",
        "provider_outage",
        "lp_locked_later",
        "owner_not_renounced",
        "proxy",
        "very_new_contract",
        "solana_mint_authority",
        "provider_disagreement",
        "holder_concentration",
        "missing_liquidity",
    ] {
        assert!(names.contains(&required), "missing scenario {required}");
    }
}

#[test]
fn outage_is_unknown_never_pass_and_disagreement_is_shown() {
    let file = load();
    let find = |n: &str| file.scenarios.iter().find(|s| s.name == n).expect("scenario");
    let outage = file.run_step(find("provider_outage"), 0);
    assert_eq!(outage.provider_errors.len(), 2, "{:?}", outage.provider_errors);
    for c in outage.evaluation.checks.iter().filter(|c| !["low_liquidity", "very_new_contract", "provider_disagreement"].contains(&c.code.as_str())) {
        assert_eq!(c.verdict, Verdict::Unknown, "{} must be unknown during an outage", c.code);
    }
    let dis = file.run_step(find("provider_disagreement"), 0);
    assert_eq!(dis.evaluation.disagreements, vec![nl_domain::CheckCode::Honeypot]);
    assert!(dis.evaluation.checks.iter().any(|c| c.code == "provider_disagreement" && c.verdict == Verdict::Fail));
}

#[test]
fn lp_locked_later_is_re_evaluated() {
    let file = load();
    let sc = file.scenarios.iter().find(|s| s.name == "lp_locked_later").expect("scenario");
    let first = file.run_step(sc, 0);
    let second = file.run_step(sc, 1);
    assert_eq!(first.decision.decision, Decision::Rejected);
    assert_eq!(second.decision.decision, Decision::Promoted);
    let lp = second.evaluation.checks.iter().find(|c| c.code == "lp_unlocked").expect("lp check");
    assert_eq!(lp.observed_at.to_rfc3339(), "2026-10-08T12:19:00+00:00", "the newer report decided");
}

#[test]
fn golden_configs_are_the_shipped_defaults() {
    let file = load();
    assert_eq!(file.rules, nl_risk_scorer::RiskRules::default());
    assert_eq!(file.score, nl_risk_scorer::ScoreConfig::default());
    assert_eq!(file.gate, nl_gate::GateConfig::default());
}

#[test]
fn bench_helper_runs() {
    let (per_sec, p99) = golden_replay::bench_pipeline(2_000);
    assert!(per_sec > 0.0 && p99 > 0.0, "{per_sec} {p99}");
    println!("bench_pipeline(2000): {per_sec:.0} decisions/s, p99 {p99:.1} µs");
}

/// Issue 15: the shipped defaults promote a clean token at twice `min_liquidity_usd`, one hour old, with
/// volume at 20 % of liquidity and 300 holders; the same token with a hard-fail check, or with its
/// critical checks unknown, is rejected with its reason codes.
#[test]
fn the_reference_candidate_is_promoted_under_the_defaults_and_its_failures_rejected() {
    let file = load();
    let find = |n: &str| file.scenarios.iter().find(|s| s.name == n).expect("scenario");
    let min_liq = nl_gate::GateConfig::default().min_liquidity_usd;
    let reference = find("reference_candidate");
    let snap = reference.steps[0].snapshot.as_ref().expect("snapshot");
    let liq = snap.liquidity_usd.expect("liquidity");
    assert_eq!(liq, min_liq * nl_domain::Decimal::from(2));
    assert!(snap.volume_24h_usd.expect("volume") * nl_domain::Decimal::from(5) >= liq);
    assert!(snap.holders.expect("holders") >= 300 && snap.age_minutes == Some(60) && reference.source_count == 1);
    let out = file.run_step(reference, 0);
    assert_eq!(out.decision.decision, Decision::Promoted, "{}", out.score.reason);
    assert!(out.score.score >= nl_domain::Decimal::from(50) && out.score.score < nl_domain::Decimal::from(55), "just above 50: {}", out.score.score);
    assert!(out.evaluation.checks.iter().all(|c| c.verdict == Verdict::Pass), "clean");
    let hard = file.run_step(find("reference_candidate_hard_fail"), 0);
    assert_eq!(hard.decision.decision, Decision::Rejected);
    assert_eq!(hard.decision.reason_codes[0], "HARD_FAIL:sell_tax_high");
    let unknown = file.run_step(find("reference_candidate_unknown_checks"), 0);
    assert_eq!(unknown.decision.decision, Decision::Rejected);
    assert!(unknown.decision.reason_codes.iter().filter(|r| r.starts_with("UNKNOWN_AS_FAIL:")).count() >= 5, "{:?}", unknown.decision.reason_codes);
}
