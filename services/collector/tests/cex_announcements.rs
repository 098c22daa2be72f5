//! Tier (b): announcement poll sources (Binance CMS, OKX) over `MemoryBus` against a mock venue.
#![allow(clippy::unwrap_used)]

use crate::cex_common;

use cex_common::{Harness, ms, test_data};
use nl_testkit::cex_venue::MockResponse;
use nl_collector::{Collector, PollReport, StateStore};
use serde_json::{Value, json};

const CMS: &str = "/bapi/composite/v1/public/cms/article/list/query";
const OKX: &str = "/api/v5/support/announcements";

async fn poll(c: &Collector) -> PollReport {
    c.poll_all_once(chrono::Utc::now()).await.remove(0)
}

fn now_ms(minus_secs: i64) -> i64 {
    chrono::Utc::now().timestamp_millis() - minus_secs * 1000
}

/// The recorded CMS page with `articles` put first (newest first, as the venue lists them).
fn cms_with(articles: &[Value]) -> String {
    let mut v: Value = serde_json::from_str(&test_data("binance", "http_get_cms_article_list.json")).unwrap();
    let list = v.pointer_mut("/data/catalogs/0/articles").unwrap().as_array_mut().unwrap();
    for (i, a) in articles.iter().enumerate() {
        list.insert(i, a.clone());
    }
    v.to_string()
}

fn symbols(obs: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = obs.iter().map(|o| o["symbol"].as_str().unwrap().to_string()).collect();
    s.sort();
    s
}

