//! Builders of the pipeline's events (real shapes, typed bodies) for the paper engine's tests.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::TimeZone;
use nl_domain::{
    AssetId, AssetUpsert, CheckCode, Decimal, Decision, Envelope, EventType, GateDecision, ObservationKind, RiskCheck, RiskEvaluation, RunIdentity, Sighting,
    Snapshot, Ts, Verdict,
};
use nl_paper::config::{FeeModel, PaperConfig};
use std::str::FromStr;

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// 2026-12-01 10:00 UTC plus `secs`.
pub fn t(secs: i64) -> Ts {
    chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

pub fn run(id: &str) -> RunIdentity {
    RunIdentity { run_id: id.into(), config_hash: "cfg".into() }
}

pub fn fees() -> FeeModel {
    FeeModel {
        dex_pool_fee_pct: d("0.3"),
        dex_gas_usd: d("0.5"),
        cex_taker_fee_pct: d("0.1"),
        cex_spread_bps_at_listing: d("200"),
        cex_spread_bps_floor: d("20"),
        cex_spread_half_life_minutes: 60,
    }
}

pub fn config(learning: bool) -> PaperConfig {
    let mut c = PaperConfig { fees: Some(fees()), rng: 7, ..PaperConfig::default() };
    c.learning.enabled = learning;
    c.learning.daily_risk_budget_pct = d("5");
    c
}

pub fn asset(n: u32) -> String {
    format!("eth:0x{n:040x}")
}

pub fn upsert(asset_id: &str, at: Ts, scheduled_at: Option<Ts>) -> Envelope {
    let dex = !asset_id.starts_with("cex:");
    let u = AssetUpsert {
        asset_id: AssetId::parse(asset_id).unwrap(),
        symbol: "NEW".into(),
        name: None,
        chain: dex.then(|| "eth".to_string()),
        address: None,
        sighting: Sighting {
            source: if dex { "geckoterminal".into() } else { "okx_spot".into() },
            venue: if dex { "uniswap_v2".into() } else { "okx".into() },
            kind: if dex { ObservationKind::DexPool } else { ObservationKind::CexInstrument },
            instrument_id: "NEW-USDT".into(),
            status: None,
            source_published_at: None,
            scheduled_at,
            first_observed_at: at,
            pair: serde_json::Value::Null,
            url: None,
        },
    };
    Envelope::new(EventType::AssetUpserted, &[asset_id, &at.to_rfc3339()], at, "src", "cfg", serde_json::to_value(&u).unwrap()).with_asset(asset_id)
}

pub fn snapshot(asset_id: &str, at: Ts, price: &str, liquidity: &str) -> Envelope {
    let s = Snapshot {
        asset_id: AssetId::parse(asset_id).unwrap(),
        observed_at: at,
        source: "dexscreener".into(),
        price_usd: Some(d(price)),
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: Some(d(liquidity)),
        volume_24h_usd: None,
        holders: None,
        age_minutes: Some(5),
        raw_event_id: None,
    };
    Envelope::new(EventType::SnapshotRecorded, &[asset_id, &at.to_rfc3339(), price], at, "src", "cfg", serde_json::to_value(&s).unwrap()).with_asset(asset_id)
}

pub fn decision(asset_id: &str, at: Ts, promoted: bool, reasons: &[&str]) -> Envelope {
    let g = GateDecision {
        asset_id: AssetId::parse(asset_id).unwrap(),
        decision: if promoted { Decision::Promoted } else { Decision::Rejected },
        reason_codes: reasons.iter().map(|r| (*r).to_string()).collect(),
        rule_set_version: "v1".into(),
        config_hash: "cfg".into(),
        inputs: vec![],
        decided_at: at,
    };
    let kind = if promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
    Envelope::new(kind, &[asset_id, &at.to_rfc3339()], at, "src", "cfg", serde_json::to_value(&g).unwrap()).with_asset(asset_id)
}

pub fn risk(asset_id: &str, at: Ts, honeypot: bool, buy_tax: &str, sell_tax: &str) -> Envelope {
    let check = |code, verdict, value: Option<&str>| RiskCheck {
        code,
        verdict,
        provider: "honeypot_is".into(),
        observed_at: at,
        expires_at: at + chrono::Duration::hours(1),
        severity: 90,
        value: value.map(|v| serde_json::Value::String(v.into())),
        detail: None,
    };
    let r = RiskEvaluation {
        asset_id: AssetId::parse(asset_id).unwrap(),
        rule_set_version: "v1".into(),
        evaluated_at: at,
        checks: vec![
            check(CheckCode::Honeypot, if honeypot { Verdict::Fail } else { Verdict::Pass }, None),
            check(CheckCode::BuyTaxHigh, Verdict::Pass, Some(buy_tax)),
            check(CheckCode::SellTaxHigh, Verdict::Pass, Some(sell_tax)),
        ],
        severity: if honeypot { 100 } else { 0 },
        disagreements: vec![],
    };
    Envelope::new(EventType::RiskEvaluated, &[asset_id, &at.to_rfc3339(), &honeypot.to_string()], at, "src", "cfg", serde_json::to_value(&r).unwrap()).with_asset(asset_id)
}

/// A running experiment over rejected and promoted signals, every one sampled.
pub fn experiment(id: &str, zones: serde_json::Value) -> nl_paper::Experiment {
    let spec = nl_domain::ExperimentSpec::from_value(&serde_json::json!({
        "spec_id": id, "version": 1, "question": "q?", "hypothesis": "h",
        "exposure": {"decisions": ["rejected", "promoted"], "sample_rate": 1.0, "notional_usd": "20",
                     "take_profit_pct": "20", "stop_loss_pct": "20", "max_hold_minutes": 30},
        "metrics": {"primary": "mean_return_pct", "success_criterion": {"op": ">", "threshold": 0.0}, "min_trades": 5},
        "risk": {"max_notional_usd": "100", "max_open_positions": 3},
        "no_learn_zones": zones
    }))
    .unwrap();
    let sha256 = spec.sha256();
    nl_paper::Experiment { spec, sha256, status: nl_domain::ExperimentStatus::Running }
}

/// The meta of every output of `kind`.
pub fn metas(out: &[Envelope], kind: EventType) -> Vec<serde_json::Value> {
    out.iter().filter(|e| e.kind == kind).map(|e| e.meta.clone()).collect()
}
