//! `nl serve <service>`: one service against NATS JetStream (distributed mode), with `/metrics`,
//! `/healthz` and `/readyz` on `[serve] metrics_addr`; the ledger and the gate also serve their gRPC APIs.
//! Also the hidden `nl mock-venue`, a static JSON server the compose smoke test points collectors at.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use nl_bus::handler::{DROPPED_HELP, ERRORS_HELP, PUBLISHED_HELP, RECEIVED_HELP};
use nl_bus::{Bus, CancellationToken, NatsBus, ServiceCtx};
use nl_collector::SourceCounters;
use nl_config::Loaded;
use nl_telemetry::Registry;
use tokio::net::TcpListener;

use nl_runtime::{Extras, ServiceConfigs, Stage};

use crate::cli::ServiceName;
use crate::config::NlConfig;

/// How often consumer state is read from the broker (it is a request round trip, not free).
const CONSUMER_POLL: Duration = Duration::from_secs(5);

/// One shutdown signal, awaited by many tasks.
#[derive(Clone)]
struct Stop(CancellationToken);

impl Stop {
    /// Cancelled on SIGINT/SIGTERM (the watcher task is spawned once here).
    fn on_signal() -> Self {
        let token = CancellationToken::new();
        let cancel = token.clone();
        tokio::spawn(async move {
            nl_telemetry::shutdown_signal().await;
            cancel.cancel();
        });
        Self(token)
    }

    fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        self.0.clone().cancelled_owned()
    }

    fn token(&self) -> CancellationToken {
        self.0.clone()
    }
}

