//! Validation errors of domain values.

/// A domain value failed validation. Each variant says what was wrong and with which input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("invalid asset id {input:?}: {reason}")]
    AssetId { input: String, reason: &'static str },
    #[error("invalid decimal {input:?}: {reason}")]
    Decimal { input: String, reason: String },
    #[error("unknown event type {0:?} (known types: {known})", known = crate::EventType::known_list())]
    EventType(String),
    #[error("unknown check code {0:?} (known codes: {known})", known = crate::CheckCode::known_list())]
    CheckCode(String),
    #[error("unknown experiment status {0:?} (known: {known})", known = crate::ExperimentStatus::known_list())]
    ExperimentStatus(String),
    #[error("meta of {kind} is not a valid {what}: {reason}")]
    Body { kind: crate::EventType, what: &'static str, reason: String },
    #[error("stored {kind} cites its {key} as event {event_id:?}, which is not at hand")]
    Cited { kind: crate::EventType, key: String, event_id: String },
}
