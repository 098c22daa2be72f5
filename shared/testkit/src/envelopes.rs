//! Deterministic bulk events for tests and benches that need many distinct envelopes of a realistic size
//! (the ledger's and recorder's throughput tests, `nl bench ledger`).

use chrono::TimeZone;
use nl_domain::{Envelope, EventType};

/// `n` distinct `manual.note` envelopes of about 250 bytes, time-ordered, deterministic.
#[must_use]
pub fn bench_envelopes(n: usize) -> Vec<Envelope> {
    let base = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    (0..n)
        .map(|i| {
            let ts = base + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(i64::MAX));
            let meta = serde_json::json!({ "seq": i, "note": "x".repeat(64) });
            Envelope::new(EventType::Manual, &["bench", &i.to_string()], ts, "nl_20260101_000000Z_00000000", "bench", meta)
                .with_asset(format!("cex:bench:A{}", i % 1000))
                .with_source("bench")
        })
        .collect()
}

/// A new listing as the enricher announces it: one sighting at `ts` (a CEX id is an OKX spot instrument, an
/// on-chain id a Uniswap v2 pool seen by GeckoTerminal). Callers adjust fields (name, publication time).
///
/// # Panics
/// When `asset` is not a valid asset id.
#[must_use]
pub fn listing_upsert(asset: &str, symbol: &str, ts: nl_domain::Ts) -> nl_domain::AssetUpsert {
    let asset_id = nl_domain::AssetId::parse(asset).unwrap_or_else(|e| panic!("asset id {asset}: {e}"));
    let onchain = asset.split_once(':').filter(|(chain, _)| *chain != "cex");
    let (source, venue, kind) = match onchain {
        Some(_) => ("geckoterminal", "uniswap_v2", nl_domain::ObservationKind::DexPool),
        None => ("okx_spot", "okx", nl_domain::ObservationKind::CexInstrument),
    };
    nl_domain::AssetUpsert {
        asset_id,
        symbol: symbol.into(),
        name: None,
        chain: onchain.map(|(chain, _)| chain.to_string()),
        address: onchain.map(|(_, address)| address.to_string()),
        sighting: nl_domain::Sighting {
            source: source.into(),
            venue: venue.into(),
            kind,
            instrument_id: format!("{symbol}-USDT"),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: ts,
            pair: serde_json::Value::Null,
            url: None,
        },
    }
}

/// The `asset.upserted` envelope of `up` in run `run_id`.
///
/// # Panics
/// Never in practice: an `AssetUpsert` always serializes.
#[must_use]
pub fn upsert_envelope(up: &nl_domain::AssetUpsert, run_id: &str) -> Envelope {
    let id = up.asset_id.to_string();
    let at = up.sighting.first_observed_at;
    let meta = serde_json::to_value(up).unwrap_or_else(|e| panic!("upsert of {id}: {e}"));
    Envelope::new(EventType::AssetUpserted, &[&id, &up.sighting.source, &up.sighting.instrument_id, &at.to_rfc3339()], at, run_id, "bench", meta)
        .with_asset(id)
        .with_source(up.sighting.source.clone())
}

/// A liquid snapshot of `asset` on `okx_spot` (price 1.2, $50k liquidity, 1 minute old) and its promotion
/// with `reason_codes`, both at `ts`: what the dashboard and alert tests show and send.
#[must_use]
pub fn liquid_promotion(asset: &str, ts: nl_domain::Ts, reason_codes: &[&str], config_hash: &str) -> (nl_domain::Snapshot, nl_domain::GateDecision) {
    use nl_domain::{AssetId, Decimal, Decision, GateDecision, Snapshot};
    let id = AssetId::parse(asset).expect("a valid asset id");
    let snapshot = Snapshot {
        asset_id: id.clone(),
        observed_at: ts,
        source: "okx_spot".into(),
        price_usd: Some(Decimal::new(12, 1)),
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: Some(Decimal::new(50_000, 0)),
        volume_24h_usd: None,
        holders: None,
        age_minutes: Some(1),
        raw_event_id: None,
    };
    let decision = GateDecision {
        asset_id: id,
        decision: Decision::Promoted,
        reason_codes: reason_codes.iter().map(|c| (*c).to_string()).collect(),
        rule_set_version: "risk-rules-v1".into(),
        config_hash: config_hash.into(),
        inputs: vec![],
        decided_at: ts,
    };
    (snapshot, decision)
}

/// A `score.computed` of `asset` at `ts` scoring `score`, on a snapshot with $50k liquidity, an hour old,
/// and a clean risk evaluation: what the gate decides on (promoted at the default threshold when `score`
/// is high enough).
#[must_use]
pub fn score_computed(asset: &nl_domain::AssetId, ts: nl_domain::Ts, score: i64) -> nl_domain::Envelope {
    use nl_domain::{Decimal, Envelope, EventType, RiskEvaluation, ScoreComputed, ScoreRecord, Snapshot};
    let snapshot = Snapshot {
        asset_id: asset.clone(),
        observed_at: ts,
        source: "geckoterminal".into(),
        price_usd: Some(Decimal::ONE),
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: Some(Decimal::from(50_000)),
        volume_24h_usd: None,
        holders: None,
        age_minutes: Some(60),
        raw_event_id: None,
    };
    let evaluation = RiskEvaluation { asset_id: asset.clone(), rule_set_version: "r".into(), evaluated_at: ts, checks: vec![], severity: 0, disagreements: vec![] };
    let record = ScoreRecord { asset_id: asset.clone(), score: Decimal::from(score), components: vec![], reason: String::new(), formula_version: "f".into(), computed_at: ts };
    let at = ts.to_rfc3339();
    let sc = ScoreComputed { record, inputs: vec![format!("snap-{at}"), format!("risk-{at}")], evaluation, snapshot: Some(snapshot), source_count: 1, provider_raw_ids: vec![] };
    let meta = sc.to_meta().expect("a score record is plain data");
    Envelope::new(EventType::ScoreComputed, &[&asset.to_string(), &at], ts, "run", "cfg", meta).with_asset(asset.to_string())
}
