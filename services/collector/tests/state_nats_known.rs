//! The NATS state store keeps an instrument list's known set one KV key per instrument (#16), against a
//! real nats-server: a set far over NATS's 1 MB payload limit saves and reloads whole, a save writes only
//! the entries that changed (and deletes removed ones), and a second store on the bucket (another replica)
//! sees every change whoever wrote it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use async_nats::jetstream::{self, kv::Operation};
use futures::StreamExt;
use nl_collector::StateStore;
use nl_collector::state_nats::{NatsStateStore, state_key};
use nl_testkit::{NatsServer, unique_name};
use serde_json::{Value, json};

fn entry(base: &str, status: &str) -> Value {
    json!({"status": status, "raw_status": "live", "scheduled_at": null, "first_seen": "2026-12-07T09:00:00Z",
           "removed": false, "base": base, "baseline": true, "missing": 0, "link": null})
}

/// An instrument-list state with `n` instruments `I<i>-USDT`, and a cursor field beside the known set.
fn state(n: usize) -> Value {
    let entries: serde_json::Map<String, Value> = (0..n).map(|i| (format!("I{i}-USDT"), entry(&format!("I{i}"), "Trading"))).collect();
    json!({"known": {"entries": entries}, "partial": false, "baselined": true})
}

fn entries_mut(state: &mut Value) -> &mut serde_json::Map<String, Value> {
    state.pointer_mut("/known/entries").and_then(Value::as_object_mut).unwrap()
}

async fn bucket(nats: &NatsServer) -> (jetstream::Context, String) {
    let client = async_nats::connect(nats.url()).await.unwrap();
    (jetstream::new(client), unique_name("st").to_lowercase())
}

