//! Benchmarks that print figures; build with `--release` for meaningful numbers.
//!
//! * `nl bench ledger`: events/s into SQLite through `MemoryBus` and through NATS, next to SQLite's raw
//!   batched-insert rate for the same rows on the same machine, in the same run;
//! * `nl bench collector`: CEX listing detection latency, OKX instrument-list polling and OKX WebSocket push,
//!   against loopback mock venues;
//! * `nl bench dex-evm`: EVM push detection latency against the loopback mock node, and factory-log decode
//!   throughput;
//! * `nl bench solana` ([`solana`]): Solana push detection latency and sustained creates/s against the
//!   loopback Solana node;
//! * `nl bench risk-gate`: snapshot -> risk-scorer -> gate over `MemoryBus`, providers on loopback;
//! * `nl bench enrich` ([`crate::bench_enrich`]): enrich + risk + score + gate per asset over `MemoryBus`;
//! * `nl bench pipeline` ([`crate::bench_pipeline`]): the separate-process deployment over NATS;
//! * `nl bench rederive` ([`rederive`]): raw events/s and persisted listings/s re-derived (normalize, enrich,
//!   risk, score, gate into a scratch DB) from a generated run of GeckoTerminal `new_pools` pages and the
//!   GoPlus/honeypot.is answers for their tokens, with peak RSS, next to the Python reference;
//! * `nl bench bytes` ([`crate::bench_bytes`]): bytes written per listing, next to the Python reference's;
//! * `nl bench web` ([`crate::bench_web`]): dashboard page renders and SSE delay on a large ledger.
//! * `nl bench run-memory` ([`crate::bench_run`]): `nl run`'s peak memory tracking N assets, and decisions on
//!   unchanged re-snapshots;
//! * `nl bench kernel` ([`crate::bench_kernel`]): issue 14's figures in one run, next to their baselines.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nl_bus::memory::MemoryBusConfig;
use nl_bus::{Bus, CancellationToken, MemoryBus, Message, NatsBus, ServiceCtx};
use nl_collector::RunIdentity;
use nl_config::Loaded;
use nl_ledger::LedgerConfig;

mod bus;
mod dex;
mod ledger;
pub(crate) mod collector;
mod collector_push;
mod rederive;
mod risk_gate;
mod solana;

pub(crate) use rederive::rederive_generated;

use crate::cli::BenchTarget;
use crate::config::NlConfig;

