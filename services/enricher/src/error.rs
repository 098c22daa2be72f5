//! Errors of the enricher, classified so the service knows whether to retry.

use std::time::Duration;

use nl_adapters::cex::ticker_client::TickerBuildError;
use nl_adapters::dex::config::DexBuildError;
use nl_bus::BusError;

/// Errors building or running the enricher.
#[derive(Debug, thiserror::Error)]
pub enum EnricherError {
    /// The config is invalid; names the field.
    #[error("invalid enricher config: {0}")]
    Config(String),
    /// The DexScreener client could not be built (bad base URL or budget).
    #[error("building the DexScreener client failed: {0}")]
    Build(#[from] DexBuildError),
    /// A bus operation failed.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// An output could not be serialized (never expected: every output is plain data).
    #[error("encoding {what} failed: {error}")]
    Encode { what: &'static str, error: String },
}

impl From<TickerBuildError> for EnricherError {
    /// A ticker client that cannot be built is a config error of `[enricher.cex_tickers]`.
    fn from(e: TickerBuildError) -> Self {
        Self::Config(format!("enricher.cex_tickers ({}): {}", e.venue, e.reason))
    }
}

impl EnricherError {
    /// Whether the same call may succeed if tried again later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Bus(e) => e.is_retryable(),
            Self::Config(_) | Self::Build(_) | Self::Encode { .. } => false,
        }
    }

    /// A suggested wait before retrying.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Bus(e) => e.retry_after(),
            _ => None,
        }
    }
}
