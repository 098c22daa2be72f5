//! Source disagreement: when a merged market view (the enricher's `snapshot.recorded` with
//! `meta.merge.members`, one snapshot per source) has prices from two or more sources further apart than
//! `[risk_scorer.rules] max_source_price_spread`, the `source_disagreement` check fails and the evaluation's
//! `disagreements` names it. With fewer than two prices the check is absent (nothing to compare).

use std::collections::BTreeMap;

use nl_domain::{CheckCode, Decimal, RiskCheck, RiskEvaluation, Snapshot, Ts, Verdict};
use serde_json::Value;

use crate::RiskRules;

/// Severity of a failed `source_disagreement` (100 when it is a hard-fail code).
pub const SEV_SOURCE_DISAGREEMENT: u8 = 50;

/// The members of a merged snapshot's meta (`merge.members`); empty when it has none or they do not parse.
#[must_use]
pub fn members_of(meta: &Value) -> Vec<Snapshot> {
    meta.get("merge").and_then(|m| m.get("members")).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
}

/// The `source_disagreement` check over `members`' prices at `now`, or `None` with fewer than two prices.
#[must_use]
pub fn source_check(members: &[Snapshot], rules: &RiskRules, now: Ts) -> Option<RiskCheck> {
    let prices: BTreeMap<&str, Decimal> =
        members.iter().filter_map(|s| s.price_usd.filter(|p| *p > Decimal::ZERO).map(|p| (s.source.as_str(), p))).collect();
    if prices.len() < 2 {
        return None;
    }
    let (lo, hi) = prices.values().fold((Decimal::MAX, Decimal::ZERO), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    let spread = hi / lo - Decimal::ONE;
    let failed = spread > rules.max_source_price_spread;
    let observed_at = members.iter().map(|s| s.observed_at).min().unwrap_or(now);
    let ttl = chrono::Duration::seconds(i64::try_from(rules.ttl_seconds.snapshot).unwrap_or(i64::MAX / 1_000));
    let severity = if !failed {
        0
    } else if rules.hard_fail.contains(&CheckCode::SourceDisagreement) {
        100
    } else {
        SEV_SOURCE_DISAGREEMENT
    };
    let value: serde_json::Map<String, Value> = prices.iter().map(|(s, p)| ((*s).to_string(), Value::String(p.normalize().to_string()))).collect();
    Some(RiskCheck {
        code: CheckCode::SourceDisagreement,
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        provider: prices.keys().copied().collect::<Vec<_>>().join("+"),
        observed_at,
        expires_at: observed_at.checked_add_signed(ttl).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        severity,
        value: Some(Value::Object(value)),
        detail: Some(format!(
            "highest price {}x the lowest across {} sources (tolerance {}x)",
            (hi / lo).round_dp(2).normalize(),
            prices.len(),
            (Decimal::ONE + rules.max_source_price_spread).normalize()
        )),
    })
}

/// Adds the `source_disagreement` check of `members` to `eval` (a failure also joins `disagreements` and
/// raises the severity).
pub fn add_source_check(eval: &mut RiskEvaluation, members: &[Snapshot], rules: &RiskRules) {
    let Some(check) = source_check(members, rules, eval.evaluated_at) else { return };
    if check.verdict == Verdict::Fail {
        eval.disagreements.push(CheckCode::SourceDisagreement);
        eval.severity = eval.severity.max(check.severity);
    }
    eval.checks.push(check);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use nl_domain::AssetId;

    use super::*;

    fn now() -> Ts {
        "2026-10-08T12:00:00Z".parse().unwrap()
    }

    fn member(source: &str, price: Option<&str>) -> Snapshot {
        Snapshot {
            asset_id: AssetId::parse("eth:0x0000000000000000000000000000515100000001").unwrap(),
            observed_at: now(),
            source: source.into(),
            price_usd: price.map(|p| Decimal::from_str(p).unwrap()),
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: None,
            volume_24h_usd: None,
            holders: None,
            age_minutes: None,
            raw_event_id: None,
        }
    }

    fn eval() -> RiskEvaluation {
        RiskEvaluation { asset_id: member("x", None).asset_id, rule_set_version: "v".into(), evaluated_at: now(), checks: vec![], severity: 0, disagreements: vec![] }
    }

    #[test]
    fn prices_far_apart_fail_close_ones_pass_and_one_price_is_no_check() {
        let rules = RiskRules::default();
        let mut e = eval();
        add_source_check(&mut e, &[member("geckoterminal", Some("0.52")), member("dexscreener", Some("0.0003798"))], &rules);
        assert_eq!(e.disagreements, vec![CheckCode::SourceDisagreement]);
        assert_eq!(e.severity, SEV_SOURCE_DISAGREEMENT);
        let c = &e.checks[0];
        assert_eq!((c.verdict, c.provider.as_str()), (Verdict::Fail, "dexscreener+geckoterminal"));
        assert_eq!(c.value, Some(serde_json::json!({"dexscreener": "0.0003798", "geckoterminal": "0.52"})));
        let mut ok = eval();
        add_source_check(&mut ok, &[member("geckoterminal", Some("0.52")), member("dexscreener", Some("0.60"))], &rules);
        assert_eq!((ok.checks[0].verdict, ok.disagreements.len(), ok.severity), (Verdict::Pass, 0, 0), "15 % apart is within 50 %");
        let mut one = eval();
        add_source_check(&mut one, &[member("geckoterminal", Some("0.52")), member("enricher_cex", None)], &rules);
        assert!(one.checks.is_empty(), "one price: nothing to compare");
        let hard = RiskRules { hard_fail: vec![CheckCode::SourceDisagreement], ..RiskRules::default() };
        let c = source_check(&[member("a", Some("1")), member("b", Some("3"))], &hard, now()).unwrap();
        assert_eq!((c.verdict, c.severity), (Verdict::Fail, 100));
    }

    #[test]
    fn members_are_read_from_the_merge_meta() {
        let meta = serde_json::json!({"merge": {"members": [member("a", Some("1"))], "provenance": {}}});
        assert_eq!(members_of(&meta), vec![member("a", Some("1"))]);
        assert!(members_of(&serde_json::json!({"price_usd": "1"})).is_empty());
    }
}