/// Runs a benchmark and prints its figures.
///
/// # Errors
/// When a component cannot be started.
pub async fn run(loaded: &Loaded<NlConfig>, target: BenchTarget, n: Option<usize>, runs: usize) -> anyhow::Result<ExitCode> {
    let n = n.unwrap_or_else(|| target.default_events());
    match target {
        BenchTarget::Ledger => ledger(n).await?,
        BenchTarget::Enrich => enrich(n).await?,
        BenchTarget::Collector => collector(n).await?,
        BenchTarget::DexEvm => dex_evm(n).await?,
        BenchTarget::Solana => solana_bench(n).await?,
        BenchTarget::RiskGate => risk_gate(n).await?,
        BenchTarget::Pipeline => crate::bench_pipeline::pipeline(loaded, n).await?,
        BenchTarget::Rederive => rederive::bench(loaded, n, runs).await?,
        BenchTarget::Bytes => crate::bench_bytes::bytes(loaded, n, runs).await?,
        BenchTarget::Web => crate::bench_web::web(n).await?,
        BenchTarget::Ai => crate::bench_ai::ai(n).await?,
        BenchTarget::Backtest => crate::bench_paper::backtest_bench(n).await?,
        BenchTarget::RunMemory => crate::bench_run::run_memory(loaded, n, runs).await?,
        BenchTarget::Kernel => crate::bench_kernel::kernel(loaded, n, runs).await?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn build_kind() -> &'static str {
    if cfg!(debug_assertions) { "DEBUG (use --release)" } else { "release" }
}

/// Most pushed pairs timed by `nl bench dex-evm` (each is one mined block and a few round trips).
const MAX_PUSH_ROUNDS: usize = 1_000;

/// Most listings timed per detection path by `nl bench collector` (polling runs in real time, one interval each).
const MAX_DETECTION_ROUNDS: usize = 50;
/// Poll interval of the instrument-list source in `nl bench collector`.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

async fn collector(n: usize) -> anyhow::Result<()> {
    let rounds = n.clamp(1, MAX_DETECTION_ROUNDS);
    println!("nl bench collector: {rounds} new listings per detection path, {} build", build_kind());
    let (p50, p99) = collector::bench_poll_detection(POLL_INTERVAL, rounds).await.context("poll detection bench")?;
    println!("  poll detection (OKX instrument list every {POLL_INTERVAL:?} -> listing.observed): p50 {p50:>9.3?}  p99 {p99:>9.3?}");
    let (p50, p99) = collector_push::bench_push_detection(rounds).await.context("push detection bench")?;
    println!("  push detection (OKX WebSocket frame -> listing.observed):           p50 {p50:>9.3?}  p99 {p99:>9.3?}");
    Ok(())
}

async fn dex_evm(n: usize) -> anyhow::Result<()> {
    use dex::{decode_frames_throughput, decode_throughput, generate_logs, subscription_frame};
    let rounds = n.clamp(1, MAX_PUSH_ROUNDS);
    println!("nl bench dex-evm: {rounds} pushed pairs, {n} logs decoded, {} build", build_kind());
    let (p50, p99) = collector::bench_evm_push_latency(rounds).await.context("EVM push latency bench")?;
    println!("  push detection (WS log -> listing.observed, header + ERC-20 metadata lookups): p50 {p50:>9.3?}  p99 {p99:>9.3?}");
    let logs = generate_logs(n);
    let d = decode_throughput(&logs);
    println!("  decode + observations from parsed logs (V2/V3/V4 mix):  {:>12.0} logs/s  ({} observations)", d.logs_per_sec, d.observations);
    let frames: Vec<String> = logs.iter().map(subscription_frame).collect();
    let f = decode_frames_throughput(&frames);
    println!("  JSON frame parse + decode + observations:               {:>12.0} logs/s  ({} observations)", f.logs_per_sec, f.observations);
    Ok(())
}

/// Most pushed creates timed by `nl bench solana`.
const MAX_SOLANA_ROUNDS: usize = 1_000;

async fn solana_bench(n: usize) -> anyhow::Result<()> {
    let rounds = n.clamp(1, MAX_SOLANA_ROUNDS);
    println!("nl bench solana: {rounds} pushed pump.fun creates, {} build", build_kind());
    let (p50, p99) = solana::bench_push_latency(rounds).await.context("Solana push latency bench")?;
    println!("  push detection (logsNotification -> getTransaction -> listing.observed): p50 {p50:>9.3?}  p99 {p99:>9.3?}  (target p99 < 50 ms)");
    for rate in [200, 500, 1_000] {
        let s = solana::bench_sustained(rate, 5).await.with_context(|| format!("Solana sustained bench at {rate}/s"))?;
        let kept = if s.observed == s.offered { "kept up" } else { "fell behind" };
        println!(
            "  sustained: {rate:>5} creates/s offered for 5 s (+1 trade each): {}/{} observed, {:>6.0} creates/s, shed {} ({kept}; target >= 200/s with shed 0)",
            s.observed, s.offered, s.per_sec, s.shed
        );
    }
    Ok(())
}

async fn ledger(n: usize) -> anyhow::Result<()> {
    println!("nl bench ledger: {n} events of ~200 bytes, {} build", build_kind());
    let raw = ledger::bench_raw_insert(n).await.context("raw SQLite insert bench")?;
    println!("  SQLite raw batched insert (push_values, 1 tx/{} rows):  {raw:>10.0} rows/s", ledger::BENCH_TX_ROWS);

    let store = ledger::bench_ledger_apply(n, ledger::BENCH_TX_ROWS, 2).await.context("ledger store bench")?;
    println!("  ledger store apply, no bus (dedup, typed dispatch):       {store:>10.0} events/s  ({:.0}% of raw)", 100.0 * store / raw.max(1.0));

    let (rate, publish) = through_memory_bus(n).await?;
    println!("  MemoryBus publish:                                        {publish:>10.0} events/s");
    println!("  MemoryBus -> ledger -> SQLite (end to end):               {rate:>10.0} events/s  ({:.0}% of raw)", 100.0 * rate / raw.max(1.0));

    match nl_testkit::NatsServer::try_start(None).await {
        Ok(server) => {
            let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&server.bus_config()).await.context("connecting to the bench nats-server")?);
            let (rate, publish) = through_bus(Arc::clone(&bus), n, "nats-backlog", Mode::Backlog, Wire::Json).await?;
            println!("  NATS JetStream publish (windowed PubAcks, nothing consuming): {publish:>6.0} events/s");
            println!("  NATS -> ledger -> SQLite (draining that backlog):         {rate:>10.0} events/s  ({:.0}% of raw)", 100.0 * rate / raw.max(1.0));
            let consume = bus::bench_consume(bus.as_ref(), nl_ledger::service::EVENTS_FILTER, n).await.context("NATS consume bench")?;
            println!("  NATS fetch + ack only, same backlog (no store):           {consume:>10.0} events/s");
            // Fresh stream contents: a second server, so the ledger does not see the backlog's events.
            drop(bus);
            drop(server);
            let server = nl_testkit::NatsServer::try_start(None).await.map_err(|e| anyhow::anyhow!("second bench nats-server: {e}"))?;
            let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&server.bus_config()).await.context("connecting to the bench nats-server")?);
            let (rate, publish) = through_bus(bus, n, "nats", Mode::Concurrent, Wire::Json).await?;
            println!("  NATS publish while the ledger consumes:                   {publish:>10.0} events/s");
            println!("  NATS publish -> ledger -> SQLite (end to end, concurrent):{rate:>10.0} events/s");
        }
        Err(e) => println!("  NATS: skipped ({e})"),
    }
    Ok(())
}

