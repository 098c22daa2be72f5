//! Push feeds apply the "known" rule (issue #15): a listing announcement pushed over the Binance
//! announcement WebSocket that names an asset of Binance's instrument-list baseline is not a listing, as it
//! is not when polled, and the same holds after a restart (the baseline lives in the source state). Real
//! shapes: the recorded `exchangeInfo` on a loopback HTTP venue and `com_announcement_en` frames on a
//! loopback WebSocket venue, run through [`Feeds`] (what `nl run` and `nl serve collector` run) over
//! `MemoryBus`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{SourcesConfig, build_sources_for_run};
use nl_adapters::cex::push::PushKind;
use nl_adapters::kit::{BudgetConfig, BudgetRegistry, WsConfig};
use nl_bus::{Bus, ConsumerSpec, MemoryBus, Subscription};
use nl_collector::push::PushSource;
use nl_collector::runtime::{CollectorCtx, RunIdentity};
use nl_collector::serve::{FeedSources, Feeds};
use nl_collector::{MemoryStateStore, StateStore};
use nl_domain::{Envelope, EventType};
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use nl_testkit::wait_until;
use nl_testkit::ws_venue::MockWsVenue;
use serde_json::{Value, json};

const EXCHANGE_INFO: &str = include_str!("../../../shared/adapters/src/cex/binance/test_data/http_get_exchange_info.json");
const SPOT: &str = "/api/v3/exchangeInfo";
const FEED: &str = "binance_announcements_ws";
const T: Duration = Duration::from_secs(15);

/// The recorded exchangeInfo with TONUSDT and ETHBTC trading: TON and ETH are known assets.
fn baseline() -> String {
    let mut v: Value = serde_json::from_str(EXCHANGE_INFO).unwrap();
    let template = v["symbols"][0].clone();
    let rows = [("TONUSDT", "TON", "USDT"), ("ETHBTC", "ETH", "BTC")];
    v["symbols"] = rows
        .iter()
        .map(|(s, b, q)| {
            let mut r = template.clone();
            (r["symbol"], r["baseAsset"], r["quoteAsset"], r["status"]) = (json!(s), json!(b), json!(q), json!("TRADING"));
            r
        })
        .collect();
    v.to_string()
}

/// A `com_announcement_en` frame (the recorded shape) of a new-listing article published `ago_ms` ago (the
/// feed's article id is catalog and publish time, so each article gets its own time).
fn listing_frame(title: &str, ago_ms: i64) -> String {
    let inner = json!({"catalogId": 48, "catalogName": "New Cryptocurrency Listing", "publishDate": chrono::Utc::now().timestamp_millis() - ago_ms, "title": title});
    json!({"type": "DATA", "topic": "com_announcement_en", "data": inner.to_string()}).to_string()
}

struct Run {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    status: Arc<nl_collector::push::PushStatus>,
}

/// Starts the Binance spot poll (every second) and the announcement push over `state`.
fn start(venue: &MockVenue, ws: &MockWsVenue, bus: &Arc<MemoryBus>, state: &Arc<MemoryStateStore>) -> Run {
    let mut cfg = SourcesConfig::defaults().only(&["binance_spot"]);
    let c = cfg.get_mut("binance_spot").unwrap();
    (c.base_url, c.rate_per_sec, c.burst, c.interval_secs) = (venue.base_url(), 1_000.0, 1_000.0, 1);
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1_000.0, 1_000.0)).unwrap();
    let polls: Vec<Arc<dyn Source>> = build_sources_for_run(&cfg, &budgets, &|_| None, "run-test").unwrap();
    let mut wcfg = WsConfig::new(ws.url());
    (wcfg.ping_interval_ms, wcfg.backoff_base_ms, wcfg.backoff_cap_ms) = (0, 20, 100);
    let push = Arc::new(PushSource::new(FEED, PushKind::BinanceAnnouncements, wcfg, "run-test"));
    let ctx = CollectorCtx {
        bus: bus.clone(),
        state: state.clone(),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: RunIdentity { run_id: "run-test".into(), config_hash: "hash".into() },
    };
    let status = push.status();
    let feeds = Feeds::new(FeedSources { polls, pushes: vec![push], evm_pushes: Vec::new(), solana_pushes: Vec::new() }, ctx);
    let (stop, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(feeds.run(async move {
        let _ = rx.await;
    }));
    Run { stop, task, status }
}

