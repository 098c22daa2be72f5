//! L0 as a service against a real nats-server: `nl serve orchestrator` beside `nl serve ledger` and
//! `nl serve recorder`, one CEX source and the DEX sources on the loopback simulator. Over gRPC: `RunStatus` of an unknown run
//! is NOT_FOUND, a dry run is refused (embedded only), `TriggerCycle` returns a run id at once and
//! `RunStatus` follows it from RUNNING to COMPLETED once the pipeline drained; the run's manifest is
//! written and the ledger records the run (`run.started` / `run.completed` over NATS). `nl watch
//! --ledger-url` reads the run's events through the ledger's gRPC event feed. With `[ai] enabled`, it
//! publishes L2's scheduled trigger (`ai.job.requested`) over NATS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::Duration;

use tokio::time::Instant;

use nl_proto::pb;
use nl_proto::pb::orchestrator_client::OrchestratorClient;
use nl_simulator::Simulator;
use nl_testkit::{NatsServer, wait_until};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_cycle_over_grpc_and_follow_it_to_completed() {
    let server = NatsServer::start().await;
    let sim = Simulator::start().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let (ledger_port, orch_port) = (free_port(), free_port());
    let mut env: Vec<(String, String)> = support::sim_env(&sim.base_url(), &["okx_spot"]);
    env.extend(support::nats_env(&server.bus_config()).into_iter().map(|(k, v)| (k.to_string(), v)));
    env.extend([
        ("NL_SERVE__LEDGER_GRPC_ADDR".to_string(), format!("127.0.0.1:{ledger_port}")),
        ("NL_SERVE__LEDGER_URL".to_string(), format!("http://127.0.0.1:{ledger_port}")),
        ("NL_ORCHESTRATOR__GRPC_ADDR".to_string(), format!("127.0.0.1:{orch_port}")),
        ("NL_ORCHESTRATOR__DRAIN_TIMEOUT_SECS".to_string(), "60".to_string()),
        // Only the ledger and the recorder run here: the cycle waits on their consumers.
        ("NL_ORCHESTRATOR__DRAIN_DURABLES".to_string(), r#"["ledger", "ledger_raw", "recorder"]"#.to_string()),
    ]);
    let pairs: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let spawn = |what: &str| {
        let mut c = support::nl(&out, &pairs);
        c.args(["serve", what]);
        support::spawn(c)
    };
    let _ledger = spawn("ledger");
    let _recorder = spawn("recorder");
    let _orchestrator = spawn("orchestrator");

    // RunStatus of a run this process did not start asks the ledger: wait until it serves.
    let end = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", ledger_port)).await.is_err() {
        assert!(Instant::now() < end, "the ledger never served gRPC");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{orch_port}");
    let mut client = loop {
        match OrchestratorClient::connect(url.clone()).await {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < end, "the orchestrator never served gRPC: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let unknown = client.run_status(pb::RunStatusRequest { run_id: "nl_20260101_000000Z_00000000".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    let dry = client.trigger_cycle(pb::TriggerCycleRequest { dry_run: true }).await.unwrap_err();
    assert_eq!(dry.code(), tonic::Code::FailedPrecondition, "{dry:?}");

    let run = client.trigger_cycle(pb::TriggerCycleRequest { dry_run: false }).await.unwrap().into_inner();
    assert!(run.run_id.starts_with("nl_"), "{run:?}");
    let first = client.run_status(pb::RunStatusRequest { run_id: run.run_id.clone() }).await.unwrap().into_inner();
    assert_eq!(first.config_hash, run.config_hash);
    let end = Instant::now() + Duration::from_secs(120);
    let last = loop {
        let s = client.run_status(pb::RunStatusRequest { run_id: run.run_id.clone() }).await.unwrap().into_inner();
        if s.state != pb::RunState::Running as i32 {
            break s;
        }
        assert!(Instant::now() < end, "the run stayed RUNNING: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(last.state, pb::RunState::Completed as i32, "{last:?}");
    // okx_spot, and GeckoTerminal and DexScreener on the simulator.
    assert_eq!(last.counts.get("sources"), Some(&3), "{last:?}");
    assert!(last.counts.get("raws").is_some_and(|n| *n >= 3), "{last:?}");
    assert_eq!(last.counts.get("errors"), Some(&0), "{last:?}");
    assert!(last.finished_at.is_some());

    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("runs").join(&run.run_id).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["summary"]["status"], "completed", "{manifest}");
    assert_eq!(manifest["summary"]["mode"], "distributed");
    assert_eq!(manifest["config_hash"], run.config_hash.as_str());

    // The ledger recorded the run from its events, and serves them on its event feed.
    let db = out.join("new_listings.sqlite");
    let recorded = wait_until(Duration::from_secs(30), || {
        let db = db.clone();
        let id = run.run_id.clone();
        async move {
            let Ok(r) = nl_ledger::SqliteReader::open(&db, 1).await else { return false };
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM runs WHERE run_id = ?").bind(&id).fetch_optional(r.pool()).await.ok().flatten();
            r.pool().close().await;
            status.as_deref() == Some("completed")
        }
    })
    .await;
    assert!(recorded, "the ledger did not record the run as completed");
    let o = support::nl_output(&out, &env, &["watch", "--ledger-url", &format!("http://127.0.0.1:{ledger_port}"), "--after-seq", "0", "--type", "run.completed", "--count", "1", "--format", "json"]).await;
    assert!(o.status.success(), "{}", support::stderr(&o));
    let line: serde_json::Value = serde_json::from_str(support::stdout(&o).lines().next().unwrap_or("")).unwrap();
    assert_eq!(line["type"], "run.completed");
}

/// With `[ai] enabled` (and an endpoint named; nothing calls it here), `nl serve orchestrator` publishes
/// the L2 trigger of the period it starts in (`ai.job.requested {layer: l2}`, at the period's start) over
/// NATS at once, where ai-dispatch's shared durable consumer picks it up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_orchestrator_publishes_the_scheduled_ai_job_over_nats() {
    use nl_bus::{Bus, ConsumerSpec};
    use nl_domain::{Envelope, EventType};

    let server = NatsServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    // One config (each `bus_config()` names a new stream): the orchestrator's and this test's bus.
    let nats = server.bus_config();
    let mut env = support::nats_env(&nats);
    env.extend([
        ("NL_ORCHESTRATOR__GRPC_ADDR", "127.0.0.1:0".to_string()),
        ("NL_AI__ENABLED", "true".to_string()),
        ("NL_AI__BASE_URL", "http://127.0.0.1:9/v1".to_string()),
        ("NL_AI__MODEL", "unused-model".to_string()),
    ]);
    let mut c = support::nl(tmp.path(), &env);
    c.args(["serve", "orchestrator"]);
    let _orchestrator = support::spawn(c);

    let bus = nl_bus::NatsBus::connect(&nats).await.unwrap();
    let mut sub = bus.subscribe(ConsumerSpec::new("test_ai_jobs", EventType::AiJobRequested.subject())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.is_empty() {
        assert!(Instant::now() < deadline, "no ai.job.requested on NATS within 60 s");
        got = sub.fetch(10, Duration::from_secs(1)).await.unwrap();
    }
    let env = Envelope::from_json(&got[0].message.payload).unwrap();
    assert_eq!(env.kind, EventType::AiJobRequested);
    assert_eq!(env.source.as_deref(), Some("orchestrator"));
    assert_eq!((env.meta["layer"].as_str(), env.meta["trigger"].as_str()), (Some("l2"), Some("schedule")), "{:?}", env.meta);
    // The default `[ai] regime_interval_secs` is an hour: the trigger is at the start of the current hour.
    assert_eq!(env.meta["period_secs"], 3600);
    assert_eq!(env.ts.timestamp() % 3600, 0, "{}", env.ts);
    assert!(chrono::Utc::now() - env.ts < chrono::Duration::hours(1), "{}", env.ts);
}
