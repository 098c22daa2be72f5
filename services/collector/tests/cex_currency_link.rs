//! Tier (b): a new KuCoin/Gate listing is linked to its contract through the venue's currency endpoint
//! (served by the mock venue), every currency response is kept raw, and a failed lookup leaves the
//! listing as `cex:<venue>:<BASE>`. Re-deriving from the kept raws alone re-applies the links: the currency
//! responses answer the lookups and are not re-derived as instrument lists.
#![allow(clippy::unwrap_used)]

use crate::cex_common;

use cex_common::{Harness, drain, test_data};
use nl_adapters::cex::config::build_sources_for_run;
use nl_testkit::cex_venue::MockResponse;
use nl_adapters::kit::RecordedQueues;
use nl_adapters::kit::{BudgetConfig, BudgetRegistry};
use nl_collector::PollReport;
use nl_domain::RawEvent;
use serde_json::Value;

const KUCOIN_SYMBOLS: &str = "/api/v2/symbols";
const KUCOIN_NEW: &str = "/api/v3/currencies/NEW";
const GATE_PAIRS: &str = "/api/v4/spot/currency_pairs";
const GATE_NEW: &str = "/api/v4/spot/currencies/NEW";

/// `body` with only the first element of the array at `pointer` ("" = root): the baseline before `NEW`.
fn first_row_only(body: &str, pointer: &str) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    let rows = if pointer.is_empty() { &mut v } else { v.pointer_mut(pointer).unwrap() };
    rows.as_array_mut().unwrap().truncate(1);
    v.to_string()
}

async fn harness(source: &str) -> Harness {
    let mut h = Harness::new(source).await;
    let c = h.cfg.get_mut(source).unwrap();
    (c.rate_per_sec, c.burst) = (1_000.0, 1_000.0);
    h
}

async fn poll(h: &Harness) -> PollReport {
    let mut reports = h.collector().poll_all_once(chrono::Utc::now()).await;
    reports.remove(0)
}

#[tokio::test]
async fn kucoin_new_listing_is_linked_to_its_erc20_contract() {
    let mut h = harness("kucoin_symbols").await;
    let symbols = test_data("kucoin", "http_get_v2_symbols.json");
    h.venue.set(KUCOIN_SYMBOLS, MockResponse::json(first_row_only(&symbols, "/data")));
    h.venue.set(KUCOIN_NEW, MockResponse::json(test_data("kucoin", "http_get_v3_currencies_currency.json")));
    let mut raws = h.subscribe("nl.raw.kucoin_symbols").await;
    assert!(poll(&h).await.ok());
    assert_eq!(h.venue.hit_count(KUCOIN_NEW), 0, "the baseline looks nothing up");

    h.venue.set(KUCOIN_SYMBOLS, MockResponse::json(symbols));
    let r = poll(&h).await;
    assert!(r.ok() && r.new == 1, "{r:?}");
    assert_eq!(h.venue.hit_count(KUCOIN_NEW), 1);
    let obs = h.take_observed().await;
    let m = &obs[0]["meta"];
    assert_eq!(obs[0]["asset_id"], "cex:kucoin:NEW", "the observation keeps what the venue listed");
    assert_eq!((m["details"]["chain"].as_str(), m["details"]["contract_address"].as_str()), (Some("eth"), Some("0xa6446d655a0c34bc4f05042ee88170d056cbaf45")));
    assert_eq!(m["details"]["contract_links"].as_array().unwrap().len(), 1, "tron and the contract-less sol chain are ignored");

    let raw_msgs = drain(raws.as_mut()).await;
    let currency_raw = raw_msgs.iter().find(|r| r["meta"]["endpoint"].as_str().unwrap().ends_with(KUCOIN_NEW)).expect("currency response kept raw");
    assert_eq!(m["details"]["currency_raw_event_id"], currency_raw["meta"]["raw_id"]);
    assert!(currency_raw["meta"]["parse_error"].is_null());
}

