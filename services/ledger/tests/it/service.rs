//! The service loop over `MemoryBus`: apply, publish derived events, settle; poison is dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use nl_testkit::{service_ctx, wait_until};
use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, Message};
use nl_domain::{Envelope, EventType};
use nl_ledger::{LedgerConfig, LedgerStore};
use serde_json::json;

use crate::fixtures::*;

fn msg(e: &Envelope) -> Message {
    Message::new(e.subject(), e.event_id.as_str(), e.to_json().unwrap())
}

type Running = tokio::task::JoinHandle<Result<nl_ledger::LedgerCounts, nl_ledger::LedgerError>>;

/// Runs the service until the returned token is cancelled.
fn start(svc: nl_ledger::LedgerService) -> (CancellationToken, Running) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(svc.run(stop.clone()));
    (stop, task)
}

/// Waits until `table` holds `rows` rows and `durable` has nothing pending or unacked.
async fn drained(bus: &Arc<dyn Bus>, store: &LedgerStore, durable: &str, table: &str, rows: i64) -> bool {
    wait_until(Duration::from_secs(20), || async {
        let st = bus.consumer_state(durable).await.unwrap();
        count(store, table).await == rows && st.num_pending == 0 && st.num_ack_pending == 0
    })
    .await
}

#[tokio::test]
async fn consumes_applies_publishes_derived_and_dead_letters_poison() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LedgerConfig::with_db_path(dir.path().join("nl.db"));
    cfg.fetch_wait_ms = 50;
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());

    // A derived event left pending by a "previous crash" must be re-published on start.
    let pre = LedgerStore::open(&cfg).await.unwrap();
    let out = pre.apply(vec![upsert("cex:okx:OLD", "okx_instruments", "OLD-USDT", None, at(0))]).await.unwrap();
    let crashed_derived = out.derived[0].event_id.clone();
    drop(pre);

    // A watcher on derived subjects, bound before the service publishes.
    let mut watcher = bus.subscribe(ConsumerSpec::new("watch", "nl.evt.asset.>")).await.unwrap();

    let mut envs = vec![
        upsert("cex:okx:NEW", "okx_instruments", "NEW-USDT", Some("live"), at(1)),
        risk("cex:okx:NEW", at(2), 80, "r"),
        snapshot("cex:okx:NEW", at(2), Some("100"), "s"),
    ];
    envs.extend(nl_testkit::bench_envelopes(500));
    let invalid = env(EventType::ScoreComputed, &["bad"], at(3), "cex:okx:NEW", json!({"score": "not a record"}));
    let mut msgs: Vec<Message> = envs.iter().map(msg).collect();
    msgs.push(msg(&invalid));
    msgs.push(Message::new("nl.evt.manual.note", "garbage-1", b"{not json".to_vec()));
    bus.publish_batch(msgs.clone()).await.unwrap();

    let svc = nl_ledger::build(cfg.clone(), service_ctx(Arc::clone(&bus))).await.unwrap();
    let store = svc.store();
    let stats = svc.stats();
    let (stop, task) = start(svc);

    // The pre-crash upsert, 503 valid + 1 invalid; 1 old + 1 new discovered and 1 risk.flagged come back
    // through the bus.
    let expected = 1 + envs.len() as i64 + 1 + 3;
    let done = drained(&bus, &store, "ledger", "events", expected).await;
    assert!(done, "events={} state={:?} stats={:?}", count(&store, "events").await, bus.consumer_state("ledger").await, stats.snapshot());
    assert_eq!(bus.dead_letter_count().await.unwrap(), 2, "undecodable + invalid meta");
    // Published rows are pruned with a later transaction of the writer (or when it is idle), not synchronously.
    let pruned = wait_until(Duration::from_secs(10), || async { store.pending_outbox(10).await.unwrap().is_empty() }).await;
    assert!(pruned, "everything derived was published and pruned: {:?}", store.pending_outbox(10).await.unwrap());

    // The watcher sees the derived events, including the one re-published from the outbox on start.
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains(&crashed_derived.to_string()) && seen.len() >= 3) && tokio::time::Instant::now() < deadline {
        for d in watcher.fetch(100, Duration::from_millis(200)).await.unwrap() {
            seen.push(d.message.id.clone());
            d.ack().await.unwrap();
        }
    }
    assert!(seen.contains(&crashed_derived.to_string()) && seen.len() >= 3, "derived events published: {seen:?}");

    stop.cancel();
    let counts = task.await.unwrap().unwrap();
    assert_eq!(counts.undecodable, 1);
    assert_eq!(counts.invalid, 1);
    assert_eq!(counts.store_errors, 0);
    assert_eq!(count(&store, "events").await, expected);
}

