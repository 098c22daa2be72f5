//! Errors of the DexScreener parser.

use nl_domain::DomainError;

/// A DexScreener payload or one of its items could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum DexScreenerError {
    /// The body is neither the `{schemaVersion, pairs, pair}` envelope nor a bare array. Keeps a
    /// truncated copy of the payload.
    #[error("invalid DexScreener document: {error}; payload: {payload}")]
    Document { error: String, payload: String },
    /// One item is malformed (the rest of the page is still usable).
    #[error("invalid DexScreener item {id:?}: {reason}")]
    Item { id: String, reason: String },
    /// A number or asset id failed domain validation.
    #[error("DexScreener item {id:?}: {source}")]
    Domain { id: String, source: DomainError },
}
