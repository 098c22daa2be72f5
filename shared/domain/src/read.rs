//! What other services may read from the ledger, as domain types. The ledger owns its schema and its SQL;
//! everyone else holds a `dyn LedgerReader`: in-process read-only SQLite in embedded mode, gRPC `Ledger` in
//! distributed mode. Neither implementation lives here (this crate does no I/O).

use async_trait::async_trait;

use crate::{AssetId, GateDecision};

/// Why a read failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// The store could not be reached or queried; worth retrying.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The store answered with data that does not parse: a bug or a damaged store, not worth retrying.
    #[error("ledger data is corrupt: {0}")]
    Corrupt(String),
}

/// Reads of the ledger's state.
#[async_trait]
pub trait LedgerReader: Send + Sync + 'static {
    /// The latest gate decision on `asset`, `None` when there is none.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or holds a row that does not parse.
    async fn latest_decision(&self, asset: &AssetId) -> Result<Option<GateDecision>, ReadError>;
}
