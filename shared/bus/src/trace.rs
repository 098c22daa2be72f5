//! W3C trace context across the bus, so one listing's trace runs collector → enricher → risk-scorer →
//! gate → ledger although every hop is a separate process.
//!
//! A producer stamps the context of the span an output belongs to on the message ([`Message::traced`]);
//! the consumer handles the delivery in [`handle_span`], a child of that context. Messages carry the
//! `traceparent` header (and `tracestate` when non-empty) through NATS headers and the memory bus alike.
//!
//! Both ends go through the global OpenTelemetry propagator, which `nl_telemetry::init` sets only when
//! trace export is configured; otherwise nothing is written or read and the spans are plain log spans.

use std::collections::BTreeMap;

use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Message;

/// Header carrying the W3C trace context (lowercase: header lookup is case-sensitive).
pub const TRACEPARENT: &str = "traceparent";

struct HeaderInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator writes an empty `tracestate` when there is none; NATS headers need no blanks.
        if !value.is_empty() {
            self.0.insert(key.to_owned(), value);
        }
    }
}

struct HeaderExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Writes `span`'s trace context into `headers`. Nothing when tracing is off or `span` is disabled.
pub fn inject(span: &Span, headers: &mut BTreeMap<String, String>) {
    let cx = span.context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

impl Message {
    /// The message carrying `span`'s trace context, so the consumer's [`handle_span`] continues its trace.
    #[must_use]
    pub fn traced(mut self, span: &Span) -> Self {
        inject(span, &mut self.headers);
        self
    }
}

/// The event type a subject carries: `nl.evt.listing.observed` → `listing.observed`, `nl.raw.okx` →
/// `raw.captured`; other subjects as they are.
fn event_type(subject: &str) -> &str {
    if let Some(kind) = subject.strip_prefix("nl.evt.") {
        kind
    } else if subject.starts_with("nl.raw.") {
        "raw.captured"
    } else {
        subject
    }
}

/// The span in which `service` handles one delivered message: exported as `<service>.handle` (kind
/// consumer) with `event_type` and `event_id`, child of the trace context in the message's headers (a new
/// trace when it has none). `asset_id` is declared empty: record it once the payload is decoded
/// (`span.record("asset_id", ...)`). Outputs published for this message go out
/// [`traced`](Message::traced) with this span.
#[must_use]
pub fn handle_span(service: &str, msg: &Message) -> Span {
    let span = tracing::info_span!(
        "handle",
        otel.name = %format_args!("{service}.handle"),
        otel.kind = "consumer",
        event_type = event_type(&msg.subject),
        event_id = %msg.id,
        asset_id = tracing::field::Empty,
    );
    if msg.headers.contains_key(TRACEPARENT) {
        let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&msg.headers)));
        // Fails only for a disabled span (no tracing subscriber interested): nothing to parent then.
        let _ = span.set_parent(parent);
    }
    span
}

/// A root span for a new piece of work entering the pipeline (a collector's observation): exported as
/// `<service>.<operation>` (kind producer) with `event_type` and `asset_id`; starts a trace of its own.
#[must_use]
pub fn root_span(service: &str, operation: &str, event_type: &str, asset_id: &str) -> Span {
    tracing::info_span!(
        parent: None,
        "produce",
        otel.name = %format_args!("{service}.{operation}"),
        otel.kind = "producer",
        event_type,
        asset_id,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn subjects_name_their_event_type() {
        assert_eq!(event_type("nl.evt.listing.observed"), "listing.observed");
        assert_eq!(event_type("nl.raw.okx_spot"), "raw.captured");
        assert_eq!(event_type("other"), "other");
    }

    #[test]
    fn headers_round_trip_through_the_extractor() {
        let mut headers = BTreeMap::new();
        HeaderInjector(&mut headers).set(TRACEPARENT, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
        HeaderInjector(&mut headers).set("tracestate", String::new());
        assert_eq!(headers.len(), 1, "empty tracestate is not written");
        let ex = HeaderExtractor(&headers);
        assert_eq!(ex.get(TRACEPARENT), Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        assert_eq!(ex.keys(), vec![TRACEPARENT]);
    }

    /// Producer span → message over the memory bus → consumer span: one trace, consumer parented on the
    /// producer, through the real propagator and an in-memory exporter.
    #[tokio::test]
    async fn a_delivery_continues_the_publishers_trace() {
        use std::time::Duration;

        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_sdk::propagation::TraceContextPropagator;
        use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
        use tracing_subscriber::layer::SubscriberExt;

        use crate::{Bus, ConsumerSpec, MemoryBus, MemoryBusConfig};

        global::set_text_map_propagator(TraceContextPropagator::new());
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _guard = tracing::subscriber::set_default(subscriber);

        let bus = MemoryBus::new(MemoryBusConfig::default());
        let mut sub = bus.subscribe(ConsumerSpec::new("c", "nl.evt.>")).await.unwrap();
        let plain = Message::new("nl.evt.asset.upserted", "e0", "{}");
        let root = root_span("collector", "observe", "listing.observed", "cex:okx:ABC");
        let traced = Message::new("nl.evt.listing.observed", "e1", "{}").traced(&root);
        assert!(traced.headers[TRACEPARENT].starts_with("00-"), "{:?}", traced.headers);
        bus.publish(plain).await.unwrap();
        bus.publish(traced).await.unwrap();
        drop(root);

        let batch = sub.fetch(10, Duration::from_secs(1)).await.unwrap();
        assert_eq!(batch.len(), 2);
        for d in &batch {
            let span = handle_span("enricher", &d.message);
            span.record("asset_id", "cex:okx:ABC");
        }
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let by_name = |n: &str| spans.iter().filter(|s| s.name == n).collect::<Vec<_>>();
        let (roots, handles) = (by_name("collector.observe"), by_name("enricher.handle"));
        assert_eq!((roots.len(), handles.len()), (1, 2), "{spans:?}");
        let root = roots[0];
        let child: Vec<_> = handles.iter().filter(|h| h.span_context.trace_id() == root.span_context.trace_id()).collect();
        assert_eq!(child.len(), 1, "exactly the traced delivery joins the producer's trace");
        assert_eq!(child[0].parent_span_id, root.span_context.span_id());
        assert!(child[0].attributes.iter().any(|kv| kv.key.as_str() == "event_type" && kv.value.as_str() == "listing.observed"));
        assert!(child[0].attributes.iter().any(|kv| kv.key.as_str() == "asset_id" && kv.value.as_str() == "cex:okx:ABC"));
    }
}
