//! Runs a crash left behind. A run still `running` in the DB when an embedded run starts belongs to a
//! process that is gone: the recorder's lock on events.jsonl, which the new run now holds, would have kept
//! the new run from starting while it lived. Such a run is closed as `aborted`, with the reason, by a
//! `run.completed` event in its name (so events.jsonl and the DB agree) and in its manifest when it has one.
//!
//! An events.jsonl that holds events beside a missing or empty DB means the DB was lost (deleted, or its
//! WAL removed after a crash): a run does not start a fresh DB there, which would silently drop history.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use nl_bus::Bus;
use nl_collector::RunIdentity;
use nl_domain::EventType;
use nl_ledger::LedgerStore;

use crate::cycle::publish_run_event;
use crate::manifest::RunManifest;

/// Marks every unfinished run but `current` as `aborted`; returns their ids.
///
/// # Errors
/// The DB cannot be read, or the event cannot be published.
pub(crate) async fn abort_stale_runs(bus: &Arc<dyn Bus>, store: &LedgerStore, current: &RunIdentity, runs_dir: &Path) -> anyhow::Result<Vec<String>> {
    let stale: Vec<(String, String)> = store.reader().unfinished_runs().await?.into_iter().filter(|(id, _)| *id != current.run_id).collect();
    for (run_id, config_hash) in &stale {
        let reason = format!("aborted: the process running it is gone (killed or crashed); found by run {}", current.run_id);
        let run = RunIdentity { run_id: run_id.clone(), config_hash: config_hash.clone() };
        publish_run_event(bus, EventType::RunCompleted, &run, serde_json::json!({"dry_run": false, "status": "aborted", "reason": reason})).await?;
        if let Some(manifest) = mark_manifest_aborted(runs_dir, run_id, &reason)? {
            manifest.record_in(store).await?;
        }
    }
    Ok(stale.into_iter().map(|(id, _)| id).collect())
}

/// Sets `summary.status = "aborted"` and adds `reason` to the errors of a run's manifest, if it has one;
/// returns the manifest rewritten.
fn mark_manifest_aborted(runs_dir: &Path, run_id: &str, reason: &str) -> anyhow::Result<Option<RunManifest>> {
    let path = RunManifest::path_in(runs_dir, run_id);
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    let mut manifest: RunManifest = serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?;
    match manifest.summary.as_object_mut() {
        Some(summary) => {
            summary.insert("status".into(), "aborted".into());
        }
        None => manifest.summary = serde_json::json!({"status": "aborted"}),
    }
    manifest.errors.push(reason.to_owned());
    manifest.rewrite(runs_dir)?;
    Ok(Some(manifest))
}

/// Fails when `events` holds events but the DB at `db` is missing or holds none.
///
/// # Errors
/// The refusal, saying what to do.
pub(crate) async fn refuse_fresh_db_beside_events(db: &Path, events: &Path) -> anyhow::Result<()> {
    let logged = std::fs::metadata(events).map_or(0, |m| m.len());
    if logged == 0 {
        return Ok(());
    }
    let state = if db.exists() {
        if db_holds_events(db).await? {
            return Ok(());
        }
        "holds no events"
    } else {
        "is missing"
    };
    anyhow::bail!(
        "{} holds {logged} bytes of events but the DB {} {state} (deleted, or its WAL lost after a crash); refusing to start a new, empty DB beside them. \
         Restore the DB with its -wal file, or rebuild it from the log with `nl rebuild --from-events`, or move events.jsonl away to start afresh",
        events.display(),
        db.display()
    )
}

/// Whether the existing DB at `db` holds events.
///
/// # Errors
/// The DB is damaged (saying to move it away and rebuild it: a damaged DB is not a lost one), or cannot be
/// read for another reason.
pub(crate) async fn db_holds_events(db: &Path) -> anyhow::Result<bool> {
    use nl_ledger::db::{damage, damaged_advice, is_damage};
    let reading = |e: nl_ledger::LedgerError| {
        if is_damage(&e) { anyhow::anyhow!(damaged_advice(db, &e.to_string())) } else { anyhow::Error::new(e).context(format!("reading {}", db.display())) }
    };
    let reader = nl_ledger::SqliteReader::open(db, 1).await.map_err(reading)?;
    let has = match damage(reader.pool()).await {
        Ok(None) => reader.has_events().await.map_err(reading),
        Ok(Some(problem)) => Err(anyhow::anyhow!(damaged_advice(db, &problem))),
        Err(e) => Err(reading(e)),
    };
    reader.pool().close().await;
    has
}

/// After a crash (a run left `running`), events.jsonl and the ledger's `events` can each hold events the
/// other missed: the in-memory bus died with messages one consumer had settled and the other had not.
/// The same holds when the DB lost its last commits (its WAL removed after a crash, so even the crashed
/// run's `running` row may be gone): the log's last event is then missing from the DB.
/// Before any service starts, events only in the log are applied to the DB (in log order; what they derive
/// goes out through the outbox as usual) and events only in the DB are appended to the log, so both hold
/// the same ids again. Returns `(applied, appended)`. Does nothing when no run was left running and the DB
/// holds the log's last event.
///
/// # Errors
/// The log is locked by a live recorder or unreadable, or the DB cannot be read or written.
pub(crate) async fn reconcile_after_crash(store: &LedgerStore, events: &Path) -> anyhow::Result<(usize, usize)> {
    if !events.exists() {
        return Ok((0, 0));
    }
    if store.reader().unfinished_runs().await?.is_empty() {
        let last = nl_recorder::last_event_id(events).with_context(|| format!("reading {}", events.display()))?;
        let behind = match last {
            Some(id) => !store.reader().holds_event(&id.0).await?,
            None => false,
        };
        if !behind {
            return Ok((0, 0));
        }
    }
    // Opening takes the writer's lock and repairs a torn tail first.
    let mut log = nl_recorder::EventLog::open(events, nl_recorder::FsyncPolicy::default()).with_context(|| format!("opening {}", events.display()))?;
    let stored = store.reader().mirrored_event_ids().await?;
    let mut in_log = std::collections::HashSet::new();
    let mut missing = Vec::new();
    for env in nl_recorder::read_published(events, nl_recorder::ReplayFilter::default()).with_context(|| format!("reading {}", events.display()))? {
        let env = env.with_context(|| format!("reading {}", events.display()))?;
        in_log.insert(env.event_id.0.clone());
        if !stored.contains(&env.event_id.0) {
            missing.push(env);
        }
    }
    let applied = missing.len();
    for chunk in missing.chunks(500) {
        store.apply(chunk.to_vec()).await.context("applying events only events.jsonl held")?;
    }
    let only_db: Vec<nl_domain::EventId> = stored.into_iter().filter(|id| !in_log.contains(id)).map(nl_domain::EventId).collect();
    let mut appended = 0;
    for chunk in only_db.chunks(500) {
        let envs = store.reader().envelopes(chunk).await?;
        appended += log.append_batch(&envs).with_context(|| format!("appending to {}", events.display()))?.written;
    }
    Ok((applied, appended))
}
