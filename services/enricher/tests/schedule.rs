//! The re-snapshot schedule on a paused tokio clock (`pause` + `advance`), with an in-process pair
//! fetcher over the recorded payloads so no socket I/O races the virtual clock.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
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

fn cfg() -> EnricherConfig {
    EnricherConfig { fetch_wait_ms: 50, ..EnricherConfig::default() }
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
