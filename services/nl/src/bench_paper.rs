//! `nl bench backtest`: a recorded run of N snapshots (N/50 assets, each a listing, a gate decision and 50
//! snapshots a minute apart) stored in a scratch DB, then backtested with the profit and the learning book
//! (one experiment taking every signal): the stored events read back alone (the baseline), and the whole
//! backtest (read, engine, store its events through the ledger). Then decision → `order.submitted`
//! latency of the engine, p50/p99 over the run's decisions.

use std::time::Instant;

use anyhow::Context;
use chrono::TimeZone;
use nl_domain::{AssetId, AssetUpsert, Decimal, Decision, Envelope, EventType, GateDecision, ObservationKind, RunIdentity, Sighting, Snapshot};
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_paper::backtest::{self, BacktestInput};
use nl_paper::config::FeeModel;
use nl_paper::{Engine, Experiment, PaperConfig};

const SNAPSHOTS_PER_ASSET: usize = 50;

fn inputs(n: usize) -> anyhow::Result<Vec<Envelope>> {
    let t0 = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).single().context("time")?;
    let assets = n.div_ceil(SNAPSHOTS_PER_ASSET);
    let mut out = Vec::with_capacity(n + 2 * assets);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for a in 0..assets {
        let id = AssetId::parse(&format!("eth:0x{:040x}", a + 1))?;
        let start = t0 + chrono::Duration::seconds(i64::try_from(a)? * 7);
        let sighting = Sighting {
            source: "geckoterminal".into(),
            venue: "uniswap_v2".into(),
            kind: ObservationKind::DexPool,
            instrument_id: format!("P{a}"),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: start,
            pair: serde_json::Value::Null,
            url: None,
        };
        let up = AssetUpsert { asset_id: id.clone(), symbol: format!("T{a}"), name: None, chain: Some("eth".into()), address: None, sighting };
        let ids = id.to_string();
        out.push(Envelope::new(EventType::AssetUpserted, &[&ids, "u"], start, "bench_src", "c", serde_json::to_value(&up)?).with_asset(ids.clone()));
        let promoted = a % 2 == 0;
        let d = GateDecision {
            asset_id: id.clone(),
            decision: if promoted { Decision::Promoted } else { Decision::Rejected },
            reason_codes: vec![],
            rule_set_version: "v1".into(),
            config_hash: "c".into(),
            inputs: vec![],
            decided_at: start,
        };
        let kind = if promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
        out.push(Envelope::new(kind, &[&ids, "d"], start, "bench_src", "c", serde_json::to_value(&d)?).with_asset(ids.clone()));
        let mut price = Decimal::ONE;
        for k in 0..SNAPSHOTS_PER_ASSET {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // A random walk of ±3 % steps.
            let step = Decimal::from(i64::try_from(x % 61)? - 30) / Decimal::from(1000);
            price = (price * (Decimal::ONE + step)).round_dp(10).max(Decimal::new(1, 6));
            let at = start + chrono::Duration::seconds(i64::try_from(k)? * 60 + 5);
            let s = Snapshot {
                asset_id: id.clone(),
                observed_at: at,
                source: "dexscreener".into(),
                price_usd: Some(price),
                fdv_usd: None,
                market_cap_usd: None,
                liquidity_usd: Some(Decimal::from(500_000)),
                volume_24h_usd: None,
                holders: None,
                age_minutes: Some(i64::try_from(k)?),
                raw_event_id: None,
            };
            out.push(Envelope::new(EventType::SnapshotRecorded, &[&ids, &k.to_string()], at, "bench_src", "c", serde_json::to_value(&s)?).with_asset(ids.clone()));
        }
    }
    Ok(out)
}

