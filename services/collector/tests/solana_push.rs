//! Solana push (`logsSubscribe`) and backfill (`getSignaturesForAddress` + `getTransaction`) against the
//! loopback Solana node (`nl_testkit::solana_node`), over a recording `MemoryBus`: a pump.fun create is
//! observed with its mint, symbol, decimals and block time; a PumpSwap graduation is an update of the same
//! asset (also for a source watching pump.fun alone, through its migration event); launches submitted while the socket is down are backfilled after the reconnect, and 200 creates
//! submitted while the collector is stopped are each found exactly once after the restart (paged over
//! several polls), with nothing reported or fetched twice.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dex_support::{Harness, meta};
use nl_adapters::dex::config::{DexScreenerConfig, DexSourcesConfig, GeckoTerminalConfig};
use nl_adapters::dex::solana::WSOL_MINT;
use nl_adapters::dex::solana::config::SolanaConfig;
use nl_adapters::dex::solana::events::PUMP_FUN;
use nl_collector::push::evm::build_dex_feeds;
use nl_collector::push::solana::SolanaPushSource;
use nl_testkit::solana_node::{SolanaNode, pubkey, pump_create, pump_trade, pumpswap_graduation};
use nl_testkit::wait_until;
use serde_json::Value;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);
const NAME: &str = "solana_test";

fn config(node: &SolanaNode, page_limit: u32, max_pages: u32) -> SolanaConfig {
    SolanaConfig {
        rpc_url: node.url.clone(),
        ws_url: Some(node.ws_url.clone()),
        programs: vec!["pumpfun".into(), "pumpswap".into()],
        page_limit,
        max_pages_per_poll: max_pages,
        calls_per_sec: 100_000.0,
        interval_ms: 100,
        ws_backoff_base_ms: 20,
        ws_backoff_cap_ms: 100,
        ..SolanaConfig::default()
    }
}

fn push_of(cfg: SolanaConfig) -> Arc<SolanaPushSource> {
    let dex = DexSourcesConfig {
        geckoterminal: GeckoTerminalConfig { enabled: false, ..GeckoTerminalConfig::default() },
        dexscreener: DexScreenerConfig { enabled: false, ..DexScreenerConfig::default() },
        solana: BTreeMap::from([(NAME.to_string(), cfg)]),
        ..DexSourcesConfig::default()
    };
    let mut feeds = build_dex_feeds(&dex, "nl_20260101_000000Z_deadbeef", &|_| None).unwrap();
    assert!(feeds.polls.is_empty(), "an RPC with ws_url is not also a poll source");
    assert_eq!(feeds.solana.len(), 1);
    feeds.solana.remove(0)
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(push: &Arc<SolanaPushSource>, h: &Harness) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(push).run(h.ctx(), stop_rx));
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

/// The pump.fun cursor's `until` (set once the baseline was taken).
async fn until(h: &Harness) -> Option<String> {
    h.state_of(NAME).await.and_then(|s| s["programs"][PUMP_FUN]["until"].as_str().map(String::from))
}

fn gap_fills(push: &SolanaPushSource) -> u64 {
    push.status().push.gap_fills.load(Ordering::Relaxed)
}

fn mints(obs: &[Value]) -> Vec<String> {
    obs.iter().map(|o| meta(o)["base"].as_str().unwrap().to_string()).collect()
}

fn ids(obs: &[Value]) -> HashSet<String> {
    obs.iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect()
}

/// Waits until `n` more backfills completed: whatever they would report is on the bus by then.
async fn two_more_backfills(push: &SolanaPushSource) {
    let at = gap_fills(push);
    assert!(wait_until(WAIT, || async { gap_fills(push) >= at + 2 }).await, "backfills keep running");
}