#[tokio::test]
async fn gate_rate_limited_lookup_leaves_the_listing_unlinked_and_keeps_the_raw() {
    let mut h = harness("gate_pairs").await;
    let pairs = test_data("gate", "http_get_spot_currency_pairs.json");
    h.venue.set(GATE_PAIRS, MockResponse::json(first_row_only(&pairs, "")));
    let mut raws = h.subscribe("nl.raw.gate_pairs").await;
    assert!(poll(&h).await.ok());

    h.venue.set(GATE_PAIRS, MockResponse::json(pairs));
    h.venue
        .set(GATE_NEW, MockResponse::status(429, r#"{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}"#).with_header("retry-after", "1"));
    let r = poll(&h).await;
    assert_eq!(r.new, 1, "{r:?}");
    assert!(r.retry_after.is_some() && r.errors.len() == 1, "the failed lookup is a poll error: {r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs[0]["asset_id"], "cex:gate:NEW");
    assert!(obs[0]["meta"]["details"].get("chain").is_none());
    let raw_msgs = drain(raws.as_mut()).await;
    assert!(raw_msgs.iter().any(|r| r["meta"]["http_status"] == 429), "the 429 body is kept raw");
}

#[tokio::test]
async fn gate_unparseable_currency_is_kept_raw_with_its_error() {
    let mut h = harness("gate_pairs").await;
    let pairs = test_data("gate", "http_get_spot_currency_pairs.json");
    h.venue.set(GATE_PAIRS, MockResponse::json(first_row_only(&pairs, "")));
    let mut raws = h.subscribe("nl.raw.gate_pairs").await;
    assert!(poll(&h).await.ok());
    h.venue.set(GATE_PAIRS, MockResponse::json(pairs));
    h.venue.set(GATE_NEW, MockResponse::json(r#"{"currency":"NEW","chains":"#));
    let r = poll(&h).await;
    assert_eq!((r.new, r.errors.len()), (1, 1), "{r:?}");
    assert!(h.take_observed().await[0]["meta"]["details"].get("chain").is_none());
    let raw_msgs = drain(raws.as_mut()).await;
    let bad = raw_msgs.iter().find(|r| r["meta"]["endpoint"].as_str().unwrap().ends_with(GATE_NEW)).unwrap();
    assert!(bad["meta"]["parse_error"].as_str().unwrap().contains("gate: cannot decode currency"));
}

#[tokio::test]
async fn lookups_can_be_turned_off_and_are_rejected_where_unsupported() {
    let mut h = harness("gate_pairs").await;
    h.cfg.get_mut("gate_pairs").unwrap().max_currency_lookups = Some(0);
    let pairs = test_data("gate", "http_get_spot_currency_pairs.json");
    h.venue.set(GATE_PAIRS, MockResponse::json(first_row_only(&pairs, "")));
    assert!(poll(&h).await.ok());
    h.venue.set(GATE_PAIRS, MockResponse::json(pairs));
    let r = poll(&h).await;
    assert!(r.ok() && r.new == 1, "{r:?}");
    assert_eq!(h.venue.hit_count(GATE_NEW), 0);

    let mut cfg = nl_adapters::cex::config::SourcesConfig::defaults().only(&["okx_spot"]);
    cfg.get_mut("okx_spot").unwrap().max_currency_lookups = Some(3);
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1.0, 1.0)).unwrap();
    let err = build_sources_for_run(&cfg, &budgets, &|_| None, "run").err().unwrap();
    assert!(err.to_string().contains("max_currency_lookups"), "{err}");
}

#[tokio::test]
async fn rederiving_from_the_kept_raws_relinks_with_the_same_bound_and_order() {
    let mut h = harness("gate_pairs").await;
    h.cfg.get_mut("gate_pairs").unwrap().max_currency_lookups = Some(1);
    let pairs = test_data("gate", "http_get_spot_currency_pairs.json");
    h.venue.set(GATE_PAIRS, MockResponse::json(first_row_only(&pairs, "")));
    let mut raws = h.subscribe("nl.raw.gate_pairs").await;
    assert!(poll(&h).await.ok());
    // Two new bases, one lookup per poll: NEW (first in the list) is linked, the other stays unlinked.
    let mut v: Value = serde_json::from_str(&pairs).unwrap();
    let mut other = v[1].clone();
    other["id"] = "OTHER_USDT".into();
    other["base"] = "OTHER".into();
    v.as_array_mut().unwrap().push(other);
    h.venue.set(GATE_PAIRS, MockResponse::json(v.to_string()));
    h.venue.set(GATE_NEW, MockResponse::json(test_data("gate", "http_get_spot_currencies_currency.json")));
    let r = poll(&h).await;
    assert!(r.ok() && r.new == 2, "{r:?}");
    let live = h.take_observed().await;
    let linked: Vec<&str> = live.iter().filter(|e| e["meta"]["details"].get("chain").is_some()).map(|e| e["asset_id"].as_str().unwrap()).collect();
    assert_eq!(linked, ["cex:gate:NEW"], "{live:?}");

    let mut kept: Vec<RawEvent> = drain(raws.as_mut()).await.iter().map(|e| serde_json::from_value(e["meta"].clone()).unwrap()).collect();
    kept.sort_by(|a, b| (a.observed_at, &a.raw_id).cmp(&(b.observed_at, &b.raw_id)));
    assert_eq!(kept.len(), 3, "two lists and one currency response");
    let budgets = BudgetRegistry::new(h.cfg.budget_configs().unwrap(), BudgetConfig::new(1.0, 1.0)).unwrap();
    let src = build_sources_for_run(&h.cfg, &budgets, &|_| None, "rederive").unwrap().remove(0);
    let lookups: RecordedQueues = kept.iter().filter_map(|r| Some((r.source.clone(), src.lookup_path(r)?, r.clone()))).collect();
    assert_eq!(lookups.unused(), 1, "the currency response is a lookup answer");
    let (mut state, mut got) = (None, Vec::new());
    for raw in kept.iter().filter(|r| src.lookup_path(r).is_none()) {
        let out = src.rederive(state.as_ref(), raw, &lookups).expect("instrument lists re-derive");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        state = out.next_state.or(state);
        got.extend(out.observations.iter().map(|o| serde_json::to_value(o.to_envelope(cex_common::RUN_ID, "test")).unwrap()));
    }
    assert_eq!(lookups.unused(), 0, "the recorded answer was asked for");
    let key = |e: &Value| (e["event_id"].as_str().unwrap().to_string(), e["meta"].to_string());
    let (mut want, mut got): (Vec<_>, Vec<_>) = (live.iter().map(key).collect(), got.iter().map(key).collect());
    want.sort();
    got.sort();
    assert_eq!(got, want, "same observations, links included");
    assert_eq!(h.venue.hit_count(GATE_NEW), 1, "no request made");
}