/// Every key of the bucket with its last revision and operation.
async fn contents(js: &jetstream::Context, bucket: &str) -> BTreeMap<String, (u64, Operation, usize)> {
    let kv = js.get_key_value(bucket).await.unwrap();
    let mut out = BTreeMap::new();
    let mut watch = kv.watch_all_from_revision(1).await.unwrap();
    let last = kv.stream.clone().info().await.unwrap().state.last_sequence;
    while let Some(e) = watch.next().await {
        let e = e.unwrap();
        let rev = e.revision;
        out.insert(e.key, (e.revision, e.operation, e.value.len()));
        if rev >= last {
            break;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_set_over_a_megabyte_saves_and_reloads_whole() {
    let nats = NatsServer::start().await;
    let (js, bucket) = bucket(&nats).await;
    let store = NatsStateStore::open(&js, &bucket).await.unwrap();
    let big = state(20_000);
    let size = serde_json::to_vec(&big).unwrap().len();
    assert!(size > 2 * 1024 * 1024, "the set is {size} bytes, over NATS's 1 MB max_payload");
    let t = Instant::now();
    store.save("okx_spot", &big).await.expect("a known set over 1 MB saves");
    eprintln!("saved {} instruments ({size} bytes as one value) in {:?}", 20_000, t.elapsed());
    assert_eq!(store.load("okx_spot").await.unwrap(), Some(big.clone()), "the same store reads it back");
    // Another replica (a store that has read nothing yet) reads the whole set.
    let other = NatsStateStore::open(&js, &bucket).await.unwrap();
    let t = Instant::now();
    assert_eq!(other.load("okx_spot").await.unwrap(), Some(big), "another replica reads the whole set");
    eprintln!("loaded in {:?}", t.elapsed());
    let cursor = contents(&js, &bucket).await[&state_key("okx_spot")].2;
    assert!(cursor < 200, "the source key holds the cursor only ({cursor} bytes)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_writes_only_the_changed_instruments() {
    let nats = NatsServer::start().await;
    let (js, bucket) = bucket(&nats).await;
    let store = NatsStateStore::open(&js, &bucket).await.unwrap();
    let source = "okx spot.v2"; // escaped by state_key
    let mut s = state(50);
    store.save(source, &s).await.unwrap();
    let before = contents(&js, &bucket).await;
    assert_eq!(before.len(), 51, "the cursor and one key per instrument: {:?}", before.keys().take(3).collect::<Vec<_>>());
    let k = |id: &str| format!("{}.=K.{}", state_key(source), state_key(id));
    assert!(before.contains_key(&k("I7-USDT")));

    // One listed, one changed, one delisted (gone from the set).
    entries_mut(&mut s).insert("NEW/USDT".into(), entry("NEW", "PreTrading"));
    entries_mut(&mut s).insert("I7-USDT".into(), entry("I7", "Halted"));
    entries_mut(&mut s).remove("I9-USDT");
    s["partial"] = json!(true);
    store.save(source, &s).await.unwrap();
    let after = contents(&js, &bucket).await;
    let changed: Vec<&String> = after.keys().filter(|key| before.get(*key).map(|b| b.0) != Some(after[*key].0)).collect();
    let mut want = [k("NEW/USDT"), k("I7-USDT"), k("I9-USDT"), state_key(source)];
    want.sort();
    assert_eq!(changed, want.iter().collect::<Vec<_>>(), "only the changed instruments and the cursor were written");
    assert_eq!(after[&k("I9-USDT")].1, Operation::Delete, "the delisted instrument's key is deleted");

    // A save of the same state writes only the cursor.
    store.save(source, &s).await.unwrap();
    let again = contents(&js, &bucket).await;
    let changed: Vec<&String> = again.keys().filter(|key| after.get(*key).map(|b| b.0) != Some(again[*key].0)).collect();
    assert_eq!(changed, vec![&state_key(source)]);
    let fresh = NatsStateStore::open(&js, &bucket).await.unwrap();
    assert_eq!(fresh.load(source).await.unwrap(), Some(s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_see_each_others_saves() {
    let nats = NatsServer::start().await;
    let (js, bucket) = bucket(&nats).await;
    let a = NatsStateStore::open(&js, &bucket).await.unwrap();
    let b = NatsStateStore::open(&js, &bucket).await.unwrap();
    let mut s = state(30);
    a.save("bybit_spot", &s).await.unwrap();
    assert_eq!(b.load("bybit_spot").await.unwrap().as_ref(), Some(&s));

    // The lease moves to b, which saves a change; a (holding a remembered set) must see it.
    entries_mut(&mut s).insert("B1-USDT".into(), entry("B1", "Trading"));
    entries_mut(&mut s).remove("I3-USDT");
    b.save("bybit_spot", &s).await.unwrap();
    assert_eq!(a.load("bybit_spot").await.unwrap().as_ref(), Some(&s), "a sees b's listing and delisting");

    // Back to a: its save is against the set b left, so b's removal stays removed and a's own change lands.
    entries_mut(&mut s).insert("A1-USDT".into(), entry("A1", "Trading"));
    a.save("bybit_spot", &s).await.unwrap();
    assert_eq!(b.load("bybit_spot").await.unwrap().as_ref(), Some(&s));
    let fresh = NatsStateStore::open(&js, &bucket).await.unwrap();
    assert_eq!(fresh.load("bybit_spot").await.unwrap(), Some(s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_value_state_moves_to_keys_and_other_states_stay_whole() {
    let nats = NatsServer::start().await;
    let (js, bucket) = bucket(&nats).await;
    let store = NatsStateStore::open(&js, &bucket).await.unwrap();
    // As saved before #16: the known set inside the source's one value.
    let s = state(5);
    let kv = js.get_key_value(&bucket).await.unwrap();
    kv.put("gate_spot", serde_json::to_vec(&s).unwrap().into()).await.unwrap();
    assert_eq!(store.load("gate_spot").await.unwrap().as_ref(), Some(&s));
    store.save("gate_spot", &s).await.unwrap();
    assert_eq!(contents(&js, &bucket).await.len(), 6, "moved to one key per instrument");
    assert_eq!(NatsStateStore::open(&js, &bucket).await.unwrap().load("gate_spot").await.unwrap().as_ref(), Some(&s));

    // An entry key left by a save that died before its cursor: the next save of a store that never read
    // the set (a replica that just took the lease) deletes it too.
    kv.put(format!("gate_spot.=K.{}", state_key("ORPHAN-USDT")), serde_json::to_vec(&entry("ORPHAN", "Trading")).unwrap().into()).await.unwrap();
    let replica = NatsStateStore::open(&js, &bucket).await.unwrap();
    replica.save("gate_spot", &s).await.unwrap();
    assert_eq!(kv.get(format!("gate_spot.=K.{}", state_key("ORPHAN-USDT"))).await.unwrap(), None, "the orphan entry is deleted");
    assert_eq!(store.load("gate_spot").await.unwrap(), Some(s.clone()));

    // A state without a known set (an announcement cursor) is one value, as before.
    let cursor = json!({"seen": ["a", "b"], "last": 7});
    store.save("okx_announcements", &cursor).await.unwrap();
    assert_eq!(store.load("okx_announcements").await.unwrap(), Some(cursor));
    assert_eq!(store.load("nobody").await.unwrap(), None);
}
