//! Solana backfill cost after a long outage on a busy program (#20), through the collector runtime's
//! poll (publish, then save the cursor) against the loopback Solana node: each poll reads at most
//! `max_pages_per_poll` signature pages and the rest of the gap is carried in the durable cursor; a
//! restart (a new source over the same saved state) resumes from that cursor without fetching anything
//! twice; transactions that land while the gap is paged are found once it closes; and `max_tx_per_poll`
//! bounds the fetches of a poll the same way.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::HashSet;
use std::sync::Arc;

use dex_support::{Harness, meta};
use nl_adapters::Source;
use nl_adapters::dex::solana::config::SolanaConfig;
use nl_adapters::dex::solana::events::PUMP_FUN;
use nl_adapters::dex::solana::source::SolanaLaunchSource;
use nl_testkit::solana_node::{SolanaNode, pubkey, pump_create, pump_trade};
use serde_json::Value;

const NAME: &str = "solana_backfill";

fn source(node: &SolanaNode, page_limit: u32, max_pages: u32, max_tx: u32) -> Arc<dyn Source> {
    let cfg = SolanaConfig {
        rpc_url: node.url.clone(),
        programs: vec!["pumpfun".into()],
        page_limit,
        max_pages_per_poll: max_pages,
        max_tx_per_poll: max_tx,
        calls_per_sec: 100_000.0,
        ..SolanaConfig::default()
    };
    Arc::new(SolanaLaunchSource::from_config(NAME, &cfg, "nl_20260101_000000Z_deadbeef", &|_| None).unwrap())
}

/// `(getSignaturesForAddress, getTransaction)` calls a poll made.
async fn poll(h: &Harness, node: &SolanaNode, src: &Arc<dyn Source>) -> (usize, usize) {
    let before = (node.calls("getSignaturesForAddress"), node.calls("getTransaction"));
    let report = h.poll(Arc::clone(src)).await;
    assert!(report.ok(), "{:?}", report.errors);
    (node.calls("getSignaturesForAddress") - before.0, node.calls("getTransaction") - before.1)
}

async fn program_cursor(h: &Harness) -> Value {
    h.state_of(NAME).await.unwrap()["programs"][PUMP_FUN].clone()
}

fn mints(h: &Harness) -> Vec<String> {
    h.bus.observed().iter().map(|o| meta(o)["base"].as_str().unwrap().to_string()).collect()
}

/// 150 creates (each with a trade: 300 transactions) during an outage, 50 signatures a page, 2 pages a
/// poll: 100 transactions per poll, the gap carried in the saved cursor, a restart mid-gap resuming from
/// it, and 5 creates that land while the gap is paged found after it closes.
#[tokio::test]
async fn a_long_gap_is_paged_over_polls_and_a_restart_resumes_from_the_saved_cursor() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 9);
    node.submit(pump_trade(&pubkey(0x99, 9), &creator, 1_790_000_000));
    let h = Harness::new();
    let first = source(&node, 50, 2, 2_000);
    assert_eq!(poll(&h, &node, &first).await, (1, 0), "baseline: the newest signature only");
    let top_before = program_cursor(&h).await["until"].clone();

    let created: Vec<String> = (0..150).map(|i| pubkey(0x50, i)).collect();
    for (i, m) in created.iter().enumerate() {
        node.submit(pump_create(m, "Gap", &format!("G{i}"), &creator, 1_790_100_000 + i as i64));
        node.submit(pump_trade(m, &creator, 1_790_100_000 + i as i64));
    }

    // Poll 1 of the gap: two pages, 100 transactions; the rest is carried.
    assert_eq!(poll(&h, &node, &first).await, (2, 100));
    let c = program_cursor(&h).await;
    assert_eq!(c["until"], top_before, "until does not move while a gap is open");
    assert!(c["gap"]["before"].is_string(), "the gap's progress is saved: {c}");
    assert_eq!(mints(&h).len(), 50, "the newest 50 creates (each with its trade)");

    // Restart: a new source over the saved state continues where the cursor says.
    drop(first);
    let second = source(&node, 50, 2, 2_000);
    let landed: Vec<String> = (0..5).map(|i| pubkey(0x51, i)).collect();
    for (i, m) in landed.iter().enumerate() {
        node.submit(pump_create(m, "Meanwhile", &format!("M{i}"), &creator, 1_790_200_000 + i as i64));
    }
    assert_eq!(poll(&h, &node, &second).await, (2, 100), "continues the gap, not the new head");
    assert_eq!(mints(&h).len(), 100);
    let (pages, txs) = poll(&h, &node, &second).await;
    assert_eq!(txs, 100, "the last 100 of the gap");
    assert!(pages <= 2, "{pages} pages");
    let (_, txs) = poll(&h, &node, &second).await;
    let c = program_cursor(&h).await;
    assert!(c["gap"].is_null(), "gap closed: {c}");
    let (_, more) = poll(&h, &node, &second).await;
    assert_eq!(txs + more, 5, "then the 5 that landed meanwhile, once");

    let got: HashSet<String> = mints(&h).into_iter().collect();
    let want: HashSet<String> = created.iter().chain(&landed).cloned().collect();
    assert_eq!(got, want);
    assert_eq!(mints(&h).len(), 155, "each create exactly once");
    let fetched = node.ledger().fetched.clone();
    assert_eq!(fetched.len(), HashSet::<&String>::from_iter(&fetched).len(), "no transaction fetched twice");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}

