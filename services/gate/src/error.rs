//! Errors of the gate crate: invalid configuration.

/// A gate config is invalid.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("invalid gate config: {0}")]
    Config(String),
}
