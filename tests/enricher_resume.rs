//! A launch deferred by `[enricher] enrich_after_secs` (#20) survives an enricher restart: the first
//! enricher discovers it (the ledger stores its upsert) and defers its enrichment in its in-memory
//! schedule; it stops before the launch is due; the next enricher on the same bus and ledger re-derives the
//! deferred launch from the ledger on start and enriches it when due, so it gets its snapshot all the same.
//! Real parts: `MemoryBus`, the ledger service on SQLite, two enricher instances on the same durable.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_adapters::dex::dexscreener::client::TokenPairs;
use nl_adapters::dex::dexscreener::PairFetcher;
use nl_bus::{observation_messages, Bus, MemoryBus, ServiceCtx};
use nl_domain::{AssetId, ChangeKind, ListingObservation, ObservationKind, RunIdentity};
use nl_enricher::stats::EnricherStats;
use nl_enricher::{EnricherConfig, EnricherCtx};
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_testkit::wait_until;

/// The pump.fun mint of reference sources-2 §5b's decoded PumpSwap sample.
const MINT: &str = "GPAVdWsSJhoJhE7ZbcWc4ffNHAbBZRP58jujb1empump";

/// DexScreener knows no pair for a launch this young: the enricher snapshots it without market data.
struct NoPairs;

#[async_trait]
impl PairFetcher for NoPairs {
    async fn fetch_pairs(&self, _chain: &str, _addrs: &[String]) -> TokenPairs {
        TokenPairs::default()
    }
}

fn launch() -> ListingObservation {
    let now = chrono::Utc::now();
    ListingObservation {
        source: "solana_mainnet".into(),
        venue: "pumpfun".into(),
        kind: ObservationKind::DexPool,
        change: ChangeKind::New,
        asset_id: AssetId::chain("solana", MINT).unwrap(),
        symbol: "GPAV".into(),
        name: None,
        base: Some(MINT.into()),
        quote: None,
        instrument_id: "5h6xBEauJ3PK6SWCZ1PGjBvj8vDdWG3KpwATGy1ARAXFSDwt8GFXM7W5Ncn16wmqokgpiKRLuS83KUxyZyv2sUYv".into(),
        status: None,
        source_published_at: Some(now),
        scheduled_at: None,
        first_observed_at: now,
        emitted_at: now,
        raw_event_id: None,
        details: serde_json::json!({"chain": "solana", "dex": "pumpfun"}),
    }
}

/// An enricher deferring launches for `secs`, its schedule on, re-deriving from `store` on start.
async fn enricher(bus: &Arc<dyn Bus>, run: &RunIdentity, store: &LedgerStore, secs: u64) -> (nl_runtime::Pipeline, Arc<EnricherStats>) {
    let mut cfg = EnricherConfig { fetch_wait_ms: 20, enrich_after_secs: secs, ..EnricherConfig::default() };
    cfg.cex_tickers.enabled = false;
    let ctx = EnricherCtx::new(Arc::clone(bus), run.clone()).with_pair_fetcher(Arc::new(NoPairs)).with_ledger_reader(Arc::new(store.reader().clone()));
    let svc = nl_enricher::build(cfg, ctx).await.unwrap();
    let stats = svc.stats();
    let mut p = nl_runtime::Pipeline::new(Arc::clone(bus));
    p.spawn_service(Box::new(svc));
    (p, stats)
}

async fn count(store: &LedgerStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).bind(format!("solana:{MINT}")).fetch_one(store.reader().pool()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_launch_is_enriched_after_an_enricher_restart() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
    let run = RunIdentity { run_id: "nl_20261207_000000Z_5e3a0002".into(), config_hash: "cafe".into() };
    let dir = tempfile::tempdir().unwrap();
    let ledger = nl_ledger::build(
        LedgerConfig { fetch_wait_ms: 20, ..LedgerConfig::with_db_path(dir.path().join("nl.db")) },
        ServiceCtx::new(Arc::clone(&bus), run.clone()),
    )
    .await
    .unwrap();
    let store = ledger.store().clone();
    let mut ledger_task = nl_runtime::Pipeline::new(Arc::clone(&bus));
    ledger_task.spawn_service(Box::new(ledger));

    // 8 s: long enough to stop the first enricher well before the launch is due.
    let (first, stats) = enricher(&bus, &run, &store, 8).await;
    bus.publish_batch(observation_messages(&[launch()], &run)).await.unwrap();
    let discovered = || async { count(&store, "SELECT COUNT(*) FROM assets WHERE asset_id = ?").await == 1 };
    assert!(wait_until(Duration::from_secs(10), discovered).await, "discovered at once");
    assert_eq!(stats.deferred.load(Ordering::SeqCst), 1, "its enrichment deferred");
    assert!(first.stop().await.is_empty());
    assert_eq!(stats.snapshots.load(Ordering::SeqCst), 0, "stopped before it was due");

    let (second, stats) = enricher(&bus, &run, &store, 8).await;
    let enriched = || async { count(&store, "SELECT COUNT(*) FROM market_snapshots WHERE asset_id = ?").await == 1 };
    assert!(wait_until(Duration::from_secs(40), enriched).await, "the restarted enricher enriched the deferred launch");
    assert_eq!(stats.resumed.load(Ordering::SeqCst), 1, "re-derived from the ledger");
    assert!(second.stop().await.is_empty());
    assert!(ledger_task.stop().await.is_empty());
}
