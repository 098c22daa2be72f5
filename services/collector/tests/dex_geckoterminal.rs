//! GeckoTerminal `new_pools` source against a loopback axum mock, over `MemoryBus`: the first poll of a
//! network (one page; only pools created within the lookback are new), paging and its stop rules, no
//! repeats across polls, quote-side selection, a 429 with `Retry-After` (the next call waits,
//! nothing is retried in a storm), `null` reserves kept as missing, unparseable pages kept raw, and
//! re-derivation from the kept raws alone giving the same observations and state.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dex_support::{Harness, WETH, meta};
use nl_adapters::Source;
use nl_adapters::dex::config::GeckoTerminalConfig;
use nl_adapters::dex::geckoterminal::client::GeckoTerminalSource;
use serde_json::{Value, json};

#[derive(Default)]
struct Gt {
    /// Pages per network (page 1 first).
    pages: HashMap<String, Vec<Vec<Value>>>,
    /// Raw bodies served instead of pages, per network.
    raw_body: HashMap<String, String>,
    /// The next N requests answer 429 with this Retry-After.
    rate_limit: Option<(u32, u64)>,
    requests: Vec<(String, u32, Instant, u16)>,
}

type Shared = Arc<Mutex<Gt>>;

async fn new_pools(State(gt): State<Shared>, Path(network): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let mut g = gt.lock().unwrap();
    assert_eq!(q.get("include").map(String::as_str), Some("base_token,quote_token,dex"));
    if let Some((n, secs)) = g.rate_limit {
        g.rate_limit = (n > 1).then_some((n - 1, secs));
        g.requests.push((network, page, Instant::now(), 429));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())], "{\"status\":\"429\"}").into_response();
    }
    g.requests.push((network.clone(), page, Instant::now(), 200));
    if let Some(body) = g.raw_body.get(&network) {
        return body.clone().into_response();
    }
    let pools = g.pages.get(&network).and_then(|p| p.get(page as usize - 1)).cloned().unwrap_or_default();
    let mut included = Vec::new();
    for p in &pools {
        for rel in ["base_token", "quote_token"] {
            let id = p["relationships"][rel]["data"]["id"].as_str().unwrap().to_string();
            let address = id.rsplit_once('_').unwrap().1.to_string();
            included.push(json!({"id": id, "type": "token", "attributes": {"address": address, "name": format!("Token {address}"), "symbol": if address == WETH { "WETH".to_string() } else { format!("T{}", &address[address.len() - 4..]) }, "decimals": 18}}));
        }
    }
    axum::Json(json!({"data": pools, "included": included})).into_response()
}

async fn start(gt: Shared) -> String {
    let app = axum::Router::new().route("/networks/{network}/new_pools", get(new_pools)).with_state(gt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn evm(i: u64) -> String {
    format!("0x{i:040x}")
}

/// When the test's pools were created: a minute before the test started, within the default lookback.
static CREATED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));

/// A pool created a day before [`CREATED`]: older than the first poll's lookback.
fn old_pool(network: &str, address: &str, base: &str) -> Value {
    let mut p = pool(network, address, base, WETH, json!("100"));
    p["attributes"]["pool_created_at"] = json!("2026-10-07T19:24:46Z");
    p
}

fn pool(network: &str, pool: &str, base: &str, quote: &str, reserve: Value) -> Value {
    json!({
        "id": format!("{network}_{pool}"), "type": "pool",
        "attributes": {"address": pool, "name": "X / Y", "pool_created_at": *CREATED,
            "base_token_price_usd": "0.5", "fdv_usd": "1000", "market_cap_usd": null, "reserve_in_usd": reserve,
            "volume_usd": {"h24": "10"}},
        "relationships": {
            "base_token": {"data": {"id": format!("{network}_{base}"), "type": "token"}},
            "quote_token": {"data": {"id": format!("{network}_{quote}"), "type": "token"}},
            "dex": {"data": {"id": "uniswap_v2", "type": "dex"}}}
    })
}

fn source(url: &str, networks: &[&str], max_pages: u32) -> Arc<dyn Source> {
    let cfg = GeckoTerminalConfig {
        base_url: url.to_string(),
        networks: networks.iter().map(ToString::to_string).collect(),
        max_pages,
        calls_per_min: 6_000.0,
        ..GeckoTerminalConfig::default()
    };
    Arc::new(GeckoTerminalSource::from_config(&cfg, "nl_20260101_000000Z_deadbeef", &|_| None).unwrap())
}

