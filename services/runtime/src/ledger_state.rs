//! Embedded mode keeps source cursors in the ledger's `source_cursors` table (through the single writer).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_bus::Bus;
use nl_collector::{CollectorCtx, RunIdentity, StateError, StateStore};
use nl_ledger::LedgerStore;

/// The collector context of embedded mode: the in-process bus, cursors in the ledger, no leases (one
/// process owns every source).
pub fn embedded_ctx(bus: &Arc<dyn Bus>, store: &LedgerStore, run: &RunIdentity) -> CollectorCtx {
    CollectorCtx {
        bus: Arc::clone(bus),
        state: Arc::new(LedgerStateStore(store.clone())),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: run.clone(),
    }
}

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
