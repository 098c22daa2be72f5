//! Ledger errors, classified so the service knows whether to NAK (retry later) or give up.

use std::time::Duration;

/// Errors of the ledger store, service and gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("invalid ledger config: {0}")]
    Config(String),
    #[error("opening the database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("the ledger writer has stopped")]
    WriterGone,
    #[error("bus error: {0}")]
    Bus(#[from] nl_bus::BusError),
    #[error("gRPC transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl LedgerError {
    /// Whether the same operation may succeed later (busy/locked database, I/O hiccup, bus outage).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Db(e) => !matches!(e, sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) | sqlx::Error::TypeNotFound { .. }),
            Self::Bus(e) => e.is_retryable(),
            Self::Io(_) | Self::Open { .. } => true,
            Self::Config(_) | Self::Migrate(_) | Self::Json(_) | Self::Corrupt(_) | Self::WriterGone | Self::Transport(_) => false,
        }
    }

    /// A suggested wait before retrying a retryable failure.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.is_retryable().then_some(Duration::from_secs(1))
    }
}

/// Result alias of this crate.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
