//! `nl bench ledger`: events/s into SQLite through `MemoryBus` and through NATS, next to SQLite's raw
//! batched-insert rate for the same rows on the same machine, in the same run. Prints figures; build with
//! `--release` for meaningful numbers.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use nl_bus::memory::MemoryBusConfig;
use nl_bus::{Bus, MemoryBus, Message, NatsBus};
use nl_config::Loaded;
use nl_ledger::{LedgerConfig, LedgerReader};

use crate::cli::BenchTarget;
use crate::config::NlConfig;

/// Runs a benchmark and prints its figures.
///
/// # Errors
/// When a component cannot be started.
pub async fn run(_loaded: &Loaded<NlConfig>, target: BenchTarget, n: usize) -> anyhow::Result<ExitCode> {
    match target {
        BenchTarget::Ledger => ledger(n).await?,
        BenchTarget::Rederive => rederive(_loaded, n).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn ledger(n: usize) -> anyhow::Result<()> {
    println!("nl bench ledger: {n} events of ~200 bytes, {} build", if cfg!(debug_assertions) { "DEBUG (use --release)" } else { "release" });
    let raw = nl_ledger::bench_raw_insert(n).await.context("raw SQLite insert bench")?;
    println!("  SQLite raw batched insert (push_values, 1 tx/1000 rows):  {raw:>10.0} rows/s");

    let mem: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig { max_messages: n.max(1) * 2, ..MemoryBusConfig::default() }));
    let (rate, publish) = through_bus(mem, n, "memory").await?;
    println!("  MemoryBus publish:                                        {publish:>10.0} events/s");
    println!("  MemoryBus -> ledger -> SQLite (end to end):               {rate:>10.0} events/s  ({:.0}% of raw)", 100.0 * rate / raw.max(1.0));

    match nl_bus::testkit::NatsServer::try_start(None).await {
        Ok(server) => {
            let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&server.bus_config()).await.context("connecting to the bench nats-server")?);
            let (rate, publish) = through_bus(bus, n, "nats").await?;
            println!("  NATS JetStream publish (windowed PubAcks):                {publish:>10.0} events/s");
            println!("  NATS -> ledger -> SQLite (end to end):                    {rate:>10.0} events/s");
        }
        Err(e) => println!("  NATS: skipped ({e})"),
    }
    Ok(())
}

/// Publishes `n` events while the ledger consumes them; returns (end-to-end events/s, publish events/s).
async fn through_bus(bus: Arc<dyn Bus>, n: usize, label: &str) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let db = dir.path().join(format!("bench-{label}.db"));
    let mut cfg = LedgerConfig::with_db_path(&db);
    cfg.batch_size = 2000;
    let svc = nl_ledger::build(cfg, Arc::clone(&bus)).await.context("starting the ledger")?;
    let reader = LedgerReader::open(&db, 1).await?;
    let envs = nl_ledger::bench_envelopes(n);
    let msgs: Vec<Message> = envs.iter().map(|e| Ok(Message::new(e.subject(), e.event_id.0.clone(), e.to_json()?))).collect::<anyhow::Result<_>>()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let ledger = tokio::spawn(svc.run(async move {
        let _ = stop_rx.await;
    }));
    for chunk in msgs.chunks(4096) {
        bus.publish_batch(chunk.to_vec()).await.context("publishing")?;
    }
    let publish = rate(n, start.elapsed());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let stats = reader.stats().await?;
        let events = stats.tables.iter().find(|(t, _)| t == "events").map_or(0, |(_, c)| *c);
        if usize::try_from(events).unwrap_or(0) >= n {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "ledger did not drain {n} events within 10 minutes ({events} written)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = rate(n, start.elapsed());
    let _ = stop_tx.send(());
    ledger.await.context("ledger task")?.context("ledger")?;
    Ok((total, publish))
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

async fn rederive(loaded: &Loaded<NlConfig>, n: usize) -> anyhow::Result<()> {
    let _ = (loaded, n);
    Ok(())
}
