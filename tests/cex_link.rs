//! A KuCoin listing linked to its contract ends up as the same asset as the DEX pool of that contract.
//!
//! Everything real over loopback: the collector's KuCoin symbols source (with its currency lookup) and
//! GeckoTerminal source poll a mock venue on 127.0.0.1, publish onto a `MemoryBus`, the enricher turns the
//! observations into `asset.upserted`, and the ledger merges them into SQLite. The KuCoin currency response
//! names the Solana mint of the GeckoTerminal pool, so the ledger holds ONE asset with both sightings.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{SourcesConfig, build_sources_for_run};
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use nl_adapters::dex::config::GeckoTerminalConfig;
use nl_adapters::dex::geckoterminal::client::GeckoTerminalSource;
use nl_adapters::kit::{BudgetConfig, BudgetRegistry};
use nl_testkit::wait_until;
use nl_bus::{Bus, CancellationToken, MemoryBus, ServiceCtx};
use nl_collector::{Collector, CollectorCtx, MemoryStateStore, RunIdentity};
use nl_domain::Sighting;
use nl_enricher::{EnricherConfig, EnricherCtx};
use nl_ledger::LedgerConfig;
use serde_json::Value;

const SYMBOLS: &str = include_str!("../shared/adapters/src/cex/kucoin/test_data/http_get_v2_symbols.json");
const CURRENCY: &str = include_str!("../shared/adapters/src/cex/kucoin/test_data/http_get_v3_currencies_currency.json");
const NEW_POOLS: &str = include_str!("../shared/adapters/src/dex/geckoterminal/test_data/http_get_new_pools.json");
/// Base token of the first pool in `NEW_POOLS`.
const MINT: &str = "Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp";
const WAIT: Duration = Duration::from_secs(20);

/// The recorded currency with its only contract on Solana: the pool's mint (and nothing on Ethereum).
fn currency_on_solana() -> String {
    let mut v: Value = serde_json::from_str(CURRENCY).unwrap();
    for c in v["data"]["chains"].as_array_mut().unwrap() {
        c["contractAddress"] = if c["chainId"] == "sol" { MINT.into() } else { "".into() };
    }
    v.to_string()
}

fn baseline_symbols() -> String {
    let mut v: Value = serde_json::from_str(SYMBOLS).unwrap();
    v["data"].as_array_mut().unwrap().retain(|r| r["baseCurrency"] != "NEW");
    v.to_string()
}

fn collector(venue: &MockVenue, bus: Arc<dyn Bus>, run: &RunIdentity) -> Collector {
    let mut cfg = SourcesConfig::defaults().only(&["kucoin_symbols"]);
    let kucoin = cfg.get_mut("kucoin_symbols").unwrap();
    (kucoin.base_url, kucoin.rate_per_sec, kucoin.burst) = (venue.base_url(), 1_000.0, 1_000.0);
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1_000.0, 1_000.0)).unwrap();
    let mut sources: Vec<Arc<dyn Source>> = build_sources_for_run(&cfg, &budgets, &|_| None, &run.run_id).unwrap();
    // The recorded pool is months old; this test is about linking, not the first poll's lookback window.
    let gt = GeckoTerminalConfig {
        base_url: venue.base_url(),
        networks: vec!["solana".into()],
        calls_per_min: 6_000.0,
        lookback_minutes: 10 * 365 * 24 * 60,
        ..GeckoTerminalConfig::default()
    };
    sources.push(Arc::new(GeckoTerminalSource::from_config(&gt, &run.run_id, &|_| None).unwrap()));
    let ctx = CollectorCtx { bus, state: Arc::new(MemoryStateStore::default()), leases: None, lease_renew_every: Duration::from_secs(10), run: run.clone() };
    Collector::new(sources, ctx)
}

/// A KuCoin venue whose symbols list holds the baseline, GeckoTerminal's new pools on the same mock, and
/// a ledger and an enricher on one MemoryBus behind the collector.
struct Rig {
    venue: MockVenue,
    reader: nl_ledger::SqliteReader,
    c: Collector,
    stop: CancellationToken,
    tasks: Tasks,
    _dir: tempfile::TempDir,
}

type Tasks = (tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>);

impl Rig {
    async fn start(run_id: &str) -> Self {
        let venue = MockVenue::start().await.unwrap();
        venue.set("/api/v2/symbols", MockResponse::json(baseline_symbols()));
        venue.set("/api/v3/currencies/NEW", MockResponse::json(currency_on_solana()));
        venue.set("/networks/solana/new_pools", MockResponse::json(NEW_POOLS));

        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
        let run = RunIdentity { run_id: run_id.into(), config_hash: "cafe".into() };
        let dir = tempfile::tempdir().unwrap();
        let ledger_cfg = LedgerConfig { fetch_wait_ms: 20, ..LedgerConfig::with_db_path(dir.path().join("nl.db")) };
        let ledger = nl_ledger::build(ledger_cfg, ServiceCtx::new(Arc::clone(&bus), run.clone())).await.unwrap();
        let reader = ledger.store().reader().clone();
        let mut ecfg = EnricherConfig { fetch_wait_ms: 20, ..EnricherConfig::default() };
        ecfg.dexscreener.enabled = false;
        let enricher = nl_enricher::build(ecfg, EnricherCtx::new(Arc::clone(&bus), run.clone())).await.unwrap();
        let stop = CancellationToken::new();
        let (ls, es) = (stop.clone(), stop.clone());
        let tasks = (tokio::spawn(async move { ledger.run(ls).await.unwrap(); }), tokio::spawn(async move { enricher.run(es).await.unwrap(); }));

        let c = collector(&venue, Arc::clone(&bus), &run);
        Self { venue, reader, c, stop, tasks, _dir: dir }
    }
}

