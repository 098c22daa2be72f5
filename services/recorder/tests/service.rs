//! The recorder service over `MemoryBus`: every event once, poison terminated, acks only after the
//! write, redeliveries of already-written events absorbed, graceful shutdown.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use nl_testkit::wait_until;
use nl_bus::{Bus, CancellationToken, MemoryBus, Message, ServiceCtx};
use nl_domain::{Envelope, EventType, RunIdentity};
use nl_recorder::{EventLog, FsyncConfig, FsyncPolicy, RecorderConfig, RecorderCounts, ReplayFilter, build, read_events};

const WAIT: Duration = Duration::from_secs(10);

fn event(i: u64) -> Envelope {
    let ts = chrono::Utc.timestamp_millis_opt(1_700_000_000_000 + i as i64).unwrap();
    let kind = if i.is_multiple_of(2) { EventType::AssetDiscovered } else { EventType::ScoreComputed };
    Envelope::new(kind, &["svc", &i.to_string()], ts, "nl_20260101_000000Z_00000000", "cfg", serde_json::json!({ "i": i }))
}

fn ctx(bus: &MemoryBus) -> ServiceCtx {
    ServiceCtx::new(Arc::new(bus.clone()), RunIdentity { run_id: "nl_20260101_000000Z_00000000".into(), config_hash: "cfg".into() })
}

fn message(e: &Envelope) -> Message {
    Message::new(e.subject(), e.event_id.to_string(), e.to_json().unwrap())
}

fn config(path: &Path) -> RecorderConfig {
    RecorderConfig { path: path.to_path_buf(), batch_size: 7, fetch_wait_ms: 20, fsync: FsyncConfig::PerBatch, ..RecorderConfig::default() }
}

fn ids_in_file(path: &Path) -> Vec<u64> {
    read_events(path, ReplayFilter::default()).unwrap().map(|r| r.unwrap().meta["i"].as_u64().unwrap()).collect()
}

/// Waits until the recorder's consumer has nothing pending or unacked.
async fn drained(bus: &MemoryBus, durable: &str) -> bool {
    wait_until(WAIT, || async {
        let s = bus.consumer_state(durable).await.unwrap();
        s.num_pending == 0 && s.num_ack_pending == 0
    })
    .await
}

async fn run_until_drained(bus: &MemoryBus, cfg: RecorderConfig) -> RecorderCounts {
    let durable = cfg.durable.clone();
    let recorder = build(cfg, ctx(bus)).await.unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(recorder.run(stop.clone()));
    assert!(drained(bus, &durable).await, "recorder did not drain the stream");
    stop.cancel();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_each_event_once_and_terminates_poison() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let bus = MemoryBus::default();

    let events: Vec<_> = (0..40).map(event).collect();
    bus.publish_batch(events.iter().map(message).collect()).await.unwrap();
    // Not an envelope: poison.
    bus.publish(Message::new("nl.evt.asset.discovered", "junk-1", &b"{\"not\":\"an envelope\"}"[..])).await.unwrap();
    // The same event under another message id: the bus cannot dedup it, the recorder must.
    bus.publish(Message::new(events[3].subject(), "other-id", events[3].to_json().unwrap())).await.unwrap();
    // Not under nl.evt.>: ignored.
    bus.publish(Message::new("nl.cmd.cycle", "cmd-1", &b"{}"[..])).await.unwrap();

    let counts = run_until_drained(&bus, config(&path)).await;
    assert_eq!(counts.received, 42);
    assert_eq!(counts.written, 40);
    assert_eq!(counts.duplicates, 1);
    assert_eq!(counts.undecodable, 1);
    assert_eq!((counts.append_errors, counts.settle_errors), (0, 0));
    assert_eq!(bus.dead_letter_count().await.unwrap(), 1, "poison went to the DLQ");
    assert_eq!(ids_in_file(&path), (0..40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_but_unacked_events_are_not_written_again() {
    // A previous recorder wrote the first 25 events, then crashed before acking them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let events: Vec<_> = (0..50).map(event).collect();
    {
        let mut log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
        log.append_batch(&events[..25]).unwrap();
    }
    let bus = MemoryBus::default();
    bus.publish_batch(events.iter().map(message).collect()).await.unwrap();

    let counts = run_until_drained(&bus, config(&path)).await;
    assert_eq!((counts.written, counts.duplicates), (25, 25));
    assert_eq!(ids_in_file(&path), (0..50).collect::<Vec<_>>());

    // A restart over the same durable consumer finds nothing new and writes nothing.
    bus.publish_batch(events[..10].iter().map(message).collect()).await.unwrap();
    let counts = run_until_drained(&bus, config(&path)).await;
    assert_eq!(counts.written, 0);
    assert_eq!(ids_in_file(&path).len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_recorder_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let bus = MemoryBus::default();
    let _first = build(config(&path), ctx(&bus)).await.unwrap();
    let second = RecorderConfig { durable: "recorder2".to_string(), ..config(&path) };
    assert!(matches!(build(second, ctx(&bus)).await, Err(nl_recorder::RecorderError::Locked { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_and_interval_policy_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let bus = MemoryBus::default();
    bus.publish_batch((0..5).map(|i| message(&event(i))).collect()).await.unwrap();
    let cfg = RecorderConfig { fsync: FsyncConfig::Interval { interval_ms: 60_000 }, ..config(&path) };
    let counts = run_until_drained(&bus, cfg).await;
    assert_eq!(counts.written, 5);
    assert_eq!(ids_in_file(&path).len(), 5);

    // An already-cancelled shutdown stops the loop before any fetch.
    let recorder = build(config(&path), ctx(&bus)).await.unwrap();
    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let counts = tokio::time::timeout(WAIT, recorder.run(cancelled)).await.unwrap().unwrap();
    assert_eq!(counts, RecorderCounts::default());
}
