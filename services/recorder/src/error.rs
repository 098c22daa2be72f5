//! Errors of the recorder library, classified so the service knows whether to retry.

use std::path::PathBuf;

use nl_bus::BusError;

/// Errors of the event log and the recorder service.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// A file-system operation on the log failed.
    #[error("events log {path}: {op} failed: {source}")]
    Io { path: PathBuf, op: &'static str, source: std::io::Error },
    /// Another `EventLog` (in this or another process) holds the file's exclusive lock.
    #[error("events log {path} is locked by another writer (a second recorder on the same file?)")]
    Locked { path: PathBuf },
    /// A line before the last valid line does not parse. Only a torn *tail* is repaired automatically;
    /// earlier lines are never rewritten, so this needs an operator.
    #[error("events log {path} is corrupt at line {line} (byte {offset}): {reason}; only a torn tail is repaired automatically")]
    Corrupt { path: PathBuf, line: u64, offset: u64, reason: String },
    /// Complete lines at the end of the log did not parse (not a torn write, which leaves one
    /// unterminated line): they were moved to `quarantine` and the log cut back to its last valid line.
    /// Opening again succeeds; the operator decides what the quarantined lines were.
    #[error("events log {path}: {lines} corrupt line(s) ({bytes} bytes) at its end, first at line {line}: {reason}; moved to {quarantine} (nothing deleted); inspect it, then start again")]
    Quarantined { path: PathBuf, quarantine: PathBuf, lines: u64, bytes: u64, line: u64, reason: String },
    /// An envelope could not be serialized.
    #[error("cannot serialize event {event_id}: {source}")]
    Encode { event_id: String, source: serde_json::Error },
    /// A failed write could not be rolled back; the in-memory view of the file is no longer trusted.
    /// Reopen the log (which repairs the tail).
    #[error("events log {path} needs reopening after a failed write could not be rolled back")]
    Poisoned { path: PathBuf },
    /// The configuration is invalid.
    #[error("recorder config: {0}")]
    Config(String),
    /// The bus failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A blocking file task panicked or was cancelled.
    #[error("recorder file task failed: {0}")]
    Task(String),
}

impl RecorderError {
    /// Whether the same operation may succeed later (after reopening the log for `Poisoned`).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Io { .. } | Self::Poisoned { .. } => true,
            Self::Bus(e) => e.is_retryable(),
            Self::Locked { .. } | Self::Corrupt { .. } | Self::Quarantined { .. } | Self::Encode { .. } | Self::Config(_) | Self::Task(_) => false,
        }
    }
}
