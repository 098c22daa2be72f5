//! End-to-end, the real `nl` binary: three `nl run-cycle`s against a scripted loopback venue (Binance's
//! instrument list and new-listings feed, GeckoTerminal `new_pools`, in their recorded shapes), every other
//! source disabled through env overrides (issue #15's acceptance test).
//!
//! 1. a baseline;
//! 2. new listings, plus a status flap, a vanish, a new quote pair for an old base, a delisting title, a
//!    multi-coin title, a 429 with `Retry-After: 2` and a truncated DEX page (both retried in the cycle);
//! 3. the vanished instrument re-appears and the flapped one trades again.
//!
//! Discovered equals the new listings, each exactly once; delisted equals the delisting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;

use nl_testkit::cex_venue::{MockResponse, MockVenue};
use serde_json::{Value, json};
use support::nl_output as nl;
use support::{stderr, stdout};

const EXCHANGE_INFO: &str = include_str!("../shared/adapters/src/cex/binance/test_data/http_get_exchange_info.json");
const ARTICLES: &str = include_str!("../shared/adapters/src/cex/binance/test_data/http_get_cms_article_list.json");
const NEW_POOLS: &str = include_str!("../shared/adapters/src/dex/geckoterminal/test_data/http_get_new_pools.json");
const SPOT: &str = "/api/v3/exchangeInfo";
const CMS: &str = "/bapi/composite/v1/public/cms/article/list/query";
const POOLS: &str = "/networks/solana/new_pools";
/// A token of the recorded page's first pool's shape that no earlier poll saw.
const NEW_MINT: &str = "Nw5ZKz9aNn8b3E1cBkXgUaoX1NEwMint111111111111";

fn exchange_info(rows: &[(&str, &str, &str, &str)]) -> String {
    let mut v: Value = serde_json::from_str(EXCHANGE_INFO).unwrap();
    let template = v["symbols"][0].clone();
    v["symbols"] = rows
        .iter()
        .map(|(symbol, base, quote, status)| {
            let mut r = template.clone();
            (r["symbol"], r["baseAsset"], r["quoteAsset"], r["status"]) = (json!(symbol), json!(base), json!(quote), json!(status));
            r
        })
        .collect();
    v.to_string()
}

fn articles(fresh: &[(&str, &str)]) -> String {
    let mut v: Value = serde_json::from_str(ARTICLES).unwrap();
    let list = v.pointer_mut("/data/catalogs/0/articles").unwrap().as_array_mut().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for (i, (code, title)) in fresh.iter().enumerate() {
        list.insert(i, json!({"id": 400_000 + i, "code": code, "title": title, "type": 1, "releaseDate": now}));
    }
    v.to_string()
}

/// The recorded page's first pool (months old); with `new_pool`, also a pool of [`NEW_MINT`] of that shape.
fn pools(new_pool: bool) -> String {
    let mut v: Value = serde_json::from_str(NEW_POOLS).unwrap();
    let first = v["data"][0].clone();
    v["data"] = json!([first.clone()]);
    if new_pool {
        let mut p = first;
        p["id"] = json!("solana_PooLnew1111111111111111111111111111111");
        p["attributes"]["address"] = json!("PooLnew1111111111111111111111111111111");
        p["relationships"]["base_token"]["data"]["id"] = json!(format!("solana_{NEW_MINT}"));
        v["data"].as_array_mut().unwrap().insert(0, p);
        let mut token = v["included"][0].clone();
        token["id"] = json!(format!("solana_{NEW_MINT}"));
        token["attributes"]["address"] = json!(NEW_MINT);
        token["attributes"]["symbol"] = json!("NWMT");
        v["included"].as_array_mut().unwrap().push(token);
    }
    v.to_string()
}

fn env(url: &str) -> Vec<(String, String)> {
    let mut env = support::sim_env(url, &["binance_spot", "binance_announcements"]);
    env.extend([
        ("NL_DEX__GECKOTERMINAL__NETWORKS".to_string(), "[\"solana\"]".to_string()),
        ("NL_DEX__DEXSCREENER__PROFILES".to_string(), "false".to_string()),
    ]);
    env
}

async fn events_of(db: &Path, kind: &str) -> Vec<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.unwrap();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT asset_id FROM events WHERE type = ?1 ORDER BY asset_id").bind(kind).fetch_all(reader.pool()).await.unwrap();
    reader.pool().close().await;
    rows
}

