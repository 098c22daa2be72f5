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
