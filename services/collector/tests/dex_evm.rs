//! EVM factory-log source against the loopback JSON-RPC mock node, over `MemoryBus`: V2/V3/V4 discovery
//! with metadata, reorg retraction, downtime backfill without duplicates, and range-cap splitting.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256, U160, aliases::I24, aliases::U24};
use alloy_sol_types::SolEvent;
use dex_support::{Harness, MockLog, MockNode, TokenInfo, USDC, V3_FACTORY, V4_POOL_MANAGER, WETH, a, addr, events, lower, meta, v2_pair};
use nl_adapters::Source;
use nl_adapters::dex::config::EvmChainConfig;
use nl_adapters::dex::evm::client::EvmLogSource;
use nl_testkit::wait_until;
use nl_collector::Collector;
use serde_json::Value;

fn config(node: &MockNode) -> EvmChainConfig {
    EvmChainConfig {
        chain: "eth".into(),
        rpc_url: node.url.clone(),
        start_block: Some(1),
        interval_ms: 10,
        calls_per_sec: 10_000.0,
        ..EvmChainConfig::default()
    }
}

fn source(cfg: &EvmChainConfig) -> Arc<dyn Source> {
    Arc::new(EvmLogSource::from_config(cfg, "nl_20260101_000000Z_deadbeef", &|_| None).unwrap())
}

fn by_asset<'a>(envs: &'a [Value], token: &Address) -> &'a Value {
    let id = format!("eth:{}", lower(token));
    envs.iter().find(|e| meta(e)["asset_id"] == id.as_str()).unwrap_or_else(|| panic!("no observation of {id}"))
}

#[tokio::test]
async fn discovers_v2_v3_v4_pools_with_decoded_fields_and_metadata() {
    let node = MockNode::start(2_000).await.unwrap();
    let (t1, t2, t3) = (addr(0x11, 1), addr(0x22, 2), addr(0x33, 3));
    let (pair, pool) = (addr(0xaa, 1), addr(0xbb, 2));
    node.add_token(t1, TokenInfo::standard("One Token", "ONE", 18, 1_000_000));
    let mut odd = TokenInfo::standard("Two", "TWO", 9, 0);
    odd.returns.insert("0x95d89b41", format!("0x{}", alloy_primitives::hex::encode(B256::right_padding_from(b"TWO"))));
    node.add_token(t2, odd);
    // t3 has no code: every metadata call reverts, which must become flags, not a crash.
    node.mine_with(vec![v2_pair(t1, a(WETH), pair)]);
    let v3 = events::PoolCreated { token0: a(WETH), token1: t2, fee: U24::from(3000), tickSpacing: I24::try_from(60).unwrap(), pool };
    node.mine_with(vec![MockLog { emitter: a(V3_FACTORY), data: v3.encode_log_data() }]);
    let pool_id = B256::repeat_byte(0x44);
    let v4 = events::Initialize {
        id: pool_id,
        currency0: Address::ZERO,
        currency1: t3,
        fee: U24::from(500),
        tickSpacing: I24::try_from(10).unwrap(),
        hooks: addr(0x55, 5),
        sqrtPriceX96: U160::from(1u64 << 48),
        tick: I24::try_from(-5).unwrap(),
    };
    let v4_block = node.mine_with(vec![MockLog { emitter: a(V4_POOL_MANAGER), data: v4.encode_log_data() }]);
    node.mine_with(vec![v2_pair(a(USDC), a(WETH), addr(0xaa, 9))]); // two quotes: not a listing
    node.mine(2);

    let h = Harness::new();
    let report = h.poll(source(&config(&node))).await;
    assert!(report.ok(), "{report:?}");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
    let obs = h.bus.observed();
    assert_eq!(obs.len(), 3, "{obs:#?}");

    let o1 = meta(by_asset(&obs, &t1));
    assert_eq!(o1["venue"], "uniswap_v2");
    assert_eq!(o1["instrument_id"], lower(&pair));
    assert_eq!(o1["details"]["token0"], lower(&t1));
    assert_eq!(o1["details"]["token1"], WETH);
    assert_eq!(o1["symbol"], "ONE");
    assert_eq!(o1["name"], "One Token");
    assert_eq!(o1["details"]["token_meta"]["decimals"], 18);
    assert_eq!(o1["details"]["token_meta"]["total_supply"], "1000000");
    assert_eq!(o1["source_published_at"], "2026-09-21T14:13:32Z", "block 1 time (1_790_000_012)");

    let o2 = meta(by_asset(&obs, &t2));
    assert_eq!(o2["venue"], "uniswap_v3");
    assert_eq!(o2["details"]["fee"], 3000);
    assert_eq!(o2["details"]["tick_spacing"], 60);
    assert_eq!(o2["details"]["pair"], lower(&pool));
    assert_eq!(o2["symbol"], "TWO");
    let flags = o2["details"]["token_meta"]["flags"].as_array().unwrap();
    assert!(flags.contains(&"symbol_bytes32".into()) && flags.contains(&"total_supply_zero".into()), "{flags:?}");

    let o3 = meta(by_asset(&obs, &t3));
    assert_eq!(o3["venue"], "uniswap_v4");
    assert_eq!(o3["instrument_id"], format!("{pool_id:#x}"));
    assert_eq!(o3["details"]["fee"], 500);
    assert_eq!(o3["details"]["hooks"], lower(&addr(0x55, 5)));
    assert_eq!(o3["details"]["block"], v4_block);
    assert_eq!(o3["symbol"], "");
    let flags = o3["details"]["token_meta"]["flags"].as_array().unwrap();
    assert!(flags.contains(&"symbol_reverted".into()) && flags.contains(&"decimals_reverted".into()), "{flags:?}");

    // Every RPC response is kept as a raw event.
    let raws = h.bus.raws("evm_eth");
    assert!(raws.len() >= 6, "blockNumber, getLogs, headers, metadata batches: {}", raws.len());
    let state = h.state_of("evm_eth").await.unwrap();
    assert_eq!(state["next_block"], node.head() - 2 + 1);
    assert!(state["last_block_hash"].is_string());
}

