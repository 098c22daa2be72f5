//! What "new" means, through the real pipeline: Binance's instrument list and its new-listings article
//! feed (real payload shapes from the adapters' `test_data`) on a loopback mock venue, the collector
//! publishing on a `MemoryBus`, the enricher normalizing, and the ledger merging into SQLite, with source
//! state kept in the ledger (as `nl run-cycle` does), so a restart is a new collector on the same DB.
//!
//! Rules (issue #15): a baseline instrument is a known asset (status flaps both ways, vanishing and coming
//! back, a new quote pair for its base, an announcement naming it: nothing is discovered); a delisting is
//! not a listing (a delisting title in the listings feed, an instrument gone for 3 polls: `asset.delisted`,
//! never an asset); an empty or envelope-less snapshot is not a baseline (#16).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{SourcesConfig, build_sources_for_run};
use nl_adapters::kit::{BudgetConfig, BudgetRegistry};
use nl_bus::{Bus, MemoryBus, ServiceCtx};
use nl_collector::{Collector, PollReport, RunIdentity};
use nl_enricher::{EnricherConfig, EnricherCtx};
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use serde_json::{Value, json};

const EXCHANGE_INFO: &str = include_str!("../shared/adapters/src/cex/binance/test_data/http_get_exchange_info.json");
const ARTICLES: &str = include_str!("../shared/adapters/src/cex/binance/test_data/http_get_cms_article_list.json");
const SPOT: &str = "/api/v3/exchangeInfo";
const CMS: &str = "/bapi/composite/v1/public/cms/article/list/query";

/// An exchangeInfo body with these `(symbol, base, quote, status)` rows, each shaped like the recorded one.
fn exchange_info(rows: &[(&str, &str, &str, &str)]) -> String {
    let mut v: Value = serde_json::from_str(EXCHANGE_INFO).unwrap();
    let template = v["symbols"][0].clone();
    let symbols: Vec<Value> = rows
        .iter()
        .map(|(symbol, base, quote, status)| {
            let mut r = template.clone();
            (r["symbol"], r["baseAsset"], r["quoteAsset"], r["status"]) = (json!(symbol), json!(base), json!(quote), json!(status));
            r
        })
        .collect();
    v["symbols"] = Value::Array(symbols);
    v.to_string()
}

/// The recorded article list (old articles) plus these `(code, title)` articles released now.
fn articles(fresh: &[(&str, &str)]) -> String {
    let mut v: Value = serde_json::from_str(ARTICLES).unwrap();
    let list = v.pointer_mut("/data/catalogs/0/articles").unwrap().as_array_mut().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for (i, (code, title)) in fresh.iter().enumerate() {
        list.insert(i, json!({"id": 300_000 + i, "code": code, "title": title, "type": 1, "releaseDate": now}));
    }
    v.to_string()
}

/// The baseline: three bases, TON on one quote.
const BASELINE: &[(&str, &str, &str, &str)] =
    &[("ETHBTC", "ETH", "BTC", "TRADING"), ("TONUSDT", "TON", "USDT", "TRADING"), ("FLAPUSDT", "FLAP", "USDT", "TRADING"), ("GONEUSDT", "GONE", "USDT", "TRADING"), ("BYEUSDT", "BYE", "USDT", "TRADING")];

struct Pipeline {
    venue: MockVenue,
    bus: Arc<dyn Bus>,
    store: LedgerStore,
    run: RunIdentity,
    services: nl_runtime::Pipeline,
    _dir: tempfile::TempDir,
}

impl Pipeline {
    async fn start() -> Self {
        let venue = MockVenue::start().await.unwrap();
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
        let run = RunIdentity { run_id: "nl_20261207_000000Z_5e3a0001".into(), config_hash: "cafe".into() };
        let dir = tempfile::tempdir().unwrap();
        let ledger_cfg = LedgerConfig { fetch_wait_ms: 20, ..LedgerConfig::with_db_path(dir.path().join("nl.db")) };
        let ledger = nl_ledger::build(ledger_cfg, ServiceCtx::new(Arc::clone(&bus), run.clone())).await.unwrap();
        let store = ledger.store().clone();
        let mut ecfg = EnricherConfig { fetch_wait_ms: 20, ..EnricherConfig::default() };
        ecfg.dexscreener.enabled = false;
        ecfg.cex_tickers.enabled = false;
        let enricher = nl_enricher::build(ecfg, EnricherCtx::new(Arc::clone(&bus), run.clone())).await.unwrap();
        let mut services = nl_runtime::Pipeline::new(Arc::clone(&bus));
        services.spawn_service(Box::new(enricher));
        services.spawn_service(Box::new(ledger));
        Self { venue, bus, store, run, services, _dir: dir }
    }