impl Run {
    /// Waits until the feed reads what the venue sends (a `COMMAND` acknowledgement, kept raw, no
    /// observation), so no frame is sent before the connection is subscribed on both ends.
    async fn connected(&self, ws: &MockWsVenue) {
        let frames = || self.status.frames.load(std::sync::atomic::Ordering::SeqCst);
        let ok = wait_until(T, || async {
            ws.send(r#"{"type":"COMMAND","topic":"com_announcement_en"}"#);
            frames() > 0
        })
        .await;
        assert!(ok, "the feed is connected");
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Symbols of `listing.observed` events delivered until one names `until` (or `T` passes).
async fn observed_until(sub: &mut dyn Subscription, until: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    while !seen.iter().any(|s| s == until) && tokio::time::Instant::now() < deadline {
        for d in sub.fetch(64, Duration::from_millis(50)).await.unwrap() {
            d.ack().await.unwrap();
            let env = Envelope::from_json(&d.message.payload).unwrap();
            seen.push(env.meta["symbol"].as_str().unwrap().to_string());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_announcement_naming_a_known_asset_is_not_a_listing_before_or_after_a_restart() {
    let venue = MockVenue::start().await.unwrap();
    venue.set(SPOT, MockResponse::json(baseline()));
    let ws = MockWsVenue::start().await.unwrap();
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let mut obs = bus.subscribe(ConsumerSpec::new("t_obs", EventType::ListingObserved.subject())).await.unwrap();

    let run = start(&venue, &ws, &bus, &state);
    // The instrument list's baseline is saved and the feed is connected.
    assert!(wait_until(T, || async { state.load("binance_spot").await.unwrap().is_some() }).await);
    run.connected(&ws).await;
    ws.send(listing_frame("Binance Will List Toncoin (TON)", 2));
    ws.send(listing_frame("Binance Will List Amp (AMP)", 1));
    let seen = observed_until(obs.as_mut(), "AMP").await;
    assert_eq!(seen, ["AMP"], "TON is a known asset of Binance's baseline: its announcement is not a listing");
    run.stop().await;

    // Restart on the same state: still known.
    assert!(wait_until(T, || async { ws.live() == 0 }).await, "the first feed is gone");
    let run = start(&venue, &ws, &bus, &state);
    run.connected(&ws).await;
    ws.send(listing_frame("Binance Will List Toncoin (TON) with Seed Tag Applied", 2));
    ws.send(listing_frame("Binance Will List PlayDapp (PLA)", 1));
    let seen = observed_until(obs.as_mut(), "PLA").await;
    assert_eq!(seen, ["PLA"], "after a restart the baseline still makes TON known");
    run.stop().await;
}

const OKX_FEED: &str = "okx_ws";
const OKX_REST: &str = "/api/v5/public/instruments";

/// OKX instrument rows `(instId, state, listTime ms)`, as the REST list (`complete`) or a push frame.
fn okx_rows(rows: &[(&str, &str, i64)], rest: bool) -> String {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(id, state, list_ms)| {
            let (b, q) = id.split_once('-').unwrap();
            let (b, q) = if rest { (b, q) } else { ("", "") };
            json!({"instType": "SPOT", "instId": id, "baseCcy": b, "quoteCcy": q, "state": state, "listTime": list_ms.to_string()})
        })
        .collect();
    if rest {
        json!({"code": "0", "msg": "", "data": rows}).to_string()
    } else {
        json!({"arg": {"channel": "instruments", "instType": "SPOT"}, "data": rows}).to_string()
    }
}

/// OKX's push when its REST gap fill could not run: instruments nl never saw listed are reported only when
/// their own `listTime` is recent, and the first complete REST list afterwards is a baseline (nothing in
/// it is new) that keeps what the push reported. BTC (listed 2023) and ETH (only in the REST list) are
/// never discovered; NEW (listed now) and ADD (listed after the baseline) are, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_feed_without_a_baseline_never_discovers_an_old_instrument() {
    use nl_adapters::cex::config::{SourceConfig, SourceKind};
    use nl_collector::push::{PushOptions, PushOptionsMap, build_push_sources};
    let rest = MockVenue::start().await.unwrap();
    rest.set(OKX_REST, MockResponse::status(404, r#"{"code":"51001","msg":"Instrument ID does not exist"}"#));
    let ws = MockWsVenue::start().await.unwrap();
    let entry = SourceConfig {
        ws_url: Some(ws.url()),
        ..SourceConfig::poll(SourceKind::Other("okx_instruments_ws".into()), &rest.base_url(), 1, 2_000, "okx", (100.0, 100.0))
    };
    let cfg = SourcesConfig([(OKX_FEED.to_string(), entry)].into_iter().collect());
    let opts: PushOptionsMap = [(OKX_FEED.to_string(), PushOptions { ping_interval_ms: Some(0), backoff_base_ms: Some(20), backoff_cap_ms: Some(100), ..PushOptions::default() })].into();
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1.0, 1.0)).unwrap();
    let source = build_push_sources(&cfg, &opts, &budgets, Arc::new(|_| None), "run-test").unwrap().remove(0);
    let status = source.status();
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let ctx = CollectorCtx {
        bus: bus.clone(),
        state: state.clone(),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: RunIdentity { run_id: "run-test".into(), config_hash: "hash".into() },
    };
    let mut obs = bus.subscribe(ConsumerSpec::new("t_obs", EventType::ListingObserved.subject())).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::clone(&source).run(ctx, stop_rx));
    let gap_fills = || status.gap_fills.load(std::sync::atomic::Ordering::SeqCst);
    assert!(wait_until(T, || async { ws.live() == 1 && gap_fills() == 1 }).await, "connected; the gap fill failed");
    assert!(state.load(OKX_FEED).await.unwrap().is_none(), "no baseline yet");

    // OKX pushes its list on subscribe: BTC listed in 2023, NEW listed now.
    let now = chrono::Utc::now().timestamp_millis();
    ws.send(okx_rows(&[("BTC-USDT", "live", 1_700_000_000_000), ("NEW-USDT", "live", now)], false));
    assert_eq!(observed_until(obs.as_mut(), "NEW").await, ["NEW"]);
    // The REST list is back; a reconnect fills the gap with it: ETH is in the baseline, nothing is new.
    rest.set(OKX_REST, MockResponse::json(okx_rows(&[("BTC-USDT", "live", 1_700_000_000_000), ("ETH-USDT", "live", 1_600_000_000_000), ("NEW-USDT", "live", now)], true)));
    ws.drop_connections();
    assert!(wait_until(T, || async { gap_fills() == 2 && ws.live() == 1 }).await);
    let stored = state.load(OKX_FEED).await.unwrap().unwrap();
    assert!(stored.get("partial").is_none(), "a complete list is the baseline: {stored}");
    assert_eq!(stored["known"]["entries"]["NEW-USDT"]["baseline"], json!(false), "the pushed listing stays one");
    // After the baseline every unknown instrument is new; the old ones stay quiet.
    ws.send(okx_rows(&[("ETH-USDT", "suspend", 1_600_000_000_000), ("ADD-USDT", "preopen", now + 3_600_000)], false));
    assert_eq!(observed_until(obs.as_mut(), "ADD").await, ["ADD"], "ETH's status change is not a listing");
    let _ = stop_tx.send(true);
    task.await.unwrap();
}
