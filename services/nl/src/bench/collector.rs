//! `nl bench collector` and `nl bench dex-evm`: detection-latency benchmarks, how long from "the venue starts listing an instrument" to
//! "`listing.observed` is durably published".
//!
//! * [`bench_poll_detection`]: a mock OKX venue serves a baseline; the collector runs over a `MemoryBus`
//!   with one OKX instrument-list source; each round adds one instrument at a pseudo-random phase of the
//!   poll cycle and times its observation. Expect p50 ≈ interval / 2 plus fetch and publish overhead, and
//!   p99 ≈ interval.
//! * [`bench_evm_push_latency`]: the loopback mock node mines one block with a V2 `PairCreated` and pushes
//!   the log over `eth_subscribe("logs")`; timed from just before the push to the pair's `listing.observed`
//!   on a `MemoryBus`. Per pushed log the task looks up the block header and the token's ERC-20 metadata
//!   (two JSON-RPC round trips to the mock) and saves the cursor, as it does in production; the regular
//!   `eth_getLogs` poll runs every 250 ms alongside.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use nl_adapters::Source;
use nl_testkit::cex_venue::{MockResponse, MockVenue};
use nl_adapters::cex::okx;
use nl_adapters::cex::poll::InstrumentListSource;
use nl_adapters::dex::config::EvmChainConfig;
use nl_adapters::dex::evm::client::EvmLogSource;
use nl_testkit::evm_node::{ETH_V2_FACTORY, MockLog, MockNode, TokenInfo};
use nl_adapters::kit::{Budget, BudgetConfig, HttpConfig, HttpSource};
use nl_bus::{Bus, ConsumerSpec, MemoryBus};
use nl_domain::EventType;
use serde_json::json;
use tokio::time::Instant;

use nl_collector::push::evm::EvmPushSource;
use nl_collector::{Collector, CollectorCtx, MemoryStateStore, RunIdentity, StateStore};

/// Path of the OKX instrument list on the mock venue.
const OKX_PATH: &str = "/api/v5/public/instruments";
const SOURCE: &str = "bench_okx_spot";

fn okx_payload(n: usize) -> String {
    let mut data = vec![json!({"instId": "BTC-USD", "instType": "SPOT", "baseCcy": "BTC", "quoteCcy": "USD", "state": "live", "listTime": "1733454000000"})];
    data.extend(
        (0..n).map(|i| json!({"instId": format!("NEW{i}-USD"), "instType": "SPOT", "baseCcy": format!("NEW{i}"), "quoteCcy": "USD", "state": "preopen"})),
    );
    json!({"code": "0", "msg": "", "data": data}).to_string()
}

/// A deterministic pseudo-random fraction in `[0, 1)` (no RNG dependency; only spreads emission phases).
fn phase(i: usize) -> f64 {
    let x = (i as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64
}

/// The `p` quantile (0..=1, nearest rank) of ascending `sorted`; zero when empty.
#[must_use]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `n` detections with a poll source at `interval` and returns the (p50, p99) latency from the mock
/// venue serving a new instrument to its `listing.observed` being published. Runs in real time: about
/// `n × interval`.
///
/// # Errors
/// When the mock venue, source or bus cannot start, or a listing is not observed within
/// three intervals plus 5 s.
pub async fn bench_poll_detection(interval: Duration, n: usize) -> anyhow::Result<(Duration, Duration)> {
    let venue = MockVenue::start().await?;
    venue.set(OKX_PATH, MockResponse::json(okx_payload(0)));
    let budget = Arc::new(Budget::new(BudgetConfig::new(1000.0, 1000.0)).context("bench budget")?);
    let http = HttpSource::new(SOURCE, HttpConfig::new(venue.base_url()), budget).context("bench HTTP source")?;
    let source: Arc<dyn Source> = Arc::new(InstrumentListSource::new(SOURCE, interval, http, okx::client::SPOT, "bench"));
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let ctx = bench_ctx(&bus, &state);
    let mut sub = bus.subscribe(ConsumerSpec::new("bench_detection", EventType::ListingObserved.subject())).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector = Collector::new(vec![source], ctx);
    let runner = tokio::spawn(collector.run(async move {
        let _ = stop_rx.await;
    }));
    let deadline = interval * 3 + Duration::from_secs(5);
    let baseline = nl_testkit::wait_until(deadline, || async { state.load(SOURCE).await.ok().flatten().is_some() }).await;
    let mut latencies = Vec::with_capacity(n);
    let result = if baseline {
        measure(&venue, sub.as_mut(), interval, n, deadline, &mut latencies).await
    } else {
        Err(anyhow::anyhow!("baseline not observed within {deadline:?}"))
    };
    let _ = stop_tx.send(());
    let _ = runner.await;
    result?;
    latencies.sort();
    Ok((percentile(&latencies, 0.50), percentile(&latencies, 0.99)))
}

async fn measure(
    venue: &MockVenue,
    sub: &mut dyn nl_bus::Subscription,
    interval: Duration,
    n: usize,
    deadline: Duration,
    latencies: &mut Vec<Duration>,
) -> anyhow::Result<()> {
    for i in 0..n {
        // Pacing, not waiting for work: spreads each emission over the poll cycle.
        tokio::time::sleep(interval.mul_f64(phase(i))).await;
        venue.set(OKX_PATH, MockResponse::json(okx_payload(i + 1)));
        let emitted = Instant::now();
        let want = format!("NEW{i}-USD");
        let until = emitted + deadline;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                anyhow::bail!("{want} not observed within {deadline:?}");
            }
            let batch = sub.fetch(16, left).await?;
            let mut seen = false;
            for d in batch {
                let body: serde_json::Value = serde_json::from_slice(&d.message.payload).unwrap_or_default();
                seen |= body["meta"]["instrument_id"] == want.as_str();
                d.ack().await?;
            }
            if seen {
                latencies.push(emitted.elapsed());
                break;
            }
        }
    }
    Ok(())
}

