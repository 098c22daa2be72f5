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
    /// Complete lines of the log did not parse (not a torn write, which leaves one unterminated last line).
    /// Their bytes were copied to `quarantine`; those at the end were cut back to the last valid line and
    /// those inside the log (`blanked` of them) overwritten in place with spaces, so every other line keeps
    /// its byte offset (run manifests cite byte ranges). Opening again succeeds; the operator decides what
    /// the quarantined lines were.
    #[error("events log {path}: {lines} corrupt line(s) ({bytes} bytes), first at line {line}: {reason}; moved to {quarantine} (nothing deleted{}); inspect it, then start again", blanked_note(*blanked))]
    Quarantined { path: PathBuf, quarantine: PathBuf, lines: u64, bytes: u64, line: u64, reason: String, blanked: u64 },
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
            Self::Locked { .. } | Self::Quarantined { .. } | Self::Encode { .. } | Self::Config(_) | Self::Task(_) => false,
        }
    }
}

/// How a quarantine left lines inside the log, for [`RecorderError::Quarantined`]'s message.
fn blanked_note(blanked: u64) -> String {
    if blanked == 0 { String::new() } else { format!("; {blanked} inside the log blanked in place, every other line keeps its byte offset") }
}
