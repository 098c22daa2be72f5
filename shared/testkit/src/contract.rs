//! The bus contract: every case runs against both [`nl_bus::MemoryBus`] and [`nl_bus::NatsBus`]
//! (see `shared/bus/tests/contract.rs`), so the two stay interchangeable.
//!
//! Each case takes a fresh bus, namespaces its subjects and durables with [`unique_name`], and waits on
//! conditions with deadlines ([`wait_until`], fetch waits), never on bare sleeps. Timers use ack waits
//! of 1 s so the NATS run stays quick; the memory run uses a paused clock. Cases panic on failure.
//!
//! The `kernel_*` cases (module `kernel`) run the handler kernel's consumer loop over each bus.

mod kernel;
mod typed;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{unique_name, wait_until};
use nl_bus::{Bus, BusError, ConsumerSpec, ConsumerState, Delivery, HDR_DLQ_REASON, HDR_ORIGINAL_SUBJECT, Message, Subscription};

/// Generous deadline for anything that should happen "soon".
const SOON: Duration = Duration::from_secs(10);
/// How long to watch for something that must NOT arrive (longer than the 1 s ack wait used here).
const QUIET: Duration = Duration::from_millis(1500);
const ACK_WAIT: Duration = Duration::from_secs(1);

/// Names of every case, in the order `shared/bus/tests/contract.rs` runs them.
pub const CASES: &[&str] = &[
    "publish_fetch_ack",
    "publish_batch_in_order",
    "dedup_by_id",
    "redelivery_after_nak",
    "nak_delay_is_honoured",
    "redelivery_after_ack_wait",
    "dead_letter_after_max_deliver_naks",
    "dead_letter_on_term",
    "dead_letter_after_ack_wait_exhausted",
    "no_loss_on_consumer_restart",
    "delete_and_recreate_consumer",
    "two_subscriptions_share_work",
    "filter_subject_selects",
    "max_ack_pending_bounds_outstanding",
    "consumer_state_counts",
    "kernel_done_publishes_then_acks",
    "kernel_retry_redelivers_after_the_delay",
    "kernel_poison_goes_to_the_dlq",
    "kernel_publish_failure_naks",
    "kernel_nak_on_drop_redelivers_promptly",
    "kernel_max_deliver_exhausted_goes_to_the_dlq",
    "kernel_same_order_key_stays_in_order",
    "typed_envelope_round_trips",
];

pub use kernel::{
    kernel_done_publishes_then_acks, kernel_max_deliver_exhausted_goes_to_the_dlq, kernel_nak_on_drop_redelivers_promptly, kernel_poison_goes_to_the_dlq,
    kernel_publish_failure_naks, kernel_retry_redelivers_after_the_delay, kernel_same_order_key_stays_in_order,
};
pub use typed::typed_envelope_round_trips;

struct Ns {
    prefix: String,
}

impl Ns {
    fn new() -> Self {
        Self { prefix: format!("nl.{}", unique_name("t")) }
    }
    fn subject(&self, s: &str) -> String {
        format!("{}.{s}", self.prefix)
    }
    fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }
    fn spec(&self, filter: String) -> ConsumerSpec {
        let mut spec = ConsumerSpec::new(unique_name("c"), filter);
        spec.ack_wait = ACK_WAIT;
        spec
    }
}

async fn publish_n(bus: &dyn Bus, subject: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{subject}-{i}");
        bus.publish(Message::new(subject, id.clone(), format!("payload {i}"))).await.expect("publish");
        ids.push(id);
    }
    ids
}

/// Fetches until `n` deliveries arrived or `timeout` passed.
async fn drain(sub: &mut dyn Subscription, n: usize, timeout: Duration) -> Vec<Delivery> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        out.extend(sub.fetch(n - out.len(), left.min(Duration::from_secs(2))).await.expect("fetch"));
    }
    out
}

