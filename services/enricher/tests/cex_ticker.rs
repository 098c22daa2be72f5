//! CEX listing snapshots from the venue's ticker: an axum venue on 127.0.0.1 serves OKX's and Gate's
//! recorded single-pair tickers (or a 429), and the re-snapshot schedule on a paused clock answers the
//! lookups from recorded captures (as a re-derivation does) so no socket races the virtual clock.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use nl_adapters::kit::RecordedResponses;
use nl_bus::MemoryBus;
use nl_testkit::wait_until;
use nl_domain::{Decimal, RawEvent, Snapshot, Ts};
use nl_enricher::stats::Stage;
use nl_enricher::EnricherConfig;

const OKX_TICKER: &str = include_str!("../../../shared/adapters/src/cex/okx/test_data/http_get_market_ticker.json");
const GATE_TICKER: &str = include_str!("../../../shared/adapters/src/cex/gate/test_data/http_get_spot_tickers_pair.json");
const T: Duration = Duration::from_secs(10);

fn d(s: &str) -> Option<Decimal> {
    Some(Decimal::from_str(s).unwrap())
}

#[derive(Clone, Default)]
struct Venue {
    hits: Arc<AtomicUsize>,
    fail_with: Arc<AtomicU16>,
    asked: Arc<Mutex<Vec<String>>>,
}

async fn okx_ticker(State(v): State<Venue>, Query(q): Query<HashMap<String, String>>) -> Response {
    answer(&v, q.get("instId"), OKX_TICKER)
}

async fn gate_ticker(State(v): State<Venue>, Query(q): Query<HashMap<String, String>>) -> Response {
    answer(&v, q.get("currency_pair"), GATE_TICKER)
}

fn answer(v: &Venue, id: Option<&String>, body: &'static str) -> Response {
    v.hits.fetch_add(1, Ordering::SeqCst);
    v.asked.lock().unwrap().push(id.cloned().unwrap_or_default());
    match v.fail_with.load(Ordering::SeqCst) {
        0 => (StatusCode::OK, [("content-type", "application/json")], body).into_response(),
        code => (StatusCode::from_u16(code).unwrap(), [("retry-after", "1")], "{\"msg\":\"Too Many Requests\"}").into_response(),
    }
}

async fn start_venue() -> (String, Venue) {
    let v = Venue::default();
    let app = axum::Router::new().route("/api/v5/market/ticker", get(okx_ticker)).route("/api/v4/spot/tickers", get(gate_ticker)).with_state(v.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), v)
}

fn cfg() -> EnricherConfig {
    let mut c = EnricherConfig { fetch_wait_ms: 50, ..EnricherConfig::default() };
    c.dexscreener.enabled = false;
    c
}

fn urls(base: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("okx".to_string(), base.to_string()), ("gate".to_string(), base.to_string())])
}

/// A spot listing of NEWT on `venue`, whose trading started 30 minutes before `at`.
fn newt(venue: &str, id: &str, quote: &str, at: Ts) -> nl_domain::ListingObservation {
    let mut o = cex_obs(venue, "NEWT", at, Some(at - chrono::Duration::minutes(30)));
    (o.instrument_id, o.quote, o.raw_event_id) = (id.into(), Some(quote.into()), Some("instruments-raw".into()));
    o
}

async fn snapshots(bus: &MemoryBus) -> Vec<Snapshot> {
    let mut v: Vec<Snapshot> = read_all(bus, "nl.evt.snapshot.recorded").await.into_iter().map(|e| serde_json::from_value(e.meta).unwrap()).collect();
    v.sort_by_key(|s| (s.observed_at, s.asset_id.to_string()));
    v
}

async fn raws(bus: &MemoryBus) -> Vec<RawEvent> {
    read_all(bus, "nl.raw.>").await.into_iter().map(|e| serde_json::from_value(e.meta).unwrap()).collect()
}

#[tokio::test]
async fn usd_quoted_listing_gets_the_ticker_price_and_volume_exactly_and_the_raw_is_kept() {
    let bus = MemoryBus::default();
    let (base, venue) = start_venue().await;
    let svc = start(cfg(), ctx(&bus).with_venue_urls(urls(&base))).await;
    let at = chrono::Utc::now();
    publish(&bus, &[newt("okx", "NEWT-USDT", "USDT", at), newt("gate", "NEWT_USDT", "USDT", at)]).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 2 }).await);

    let snaps = snapshots(&bus).await;
    let raws = raws(&bus).await;
    assert_eq!((snaps.len(), raws.len(), venue.hits.load(Ordering::SeqCst)), (2, 2, 2));
    let mut asked = venue.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, vec!["NEWT-USDT".to_string(), "NEWT_USDT".to_string()], "the listed pair, by the venue's own id");
    let okx = snaps.iter().find(|s| s.asset_id.to_string() == "cex:okx:NEWT").unwrap();
    let okx_raw = raws.iter().find(|r| r.source == "okx_ticker").unwrap();
    assert_eq!((okx.price_usd, okx.volume_24h_usd), (d("0.4187"), d("5841232.918347")));
    assert_eq!((okx.fdv_usd, okx.market_cap_usd, okx.liquidity_usd, okx.holders), (None, None, None, None), "never known for a CEX pair");
    assert_eq!((okx.age_minutes, okx.source.as_str(), okx.observed_at), (Some(30), "enricher_cex", at));
    assert_eq!(okx.raw_event_id.as_deref(), Some(okx_raw.raw_id.as_str()), "the snapshot points at the ticker response");
    assert_eq!((okx_raw.http_status, okx_raw.payload.as_str(), okx_raw.parse_error.as_deref()), (Some(200), OKX_TICKER, None));
    assert!(okx_raw.endpoint.ends_with("/api/v5/market/ticker?instId=NEWT-USDT"), "{}", okx_raw.endpoint);
    let gate = snaps.iter().find(|s| s.asset_id.to_string() == "cex:gate:NEWT").unwrap();
    assert_eq!((gate.price_usd, gate.volume_24h_usd), (d("0.41902"), d("2711843.0715211")));
    assert!(raws.iter().any(|r| r.source == "gate_ticker" && Some(r.raw_id.as_str()) == gate.raw_event_id.as_deref()));
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 2, "CEX listings with a pair are re-snapshotted too");
    svc.stop().await;
}