/// `nl bench ledger`'s headline pair, as `nl bench kernel` repeats it: SQLite's raw batched insert of `n`
/// events rows, then the same envelopes through MemoryBus -> ledger -> SQLite (events/s each).
pub(crate) async fn ledger_vs_raw(n: usize) -> anyhow::Result<(f64, f64)> {
    let raw = ledger::bench_raw_insert(n).await.context("raw SQLite insert bench")?;
    let (mem, _) = through_memory_bus(n).await?;
    Ok((raw, mem))
}

/// `n` envelopes published on a fresh MemoryBus while the ledger consumes: (ledger events/s, publish events/s).
/// They go out typed, as embedded mode's services publish them.
async fn through_memory_bus(n: usize) -> anyhow::Result<(f64, f64)> {
    let mem: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig { max_messages: n.max(1) * 2, ..MemoryBusConfig::default() }));
    through_bus(mem, n, "memory", Mode::Concurrent, Wire::Typed).await
}

/// What `through_bus` publishes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// The envelopes themselves ([`Message::typed`]), as services publish on MemoryBus: the ledger parses
    /// nothing and writes JSON only for what a row keeps as JSON (here every `manual.note`'s body).
    Typed,
    /// Their JSON, written before the clock starts, as NATS carries it; the ledger parses each one.
    Json,
}

/// How `through_bus` feeds the ledger.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Publish while the ledger consumes; the rate is events over first publish to last commit.
    Concurrent,
    /// Publish everything first, then start the ledger; the rate is events over its start to its last commit.
    Backlog,
}

