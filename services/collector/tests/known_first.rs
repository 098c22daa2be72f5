//! `nl run` applies the "known" rule from its very first polls (issue #15): every source starts at once,
//! but an announcement feed's first poll commits only after each instrument list's first poll, so a fresh
//! listing announcement of a coin in Binance spot's first snapshot is checked against the saved baseline
//! instead of racing it. Real shapes: the recorded `exchangeInfo` rows and CMS article list on a loopback
//! venue, run by [`Collector::run`] over `MemoryBus`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{SourcesConfig, build_sources_for_run};
use nl_adapters::kit::{BudgetConfig, BudgetRegistry};
use nl_bus::{Bus, ConsumerSpec, MemoryBus};
use nl_collector::runtime::{CollectorCtx, RunIdentity};
use nl_collector::{Collector, MemoryStateStore};
use nl_domain::{Envelope, EventType};
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use serde_json::{Value, json};

const ARTICLES: &str = include_str!("../../../shared/adapters/src/cex/binance/test_data/http_get_cms_article_list.json");
const SOURCES: [&str; 2] = ["binance_spot", "binance_announcements"];

/// An exchangeInfo body of 20,000 minimal rows plus TONUSDT: slow enough to parse and save that the
/// article list answers first.
fn large_list_with_ton() -> String {
    let row = |s: &str, b: &str| format!(r#"{{"symbol":"{s}","baseAsset":"{b}","quoteAsset":"USDT","status":"TRADING"}}"#);
    let rows: Vec<String> = (0..20_000).map(|i| row(&format!("C{i}USDT"), &format!("C{i}"))).chain([row("TONUSDT", "TON")]).collect();
    format!(r#"{{"timezone":"UTC","serverTime":1791632043000,"symbols":[{}]}}"#, rows.join(","))
}

/// The recorded article list with a TON and an AMP listing released now.
fn articles() -> String {
    let mut v: Value = serde_json::from_str(ARTICLES).unwrap();
    let list = v.pointer_mut("/data/catalogs/0/articles").unwrap().as_array_mut().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    list.insert(0, json!({"id": 300_000, "code": "a-ton", "title": "Binance Will List Toncoin (TON)", "type": 1, "releaseDate": now}));
    list.insert(1, json!({"id": 300_001, "code": "a-amp", "title": "Binance Will List Amp (AMP)", "type": 1, "releaseDate": now}));
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl_run_checks_a_first_poll_announcement_against_the_first_list() {
    let venue = MockVenue::start().await.unwrap();
    venue.set("/api/v3/exchangeInfo", MockResponse::json(large_list_with_ton()));
    venue.set("/bapi/composite/v1/public/cms/article/list/query", MockResponse::json(articles()));
    let mut cfg = SourcesConfig::defaults().only(&SOURCES);
    for name in SOURCES {
        let c = cfg.get_mut(name).unwrap();
        (c.base_url, c.rate_per_sec, c.burst) = (venue.base_url(), 1_000.0, 1_000.0);
    }
    let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1_000.0, 1_000.0)).unwrap();
    let sources: Vec<Arc<dyn Source>> = build_sources_for_run(&cfg, &budgets, &|_| None, "run-test").unwrap();
    let bus = Arc::new(MemoryBus::default());
    let mut obs = bus.subscribe(ConsumerSpec::new("t_obs", EventType::ListingObserved.subject())).await.unwrap();
    let ctx = CollectorCtx {
        bus: bus.clone(),
        state: Arc::new(MemoryStateStore::default()),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: RunIdentity { run_id: "run-test".into(), config_hash: "hash".into() },
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Collector::new(sources, ctx).run(async move {
        let _ = stopped.await;
    }));

    // Every listing.observed until AMP's (the feed's one new listing), or 15 s.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.iter().any(|s| s == "AMP") && tokio::time::Instant::now() < deadline {
        for d in obs.fetch(64, Duration::from_millis(50)).await.unwrap() {
            d.ack().await.unwrap();
            seen.push(Envelope::from_json(&d.message.payload).unwrap().meta["symbol"].as_str().unwrap().to_string());
        }
    }
    let _ = stop.send(());
    task.await.unwrap();
    assert_eq!(seen, ["AMP"], "TON is in the spot list's first snapshot: known, not a listing");
}
