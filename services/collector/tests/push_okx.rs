//! Push source against mock venues: an axum WebSocket mock (OKX `instruments` frames) and an axum HTTP mock
//! (the OKX REST instruments list used to fill connection gaps), over `MemoryBus`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_domain::raw_subject;
use nl_adapters::cex::config::{SourceConfig, SourceKind, SourcesConfig};
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use nl_testkit::ws_venue::MockWsVenue;
use nl_adapters::kit::{BudgetConfig, BudgetRegistry};
use nl_testkit::wait_until;
use nl_bus::{Bus, ConsumerSpec, MemoryBus, Subscription};
use nl_collector::push::{PushOptions, PushOptionsMap, build_push_sources};
use nl_collector::runtime::{CollectorCtx, RunIdentity};
use nl_collector::{MemoryStateStore, StateStore};
use nl_domain::{Envelope, EventType};

const NAME: &str = "okx_ws";
const REST_PATH: &str = "/api/v5/public/instruments";
const T: Duration = Duration::from_secs(10);

fn rest_body(rows: &[(&str, &str)]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|(id, state)| {
            let (b, q) = id.split_once('-').unwrap();
            format!(r#"{{"instType":"SPOT","instId":"{id}","baseCcy":"{b}","quoteCcy":"{q}","state":"{state}","listTime":"1790003600000"}}"#)
        })
        .collect();
    format!(r#"{{"code":"0","msg":"","data":[{}]}}"#, rows.join(","))
}

fn push_frame(rows: &[(&str, &str)]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|(id, state)| format!(r#"{{"instType":"SPOT","instId":"{id}","baseCcy":"","quoteCcy":"","state":"{state}","listTime":"1790003600000"}}"#))
        .collect();
    format!(r#"{{"arg":{{"channel":"instruments","instType":"SPOT"}},"data":[{}]}}"#, rows.join(","))
}

fn sources(rest: &str, ws: &str) -> SourcesConfig {
    let entry = SourceConfig {
        ws_url: Some(ws.into()),
        ..SourceConfig::poll(SourceKind::Other("okx_instruments_ws".into()), rest, 1, 2_000, "okx", (100.0, 100.0))
    };
    SourcesConfig([(NAME.to_string(), entry)].into_iter().collect())
}

/// Drains every `listing.observed` delivered so far into `seen` (instrument ids).
async fn drain(sub: &mut dyn Subscription, seen: &mut Vec<String>) {
    for d in sub.fetch(64, Duration::from_millis(50)).await.unwrap() {
        d.ack().await.unwrap();
        let env = Envelope::from_json(&d.message.payload).unwrap();
        seen.push(env.meta["instrument_id"].as_str().unwrap().to_string());
    }
}

/// Drains until `pred(seen)` holds or `T` passes (each fetch long-polls briefly; no fixed sleeps).
async fn drain_until(sub: &mut dyn Subscription, seen: &mut Vec<String>, pred: impl Fn(&[String]) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        drain(sub, seen).await;
        if pred(seen) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}

/// Counts raws on `sub` until at least `n` arrived or `T` passes.
async fn count_until(sub: &mut dyn Subscription, n: usize) -> usize {
    let deadline = tokio::time::Instant::now() + T;
    let mut c = 0;
    while c < n && tokio::time::Instant::now() < deadline {
        for d in sub.fetch(64, Duration::from_millis(50)).await.unwrap() {
            d.ack().await.unwrap();
            c += 1;
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_push_reports_once_and_fills_the_gap_after_reconnect() {
    let rest = MockVenue::start().await.unwrap();
    rest.set(REST_PATH, MockResponse::json(rest_body(&[("BTC-USDT", "live"), ("ETH-USDT", "live")])));
    let ws = MockWsVenue::start().await.unwrap();

    let cfg = sources(&rest.base_url(), &ws.url());
    // Fast reconnects and no keepalive chatter for the test.
    let opts: PushOptionsMap = [(NAME.to_string(), PushOptions { ping_interval_ms: Some(0), backoff_base_ms: Some(20), backoff_cap_ms: Some(100), ..PushOptions::default() })].into();
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1.0, 1.0)).unwrap();
    let mut built = build_push_sources(&cfg, &opts, &budgets, Arc::new(|_| None), "run-test").unwrap();
    assert_eq!(built.len(), 1);
    let source = built.remove(0);
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
    let mut raws = bus.subscribe(ConsumerSpec::new("t_raw", raw_subject(NAME))).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::clone(&source).run(ctx, stop_rx));

    // First connect: subscribed, gap filled by one REST poll (the baseline, nothing reported).
    assert!(wait_until(T, || async { ws.live() == 1 && status.gap_fills.load(std::sync::atomic::Ordering::SeqCst) == 1 }).await);
    assert!(wait_until(T, || async { state.load(NAME).await.unwrap().is_some() }).await);
    assert_eq!(rest.hit_count(REST_PATH), 1);
    assert_eq!(ws.received().first().map(String::as_str), Some(r#"{"op":"subscribe","args":[{"channel":"instruments","instType":"SPOT"}]}"#));
    assert!(status.last_message_age().is_some());

    // A pushed pre-open listing: exactly one listing.observed.
    ws.send(push_frame(&[("NEW-USDT", "preopen")]));
    let mut seen = Vec::new();
    assert!(drain_until(obs.as_mut(), &mut seen, |s| !s.is_empty()).await);
    assert_eq!(seen, ["NEW-USDT"]);

    // The venue drops the line; GAP-USDT lists while we are away.
    rest.set(REST_PATH, MockResponse::json(rest_body(&[("BTC-USDT", "live"), ("ETH-USDT", "live"), ("NEW-USDT", "preopen"), ("GAP-USDT", "live")])));
    ws.drop_connections();
    assert!(wait_until(T, || async { ws.accepted() == 2 && ws.live() == 1 }).await);
    assert!(wait_until(T, || async { status.gap_fills.load(std::sync::atomic::Ordering::SeqCst) == 2 }).await);
    assert_eq!(rest.hit_count(REST_PATH), 2, "one gap-fill poll per connect");

    // OKX re-sends its full list after the resubscribe; then a sentinel listing proves the stream is drained.
    ws.send(push_frame(&[("BTC-USDT", "live"), ("ETH-USDT", "live"), ("NEW-USDT", "preopen"), ("GAP-USDT", "live")]));
    ws.send(push_frame(&[("LAST-USDT", "preopen")]));
    assert!(drain_until(obs.as_mut(), &mut seen, |s| s.iter().any(|s| s == "LAST-USDT")).await);
    drain(obs.as_mut(), &mut seen).await;
    // GAP-USDT is reported once, by the gap fill, and not again by the re-sent full list.
    assert_eq!(seen, ["NEW-USDT", "GAP-USDT", "LAST-USDT"]);

    // Every received payload is kept raw (3 pushed frames; the REST bodies are raws too).
    let raw_count = count_until(raws.as_mut(), 5).await;
    assert!(raw_count >= 5, "raws: {raw_count}");

    let _ = stop_tx.send(true);
    tokio::time::timeout(T, task).await.unwrap().unwrap();
}
