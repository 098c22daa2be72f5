//! Issue acceptance, ledger against a real NATS:
//! * publishing the same 10,000 events twice leaves exactly 10,000 rows (bus dedup, then ledger
//!   `ON CONFLICT` with the bus dedup bypassed);
//! * SIGKILL of the `nl serve ledger` process mid-stream and a restart: the set of ids in SQLite equals
//!   the published set and the consumer has nothing pending.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use nl_testkit::{NatsServer, wait_until};
use nl_bus::{Bus, Message, NatsBus};

const N: usize = 10_000;

async fn ids_in_db(db: &std::path::Path) -> BTreeSet<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.expect("open db");
    let rows: Vec<(String,)> = sqlx::query_as("SELECT event_id FROM events").fetch_all(reader.pool()).await.expect("select");
    reader.pool().close().await;
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_survives_sigkill_and_double_publish_is_idempotent() {
    let server = NatsServer::start().await;
    let cfg = server.bus_config();
    let bus = NatsBus::connect(&cfg).await.expect("connect");
    let out = tempfile::tempdir().expect("tmp");
    let db = out.path().join("new_listings.sqlite");
    let env = support::nats_env(&cfg);

    let envs = nl_testkit::bench_envelopes(N);
    let published: BTreeSet<String> = envs.iter().map(|e| e.event_id.0.clone()).collect();
    assert_eq!(published.len(), N);
    let msgs: Vec<Message> = envs.iter().map(|e| Message::new(e.subject(), e.event_id.0.clone(), e.to_json().expect("json"))).collect();
    let acks = bus.publish_batch(msgs.clone()).await.expect("publish");
    assert!(acks.iter().all(|a| !a.duplicate));

    // First ledger process: kill it mid-stream.
    let mut c = support::nl(out.path(), &env);
    c.args(["serve", "ledger"]);
    let mut ledger = support::spawn(c);
    assert!(wait_until(Duration::from_secs(60), || async { support::count(&db, "events").await >= 1000 }).await, "ledger never started writing");
    support::sigkill(&mut ledger);
    let at_kill = support::count(&db, "events").await;
    assert!(at_kill < N as i64, "killed after it had finished ({at_kill}); the test proves nothing");

    // Restart: everything arrives exactly once, nothing pending.
    let mut c = support::nl(out.path(), &env);
    c.args(["serve", "ledger"]);
    let mut ledger = support::spawn(c);
    let drained = wait_until(Duration::from_secs(120), || async {
        let st = bus.consumer_state("ledger").await.unwrap_or_default();
        st.num_pending == 0 && st.num_ack_pending == 0 && support::count(&db, "events").await == N as i64
    })
    .await;
    assert!(drained, "restarted ledger did not drain: {} rows, {:?}", support::count(&db, "events").await, bus.consumer_state("ledger").await);
    assert_eq!(ids_in_db(&db).await, published, "the set of ids in SQLite equals the published set");

    // Publishing the same 10,000 again: the bus drops them as duplicates ...
    let acks = bus.publish_batch(msgs.clone()).await.expect("republish");
    assert_eq!(acks.iter().filter(|a| a.duplicate).count(), N);
    // ... and with the bus dedup bypassed (new message ids), the ledger's ON CONFLICT keeps 10,000 rows.
    let bypass: Vec<Message> = msgs.iter().map(|m| Message::new(m.subject.clone(), format!("{}-again", m.id), m.payload.clone())).collect();
    let acks = bus.publish_batch(bypass).await.expect("publish again");
    assert!(acks.iter().all(|a| !a.duplicate));
    let drained = wait_until(Duration::from_secs(120), || async {
        let st = bus.consumer_state("ledger").await.unwrap_or_default();
        st.num_pending == 0 && st.num_ack_pending == 0
    })
    .await;
    assert!(drained, "second pass not consumed: {:?}", bus.consumer_state("ledger").await);
    assert_eq!(support::count(&db, "events").await, N as i64, "exactly 10,000 rows after publishing twice");
    let status = support::sigterm(&mut ledger);
    assert!(status.success(), "graceful shutdown on SIGTERM exits 0: {status:?}");
}