/// Runs one service until SIGINT/SIGTERM, then drains the batch in flight and exits.
///
/// # Errors
/// NATS unreachable, a listen address taken, bad service config, or a fatal service error.
pub async fn serve(loaded: &Loaded<NlConfig>, service: ServiceName) -> anyhow::Result<ExitCode> {
    let cfg = &loaded.config;
    check_grpc_exposure(cfg, service)?;
    let stop = Stop::on_signal();
    let registry = Arc::new(Registry::new());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind(cfg.serve.metrics_addr).await.with_context(|| format!("binding metrics on {}", cfg.serve.metrics_addr))?;
    tracing::info!(addr = %cfg.serve.metrics_addr, "Metrics and health on /metrics, /healthz, /readyz.");
    let http = tokio::spawn(nl_telemetry::serve_listener(listener, Arc::clone(&registry), Arc::clone(&ready), stop.wait()));
    let run = nl_collector::RunIdentity { run_id: nl_config::new_run_id(chrono::Utc::now()), config_hash: loaded.config_hash.clone() };
    tracing::info!(service = ?service, run_id = %run.run_id, config_hash = %run.config_hash, "Serving.");
    let label = service_label(service);
    if service == ServiceName::Collector {
        let scfg = nl_collector::serve::ServeConfig {
            nats: cfg.nats.clone(),
            sources: cfg.sources.clone(),
            push: cfg.push.clone(),
            collector: cfg.collector.clone(),
            dex: cfg.dex.clone().with_activity(cfg.enricher.enrich_after_trades, cfg.enricher.enrich_after_secs),
        };
        let replica = nl_collector::serve::build(scfg, run).await.context("starting the collector")?;
        export_sources(&registry, replica.counters());
        ready.store(true, Ordering::Relaxed);
        replica.run(stop.wait()).await;
    } else if service == ServiceName::Web {
        serve_web(loaded, run, &registry, &ready, &stop).await?;
    } else if service == ServiceName::Orchestrator {
        crate::cmd_orchestrator::serve(loaded, &ready, stop.token()).await?;
    } else if service == ServiceName::Paper {
        let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&cfg.nats).await.with_context(|| format!("connecting to NATS at {}", nl_domain::redact::redact_urls(&cfg.nats.url)))?);
        let svc = crate::cmd_paper::build_service(loaded, None, run, Arc::clone(&bus)).await?;
        nl_bus::Service::register_metrics(&svc, &registry);
        watch_consumers(&registry, &bus, nl_bus::Service::durables(&svc), &stop).await;
        ready.store(true, Ordering::Relaxed);
        let counts = svc.run(stop.token()).await?;
        tracing::info!(service = label, ?counts, "Service stopped.");
    } else {
        let bus: Arc<dyn Bus> = Arc::new(NatsBus::connect(&cfg.nats).await.with_context(|| format!("connecting to NATS at {}", nl_domain::redact::redact_urls(&cfg.nats.url)))?);
        serve_consumer(cfg, service, bus, run, &registry, &ready, &stop).await?;
    }
    ready.store(false, Ordering::Relaxed);
    let _ = http.await;
    tracing::info!(service = label, "Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Refuses a gRPC API (Ledger, Gate, Orchestrator) on a non-loopback address without a token, before
/// anything starts: the same rule as the dashboard's.
fn check_grpc_exposure(cfg: &NlConfig, service: ServiceName) -> anyhow::Result<()> {
    let (key, addr) = match service {
        ServiceName::Ledger => ("[serve] ledger_grpc_addr (NL_SERVE__LEDGER_GRPC_ADDR)", cfg.serve.ledger_grpc_addr),
        ServiceName::Gate => ("[serve] gate_grpc_addr (NL_SERVE__GATE_GRPC_ADDR)", cfg.serve.gate_grpc_addr),
        ServiceName::Orchestrator => ("[orchestrator] grpc_addr (NL_ORCHESTRATOR__GRPC_ADDR)", cfg.orchestrator.grpc_addr),
        _ => return Ok(()),
    };
    cfg.serve.require_token_off_loopback(key, addr)
}

/// `nl serve web`: the dashboard over the ledger's gRPC API (`[serve] ledger_url`); the bus is NATS. The
/// `/v1` ops API reads over that gRPC too (experiments, runs, trades, replay inputs: no ledger DB file on
/// this machine) and publishes its writes on NATS, asking the ledger's gRPC when they are applied.
async fn serve_web(loaded: &Loaded<NlConfig>, run: nl_collector::RunIdentity, registry: &Arc<Registry>, ready: &AtomicBool, stop: &Stop) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let from = crate::cli::ReadFrom { out_dir: None, ledger_url: Some(cfg.serve.ledger_url.clone()) };
    let reader = crate::cmd_views::reader(cfg, &from).await?;
    let nats = NatsBus::connect(&cfg.nats).await.with_context(|| format!("connecting to NATS at {}", cfg.nats.url))?;
    // The collectors' lease bucket, read for the sources page's lease holders (the ledger never learns them).
    let ttl = Duration::from_secs(cfg.collector.lease_ttl_secs);
    let leases = match nl_bus::NatsLeases::open(nats.jetstream(), &cfg.collector.lease_bucket, ttl, "web").await {
        Ok(l) => Some(Arc::new(l)),
        Err(error) => {
            tracing::warn!(%error, "The lease bucket cannot be read; the sources page shows no lease holders.");
            None
        }
    };
    let bus: Arc<dyn Bus> = Arc::new(nats);
    let ctx = ServiceCtx::new(bus, run);
    let alerts = crate::cmd_alerts::start(cfg, &ctx, Arc::clone(&reader))?;
    let mut web = nl_web::WebService::bind(cfg.web.clone(), &ctx, reader).await.context("starting the dashboard")?.with_writer(Arc::new(nl_web::BusWriter(Arc::clone(&ctx.bus))));
    if let Some(l) = leases {
        web = web.with_leases(l);
    }
    if let Some(a) = &alerts {
        web = web.with_alerts(a.board.clone());
        nl_web::alerts::export_metrics(a.board.clone(), registry);
    }
    // Whether the ledger applied a write is asked over its gRPC, like every other read of this service.
    let pipeline = crate::cmd_paper::Pipeline { bus: Arc::clone(&ctx.bus), ledger: Arc::new(cfg.serve.ledger_reader()?) };
    let (paper, ops) = crate::ops_backend::on_bus(loaded, pipeline).await?;
    web = web.with_ops(paper, ops);
    tracing::info!(addr = %web.local_addr()?, "Dashboard.");
    nl_bus::Service::register_metrics(&web, registry);
    ready.store(true, Ordering::Relaxed);
    let served = web.serve(stop.token()).await;
    if let Some(a) = alerts {
        a.stop().await;
    }
    served?;
    Ok(())
}