#[tokio::test]
async fn binance_cms_first_run_reports_recent_multi_coin_once_and_restart_never_realerts() {
    let mut h = Harness::new("binance_announcements").await;
    let released = now_ms(60);
    let recent = json!({"id": 300001, "code": "aaa111", "title": "Binance Will List Amp (AMP) and PlayDapp (PLA)", "type": 1, "releaseDate": released});
    h.venue.set(CMS, MockResponse::json(cms_with(&[recent])));

    let c = h.collector();
    let r = poll(&c).await;
    assert!(r.ok(), "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(symbols(&obs), ["AMP", "PLA"], "one observation per coin; the 2025 articles are outside the lookback");
    let m = &obs[0]["meta"];
    assert_eq!((m["venue"].as_str(), m["kind"].as_str(), m["change"].as_str()), (Some("binance"), Some("cex_announcement"), Some("new")));
    assert_eq!(ms(&m["source_published_at"]), released);
    assert_eq!(m["details"]["url"], "https://www.binance.com/en/support/announcement/aaa111");
    assert!(m["raw_event_id"].is_string());

    // Same page again, then after a restart: nothing.
    assert!(poll(&c).await.ok());
    assert!(h.take_observed().await.is_empty());
    drop(c);
    let c = h.collector();
    assert!(poll(&c).await.ok());
    assert!(h.take_observed().await.is_empty(), "restart never re-alerts");

    // A new article is reported exactly once.
    let newer = json!({"id": 300002, "code": "bbb222", "title": "Binance Will List Gnosis (GNO) with Seed Tag Applied", "type": 1, "releaseDate": now_ms(5)});
    let recent = json!({"id": 300001, "code": "aaa111", "title": "Binance Will List Amp (AMP) and PlayDapp (PLA)", "type": 1, "releaseDate": released});
    h.venue.set(CMS, MockResponse::json(cms_with(&[newer, recent])));
    let r = poll(&c).await;
    assert_eq!(r.new, 1, "{r:?}");
    assert!(poll(&c).await.new == 0);
    let obs = h.take_observed().await;
    assert_eq!(symbols(&obs), ["GNO"]);
}

#[tokio::test]
async fn okx_baseline_is_silent_then_new_listing_is_reported() {
    let mut h = Harness::new("okx_announcements").await;
    let recorded = test_data("okx", "http_get_support_announcements.json");
    h.venue.set(OKX, MockResponse::json(recorded.clone()));
    let c = h.collector();
    assert!(poll(&c).await.ok());
    assert!(h.take_observed().await.is_empty(), "recorded articles are old: baseline only");
    assert!(h.state.load("okx_announcements").await.unwrap().is_some());

    let p_time = now_ms(30);
    let mut v: Value = serde_json::from_str(&recorded).unwrap();
    let item = json!({"annType": "announcements-new-listings", "title": "OKX to list Virtuals Protocol (VIRTUAL) for spot trading",
                      "url": "https://www.okx.com/help/okx-to-list-virtuals-protocol-virtual-for-spot-trading",
                      "pTime": p_time.to_string(), "businessPTime": p_time.to_string()});
    v.pointer_mut("/data/0/details").unwrap().as_array_mut().unwrap().insert(0, item);
    h.venue.set(OKX, MockResponse::json(v.to_string()));
    let r = poll(&c).await;
    assert_eq!(r.new, 1, "{r:?}");
    let obs = h.take_observed().await;
    assert_eq!(obs.len(), 1);
    let m = &obs[0]["meta"];
    assert_eq!((m["symbol"].as_str(), m["name"].as_str(), m["venue"].as_str()), (Some("VIRTUAL"), Some("Virtuals Protocol"), Some("okx")));
    assert_eq!(ms(&m["source_published_at"]), p_time);
    drop(c);
    let c = h.collector();
    assert_eq!(poll(&c).await.new, 0);
    assert!(h.take_observed().await.is_empty());
}

#[tokio::test]
async fn venue_error_envelope_is_a_parse_error_and_keeps_the_cursor() {
    let mut h = Harness::new("okx_announcements").await;
    h.venue.set(OKX, MockResponse::json(test_data("okx", "http_get_support_announcements.json")));
    let c = h.collector();
    assert!(poll(&c).await.ok());
    let saved = h.state.load("okx_announcements").await.unwrap();
    h.venue.set(OKX, MockResponse::json(r#"{"code":"50001","msg":"Service temporarily unavailable","data":[]}"#));
    let r = poll(&c).await;
    assert_eq!(r.errors.len(), 1, "{r:?}");
    assert!(r.errors[0].contains("50001"), "{r:?}");
    assert_eq!(h.state.load("okx_announcements").await.unwrap(), saved);
    assert!(h.take_observed().await.is_empty());
}

/// A CMS page holding only `articles` (newest first).
fn cms_only(articles: &[Value]) -> String {
    let mut v: Value = serde_json::from_str(&test_data("binance", "http_get_cms_article_list.json")).unwrap();
    *v.pointer_mut("/data/catalogs/0/articles").unwrap() = Value::Array(articles.to_vec());
    v.to_string()
}

fn listing(i: u64) -> Value {
    json!({"id": 400_000 + i, "code": format!("pg{i}"), "title": format!("Binance Will List Token{i} (TK{i})"), "type": 1, "releaseDate": now_ms(600 + i as i64)})
}

#[tokio::test]
async fn downtime_longer_than_a_page_is_paged_back_and_each_article_found_once() {
    let mut h = Harness::new("binance_announcements").await;
    h.venue.set(CMS, MockResponse::json(cms_with(&[])));
    let c = h.collector();
    assert!(poll(&c).await.ok());
    assert!(h.take_observed().await.is_empty(), "baseline: the recorded articles are old");
    let before = h.venue.hits(CMS).len();

    // Downtime: 15 new articles, 3 pages of 5 (newest first); the third page reaches the known ones.
    let new: Vec<Value> = (0..15).rev().map(listing).collect();
    let mut third = new[10..].to_vec();
    let old: Value = serde_json::from_str(&cms_with(&[])).unwrap();
    third.extend(old.pointer("/data/catalogs/0/articles").unwrap().as_array().unwrap().iter().cloned());
    h.venue.push_once(CMS, MockResponse::json(cms_only(&new[..5])));
    h.venue.push_once(CMS, MockResponse::json(cms_only(&new[5..10])));
    h.venue.push_once(CMS, MockResponse::json(cms_only(&third)));
    h.venue.set(CMS, MockResponse::json(cms_only(&new[..5])));
    let r = poll(&c).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(h.venue.hits(CMS).len() - before, 3, "paged back until a page held known articles");
    let obs = h.take_observed().await;
    let want: Vec<String> = {
        let mut w: Vec<String> = (0..15).map(|i| format!("TK{i}")).collect();
        w.sort();
        w
    };
    assert_eq!(symbols(&obs), want, "every article of the three pages, once");

    // The next poll: page 1 is known, one request, nothing new; a restart neither.
    assert!(poll(&c).await.ok());
    assert_eq!(h.venue.hits(CMS).len() - before, 4);
    drop(c);
    let c = h.collector();
    assert!(poll(&c).await.ok());
    assert!(h.take_observed().await.is_empty());
}

/// OKX's delisting feed (`announcements-delistings`, the reference capture's two items plus a fresh one):
/// a delisting title gives `asset.delisted` per coin it names, with the notice's id; an article that is not
/// a delisting (here a listing title in the wrong feed) gives nothing; no `listing.observed` ever.
#[tokio::test]
async fn okx_delisting_feed_gives_delistings_per_coin_and_never_a_listing() {
    let mut h = Harness::new("okx_delistings").await;
    let p_time = now_ms(60).to_string();
    let body = json!({"code": "0", "msg": "", "data": [{"details": [
        {"annType": "announcements-delistings", "title": "OKX to delist DORA, ICX, STORJ, ZEUS and ELF spot trading pairs",
         "url": "https://www.okx.com/help/okx-to-delist-dora-icx-storj-zeus-and-elf-spot-trading-pairs", "pTime": p_time, "businessPTime": p_time},
        {"annType": "announcements-delistings", "title": "OKX to list Virtuals Protocol (VIRTUAL) for spot trading",
         "url": "https://www.okx.com/help/okx-to-list-virtuals-protocol-virtual-for-spot-trading", "pTime": p_time, "businessPTime": p_time},
        {"annType": "announcements-delistings", "title": "OKX to delist selected USD spot trading pair",
         "url": "https://www.okx.com/help/okx-to-delist-aeon-usd-spot-trading-pair", "pTime": "1790146816439", "businessPTime": "1790143200000"}],
        "totalPage": "7"}]});
    h.venue.set(OKX, MockResponse::json(body.to_string()));
    let mut delisted = h.subscribe("nl.evt.asset.delisted").await;
    let c = h.collector();
    let r = poll(&c).await;
    assert!(r.ok() && r.new == 0, "{r:?}");
    assert!(h.take_observed().await.is_empty(), "a delisting feed never reports a listing");
    let events = cex_common::drain(delisted.as_mut()).await;
    let mut coins: Vec<&str> = events.iter().map(|e| e["meta"]["symbol"].as_str().unwrap()).collect();
    coins.sort_unstable();
    assert_eq!(coins, ["DORA", "ELF", "ICX", "STORJ", "ZEUS"]);
    assert!(events.iter().all(|e| e["meta"]["reason"] == "announcement" && e["meta"]["venue"] == "okx"), "{events:?}");
    assert!(events.iter().all(|e| e["meta"]["source"] == "okx_delistings"), "{events:?}");
    drop(c);
    let c = h.collector();
    assert!(poll(&c).await.ok());
    assert!(cex_common::drain(delisted.as_mut()).await.is_empty(), "each notice once, across a restart");
}
