//! Tier (b): instrument-list poll sources (OKX, Binance, Gate) over `MemoryBus` against a mock venue.
#![allow(clippy::unwrap_used)]

use crate::cex_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use cex_common::{Harness, drain, ms, test_data};
use nl_testkit::cex_venue::MockResponse;
use nl_testkit::wait_until;
use nl_collector::{PollReport, StateStore};
use serde_json::{Value, json};

const OKX: &str = "/api/v5/public/instruments";
const BINANCE: &str = "/api/v3/exchangeInfo";
const GATE: &str = "/api/v4/spot/currency_pairs";

/// A venue payload from `test_data` with `extra` rows appended to the array at `pointer` ("" = root).
fn with_rows(base: &str, pointer: &str, extra: &[Value]) -> String {
    let mut v: Value = serde_json::from_str(base).unwrap();
    let rows = if pointer.is_empty() { &mut v } else { v.pointer_mut(pointer).unwrap() };
    rows.as_array_mut().unwrap().extend(extra.iter().cloned());
    v.to_string()
}

fn okx_row(base: &str, quote: &str, state: &str, list_time_ms: i64) -> Value {
    json!({"instId": format!("{base}-{quote}"), "instType": "SPOT", "baseCcy": "", "quoteCcy": "", "listTime": list_time_ms.to_string(),
           "state": state, "lotSz": "", "minSz": "", "tickSz": ""})
}

async fn poll(collector: &nl_collector::Collector) -> PollReport {
    let mut reports = collector.poll_all_once(chrono::Utc::now()).await;
    assert_eq!(reports.len(), 1);
    reports.remove(0)
}

