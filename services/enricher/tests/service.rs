//! The enricher over `MemoryBus` against an axum DexScreener mock serving the recorded payloads.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use nl_testkit::wait_until;
use nl_bus::{Bus, MemoryBus};
use nl_domain::{AssetUpsert, ChangeKind, Decimal, EventType, RawEvent, Snapshot};
use nl_enricher::stats::{Dropped, Stage};

const T: Duration = Duration::from_secs(10);

fn now() -> nl_domain::Ts {
    chrono::Utc::now()
}

/// A context whose clock stands 5 minutes after STONK's pair was created, so the asset is young enough
/// to be tracked whatever today's date is.
fn young(bus: &MemoryBus) -> (nl_enricher::EnricherCtx, Clock) {
    let clock = tokio_clock(ts_ms(STONK_CREATED_MS) + chrono::Duration::minutes(5));
    (ctx(bus).with_clock(std::sync::Arc::clone(&clock)), clock)
}

#[tokio::test]
async fn observation_gives_one_upsert_one_snapshot_one_raw_with_exact_decimals() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    let (ctx, clock) = young(&bus);
    let svc = start(config_for(&mock), ctx).await;
    let obs = dex_obs("solana", STONK, clock.now());
    publish(&bus, std::slice::from_ref(&obs)).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);

    let ups = read_all(&bus, "nl.evt.asset.upserted").await;
    let snaps = read_all(&bus, "nl.evt.snapshot.recorded").await;
    let raws = read_all(&bus, "nl.raw.>").await;
    assert_eq!((ups.len(), snaps.len(), raws.len()), (1, 1, 1));
    assert_eq!(mock.hits.load(Ordering::SeqCst), 1);

    let up: AssetUpsert = serde_json::from_value(ups[0].meta.clone()).unwrap();
    assert_eq!(up.asset_id.to_string(), format!("solana:{STONK}"));
    assert_eq!(up.sighting.source, "evm_solana");
    assert_eq!(up.sighting.pair["pool"], format!("pool-{STONK}"));
    assert_eq!(ups[0].event_id, nl_enricher::upsert_event_id(&up));

    let raw: RawEvent = serde_json::from_value(raws[0].meta.clone()).unwrap();
    assert_eq!(raws[0].kind, EventType::RawCaptured);
    assert!(raw.endpoint.contains("/tokens/v1/solana/"), "{}", raw.endpoint);
    assert!(raw.payload.contains("52239.46"), "the verbatim response is recorded");

    let snap: Snapshot = serde_json::from_value(snaps[0].meta.clone()).unwrap();
    assert_eq!(snap.source, "dexscreener");
    assert_eq!(snap.raw_event_id.as_deref(), Some(raw.raw_id.as_str()), "the snapshot points at the recorded response");
    assert_eq!(snap.observed_at, obs.emitted_at);
    assert_eq!(snap.price_usd, Some(Decimal::from_str("0.0003798").unwrap()));
    assert_eq!(snap.liquidity_usd, Some(Decimal::from_str("52239.46").unwrap()), "best pool by liquidity (pumpswap, not meteoradbc)");
    assert_eq!(snap.volume_24h_usd, Some(Decimal::from_str("24660.15").unwrap()));
    assert_eq!(snap.fdv_usd, Some(Decimal::from(379_813)));
    assert_eq!(snap.holders, None, "no source gives holders here");
    let text = String::from_utf8(snaps[0].to_json().unwrap()).unwrap();
    assert!(text.contains("\"liquidity_usd\":\"52239.46\""), "decimals travel as exact strings: {text}");
    assert!(text.contains("\"price_usd\":\"0.0003798\""), "{text}");
    assert_eq!(nl_enricher::snapshot_event_id(&snap), snaps[0].event_id);

    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 1);
    assert_eq!(bus.consumer_state("enricher").await.unwrap().num_ack_pending, 0, "input acked after publish");
    svc.stop().await;
}