async fn risk_gate(n: usize) -> anyhow::Result<()> {
    println!("nl bench risk-gate: {n} assets, snapshot -> risk + score -> gate over MemoryBus, providers on loopback, {} build", build_kind());
    let (per_sec, p99_micros) = risk_gate::bench_risk_gate(n).await.context("risk-gate bench")?;
    println!("  throughput:                          {per_sec:>10.0} decisions/s");
    println!("  latency snapshot -> decision p99:    {:>10.1} ms", p99_micros / 1e3);
    Ok(())
}

async fn enrich(n: usize) -> anyhow::Result<()> {
    println!("nl bench enrich: {n} assets, enrich + risk + score + gate over MemoryBus, providers on loopback, {} build", build_kind());
    let f = crate::bench_enrich::bench_enrich_risk_gate(n).await?;
    println!("  throughput:                          {:>10.0} assets/s", f.per_sec);
    println!("  latency observation -> decision p50: {:>10.1} ms", f.p50_micros / 1e3);
    println!("  latency observation -> decision p99: {:>10.1} ms", f.p99_micros / 1e3);
    println!("  decisions: {} promoted, rejected by reason: {:?}", f.promoted, f.rejected);
    Ok(())
}

/// Longest a bench ledger run may take to store every published event.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// Publishes `n` events for the ledger (see [`Mode`]); returns (ledger events/s, publish events/s).
async fn through_bus(bus: Arc<dyn Bus>, n: usize, label: &str, mode: Mode, wire: Wire) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let db = dir.path().join(format!("bench-{label}.db"));
    let mut cfg = LedgerConfig::with_db_path(&db);
    cfg.batch_size = ledger::BENCH_TX_ROWS;
    let run = RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: "bench".into() };
    let svc = nl_ledger::build(cfg, ServiceCtx::new(Arc::clone(&bus), run)).await.context("starting the ledger")?;
    let stats = svc.stats();
    let envs = nl_testkit::bench_envelopes(n);
    let msgs: Vec<Message> = match wire {
        Wire::Typed => envs.into_iter().map(Message::typed).collect(),
        Wire::Json => envs.iter().map(|e| Ok(Message::new(e.subject(), e.event_id.0.clone(), e.to_json()?))).collect::<anyhow::Result<_>>()?,
    };
    let stop = CancellationToken::new();
    let publish_all = || async {
        let start = Instant::now();
        for chunk in msgs.chunks(4096) {
            bus.publish_batch(chunk.to_vec()).await.context("publishing")?;
        }
        anyhow::Ok(rate(n, start.elapsed()))
    };
    let publish_first = if mode == Mode::Backlog { Some(publish_all().await?) } else { None };
    let start = Instant::now();
    let ledger = tokio::spawn(svc.run(stop.clone()));
    let publish = match publish_first {
        Some(p) => p,
        None => publish_all().await?,
    };
    // The service's own counters: polling SQLite (a GROUP BY over `events`) would compete with the writer.
    let written = || {
        let c = stats.snapshot();
        c.stored + c.duplicates
    };
    let mut ledger = ledger;
    let drained = async {
        loop {
            // Registered before the check, so a batch committed in between still wakes us.
            let progressed = stats.progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if usize::try_from(written()).unwrap_or(0) >= n {
                return anyhow::Ok(());
            }
            tokio::select! {
                () = &mut progressed => {}
                ended = &mut ledger => anyhow::bail!("the ledger stopped after {} of {n} events: {:?}", written(), ended.context("ledger task")?),
            }
        }
    };
    tokio::time::timeout(DRAIN_LIMIT, drained)
        .await
        .map_err(|_| anyhow::anyhow!("ledger did not drain {n} events within {DRAIN_LIMIT:?} ({} written)", written()))??;
    let total = rate(n, start.elapsed());
    stop.cancel();
    ledger.await.context("ledger task")?.context("ledger")?;
    Ok((total, publish))
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}