#[tokio::test]
async fn first_poll_reports_only_recent_pools_then_pages_until_known() {
    let gt: Shared = Arc::default();
    // First poll: one page, whatever max_pages; the day-old pool is recorded as known, the recent one is new.
    let first = vec![pool("eth", &evm(0x1001), &evm(0x2001), WETH, json!("100")), old_pool("eth", &evm(0x1002), &evm(0x2002))];
    gt.lock().unwrap().pages.insert("eth".into(), vec![first.clone(), vec![pool("eth", &evm(0x1003), &evm(0x2003), WETH, json!("1"))]]);
    let url = start(Arc::clone(&gt)).await;
    let h = Harness::new();
    let src = source(&url, &["eth"], 2);
    assert!(h.poll(Arc::clone(&src)).await.ok());
    assert_eq!(gt.lock().unwrap().requests.len(), 1, "the first poll of a network reads one page");
    let obs = h.bus.observed();
    assert_eq!(obs.iter().map(|e| meta(e)["instrument_id"].clone()).collect::<Vec<_>>(), [json!(evm(0x1001))], "only the recent pool is new");

    // Afterwards every unknown pool is new, whatever its age (downtime backfill), and paging goes on.
    let mut page1: Vec<Value> = (4..=19).map(|i| pool("eth", &evm(0x1000 + i), &evm(0x2000 + i), WETH, json!("100"))).collect();
    page1.push(old_pool("eth", &evm(0x1020), &evm(0x2020)));
    // A new pool of the token the first poll met in an old pool: that token is known, not listed anew.
    page1.push(pool("eth", &evm(0x1500), &evm(0x2002), WETH, json!("100")));
    page1.extend(first);
    let mut page2: Vec<Value> = (21..=24).map(|i| pool("eth", &evm(0x1000 + i), &evm(0x2000 + i), WETH, json!("100"))).collect();
    // WETH is the aggregator's base here: the observed asset must be the other side.
    page2.push(pool("eth", &evm(0x1999), WETH, &evm(0x2999), json!("5")));
    gt.lock().unwrap().pages.insert("eth".into(), vec![page1.clone(), page2, vec![pool("eth", &evm(0x1fff), &evm(0x2fff), WETH, json!("1"))]]);
    let report = h.poll(Arc::clone(&src)).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(gt.lock().unwrap().requests.len(), 3, "max_pages = 2");
    let obs = h.bus.observed();
    assert_eq!(obs.len(), 1 + 17 + 5, "every unknown pool, the day-old one included; the known ones not again");
    assert!(!obs.iter().any(|e| meta(e)["asset_id"] == format!("eth:{}", evm(0x2002))), "no new pool of a known token is a listing");
    let swapped = obs.iter().find(|e| meta(e)["instrument_id"] == evm(0x1999)).unwrap();
    assert_eq!(meta(swapped)["asset_id"], format!("eth:{}", evm(0x2999)));
    assert_eq!(meta(swapped)["details"]["snapshot"]["price_usd"], Value::Null, "base price does not apply after the swap");

    // Nothing new: page 1 is fully known, so paging stops after one request and nothing is re-reported.
    assert!(h.poll(Arc::clone(&src)).await.ok());
    assert_eq!(gt.lock().unwrap().requests.len(), 4);
    assert_eq!(h.bus.observed().len(), 23);

    // Two new pools on page 1 (a restart in between: a new source instance, same state).
    let mut fresh = vec![pool("eth", &evm(0x1a01), &evm(0x2a01), WETH, json!("7")), pool("eth", &evm(0x1a02), &evm(0x2a02), WETH, json!("7"))];
    fresh.extend(page1.into_iter().take(18));
    gt.lock().unwrap().pages.get_mut("eth").unwrap()[0] = fresh;
    assert!(h.poll(source(&url, &["eth"], 2)).await.ok());
    assert_eq!(h.bus.observed().len(), 25);
    let ids: std::collections::HashSet<String> = h.bus.observed().iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 25);
}

#[tokio::test]
async fn rate_limit_delays_the_next_call_without_a_storm() {
    let gt: Shared = Arc::default();
    gt.lock().unwrap().pages.insert("eth".into(), vec![vec![pool("eth", &evm(1), &evm(2), WETH, json!("1"))]]);
    gt.lock().unwrap().rate_limit = Some((1, 1));
    let url = start(Arc::clone(&gt)).await;
    let h = Harness::new();
    let src = source(&url, &["eth", "base", "bsc"], 2);

    let report = h.poll(Arc::clone(&src)).await;
    assert_eq!(report.retry_after, Some(Duration::from_secs(1)), "{report:?}");
    assert_eq!(gt.lock().unwrap().requests.len(), 1, "no retry and no other network after a 429");
    let raws = h.bus.raws("geckoterminal");
    assert_eq!(raws.len(), 1, "the 429 body is kept");
    assert!(raws[0]["meta"]["parse_error"].as_str().unwrap().contains("rate limited"));

    assert!(h.poll(Arc::clone(&src)).await.ok());
    let reqs = gt.lock().unwrap().requests.clone();
    assert_eq!(reqs[1].3, 200);
    let waited = reqs[1].2 - reqs[0].2;
    assert!(waited >= Duration::from_millis(950), "the next call waited out Retry-After: {waited:?}");
    assert_eq!(h.bus.observed().len(), 1);
}