#[tokio::test]
async fn reorged_out_pool_is_retracted_and_survivors_are_not_repeated() {
    let node = MockNode::start(2_000).await.unwrap();
    let (ta, tb, tc) = (addr(0x11, 0xa), addr(0x11, 0xb), addr(0x11, 0xc));
    node.mine(2);
    node.mine_with(vec![v2_pair(ta, a(WETH), addr(0xaa, 0xa))]); // block 3, survives
    node.mine(1);
    node.mine_with(vec![v2_pair(tb, a(WETH), addr(0xaa, 0xb))]); // block 5, reorged out
    node.mine(2); // head 7
    let cfg = EvmChainConfig { confirmations: 1, reorg_rewind: 8, fetch_metadata: false, ..config(&node) };
    let h = Harness::new();
    assert!(h.poll(source(&cfg)).await.ok());
    assert_eq!(h.bus.observed().len(), 2);

    // Blocks 4..=7 are replaced: block 5 now creates a different pool.
    node.reorg(4, vec![vec![], vec![v2_pair(tc, a(WETH), addr(0xaa, 0xc))], vec![], vec![]]);
    node.mine(1);
    let report = h.poll(source(&cfg)).await;
    assert!(report.ok(), "{report:?}");
    let retracted = h.bus.retracted();
    assert_eq!(retracted.len(), 1, "{retracted:#?}");
    assert_eq!(meta(&retracted[0])["asset_id"], format!("eth:{}", lower(&tb)));
    assert_eq!(meta(&retracted[0])["change"], "retracted");
    let observed = h.bus.observed();
    assert_eq!(observed.len(), 3, "the survivor is not re-emitted after the rewind");
    by_asset(&observed, &tc);
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn removed_log_served_by_get_logs_retracts_with_its_raw() {
    let node = MockNode::start(2_000).await.unwrap();
    node.report_removed_in_get_logs();
    let gone = addr(0x12, 1);
    node.mine(2);
    node.mine_with(vec![v2_pair(gone, a(WETH), addr(0xab, 1))]); // block 3
    node.mine(2); // head 5
    let cfg = EvmChainConfig { confirmations: 1, reorg_rewind: 8, fetch_metadata: false, ..config(&node) };
    let h = Harness::new();
    assert!(h.poll(source(&cfg)).await.ok());
    assert_eq!(h.bus.observed().len(), 1);

    // Blocks 3..=5 are replaced; the node now serves block 3's log with `removed: true`.
    node.reorg(3, vec![vec![], vec![], vec![]]);
    let report = h.poll(source(&cfg)).await;
    assert!(report.ok(), "{report:?}");
    let retracted = h.bus.retracted();
    assert_eq!(retracted.len(), 1, "{retracted:#?}");
    let r = meta(&retracted[0]);
    assert_eq!(r["asset_id"], format!("eth:{}", lower(&gone)));
    // Retracted from the removed log itself (it carries its raw), not only because the re-scan lost the pool.
    let raw_id = r["raw_event_id"].as_str().expect("retraction points at the eth_getLogs raw");
    let raw = h.bus.raws("evm_eth").into_iter().find(|e| e["event_id"] == raw_id).unwrap();
    assert!(raw["meta"]["endpoint"].as_str().unwrap().contains("eth_getLogs"));
    assert!(raw["meta"]["payload"].as_str().unwrap().contains(r#""removed":true"#));
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn downtime_gap_is_backfilled_once() {
    let node = MockNode::start(2_000).await.unwrap();
    node.mine_with(vec![v2_pair(addr(0x10, 0), a(WETH), addr(0xaa, 0))]);
    node.mine(2);
    let cfg = EvmChainConfig { max_block_span: 16, fetch_metadata: false, ..config(&node) };
    let h = Harness::new();

    // First life: discover the one pair, then stop and drop the collector (the state store survives).
    let collector = Collector::new(vec![source(&cfg)], h.ctx());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(collector.run(async move {
        let _ = stopped.await;
    }));
    assert!(wait_until(Duration::from_secs(10), || async { h.bus.observed().len() == 1 }).await);
    stop.send(()).unwrap();
    run.await.unwrap();

    // Downtime: 50 pairs across ~150 blocks.
    let mut tokens = Vec::new();
    for i in 1..=50u64 {
        let t = addr(0x10, i);
        tokens.push(t);
        node.mine_with(vec![v2_pair(t, a(WETH), addr(0xaa, i))]);
        node.mine(i % 4);
    }
    let safe = node.mine(2) - 2;

    // Second life, same state store.
    let collector = Collector::new(vec![source(&cfg)], h.ctx());
    let counters = Arc::clone(&collector.counters()["evm_eth"]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(collector.run(async move {
        let _ = stopped.await;
    }));
    let caught_up = wait_until(Duration::from_secs(20), || async { h.state_of("evm_eth").await.is_some_and(|s| s["next_block"] == safe + 1) }).await;
    assert!(caught_up);
    // A few more polls once caught up: they must not repeat anything.
    let polls = counters.polls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(wait_until(Duration::from_secs(10), || async { counters.polls.load(std::sync::atomic::Ordering::Relaxed) >= polls + 3 }).await);
    stop.send(()).unwrap();
    run.await.unwrap();

    let observed = h.bus.observed();
    let ids: HashSet<String> = observed.iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(observed.len(), 51, "total listing.observed messages");
    assert_eq!(ids.len(), 51, "distinct event ids");
    for t in &tokens {
        by_asset(&observed, t);
    }
    assert!(node.ranges().iter().all(|(f, t, _)| t - f < 16), "chunked by max_block_span");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

#[tokio::test]
async fn range_cap_error_splits_the_range_and_misses_nothing() {
    let node = MockNode::start(10).await.unwrap();
    let mut tokens = Vec::new();
    for i in 0..12u64 {
        node.mine(7);
        let t = addr(0x20, i);
        tokens.push(t);
        node.mine_with(vec![v2_pair(t, a(WETH), addr(0xaa, 0x100 + i))]);
    }
    let safe = node.mine(5) - 2;
    let cfg = EvmChainConfig { max_block_span: 100, fetch_metadata: false, ..config(&node) };
    let h = Harness::new();
    let report = h.poll(source(&cfg)).await;
    assert!(report.ok(), "{report:?}");

    let ranges = node.ranges();
    assert!(ranges.iter().any(|(f, t, ok)| !ok && t - f + 1 > 10), "the cap was hit: {ranges:?}");
    let mut served: Vec<(u64, u64)> = ranges.iter().filter(|r| r.2).map(|r| (r.0, r.1)).collect();
    assert!(served.iter().all(|(f, t)| t - f < 10), "only capped ranges served: {served:?}");
    served.sort_unstable();
    assert_eq!(served.first().map(|r| r.0), Some(1));
    assert_eq!(served.last().map(|r| r.1), Some(safe));
    assert!(served.windows(2).all(|w| w[0].1 + 1 == w[1].0), "contiguous, no gaps: {served:?}");
    let observed = h.bus.observed();
    assert_eq!(observed.len(), 12);
    for t in &tokens {
        by_asset(&observed, t);
    }
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}