/// The services that consume the stream: build, start the service's own API if it has one (the ledger's
/// and the gate's gRPC), then the same for every service: register its metrics, watch its consumers, mark
/// ready, run.
async fn serve_consumer(
    cfg: &NlConfig,
    service: ServiceName,
    bus: Arc<dyn Bus>,
    run: nl_collector::RunIdentity,
    registry: &Arc<Registry>,
    ready: &AtomicBool,
    stop: &Stop,
) -> anyhow::Result<()> {
    let ctx = ServiceCtx::new(Arc::clone(&bus), run);
    let stage = match service {
        ServiceName::Ledger => Stage::Ledger,
        ServiceName::Recorder => Stage::Recorder,
        ServiceName::Enricher => Stage::Enricher,
        ServiceName::RiskScorer => Stage::RiskScorer,
        ServiceName::Gate => Stage::Gate,
        ServiceName::AiDispatch => Stage::AiDispatch,
        ServiceName::Collector | ServiceName::Web | ServiceName::Orchestrator | ServiceName::Paper => anyhow::bail!("{} does not consume the stream", service_label(service)),
    };
    let token = nl_proto::auth::token_from_env(&cfg.serve.grpc_token_env, |k| std::env::var(k).ok()).context("[serve] grpc_token_env")?;
    let require = nl_proto::auth::RequireBearer::new(token);
    let mut extras = Extras::default();
    let mut api: Option<(&str, tokio::task::JoinHandle<anyhow::Result<()>>)> = None;
    match stage {
        Stage::Ledger => {
            let store = nl_ledger::LedgerStore::open(&cfg.ledger).await.context("starting the ledger")?;
            let listener =
                TcpListener::bind(cfg.serve.ledger_grpc_addr).await.with_context(|| format!("binding gRPC Ledger on {}", cfg.serve.ledger_grpc_addr))?;
            let grpc = nl_ledger::grpc::LedgerGrpc::new(store.reader().clone()).with_bus(Arc::clone(&bus)).with_auth(require).with_tls(cfg.serve.server_tls()?);
            let served = nl_ledger::grpc::serve_listener(listener, grpc, stop.wait());
            api = Some(("gRPC Ledger", tokio::spawn(async move { Ok(served.await?) })));
            tracing::info!(addr = %cfg.serve.ledger_grpc_addr, "gRPC Ledger serving.");
            extras.store = Some(store);
        }
        Stage::Gate => {
            let decisions: Arc<dyn nl_domain::LedgerReader> = Arc::new(cfg.serve.ledger_reader()?);
            let listener = TcpListener::bind(cfg.serve.gate_grpc_addr).await.with_context(|| format!("binding gRPC Gate on {}", cfg.serve.gate_grpc_addr))?;
            let served = nl_gate::serve_listener(listener, nl_gate::GateGrpc::new(Arc::clone(&decisions), cfg.gate.execution.clone()).with_auth(require).with_tls(cfg.serve.server_tls()?), stop.wait());
            api = Some(("gRPC Gate", tokio::spawn(async move { Ok(served.await?) })));
            tracing::info!(addr = %cfg.serve.gate_grpc_addr, ledger = %cfg.serve.ledger_url, "gRPC Gate serving.");
            // The service seeds each asset's last decision from the ledger, so a restart re-emits nothing unchanged.
            extras.ledger_reader = Some(decisions);
        }
        Stage::AiDispatch => {
            anyhow::ensure!(cfg.ai.active(), "nl serve ai-dispatch: AI is {}", cfg.ai.status_line());
            extras.ledger_reader = Some(Arc::new(cfg.serve.ledger_reader()?));
            extras.ai_out_dir = Some(cfg.storage.out_dir.clone());
        }
        Stage::Enricher if cfg.enricher.enrich_after_secs > 0 => {
            // Launches still deferred when the last enricher stopped are resumed from the ledger.
            extras.ledger_reader = Some(Arc::new(cfg.serve.ledger_reader()?));
        }
        Stage::Enricher | Stage::RiskScorer | Stage::Recorder => {}
    }
    let venue_urls = cfg.sources.venue_base_urls();
    let cfgs = ServiceConfigs {
        enricher: &cfg.enricher,
        risk_scorer: &cfg.risk_scorer,
        gate: &cfg.gate,
        ledger: &cfg.ledger,
        recorder: &cfg.recorder,
        ai: &cfg.ai,
        venue_urls: &venue_urls,
    };
    let svc = nl_runtime::topology::build(stage, cfgs, ctx, &extras).await?;
    svc.register_metrics(registry);
    watch_consumers(registry, &bus, svc.durables(), stop).await;
    ready.store(true, Ordering::Relaxed);
    let name = svc.name();
    let counts = svc.run(stop.token()).await.map_err(|e| anyhow::anyhow!(e)).with_context(|| format!("{name} stopped"))?;
    tracing::info!(service = name, ?counts, "Service stopped.");
    if let Some((what, task)) = api {
        task.await.with_context(|| format!("{what} task"))?.context(what)?;
    }
    Ok(())
}