#[tokio::test]
async fn pump_create_is_observed_and_its_graduation_is_an_update() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 1);
    node.submit(pump_trade(&pubkey(0x99, 1), &creator, 1_790_000_000)); // history before nl started
    let push = push_of(config(&node, 100, 10));
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 2 && until(&h).await.is_some() }).await, "subscribed and baseline taken");

    let mint = pubkey(0x3a, 1);
    let sig = node.submit(pump_create(&mint, "Sealy", "SEALY", &creator, 1_790_000_100));
    node.submit(pump_trade(&mint, &creator, 1_790_000_101));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "create observed");
    let o = meta(&h.bus.observed()[0]).clone();
    assert_eq!(o["asset_id"], format!("solana:{mint}"));
    assert_eq!((o["symbol"].as_str(), o["name"].as_str(), o["venue"].as_str()), (Some("SEALY"), Some("Sealy"), Some("pumpfun")));
    assert_eq!(o["details"]["decimals"], 6);
    assert_eq!(o["details"]["signature"], sig);
    assert_eq!(o["details"]["creator"], creator);
    assert_eq!(o["quote"], WSOL_MINT);
    assert_eq!(o["change"], "new");
    assert_eq!(o["source_published_at"], "2026-09-21T14:15:00Z", "block time 1 790 000 100");
    let pushed = h.bus.raws(NAME).into_iter().any(|r| {
        let frame: Value = serde_json::from_str(r["meta"]["payload"].as_str().unwrap_or("{}")).unwrap_or_default();
        frame["method"] == "logsNotification" && frame["params"]["result"]["value"]["signature"] == sig
    });
    assert!(pushed, "the pushed notification is kept raw");
    let raw_id = o["raw_event_id"].as_str().unwrap();
    let raw = h.bus.raws(NAME).into_iter().find(|r| r["event_id"] == raw_id).expect("the getTransaction response is kept raw");
    assert!(raw["meta"]["endpoint"].as_str().unwrap().ends_with(&format!("#getTransaction({sig})")), "{raw}");

    // A create the node does not serve by getTransaction (3 attempts): the notification's CreateEvent
    // stands in, with the event's timestamp as block time.
    let late = pubkey(0x3a, 2);
    node.ledger().unindex_next = 100;
    node.submit(pump_create(&late, "Late", "LATE", &creator, 1_790_000_200));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 2 }).await, "observed from the notification alone");
    let l = meta(&h.bus.observed()[1]).clone();
    assert_eq!((l["asset_id"].as_str(), l["symbol"].as_str()), (Some(format!("solana:{late}").as_str()), Some("LATE")));
    assert_eq!(l["source_published_at"], "2026-09-21T14:16:40Z");
    assert!(l["details"]["decimals"].is_null(), "no token balances without the transaction");

    let pool = pubkey(0x9f, 1);
    node.submit(pumpswap_graduation(&mint, &pool, &creator, 1_790_003_000));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 3 }).await, "graduation observed");
    let g = meta(&h.bus.observed()[2]).clone();
    assert_eq!(g["asset_id"], format!("solana:{mint}"), "the same asset");
    assert_eq!((g["change"].as_str(), g["venue"].as_str(), g["instrument_id"].as_str()), (Some("updated"), Some("pumpswap"), Some(pool.as_str())));
    assert_eq!(g["details"]["graduation"], true);

    two_more_backfills(&push).await;
    run.stop().await;
    assert_eq!(h.bus.observed().len(), 3, "nothing reported twice: {:#?}", h.bus.observed());
    assert!(push.status().ignored.load(Ordering::Relaxed) >= 1, "trades are not fetched");
    assert_eq!(push.status().shed.load(Ordering::Relaxed), 0);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

