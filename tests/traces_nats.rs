//! Issue acceptance, traces across processes: `nl serve collector|enricher|risk-scorer|gate|ledger` as five
//! separate processes against a real nats-server take one new OKX listing from a loopback simulated venue
//! to a gate decision stored by the ledger. Every process exports spans over OTLP/gRPC to an in-process
//! receiver (tonic, the OTLP `TraceService`), configured only by `OTEL_EXPORTER_OTLP_ENDPOINT` and
//! `OTEL_SERVICE_NAME`. Checked: every span of the listing has one trace id; the trace covers every
//! service; each hop's consumer span is the child of the previous service's span.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nl_testkit::{NatsServer, wait_until};
use nl_simulator::Simulator;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// The instrument OKX lists at the simulator's tick 1.
const ASSET: &str = "cex:okx:SOKXB";
const SERVICES: [&str; 5] = ["collector", "enricher", "risk-scorer", "gate", "ledger"];

/// One received span: the exporting process's `service.name` and the span's fields we check.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attrs: BTreeMap<String, String>,
}

/// The OTLP trace receiver: keeps every exported span.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Got>>>);

fn text(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

#[async_trait::async_trait]
impl TraceService for Receiver {
    async fn export(&self, req: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut got = self.0.lock().unwrap();
        for rs in req.into_inner().resource_spans {
            let service = rs.resource.as_ref().and_then(|r| text(&r.attributes).remove("service.name")).unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                got.push(Got {
                    service: service.clone(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    attrs: text(&span.attributes),
                });
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Receiver {
    fn spans(&self) -> Vec<Got> {
        self.0.lock().unwrap().clone()
    }
}

/// The services, killed on drop ([`support::Spawned`]).
struct Procs(Vec<(&'static str, support::Spawned)>);

async fn decisions(db: &std::path::Path) -> i64 {
    if !db.exists() {
        return 0;
    }
    let Ok(reader) = nl_ledger::SqliteReader::open(db, 1).await else { return 0 };
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE asset_id = ?1 AND type IN ('candidate.promoted', 'candidate.rejected')")
        .bind(ASSET)
        .fetch_one(reader.pool())
        .await
        .unwrap_or(0);
    reader.pool().close().await;
    n
}

/// The one span named `name` in `spans` that is about [`ASSET`] and has `event_type`.
fn one<'a>(spans: &'a [Got], name: &str, event_type: &str) -> &'a Got {
    let found: Vec<&Got> = spans.iter().filter(|s| s.name == name && s.attrs.get("event_type").map(String::as_str) == Some(event_type)).collect();
    assert_eq!(found.len(), 1, "one {name} span for {event_type}: {found:#?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_listing_is_one_trace_across_five_processes() {
    let server = NatsServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let receiver = Receiver::default();
    let svc = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move { Server::builder().add_service(svc).serve_with_incoming(TcpIncoming::from(listener)).await });

    let sim = Simulator::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = support::sim_env(&sim.base_url(), &["okx_spot"]);
    env.extend(support::nats_env(&server.bus_config()).into_iter().map(|(k, v)| (k.to_string(), v)));
    for (k, v) in [
        ("NL_DEX__GECKOTERMINAL__ENABLED", "false"),
        ("NL_DEX__DEXSCREENER__ENABLED", "false"),
        ("NL_SOURCES__OKX_SPOT__INTERVAL_SECS", "1"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ] {
        env.push((k.into(), v.into()));
    }
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), format!("http://{otlp}")));

    let mut procs = Procs(Vec::new());
    for service in SERVICES {
        let mut vars: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        vars.push(("OTEL_SERVICE_NAME", format!("e2e-{service}")));
        let mut c = support::nl(tmp.path(), &vars);
        c.args(["serve", service]);
        procs.0.push((service, support::spawn(c)));
    }

    // The collector's first poll baselines the venue's list; the next one sees the instrument listed at tick 1.
    assert!(wait_until(Duration::from_secs(60), || async { sim.hits() >= 1 }).await, "the collector never polled the venue");
    sim.advance();
    let db = tmp.path().join("new_listings.sqlite");
    assert!(wait_until(Duration::from_secs(120), || async { decisions(&db).await >= 1 }).await, "no gate decision for {ASSET} reached the ledger");

    // Graceful stop flushes each process's queued spans before it exits.
    for (service, c) in &mut procs.0 {
        let status = support::sigterm(c);
        assert!(status.success(), "nl serve {service} exits 0 on SIGTERM: {status:?}");
    }
    let spans = receiver.spans();

    let root = one(&spans, "collector.observe", "listing.observed");
    assert_eq!(root.attrs.get("asset_id").map(String::as_str), Some(ASSET));
    let about: Vec<&Got> = spans.iter().filter(|s| s.attrs.get("asset_id").map(String::as_str) == Some(ASSET)).collect();
    let traces: BTreeSet<&Vec<u8>> = about.iter().map(|s| &s.trace_id).collect();
    assert_eq!(traces.len(), 1, "every span of {ASSET} has one trace id: {about:#?}");
    let trace: Vec<Got> = spans.iter().filter(|s| s.trace_id == root.trace_id).cloned().collect();
    let services: BTreeSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    let expected: BTreeSet<String> = SERVICES.iter().map(|s| format!("e2e-{s}")).collect();
    assert_eq!(services, expected.iter().map(String::as_str).collect(), "the trace covers every service");
    assert!(services.len() >= 4);

    // Hop by hop, each consumer span is the child of the span that published its input.
    let enrich = one(&trace, "enricher.handle", "listing.observed");
    let risk = one(&trace, "risk-scorer.handle", "snapshot.recorded");
    let gate = one(&trace, "gate.handle", "score.computed");
    let decision = trace
        .iter()
        .find(|s| s.name == "ledger.handle" && s.attrs.get("event_type").is_some_and(|t| t.starts_with("candidate.")))
        .expect("the ledger stored the decision in the same trace");
    assert_eq!(enrich.parent_span_id, root.span_id);
    assert_eq!(risk.parent_span_id, enrich.span_id);
    assert_eq!(gate.parent_span_id, risk.span_id);
    assert_eq!(decision.parent_span_id, gate.span_id);
    assert_eq!((root.service.as_str(), decision.service.as_str()), ("e2e-collector", "e2e-ledger"));
}