pub(crate) fn service_label(service: ServiceName) -> &'static str {
    match service {
        ServiceName::Ledger => "ledger",
        ServiceName::Recorder => "recorder",
        ServiceName::Collector => "collector",
        ServiceName::Enricher => "enricher",
        ServiceName::RiskScorer => "risk-scorer",
        ServiceName::Gate => "gate",
        ServiceName::Web => "web",
        ServiceName::Orchestrator => "orchestrator",
        ServiceName::AiDispatch => "ai-dispatch",
        ServiceName::Paper => "paper",
    }
}

/// Reads `durables`' state once now (so the first scrape has it) and then every [`CONSUMER_POLL`].
async fn watch_consumers(registry: &Arc<Registry>, bus: &Arc<dyn Bus>, durables: Vec<String>, stop: &Stop) {
    refresh_consumers(registry, bus.as_ref(), &durables).await;
    let (registry, bus, stopped) = (Arc::clone(registry), Arc::clone(bus), stop.wait());
    tokio::spawn(async move {
        tokio::pin!(stopped);
        let mut tick = tokio::time::interval(CONSUMER_POLL);
        loop {
            tokio::select! {
                () = &mut stopped => break,
                _ = tick.tick() => refresh_consumers(&registry, bus.as_ref(), &durables).await,
            }
        }
    });
}

async fn refresh_consumers(registry: &Registry, bus: &dyn Bus, durables: &[String]) {
    for durable in durables {
        match bus.consumer_state(durable).await {
            Ok(s) => {
                let l = [("durable", durable.as_str())];
                registry.gauge_set("nl_consumer_pending", "Messages matching the consumer not yet delivered.", &l, s.num_pending as f64);
                registry.gauge_set("nl_consumer_ack_pending", "Delivered and not yet acknowledged.", &l, s.num_ack_pending as f64);
                registry.gauge_set("nl_consumer_redelivered", "Messages delivered more than once.", &l, s.num_redelivered as f64);
            }
            Err(error) => {
                tracing::warn!(%durable, %error, "Reading consumer state failed.");
                registry.counter_add("nl_errors_total", ERRORS_HELP, &[("stage", "consumer_state")], 1.0);
            }
        }
    }
}

/// The fixed per-service set: received, published, errors by stage, dropped by reason.
fn export_common(r: &Registry, received: u64, published: u64, errors: &[(&str, u64)], dropped: &[(&str, u64)]) {
    r.counter_set("nl_received_total", RECEIVED_HELP, &[], received as f64);
    r.counter_set("nl_published_total", PUBLISHED_HELP, &[], published as f64);
    for (stage, n) in errors {
        r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", stage)], *n as f64);
    }
    for (reason, n) in dropped {
        r.counter_set("nl_dropped_total", DROPPED_HELP, &[("reason", reason)], *n as f64);
    }
}

/// Collector totals plus per-source health, read from the sources' counters at scrape time.
fn export_sources(registry: &Registry, counters: BTreeMap<String, Arc<SourceCounters>>) {
    registry.on_scrape(move |r| {
        let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let (mut raws, mut obs, mut errors, mut publish) = (0, 0, 0, 0);
        for (name, c) in &counters {
            raws += g(&c.raws);
            obs += g(&c.observations);
            errors += g(&c.errors);
            publish += g(&c.publish_failures);
            let l = [("source", name.as_str())];
            let last = g(&c.last_success_ms);
            // NaN until this replica has polled the source successfully (another replica may hold its lease).
            let age = if last == 0 { f64::NAN } else { now_ms.saturating_sub(last) as f64 / 1000.0 };
            r.gauge_set("nl_source_last_success_age_seconds", "Seconds since the source's last clean poll (NaN: never here).", &l, age);
            r.counter_set("nl_source_rate_limited_total", "Venue rate-limit answers (429/418).", &l, g(&c.rate_limited) as f64);
            r.counter_set("nl_source_polls_total", "Polls run.", &l, g(&c.polls) as f64);
            r.counter_set("nl_source_errors_total", "Polls with errors.", &l, g(&c.errors) as f64);
            r.counter_set("nl_source_leases_lost_total", "Leases lost to another replica or expiry.", &l, g(&c.leases_lost) as f64);
        }
        export_common(r, raws, raws + obs, &[("poll", errors), ("publish", publish)], &[("shed", 0)]);
    });
}

