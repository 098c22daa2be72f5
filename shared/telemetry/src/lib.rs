//! Logging and tracing setup shared by every service: `EnvFilter` (default `info`, `RUST_LOG` overrides),
//! human or JSON lines (`NL_LOG_FORMAT=json`), always to stderr so stdout stays clean for command output,
//! one record per line with control characters escaped ([`stderr`]);
//! spans exported over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set ([`traces`]).
//!
//! Also the tiny Prometheus registry ([`metrics`]) and the `/metrics` + `/healthz` + `/readyz` endpoint
//! ([`http`]) that every `nl serve` process exposes, and the SIGINT/SIGTERM future ([`shutdown_signal`]) every
//! long-running process stops on.
#![forbid(unsafe_code)]

pub mod http;
pub mod metrics;
pub mod traces;
pub mod shutdown;
pub mod stderr;

pub use http::{serve_http, serve_listener};
pub use metrics::{MetricKind, Registry};
pub use shutdown::shutdown_signal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry as Subscribers};

/// Transport crates whose own debug output drowns ours.
///
/// `nl_bus::trace` holds only the per-message spans (`handle`, `produce`). They are for trace export,
/// which keeps them ([`NOT_TRACED`] does not name them); in log lines they are off by default because
/// formatting their fields for every message cost the ledger about 15 % of its throughput.
/// `RUST_LOG=info` brings them back into log lines.
const QUIET: &str = "h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,reqwest=warn,rustls=warn,sqlx=warn,async_nats=warn,tungstenite=warn,\
                     opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn,nl_bus::trace=warn";
/// Targets never turned into spans: transports and the OpenTelemetry SDK itself (its export calls
/// would otherwise be traced and exported in turn).
const NOT_TRACED: [&str; 9] = ["h2", "hyper", "hyper_util", "tonic", "tower", "reqwest", "rustls", "opentelemetry", "async_nats"];

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

/// Keeps trace export alive; dropping it (or [`Telemetry::shutdown`]) flushes the spans still queued.
#[must_use = "dropping the guard stops trace export"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are being exported.
    #[must_use]
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes queued spans and stops the exporter (bounded by the export timeout when the collector is
    /// unreachable). Failures are logged; they never fail the process.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "Flushing spans at shutdown failed; some spans were not exported.");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the global subscriber once: logs always, OTLP trace export when the endpoint is configured
/// (then inside a tokio runtime, see [`traces::provider`]). `service` names the spans unless
/// `OTEL_SERVICE_NAME` is set. Later calls are no-ops (tests and embedded mode call it freely).
pub fn init(service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let logs = match LogFormat::from_env() {
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).with_filter(filter).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).with_ansi(false).with_writer(stderr::EscapingStderr).with_filter(filter).boxed(),
    };
    let mut layers: Vec<Box<dyn Layer<Subscribers> + Send + Sync>> = vec![logs];
    let endpoint = traces::endpoint_from_env();
    let (provider, setup_error) = match endpoint.as_deref().map(|e| traces::provider(service, e)) {
        Some(Ok(p)) => (Some(p), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    if let Some(p) = &provider {
        let targets = NOT_TRACED.iter().fold(Targets::new().with_default(LevelFilter::INFO), |t, name| t.with_target(*name, LevelFilter::OFF));
        layers.push(tracing_opentelemetry::layer().with_tracer(p.tracer("nl")).with_filter(targets).boxed());
    }
    if tracing_subscriber::registry().with(layers).try_init().is_err() {
        // Already initialised: the first setup stays; this provider never saw a span.
        if let Some(p) = provider {
            let _ = p.shutdown();
        }
        return Telemetry::default();
    }
    if LogFormat::from_env() == LogFormat::Json {
        // A panic's message is a stderr line too.
        std::panic::set_hook(Box::new(|info| stderr::line(tracing::Level::ERROR, &format!("panic: {info}"))));
    }
    if let Some(p) = &provider {
        traces::install_globals(p);
        tracing::info!(service = %traces::service_name(service), endpoint = endpoint.as_deref().unwrap_or_default(), "Exporting traces over OTLP/gRPC.");
    }
    if let Some(error) = setup_error {
        tracing::warn!(%error, "Trace export is configured but could not start; logging only.");
    }
    tracing::debug!(service, "Logging initialised.");
    Telemetry { provider }
}