#[tokio::test]
async fn redelivered_observation_republishes_the_same_ids() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    let (ctx, clock) = young(&bus);
    let svc = start(config_for(&mock), ctx).await;
    let obs = dex_obs("solana", STONK, clock.now());
    publish(&bus, std::slice::from_ref(&obs)).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);
    republish(&bus, &obs).await;
    assert!(wait_until(T, || async { svc.stats.snapshot().received == 2 && svc.stats.snapshot().duplicates == 2 }).await);

    let ups = read_all(&bus, "nl.evt.asset.upserted").await;
    let snaps = read_all(&bus, "nl.evt.snapshot.recorded").await;
    let raws = read_all(&bus, "nl.raw.>").await;
    assert_eq!(ups.len(), 1, "same upsert id: deduplicated");
    assert_eq!(snaps.len(), 1, "same snapshot id: deduplicated");
    assert_eq!(raws.len(), 2, "the second fetch is recorded too (append-only raw)");
    assert_eq!(mock.hits.load(Ordering::SeqCst), 2);
    let snap: Snapshot = serde_json::from_value(snaps[0].meta.clone()).unwrap();
    let first_raw: RawEvent = serde_json::from_value(raws[0].meta.clone()).unwrap();
    assert_eq!(snap.raw_event_id.as_deref(), Some(first_raw.raw_id.as_str()), "the kept snapshot points at the first response");
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 1);
    svc.stop().await;
}

#[tokio::test]
async fn missing_liquidity_is_null_never_zero() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    let svc = start(config_for(&mock), ctx(&bus)).await;
    publish(&bus, &[dex_obs("solana", KYS, now()), dex_obs("eth", "0xA1B2C3D4E5F60718293A4B5C6D7E8F9012345678", now())]).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 2 }).await);
    let snaps = read_all(&bus, "nl.evt.snapshot.recorded").await;
    assert_eq!(snaps.len(), 2);
    for env in &snaps {
        let s: Snapshot = serde_json::from_value(env.meta.clone()).unwrap();
        assert_eq!(s.liquidity_usd, None, "{}", s.asset_id);
        let text = String::from_utf8(env.to_json().unwrap()).unwrap();
        assert!(text.contains("\"liquidity_usd\":null"), "{text}");
        if s.asset_id.chain_slug() == Some("eth") {
            assert_eq!(s.market_cap_usd, None);
            assert_eq!(s.price_usd, Some(Decimal::from_str("0.00042").unwrap()));
            assert_eq!(env.chain.as_deref(), Some("eth"));
        } else {
            assert_eq!(s.price_usd, Some(Decimal::from_str("0.000007690").unwrap()));
        }
    }
    assert_eq!(read_all(&bus, "nl.raw.>").await.len(), 2, "one call per chain");
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 0, "pairs created over 7 days before now are not tracked");
    svc.stop().await;
}

#[tokio::test]
async fn carried_pool_data_and_cex_listings_need_no_fetch_and_retractions_get_no_snapshot() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    let svc = start(config_for(&mock), ctx(&bus)).await;
    let at = now();
    let mut gecko = dex_obs("solana", STONK, at);
    gecko.source = "geckoterminal".into();
    let carried = Snapshot {
        asset_id: gecko.asset_id.clone(),
        observed_at: at,
        source: "geckoterminal".into(),
        price_usd: Some(Decimal::from_str("0.000646399702075111604342796").unwrap()),
        fdv_usd: Some(Decimal::from_str("824.6826942").unwrap()),
        market_cap_usd: None,
        liquidity_usd: Some(Decimal::from_str("0.0115").unwrap()),
        volume_24h_usd: Some(Decimal::from_str("64813742.3053932").unwrap()),
        holders: None,
        age_minutes: Some(3),
        raw_event_id: Some("gt-raw".into()),
    };
    gecko.details["snapshot"] = serde_json::to_value(&carried).unwrap();
    let cex = cex_obs("okx", "NEW", at, Some(at - chrono::Duration::minutes(15)));
    let retract = nl_domain::ListingObservation { change: ChangeKind::Retracted, ..cex_obs("okx", "OLD", at, None) };
    publish(&bus, &[gecko, cex, retract]).await;
    assert!(wait_until(T, || async { svc.stats.snapshot().received == 3 && svc.stats.snapshots.load(Ordering::SeqCst) == 2 }).await);

    assert_eq!(mock.hits.load(Ordering::SeqCst), 0, "no fetch: GeckoTerminal data carried, CEX has no pairs");
    assert!(read_all(&bus, "nl.raw.>").await.is_empty());
    let snaps: Vec<Snapshot> = read_all(&bus, "nl.evt.snapshot.recorded").await.into_iter().map(|e| serde_json::from_value(e.meta).unwrap()).collect();
    assert_eq!(snaps.len(), 2);
    let g = snaps.iter().find(|s| s.source == "geckoterminal").unwrap();
    assert_eq!(g, &carried, "carried snapshot passes through exactly");
    let c = snaps.iter().find(|s| s.asset_id.to_string() == "cex:okx:NEW").unwrap();
    assert_eq!(c.age_minutes, Some(15));
    assert!(c.price_usd.is_none() && c.liquidity_usd.is_none() && c.fdv_usd.is_none() && c.volume_24h_usd.is_none());

    let ups: Vec<AssetUpsert> = read_all(&bus, "nl.evt.asset.upserted").await.into_iter().map(|e| serde_json::from_value(e.meta).unwrap()).collect();
    assert_eq!(ups.len(), 3);
    let old = ups.iter().find(|u| u.asset_id.to_string() == "cex:okx:OLD").unwrap();
    assert_eq!(old.sighting.status.as_deref(), Some("retracted"));
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 1, "only the on-chain asset is tracked");
    svc.stop().await;
}