/// A source watching pump.fun alone sees a graduation through pump.fun's own
/// `CompletePumpAmmMigrationEvent` (PumpSwap's `CreatePoolEvent` in the same logs is not its program's):
/// the same update of the same asset on its PumpSwap pool, reported once.
#[tokio::test]
async fn a_graduation_seen_by_a_pump_fun_only_source_is_an_update() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 5);
    node.submit(pump_trade(&pubkey(0x99, 5), &creator, 1_790_000_000));
    let push = push_of(SolanaConfig { programs: vec!["pumpfun".into()], ..config(&node, 100, 10) });
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 1 && until(&h).await.is_some() }).await, "subscribed and baseline taken");
    let mint = pubkey(0x3e, 1);
    node.submit(pump_create(&mint, "Grad", "GRAD", &creator, 1_790_000_100));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "create observed");
    let pool = pubkey(0x9f, 2);
    node.submit(pumpswap_graduation(&mint, &pool, &creator, 1_790_003_000));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 2 }).await, "graduation observed");
    let g = meta(&h.bus.observed()[1]).clone();
    assert_eq!(g["asset_id"], format!("solana:{mint}"), "the same asset");
    assert_eq!((g["change"].as_str(), g["venue"].as_str(), g["instrument_id"].as_str()), (Some("updated"), Some("pumpswap"), Some(pool.as_str())));
    assert_eq!((g["details"]["graduation"].as_bool(), g["quote"].as_str()), (Some(true), Some(WSOL_MINT)));
    two_more_backfills(&push).await;
    run.stop().await;
    assert_eq!(h.bus.observed().len(), 2, "nothing reported twice: {:#?}", h.bus.observed());
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn a_dropped_socket_is_backfilled_with_nothing_lost_or_duplicated() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 2);
    node.submit(pump_trade(&pubkey(0x99, 2), &creator, 1_790_000_000));
    let push = push_of(config(&node, 100, 10));
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 2 && until(&h).await.is_some() }).await, "subscribed and baseline taken");
    let a = pubkey(0x3b, 1);
    let a_sig = node.submit(pump_create(&a, "Alpha", "ALP", &creator, 1_790_000_010));
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "pushed");

    node.refuse_ws(true);
    node.drop_ws();
    let gone: Vec<String> = (0..5).map(|i| pubkey(0x3c, i)).collect();
    for (i, m) in gone.iter().enumerate() {
        node.submit(pump_create(m, "Gap", "GAP", &creator, 1_790_000_020 + i as i64));
        node.submit(pump_trade(m, &creator, 1_790_000_021 + i as i64));
    }
    node.refuse_ws(false);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 6 }).await, "backfilled: {}", h.bus.observed().len());
    two_more_backfills(&push).await;
    run.stop().await;

    let obs = h.bus.observed();
    assert_eq!(obs.len(), 6, "{:#?}", mints(&obs));
    assert_eq!(ids(&obs).len(), 6);
    let mut want: Vec<String> = gone.clone();
    want.push(a.clone());
    want.sort();
    let mut got = mints(&obs);
    got.sort();
    assert_eq!(got, want);
    assert!(node.ws_accepted() >= 2, "reconnected");
    let fetched = node.ledger().fetched.clone();
    assert_eq!(fetched.iter().filter(|s| **s == a_sig).count(), 1, "the pushed launch is not fetched again by the backfill");
}

#[tokio::test]
async fn two_hundred_creates_during_downtime_are_each_found_once_after_restart() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 3);
    node.submit(pump_trade(&pubkey(0x99, 3), &creator, 1_790_000_000));
    // 50 signatures a page, 2 pages a poll: the 400 transactions of the downtime take several polls.
    let cfg = config(&node, 50, 2);
    let h = Harness::new();
    let first = push_of(cfg.clone());
    let run = Running::start(&first, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 2 && until(&h).await.is_some() }).await, "baseline taken");
    run.stop().await;

    // 30 s of downtime: 200 creates, each followed by a trade, block times spread over the 30 s.
    let t0 = 1_790_100_000_i64;
    let created: Vec<String> = (0..200).map(|i| pubkey(0x40, i)).collect();
    for (i, m) in created.iter().enumerate() {
        let t = t0 + (i as i64 * 30) / 200;
        node.submit(pump_create(m, &format!("Coin {i}"), &format!("C{i}"), &creator, t));
        node.submit(pump_trade(m, &creator, t));
    }

    let second = push_of(cfg);
    let run = Running::start(&second, &h);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() >= 200 }).await, "found after restart: {}", h.bus.observed().len());
    two_more_backfills(&second).await;
    run.stop().await;

    let obs = h.bus.observed();
    assert_eq!(obs.len(), 200);
    assert_eq!(ids(&obs).len(), 200, "distinct event ids");
    let mut got = mints(&obs);
    got.sort();
    let mut want = created.clone();
    want.sort();
    assert_eq!(got, want, "each create exactly once");
    let fetched = node.ledger().fetched.clone();
    assert_eq!(fetched.len(), HashSet::<&String>::from_iter(&fetched).len(), "no transaction fetched twice");
    assert!(gap_fills(&second) >= 4, "the gap was paged over several polls");
    let state = h.state_of(NAME).await.unwrap();
    assert!(state["programs"][PUMP_FUN]["gap"].is_null(), "gap closed: {state}");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

/// The observations of `mint` that report activity (an update with `details.activity`).
fn activity_of(obs: &[Value], mint: &str) -> Vec<Value> {
    obs.iter().map(|o| meta(o).clone()).filter(|o| o["base"] == mint && !o["details"]["activity"].is_null()).collect()
}