fn bench_ctx(bus: &Arc<MemoryBus>, state: &Arc<MemoryStateStore>) -> CollectorCtx {
    CollectorCtx {
        bus: bus.clone(),
        state: state.clone(),
        leases: None,
        lease_renew_every: Duration::from_secs(10),
        run: RunIdentity { run_id: "bench".into(), config_hash: "bench".into() },
    }
}

/// Runs `n` pushed pair creations through an [`EvmPushSource`] connected to the loopback mock node and
/// returns the (p50, p99) latency from the node pushing the log to its `listing.observed` being published.
///
/// # Errors
/// When the mock node, source or bus cannot start, or a pair is not observed within 10 s.
pub async fn bench_evm_push_latency(n: usize) -> anyhow::Result<(Duration, Duration)> {
    const SOURCE: &str = "bench_evm_eth";
    let deadline = Duration::from_secs(10);
    let node = MockNode::start(2_000).await?;
    node.mine(3);
    let cfg = EvmChainConfig {
        name: Some(SOURCE.into()),
        chain: "eth".into(),
        rpc_url: node.url.clone(),
        ws_url: Some(node.ws_url.clone()),
        // The chain's regular eth_getLogs poll runs alongside, as in production; it also prunes the cursor's
        // remembered pools (the bench mines far faster than a real chain, one pool per block).
        interval_ms: 250,
        calls_per_sec: 1_000_000.0,
        ..EvmChainConfig::default()
    };
    let scan = Arc::new(EvmLogSource::from_config(&cfg, "bench", &|_| None).context("EVM log source")?);
    let push = Arc::new(EvmPushSource::from_config(&cfg, scan, "bench", &|_| None).context("EVM push source")?);
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let mut sub = bus.subscribe(ConsumerSpec::new("bench_evm_push", EventType::ListingObserved.subject())).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(Arc::clone(&push).run(bench_ctx(&bus, &state), stop_rx));
    let ready = nl_testkit::wait_until(deadline, || async { node.subscriptions() > 0 && state.load(SOURCE).await.ok().flatten().is_some() }).await;
    let result =
        if ready { push_rounds(&node, sub.as_mut(), n, deadline).await } else { Err(anyhow::anyhow!("subscription and backfill not observed within {deadline:?}")) };
    let _ = stop_tx.send(true);
    let _ = runner.await;
    let mut latencies = result?;
    latencies.sort();
    Ok((percentile(&latencies, 0.50), percentile(&latencies, 0.99)))
}

async fn push_rounds(node: &MockNode, sub: &mut dyn nl_bus::Subscription, n: usize, deadline: Duration) -> anyhow::Result<Vec<Duration>> {
    let factory: alloy_primitives::Address = ETH_V2_FACTORY.parse().map_err(|e| anyhow::anyhow!("factory address: {e}"))?;
    let weth: alloy_primitives::Address = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".parse().map_err(|e| anyhow::anyhow!("WETH address: {e}"))?;
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let token = alloy_primitives::Address::left_padding_from(&(0xbe00_0000_0000 + i).to_be_bytes());
        let pair = alloy_primitives::Address::left_padding_from(&(0xfa00_0000_0000 + i).to_be_bytes());
        node.add_token(token, TokenInfo::standard("Bench Token", "BNCH", 18, 1_000_000));
        let want = format!("eth:{token:#x}");
        let sent = Instant::now();
        node.mine_with(vec![MockLog::v2_pair(factory, token, weth, pair)]);
        let until = sent + deadline;
        'wait: loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                anyhow::bail!("{want} not observed within {deadline:?}");
            }
            for d in sub.fetch(16, left).await? {
                let body: serde_json::Value = serde_json::from_slice(&d.message.payload).unwrap_or_default();
                d.ack().await?;
                if body["meta"]["asset_id"] == want.as_str() {
                    latencies.push(sent.elapsed());
                    break 'wait;
                }
            }
        }
    }
    Ok(latencies)
}
