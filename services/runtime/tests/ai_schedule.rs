//! L0's AI job schedule (`nl_runtime::ai_schedule`): one `ai.job.requested {layer: l2}` per period however
//! many schedulers run, with no period skipped by a restart (paused tokio clock); and `ai-dispatch` answers a
//! period once even when its trigger reaches it again past the bus's dedup window, from a replica that
//! never saw the first answer (a loopback fake model counts the calls; a real SQLite ledger holds the
//! outputs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use nl_ai_dispatch::{AiConfig, AiCtx, Dialect};
use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, MemoryBusConfig, Message, ServiceCtx, TokioClock};
use nl_domain::{Envelope, EventType, LedgerReader, RunIdentity};
use nl_runtime::ai_schedule;
use nl_testkit::fake_llm::FakeLlm;
use nl_testkit::wait_until;

const HOUR: Duration = Duration::from_secs(3600);

fn identity(n: u32) -> RunIdentity {
    RunIdentity { run_id: format!("nl_20261207_000000Z_0000000{n}"), config_hash: "cfg".into() }
}

#[tokio::test(start_paused = true)]
async fn schedulers_publish_one_trigger_per_period_and_a_restart_skips_none() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig::default()));
    let clock = Arc::new(TokioClock::starting_at(Utc.with_ymd_and_hms(2026, 12, 7, 10, 20, 0).unwrap()));
    let stop = CancellationToken::new();
    let replica = |n: u32| tokio::spawn(ai_schedule::run(Arc::clone(&bus), clock.clone(), HOUR, identity(n), stop.clone()));
    let (a, b) = (replica(1), replica(2));
    // 11:50: a third scheduler starts (a restarted orchestrator), long after the bus forgot 11:00's id.
    tokio::time::sleep(Duration::from_secs(90 * 60)).await;
    let c = replica(3);
    // Until 13:30.
    tokio::time::sleep(Duration::from_secs(100 * 60)).await;
    stop.cancel();
    assert_eq!((a.await.unwrap(), b.await.unwrap(), c.await.unwrap()), (4, 4, 3), "published: 10:00-13:00 twice, 11:00-13:00 once");

    let mut sub = bus.subscribe(ConsumerSpec::new("test", EventType::AiJobRequested.subject())).await.unwrap();
    let got = sub.fetch(100, Duration::from_millis(10)).await.unwrap();
    let mut by_period: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &got {
        let env = Envelope::from_json(&d.message.payload).unwrap();
        assert_eq!(env.meta["layer"], "l2");
        assert_eq!(env.meta["period_start"], env.ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        by_period.entry(env.meta["period_start"].as_str().unwrap().to_string()).or_default().push(env.event_id.0.clone());
    }
    let periods: Vec<&str> = by_period.keys().map(String::as_str).collect();
    assert_eq!(periods, ["2026-12-07T10:00:00Z", "2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z", "2026-12-07T13:00:00Z"], "no period skipped, none invented");
    for (period, ids) in &by_period {
        assert!(ids.iter().all(|i| i == &ids[0]), "{period}: one event id whoever publishes it: {ids:?}");
    }
    // Schedulers firing together are one message (the bus's dedup); only the restart's catch-up of 11:00,
    // past the dedup window, is a second delivery, which ai-dispatch answers from the ledger (next test).
    assert_eq!(got.len(), 5, "{by_period:?}");
    assert_eq!(by_period["2026-12-07T11:00:00Z"].len(), 2);
}

/// An `ai-dispatch` replica with its own artifact folder on `bus`, reading `reader`.
async fn replica(
    bus: &Arc<dyn Bus>,
    fake: &FakeLlm,
    out: &std::path::Path,
    reader: Arc<dyn LedgerReader>,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let cfg = AiConfig {
        enabled: true,
        base_url: fake.base_url(),
        model: "fake-model".into(),
        response_format_dialect: Dialect::JsonSchema,
        fetch_wait_ms: 20,
        ..AiConfig::default()
    };
    let ctx = ServiceCtx::new(Arc::clone(bus), identity(9));
    let svc = nl_ai_dispatch::build(cfg, ctx, AiCtx { out_dir: out.to_path_buf(), reader: Some(reader), cache_only: false }).await.unwrap();
    let stop = stop.clone();
    tokio::spawn(async move {
        svc.run(stop).await.unwrap();
    })
}