/// The minimum-activity trigger (#20): with 3 trades within 60 s configured (as `[enricher]
/// enrich_after_trades` / `enrich_after_secs` set it), the pushed pump.fun `TradeEvent`s of a young mint are
/// counted and its third trade reports it active once: an update of the same asset on its bonding curve,
/// dated by the launch, citing the kept frame. Trades past the window, of a mint created before nl
/// watched, or arriving before the create are handled as the rules say; trades made while the socket was
/// down are counted by the backfill (oldest first, after their create) and report just as once.
#[tokio::test]
async fn pushed_and_backfilled_trades_report_a_young_mint_active_once() {
    use nl_adapters::dex::solana::activity::ActivityTrigger;
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 4);
    let old = pubkey(0x99, 4);
    node.submit(pump_create(&old, "Old", "OLD", &creator, 1_790_000_000)); // created before nl started
    let cfg = SolanaConfig { activity: Some(ActivityTrigger { trades: 3, window_secs: 60 }), ..config(&node, 100, 10) };
    let push = push_of(cfg);
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 2 && until(&h).await.is_some() }).await, "subscribed and baseline taken");

    let hot = pubkey(0x3d, 1);
    let late = pubkey(0x3d, 2);
    node.submit(pump_create(&hot, "Hot", "HOT", &creator, 1_790_000_100));
    node.submit(pump_create(&late, "Late", "LATE", &creator, 1_790_000_100));
    for i in 0..2 {
        node.submit(pump_trade(&hot, &creator, 1_790_000_101 + i));
    }
    for i in 0..3 {
        node.submit(pump_trade(&old, &creator, 1_790_000_103 + i));
    }
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 2 }).await, "both creates observed");
    assert!(activity_of(&h.bus.observed(), &hot).is_empty(), "two trades are not enough");
    node.submit(pump_trade(&hot, &creator, 1_790_000_106));
    assert!(wait_until(WAIT, || async { activity_of(&h.bus.observed(), &hot).len() == 1 }).await, "the third trade reports it");
    node.submit(pump_trade(&hot, &creator, 1_790_000_107));
    for i in 0..3 {
        node.submit(pump_trade(&late, &creator, 1_790_000_161 + i)); // past its 60 s window
    }

    let a = activity_of(&h.bus.observed(), &hot).remove(0);
    let create = h.bus.observed().into_iter().map(|o| meta(&o).clone()).find(|o| o["base"] == hot && o["change"] == "new").unwrap();
    assert_eq!((a["change"].as_str(), a["asset_id"].as_str()), (Some("updated"), Some(format!("solana:{hot}").as_str())));
    assert_eq!(a["details"]["activity"]["trades"], 3);
    assert_eq!(a["instrument_id"], create["instrument_id"], "on the create's bonding curve");
    assert_eq!(a["source_published_at"], create["source_published_at"], "dated by the launch");
    let frame = h.bus.raws(NAME).into_iter().find(|r| r["event_id"] == a["raw_event_id"]).expect("the trade frame that made it active is kept raw");
    assert!(frame["meta"]["payload"].as_str().unwrap().contains("logsNotification"));

    // Trades while the socket is down: the backfill fetches them after the reconnect and counts them.
    let calm = pubkey(0x3d, 3);
    node.submit(pump_create(&calm, "Calm", "CALM", &creator, 1_790_000_200));
    assert!(wait_until(WAIT, || async { h.bus.observed().iter().any(|o| meta(o)["base"] == calm) }).await);
    node.refuse_ws(true);
    node.drop_ws();
    for i in 0..4 {
        node.submit(pump_trade(&calm, &creator, 1_790_000_201 + i));
    }
    node.refuse_ws(false);
    assert!(wait_until(WAIT, || async { activity_of(&h.bus.observed(), &calm).len() == 1 }).await, "backfilled trades report it");
    two_more_backfills(&push).await;
    run.stop().await;

    let obs = h.bus.observed();
    assert_eq!(activity_of(&obs, &hot).len(), 1, "reported once");
    assert_eq!(activity_of(&obs, &calm).len(), 1, "reported once");
    assert!(activity_of(&obs, &late).is_empty(), "trades past the window are not counted");
    assert!(activity_of(&obs, &old).is_empty(), "a mint created before nl watched is not counted");
    let c = activity_of(&obs, &calm).remove(0);
    let raw = h.bus.raws(NAME).into_iter().find(|r| r["event_id"] == c["raw_event_id"]).expect("cites its getTransaction capture");
    assert!(raw["meta"]["endpoint"].as_str().unwrap().contains("#getTransaction("), "{raw}");
    assert_eq!(ids(&obs).len(), obs.len(), "no observation twice");
    assert_eq!(push.status().shed.load(Ordering::Relaxed), 0);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}
