//! #16 in the runtime:
//! * `nl run` with a source whose task panics (a hostile payload meeting a parser bug): the source is
//!   restarted and polls again, and the run is not `completed`: the final manifest is `failed` with the
//!   panic in its `errors` and `summary.sources[].panics`, which `nl run` turns into exit code 1;
//! * gRPC `Orchestrator` with `[serve] grpc_token_env` set answers `UNAUTHENTICATED` without the bearer
//!   token or with a wrong one, like `Ledger` and `Gate`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nl_adapters::source::{PollOutcome, Source};
use nl_collector::serve::FeedSources;
use nl_domain::Ts;
use nl_runtime::{ContinuousConfig, ContinuousOptions, CycleConfig, run_continuous_sources};

/// Its first poll panics; later polls succeed and report how many polls there were.
struct PanicsOnce {
    polls: AtomicU64,
    seen: tokio::sync::watch::Sender<u64>,
}

#[async_trait]
impl Source for PanicsOnce {
    fn name(&self) -> &str {
        "panics_once"
    }
    fn interval(&self) -> Duration {
        Duration::from_millis(20)
    }
    async fn poll(&self, _state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let n = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.send_replace(n);
        assert!(n > 1, "the first poll panics");
        PollOutcome::default()
    }
}

fn config(out: &std::path::Path) -> ContinuousConfig {
    let storage = nl_config::StorageConfig { out_dir: out.to_path_buf() };
    let ledger = nl_ledger::LedgerConfig { db_path: storage.db_path(), ..nl_ledger::LedgerConfig::default() };
    let recorder = nl_recorder::RecorderConfig { path: storage.events_path(), ..nl_recorder::RecorderConfig::default() };
    let mut dex = nl_adapters::dex::config::DexSourcesConfig::default();
    dex.geckoterminal.enabled = false;
    dex.dexscreener.enabled = false;
    let cycle = CycleConfig {
        storage,
        ledger,
        recorder,
        enricher: nl_enricher::EnricherConfig::default(),
        risk_scorer: nl_risk_scorer::RiskScorerConfig::default(),
        gate: nl_gate::GateServiceConfig::default(),
        ai: nl_ai_dispatch::AiConfig::default(),
        sources: nl_adapters::cex::config::SourcesConfig::default(),
        dex,
        memory_max_messages: 100_000,
        max_in_cycle_wait_secs: 10,
        config_hash: "panicking-source-test".into(),
        effective_config: serde_json::json!({}),
    };
    ContinuousConfig { cycle, push: Default::default(), paper: nl_paper::PaperConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_source_is_restarted_and_the_run_ends_failed_with_the_panic_in_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (seen, mut polled) = tokio::sync::watch::channel(0u64);
    let source = Arc::new(PanicsOnce { polls: AtomicU64::new(0), seen });
    let sources = FeedSources { polls: vec![source], pushes: Vec::new(), evm_pushes: Vec::new(), solana_pushes: Vec::new() };
    let restarted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&restarted);
    // Stop once the source polled again after its panic (or give up after 30 s; asserted below).
    let shutdown = async move {
        let again = tokio::time::timeout(Duration::from_secs(30), polled.wait_for(|n| *n >= 3)).await;
        flag.store(matches!(again, Ok(Ok(_))), Ordering::SeqCst);
    };
    let opts = ContinuousOptions { checkpoint_every: Duration::from_secs(60), drain_timeout: Duration::from_secs(30) };
    let mem = nl_bus::MemoryBus::new(nl_bus::memory::MemoryBusConfig::default());
    let run_id = nl_config::new_run_id(chrono::Utc::now());
    let out = run_continuous_sources(mem, &cfg, sources, run_id, opts, shutdown, |_| {}).await.unwrap();
    assert!(restarted.load(Ordering::SeqCst), "the source polled again after its task panicked");

    assert!(!out.clean(), "a panic is an error of the run (nl run exits 1)");
    let m = &out.manifest;
    assert_eq!(m.summary["status"], "failed", "{:?}", m.summary);
    assert!(m.errors.iter().any(|e| e == "source panics_once: its task panicked 1 time(s) and was restarted"), "{:?}", m.errors);
    let counters = m.summary["sources"].as_array().unwrap().iter().find(|s| s["source"] == "panics_once").unwrap();
    assert_eq!(counters["panics"], 1);
    assert!(counters["polls"].as_u64().unwrap() >= 3, "{counters}");
    // What was written is what the manifest on disk says.
    let on_disk: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out.manifest_path).unwrap()).unwrap();
    assert_eq!(on_disk["summary"]["status"], "failed");
    assert!(on_disk["errors"].to_string().contains("panicked"), "{on_disk}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orchestrator_answers_unauthenticated_without_its_bearer_token() {
    use nl_proto::pb;
    use nl_proto::pb::orchestrator_client::OrchestratorClient;
    let tmp = tempfile::tempdir().unwrap();
    let stop = nl_bus::CancellationToken::new();
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::new(nl_bus::memory::MemoryBusConfig::default()));
    let state = Arc::new(nl_collector::MemoryStateStore::default());
    let orch = nl_runtime::Orchestrator::new(config(tmp.path()).cycle, nl_runtime::OrchestratorConfig::default(), bus, state, None, stop.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let service = orch.grpc(nl_proto::auth::RequireBearer::new(Some("s3cret-token".to_string())));
    let stopped = stop.clone();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), stopped.cancelled_owned()),
    );
    let channel = tonic::transport::Channel::from_shared(url).unwrap().connect().await.unwrap();
    let unknown = || pb::RunStatusRequest { run_id: "nl_20260101_000000Z_00000000".into() };
    let mut bare = OrchestratorClient::new(channel.clone());
    assert_eq!(bare.run_status(unknown()).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    assert_eq!(bare.trigger_cycle(pb::TriggerCycleRequest { dry_run: false }).await.unwrap_err().code(), tonic::Code::Unauthenticated, "no cycle for a stranger");
    for (header, expected) in [("Bearer wrong", tonic::Code::Unauthenticated), ("Bearer s3cret-token", tonic::Code::NotFound)] {
        let value: tonic::metadata::MetadataValue<_> = header.parse().unwrap();
        let mut client = OrchestratorClient::with_interceptor(channel.clone(), move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", value.clone());
            Ok(req)
        });
        assert_eq!(client.run_status(unknown()).await.unwrap_err().code(), expected, "{header}");
    }
    stop.cancel();
    server.await.unwrap().unwrap();
}
