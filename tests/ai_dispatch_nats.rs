//! `nl serve ai-dispatch` against a real nats-server (issue 17): two replicas of the service beside `nl
//! serve ledger`, a loopback fake OpenAI-compatible server that checks and counts every call.
//!
//! * the replicas share one durable consumer per trigger subject, so six discoveries and one
//!   `run.completed` are answered exactly once between them (6 L1 calls, then L2–L4 once each);
//! * the run-level layers read the ledger over its gRPC API (`[serve] ledger_url`), and every answer is
//!   stored by the ledger (`ai_outputs` rows with their artifacts) from the bus;
//! * a replica started later loads today's spend over gRPC first: with `daily_cap` just above that spend
//!   (room for one call in a fresh budget) it fails closed (`ai.failed{reason: budget_exhausted}`) and
//!   makes no call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use nl_bus::{Bus, Message, NatsBus};
use nl_domain::{Envelope, EventType};
use nl_testkit::fake_llm::FakeLlm;
use nl_testkit::{NatsServer, wait_until};
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn discovery(n: u32) -> Envelope {
    let t = Utc::now();
    let asset = format!("eth:0x{:040x}", 0x7a11_0000_u64 + u64::from(n));
    let s = json!({"source": "geckoterminal", "venue": "uniswap_v2", "kind": "dex_pool", "instrument_id": format!("pool-{n}"), "status": null,
        "source_published_at": null, "scheduled_at": null, "first_observed_at": t, "pair": null});
    let meta = json!({"asset": {"symbol": format!("SIMN{n}"), "name": format!("Simulated SIMN{n}")}, "sightings": [s.clone()], "sighting": s,
        "cause_event_id": format!("c{n}"), "contract_address": null});
    Envelope::new(EventType::AssetDiscovered, &["ai-nats", &asset], t, "nl_20261207_000000Z_0000aaaa", "cfg", meta).with_asset(asset).with_symbol(format!("SIMN{n}"))
}

async fn publish(bus: &NatsBus, envs: &[Envelope]) {
    let msgs: Vec<Message> = envs.iter().map(|e| Message::new(e.subject(), e.event_id.0.clone(), e.to_json().unwrap())).collect();
    bus.publish_batch(msgs).await.unwrap();
}

/// `(layer, status)` of every stored AI output.
async fn outputs(db: &Path) -> Vec<(String, String)> {
    let Ok(r) = nl_ledger::SqliteReader::open(db, 1).await else { return Vec::new() };
    let rows = sqlx::query_as("SELECT layer, status FROM ai_outputs ORDER BY id").fetch_all(r.pool()).await.unwrap_or_default();
    r.pool().close().await;
    rows
}

