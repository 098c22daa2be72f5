//! Bus errors, classified so callers know whether to retry.

use std::time::Duration;

/// Errors of a bus operation.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus connection failed: {0}")]
    Connect(String),
    #[error("publish to {subject} failed: {reason}")]
    Publish { subject: String, reason: String },
    #[error("in-memory stream is full ({limit} messages unacknowledged); message shed")]
    Full { limit: usize },
    #[error("consumer {durable}: {reason}")]
    Consumer { durable: String, reason: String },
    #[error("settling a delivery failed: {0}")]
    Settle(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A broker request (stream info, message get, KV operation) failed.
    #[error("broker request failed: {0}")]
    Broker(String),
    #[error("bus closed")]
    Closed,
}

impl BusError {
    /// Whether the same call may succeed if tried again later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::Publish { .. } | Self::Full { .. } | Self::Settle(_) | Self::Broker(_))
    }

    /// A suggested wait before retrying.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.is_retryable().then_some(Duration::from_millis(200))
    }
}
