//! Errors of the AI layers.

use nl_bus::BusError;

/// What can stop the service or fail a call.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error("invalid AI config: {0}")]
    Config(String),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("prompt or schema {0}: {1}")]
    Prompt(String, String),
}

/// Why one call produced no usable reply (the layer then abstains or fails; the service keeps running).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("timeout after {0} ms")]
    Timeout(u64),
    #[error("transport: {0}")]
    Transport(String),
    #[error("HTTP {0}: {1}")]
    Status(u16, String),
    #[error("reply body of {0} bytes exceeds max_reply_bytes")]
    TooLong(usize),
    #[error("reply is not a chat completion: {0}")]
    Shape(String),
}

impl CallError {
    /// The `ai.failed` reason code.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Transport(_) | Self::Status(..) => "endpoint_error",
            Self::TooLong(_) => "reply_too_long",
            Self::Shape(_) => "malformed_reply",
        }
    }
}