/// `max_tx_per_poll` bounds one poll's fetches even when one page holds more.
#[tokio::test]
async fn max_tx_per_poll_bounds_a_poll_and_carries_the_rest() {
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 10);
    node.submit(pump_trade(&pubkey(0x99, 10), &creator, 1_790_000_000));
    let h = Harness::new();
    let src = source(&node, 1_000, 10, 30);
    poll(&h, &node, &src).await;
    for i in 0..40 {
        node.submit(pump_create(&pubkey(0x52, i), "Cap", "CAP", &creator, 1_790_300_000 + i as i64));
    }
    assert_eq!(poll(&h, &node, &src).await.1, 30);
    assert!(program_cursor(&h).await["gap"].is_object());
    assert_eq!(poll(&h, &node, &src).await.1, 10);
    assert!(program_cursor(&h).await["gap"].is_null());
    assert_eq!(mints(&h).len(), 40);
}

/// The minimum-activity trigger (3 trades within 60 s) when a backfill meets a mint's trades before its
/// create: with 3 transactions a poll, the first poll of the gap fetches the 3 trades (newest first) and
/// the next one the create. The trades are held in the saved cursor (across a restart) and counted once the
/// create is seen: the create and then its activity report, once, and a later trade reports nothing more.
#[tokio::test]
async fn trades_backfilled_before_their_create_count_once_it_is_seen() {
    use nl_adapters::dex::solana::activity::ActivityTrigger;
    let node = SolanaNode::start().await.unwrap();
    let creator = pubkey(0xc0, 11);
    node.submit(pump_trade(&pubkey(0x99, 11), &creator, 1_790_000_000));
    let cfg = |node: &SolanaNode| SolanaConfig {
        rpc_url: node.url.clone(),
        programs: vec!["pumpfun".into()],
        max_tx_per_poll: 3,
        calls_per_sec: 100_000.0,
        activity: Some(ActivityTrigger { trades: 3, window_secs: 60 }),
        ..SolanaConfig::default()
    };
    let src = |node: &SolanaNode| -> Arc<dyn Source> {
        Arc::new(SolanaLaunchSource::from_config(NAME, &cfg(node), "nl_20260101_000000Z_deadbeef", &|_| None).unwrap())
    };
    let h = Harness::new();
    let first = src(&node);
    poll(&h, &node, &first).await;

    let mint = pubkey(0x53, 1);
    node.submit(pump_create(&mint, "Early", "EARLY", &creator, 1_790_400_000));
    for i in 1..=3 {
        node.submit(pump_trade(&mint, &creator, 1_790_400_000 + i));
    }
    assert_eq!(poll(&h, &node, &first).await.1, 3, "the 3 trades");
    assert!(h.bus.observed().is_empty(), "no create seen yet");
    let state = h.state_of(NAME).await.unwrap();
    assert_eq!(state["early_trades"][0]["mint"], mint, "held in the saved cursor: {state}");

    drop(first);
    let second = src(&node);
    assert_eq!(poll(&h, &node, &second).await.1, 1, "the create");
    let obs: Vec<Value> = h.bus.observed().iter().map(|o| meta(o).clone()).collect();
    assert_eq!(obs.len(), 2, "{obs:#?}");
    assert_eq!((obs[0]["change"].as_str(), obs[0]["base"].as_str()), (Some("new"), Some(mint.as_str())));
    assert_eq!((obs[1]["change"].as_str(), obs[1]["base"].as_str()), (Some("updated"), Some(mint.as_str())));
    assert_eq!(obs[1]["details"]["activity"]["trades"], 3, "the held trades counted");
    assert!(h.state_of(NAME).await.unwrap()["early_trades"].is_null(), "taken once the create is tracked");

    node.submit(pump_trade(&mint, &creator, 1_790_400_010));
    poll(&h, &node, &second).await;
    poll(&h, &node, &second).await;
    assert_eq!(h.bus.observed().len(), 2, "reported once");
    assert!(node.violations().is_empty(), "{:?}", node.violations());
}