/// Asserts that nothing is delivered for a while.
async fn assert_quiet(sub: &mut dyn Subscription, what: &str) {
    let got = drain(sub, 1, QUIET).await;
    assert!(got.is_empty(), "{what}: unexpected delivery {:?}", got.first().map(|d| &d.message.id));
}

async fn state(bus: &dyn Bus, durable: &str) -> ConsumerState {
    bus.consumer_state(durable).await.expect("consumer_state")
}

async fn wait_state(bus: &dyn Bus, durable: &str, what: &str, pred: impl Fn(&ConsumerState) -> bool) {
    let ok = wait_until(SOON, || async { bus.consumer_state(durable).await.is_ok_and(|s| pred(&s)) }).await;
    assert!(ok, "{what}: consumer state stuck at {:?}", bus.consumer_state(durable).await);
}

async fn wait_dlq(bus: &dyn Bus, want: u64) {
    let ok = wait_until(SOON, || async { bus.dead_letter_count().await.is_ok_and(|n| n >= want) }).await;
    assert!(ok, "dead-letter count stuck at {:?}, want {want}", bus.dead_letter_count().await);
}

/// Runs one case by name.
///
/// # Panics
/// When the case fails or the name is unknown.
pub async fn run(case: &str, bus: &Arc<dyn Bus>) {
    match case {
        "publish_fetch_ack" => publish_fetch_ack(bus).await,
        "publish_batch_in_order" => publish_batch_in_order(bus).await,
        "dedup_by_id" => dedup_by_id(bus).await,
        "redelivery_after_nak" => redelivery_after_nak(bus).await,
        "nak_delay_is_honoured" => nak_delay_is_honoured(bus).await,
        "redelivery_after_ack_wait" => redelivery_after_ack_wait(bus).await,
        "dead_letter_after_max_deliver_naks" => dead_letter_after_max_deliver_naks(bus).await,
        "dead_letter_on_term" => dead_letter_on_term(bus).await,
        "dead_letter_after_ack_wait_exhausted" => dead_letter_after_ack_wait_exhausted(bus).await,
        "no_loss_on_consumer_restart" => no_loss_on_consumer_restart(bus).await,
        "delete_and_recreate_consumer" => delete_and_recreate_consumer(bus).await,
        "two_subscriptions_share_work" => two_subscriptions_share_work(bus).await,
        "filter_subject_selects" => filter_subject_selects(bus).await,
        "max_ack_pending_bounds_outstanding" => max_ack_pending_bounds_outstanding(bus).await,
        "consumer_state_counts" => consumer_state_counts(bus).await,
        "kernel_done_publishes_then_acks" => kernel_done_publishes_then_acks(bus).await,
        "kernel_retry_redelivers_after_the_delay" => kernel_retry_redelivers_after_the_delay(bus).await,
        "kernel_poison_goes_to_the_dlq" => kernel_poison_goes_to_the_dlq(bus).await,
        "kernel_publish_failure_naks" => kernel_publish_failure_naks(bus).await,
        "kernel_nak_on_drop_redelivers_promptly" => kernel_nak_on_drop_redelivers_promptly(bus).await,
        "kernel_max_deliver_exhausted_goes_to_the_dlq" => kernel_max_deliver_exhausted_goes_to_the_dlq(bus).await,
        "kernel_same_order_key_stays_in_order" => kernel_same_order_key_stays_in_order(bus).await,
        "typed_envelope_round_trips" => typed_envelope_round_trips(bus).await,
        other => panic!("unknown contract case {other}"),
    }
}

