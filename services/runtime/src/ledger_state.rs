//! Embedded mode keeps source state in the ledger (through the single writer): the cursor in
//! `source_cursors`, and an instrument-list source's known set (`known.entries` of its state) in
//! `known_instruments`, one row per instrument, so a venue with a million instruments is a million small
//! rows written as they change, not one 150 MB blob rewritten every poll (#16).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_adapters::cex::{InstrumentStatus, KnownEntry};
use nl_bus::Bus;
use nl_collector::state::{KnownEntries, known_entries as entries_of, without_known_entries as cursor_of};
use nl_collector::{CollectorCtx, RunIdentity, StateError, StateStore};
use nl_ledger::{KnownChanges, KnownInstrumentRow, LedgerStore};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// The collector context of embedded mode: the in-process bus, state in the ledger, no leases (one
/// process owns every source).
pub fn embedded_ctx(bus: &Arc<dyn Bus>, store: &LedgerStore, run: &RunIdentity) -> CollectorCtx {
    CollectorCtx {
        bus: Arc::clone(bus),
        state: Arc::new(LedgerStateStore::new(store.clone())),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: run.clone(),
    }
}

/// Known entries by instrument id, as a source's state holds them.
type Entries = KnownEntries;

/// [`StateStore`] over the ledger. Remembers each source's known set as last read or written, so a poll
/// reads no rows and writes only the entries it changed.
#[derive(Debug, Clone)]
pub struct LedgerStateStore {
    store: LedgerStore,
    saved: Arc<Mutex<HashMap<String, Entries>>>,
}

impl LedgerStateStore {
    /// State of every source kept in `store`.
    #[must_use]
    pub fn new(store: LedgerStore) -> Self {
        Self { store, saved: Arc::default() }
    }
}

fn err(e: impl std::fmt::Display) -> StateError {
    StateError(e.to_string())
}

/// What `next` changes against `saved`.
pub(crate) fn changes(saved: Option<&Entries>, next: &Entries) -> Result<KnownChanges, StateError> {
    let mut out = KnownChanges::default();
    for (id, v) in next {
        if saved.and_then(|s| s.get(id)) != Some(v) {
            out.upserts.push(row_of(id, v)?);
        }
    }
    if let Some(saved) = saved {
        out.deletes = saved.keys().filter(|id| !next.contains_key(*id)).cloned().collect();
    }
    Ok(out)
}

fn status_column(s: &InstrumentStatus) -> String {
    match s {
        InstrumentStatus::Other(word) => format!("other:{word}"),
        known => known.label().to_string(),
    }
}

fn status_of(column: &str) -> InstrumentStatus {
    match column {
        "trading" => InstrumentStatus::Trading,
        "pre_trading" => InstrumentStatus::PreTrading,
        "halted" => InstrumentStatus::Halted,
        "closed" => InstrumentStatus::Closed,
        other => InstrumentStatus::Other(other.strip_prefix("other:").unwrap_or(other).to_string()),
    }
}

fn ts_column(t: nl_domain::Ts) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn ts_of(id: &str, s: &str) -> Result<nl_domain::Ts, StateError> {
    chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&chrono::Utc)).map_err(|e| err(format!("known instrument {id}: time {s:?}: {e}")))
}

fn row_of(id: &str, v: &Value) -> Result<KnownInstrumentRow, StateError> {
    let e = KnownEntry::deserialize(v).map_err(|e| err(format!("known instrument {id}: {e}")))?;
    let (link_chain, link_address) = e.link.map_or((None, None), |(c, a)| (Some(c), Some(a)));
    Ok(KnownInstrumentRow {
        instrument_id: id.to_string(),
        base: e.base,
        status: status_column(&e.status),
        raw_status: e.raw_status,
        scheduled_at: e.scheduled_at.map(ts_column),
        first_seen: ts_column(e.first_seen),
        removed: e.removed,
        baseline: e.baseline,
        missing: i64::from(e.missing),
        link_chain,
        link_address,
    })
}

fn entry_of(r: KnownInstrumentRow) -> Result<(String, Value), StateError> {
    let id = r.instrument_id;
    let e = KnownEntry {
        status: status_of(&r.status),
        raw_status: r.raw_status,
        scheduled_at: r.scheduled_at.as_deref().map(|s| ts_of(&id, s)).transpose()?,
        first_seen: ts_of(&id, &r.first_seen)?,
        removed: r.removed,
        base: r.base,
        baseline: r.baseline,
        missing: u32::try_from(r.missing).unwrap_or(u32::MAX),
        link: r.link_chain.zip(r.link_address),
    };
    Ok((id, serde_json::to_value(e).map_err(err)?))
}

#[async_trait]
impl StateStore for LedgerStateStore {
    async fn load(&self, source: &str) -> Result<Option<Value>, StateError> {
        let mut saved = self.saved.lock().await;
        let Some(mut state) = self.store.reader().get_cursor(source).await.map_err(err)? else { return Ok(None) };
        let Some(entries) = state.pointer_mut("/known/entries").and_then(Value::as_object_mut) else { return Ok(Some(state)) };
        if !saved.contains_key(source) {
            let rows = self.store.reader().known_instruments(source).await.map_err(err)?;
            saved.insert(source.to_string(), rows.into_iter().map(entry_of).collect::<Result<_, _>>()?);
        }
        // Entries still in the cursor (saved before the table existed) win; the next save moves them.
        let legacy = std::mem::take(entries);
        if let Some(rows) = saved.get(source) {
            entries.extend(rows.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        entries.extend(legacy);
        Ok(Some(state))
    }

    async fn save(&self, source: &str, state: &Value) -> Result<(), StateError> {
        let mut saved = self.saved.lock().await;
        let Some(next) = entries_of(state) else {
            return self.store.put_cursor(source, state, None).await.map_err(err);
        };
        let delta = changes(saved.get(source), next)?;
        let upserted: Vec<String> = delta.upserts.iter().map(|r| r.instrument_id.clone()).collect();
        let deleted = delta.deletes.clone();
        self.store.put_source_state(source, &cursor_of(state), delta, None).await.map_err(err)?;
        let cache = saved.entry(source.to_string()).or_default();
        for id in deleted {
            cache.remove(&id);
        }
        for id in upserted {
            if let Some(v) = next.get(&id) {
                cache.insert(id, v.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ledger_state_tests.rs"]
mod tests;
