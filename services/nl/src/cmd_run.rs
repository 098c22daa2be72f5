//! `nl run`: continuous operation of the embedded pipeline until SIGINT/SIGTERM, with a progress line per
//! checkpoint on stderr and the run's summary on stdout at the end.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use nl_config::Loaded;
use nl_runtime::{ContinuousConfig, ContinuousOptions};

use crate::cmd_cycle::cycle_config;
use crate::config::{BusMode, NlConfig};

/// Runs until a signal, then prints the final manifest's summary.
///
/// # Errors
/// Bad settings, or a component that could not start (nothing is running yet then).
pub async fn run(loaded: &Loaded<NlConfig>, checkpoint_secs: Option<u64>, drain_timeout_secs: Option<u64>, web: Option<std::net::SocketAddr>) -> anyhow::Result<ExitCode> {
    let c = &loaded.config;
    if c.bus.mode != BusMode::Memory {
        bail!(
            "`nl run` is the embedded mode (one process over the in-memory bus); with [bus] mode = \"nats\" run `nl serve <service>` per service, or set NL_BUS__MODE=memory"
        );
    }
    let checkpoint = checkpoint_secs.unwrap_or(c.run.checkpoint_secs);
    let drain = drain_timeout_secs.unwrap_or(c.run.drain_timeout_secs);
    if checkpoint == 0 {
        bail!("[run] checkpoint_secs (or --checkpoint-secs) must be at least 1");
    }
    if drain == 0 {
        bail!("[run] drain_timeout_secs (or --drain-timeout-secs) must be at least 1");
    }
    let cfg = ContinuousConfig { cycle: cycle_config(loaded), push: c.push.clone(), paper: c.paper.clone() };
    let opts = ContinuousOptions { checkpoint_every: Duration::from_secs(checkpoint), drain_timeout: Duration::from_secs(drain) };
    let alerts = start_alerts(loaded).await?;
    let board = alerts.as_ref().map(|a| a.board.clone());
    // The run's bus: the dashboard's "mark reviewed" publishes on it, so the run's ledger applies it.
    let mem = c.bus.memory_bus();
    let dashboard = match web {
        Some(addr) => Some(start_web(loaded, addr, board, std::sync::Arc::new(mem.clone())).await?),
        None => None,
    };
    let out = nl_runtime::run_continuous_on(mem, &cfg, opts, nl_telemetry::shutdown_signal(), |line| nl_telemetry::stderr::line(tracing::Level::INFO, line)).await;
    if let Some((stop, task)) = dashboard {
        stop.cancel();
        let _ = task.await;
    }
    if let Some(a) = alerts {
        a.stop().await;
    }
    let out = out?;
    let m = &out.manifest;
    println!("run {} ({})", m.run_id, m.summary["status"].as_str().unwrap_or("?"));
    println!("config_hash {}", m.config_hash);
    println!("checkpoints: {}", out.checkpoints);
    println!("new assets discovered: {}", m.summary["new_assets"]);
    println!("candidates promoted: {}  rejected: {}  undecided assets: {}", m.summary["promoted"], m.summary["rejected"], m.summary["undecided"]);
    println!("events: {} in {} bytes [{}, {})", m.events.count, m.events.path.display(), m.events.start, m.events.end);
    for (t, n) in &m.events_per_type {
        println!("  {t:<20} {n}");
    }
    for e in &m.errors {
        println!("ERROR {e}");
    }
    println!("manifest {}", out.manifest_path.display());
    Ok(if out.clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A read-only reader of the run's DB (created first if needed: the ledger creates it when the run starts,
/// and the store opened here is dropped at once, since the run's ledger is the writer), and a context on a
/// private bus.
async fn side_reader(loaded: &Loaded<NlConfig>) -> anyhow::Result<(std::sync::Arc<nl_ledger::SqliteReader>, nl_bus::ServiceCtx)> {
    let c = &loaded.config;
    let store = nl_ledger::LedgerStore::open(&c.ledger).await.with_context(|| format!("opening database {}", c.ledger.db_path.display()))?;
    let reader = std::sync::Arc::new(store.reader().clone());
    drop(store);
    let bus: std::sync::Arc<dyn nl_bus::Bus> = std::sync::Arc::new(nl_bus::MemoryBus::new(nl_bus::MemoryBusConfig::default()));
    let run = nl_domain::RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: loaded.config_hash.clone() };
    Ok((reader, nl_bus::ServiceCtx::new(bus, run)))
}

/// The `[alerts.<name>]` sinks beside the run, reading its DB; `None` when none is enabled.
async fn start_alerts(loaded: &Loaded<NlConfig>) -> anyhow::Result<Option<crate::cmd_alerts::RunningAlerts>> {
    if !loaded.config.alerts.values().any(|s| s.enabled) {
        return Ok(None);
    }
    let (reader, ctx) = side_reader(loaded).await?;
    crate::cmd_alerts::start(&loaded.config, &ctx, reader)
}

/// Starts the dashboard (and the `/v1` ops API) of `nl run --web ADDR` over the run's DB, read-only.
async fn start_web(
    loaded: &Loaded<NlConfig>,
    addr: std::net::SocketAddr,
    alerts: Option<std::sync::Arc<nl_web::AlertBoard>>,
    run_bus: std::sync::Arc<dyn nl_bus::Bus>,
) -> anyhow::Result<(nl_bus::CancellationToken, tokio::task::JoinHandle<()>)> {
    let c = &loaded.config;
    let (reader, ctx) = side_reader(loaded).await?;
    // The `/v1` ops API: reads from the run's DB, writes published on the run's bus (its ledger applies them).
    let pipeline = crate::cmd_paper::Pipeline { bus: std::sync::Arc::clone(&run_bus), ledger: reader.clone() };
    let (paper, ops) = crate::ops_backend::on_bus(loaded, pipeline).await?;
    let mut svc = nl_web::WebService::bind(nl_web::WebConfig { addr, ..c.web.clone() }, &ctx, reader)
        .await?
        .with_writer(std::sync::Arc::new(nl_web::BusWriter(run_bus)))
        .with_ops(paper, ops);
    if let Some(board) = alerts {
        svc = svc.with_alerts(board);
    }
    eprintln!("dashboard on http://{}/", svc.local_addr()?);
    let stop = nl_bus::CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = svc.serve(token).await {
            tracing::error!(error = %e, "the dashboard stopped");
        }
    });
    Ok((stop, task))
}
