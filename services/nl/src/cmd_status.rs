//! `nl status`: what the ledger holds, what is dead-lettered, and the last run.

use std::process::ExitCode;

use anyhow::Context;
use nl_bus::{Bus, NatsBus};
use nl_config::Loaded;
use nl_ledger::SqliteReader;

use crate::config::{BusMode, NlConfig};

/// Prints the DB's integrity (`PRAGMA quick_check`; exit 1 when damaged), row counts per table, events per
/// type, dead letters and the last run.
///
/// # Errors
/// When the database is missing (run `nl db-init`) or unreadable.
pub async fn status(loaded: &Loaded<NlConfig>) -> anyhow::Result<ExitCode> {
    let cfg = &loaded.config;
    if !cfg.ledger.db_path.exists() {
        anyhow::bail!("no database at {} (run `nl db-init` first)", cfg.ledger.db_path.display());
    }
    let db = &cfg.ledger.db_path;
    println!("database: {}", db.display());
    // A file SQLite cannot even open or check is damaged too: said so, with what to do, not as a bare error.
    let reader = match SqliteReader::open(db, 1).await {
        Ok(reader) => Ok(reader),
        Err(e) if nl_ledger::db::is_damage(&e) => Err(e.to_string()),
        Err(e) => return Err(e).with_context(|| format!("opening {}", db.display())),
    };
    let damage = match &reader {
        Ok(reader) => nl_ledger::db::damage(reader.pool()).await.context("PRAGMA quick_check")?,
        Err(problem) => Some(problem.clone()),
    };
    if let Some(problem) = damage {
        println!("integrity (PRAGMA quick_check): FAILED");
        println!("{}", nl_ledger::db::damaged_advice(db, &problem));
        return Ok(ExitCode::from(1));
    }
    let reader = reader.map_err(anyhow::Error::msg)?;
    println!("integrity (PRAGMA quick_check): ok");
    let stats = reader.stats().await.context("reading stats")?;
    println!("config_hash: {}", loaded.config_hash);
    println!("ai: {}", cfg.ai.status_line());
    println!("tables:");
    for (t, n) in &stats.tables {
        println!("  {t:<20} {n}");
    }
    println!("events by type:");
    if stats.events_by_type.is_empty() {
        println!("  (none)");
    }
    for (t, n) in &stats.events_by_type {
        println!("  {t:<20} {n}");
    }
    println!("undecided assets: {} (discovered, no gate decision yet)", stats.undecided);
    println!("outbox pending: {}", stats.outbox_pending);
    match cfg.bus.mode {
        BusMode::Nats => match NatsBus::connect(&cfg.nats).await {
            Ok(bus) => println!("dead letters (nl.dlq.> on NATS): {}", bus.dead_letter_count().await.unwrap_or_default()),
            Err(e) => println!("dead letters: unknown (NATS unreachable: {e})"),
        },
        // Embedded runs' bus is gone; each run recorded its dead letters when it completed.
        BusMode::Memory => println!("dead letters (recorded by runs): {}", stats.dead_letters_recorded),
    }
    match (&stats.last_run_id, &stats.last_run_status) {
        (Some(id), Some(status)) => println!("last run: {id} ({status})"),
        _ => println!("last run: (none)"),
    }
    Ok(ExitCode::SUCCESS)
}