/// Publish two messages (one with a header), fetch, check content and metadata, ack, and see the
/// consumer settle with nothing redelivered.
pub async fn publish_fetch_ack(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let subject = ns.subject("a");
    let mut m1 = Message::new(&subject, "id-1", "p1");
    m1.headers.insert("traceparent".into(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    let a1 = bus.publish(m1.clone()).await.expect("publish 1");
    let a2 = bus.publish(Message::new(&subject, "id-2", "p2")).await.expect("publish 2");
    assert!(!a1.duplicate && !a2.duplicate);
    assert!(a2.sequence > a1.sequence, "sequences grow: {a1:?} {a2:?}");

    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let got = drain(sub.as_mut(), 2, SOON).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].message, m1, "content and headers round-trip");
    assert_eq!((got[0].sequence, got[0].delivered), (a1.sequence, 1));
    assert_eq!((got[1].message.id.as_str(), got[1].sequence, got[1].delivered), ("id-2", a2.sequence, 1));
    for d in &got {
        d.ack().await.expect("ack");
    }
    wait_state(bus, &spec.durable, "all acked", |s| s.num_ack_pending == 0 && s.num_pending == 0).await;
    assert_quiet(sub.as_mut(), "after ack").await;
}

/// `publish_batch` acks in input order with growing sequences; republishing the batch is all duplicates.
pub async fn publish_batch_in_order(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let subject = ns.subject("batch");
    let msgs: Vec<Message> = (0..600).map(|i| Message::new(&subject, format!("b-{i}"), format!("{i}"))).collect();
    let acks = bus.publish_batch(msgs.clone()).await.expect("batch");
    assert_eq!(acks.len(), 600);
    assert!(acks.windows(2).all(|w| w[1].sequence > w[0].sequence), "acks in input order");
    assert!(acks.iter().all(|a| !a.duplicate));
    let again = bus.publish_batch(msgs).await.expect("batch again");
    assert!(again.iter().zip(&acks).all(|(b, a)| b.duplicate && b.sequence == a.sequence), "republish = duplicates of the originals");
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec).await.expect("subscribe");
    let got = drain(sub.as_mut(), 600, SOON).await;
    let payloads: Vec<String> = got.iter().map(|d| String::from_utf8_lossy(&d.message.payload).into_owned()).collect();
    assert_eq!(payloads, (0..600).map(|i| i.to_string()).collect::<Vec<_>>(), "delivered once each, in order");
    for d in &got {
        d.ack().await.expect("ack");
    }
    assert_quiet(sub.as_mut(), "no duplicates stored").await;
}

/// The same id twice: one stored message, the second ack is a duplicate with the original sequence.
pub async fn dedup_by_id(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let subject = ns.subject("d");
    let first = bus.publish(Message::new(&subject, "same", "one")).await.expect("publish");
    let second = bus.publish(Message::new(&subject, "same", "two")).await.expect("publish dup");
    assert!(!first.duplicate);
    assert!(second.duplicate, "second publish is a duplicate");
    assert_eq!(second.sequence, first.sequence, "duplicate reports the original sequence");
    let mut sub = bus.subscribe(ns.spec(ns.all())).await.expect("subscribe");
    let got = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].message.payload[..], b"one", "the first publish wins");
    got[0].ack().await.expect("ack");
    assert_quiet(sub.as_mut(), "one copy stored").await;
}

/// A nak'd message comes back with `delivered = 2`.
pub async fn redelivery_after_nak(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    publish_n(bus, &ns.subject("n"), 1).await;
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let first = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(first.len(), 1);
    first[0].nak(None, "transient").await.expect("nak");
    let again = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(again.len(), 1, "redelivered after nak");
    assert_eq!((again[0].sequence, again[0].delivered), (first[0].sequence, 2));
    assert_eq!(state(bus, &spec.durable).await.num_redelivered, 1);
    again[0].ack().await.expect("ack");
    wait_state(bus, &spec.durable, "acked", |s| s.num_ack_pending == 0 && s.num_redelivered == 0).await;
}

/// `nak(Some(delay))` holds the redelivery back for about the delay.
pub async fn nak_delay_is_honoured(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    publish_n(bus, &ns.subject("n"), 1).await;
    let mut sub = bus.subscribe(ns.spec(ns.all())).await.expect("subscribe");
    let first = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(first.len(), 1);
    let t0 = Instant::now();
    first[0].nak(Some(Duration::from_millis(600)), "later").await.expect("nak");
    let again = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(again.len(), 1, "redelivered after the delay");
    assert!(t0.elapsed() >= Duration::from_millis(500), "came back too early: {:?}", t0.elapsed());
    assert_eq!(again[0].delivered, 2);
    again[0].ack().await.expect("ack");
}

