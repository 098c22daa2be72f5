//! Errors of rule and score validation. Provider payload errors are [`nl_adapters::providers::ProviderError`].

/// Why a rules or score config is invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RiskError {
    /// A rules or score config failed validation.
    #[error("invalid config: {0}")]
    Config(String),
}
