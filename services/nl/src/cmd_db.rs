//! `nl db-init`: create or migrate the SQLite database (or undo migrations with `--down-to`); `nl rebuild
//! --from-events`: a lost DB rebuilt from events.jsonl.

use std::process::ExitCode;

use anyhow::Context;
use nl_config::Loaded;
use nl_ledger::LedgerStore;

use crate::config::NlConfig;

/// Runs `nl db-init`.
///
/// # Errors
/// When the database cannot be created, migrated or read.
pub async fn db_init(loaded: &Loaded<NlConfig>, down_to: Option<i64>) -> anyhow::Result<ExitCode> {
    let cfg = &loaded.config.ledger;
    let store = LedgerStore::open(cfg).await.with_context(|| format!("opening database {}", cfg.db_path.display()))?;
    if let Some(target) = down_to {
        let pool = store.reader().pool().clone();
        drop(store);
        let writer = nl_ledger::db::open_write_pool(&cfg.db_path).await.context("opening the database for undo")?;
        nl_ledger::db::migrate_down(&writer, target).await.with_context(|| format!("undoing migrations down to {target}"))?;
        writer.close().await;
        pool.close().await;
        println!("Migrations undone down to version {target}: {}", cfg.db_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let (tables, views) = schema_objects(store.reader().pool()).await?;
    println!("Database ready: {}", cfg.db_path.display());
    println!("tables ({}): {}", tables.len(), tables.join(", "));
    println!("views  ({}): {}", views.len(), views.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Names of the user tables and views in the schema (the migrations' bookkeeping table left out).
///
/// # Errors
/// When sqlite_master cannot be read.
pub async fn schema_objects(pool: &sqlx::SqlitePool) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let rows = nl_ledger::db::schema_objects(pool).await.context("reading the schema")?;
    let names = |kind: &str| rows.iter().filter(|(t, n)| t == kind && n != "_sqlx_migrations").map(|(_, n)| n.clone()).collect();
    Ok((names("table"), names("view")))
}

/// Runs `nl rebuild --from-events`: a new DB from events.jsonl, then its row counts.
///
/// # Errors
/// When the DB already holds events, or the log or the DB cannot be read or written.
pub async fn rebuild(loaded: &Loaded<NlConfig>) -> anyhow::Result<ExitCode> {
    let (ledger, events) = (&loaded.config.ledger, &loaded.config.recorder.path);
    let report = nl_runtime::rebuild_from_events(ledger, events, |line| nl_telemetry::stderr::line(tracing::Level::INFO, line)).await?;
    println!("rebuilt {} from {}: {} events read, {} stored", ledger.db_path.display(), events.display(), report.read, report.stored);
    for (table, rows) in &report.row_counts {
        println!("  {table:<20} {rows}");
    }
    println!("raw payloads (raw_events) and source cursors are not in the log: the next poll of each instrument list takes a new baseline");
    Ok(ExitCode::SUCCESS)
}
