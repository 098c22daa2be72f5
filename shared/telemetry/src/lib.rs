//! Logging setup shared by every service: `EnvFilter` (default `info`, `RUST_LOG` overrides), human or
//! JSON lines (`NL_LOG_FORMAT=json`), always to stderr so stdout stays clean for command output.
//!
//! Also the tiny Prometheus registry ([`metrics`]) and the `/metrics` + `/healthz` + `/readyz` endpoint
//! ([`http`]) that every `nl serve` process exposes, and the SIGINT/SIGTERM future ([`shutdown_signal`]) every
//! long-running process stops on.
#![forbid(unsafe_code)]

pub mod http;
pub mod metrics;
pub mod shutdown;

pub use http::{serve_http, serve_listener};
pub use metrics::{MetricKind, Registry};
pub use shutdown::shutdown_signal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Transport crates whose own debug output drowns ours.
const QUIET: &str = "h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,reqwest=warn,rustls=warn,sqlx=warn,async_nats=warn,tungstenite=warn";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// Reads `NL_LOG_FORMAT` (`json` or anything else for text).
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var("NL_LOG_FORMAT").as_deref() {
            Ok("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Installs the global subscriber once. Later calls are no-ops (tests and embedded mode call it freely).
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let registry = tracing_subscriber::registry().with(filter);
    let res = match LogFormat::from_env() {
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).try_init(),
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer().with_target(false).with_writer(std::io::stderr)).try_init(),
    };
    if res.is_ok() {
        tracing::debug!(service, "Logging initialised.");
    }
}
