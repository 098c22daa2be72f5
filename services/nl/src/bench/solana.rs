//! `nl bench solana`: the Solana push path against the loopback Solana node (`nl_testkit::solana_node`),
//! a [`SolanaPushSource`] publishing on a `MemoryBus`.
//!
//! * **Detection latency**: the node pushes one pump.fun create's `logsNotification`; the clock runs until
//!   its `listing.observed` is on the bus, the `getTransaction` round trip included. Creates are sent one
//!   at a time.
//! * **Sustained creates/s**: creates are submitted at a fixed rate (each also followed by a trade the
//!   source must ignore) for a few seconds; the figure is creates observed per second over the run, next
//!   to the offered rate, with the shedding counter (launches dropped because `max_pending_fetches` were
//!   waiting), which must stay 0 for the rate to count as kept up with.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use nl_adapters::dex::solana::config::SolanaConfig;
use nl_adapters::dex::solana::source::SolanaLaunchSource;
use nl_bus::{Bus, ConsumerSpec, MemoryBus};
use nl_collector::push::solana::SolanaPushSource;
use nl_collector::{CollectorCtx, MemoryStateStore, RunIdentity, StateStore};
use nl_domain::EventType;
use nl_testkit::solana_node::{SolanaNode, pubkey, pump_create, pump_trade};

use super::collector::percentile;

const SOURCE: &str = "bench_solana";
const DEADLINE: Duration = Duration::from_secs(20);

struct Rig {
    node: SolanaNode,
    push: Arc<SolanaPushSource>,
    sub: Box<dyn nl_bus::Subscription>,
    stop: tokio::sync::watch::Sender<bool>,
    runner: tokio::task::JoinHandle<()>,
}

async fn rig(tag: &str) -> anyhow::Result<Rig> {
    let node = SolanaNode::start().await?;
    node.submit(pump_trade(&pubkey(0x99, 0), &pubkey(0xc0, 0), 1_790_000_000));
    let cfg = SolanaConfig {
        rpc_url: node.url.clone(),
        ws_url: Some(node.ws_url.clone()),
        programs: vec!["pumpfun".into(), "pumpswap".into()],
        calls_per_sec: 1_000_000.0,
        // The regular backfill keeps its production interval (30 s): the runs here are shorter, so only the
        // connect's backfill runs.
        ..SolanaConfig::default()
    };
    let scan = Arc::new(SolanaLaunchSource::from_config(SOURCE, &cfg, "bench", &|_| None).context("Solana source")?);
    let push = Arc::new(SolanaPushSource::new(scan, &node.ws_url, "bench"));
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let sub = bus.subscribe(ConsumerSpec::new(format!("bench_solana_{tag}"), EventType::ListingObserved.subject())).await?;
    let ctx = CollectorCtx {
        bus: bus.clone(),
        state: state.clone(),
        leases: None,
        lease_renew_every: Duration::from_secs(10),
        run: RunIdentity { run_id: "bench".into(), config_hash: "bench".into() },
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(Arc::clone(&push).run(ctx, stop_rx));
    let ready = nl_testkit::wait_until(DEADLINE, || async {
        node.subscriptions() == 2 && state.load(SOURCE).await.ok().flatten().is_some_and(|s| s["programs"].as_object().is_some_and(|p| p.len() >= 2))
    })
    .await;
    anyhow::ensure!(ready, "subscription and baseline not observed within {DEADLINE:?}");
    Ok(Rig { node, push, sub, stop, runner })
}

impl Rig {
    async fn finish(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
    }

    /// Waits for `want` observations (acking them): when the last one arrived, or how many came within
    /// 20 s of the call.
    async fn observe(&mut self, want: usize) -> Result<Instant, usize> {
        let until = Instant::now() + DEADLINE;
        let mut seen = 0;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(seen);
            }
            for d in self.sub.fetch(256, left).await.map_err(|_| seen)? {
                let _ = d.ack().await;
                seen += 1;
            }
            if seen >= want {
                return Ok(Instant::now());
            }
        }
    }
}

/// (p50, p99) of `n` pushed creates, notification → `listing.observed`.
///
/// # Errors
/// When the node or source cannot start, or a create is not observed within 20 s.
pub async fn bench_push_latency(n: usize) -> anyhow::Result<(Duration, Duration)> {
    let mut r = rig("latency").await?;
    let creator = pubkey(0xc0, 1);
    let mut latencies = Vec::with_capacity(n);
    let mut result = Ok(());
    for i in 0..n as u64 {
        let sent = Instant::now();
        r.node.submit(pump_create(&pubkey(0x50, i), "Bench", "BNCH", &creator, 1_790_000_000 + i as i64));
        match r.observe(1).await {
            Ok(at) => latencies.push(at.duration_since(sent)),
            Err(_) => {
                result = Err(anyhow::anyhow!("create {i} not observed within {DEADLINE:?}"));
                break;
            }
        }
    }
    r.finish().await;
    result?;
    latencies.sort();
    Ok((percentile(&latencies, 0.50), percentile(&latencies, 0.99)))
}

/// What a sustained run gave.
pub struct Sustained {
    /// Creates offered.
    pub offered: u64,
    /// Creates observed by the end (all of them, or as many as came within 20 s of the last offer).
    pub observed: u64,
    /// Observed creates per second, from the first offer to the last observation.
    pub per_sec: f64,
    /// Launches shed by the pending-fetch bound.
    pub shed: u64,
}

/// Creates offered at `rate`/s for `secs` seconds, each followed by a trade the source must ignore.
///
/// # Errors
/// When the node or source cannot start.
pub async fn bench_sustained(rate: u32, secs: u32) -> anyhow::Result<Sustained> {
    let mut r = rig(&format!("rate{rate}")).await?;
    let creator = pubkey(0xc0, 2);
    let total = u64::from(rate) * u64::from(secs);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    for i in 0..total {
        tick.tick().await;
        let mint = pubkey(0x60, i);
        r.node.submit(pump_create(&mint, "Rate", "RATE", &creator, 1_790_000_000 + i as i64));
        r.node.submit(pump_trade(&mint, &creator, 1_790_000_000 + i as i64));
    }
    let observed = r.observe(usize::try_from(total).unwrap_or(usize::MAX)).await;
    let shed = r.push.status().shed.load(Ordering::Relaxed);
    r.finish().await;
    let (observed, last) = match observed {
        Ok(at) => (total, at),
        Err(seen) => (seen as u64, Instant::now()),
    };
    Ok(Sustained { offered: total, observed, per_sec: observed as f64 / last.duration_since(start).as_secs_f64(), shed })
}
