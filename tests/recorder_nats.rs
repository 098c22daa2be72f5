//! Issue acceptance, recorder: after a SIGKILL of `nl serve recorder` mid-write and a restart, every line
//! of events.jsonl parses and every event_id appears exactly once.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use nl_testkit::{NatsServer, wait_until};
use nl_bus::{Bus, Message, NatsBus};
use nl_domain::Envelope;

const N: usize = 5_000;

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_survives_sigkill_with_exactly_once_lines() {
    let server = NatsServer::start().await;
    let cfg = server.bus_config();
    let bus = NatsBus::connect(&cfg).await.expect("connect");
    let out = tempfile::tempdir().expect("tmp");
    let path = out.path().join("events.jsonl");
    // Small batches so the kill lands mid-stream.
    let mut env = support::nats_env(&cfg);
    env.push(("NL_RECORDER__BATCH_SIZE", "50".to_string()));

    let envs = nl_testkit::bench_envelopes(N);
    let msgs: Vec<Message> = envs.iter().map(|e| Message::new(e.subject(), e.event_id.0.clone(), e.to_json().expect("json"))).collect();
    bus.publish_batch(msgs).await.expect("publish");

    let mut c = support::nl(out.path(), &env);
    c.args(["serve", "recorder"]);
    let mut rec = support::spawn(c);
    assert!(wait_until(Duration::from_secs(60), || async { lines(&path).len() >= 500 }).await, "recorder never wrote");
    support::sigkill(&mut rec);
    assert!(lines(&path).len() < N, "killed after finishing; the test proves nothing");

    let mut c = support::nl(out.path(), &env);
    c.args(["serve", "recorder"]);
    let mut rec = support::spawn(c);
    let drained = wait_until(Duration::from_secs(120), || async {
        let st = bus.consumer_state("recorder").await.unwrap_or_default();
        st.num_pending == 0 && st.num_ack_pending == 0
    })
    .await;
    assert!(drained, "restarted recorder did not drain: {:?}", bus.consumer_state("recorder").await);
    assert!(support::sigterm(&mut rec).success());

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in lines(&path).iter().enumerate() {
        let env = Envelope::from_json(line.as_bytes()).unwrap_or_else(|e| panic!("line {} does not parse: {e}", i + 1));
        *seen.entry(env.event_id.0).or_default() += 1;
    }
    assert_eq!(seen.len(), N, "every published event is in the file");
    assert!(seen.values().all(|&n| n == 1), "no event_id appears twice");
}