/// An unsettled delivery is redelivered once `ack_wait` passes.
pub async fn redelivery_after_ack_wait(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    publish_n(bus, &ns.subject("w"), 1).await;
    let mut sub = bus.subscribe(ns.spec(ns.all())).await.expect("subscribe");
    let first = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(first.len(), 1);
    let t0 = Instant::now();
    let again = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(again.len(), 1, "redelivered after ack_wait");
    assert!(t0.elapsed() >= ACK_WAIT - Duration::from_millis(100), "redelivered before ack_wait: {:?}", t0.elapsed());
    assert_eq!((again[0].sequence, again[0].delivered), (first[0].sequence, 2));
    again[0].ack().await.expect("ack");
}

async fn dlq_copy(bus: &dyn Bus, ns: &Ns, durable: &str) -> Delivery {
    let spec = ConsumerSpec::new(unique_name("dlqreader"), format!("{}.{durable}.>", nl_bus::DLQ_PREFIX));
    let mut sub = bus.subscribe(spec).await.expect("subscribe dlq");
    let got = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(got.len(), 1, "one dead letter for {durable}");
    let d = got.into_iter().next().expect("checked len");
    assert_eq!(d.message.subject, nl_bus::dlq_subject(durable, &ns.subject("x")));
    assert_eq!(d.message.headers.get(HDR_ORIGINAL_SUBJECT), Some(&ns.subject("x")));
    d.ack().await.expect("ack dlq");
    d
}

/// `max_deliver` naks dead-letter the message; it is not redelivered.
pub async fn dead_letter_after_max_deliver_naks(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let before = bus.dead_letter_count().await.expect("dlq count");
    publish_n(bus, &ns.subject("x"), 1).await;
    let mut spec = ns.spec(ns.all());
    spec.max_deliver = 3;
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    for attempt in 1..=3 {
        let got = drain(sub.as_mut(), 1, SOON).await;
        assert_eq!(got.len(), 1, "attempt {attempt} delivered");
        assert_eq!(got[0].delivered, attempt);
        got[0].nak(None, "handler failed").await.expect("nak");
    }
    wait_dlq(bus, before + 1).await;
    assert_quiet(sub.as_mut(), "exhausted message").await;
    let d = dlq_copy(bus, &ns, &spec.durable).await;
    let reason = d.message.headers.get(HDR_DLQ_REASON).cloned().unwrap_or_default();
    assert!(reason.contains("handler failed"), "reason kept: {reason}");
    assert_eq!(&d.message.payload[..], b"payload 0");
    assert_eq!(bus.dead_letter_count().await.expect("dlq count"), before + 1, "exactly one dead letter");
}

/// `term` dead-letters at once; no redelivery even after ack_wait.
pub async fn dead_letter_on_term(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let before = bus.dead_letter_count().await.expect("dlq count");
    publish_n(bus, &ns.subject("x"), 1).await;
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let got = drain(sub.as_mut(), 1, SOON).await;
    assert_eq!(got.len(), 1);
    got[0].term("poison: bad json").await.expect("term");
    wait_dlq(bus, before + 1).await;
    assert_quiet(sub.as_mut(), "terminated message").await;
    let d = dlq_copy(bus, &ns, &spec.durable).await;
    assert!(d.message.headers.get(HDR_DLQ_REASON).is_some_and(|r| r.contains("poison")));
}

