//! Errors of the gate crate: invalid configuration and unusable golden files.

/// A gate config or golden scenario file is invalid.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("invalid gate config: {0}")]
    Config(String),
    #[error("golden file: {0}")]
    Golden(String),
    #[error("golden file JSON: {0}")]
    Json(#[from] serde_json::Error),
}
