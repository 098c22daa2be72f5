//! The Solana push source (`logsSubscribe` + `getTransaction`) on the programs that log no creation
//! event, against the loopback Solana node: a Raydium CPMM, Raydium LaunchLab, Meteora DAMM v2 or DLMM
//! pool creation is one `listing.observed` with the launched mint, its pool, the quote mint, the creator
//! and the block time, all read from the creation instruction of the fetched transaction; a swap (or
//! LaunchLab buy) of the same program, pushed just before it, reports nothing, neither pushed nor
//! backfilled. A CPMM pool for a mint the source saw created on LaunchLab is an update of that asset.
#![allow(clippy::unwrap_used)]

use crate::dex_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dex_support::{Harness, meta};
use nl_adapters::dex::config::{DexScreenerConfig, DexSourcesConfig, GeckoTerminalConfig};
use nl_adapters::dex::solana::WSOL_MINT;
use nl_adapters::dex::solana::config::SolanaConfig;
use nl_adapters::dex::solana::instructions::{METEORA_DAMM_V2, METEORA_DLMM, RAYDIUM_CPMM, RAYDIUM_LAUNCHLAB, anchor_ix};
use nl_collector::push::evm::build_dex_feeds;
use nl_collector::push::solana::SolanaPushSource;
use nl_testkit::solana_node::{MockTx, SolanaNode, pubkey};
use nl_testkit::solana_venues::{IX, cpmm_create, cpmm_swap, damm_v2_create, damm_v2_swap, dlmm_create, dlmm_swap, launchlab_buy, launchlab_create};
use nl_testkit::wait_until;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);
const NAME: &str = "solana_venues";
const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";

fn push_of(node: &SolanaNode, programs: &[&str]) -> Arc<SolanaPushSource> {
    let cfg = SolanaConfig {
        rpc_url: node.url.clone(),
        ws_url: Some(node.ws_url.clone()),
        programs: programs.iter().map(ToString::to_string).collect(),
        calls_per_sec: 100_000.0,
        interval_ms: 100,
        ws_backoff_base_ms: 20,
        ws_backoff_cap_ms: 100,
        ..SolanaConfig::default()
    };
    let dex = DexSourcesConfig {
        geckoterminal: GeckoTerminalConfig { enabled: false, ..GeckoTerminalConfig::default() },
        dexscreener: DexScreenerConfig { enabled: false, ..DexScreenerConfig::default() },
        solana: BTreeMap::from([(NAME.to_string(), cfg)]),
        ..DexSourcesConfig::default()
    };
    build_dex_feeds(&dex, "nl_20260101_000000Z_deadbeef", &|_| None).unwrap().solana.remove(0)
}

/// A push source on `programs` running over a fresh harness, subscribed, its cursors' baselines taken
/// (each program has one transaction of history, `history`, submitted before the start).
struct Running {
    node: SolanaNode,
    push: Arc<SolanaPushSource>,
    h: Harness,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(programs: &[(&str, &str)], history: Vec<MockTx>) -> Self {
        let node = SolanaNode::start().await.unwrap();
        for tx in history {
            node.submit(tx);
        }
        let push = push_of(&node, &programs.iter().map(|(dex, _)| *dex).collect::<Vec<_>>());
        let h = Harness::new();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(&push).run(h.ctx(), stop_rx));
        let ids: Vec<&str> = programs.iter().map(|(_, id)| *id).collect();
        let baselines = || async {
            let state = h.state_of(NAME).await;
            state.is_some_and(|s| ids.iter().all(|id| s["programs"][*id]["until"].is_string()))
        };
        assert!(wait_until(WAIT, || async { node.subscriptions() == programs.len() && baselines().await }).await, "subscribed, baselines taken");
        Self { node, push, h, stop, task }
    }

    fn observed(&self) -> Vec<Value> {
        self.h.bus.observed().iter().map(|o| meta(o).clone()).collect()
    }

    fn ignored(&self) -> u64 {
        self.push.status().ignored.load(Ordering::Relaxed)
    }

    /// Waits until two more backfills completed (whatever they would report is on the bus by then),
    /// stops, and checks nothing was shed and the node saw no malformed request.
    async fn settle_and_stop(self) -> Vec<Value> {
        let gap_fills = || self.push.status().push.gap_fills.load(Ordering::Relaxed);
        let at = gap_fills();
        assert!(wait_until(WAIT, || async { gap_fills() >= at + 2 }).await, "backfills keep running");
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
        assert_eq!(self.push.status().shed.load(Ordering::Relaxed), 0);
        assert!(self.node.violations().is_empty(), "{:?}", self.node.violations());
        self.h.bus.observed().iter().map(|o| meta(o).clone()).collect()
    }
}

