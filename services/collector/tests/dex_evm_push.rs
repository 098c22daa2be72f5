//! EVM push (`eth_subscribe("logs")`) against the loopback mock node's WebSocket, over `MemoryBus`: a pushed
//! pair is reported at once and not again by the scan, pairs created while disconnected are backfilled by
//! `eth_getLogs` after the reconnect exactly once without gaps in the scanned ranges, and a pushed
//! `removed: true` log retracts its pool.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dex_support::{Harness, MockNode, TokenInfo, WETH, a, addr, lower, meta, v2_pair};
use nl_adapters::dex::config::{DexScreenerConfig, DexSourcesConfig, EvmChainConfig, GeckoTerminalConfig};
use nl_adapters::kit::{SecretLocation, SecretParam};
use nl_testkit::wait_until;
use nl_collector::push::evm::{EvmPushSource, build_dex_feeds};
use nl_collector::serve::{Feeds, ServeConfig, build_feed_sources};
use serde_json::Value;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

fn chain(node: &MockNode, interval_ms: u64) -> EvmChainConfig {
    EvmChainConfig {
        chain: "eth".into(),
        rpc_url: node.url.clone(),
        ws_url: Some(node.ws_url.clone()),
        start_block: Some(1),
        interval_ms,
        calls_per_sec: 10_000.0,
        ws_backoff_base_ms: 20,
        ws_backoff_cap_ms: 100,
        ..EvmChainConfig::default()
    }
}

fn dex(chain: EvmChainConfig) -> DexSourcesConfig {
    DexSourcesConfig {
        geckoterminal: GeckoTerminalConfig { enabled: false, ..GeckoTerminalConfig::default() },
        dexscreener: DexScreenerConfig { enabled: false, ..DexScreenerConfig::default() },
        evm: BTreeMap::from([("evm_eth".to_string(), chain)]),
        ..DexSourcesConfig::default()
    }
}

fn push_of(cfg: EvmChainConfig, env: &dyn Fn(&str) -> Option<String>) -> Arc<EvmPushSource> {
    let mut feeds = build_dex_feeds(&dex(cfg), "nl_20260101_000000Z_deadbeef", env).unwrap();
    assert!(feeds.polls.is_empty(), "a chain with ws_url is not also a poll source");
    assert_eq!(feeds.pushes.len(), 1);
    feeds.pushes.remove(0)
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(push: &Arc<EvmPushSource>, h: &Harness) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(push).run(h.ctx(), stop_rx));
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

async fn next_block(h: &Harness) -> u64 {
    h.state_of("evm_eth").await.and_then(|s| s["next_block"].as_u64()).unwrap_or(0)
}

/// The raw envelope with id `raw_id`.
fn raw_by_id(h: &Harness, raw_id: &str) -> Value {
    h.bus.raws("evm_eth").into_iter().find(|r| r["event_id"] == raw_id).unwrap_or_else(|| panic!("no raw {raw_id}"))
}