#[tokio::test]
async fn okx_baseline_then_exactly_one_new_listing_survives_restart() {
    let mut h = Harness::new("okx_spot").await;
    let base = test_data("okx", "http_get_public_instruments_spot.json");
    h.venue.set(OKX, MockResponse::json(base.clone()));
    let mut raws = h.subscribe("nl.raw.okx_spot").await;

    let c = h.collector();
    let r = poll(&c).await;
    assert!(r.ok() && (r.raws, r.new) == (1, 0), "{r:?}");
    assert!(h.take_observed().await.is_empty(), "baseline reports nothing");
    assert!(h.state.load("okx_spot").await.unwrap().is_some(), "baseline recorded");

    // OKX lists a new pair as `preopen` with `listTime` and `""` currencies.
    let list_time = 1_790_000_000_000_i64;
    h.venue.set(OKX, MockResponse::json(with_rows(&base, "/data", &[okx_row("NEW", "USDT", "preopen", list_time)])));
    let r = poll(&c).await;
    assert!(r.ok() && r.new == 1 && r.updated == 0, "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs.len(), 1, "{obs:?}");
    let (env, m) = (&obs[0], &obs[0]["meta"]);
    assert_eq!((env["type"].as_str(), env["symbol"].as_str(), env["asset_id"].as_str()), (Some("listing.observed"), Some("NEW"), Some("cex:okx:NEW")));
    assert_eq!((m["venue"].as_str(), m["base"].as_str(), m["quote"].as_str()), (Some("okx"), Some("NEW"), Some("USDT")));
    assert_eq!((m["instrument_id"].as_str(), m["change"].as_str(), m["status"].as_str()), (Some("NEW-USDT"), Some("new"), Some("pre_trading")));
    assert_eq!(ms(&m["scheduled_at"]), list_time);
    assert!(m["source_published_at"].is_null(), "OKX's REST list carries no publish time");
    assert!(ms(&m["first_observed_at"]) <= ms(&m["emitted_at"]));
    let raw_msgs = drain(raws.as_mut()).await;
    assert_eq!(raw_msgs.len(), 2);
    assert_eq!(m["raw_event_id"], raw_msgs[1]["meta"]["raw_id"], "observation points at its raw");
    assert_eq!(raw_msgs[1]["meta"]["http_status"], 200);
    assert_eq!(raw_msgs[1]["meta"]["run_id"], cex_common::RUN_ID);

    // Restart: a new collector over the same state sees the same list and reports nothing.
    drop(c);
    let c = h.collector();
    let r = poll(&c).await;
    assert!(r.ok() && (r.new, r.updated) == (0, 0), "{r:?}");
    assert!(h.take_observed().await.is_empty());

    // Going live is an update, never a second New.
    h.venue.set(OKX, MockResponse::json(with_rows(&base, "/data", &[okx_row("NEW", "USDT", "live", list_time)])));
    let r = poll(&c).await;
    assert_eq!((r.new, r.updated), (0, 1), "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs.len(), 1);
    assert_eq!((obs[0]["meta"]["change"].as_str(), obs[0]["meta"]["status"].as_str()), (Some("updated"), Some("trading")));
}

#[tokio::test]
async fn binance_new_symbol_after_baseline() {
    let mut h = Harness::new("binance_spot").await;
    let base = test_data("binance", "http_get_exchange_info.json");
    h.venue.set(BINANCE, MockResponse::json(base.clone()));
    let c = h.collector();
    assert_eq!(poll(&c).await.new, 0);
    let row = json!({"symbol": "ABCFDUSD", "status": "TRADING", "baseAsset": "ABC", "quoteAsset": "FDUSD", "isSpotTradingAllowed": true,
                     "filters": [], "permissions": [], "permissionSets": [["SPOT"]]});
    h.venue.set(BINANCE, MockResponse::json(with_rows(&base, "/symbols", &[row])));
    let r = poll(&c).await;
    assert!(r.ok() && r.new == 1, "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs.len(), 1);
    let m = &obs[0]["meta"];
    assert_eq!(
        (m["symbol"].as_str(), m["base"].as_str(), m["quote"].as_str(), m["venue"].as_str()),
        (Some("ABC"), Some("ABC"), Some("FDUSD"), Some("binance"))
    );
    assert_eq!(m["instrument_id"], "ABCFDUSD");
    assert!(m["scheduled_at"].is_null() && m["source_published_at"].is_null(), "exchangeInfo has no listing time");
}

#[tokio::test]
async fn gate_new_pair_keeps_scheduled_start() {
    let mut h = Harness::new("gate_pairs").await;
    let base = test_data("gate", "http_get_spot_currency_pairs.json");
    h.venue.set(GATE, MockResponse::json(base.clone()));
    let c = h.collector();
    assert_eq!(poll(&c).await.new, 0);
    let row = json!({"id": "XYZ_USDT", "base": "XYZ", "quote": "USDT", "fee": "0.2", "trade_status": "untradable",
                     "sell_start": 1_790_003_600, "buy_start": 1_790_003_600, "type": "normal"});
    h.venue.set(GATE, MockResponse::json(with_rows(&base, "", &[row])));
    // The new pair's currency is looked up to link it to a contract (see cex_currency_link.rs).
    h.venue.set("/api/v4/spot/currencies/XYZ", MockResponse::json(test_data("gate", "http_get_spot_currencies_currency.json")));
    let r = poll(&c).await;
    assert!(r.ok() && r.new == 1, "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs.len(), 1);
    let m = &obs[0]["meta"];
    assert_eq!((m["symbol"].as_str(), m["quote"].as_str(), m["venue"].as_str()), (Some("XYZ"), Some("USDT"), Some("gate")));
    assert_eq!(ms(&m["scheduled_at"]), 1_790_003_600_000);
}

#[tokio::test]
async fn rate_limited_poll_delays_the_next_request_without_a_storm() {
    let h = Harness::new("okx_spot").await;
    h.venue.push_once(OKX, MockResponse::status(429, r#"{"code":"50011","msg":"Too Many Requests"}"#).with_header("Retry-After", "2"));
    h.venue.set(OKX, MockResponse::json(test_data("okx", "http_get_public_instruments_spot.json")));
    let c = h.collector();
    let r = poll(&c).await;
    assert_eq!(r.retry_after, Some(Duration::from_secs(2)), "{r:?}");
    assert_eq!(r.raws, 1, "the 429 body is kept raw");
    assert!(h.state.load("okx_spot").await.unwrap().is_none(), "state not advanced");
    assert_eq!(h.venue.hit_count(OKX), 1, "a 429 is not retried in place");
    let counters = c.counters()["okx_spot"].clone();
    assert_eq!(counters.rate_limited.load(Ordering::Relaxed), 1);

    // The next poll (here at once; the runtime itself would wait max(interval, retry_after)) is held back by
    // the provider budget until Retry-After has passed.
    let r = poll(&c).await;
    assert!(r.ok(), "{r:?}");
    let hits = h.venue.hits(OKX);
    assert_eq!(hits.len(), 2, "exactly one more request");
    assert!(hits[1] - hits[0] >= Duration::from_secs(2), "gap {:?}", hits[1] - hits[0]);
}

#[tokio::test]
async fn truncated_body_is_kept_raw_counted_and_the_poller_keeps_going() {
    let mut h = Harness::new("okx_spot").await;
    h.cfg.get_mut("okx_spot").unwrap().interval_secs = 1;
    let good = test_data("okx", "http_get_public_instruments_spot.json");
    h.venue.push_once(OKX, MockResponse::json(&good[..good.len() / 2]));
    h.venue.set(OKX, MockResponse::json(good));
    let mut raws = h.subscribe("nl.raw.okx_spot").await;
    let collector = h.collector();
    let counters = collector.counters()["okx_spot"].clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(collector.run(async move {
        let _ = stop_rx.await;
    }));
    let state = h.state.clone();
    let recovered = wait_until(Duration::from_secs(10), || async { state.load("okx_spot").await.unwrap().is_some() }).await;
    stop_tx.send(()).unwrap();
    run.await.unwrap();
    assert!(recovered, "the poll after the bad body established the baseline");
    assert_eq!(counters.errors.load(Ordering::Relaxed), 1);
    assert!(counters.polls.load(Ordering::Relaxed) >= 2);
    let raw = drain(raws.as_mut()).await;
    assert!(raw.len() >= 2);
    let err = raw[0]["meta"]["parse_error"].as_str().unwrap();
    assert!(err.contains("okx") && err.contains("decode"), "{err}");
    assert_eq!(raw[0]["type"], "raw.captured");
    assert!(raw[1]["meta"]["parse_error"].is_null());
    assert!(h.take_observed().await.is_empty());
}

#[tokio::test]
async fn error_status_is_kept_raw_and_state_is_untouched() {
    let h = Harness::new("gate_pairs").await;
    h.venue.set(GATE, MockResponse::status(404, r#"{"label":"NOT_FOUND"}"#));
    let mut raws = h.subscribe("nl.raw.gate_pairs").await;
    let c = h.collector();
    let r = poll(&c).await;
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert!(r.errors[0].contains("HTTP 404"));
    let raw = drain(raws.as_mut()).await;
    assert_eq!(raw.len(), 1);
    assert_eq!((raw[0]["meta"]["http_status"].as_u64(), raw[0]["meta"]["payload"].as_str()), (Some(404), Some(r#"{"label":"NOT_FOUND"}"#)));
    assert!(h.state.load("gate_pairs").await.unwrap().is_none());
}

#[tokio::test]
async fn not_modified_produces_nothing() {
    let h = Harness::new("okx_spot").await;
    h.venue.set(OKX, MockResponse::json(test_data("okx", "http_get_public_instruments_spot.json")).with_header("ETag", "\"v1\""));
    let c = h.collector();
    assert_eq!(poll(&c).await.raws, 1);
    let saved = h.state.load("okx_spot").await.unwrap();
    let r = poll(&c).await;
    assert!(r.ok() && r.raws == 0 && r.new == 0, "{r:?}");
    assert_eq!(h.venue.hit_count(OKX), 2);
    assert_eq!(h.state.load("okx_spot").await.unwrap(), saved);
}

#[tokio::test]
async fn listings_during_downtime_are_reported_once_after_restart() {
    let mut h = Harness::new("okx_spot").await;
    let base = test_data("okx", "http_get_public_instruments_spot.json");
    h.venue.set(OKX, MockResponse::json(base.clone()));
    let c = h.collector();
    assert!(poll(&c).await.ok());
    drop(c); // "downtime": the process is gone, its state saved.
    let rows: Vec<Value> = ["AAA", "BBB", "CCC"].iter().map(|b| okx_row(b, "USDT", "preopen", 1_790_000_000_000)).collect();
    h.venue.set(OKX, MockResponse::json(with_rows(&base, "/data", &rows)));
    let c = h.collector();
    let r = poll(&c).await;
    assert_eq!(r.new, 3, "{r:?}");
    let mut symbols: Vec<String> = h.take_observed().await.iter().map(|o| o["symbol"].as_str().unwrap().to_string()).collect();
    symbols.sort();
    assert_eq!(symbols, ["AAA", "BBB", "CCC"]);
    let r = poll(&c).await;
    assert_eq!(r.new, 0);
    assert!(h.take_observed().await.is_empty());
}