/// Submits `swap` then `create` (the swap's notification is handled first), waits for the one
/// observation and checks what every venue shares; returns it.
async fn create_after_swap(r: &Running, swap: MockTx, create: MockTx) -> Value {
    let ignored = r.ignored();
    r.node.submit(swap);
    let sig = r.node.submit(create);
    assert!(wait_until(WAIT, || async { !r.observed().is_empty() && r.ignored() > ignored }).await, "creation observed, swap ignored");
    let o = r.observed().remove(0);
    assert_eq!((o["change"].as_str(), o["kind"].as_str()), (Some("new"), Some("dex_pool")), "{o:#}");
    assert_eq!(o["details"]["signature"], sig);
    let raw = r.h.bus.raws(NAME).into_iter().find(|x| x["event_id"] == o["raw_event_id"]).expect("the getTransaction response is kept raw");
    assert!(raw["meta"]["endpoint"].as_str().unwrap().ends_with(&format!("#getTransaction({sig})")), "{raw}");
    o
}

fn assert_launch(o: &Value, venue: &str, mint: &str, pool: &str, quote: &str, creator: &str, published: &str) {
    assert_eq!(o["venue"], venue, "{o:#}");
    assert_eq!((o["asset_id"].as_str(), o["base"].as_str()), (Some(format!("solana:{mint}").as_str()), Some(mint)), "the launched mint, not the quote, LP or position NFT");
    assert_eq!((o["instrument_id"].as_str(), o["details"]["pool"].as_str()), (Some(pool), Some(pool)), "the pool account");
    assert_eq!(o["quote"], quote);
    assert_eq!(o["details"]["creator"], creator);
    assert_eq!(o["source_published_at"], published, "block time");
}

/// The testkit's instruction discriminators are `sha256("global:<name>")[..8]`, as the decoder's are.
#[test]
fn discriminators_are_anchor_sighashes() {
    for (name, d) in IX {
        let h = Sha256::digest(format!("global:{name}").as_bytes());
        assert_eq!(&h[..8], d, "{name}");
        assert_eq!(&anchor_ix(name), d, "{name}");
    }
}

#[tokio::test]
async fn a_raydium_cpmm_pool_is_observed_and_a_swap_is_not() {
    let (creator, trader) = (pubkey(0xc1, 1), pubkey(0xd1, 1));
    let (old, old_pool) = (pubkey(0x61, 0), pubkey(0x91, 0));
    let r = Running::start(&[("raydium_cpmm", RAYDIUM_CPMM)], vec![cpmm_swap(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_000)]).await;
    let (mint, pool) = (pubkey(0x61, 1), pubkey(0x91, 1));
    let o = create_after_swap(&r, cpmm_swap(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_050), cpmm_create(&mint, WSOL_MINT, &pool, &creator, 1_790_000_100)).await;
    assert_launch(&o, "raydium_cpmm", &mint, &pool, WSOL_MINT, &creator, "2026-09-21T14:15:00Z");
    assert_eq!(o["details"]["decimals"], 6);
    let obs = r.settle_and_stop().await;
    assert_eq!(obs.len(), 1, "the swap reports nothing, pushed or backfilled: {obs:#?}");
}

#[tokio::test]
async fn a_raydium_launchlab_launch_is_observed_and_a_buy_is_not() {
    let (creator, trader) = (pubkey(0xc1, 2), pubkey(0xd1, 2));
    let (old, old_pool) = (pubkey(0x62, 0), pubkey(0x92, 0));
    let r = Running::start(&[("raydium_launchlab", RAYDIUM_LAUNCHLAB)], vec![launchlab_buy(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_000)]).await;
    let (mint, pool) = (pubkey(0x62, 1), pubkey(0x92, 1));
    let buy = launchlab_buy(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_150);
    let o = create_after_swap(&r, buy, launchlab_create(&mint, "Bonky", "BONKY", WSOL_MINT, &pool, &creator, 1_790_000_200)).await;
    assert_launch(&o, "raydium_launchlab", &mint, &pool, WSOL_MINT, &creator, "2026-09-21T14:16:40Z");
    assert_eq!((o["symbol"].as_str(), o["name"].as_str(), o["details"]["decimals"].as_u64()), (Some("BONKY"), Some("Bonky"), Some(6)), "MintParams");
    assert_eq!(o["details"]["kind"], "token_create");
    let obs = r.settle_and_stop().await;
    assert_eq!(obs.len(), 1, "the buy reports nothing, pushed or backfilled: {obs:#?}");
}

