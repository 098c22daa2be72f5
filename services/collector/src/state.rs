//! Durable per-source state (known instrument sets, announcement cursors, block cursors).
//!
//! Embedded mode keeps it in the ledger's `source_cursors` table; distributed mode in a JetStream KV
//! bucket. Tests use [`MemoryStateStore`].

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

/// A state store failure.
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

/// Where sources keep what they must remember across restarts.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The last saved state of `source`.
    ///
    /// # Errors
    /// `StateError` when the store cannot be read.
    async fn load(&self, source: &str) -> Result<Option<serde_json::Value>, StateError>;

    /// Saves `state` for `source` (overwrites).
    ///
    /// # Errors
    /// `StateError` when the store cannot be written.
    async fn save(&self, source: &str, state: &serde_json::Value) -> Result<(), StateError>;
}

/// In-process state, lost on exit.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: Mutex<HashMap<String, serde_json::Value>>,
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, source: &str) -> Result<Option<serde_json::Value>, StateError> {
        Ok(self.inner.lock().await.get(source).cloned())
    }

    async fn save(&self, source: &str, state: &serde_json::Value) -> Result<(), StateError> {
        self.inner.lock().await.insert(source.to_string(), state.clone());
        Ok(())
    }
}

/// Known entries by instrument id, as an instrument-list source's state holds them (`known.entries`).
pub type KnownEntries = serde_json::Map<String, serde_json::Value>;

/// The known entries of a state, when it has them (`known.entries`, an object). Stores that keep the known
/// set apart from the cursor (the ledger's `known_instruments` table, one NATS KV key per instrument) split
/// a state with this and [`without_known_entries`].
#[must_use]
pub fn known_entries(state: &serde_json::Value) -> Option<&KnownEntries> {
    state.get("known")?.get("entries")?.as_object()
}

/// `state` without its known entries (an empty `known.entries` in their place): the cursor part.
#[must_use]
pub fn without_known_entries(state: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Map, Value};
    let (Some(obj), Some(known)) = (state.as_object(), state.get("known").and_then(Value::as_object)) else { return state.clone() };
    let mut known: Map<String, Value> = known.iter().filter(|(k, _)| *k != "entries").map(|(k, v)| (k.clone(), v.clone())).collect();
    known.insert("entries".into(), Value::Object(Map::new()));
    let mut out: Map<String, Value> = obj.iter().filter(|(k, _)| *k != "known").map(|(k, v)| (k.clone(), v.clone())).collect();
    out.insert("known".into(), Value::Object(known));
    Value::Object(out)
}