#[tokio::test]
async fn rate_limited_ticker_leaves_values_null_not_zero_and_keeps_the_429() {
    let bus = MemoryBus::default();
    let (base, venue) = start_venue().await;
    venue.fail_with.store(429, Ordering::SeqCst);
    let svc = start(cfg(), ctx(&bus).with_venue_urls(urls(&base))).await;
    publish(&bus, &[newt("okx", "NEWT-USDT", "USDT", chrono::Utc::now())]).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);

    let snap = snapshots(&bus).await.pop().unwrap();
    assert_eq!((snap.price_usd, snap.volume_24h_usd), (None, None), "a 429 gives NULL, never 0");
    assert_eq!((snap.age_minutes, snap.raw_event_id.as_deref()), (Some(30), Some("instruments-raw")));
    let raw = raws(&bus).await.pop().unwrap();
    assert_eq!((raw.source.as_str(), raw.http_status), ("okx_ticker", Some(429)));
    assert!(raw.parse_error.as_deref().is_some_and(|e| e.contains("429")), "{:?}", raw.parse_error);
    assert_eq!(svc.stats.errors_at(Stage::Fetch), 1);
    svc.stop().await;
}

#[tokio::test]
async fn non_usd_quotes_are_not_looked_up_and_stay_null() {
    let bus = MemoryBus::default();
    let (base, venue) = start_venue().await;
    let svc = start(cfg(), ctx(&bus).with_venue_urls(urls(&base))).await;
    publish(&bus, &[newt("okx", "NEWT-BTC", "BTC", chrono::Utc::now())]).await;
    assert!(wait_until(T, || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);
    let snap = snapshots(&bus).await.pop().unwrap();
    assert_eq!((snap.price_usd, snap.volume_24h_usd, snap.age_minutes), (None, None, Some(30)), "a BTC price is not a USD price");
    assert_eq!(venue.hits.load(Ordering::SeqCst), 0);
    assert_eq!(svc.stats.tracked.load(Ordering::SeqCst), 0);
    svc.stop().await;
}

/// Answers every `okx_ticker` request with the recorded ticker, received "now" on the given clock.
struct RecordedOkx {
    clock: Clock,
    asked: Mutex<Vec<String>>,
}

impl RecordedResponses for RecordedOkx {
    fn take(&self, source: &str, path_and_query: &str) -> Option<RawEvent> {
        self.asked.lock().unwrap().push(format!("{source} {path_and_query}"));
        let endpoint = format!("http://127.0.0.1:1{path_and_query}");
        (source == "okx_ticker").then(|| RawEvent::new(source, &endpoint, Some(200), self.clock.now(), OKX_TICKER.into(), "orig-run"))
    }
}

#[tokio::test(start_paused = true)]
async fn cex_listings_are_re_snapshotted_on_the_age_tiers() {
    let bus = MemoryBus::default();
    let base = chrono::Utc::now();
    let clock = tokio_clock(base);
    let rec = Arc::new(RecordedOkx { clock: Arc::clone(&clock), asked: Mutex::new(Vec::new()) });
    let c = ctx(&bus).with_clock(Arc::clone(&clock)).with_venue_urls(urls("http://127.0.0.1:1")).with_recorded_tickers(rec.clone());
    // The recorded ticker never moves; publish every round anyway (the cadence is what is tested here).
    let mut config = cfg();
    config.schedule.max_quiet_secs = 0;
    let svc = start(config, c).await;
    publish(&bus, &[newt("okx", "NEWT-USDT", "USDT", clock.now())]).await;
    assert!(wait_until(Duration::from_secs(1), || async { svc.stats.snapshots.load(Ordering::SeqCst) == 1 }).await);

    // Age 30 min: the 60 s tier.
    for expected in [1, 2] {
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(wait_until(Duration::from_secs(1), || async { svc.stats.rescheduled_snapshots.load(Ordering::SeqCst) == expected }).await);
    }
    let snaps = snapshots(&bus).await;
    let offsets: Vec<i64> = snaps.iter().map(|s| (s.observed_at - base).num_seconds()).collect();
    assert_eq!(offsets, vec![0, 60, 120]);
    assert_eq!(snaps.iter().map(|s| s.age_minutes).collect::<Vec<_>>(), vec![Some(30), Some(31), Some(32)]);
    assert!(snaps.iter().all(|s| s.price_usd == d("0.4187") && s.volume_24h_usd == d("5841232.918347") && s.source == "enricher_cex"));
    assert!(rec.asked.lock().unwrap().iter().all(|a| a == "okx_ticker /api/v5/market/ticker?instId=NEWT-USDT"));
    svc.stop().await;
}
