//! Why a provider payload could not be turned into a report.

use super::Provider;

/// Why a provider payload could not be turned into a report.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    /// The body is not the JSON shape the provider documents.
    #[error("{provider}: cannot decode payload: {reason} (payload starts {excerpt:?})")]
    Decode { provider: Provider, reason: String, excerpt: String },
    /// The provider answered, but with an error status in its envelope (GoPlus `code != 1`).
    #[error("{provider}: provider error code {code}: {message}")]
    ProviderCode { provider: Provider, code: String, message: String },
    /// The payload has no entry for the requested token.
    #[error("{provider}: no result for address {address}")]
    MissingToken { provider: Provider, address: String },
    /// A field the report cannot do without is malformed.
    #[error("{provider}: bad field {field}: {reason}")]
    Field { provider: Provider, field: &'static str, reason: String },
}

impl ProviderError {
    /// Builds a [`ProviderError::Decode`] that keeps a truncated copy of the payload.
    #[must_use]
    pub fn decode(provider: Provider, reason: impl ToString, payload: &str) -> Self {
        Self::Decode { provider, reason: crate::kit::quote::quote(&reason.to_string()), excerpt: crate::kit::quote::quote(payload) }
    }

    /// Whether retrying the same request later could succeed. Provider error codes (rate limits,
    /// outages) are retryable; malformed payloads are not.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::ProviderCode { .. })
    }
}