/// Never settling: after `max_deliver` ack-wait expiries the message is dead-lettered, once.
pub async fn dead_letter_after_ack_wait_exhausted(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let before = bus.dead_letter_count().await.expect("dlq count");
    publish_n(bus, &ns.subject("x"), 1).await;
    let mut spec = ns.spec(ns.all());
    spec.max_deliver = 2;
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let deadline = Instant::now() + SOON;
    let mut attempts = Vec::new();
    // Held, not dropped: a delivery dropped unsettled is NAKed, and this case is about the ack wait.
    let mut held = Vec::new();
    // Keep pulling (as a live consumer does) without settling.
    while bus.dead_letter_count().await.expect("dlq count") < before + 1 {
        assert!(Instant::now() < deadline, "not dead-lettered; attempts so far {attempts:?}");
        for d in sub.fetch(1, Duration::from_millis(300)).await.expect("fetch") {
            attempts.push(d.delivered);
            held.push(d);
        }
    }
    assert_eq!(attempts, vec![1, 2], "delivered max_deliver times");
    assert_quiet(sub.as_mut(), "exhausted message").await;
    let d = dlq_copy(bus, &ns, &spec.durable).await;
    assert!(d.message.headers.get(HDR_DLQ_REASON).is_some_and(|r| r.contains("max_deliver")));
    assert_eq!(bus.dead_letter_count().await.expect("dlq count"), before + 1, "exactly one dead letter");
    drop(held);
}

/// Drop a subscription holding unacked deliveries; a new one on the same durable gets exactly those.
pub async fn no_loss_on_consumer_restart(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let ids = publish_n(bus, &ns.subject("r"), 10).await;
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let got = drain(sub.as_mut(), 10, SOON).await;
    assert_eq!(got.len(), 10);
    let mut unacked = BTreeSet::new();
    for (i, d) in got.iter().enumerate() {
        if i % 2 == 0 {
            d.ack().await.expect("ack");
        } else {
            unacked.insert(d.message.id.clone());
        }
    }
    wait_state(bus, &spec.durable, "5 acked", |s| s.num_ack_pending == 5).await;
    drop(got);
    drop(sub);

    let mut sub = bus.subscribe(spec.clone()).await.expect("resubscribe");
    let again = drain(sub.as_mut(), 5, SOON).await;
    let again_ids: BTreeSet<String> = again.iter().map(|d| d.message.id.clone()).collect();
    assert_eq!(again_ids, unacked, "exactly the unacked ones come back");
    assert!(again.iter().all(|d| d.delivered == 2));
    for d in &again {
        d.ack().await.expect("ack");
    }
    wait_state(bus, &spec.durable, "all acked", |s| s.num_ack_pending == 0 && s.num_pending == 0).await;
    assert_quiet(sub.as_mut(), "acked ones stay acked").await;
    assert_eq!(ids.len(), 10);
}

/// Regression: deleting a consumer forgets it; recreating it starts over from the stream's start.
pub async fn delete_and_recreate_consumer(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let ids = publish_n(bus, &ns.subject("del"), 3).await;
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    for d in drain(sub.as_mut(), 3, SOON).await {
        d.ack().await.expect("ack");
    }
    wait_state(bus, &spec.durable, "acked", |s| s.num_ack_pending == 0 && s.num_pending == 0).await;
    drop(sub);
    bus.delete_consumer(&spec.durable).await.expect("delete");
    assert!(matches!(bus.consumer_state(&spec.durable).await, Err(BusError::NotFound(_))), "state of a deleted consumer");
    assert!(matches!(bus.delete_consumer(&spec.durable).await, Err(BusError::NotFound(_))), "second delete");

    let mut sub = bus.subscribe(spec.clone()).await.expect("recreate");
    let again = drain(sub.as_mut(), 3, SOON).await;
    let got: Vec<String> = again.iter().map(|d| d.message.id.clone()).collect();
    assert_eq!(got, ids, "recreated consumer delivers from the start");
    assert!(again.iter().all(|d| d.delivered == 1), "fresh delivery counts");
    for d in &again {
        d.ack().await.expect("ack");
    }
    wait_state(bus, &spec.durable, "acked after recreate", |s| s.num_ack_pending == 0 && s.num_pending == 0).await;
}

