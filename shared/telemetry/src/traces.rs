//! OTLP trace export, configured only by the standard OpenTelemetry variables:
//!
//! * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): the collector's gRPC
//!   endpoint, e.g. `http://otel-collector:4317`. Unset: no exporter, no trace context in messages.
//! * `OTEL_SERVICE_NAME`: the service name on every span (default `nl-<service>`);
//!   `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_SCHEDULE_DELAY`,
//!   `OTEL_EXPORTER_OTLP_TIMEOUT` and `OTEL_EXPORTER_OTLP_HEADERS` are read by the SDK as usual.
//!
//! Spans are batched and exported on the SDK's own thread. An unreachable collector costs a logged
//! export error per batch and nothing else: the service keeps running and logging.

use opentelemetry::global;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Variables that turn trace export on (the signal-specific one wins inside the SDK).
const ENDPOINT_VARS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];

/// Why trace export stayed off although an endpoint is configured.
#[derive(Debug, thiserror::Error)]
pub enum TraceSetupError {
    #[error("no tokio runtime to run the gRPC exporter on")]
    NoRuntime,
    #[error("building the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The configured endpoint, if trace export is asked for.
#[must_use]
pub fn endpoint_from_env() -> Option<String> {
    ENDPOINT_VARS.iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// `OTEL_SERVICE_NAME` when set, else `default`.
#[must_use]
pub fn service_name(default: &str) -> String {
    std::env::var("OTEL_SERVICE_NAME").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
}

/// A tracer provider batching spans to the OTLP gRPC `endpoint`. Must be called inside a tokio runtime
/// (the gRPC channel lives on it).
///
/// # Errors
/// [`TraceSetupError`] when there is no runtime or the endpoint is not a valid URI.
pub fn provider(service: &str, endpoint: &str) -> Result<SdkTracerProvider, TraceSetupError> {
    tokio::runtime::Handle::try_current().map_err(|_| TraceSetupError::NoRuntime)?;
    let exporter = SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let resource = Resource::builder().with_service_name(service_name(service)).build();
    Ok(SdkTracerProvider::builder().with_resource(resource).with_batch_exporter(exporter).build())
}

/// Makes `provider` the global one and W3C trace context the global propagator (the default one is
/// a no-op that writes no headers).
pub fn install_globals(provider: &SdkTracerProvider) {
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use opentelemetry::trace::{Tracer, TracerProvider as _};

    use super::*;

    #[test]
    fn no_runtime_is_an_error_not_a_panic() {
        assert!(matches!(provider("t", "http://127.0.0.1:4317"), Err(TraceSetupError::NoRuntime)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_collector_costs_a_bounded_flush_and_no_failure() -> anyhow::Result<()> {
        // Port 1 on loopback: connection refused.
        let p = provider("t", "http://127.0.0.1:1")?;
        p.tracer("t").in_span("work", |_| {});
        let start = Instant::now();
        // The export fails (logged by the SDK); shutdown still completes, well within the export timeout.
        let _ = tokio::task::spawn_blocking(move || p.shutdown()).await?;
        assert!(start.elapsed() < Duration::from_secs(15), "shutdown took {:?}", start.elapsed());
        Ok(())
    }

    #[test]
    fn bad_endpoint_is_a_setup_error() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _g = rt.enter();
        assert!(matches!(provider("t", "not a uri"), Err(TraceSetupError::Exporter(_))));
    }
}