#[tokio::test]
async fn a_meteora_damm_v2_pool_is_observed_and_a_swap_is_not() {
    let (creator, trader) = (pubkey(0xc1, 3), pubkey(0xd1, 3));
    let (old, old_pool) = (pubkey(0x63, 0), pubkey(0x93, 0));
    let r = Running::start(&[("meteora_damm_v2", METEORA_DAMM_V2)], vec![damm_v2_swap(&old_pool, &old, USDC, &trader, 1_790_000_000)]).await;
    let (mint, pool) = (pubkey(0x63, 1), pubkey(0x93, 1));
    let o = create_after_swap(&r, damm_v2_swap(&old_pool, &old, USDC, &trader, 1_790_000_250), damm_v2_create(&mint, USDC, &pool, &creator, 1_790_000_300)).await;
    assert_launch(&o, "meteora_damm_v2", &mint, &pool, USDC, &creator, "2026-09-21T14:18:20Z");
    let obs = r.settle_and_stop().await;
    assert_eq!(obs.len(), 1, "the swap reports nothing, pushed or backfilled: {obs:#?}");
}

#[tokio::test]
async fn a_meteora_dlmm_pair_is_observed_and_a_swap_is_not() {
    let (creator, trader) = (pubkey(0xc1, 4), pubkey(0xd1, 4));
    let (old, old_pool) = (pubkey(0x64, 0), pubkey(0x94, 0));
    let r = Running::start(&[("meteora_dlmm", METEORA_DLMM)], vec![dlmm_swap(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_000)]).await;
    let (mint, pool) = (pubkey(0x64, 1), pubkey(0x94, 1));
    let o = create_after_swap(&r, dlmm_swap(&old_pool, &old, WSOL_MINT, &trader, 1_790_000_350), dlmm_create(&mint, WSOL_MINT, &pool, &creator, 1_790_000_400)).await;
    assert_launch(&o, "meteora_dlmm", &mint, &pool, WSOL_MINT, &creator, "2026-09-21T14:20:00Z");
    let obs = r.settle_and_stop().await;
    assert_eq!(obs.len(), 1, "the swap reports nothing, pushed or backfilled: {obs:#?}");
}

/// A mint launched on LaunchLab and then given a Raydium CPMM pool (as a LaunchLab graduation does) is an
/// update of the same asset on that pool, not a second new asset.
#[tokio::test]
async fn a_cpmm_pool_for_a_launchlab_mint_is_an_update() {
    let (creator, trader) = (pubkey(0xc1, 5), pubkey(0xd1, 5));
    let history = vec![launchlab_buy(&pubkey(0x95, 0), &pubkey(0x65, 0), WSOL_MINT, &trader, 1_790_000_000), cpmm_swap(&pubkey(0x95, 1), &pubkey(0x65, 1), WSOL_MINT, &trader, 1_790_000_000)];
    let r = Running::start(&[("raydium_launchlab", RAYDIUM_LAUNCHLAB), ("raydium_cpmm", RAYDIUM_CPMM)], history).await;
    let (mint, curve, pool) = (pubkey(0x65, 2), pubkey(0x95, 2), pubkey(0x95, 3));
    r.node.submit(launchlab_create(&mint, "Grad", "GRAD", WSOL_MINT, &curve, &creator, 1_790_000_100));
    assert!(wait_until(WAIT, || async { r.observed().len() == 1 }).await, "launch observed");
    r.node.submit(cpmm_create(&mint, WSOL_MINT, &pool, &pubkey(0xc1, 6), 1_790_003_000));
    assert!(wait_until(WAIT, || async { r.observed().len() == 2 }).await, "CPMM pool observed");
    let g = r.observed().remove(1);
    assert_eq!(g["asset_id"], format!("solana:{mint}"), "the same asset");
    assert_eq!((g["change"].as_str(), g["venue"].as_str(), g["instrument_id"].as_str()), (Some("updated"), Some("raydium_cpmm"), Some(pool.as_str())));
    assert_eq!((g["details"]["graduation"].as_bool(), g["quote"].as_str()), (Some(true), Some(WSOL_MINT)));
    let obs = r.settle_and_stop().await;
    assert_eq!(obs.len(), 2, "nothing reported twice: {obs:#?}");
}
