//! Errors of the GeckoTerminal parser.

use nl_domain::DomainError;

/// A GeckoTerminal payload or one of its resources could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum GeckoTerminalError {
    /// The body is not the JSON:API document we expect. Keeps a truncated copy of the payload.
    #[error("invalid GeckoTerminal document: {error}; payload: {payload}")]
    Document { error: String, payload: String },
    /// One pool resource is malformed (the rest of the page is still usable).
    #[error("invalid pool resource {id:?}: {reason}")]
    Pool { id: String, reason: String },
    /// A decimal or asset id failed domain validation.
    #[error("pool {id:?}: {source}")]
    Domain { id: String, source: DomainError },
}