async fn stop_rig(stop: CancellationToken, tasks: Tasks) {
    stop.cancel();
    let (l, e) = tasks;
    l.await.unwrap();
    e.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kucoin_listing_and_dex_pool_of_one_contract_are_one_asset() {
    let Rig { venue, reader, c, stop, tasks, _dir } = Rig::start("nl_20261010_000000Z_deadbeef").await;
    assert!(c.poll_all_once(chrono::Utc::now()).await.iter().all(|r| r.ok()), "baseline and first pools");
    venue.set("/api/v2/symbols", MockResponse::json(SYMBOLS));
    let reports = c.poll_all_once(chrono::Utc::now()).await;
    assert!(reports.iter().all(|r| r.ok()), "{reports:?}");
    assert_eq!(venue.hit_count("/api/v3/currencies/NEW"), 1);

    let asset_id = format!("solana:{MINT}");
    let sources = || async {
        let Some(row) = reader.get_asset(&asset_id).await.unwrap() else { return Vec::new() };
        let sightings: Vec<Sighting> = serde_json::from_str(&row.sources_json).unwrap();
        sightings.into_iter().map(|s| s.source).collect::<Vec<_>>()
    };
    assert!(wait_until(WAIT, || async { sources().await.len() == 2 }).await, "got sources {:?}", sources().await);
    assert_eq!(sources().await, ["geckoterminal", "kucoin_symbols"], "one asset, both sources");
    assert!(reader.get_asset("cex:kucoin:NEW").await.unwrap().is_none(), "no separate CEX-only asset");
    let row = reader.get_asset(&asset_id).await.unwrap().unwrap();
    assert_eq!((row.chain.as_deref(), row.contract_address.as_deref()), (Some("solana"), Some(MINT)));

    stop_rig(stop, tasks).await;
}

/// A delisting of a linked venue listing marks the asset it is linked to (#15): KuCoin's NEW, linked to the
/// Solana mint of a GeckoTerminal pool, is gone from the symbols list for `delist_after_polls` (3) polls.
/// `asset.delisted` names the contract asset (with the venue's coin as its symbol) and never creates an
/// asset; the on-chain row gets status
/// `delisted`. A shorter absence (a flap) leaves it listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_listing_gone_from_its_venue_marks_the_contract_asset_delisted() {
    let Rig { venue, reader, c, stop, tasks, _dir } = Rig::start("nl_20261010_000000Z_deadbee2").await;
    assert!(c.poll_all_once(chrono::Utc::now()).await.iter().all(|r| r.ok()), "baseline");
    venue.set("/api/v2/symbols", MockResponse::json(SYMBOLS));
    assert!(c.poll_all_once(chrono::Utc::now()).await.iter().all(|r| r.ok()), "NEW listed");
    let asset_id = format!("solana:{MINT}");
    let status = || async { reader.get_asset(&asset_id).await.unwrap().map(|r| r.status) };
    let linked = || async {
        reader.get_asset(&asset_id).await.unwrap().is_some_and(|r| serde_json::from_str::<Vec<Sighting>>(&r.sources_json).unwrap().len() == 2)
    };
    assert!(wait_until(WAIT, linked).await, "the KuCoin listing is linked to the mint");
    let listed = status().await.unwrap();
    assert_ne!(listed, "delisted");

    // A flap: gone once, back (its re-appearance stays on the linked asset). Then gone for three polls.
    venue.set("/api/v2/symbols", MockResponse::json(baseline_symbols()));
    let r = c.poll_all_once(chrono::Utc::now()).await;
    assert!(r.iter().all(|r| r.ok() && r.delisted == 0), "{r:?}");
    venue.set("/api/v2/symbols", MockResponse::json(SYMBOLS));
    c.poll_all_once(chrono::Utc::now()).await;
    venue.set("/api/v2/symbols", MockResponse::json(baseline_symbols()));
    let mut delistings = 0;
    for _ in 0..3 {
        delistings += c.poll_all_once(chrono::Utc::now()).await.iter().map(|r| r.delisted).sum::<usize>();
    }
    assert_eq!(delistings, 1, "one asset.delisted, on the third missing poll");
    assert!(wait_until(WAIT, || async { status().await.as_deref() == Some("delisted") }).await, "the linked asset is marked: {:?}", status().await);
    assert!(reader.get_asset("cex:kucoin:NEW").await.unwrap().is_none(), "a delisting never creates an asset");
    let named: Vec<(String, String)> = sqlx::query_as("SELECT asset_id, coalesce(symbol, '') FROM events WHERE type = 'asset.delisted'").fetch_all(reader.pool()).await.unwrap();
    assert_eq!(named, [(asset_id.clone(), "NEW".to_string())], "asset.delisted names the contract asset the listing was linked to");

    stop_rig(stop, tasks).await;
}