#[tokio::test]
async fn raw_payloads_on_nl_raw_land_in_raw_events_with_their_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LedgerConfig::with_db_path(dir.path().join("nl.db"));
    cfg.fetch_wait_ms = 50;
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
    let mut raw = nl_domain::RawEvent::new("okx_spot", "https://www.okx.com/api/v5/public/instruments?instType=SPOT", Some(200), at(1), "{\"code\":\"0\",\"da".into(), "run");
    raw.parse_error = Some("EOF while parsing".into());
    let mut e = Envelope::new(EventType::RawCaptured, &[&raw.raw_id], at(1), "run", "hash", serde_json::to_value(&raw).unwrap()).with_source("okx_spot");
    e.event_id = nl_domain::EventId(raw.raw_id.clone());
    bus.publish(Message::new("nl.raw.okx_spot", raw.raw_id.clone(), e.to_json().unwrap())).await.unwrap();

    let svc = nl_ledger::build(cfg, service_ctx(Arc::clone(&bus))).await.unwrap();
    let store = svc.store();
    let (stop, task) = start(svc);
    let done = drained(&bus, &store, "ledger_raw", "raw_events", 1).await;
    assert!(done, "raw_events={} state={:?}", count(&store, "raw_events").await, bus.consumer_state("ledger_raw").await);
    let row: (String, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT payload_json, parse_error, http_status FROM raw_events").fetch_one(store.reader().pool()).await.unwrap();
    assert_eq!(row, ("{\"code\":\"0\",\"da".to_string(), Some("EOF while parsing".to_string()), Some(200)));
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// A store failure is not nak'd: the batch is retried in place (`store_attempts`), then stored event by
/// event, and only the event that keeps failing is dead-lettered.
/// Each stored body is the payload exactly as delivered.
#[tokio::test]
async fn a_store_failure_is_retried_then_only_the_failing_event_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LedgerConfig::with_db_path(dir.path().join("nl.db"));
    cfg.fetch_wait_ms = 50;
    cfg.retry_delay_ms = 10;
    cfg.store_attempts = 2;
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());

    let envs = nl_testkit::bench_envelopes(20);
    let poison = envs[7].event_id.to_string();
    // A trigger makes every insert of one event fail, as a store failure that does not go away would.
    let pre = LedgerStore::open(&cfg).await.unwrap();
    drop(pre);
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", cfg.db_path.display())).await.unwrap();
    let trigger = format!("CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.event_id = '{poison}' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
    sqlx::query(sqlx::AssertSqlSafe(trigger)).execute(&db).await.unwrap();
    db.close().await;

    // Payloads with extra spacing: stored verbatim, not re-encoded.
    let msgs: Vec<Message> =
        envs.iter().map(|e| Message::new(e.subject(), e.event_id.as_str(), format!(" {} ", String::from_utf8(e.to_json().unwrap()).unwrap()))).collect();
    bus.publish_batch(msgs.clone()).await.unwrap();

    let svc = nl_ledger::build(cfg.clone(), service_ctx(Arc::clone(&bus))).await.unwrap();
    let store = svc.store();
    let stats = svc.stats();
    let (stop, task) = start(svc);
    let done = drained(&bus, &store, "ledger", "events", 19).await;
    assert!(done, "events={} state={:?} stats={:?}", count(&store, "events").await, bus.consumer_state("ledger").await, stats.snapshot());
    assert_eq!(bus.dead_letter_count().await.unwrap(), 1, "only the poisoned event is dead-lettered");
    stop.cancel();
    let counts = task.await.unwrap().unwrap();
    // Two whole-batch attempts, then one failure of the poisoned event alone.
    assert_eq!(counts.store_errors, 3, "{counts:?}");
    assert_eq!(counts.stored, 19);

    let reader = sqlx::SqlitePool::connect(&format!("sqlite://{}", cfg.db_path.display())).await.unwrap();
    let (body,): (String,) = sqlx::query_as("SELECT body FROM events WHERE event_id = ?").bind(envs[0].event_id.as_str()).fetch_one(&reader).await.unwrap();
    assert_eq!(body, String::from_utf8(msgs[0].payload.to_vec()).unwrap(), "body kept as delivered");
}