/// Two subscriptions on one durable split the work; acked, nothing is seen twice.
pub async fn two_subscriptions_share_work(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    let acks = bus.publish_batch((0..200).map(|i| Message::new(ns.subject("s"), format!("s-{i}"), "x")).collect()).await.expect("publish");
    assert_eq!(acks.len(), 200);
    let spec = ns.spec(ns.all());
    let mut a = bus.subscribe(spec.clone()).await.expect("subscribe a");
    let mut b = bus.subscribe(spec.clone()).await.expect("subscribe b");
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut per_sub = [0usize; 2];
    let deadline = Instant::now() + SOON;
    while seen.len() < 200 && Instant::now() < deadline {
        for (i, sub) in [&mut a, &mut b].into_iter().enumerate() {
            for d in sub.fetch(10, Duration::from_millis(200)).await.expect("fetch") {
                d.ack().await.expect("ack");
                *seen.entry(d.message.id.clone()).or_default() += 1;
                per_sub[i] += 1;
            }
        }
    }
    assert_eq!(seen.len(), 200, "all delivered");
    assert!(seen.values().all(|n| *n == 1), "no duplicates: {:?}", seen.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>());
    assert!(per_sub.iter().all(|n| *n > 0), "both subscriptions got work: {per_sub:?}");
}

/// `*` and `>` filters select like NATS.
pub async fn filter_subject_selects(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    for s in ["a.x", "b.x", "a.y.z"] {
        bus.publish(Message::new(ns.subject(s), s, s)).await.expect("publish");
    }
    let slow = |filter: String| ConsumerSpec { ack_wait: Duration::from_secs(30), ..ns.spec(filter) };
    let mut one = bus.subscribe(slow(ns.subject("a.*"))).await.expect("subscribe a.*");
    let got: Vec<String> = drain(one.as_mut(), 3, Duration::from_secs(1)).await.iter().map(|d| d.message.id.clone()).collect();
    assert_eq!(got, vec!["a.x"]);
    let mut all = bus.subscribe(slow(ns.subject("a.>"))).await.expect("subscribe a.>");
    let got: Vec<String> = drain(all.as_mut(), 3, Duration::from_secs(1)).await.iter().map(|d| d.message.id.clone()).collect();
    assert_eq!(got, vec!["a.x", "a.y.z"]);
}

/// At most `max_ack_pending` deliveries are outstanding; an ack lets the next one through.
pub async fn max_ack_pending_bounds_outstanding(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    publish_n(bus, &ns.subject("m"), 5).await;
    let mut spec = ns.spec(ns.all());
    spec.ack_wait = Duration::from_secs(30);
    spec.max_ack_pending = 2;
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let got = drain(sub.as_mut(), 5, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 2, "bounded by max_ack_pending");
    got[0].ack().await.expect("ack");
    let more = drain(sub.as_mut(), 5, Duration::from_secs(1)).await;
    assert_eq!(more.len(), 1, "one slot freed");
    let st = state(bus, &spec.durable).await;
    assert_eq!((st.num_ack_pending, st.num_pending), (2, 2));
}

/// `consumer_state` tracks pending and ack-pending counts.
pub async fn consumer_state_counts(bus: &Arc<dyn Bus>) {
    let bus = bus.as_ref();
    let ns = Ns::new();
    publish_n(bus, &ns.subject("c"), 5).await;
    let spec = ns.spec(ns.all());
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    assert_eq!(state(bus, &spec.durable).await, ConsumerState { num_pending: 5, num_ack_pending: 0, num_redelivered: 0 });
    let got = drain(sub.as_mut(), 2, SOON).await;
    assert_eq!(got.len(), 2);
    assert_eq!(state(bus, &spec.durable).await, ConsumerState { num_pending: 3, num_ack_pending: 2, num_redelivered: 0 });
    for d in &got {
        d.ack().await.expect("ack");
    }
    wait_state(bus, &spec.durable, "acked", |s| *s == ConsumerState { num_pending: 3, num_ack_pending: 0, num_redelivered: 0 }).await;
    assert!(matches!(bus.consumer_state("no_such_consumer").await, Err(BusError::NotFound(_))));
}