fn event_ids(envs: &[Value]) -> HashSet<String> {
    envs.iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pushed_pair_is_reported_at_once_and_not_again_by_the_scan() {
    let node = MockNode::start(2_000).await.unwrap();
    node.mine(3);
    let token = addr(0x31, 1);
    node.add_token(token, TokenInfo::standard("Pushed", "PSH", 18, 1_000));
    // The WebSocket path comes from a secret placeholder: connecting proves it is filled; raws keep the template.
    let template = node.ws_url.replace("/ws", "/{ws_path}");
    let secret = SecretParam { name: "ws_path".into(), location: SecretLocation::Path, value_env: "NL_TEST_WS_PATH".into() };
    let cfg = EvmChainConfig { ws_url: Some(template.clone()), rpc_secrets: vec![secret], interval_ms: 50, ..chain(&node, 50) };
    let push = push_of(cfg, &|k| (k == "NL_TEST_WS_PATH").then(|| "ws".to_string()));
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 1 && next_block(&h).await == node.head() - 1 }).await, "subscribed and backfilled");

    let block = node.mine_with(vec![v2_pair(token, a(WETH), addr(0xa1, 1))]);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "pushed pair observed");
    let obs = h.bus.observed();
    let o = meta(&obs[0]);
    assert_eq!(o["asset_id"], format!("eth:{}", lower(&token)));
    assert_eq!(o["symbol"], "PSH", "ERC-20 metadata fetched like the scan does");
    assert_eq!(o["details"]["block"], block);
    assert!(o["source_published_at"].is_string(), "block time from the header: {o}");
    let raw = raw_by_id(&h, o["raw_event_id"].as_str().unwrap());
    assert_eq!(raw["meta"]["endpoint"], template, "raws show the configured URL, not the secret");
    let frame: Value = serde_json::from_str(raw["meta"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(frame["method"], "eth_subscription");
    let state = h.state_of("evm_eth").await.unwrap();
    assert!(state["recent"].get(lower(&addr(0xa1, 1))).is_some(), "pushed pool remembered: {state}");
    assert!(state["next_block"].as_u64().unwrap() <= block, "a pushed log does not move the cursor");

    // The scan passes the pair's block: nothing is reported again.
    node.mine(3);
    assert!(wait_until(WAIT, || async { next_block(&h).await > block }).await, "scan passed the block");
    run.stop().await;
    assert_eq!(h.bus.observed().len(), 1, "{:#?}", h.bus.observed());
    assert_eq!(push.status().parse_errors.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn pairs_created_while_disconnected_are_backfilled_once_after_the_reconnect() {
    let node = MockNode::start(2_000).await.unwrap();
    node.mine(2);
    // Polls only on (re)connect: the backfill alone must find what was missed.
    let push = push_of(EvmChainConfig { max_block_span: 8, fetch_metadata: false, ..chain(&node, 600_000) }, &|_| None);
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 1 && h.state_of("evm_eth").await.is_some() }).await);

    let first = addr(0x40, 0);
    node.mine_with(vec![v2_pair(first, a(WETH), addr(0xb0, 0))]);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "pushed before the outage");

    node.refuse_ws(true);
    node.drop_ws();
    let status = push.status();
    assert!(wait_until(WAIT, || async { !status.is_connected() }).await);
    let mut tokens = vec![first];
    for i in 1..=20u64 {
        let t = addr(0x40, i);
        tokens.push(t);
        node.mine_with(vec![v2_pair(t, a(WETH), addr(0xb0, i))]);
        node.mine(i % 3);
    }
    let safe = node.mine(2) - 2;
    assert_eq!(h.bus.observed().len(), 1, "nothing pushed while down");

    node.refuse_ws(false);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 2 && next_block(&h).await == safe + 1 }).await, "reconnected and caught up");
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 21 }).await);

    let last = addr(0x40, 99);
    tokens.push(last);
    node.mine_with(vec![v2_pair(last, a(WETH), addr(0xb0, 99))]);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 22 }).await, "pushed after the reconnect");
    run.stop().await;

    let observed = h.bus.observed();
    assert_eq!(observed.len(), 22, "published exactly once each");
    assert_eq!(event_ids(&observed).len(), 22);
    let assets: HashSet<String> = observed.iter().map(|e| meta(e)["asset_id"].as_str().unwrap().to_string()).collect();
    for t in &tokens {
        assert!(assets.contains(&format!("eth:{}", lower(t))), "{t} missing");
    }
    let mut served: Vec<(u64, u64)> = node.ranges().iter().filter(|r| r.2).map(|r| (r.0, r.1)).collect();
    served.sort_unstable();
    assert_eq!(served.first().map(|r| r.0), Some(1));
    assert!(served.last().is_some_and(|r| r.1 >= safe));
    assert!(served.windows(2).all(|w| w[0].1 + 1 == w[1].0), "scanned contiguously, no block skipped or repeated: {served:?}");
    assert!(status.gap_fills.load(std::sync::atomic::Ordering::Relaxed) >= 2, "a backfill per connect");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn pushed_removed_log_retracts_the_pool_once() {
    let node = MockNode::start(2_000).await.unwrap();
    node.mine(3);
    let push = push_of(EvmChainConfig { fetch_metadata: false, reorg_rewind: 8, ..chain(&node, 50) }, &|_| None);
    let h = Harness::new();
    let run = Running::start(&push, &h);
    assert!(wait_until(WAIT, || async { node.subscriptions() == 1 && h.state_of("evm_eth").await.is_some() }).await);

    let (gone, pool) = (addr(0x50, 1), addr(0xc0, 1));
    let block = node.mine_with(vec![v2_pair(gone, a(WETH), pool)]);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await);
    // The block is replaced: the node re-sends its log with `removed: true`.
    node.reorg(1, vec![vec![]]);
    assert!(wait_until(WAIT, || async { h.bus.retracted().len() == 1 }).await, "retracted from the push");
    let r = meta(&h.bus.retracted()[0]).clone();
    assert_eq!(r["asset_id"], format!("eth:{}", lower(&gone)));
    assert_eq!(r["change"], "retracted");
    let raw = raw_by_id(&h, r["raw_event_id"].as_str().unwrap());
    let frame: Value = serde_json::from_str(raw["meta"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(frame["params"]["result"]["removed"], true);

    // The scan later covers the block: the pool is already forgotten, so no second retraction.
    node.mine(3);
    assert!(wait_until(WAIT, || async { next_block(&h).await > block }).await);
    run.stop().await;
    assert_eq!(h.bus.retracted().len(), 1, "{:#?}", h.bus.retracted());
    assert_eq!(h.bus.observed().len(), 1);
    assert!(h.state_of("evm_eth").await.unwrap()["recent"].get(lower(&pool)).is_none());
}

#[tokio::test]
async fn ws_url_must_be_a_websocket_url() {
    let node = MockNode::start(2_000).await.unwrap();
    let cfg = EvmChainConfig { ws_url: Some("https://example.invalid/ws".into()), ..chain(&node, 50) };
    let err = build_dex_feeds(&dex(cfg), "run", &|_| None).err().expect("rejected").to_string();
    assert!(err.contains("evm_eth") && err.contains("ws_url"), "{err}");
}

#[tokio::test]
async fn serve_wiring_runs_a_ws_chain_as_a_push_task() {
    let node = MockNode::start(2_000).await.unwrap();
    node.mine(3);
    let cfg = ServeConfig { dex: dex(EvmChainConfig { fetch_metadata: false, ..chain(&node, 600_000) }), ..ServeConfig::default() };
    let sources = build_feed_sources(&cfg, "nl_20260101_000000Z_deadbeef", Arc::new(|_| None)).unwrap();
    assert!(sources.polls.iter().all(|p| p.name() != "evm_eth"), "not also polled by the poll runtime");
    assert_eq!(sources.evm_pushes.len(), 1);
    let h = Harness::new();
    let feeds = Feeds::new(sources, h.ctx());
    assert!(feeds.counters().contains_key("evm_eth"), "push counters exported with the rest");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(feeds.run(async move {
        let _ = stopped.await;
    }));
    assert!(wait_until(WAIT, || async { node.subscriptions() == 1 && h.state_of("evm_eth").await.is_some() }).await);
    node.mine_with(vec![v2_pair(addr(0x60, 1), a(WETH), addr(0xd0, 1))]);
    assert!(wait_until(WAIT, || async { h.bus.observed().len() == 1 }).await, "pushed pair observed through the serve wiring");
    stop.send(()).unwrap();
    run.await.unwrap();
}
