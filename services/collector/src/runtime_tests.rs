//! Tests of the collector's runtime loop: shutdown, panics, flow control.

use super::*;
use crate::state::MemoryStateStore;
use async_trait::async_trait;
use nl_bus::MemoryBus;

/// A source whose fetch never finishes (a poll waiting on an exhausted rate budget).
struct Stuck;

#[async_trait]
impl Source for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }
    async fn poll(&self, _state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        std::future::pending().await
    }
}

#[tokio::test]
async fn shutdown_abandons_a_fetch_in_progress() {
    let state = Arc::new(MemoryStateStore::default());
    let ctx = ctx(Arc::new(MemoryBus::default()), state.clone());
    let collector = Collector::new(vec![Arc::new(Stuck)], ctx);
    let polls = Arc::clone(&collector.counters()["stuck"]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(collector.run(async move {
        let _ = rx.await;
    }));
    assert!(nl_testkit::wait_until(Duration::from_secs(10), || async { polls.polls.load(Ordering::Relaxed) == 1 }).await);
    tx.send(()).expect("the collector is waiting for shutdown");
    let stopped = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert!(matches!(stopped, Ok(Ok(()))), "the collector stops while the fetch is still pending");
    assert_eq!(state.load("stuck").await.expect("memory state loads"), None, "an abandoned poll saves no state");
}

/// A source that counts its polls; with `panics_first`, its first poll panics (a parser bug meeting a
/// hostile payload) and later polls succeed.
struct Counting {
    name: &'static str,
    interval: Duration,
    panics_first: bool,
    polls: AtomicU64,
}

impl Counting {
    fn new(name: &'static str, interval: Duration, panics_first: bool) -> Self {
        Self { name, interval, panics_first, polls: AtomicU64::new(0) }
    }
}

#[async_trait]
impl Source for Counting {
    fn name(&self) -> &str {
        self.name
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    async fn poll(&self, _state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let before = self.polls.fetch_add(1, Ordering::Relaxed);
        assert!(!self.panics_first || before > 0, "first poll panics");
        PollOutcome::default()
    }
}

/// A collector context on `bus` and `state`, without leases.
fn ctx(bus: Arc<dyn nl_bus::Bus>, state: Arc<MemoryStateStore>) -> CollectorCtx {
    CollectorCtx { bus, state, leases: None, lease_renew_every: Duration::from_secs(5), run: RunIdentity { run_id: "r".into(), config_hash: "c".into() } }
}

#[tokio::test]
async fn a_panicking_source_is_counted_and_restarted() {
    let ctx = ctx(Arc::new(MemoryBus::default()), Arc::default());
    let collector = Collector::new(vec![Arc::new(Counting::new("panics_once", Duration::from_millis(10), true))], ctx);
    let c = Arc::clone(&collector.counters()["panics_once"]);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(collector.run(async move {
        let _ = rx.await;
    }));
    let restarted = nl_testkit::wait_until(Duration::from_secs(10), || async { c.polls.load(Ordering::Relaxed) >= 3 }).await;
    assert!(restarted, "the source polls again after its task panicked");
    assert_eq!(c.panics.load(Ordering::Relaxed), 1);
    tx.send(()).expect("the collector is waiting for shutdown");
    assert!(matches!(tokio::time::timeout(Duration::from_secs(10), task).await, Ok(Ok(()))));
}

#[tokio::test(start_paused = true)]
async fn a_source_does_not_poll_while_a_consumer_lags_beyond_the_flow_bound() {
    use nl_bus::{Bus, ConsumerSpec, FlowControl, MemoryBusConfig, Message};
    let flow = FlowControl { max_lag: 0, max_pause: Duration::from_secs(3600) };
    let bus = MemoryBus::new(MemoryBusConfig { flow: Some(flow), ..MemoryBusConfig::default() });
    let mut ledger = bus.subscribe(ConsumerSpec::new("ledger", "nl.>")).await.expect("subscribe");
    bus.publish(Message::new("nl.evt.x", "backlog", "x")).await.expect("publish");
    let source = Arc::new(Counting::new("counting", Duration::from_millis(100), false));
    let ctx = ctx(Arc::new(bus.clone()), Arc::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Collector::new(vec![source.clone() as Arc<dyn Source>], ctx).run(async move {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.polls.load(Ordering::Relaxed), 0, "a minute of 100 ms intervals, no poll: the ledger has not caught up");
    let caught_up = ledger.fetch(10, Duration::ZERO).await.expect("fetch");
    assert_eq!(caught_up.len(), 1);
    assert!(nl_testkit::wait_until(Duration::from_secs(10), || async { source.polls.load(Ordering::Relaxed) >= 3 }).await, "polls resume");
    assert_eq!(bus.flow_stats().timed_out, 0, "resumed by the catch-up, not the pause bound");
    tx.send(()).expect("the collector is waiting for shutdown");
    assert!(matches!(tokio::time::timeout(Duration::from_secs(10), task).await, Ok(Ok(()))));
}
