//! The re-snapshot schedule on a paused tokio clock (`pause` + `advance`), with an in-process pair
//! fetcher over the recorded payloads so no socket I/O races the virtual clock.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use nl_adapters::dex::dexscreener::PairFetcher;
use nl_adapters::dex::dexscreener::client::TokenPairs;
use nl_domain::Decimal;
use nl_bus::MemoryBus;
use nl_testkit::wait_until;
use nl_domain::Snapshot;
use nl_enricher::stats::Dropped;
use nl_enricher::EnricherConfig;

async fn snapshots(bus: &MemoryBus) -> Vec<Snapshot> {
    let mut v: Vec<Snapshot> = read_all(bus, "nl.evt.snapshot.recorded").await.into_iter().map(|e| serde_json::from_value(e.meta).unwrap()).collect();
    v.sort_by_key(|s| s.observed_at);
    v
}

/// Publishes every round (`max_quiet_secs = 0`): the recorded pairs never move, and these tests are about
/// the cadence and the bounds, not about skipping unchanged snapshots.
fn cfg() -> EnricherConfig {
    let mut c = EnricherConfig { fetch_wait_ms: 50, ..EnricherConfig::default() };
    c.schedule.max_quiet_secs = 0;
    c
}

/// The recorded pairs with every price scaled by a factor the test sets (in basis points of the original).
struct MovingPairs {
    inner: Arc<StaticPairs>,
    price_bps: AtomicI64,
}

#[async_trait]
impl PairFetcher for MovingPairs {
    async fn fetch_pairs(&self, chain: &str, addrs: &[String]) -> TokenPairs {
        let mut got = self.inner.fetch_pairs(chain, addrs).await;
        let factor = Decimal::new(self.price_bps.load(Ordering::SeqCst), 4);
        for p in &mut got.pools {
            p.price_usd = p.price_usd.map(|v| v * factor);
        }
        got
    }
}

#[tokio::test(start_paused = true)]
async fn unchanged_re_snapshots_are_not_published_until_a_fact_moves_or_the_quiet_time_passes() {
    let bus = MemoryBus::default();
    let created = ts_ms(STONK_CREATED_MS);
    let clock = tokio_clock(created + chrono::Duration::minutes(20));
    let pairs = Arc::new(MovingPairs { inner: StaticPairs::new(Arc::clone(&clock)), price_bps: AtomicI64::new(10_000) });
    let mut config = EnricherConfig { fetch_wait_ms: 50, ..EnricherConfig::default() };
    config.schedule.max_quiet_secs = 600;
    let svc = start(config, ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;
    publish(&bus, &[dex_obs("solana", STONK, clock.now())]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);

    // Rounds every 60 s at age 20 min; a 0.5 % move is within the default 1 % tolerance.
    pairs.price_bps.store(10_050, Ordering::SeqCst);
    for rounds in 1..=3 {
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(wait_until(Duration::from_secs(1), || async { svc.stats.unchanged.load(Ordering::SeqCst) == rounds }).await);
    }
    assert_eq!(snapshots(&bus).await.len(), 1, "no new snapshot.recorded within the tolerance");
    assert_eq!(svc.stats.rescheduled_snapshots.load(Ordering::SeqCst), 0);
    assert_eq!(read_all(&bus, "nl.raw.>").await.len(), 4, "what was fetched is still recorded");

    // A 2 % move: exactly one new snapshot, the new baseline.
    pairs.price_bps.store(10_200, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.rescheduled_snapshots.load(Ordering::SeqCst) == 1 }).await);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.unchanged.load(Ordering::SeqCst) == 4 }).await);
    let snaps = snapshots(&bus).await;
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[1].price_usd, snaps[0].price_usd.map(|p| p * Decimal::new(102, 2)));

    // Quiet since the last published snapshot for 600 s: the next round publishes even though nothing moved.
    for rounds in 5..=12 {
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(wait_until(Duration::from_secs(1), || async { svc.stats.unchanged.load(Ordering::SeqCst) == rounds }).await);
    }
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.rescheduled_snapshots.load(Ordering::SeqCst) == 2 }).await);
    assert_eq!(svc.stats.unchanged.load(Ordering::SeqCst), 12);
    assert_eq!(svc.stats.snapshot().unchanged, 12);
    svc.stop().await;
}