async fn failed_events(db: &Path) -> Vec<String> {
    let Ok(r) = nl_ledger::SqliteReader::open(db, 1).await else { return Vec::new() };
    let rows: Vec<(String,)> = sqlx::query_as("SELECT COALESCE(meta, '') FROM events WHERE type = 'ai.failed'").fetch_all(r.pool()).await.unwrap_or_default();
    r.pool().close().await;
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_answer_each_trigger_once_and_a_restart_keeps_the_days_spend() {
    let server = NatsServer::start().await;
    let fake = FakeLlm::start("fake-model", "json_schema").await;
    let cfg = server.bus_config();
    let bus = NatsBus::connect(&cfg).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let db = out.join("new_listings.sqlite");
    let ledger_port = free_port();
    let mut env: Vec<(&str, String)> = support::nats_env(&cfg);
    env.extend([
        ("NL_SERVE__LEDGER_GRPC_ADDR", format!("127.0.0.1:{ledger_port}")),
        ("NL_SERVE__LEDGER_URL", format!("http://127.0.0.1:{ledger_port}")),
        ("NL_AI__ENABLED", "true".to_string()),
        ("NL_AI__BASE_URL", fake.base_url()),
        ("NL_AI__MODEL", "fake-model".to_string()),
        ("NL_AI__FETCH_WAIT_MS", "100".to_string()),
        // No scheduled L2 during the test: only triggers make calls.
        ("NL_AI__REGIME_INTERVAL_SECS", "0".to_string()),
        // Small reservations, so one call fits a cap just above the day's spend.
        ("NL_AI__MAX_COMPLETION", "16".to_string()),
    ]);
    // Each process logs to `<out>/<n>-<service>.log`, shown when an assertion fails.
    let logs = std::cell::Cell::new(0);
    let spawn = |what: &str, extra: &[(&str, String)]| {
        let mut all = env.clone();
        all.extend(extra.iter().cloned());
        let mut c = support::nl(out, &all);
        c.args(["serve", what]);
        logs.set(logs.get() + 1);
        let log = std::fs::File::create(out.join(format!("{}-{what}.log", logs.get()))).unwrap();
        support::Spawned::from(c.stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap())
    };
    let logs = || {
        let mut all = String::new();
        for e in std::fs::read_dir(out).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "log")) {
            all += &format!("--- {}\n{}\n", e.path().display(), std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        all
    };
    let _ledger = spawn("ledger", &[]);
    let mut a = spawn("ai-dispatch", &[]);
    let mut b = spawn("ai-dispatch", &[]);

    let discoveries: Vec<Envelope> = (0..6).map(discovery).collect();
    publish(&bus, &discoveries).await;
    let l1_done = wait_until(Duration::from_secs(120), || async { outputs(&db).await.iter().filter(|r| r.0 == "l1").count() == 6 }).await;
    assert!(l1_done, "six L1 outputs stored: {:?}; {} calls; violations {:?}\n{}", outputs(&db).await, fake.calls(), fake.violations(), logs());
    let run_done = Envelope::new(EventType::RunCompleted, &["ai-nats-run"], Utc::now(), "nl_20261207_000000Z_0000aaaa", "cfg", json!({"dry_run": false, "status": "completed", "summary": {}}));
    publish(&bus, &[run_done]).await;
    let all_done = wait_until(Duration::from_secs(120), || async {
        let o = outputs(&db).await;
        ["l2", "l3", "l4"].iter().all(|l| o.iter().any(|r| r.0 == *l))
    })
    .await;
    assert!(all_done, "L2-L4 stored after run.completed: {:?}\n{}", outputs(&db).await, logs());
    let stored = outputs(&db).await;
    // L4 over an empty candidate set may abstain (the fake's finding cites what the pack lacks).
    assert!(stored.iter().all(|r| r.1 == "completed" || (r.0 == "l4" && r.1 == "abstained")), "{stored:?}");
    assert_eq!(stored.len(), 9, "each trigger answered once: {stored:?}");
    assert_eq!(fake.calls(), 9, "two replicas on shared durables: one call per job");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    for d in ["ai-dispatch-discovered", "ai-dispatch-promoted", "ai-dispatch-runs"] {
        let st = bus.consumer_state(d).await.unwrap();
        assert_eq!((st.num_pending, st.num_ack_pending), (0, 0), "{d}: {st:?}");
    }
    assert!(a.try_wait().unwrap().is_none() && b.try_wait().unwrap().is_none(), "both replicas kept running\n{}", logs());
    support::sigkill(&mut a);
    support::sigkill(&mut b);

    // A restart with the daily cap just above today's spend (9 calls of 150 tokens, read over gRPC): a
    // fresh budget would allow the call, the reloaded one does not.
    let cap = 9 * 150 + 50;
    let _c = spawn("ai-dispatch", &[("NL_AI__BUDGET__DAILY_CAP", cap.to_string())]);
    publish(&bus, &[discovery(7)]).await;
    let refused = wait_until(Duration::from_secs(120), || async { !failed_events(&db).await.is_empty() }).await;
    assert!(refused, "the restarted replica fails closed\n{}", logs());
    for m in failed_events(&db).await {
        let m: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(m["reason"], "budget_exhausted", "{m}");
        let reserved: u64 = m["detail"].as_str().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(reserved <= cap, "a fresh budget ({cap}) would have allowed this call ({reserved})");
    }
    assert_eq!(fake.calls(), 9, "no call over the day's cap");
}