#[tokio::test]
async fn rate_limited_lookup_still_upserts_records_the_response_and_acks() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    mock.fail_with.store(429, Ordering::SeqCst);
    let svc = start(config_for(&mock), ctx(&bus)).await;
    publish(&bus, &[dex_obs("solana", STONK, now())]).await;
    assert!(wait_until(T, || async { svc.stats.errors_at(Stage::Fetch) == 1 && svc.stats.snapshot().published >= 1 }).await);
    assert!(wait_until(T, || async { bus.consumer_state("enricher").await.unwrap().num_ack_pending == 0 }).await);
    assert_eq!(read_all(&bus, "nl.evt.asset.upserted").await.len(), 1);
    // Issue 15: the asset is still evaluated, with every market value unknown (the gate says NO_MARKET_DATA).
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);
    let snaps = read_all(&bus, "nl.evt.snapshot.recorded").await;
    assert_eq!(snaps.len(), 1);
    let s: Snapshot = serde_json::from_value(snaps[0].meta.clone()).unwrap();
    assert_eq!(s.source, "enricher");
    assert!(s.price_usd.is_none() && s.liquidity_usd.is_none() && s.volume_24h_usd.is_none() && s.fdv_usd.is_none() && s.holders.is_none());
    let raws = read_all(&bus, "nl.raw.>").await;
    assert_eq!(raws.len(), 1, "the 429 response is kept");
    let raw: RawEvent = serde_json::from_value(raws[0].meta.clone()).unwrap();
    assert_eq!(raw.http_status, Some(429));
    assert!(raw.parse_error.is_some());
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 1, "tracked, so the schedule looks again");
    svc.stop().await;
}

#[tokio::test]
async fn undecodable_and_foreign_inputs_are_terminated_and_counted() {
    let bus = MemoryBus::default();
    let mock = start_mock().await;
    let svc = start(config_for(&mock), ctx(&bus)).await;
    publish_raw_bytes(&bus, "nl.evt.listing.observed", b"{not json").await;
    let foreign = nl_domain::Envelope::new(EventType::AssetUpdated, &["x"], now(), "r", "h", serde_json::json!({}));
    bus.publish(nl_bus::Message::new("nl.evt.listing.observed", foreign.event_id.as_str(), foreign.to_json().unwrap())).await.unwrap();
    assert!(wait_until(T, || async { bus.dead_letter_count().await.unwrap() == 2 }).await);
    assert_eq!(svc.stats.dropped_for(Dropped::Undecodable), 1);
    assert_eq!(svc.stats.dropped_for(Dropped::UnexpectedType), 1);
    assert_eq!(svc.stats.errors_at(Stage::Decode), 2);
    assert_eq!(svc.stats.snapshot().published, 0);
    svc.stop().await;
}
