//! `nl run-cycle [--dry-run]`: one cycle of the embedded pipeline, with progress and a summary.

use std::process::ExitCode;
use std::time::Duration;

use nl_config::Loaded;
use nl_runtime::{CycleConfig, CycleOptions};

use crate::config::NlConfig;

/// Exit code when the cycle completed but some sources failed.
pub const EXIT_SOURCES_FAILED: u8 = 3;
/// Exit code when SIGINT/SIGTERM stopped the cycle (the manifest says `interrupted`).
pub const EXIT_INTERRUPTED: u8 = 130;

/// The embedded pipeline's config from the loaded config (shared with `nl run`).
pub fn cycle_config(loaded: &Loaded<NlConfig>) -> CycleConfig {
    let c = &loaded.config;
    CycleConfig {
        storage: c.storage.clone(),
        ledger: c.ledger.clone(),
        recorder: c.recorder.clone(),
        enricher: c.enricher.clone(),
        risk_scorer: c.risk_scorer.clone(),
        gate: c.gate.clone(),
        ai: c.ai.clone(),
        sources: c.sources.clone(),
        dex: c.dex.clone(),
        memory_max_messages: c.bus.memory_max_messages,
        max_in_cycle_wait_secs: c.run.max_in_cycle_wait_secs,
        config_hash: loaded.config_hash.clone(),
        effective_config: loaded.effective_json.clone(),
    }
}

/// Runs one cycle and prints its summary.
///
/// # Errors
/// Fatal failures only (a component could not start, the pipeline did not drain, outputs not writable).
pub async fn run_cycle(loaded: &Loaded<NlConfig>, dry_run: bool, drain_timeout_secs: u64) -> anyhow::Result<ExitCode> {
    let cfg = cycle_config(loaded);
    let interrupt = nl_bus::CancellationToken::new();
    let on_signal = interrupt.clone();
    let watcher = tokio::spawn(async move {
        nl_telemetry::shutdown_signal().await;
        on_signal.cancel();
    });
    let opts = CycleOptions { dry_run, drain_timeout: Duration::from_secs(drain_timeout_secs), interrupt: Some(interrupt) };
    let out = nl_runtime::run_cycle(&cfg, opts, |line| nl_telemetry::stderr::line(tracing::Level::INFO, line)).await?;
    watcher.abort();
    let m = &out.manifest;
    println!("run {}{}", m.run_id, if dry_run { " (dry run: nothing written to the DB or events.jsonl)" } else { "" });
    if out.interrupted {
        println!("INTERRUPTED: polling was stopped by a signal; what was published is recorded");
    }
    if let Some(e) = &out.no_network {
        println!("NO NETWORK: every source failed to resolve or connect and none answered; not retrying ({})", nl_adapters::kit::quote::quote(e));
    }
    println!("config_hash {}", m.config_hash);
    println!("sources: {} polled, {} failed", out.sources.len(), out.failed_sources().len());
    for r in out.failed_sources() {
        // Poll errors already start with the source name.
        println!("  FAILED {}", r.errors.first().or(r.not_committed.as_ref()).map_or(r.source.as_str(), String::as_str));
    }
    let verb = if dry_run { "would be " } else { "" };
    println!("new assets {verb}discovered: {}", out.new_assets.len());
    for a in out.new_assets.iter().take(20) {
        println!("  {a}");
    }
    println!("candidates {verb}promoted: {}  rejected: {}", out.promoted.len(), out.rejected.len());
    for a in out.promoted.iter().take(20) {
        println!("  promoted {a}");
    }
    println!("undecided assets: {}", out.undecided.len());
    for a in out.undecided.iter().take(20) {
        println!("  undecided {a}");
    }
    println!("events: {} in {} bytes [{}, {})", m.events.count, m.events.path.display(), m.events.start, m.events.end);
    for (t, n) in &m.events_per_type {
        println!("  {t:<20} {n}");
    }
    if out.dead_letters > 0 {
        println!("dead letters: {}", out.dead_letters);
    }
    if out.status == "failed" {
        println!("FAILED: {}", m.errors.iter().filter(|e| !out.sources.iter().any(|r| r.errors.contains(e))).cloned().collect::<Vec<_>>().join("; "));
    }
    println!("manifest {}", out.manifest_path.display());
    Ok(if out.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if out.status == "failed" {
        ExitCode::from(1)
    } else if out.failed_sources().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SOURCES_FAILED)
    })
}