/// The AI answers (`ai.l<N>.completed`, `ai.failed`) among the next deliveries on `sub` (`nl.evt.ai.>`, which
/// also carries the triggers), waiting at most `wait` for the first delivery.
async fn answers(sub: &mut Box<dyn nl_bus::Subscription>, wait: Duration) -> Vec<Envelope> {
    let mut out = Vec::new();
    for d in sub.fetch(10, wait).await.unwrap() {
        d.ack().await.unwrap();
        let env = Envelope::from_json(&d.message.payload).unwrap();
        if env.kind != EventType::AiJobRequested {
            out.push(env);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_requested_again_is_answered_once_across_replicas() {
    let fake = FakeLlm::start("fake-model", "json_schema").await;
    let tmp = tempfile::tempdir().unwrap();
    let ledger = nl_ledger::LedgerConfig { db_path: tmp.path().join("db.sqlite"), ..nl_ledger::LedgerConfig::default() };
    let store = nl_ledger::LedgerStore::open(&ledger).await.unwrap();
    let reader: Arc<dyn LedgerReader> = Arc::new(store.reader().clone());
    // No dedup window: every publish is delivered, as a trigger re-published after JetStream's window is.
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig { duplicate_window: Duration::ZERO, ..MemoryBusConfig::default() }));
    let mut sub = bus.subscribe(ConsumerSpec::new("test-ai", "nl.evt.ai.>")).await.unwrap();
    let stop = CancellationToken::new();
    let first = replica(&bus, &fake, &tmp.path().join("a"), Arc::clone(&reader), &stop).await;

    let period = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let trigger = ai_schedule::job_request("l2", period, HOUR, &identity(1));
    bus.publish(Message::typed(trigger.clone())).await.unwrap();
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.is_empty() && tokio::time::Instant::now() < end {
        got = answers(&mut sub, Duration::from_secs(20)).await;
    }
    assert_eq!(got.len(), 1, "one answer: {got:?}");
    let answer = got.remove(0);
    assert_eq!(answer.kind, EventType::AiL2Completed, "{}", answer.meta);
    assert_eq!(answer.meta["trigger_event_id"], trigger.event_id.0);
    assert_eq!(fake.calls(), 1);
    // The ledger applies it (this test stands in for the ledger service).
    store.apply(vec![answer]).await.unwrap();
    stop.cancel();
    first.await.unwrap();

    // Another replica, with none of the first one's artifacts, gets the same period again (from a second
    // orchestrator, published under another run id): no call, no second L2.
    let stop = CancellationToken::new();
    let second = replica(&bus, &fake, &tmp.path().join("b"), Arc::clone(&reader), &stop).await;
    bus.publish(Message::typed(ai_schedule::job_request("l2", period, HOUR, &identity(2)))).await.unwrap();
    let durable = nl_ai_dispatch::service::subjects(&AiConfig::default()).into_iter().find(|(_, s)| s == &EventType::AiJobRequested.subject()).unwrap().0;
    let settled = wait_until(Duration::from_secs(20), || {
        let (bus, durable) = (Arc::clone(&bus), durable.clone());
        async move { bus.consumer_state(&durable).await.is_ok_and(|s| s.num_pending == 0 && s.num_ack_pending == 0) }
    })
    .await;
    assert!(settled, "the second trigger was not settled");
    assert_eq!(fake.calls(), 1, "the period was answered already");
    assert!(answers(&mut sub, Duration::from_millis(200)).await.is_empty(), "no second L2 for the period");
    // A new period is a new job.
    bus.publish(Message::typed(ai_schedule::job_request("l2", period + chrono::Duration::hours(1), HOUR, &identity(2)))).await.unwrap();
    let mut got = Vec::new();
    while got.is_empty() && tokio::time::Instant::now() < end + Duration::from_secs(20) {
        got = answers(&mut sub, Duration::from_secs(20)).await;
    }
    assert_eq!(got.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventType::AiL2Completed]);
    assert_eq!(fake.calls(), 2);
    stop.cancel();
    second.await.unwrap();
}
