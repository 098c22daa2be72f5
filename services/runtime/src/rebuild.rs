//! `nl rebuild --from-events`: a new DB from events.jsonl after the DB was lost or damaged. Every
//! recorded envelope (citations restored, as published) is applied in log order, exactly as the ledger
//! applied it live; events the ledger derives again (`asset.discovered`, ...) are the log's own lines
//! (same ids), so their outbox rows are settled, not published. Raw payloads are not in the log (they live
//! only in `raw_events`) and source cursors are not events: a rebuilt DB has neither, and the first poll
//! of each instrument list after a rebuild takes a new baseline.

use std::path::Path;

use anyhow::Context;
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_recorder::{ReplayFilter, read_published};

/// Envelopes applied per transaction.
const BATCH: usize = 1_000;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Envelopes read from the log.
    pub read: u64,
    /// Envelopes stored (the rest were repeats).
    pub stored: u64,
    /// Row counts of the new DB, by table.
    pub row_counts: Vec<(String, i64)>,
}

/// Rebuilds `ledger.db_path` from the log at `events`. The DB must not exist yet (or hold no events).
///
/// # Errors
/// The DB already holds events, the log cannot be read, or the DB cannot be written.
pub async fn rebuild_from_events(ledger: &LedgerConfig, events: &Path, mut progress: impl FnMut(&str)) -> anyhow::Result<RebuildReport> {
    let db = &ledger.db_path;
    anyhow::ensure!(events.exists(), "no events log at {}", events.display());
    if db.exists() {
        let has = crate::recovery::db_holds_events(db).await?;
        anyhow::ensure!(!has, "{} already holds events; move it away (e.g. to {}.old) to rebuild it", db.display(), db.display());
    }
    let store = LedgerStore::open(ledger).await.with_context(|| format!("opening {}", db.display()))?;
    let mut report = RebuildReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let log = read_published(events, ReplayFilter::default()).with_context(|| format!("reading {}", events.display()))?;
    for env in log {
        batch.push(env.with_context(|| format!("reading {}", events.display()))?);
        if batch.len() == BATCH {
            apply(&store, &mut batch, &mut report).await?;
            progress(&format!("  {} events applied", report.read));
        }
    }
    apply(&store, &mut batch, &mut report).await?;
    // Derived again from their causes, these are already in the log (and now in `events`).
    loop {
        let pending = store.pending_outbox(1_000).await?;
        if pending.is_empty() {
            break;
        }
        store.mark_published(pending.into_iter().map(|e| e.event_id).collect()).await?;
    }
    report.row_counts = store.reader().stats().await?.tables;
    drop(store);
    nl_ledger::db::checkpoint_wal(db).await.context("checkpointing the WAL")?;
    Ok(report)
}

async fn apply(store: &LedgerStore, batch: &mut Vec<nl_domain::Envelope>, report: &mut RebuildReport) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    report.read += batch.len() as u64;
    let out = store.apply(std::mem::take(batch)).await?;
    report.stored += out.new.len() as u64;
    Ok(())
}