/// `nl mock-venue`: serves `<dir>/<path>.json` (or `<dir>/<path>`) for `GET /<path>`, re-read on every
/// request so a test can change the listing under a running collector. Query strings are ignored.
///
/// # Errors
/// The port cannot be bound.
pub async fn mock_venue(dir: PathBuf, port: u16) -> anyhow::Result<ExitCode> {
    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, dir = %dir.display(), "Mock venue serving.");
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let dir = dir.clone();
        async move { mock_file(&dir, uri.path()).await }
    });
    let stop = Stop::on_signal();
    axum::serve(listener, app).with_graceful_shutdown(stop.wait()).await.context("mock venue")?;
    Ok(ExitCode::SUCCESS)
}

async fn mock_file(dir: &Path, path: &str) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return (StatusCode::BAD_REQUEST, "bad path\n").into_response();
    }
    for candidate in [dir.join(rel).with_extension("json"), dir.join(rel)] {
        if let Ok(body) = tokio::fs::read(&candidate).await {
            return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        }
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nl_bus::{MemoryBus, MemoryBusConfig, Service};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1).context("no status")?.parse()?;
        Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
    }

    async fn start_http(registry: Arc<Registry>) -> anyhow::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(nl_telemetry::serve_listener(listener, registry, Arc::new(AtomicBool::new(true)), std::future::pending()));
        Ok(addr)
    }

    #[tokio::test]
    async fn gate_service_exports_the_fixed_metric_set() -> anyhow::Result<()> {
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig::default()));
        let run = nl_risk_scorer::RunIdentity { run_id: "nl_20261121_000000Z_00000000".into(), config_hash: "h".into() };
        let cfg = nl_gate::GateServiceConfig::default();
        let svc = nl_gate::build(cfg.clone(), ServiceCtx::new(Arc::clone(&bus), run)).await?;
        let registry = Arc::new(Registry::new());
        svc.register_metrics(&registry);
        watch_consumers(&registry, &bus, vec![cfg.durable.clone()], &Stop(CancellationToken::new())).await;
        let (status, body) = get(start_http(registry).await?, "/metrics").await?;
        assert_eq!(status, 200);
        for name in [
            "nl_received_total 0",
            "nl_published_total 0",
            "nl_errors_total{stage=\"settle\"}",
            "nl_dropped_total{reason=\"poison\"}",
            "nl_consumer_pending{durable=\"gate\"}",
            "nl_consumer_ack_pending{durable=\"gate\"}",
            "nl_consumer_redelivered{durable=\"gate\"}",
        ] {
            assert!(body.contains(name), "{name} missing:\n{body}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn collector_exports_per_source_health() -> anyhow::Result<()> {
        let polled = Arc::new(SourceCounters::default());
        polled.rate_limited.store(2, Ordering::Relaxed);
        polled.raws.store(5, Ordering::Relaxed);
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
        polled.last_success_ms.store(now_ms, Ordering::Relaxed);
        let counters = BTreeMap::from([("okx_spot".to_string(), polled), ("kraken_pairs".to_string(), Arc::new(SourceCounters::default()))]);
        let registry = Arc::new(Registry::new());
        export_sources(&registry, counters);
        let (_, body) = get(start_http(registry).await?, "/metrics").await?;
        for name in [
            "nl_received_total 5",
            "nl_source_rate_limited_total{source=\"okx_spot\"} 2",
            "nl_source_last_success_age_seconds{source=\"okx_spot\"}",
            "nl_source_last_success_age_seconds{source=\"kraken_pairs\"} NaN",
            "nl_dropped_total{reason=\"shed\"} 0",
        ] {
            assert!(body.contains(name), "{name} missing:\n{body}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn mock_venue_serves_files_and_refuses_escapes() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("api/v5/public"))?;
        std::fs::write(dir.path().join("api/v5/public/instruments.json"), br#"{"code":"0","data":[]}"#)?;
        let resp = mock_file(dir.path(), "/api/v5/public/instruments").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(mock_file(dir.path(), "/../etc/passwd").await.status(), 400);
        assert_eq!(mock_file(dir.path(), "/missing").await.status(), 404);
        Ok(())
    }
}
