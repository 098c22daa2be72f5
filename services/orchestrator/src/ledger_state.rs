//! Embedded mode keeps source cursors in the ledger's `source_cursors` table (through the single writer).

use async_trait::async_trait;
use nl_collector::{StateError, StateStore};
use nl_ledger::LedgerStore;

/// [`StateStore`] over the ledger.
#[derive(Debug, Clone)]
pub struct LedgerStateStore(pub LedgerStore);

#[async_trait]
impl StateStore for LedgerStateStore {
    async fn load(&self, source: &str) -> Result<Option<serde_json::Value>, StateError> {
        self.0.reader().get_cursor(source).await.map_err(|e| StateError(e.to_string()))
    }

    async fn save(&self, source: &str, state: &serde_json::Value) -> Result<(), StateError> {
        self.0.put_cursor(source, state, None).await.map_err(|e| StateError(e.to_string()))
    }
}