#[tokio::test(start_paused = true)]
async fn re_snapshots_follow_the_age_tiers() {
    let bus = MemoryBus::default();
    let created = ts_ms(STONK_CREATED_MS);
    let base = created + chrono::Duration::minutes(58);
    let clock = tokio_clock(base);
    let pairs = StaticPairs::new(Arc::clone(&clock));
    let svc = start(cfg(), ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;

    publish(&bus, &[dex_obs("solana", STONK, clock.now())]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);

    // Exactly one tier interval (60 s at age 58 min) later, the schedule re-snapshots.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.rescheduled_snapshots.load(Ordering::SeqCst) == 1 }).await);

    // Then age 60 (still the 60 s tier at 59), and from 60 min on every 300 s: nothing before then.
    for (step, expected) in [(60, 2), (299, 2), (1, 3), (300, 4)] {
        tokio::time::advance(Duration::from_secs(step)).await;
        assert!(wait_until(Duration::from_millis(20), || async { svc.stats.rescheduled_snapshots.load(Ordering::SeqCst) == expected }).await);
    }
    // Re-snapshots join the open round; its timer (`round_ms`) publishes them.
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 5 }).await);
    let snaps = snapshots(&bus).await;
    let offsets: Vec<i64> = snaps.iter().take(5).map(|s| (s.observed_at - base).num_seconds()).collect();
    let ages: Vec<Option<i64>> = snaps.iter().take(5).map(|s| s.age_minutes).collect();
    assert_eq!(offsets, vec![0, 60, 120, 420, 720]);
    assert_eq!(ages, vec![Some(58), Some(59), Some(60), Some(65), Some(70)]);
    assert!(snaps.iter().all(|s| s.source == "dexscreener" && s.raw_event_id.is_some()));
    assert!(pairs.calls().iter().all(|n| *n <= 30));
    svc.stop().await;
}

#[tokio::test(start_paused = true)]
async fn assets_stop_being_tracked_past_the_maximum_age() {
    let bus = MemoryBus::default();
    let created = ts_ms(STONK_CREATED_MS);
    let base = created + chrono::Duration::minutes(7 * 24 * 60 - 90);
    let clock = tokio_clock(base);
    let pairs = StaticPairs::new(Arc::clone(&clock));
    let svc = start(cfg(), ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;

    publish(&bus, &[dex_obs("solana", STONK, clock.now())]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);
    tokio::time::advance(Duration::from_secs(3599)).await;
    assert!(wait_until(Duration::from_millis(20), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await, "hourly past 24 h");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.dropped_for(Dropped::Expired) == 1 }).await);
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 2 }).await);
    let snaps = snapshots(&bus).await;
    let ages: Vec<Option<i64>> = snaps.iter().map(|s| s.age_minutes).collect();
    assert_eq!(ages, vec![Some(9990), Some(10050)], "hourly past 24 h; the next one would be past 7 days");
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 0);
    svc.stop().await;
}

#[tokio::test(start_paused = true)]
async fn full_tracked_set_sheds_the_oldest_and_batches_stay_within_30() {
    let bus = MemoryBus::default();
    let clock = tokio_clock(ts_ms(STONK_CREATED_MS));
    let pairs = StaticPairs::new(Arc::clone(&clock));
    let mut config = cfg();
    config.max_tracked = 10;
    let svc = start(config, ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;

    let obs: Vec<_> = (1..=35u32).map(|i| dex_obs("eth", &format!("0x{i:040x}"), clock.now())).collect();
    publish(&bus, &obs).await;
    assert!(wait_until(Duration::from_secs(5), || async { svc.stats.snapshot().received == 35 }).await);
    assert!(wait_until(Duration::from_secs(5), || async { svc.stats.shed_total.load(Ordering::SeqCst) == 25 }).await);
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 10);
    assert_eq!(svc.stats.dropped_for(Dropped::Shed), 25);
    assert_eq!(pairs.calls(), vec![30, 5], "35 addresses on one chain: two calls of at most 30");

    // The ten survivors are due together; their round is one call of 10.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(wait_until(Duration::from_secs(5), || async { pairs.calls().len() == 3 }).await);
    assert_eq!(pairs.calls()[2], 10);
    assert_eq!(read_all(&bus, "nl.raw.>").await.len(), 3, "every lookup response is recorded");
    svc.stop().await;
}