    /// A collector over Binance spot and announcements, state in the ledger (a fresh one is a restart).
    fn collector(&self) -> Collector {
        let mut cfg = SourcesConfig::defaults().only(&["binance_spot", "binance_announcements"]);
        for name in ["binance_spot", "binance_announcements"] {
            let c = cfg.get_mut(name).unwrap();
            (c.base_url, c.rate_per_sec, c.burst) = (self.venue.base_url(), 1_000.0, 1_000.0);
        }
        let budgets = BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1_000.0, 1_000.0)).unwrap();
        let sources: Vec<Arc<dyn Source>> = build_sources_for_run(&cfg, &budgets, &|_| None, &self.run.run_id).unwrap();
        Collector::new(sources, nl_runtime::ledger_state::embedded_ctx(&self.bus, &self.store, &self.run))
    }

    /// One cycle with these bodies; waits until the ledger stored everything the cycle published.
    async fn cycle(&mut self, c: &Collector, list: &str, feed: &str) -> BTreeMap<String, PollReport> {
        self.venue.set(SPOT, MockResponse::json(list));
        self.venue.set(CMS, MockResponse::json(feed));
        let reports = c.poll_all_once(chrono::Utc::now()).await;
        self.services.drain(Duration::from_secs(20), |_| {}).await.unwrap();
        reports.into_iter().map(|r| (r.source.clone(), r)).collect()
    }

    async fn assets_of(&self, kind: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT asset_id FROM events WHERE type = ? ORDER BY asset_id").bind(kind).fetch_all(self.store.reader().pool()).await.unwrap()
    }

    async fn query(&self, sql: &'static str) -> Vec<String> {
        sqlx::query_scalar(sql).fetch_all(self.store.reader().pool()).await.unwrap()
    }

    async fn stop(self) {
        assert!(self.services.stop().await.is_empty(), "no service failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_new_listings_are_discovered_and_delistings_are_not_listings() {
    let mut p = Pipeline::start().await;
    let c = p.collector();

    // 1. Baseline: every instrument is a known asset; the feed's old articles are not new.
    let r = p.cycle(&c, &exchange_info(BASELINE), &articles(&[])).await;
    assert!(r.values().all(PollReport::ok) && r.values().all(|r| r.new == 0), "{r:?}");

    // 2. New listings plus everything that must not be one: FLAP halts, GONE and BYE vanish, TON gets a
    //    USDC pair, and the listings feed carries a delisting title, a known coin and a two-coin listing.
    let mut list = vec![("ETHBTC", "ETH", "BTC", "TRADING"), ("TONUSDT", "TON", "USDT", "TRADING"), ("FLAPUSDT", "FLAP", "USDT", "BREAK")];
    list.extend([("TONUSDC", "TON", "USDC", "TRADING"), ("NEWUSDT", "NEW", "USDT", "TRADING")]);
    let feed = articles(&[
        ("a-delist", "Binance Will Delist BYE on 2026-12-20"),
        ("a-known", "Binance Will List Toncoin (TON)"),
        ("a-two", "Binance Will List Amp (AMP) and PlayDapp (PLA)"),
    ]);
    let r = p.cycle(&c, &exchange_info(&list), &feed).await;
    assert!(r.values().all(PollReport::ok), "{r:?}");

    // 3. The flapped instrument trades again, GONE comes back; restart the collector (state in the DB).
    let c = p.collector();
    let mut list = vec![("ETHBTC", "ETH", "BTC", "TRADING"), ("TONUSDT", "TON", "USDT", "TRADING"), ("FLAPUSDT", "FLAP", "USDT", "TRADING")];
    list.extend([("TONUSDC", "TON", "USDC", "TRADING"), ("NEWUSDT", "NEW", "USDT", "TRADING"), ("GONEUSDT", "GONE", "USDT", "TRADING")]);
    p.cycle(&c, &exchange_info(&list), &feed).await;
    // BYE stays gone: its third missing poll makes it a delisting too (the announcement already did).
    list.retain(|(s, ..)| *s != "GONEUSDT");
    p.cycle(&c, &exchange_info(&list), &feed).await;
    p.cycle(&c, &exchange_info(&list), &feed).await;

    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:AMP", "cex:binance:NEW", "cex:binance:PLA"], "discovered = the new listings, each once");
    let delisted = p.query("SELECT DISTINCT asset_id FROM events WHERE type = 'asset.delisted' ORDER BY asset_id").await;
    assert_eq!(delisted, ["cex:binance:BYE"], "GONE was gone for two polls only: a flap");
    let reasons = p.query("SELECT json_extract(meta, '$.reason') || ':' || coalesce(json_extract(meta, '$.announcement_id'), '') || ':' || coalesce(json_extract(meta, '$.scheduled_at'), '') FROM events WHERE type = 'asset.delisted' ORDER BY 1").await;
    assert_eq!(reasons, ["announcement:a-delist:2026-12-20T00:00:00Z", "vanished::"], "{reasons:?}");
    let rows = p.query("SELECT asset_id FROM assets ORDER BY asset_id").await;
    assert_eq!(rows, ["cex:binance:AMP", "cex:binance:NEW", "cex:binance:PLA"], "no known or delisted asset became a row");
    let fresh = p.query("SELECT asset_id FROM v_assets_new ORDER BY asset_id").await;
    assert_eq!(fresh, rows, "known assets are not in v_assets_new");
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implausible_first_snapshot_is_not_a_baseline() {
    let mut p = Pipeline::start().await;
    let c = p.collector();
    // Binance answering `{}` (no `symbols`), then an empty list: outages, kept raw, no baseline.
    let r = p.cycle(&c, "{}", &articles(&[])).await;
    assert!(!r["binance_spot"].ok(), "{r:?}");
    let r = p.cycle(&c, &exchange_info(&[]), &articles(&[])).await;
    assert!(r["binance_spot"].errors[0].contains("implausible snapshot"), "{r:?}");
    assert!(p.store.reader().get_cursor("binance_spot").await.unwrap().is_none(), "the baseline did not move");
    // The venue comes back: that is the baseline, and nothing in it is new.
    let r = p.cycle(&c, &exchange_info(BASELINE), &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 0, "{r:?}");
    // Half the list gone at once is an outage too; the full list after it changes nothing.
    let r = p.cycle(&c, &exchange_info(&BASELINE[..2]), &articles(&[])).await;
    assert!(r["binance_spot"].errors[0].contains("down from 5"), "{r:?}");
    p.cycle(&c, &exchange_info(BASELINE), &articles(&[])).await;
    assert!(p.assets_of("asset.discovered").await.is_empty());
    let kept = p.query("SELECT parse_error FROM raw_events WHERE source = 'binance_spot' AND parse_error IS NOT NULL ORDER BY observed_at").await;
    assert_eq!(kept.len(), 3, "every implausible response is kept with its error: {kept:?}");
    p.stop().await;
}

/// A first list of 1 instrument, then the venue's full list: the old coins the full list shows are no
/// batch of listings (more new assets at once than `max_new_assets` and than were listed), so it becomes
/// the baseline and the poll says why; a coin listed after that is new as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_first_list_then_the_full_one_discovers_nothing_old() {
    let mut p = Pipeline::start().await;
    let c = p.collector();
    let r = p.cycle(&c, &large_list(1, &[]), &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 0, "{r:?}");
    let r = p.cycle(&c, &large_list(300, &[]), &articles(&[])).await;
    let said: Vec<&String> = r["binance_spot"].errors.iter().chain(&r["binance_spot"].retried).collect();
    assert!(said.iter().any(|e| e.contains("299 new assets at once") && e.contains("taken as the baseline")), "{r:?}");
    assert_eq!(r["binance_spot"].new, 0, "{r:?}");
    let r = p.cycle(&c, &large_list(300, &[("NEWCOINUSDT", "NEWCOIN", "USDT", "TRADING")]), &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 1, "{r:?}");
    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:NEWCOIN"]);
    p.stop().await;
}

/// An exchangeInfo body of `n` minimal `C<i>USDT` rows (the fields the parser reads) plus `extra` rows.
fn large_list(n: usize, extra: &[(&str, &str, &str, &str)]) -> String {
    let row = |s: &str, b: &str, q: &str, st: &str| format!(r#"{{"symbol":"{s}","baseAsset":"{b}","quoteAsset":"{q}","status":"{st}"}}"#);
    let rows: Vec<String> = (0..n).map(|i| row(&format!("C{i}USDT"), &format!("C{i}"), "USDT", "TRADING")).chain(extra.iter().map(|(s, b, q, st)| row(s, b, q, st))).collect();
    format!(r#"{{"timezone":"UTC","serverTime":1791632043000,"symbols":[{}]}}"#, rows.join(","))
}

/// #16: a venue with 200,000 instruments keeps its known set as rows of `known_instruments`, written as
/// they change, not as a blob in its `source_cursors` row; a restarted collector still knows every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_instrument_list_is_kept_as_rows_and_known_after_a_restart() {
    const N: usize = 200_000;
    let mut p = Pipeline::start().await;
    let c = p.collector();
    let r = p.cycle(&c, &large_list(N, &[]), &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 0, "{r:?}");
    const CURSOR_BYTES: &str = "SELECT CAST(length(cursor_json) AS TEXT) FROM source_cursors WHERE source = 'binance_spot'";
    let bytes: usize = p.query(CURSOR_BYTES).await[0].parse().unwrap();
    assert!(bytes < 256, "the cursor row stays small: {bytes} bytes");
    assert_eq!(p.query("SELECT CAST(COUNT(*) AS TEXT) FROM known_instruments WHERE source = 'binance_spot'").await, [N.to_string()]);

    // Restart: a new collector (no memory of the set) on the same DB; one instrument halts, one is new.
    drop(c);
    let c = p.collector();
    let list = large_list(N, &[("NEWCOINUSDT", "NEWCOIN", "USDT", "TRADING")]).replace(r#""symbol":"C5USDT","baseAsset":"C5","quoteAsset":"USDT","status":"TRADING""#, r#""symbol":"C5USDT","baseAsset":"C5","quoteAsset":"USDT","status":"BREAK""#);
    let r = p.cycle(&c, &list, &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 1, "{r:?}");
    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:NEWCOIN"], "the 200,000 known instruments stay known");
    let changed = p.query("SELECT instrument_id || ':' || status || ':' || baseline FROM known_instruments WHERE instrument_id IN ('C5USDT', 'NEWCOINUSDT') ORDER BY 1").await;
    assert_eq!(changed, ["C5USDT:halted:1", "NEWCOINUSDT:trading:0"]);
    assert!(p.query(CURSOR_BYTES).await[0].parse::<usize>().unwrap() < 256);
    p.stop().await;
}

/// A `!contractInfo` push frame (the recorded shape) of a perpetual `symbol` onboarded now, status `cs`.
fn contract_info(symbol: &str, cs: &str) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    json!({"e": "contractInfo", "E": now, "s": symbol, "ps": symbol, "ct": "PERPETUAL", "dt": 4_133_404_800_000_i64, "ot": now, "cs": cs, "bks": []}).to_string()
}

/// #15 in `nl run`: a fresh Binance perpetual (the `binance_contract_info_ws` feed, on by default) of a coin
/// Binance spot knows from its baseline is a new market of a known asset, not a listing, and its later
/// status changes are not one either; a perpetual of a coin no list knows is a listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_perpetual_of_a_spot_known_coin_is_not_a_listing() {
    use nl_adapters::cex::push::PushKind;
    use nl_collector::push::PushSource;
    let mut p = Pipeline::start().await;
    let c = p.collector();
    let r = p.cycle(&c, &exchange_info(BASELINE), &articles(&[])).await;
    assert!(r.values().all(PollReport::ok) && r.values().all(|r| r.new == 0), "{r:?}");

    let ws = nl_testkit::ws_venue::MockWsVenue::start().await.unwrap();
    let mut wcfg = nl_adapters::kit::WsConfig::new(ws.url());
    (wcfg.ping_interval_ms, wcfg.backoff_base_ms, wcfg.backoff_cap_ms) = (0, 20, 100);
    let push = Arc::new(PushSource::new("binance_contract_info_ws", PushKind::BinanceContractInfo, wcfg, p.run.run_id.clone()));
    push.set_known(c.known());
    let status = push.status();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(Arc::clone(&push).run(nl_runtime::ledger_state::embedded_ctx(&p.bus, &p.store, &p.run), stopped));
    let frames = || status.frames.load(std::sync::atomic::Ordering::SeqCst);
    let connected = nl_testkit::wait_until(Duration::from_secs(15), || async {
        ws.send(r#"{"result":null,"id":1}"#);
        frames() > 0
    })
    .await;
    assert!(connected, "the feed reads the venue");
    // TON is spot-known: its new perpetual and that perpetual's halt are not listings; ZRO is new.
    ws.send(contract_info("TONUSDT", "TRADING"));
    ws.send(contract_info("TONUSDT", "SETTLING"));
    ws.send(contract_info("ZROUSDT", "TRADING"));
    let observed = || status.counters.observations.load(std::sync::atomic::Ordering::SeqCst);
    assert!(nl_testkit::wait_until(Duration::from_secs(15), || async { observed() > 0 }).await, "the ZRO frame was handled");
    p.services.drain(Duration::from_secs(20), |_| {}).await.unwrap();
    let _ = stop.send(true);
    task.await.unwrap();

    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:ZRO"], "only the perpetual of an unknown coin is a listing");
    let ton = p.query("SELECT type FROM events WHERE asset_id = 'cex:binance:TON'").await;
    assert!(ton.is_empty(), "nothing about the known TON reaches the ledger as a sighting: {ton:?}");
    assert_eq!(p.query("SELECT asset_id FROM assets ORDER BY asset_id").await, ["cex:binance:ZRO"]);
    p.stop().await;
}

/// #15, first cycle: `run-cycle` polls every source at once, so a fresh listing announcement of a coin in
/// Binance spot's first snapshot must not be checked before that snapshot's baseline is saved (the list is
/// large here, so it is slow to parse and save, and the feed answers first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_cycle_announcement_of_a_coin_in_the_first_list_is_not_a_listing() {
    let mut p = Pipeline::start().await;
    let c = p.collector();
    p.venue.set(SPOT, MockResponse::json(large_list(20_000, &[("TONUSDT", "TON", "USDT", "TRADING")])));
    p.venue.set(CMS, MockResponse::json(articles(&[("a-ton", "Binance Will List Toncoin (TON)"), ("a-amp", "Binance Will List Amp (AMP)")])));
    let r = c.poll_all_within(chrono::Utc::now(), nl_collector::CyclePolicy::default(), |_| {}).await;
    assert!(r.reports.iter().all(PollReport::ok), "{:?}", r.reports);
    p.services.drain(Duration::from_secs(20), |_| {}).await.unwrap();
    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:AMP"], "TON is in the first snapshot: known, not new");
    p.stop().await;
}

/// #15: every failed response is kept in raw_events with its error, the 5xx the HTTP client retried past
/// included; the retry still finds the listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_server_error_is_kept_raw_and_the_listing_is_still_found() {
    let mut p = Pipeline::start().await;
    let c = p.collector();
    p.cycle(&c, &exchange_info(BASELINE), &articles(&[])).await;
    let mut list = BASELINE.to_vec();
    list.push(("NEWUSDT", "NEW", "USDT", "TRADING"));
    p.venue.push_once(SPOT, MockResponse::status(503, r#"{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}"#));
    let r = p.cycle(&c, &exchange_info(&list), &articles(&[])).await;
    assert!(r["binance_spot"].ok() && r["binance_spot"].new == 1, "{r:?}");
    assert_eq!(p.venue.hit_count(SPOT), 3, "baseline, the 503, its retry");
    let failed = p.query("SELECT CAST(http_status AS TEXT) || ' ' || parse_error FROM raw_events WHERE source = 'binance_spot' AND parse_error IS NOT NULL").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("503 upstream HTTP 503") && failed[0].contains("retried"), "{failed:?}");
    assert_eq!(p.query("SELECT CAST(COUNT(*) AS TEXT) FROM raw_events WHERE source = 'binance_spot'").await, ["3"], "every response is kept");
    assert_eq!(p.assets_of("asset.discovered").await, ["cex:binance:NEW"]);
    p.stop().await;
}