fn config() -> PaperConfig {
    let d = |s: &str| s.parse::<Decimal>().unwrap_or(Decimal::ZERO);
    let mut c = PaperConfig {
        fees: Some(FeeModel {
            dex_pool_fee_pct: d("0.3"),
            dex_gas_usd: d("0.5"),
            cex_taker_fee_pct: d("0.1"),
            cex_spread_bps_at_listing: d("200"),
            cex_spread_bps_floor: d("20"),
            cex_spread_half_life_minutes: 60,
        }),
        rng: 7,
        ..PaperConfig::default()
    };
    c.learning.enabled = true;
    c.learning.daily_risk_budget_pct = d("100");
    c.learning.equity_usd = d("100000000");
    c
}

fn experiment() -> anyhow::Result<Experiment> {
    let spec = nl_domain::ExperimentSpec::from_value(&serde_json::json!({
        "spec_id": "bench", "version": 1, "question": "q", "hypothesis": "h",
        "exposure": {"decisions": ["promoted", "rejected"], "sample_rate": 1.0, "notional_usd": "20",
                     "take_profit_pct": "10", "stop_loss_pct": "10", "max_hold_minutes": 30},
        "metrics": {"primary": "hit_rate", "success_criterion": {"op": ">", "threshold": 0.5}, "min_trades": 30},
        "risk": {"max_notional_usd": "100000000", "max_open_positions": 1000000}
    }))?;
    let sha256 = spec.sha256();
    Ok(Experiment { spec, sha256, status: nl_domain::ExperimentStatus::Running })
}

/// Runs the bench.
///
/// # Errors
/// The scratch DB cannot be written or read.
#[allow(clippy::cast_precision_loss)]
pub async fn backtest_bench(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = LedgerStore::open(&LedgerConfig::with_db_path(dir.path().join("bench.sqlite"))).await?;
    let recorded = inputs(n)?;
    let snapshots = recorded.iter().filter(|e| e.kind == EventType::SnapshotRecorded).count();
    for chunk in recorded.chunks(10_000) {
        store.apply(chunk.to_vec()).await?;
    }
    println!("recorded run: {snapshots} snapshots, {} events", recorded.len());

    let t = Instant::now();
    let read = store.reader().replay_inputs(None, None, None).await?;
    let read_s = t.elapsed().as_secs_f64();
    println!("baseline  read the stored events back: {:.2} s ({:.0} events/s)", read_s, read.len() as f64 / read_s);

    let run = RunIdentity { run_id: "nl_20261201_000000Z_bench000".into(), config_hash: "c".into() };
    let t = Instant::now();
    let events = store.reader().replay_inputs(None, None, None).await?;
    let t_engine = Instant::now();
    let out = backtest::run(&config(), &run, BacktestInput { events, experiments: vec![experiment()?], source_run_id: None })?;
    let engine_s = t_engine.elapsed().as_secs_f64();
    let emitted = out.len();
    for chunk in out.chunks(10_000) {
        store.apply(chunk.to_vec()).await?;
    }
    let total = t.elapsed().as_secs_f64();
    println!(
        "backtest  read + engine + store: {total:.2} s for {snapshots} snapshots ({:.0} snapshots/s; engine alone {engine_s:.2} s), {emitted} paper events; {:.1}x the read baseline; target < 60 s",
        snapshots as f64 / total,
        total / read_s
    );

    // Decision -> order.submitted in the engine (the paper service adds the bus hop).
    let mut engine = Engine::new(config(), run)?;
    engine.add_experiment(experiment()?);
    let mut lat: Vec<f64> = Vec::new();
    for e in &recorded {
        let decision = matches!(e.kind, EventType::CandidatePromoted | EventType::CandidateRejected);
        let t = Instant::now();
        let out = engine.on_event(e);
        if decision && out.iter().any(|o| o.kind == EventType::OrderSubmitted) {
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((lat.len().saturating_sub(1)) as f64 * q).round() as usize;
        lat.get(i).copied().unwrap_or(0.0)
    };
    println!("decision -> order.submitted (engine, {} decisions): p50 {:.3} ms, p99 {:.3} ms; target p99 < 50 ms", lat.len(), pct(0.5), pct(0.99));
    Ok(())
}