#[tokio::test]
async fn null_reserve_is_missing_and_bad_pages_are_kept_raw() {
    let gt: Shared = Arc::default();
    gt.lock()
        .unwrap()
        .pages
        .insert("eth".into(), vec![vec![pool("eth", &evm(0x10), &evm(0x20), WETH, Value::Null), pool("eth", &evm(0x11), &evm(0x21), WETH, json!("12.5"))]]);
    gt.lock().unwrap().raw_body.insert("bsc".into(), "{\"data\": [".into());
    let url = start(Arc::clone(&gt)).await;
    let h = Harness::new();
    let report = h.poll(source(&url, &["eth", "bsc"], 1)).await;
    assert_eq!(report.errors.len(), 1, "{report:?}");

    let obs = h.bus.observed();
    let null_one = obs.iter().find(|e| meta(e)["instrument_id"] == evm(0x10)).unwrap();
    assert_eq!(meta(null_one)["details"]["snapshot"]["liquidity_usd"], Value::Null);
    assert_eq!(meta(null_one)["details"]["snapshot"]["market_cap_usd"], Value::Null);
    let other = obs.iter().find(|e| meta(e)["instrument_id"] == evm(0x11)).unwrap();
    assert_eq!(meta(other)["details"]["snapshot"]["liquidity_usd"], "12.5");
    assert_eq!(meta(other)["source_published_at"], *CREATED);
    assert_eq!(meta(other)["symbol"], "T0021");

    let raws = h.bus.raws("geckoterminal");
    assert_eq!(raws.len(), 2);
    let bad = raws.iter().find(|r| r["meta"]["payload"] == "{\"data\": [").unwrap();
    assert!(bad["meta"]["parse_error"].as_str().unwrap().contains("invalid GeckoTerminal document"));
}

#[tokio::test]
async fn rederive_from_the_kept_raws_gives_the_same_observations_and_state() {
    let gt: Shared = Arc::default();
    let page1: Vec<Value> = (1..=3).map(|i| pool("eth", &evm(0x1000 + i), &evm(0x2000 + i), WETH, json!("100"))).collect();
    gt.lock().unwrap().pages.insert("eth".into(), vec![page1.clone(), vec![pool("eth", &evm(0x1999), WETH, &evm(0x2999), json!("5"))]]);
    let url = start(Arc::clone(&gt)).await;
    let h = Harness::new();
    let src = source(&url, &["eth", "base"], 2);
    assert!(h.poll(Arc::clone(&src)).await.ok());
    let mut fresh = vec![pool("eth", &evm(0x1a01), &evm(0x2a01), WETH, json!("7"))];
    fresh.extend(page1);
    gt.lock().unwrap().pages.get_mut("eth").unwrap()[0] = fresh;
    assert!(h.poll(Arc::clone(&src)).await.ok());
    assert_eq!(h.bus.observed().len(), 5);

    // The kept raws alone (the venue is not asked again): same observations, same event ids, same state.
    let name = src.name().to_string();
    let mut raws: Vec<nl_domain::RawEvent> = h.bus.raws(&name).iter().map(|e| serde_json::from_value(meta(e).clone()).unwrap()).collect();
    // Receive order; two responses stamped the same instant keep their publish order (a stable sort), as
    // the source processed them: a tie broken by raw id could swap two pages and reorder the seen list.
    raws.sort_by_key(|r| r.observed_at);
    let requests = gt.lock().unwrap().requests.len();
    assert_eq!(raws.len(), requests, "every response was kept");
    let mut state = None;
    let mut envs = Vec::new();
    for raw in &raws {
        let out = src.rederive(state.as_ref(), raw, &nl_adapters::kit::RecordedQueues::default()).expect("GeckoTerminal re-derives from raw");
        state = out.next_state.or(state);
        envs.extend(out.observations.iter().map(|o| serde_json::to_value(o.to_envelope("r", "c")).unwrap()));
    }
    assert_eq!(gt.lock().unwrap().requests.len(), requests, "no request made");
    let key = |e: &Value| (e["event_id"].as_str().unwrap().to_string(), meta(e).to_string());
    let mut want: Vec<_> = h.bus.observed().iter().map(key).collect();
    let mut got: Vec<_> = envs.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(state, h.state_of(&name).await);

    // The state carried in its own type from page to page (as `nl rederive` does): the same again.
    let mut carried = nl_adapters::CarriedState::default();
    let mut carried_envs = Vec::new();
    for raw in &raws {
        let out = src.rederive_carried(&mut carried, raw, &nl_adapters::kit::RecordedQueues::default()).expect("GeckoTerminal re-derives from raw");
        assert!(out.next_state.is_none(), "the state is carried, not returned");
        carried_envs.extend(out.observations.iter().map(|o| serde_json::to_value(o.to_envelope("r", "c")).unwrap()));
    }
    let mut got: Vec<_> = carried_envs.iter().map(key).collect();
    got.sort();
    assert_eq!(got, want);
    let typed = carried.get::<nl_adapters::dex::geckoterminal::client::GeckoTerminalState>().expect("carried as the typed state");
    assert_eq!(Some(serde_json::to_value(typed).unwrap()), state);
}