/// The minimum-activity filter (#20): with `enrich_after_secs = 30`, a launch seen when it is 0 s old is
/// discovered at once (its upsert is published) but neither looked up nor snapshotted (so the risk-scorer
/// is not asked) until it is 30 s old; then the schedule enriches it, and a launch that still has no pool
/// gets a no-data snapshot so it is decided all the same. A launch already 30 s old is enriched at once.
#[tokio::test(start_paused = true)]
async fn young_launches_are_discovered_at_once_and_enriched_only_when_old_enough() {
    let bus = MemoryBus::default();
    let clock = tokio_clock(ts_ms(STONK_CREATED_MS) + chrono::Duration::minutes(20));
    let pairs = StaticPairs::new(Arc::clone(&clock));
    let mut config = cfg();
    config.enrich_after_secs = 30;
    let svc = start(config, ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;
    // STONK has recorded pairs; the other mint has none.
    let nopool = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";
    publish(&bus, &[dex_obs("solana", STONK, clock.now()), dex_obs("solana", nopool, clock.now())]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.deferred.load(Ordering::SeqCst) == 2 }).await);
    assert!(wait_until(Duration::from_secs(1), || async { read_all(&bus, "nl.evt.asset.upserted").await.len() == 2 }).await, "discovered at once");
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(!wait_until(Duration::from_millis(50), || async { svc.stats.snapshots.load(Ordering::SeqCst) > 0 }).await, "nothing enriched before 30 s");
    assert!(pairs.calls().is_empty(), "no lookup before 30 s: {:?}", pairs.calls());

    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 2 }).await, "both enriched at 30 s");
    assert_eq!(pairs.calls(), [2], "one lookup of both, when due");
    let snaps = snapshots(&bus).await;
    let by_asset = |a: &str| snaps.iter().find(|s| s.asset_id.to_string() == format!("solana:{a}")).unwrap().clone();
    assert_eq!(by_asset(STONK).source, "dexscreener");
    assert_eq!((by_asset(nopool).source.as_str(), by_asset(nopool).liquidity_usd), ("enricher", None), "no pool yet: evaluated without market data");

    // A launch already 30 s old when first seen is enriched at once.
    let old = dex_obs("solana", KYS, clock.now() - chrono::Duration::seconds(30));
    publish(&bus, &[old]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 3 }).await);
    assert_eq!(svc.stats.deferred.load(Ordering::SeqCst), 2);
    svc.stop().await;
}

/// The trade trigger (#20): with `enrich_after_secs = 30` and `enrich_after_trades = 3`, a deferred launch its
/// source reports active (`change: updated` with `details.activity`, as the Solana source sends it) is
/// enriched by the next round, long before its 30 s; the report itself is not a sighting (no upsert). A
/// launch never reported active still waits for its 30 s.
#[tokio::test(start_paused = true)]
async fn a_launch_reported_active_is_enriched_before_its_time_trigger() {
    let bus = MemoryBus::default();
    let clock = tokio_clock(ts_ms(STONK_CREATED_MS) + chrono::Duration::minutes(20));
    let pairs = StaticPairs::new(Arc::clone(&clock));
    let mut config = cfg();
    (config.enrich_after_secs, config.enrich_after_trades) = (30, 3);
    let svc = start(config, ctx(&bus).with_clock(Arc::clone(&clock)).with_pair_fetcher(pairs.clone())).await;
    let quiet = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";
    let launched = clock.now();
    publish(&bus, &[dex_obs("solana", STONK, launched), dex_obs("solana", quiet, launched)]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.deferred.load(Ordering::SeqCst) == 2 }).await);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(pairs.calls().is_empty());

    let mut active = dex_obs("solana", STONK, clock.now());
    active.change = nl_domain::ChangeKind::Updated;
    active.source_published_at = Some(launched);
    active.details = serde_json::json!({"dex": "pumpfun", "kind": "activity", "activity": {"trades": 3}});
    assert_eq!(active.activity(), Some(nl_domain::ListingActivity { trades: 3 }));
    publish(&bus, &[active]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await, "enriched when reported active");
    assert_eq!(pairs.calls(), [1], "only the active launch was looked up");
    assert_eq!(svc.stats.activated.load(Ordering::SeqCst), 1);
    assert_eq!(snapshots(&bus).await[0].asset_id.to_string(), format!("solana:{STONK}"));
    assert_eq!(read_all(&bus, "nl.evt.asset.upserted").await.len(), 2, "the activity report is not a sighting");

    tokio::time::advance(Duration::from_secs(25)).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) >= 2 }).await, "the quiet launch at 30 s");
    let snaps = snapshots(&bus).await;
    assert!(snaps.iter().any(|s| s.asset_id.to_string() == format!("solana:{quiet}")), "{snaps:?}");
    svc.stop().await;
}