fn manifest_sources(out: &Path, stdout: &str) -> Vec<Value> {
    let run = support::field(stdout, "run ");
    let m: Value = serde_json::from_slice(&std::fs::read(out.join("runs").join(run).join("manifest.json")).unwrap()).unwrap();
    m["summary"]["sources"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_cycles_discover_exactly_the_new_listings_and_the_delisting() {
    let venue = MockVenue::start().await.unwrap();
    let env = env(&venue.base_url());
    let tmp = tempfile::tempdir().unwrap();
    let (out, db) = (tmp.path(), tmp.path().join("new_listings.sqlite"));

    // 1. Baseline.
    let baseline = [("ETHBTC", "ETH", "BTC", "TRADING"), ("TONUSDT", "TON", "USDT", "TRADING"), ("FLAPUSDT", "FLAP", "USDT", "TRADING"), ("GONEUSDT", "GONE", "USDT", "TRADING")];
    venue.set(SPOT, MockResponse::json(exchange_info(&baseline)));
    venue.set(CMS, MockResponse::json(articles(&[])));
    venue.set(POOLS, MockResponse::json(pools(false)));
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(events_of(&db, "asset.discovered").await.is_empty(), "the baseline discovers nothing");

    // 2. New listings and everything that is not one; a 429 (Retry-After: 2) and a truncated page first.
    let cycle2 = [
        ("ETHBTC", "ETH", "BTC", "TRADING"),
        ("TONUSDT", "TON", "USDT", "TRADING"),
        ("TONUSDC", "TON", "USDC", "TRADING"),
        ("FLAPUSDT", "FLAP", "USDT", "BREAK"),
        ("NEWUSDT", "NEW", "USDT", "TRADING"),
    ];
    venue.set(SPOT, MockResponse::json(exchange_info(&cycle2)));
    venue.push_once(SPOT, MockResponse::status(429, "{\"code\":-1003,\"msg\":\"Too many requests\"}").with_header("retry-after", "2"));
    let feed = articles(&[("e2e-delist", "Binance Will Delist GONE on 2026-12-31"), ("e2e-two", "Binance Will List Amp (AMP) and PlayDapp (PLA)")]);
    venue.set(CMS, MockResponse::json(feed));
    venue.set(POOLS, MockResponse::json(pools(true)));
    venue.push_once(POOLS, MockResponse::json("{\"data\": [{\"id\": \"solana_Poo"));
    let o = nl(out, &env, &["run-cycle"]).await;
    let s2 = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "the 429 and the truncated page are retried within the cycle\n{s2}\n{}", stderr(&o));
    let sources = manifest_sources(out, &s2);
    let retried = |name: &str| sources.iter().find(|s| s["source"] == name).map(|s| s["retried"].as_array().unwrap().len()).unwrap();
    assert_eq!((retried("binance_spot"), retried("geckoterminal")), (1, 1), "{sources:?}");
    assert_eq!(venue.hit_count(SPOT), 3, "baseline, the 429, one retry: no storm");

    // 3. GONE re-appears (its delisting stands: the announcement said so), FLAP trades again.
    let mut cycle3 = cycle2.to_vec();
    cycle3[3].3 = "TRADING";
    cycle3.push(("GONEUSDT", "GONE", "USDT", "TRADING"));
    venue.set(SPOT, MockResponse::json(exchange_info(&cycle3)));
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    // Every discovered asset reached a decision: the Binance listings have no market data (no ticker, no
    // pool), so they are rejected with NO_MARKET_DATA rather than left undecided.
    assert_eq!(support::field(&stdout(&o), "undecided assets: "), "0", "{}", stdout(&o));
    let binance = support::latest_reasons(&db, "cex:binance:AMP").await;
    assert_eq!(binance.first().map(String::as_str), Some("NO_MARKET_DATA"), "{binance:?}");

    let discovered = events_of(&db, "asset.discovered").await;
    let want = ["cex:binance:AMP".to_string(), "cex:binance:NEW".into(), "cex:binance:PLA".into(), format!("solana:{NEW_MINT}")];
    assert_eq!(discovered, want, "discovered = the new listings, each exactly once");
    assert_eq!(events_of(&db, "asset.delisted").await, ["cex:binance:GONE"], "delisted = the delisting");
    let raws_with_errors: BTreeSet<String> = {
        let reader = nl_ledger::SqliteReader::open(&db, 1).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar("SELECT source FROM raw_events WHERE parse_error IS NOT NULL").fetch_all(reader.pool()).await.unwrap();
        reader.pool().close().await;
        rows.into_iter().collect()
    };
    assert!(raws_with_errors.contains("binance_spot") && raws_with_errors.contains("geckoterminal"), "failed responses kept: {raws_with_errors:?}");
}
