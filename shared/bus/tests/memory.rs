//! `MemoryBus` specifics beyond the shared contract: bounds and shedding, compaction, the dedup
//! window, exact timers on a paused clock, and stale settles.

use std::time::Duration;

use nl_bus::{Bus, BusError, ConsumerSpec, FlowControl, MemoryBus, MemoryBusConfig, Message};

fn bus(max_messages: usize) -> MemoryBus {
    MemoryBus::new(MemoryBusConfig { max_messages, duplicate_window: Duration::from_secs(120), ..MemoryBusConfig::default() })
}

#[tokio::test(start_paused = true)]
async fn full_store_sheds_then_compacts_settled_messages() {
    let bus = bus(10);
    let mut sub = bus.subscribe(ConsumerSpec::new("all", "nl.>")).await.expect("subscribe");
    for i in 0..10 {
        bus.publish(Message::new("nl.a", format!("m{i}"), "x")).await.expect("publish");
    }
    let err = bus.publish(Message::new("nl.a", "m10", "x")).await;
    assert!(matches!(err, Err(BusError::Full { limit: 10 })), "{err:?}");
    assert_eq!(bus.shed_count(), 1);
    // A duplicate of a stored id is still answered while full.
    assert!(bus.publish(Message::new("nl.a", "m3", "x")).await.expect("dup").duplicate);

    let got = sub.fetch(4, Duration::from_secs(1)).await.expect("fetch");
    assert_eq!(got.len(), 4);
    for d in &got {
        d.ack().await.expect("ack");
    }
    for i in 10..14 {
        bus.publish(Message::new("nl.a", format!("m{i}"), "x")).await.expect("room after compaction");
    }
    assert_eq!(bus.retained(), 10);
    assert!(matches!(bus.publish(Message::new("nl.a", "m99", "x")).await, Err(BusError::Full { .. })));
    assert_eq!(bus.shed_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn unmatched_messages_are_kept_for_later_consumers() {
    let bus = bus(100);
    let mut a = bus.subscribe(ConsumerSpec::new("a", "nl.a.>")).await.expect("subscribe");
    bus.publish(Message::new("nl.a.x", "1", "x")).await.expect("publish");
    bus.publish(Message::new("nl.b.x", "2", "x")).await.expect("publish");
    for d in a.fetch(10, Duration::from_secs(1)).await.expect("fetch") {
        d.ack().await.expect("ack");
    }
    assert_eq!(bus.compact(), 1, "the acked nl.a message goes, the unmatched nl.b one stays");
    let mut b = bus.subscribe(ConsumerSpec::new("b", "nl.b.>")).await.expect("subscribe");
    let got = b.fetch(10, Duration::from_secs(1)).await.expect("fetch");
    assert_eq!(got.iter().map(|d| d.message.id.as_str()).collect::<Vec<_>>(), vec!["2"]);
}

#[tokio::test(start_paused = true)]
async fn compact_drops_settled_messages_above_a_slow_consumers_floor() {
    let bus = bus(100);
    let mut slow = bus.subscribe(ConsumerSpec::new("slow", "nl.a.>")).await.expect("subscribe");
    let mut fast = bus.subscribe(ConsumerSpec::new("fast", "nl.b.>")).await.expect("subscribe");
    bus.publish(Message::new("nl.a.x", "a1", "x")).await.expect("publish");
    for i in 0..5 {
        bus.publish(Message::new("nl.b.x", format!("b{i}"), "x")).await.expect("publish");
    }
    bus.publish(Message::new("nl.a.x", "a2", "x")).await.expect("publish");
    let held = slow.fetch(1, Duration::from_secs(1)).await.expect("fetch");
    assert_eq!(held.iter().map(|d| d.message.id.as_str()).collect::<Vec<_>>(), vec!["a1"], "a1 stays pending with slow");
    for d in fast.fetch(10, Duration::from_secs(1)).await.expect("fetch") {
        d.ack().await.expect("ack");
    }
    assert_eq!(bus.compact(), 2, "the five settled nl.b messages go; a1 (pending) and a2 (unseen by slow) stay");
    let next = slow.fetch(10, Duration::from_secs(1)).await.expect("fetch");
    assert_eq!(next.iter().map(|d| d.message.id.as_str()).collect::<Vec<_>>(), vec!["a2"], "slow still gets what it had not seen");
    for d in next {
        d.ack().await.expect("ack");
    }
    assert_eq!(bus.compact(), 1, "a2 settled goes; a1 is still pending");
    held[0].nak(None, "later").await.expect("nak");
    let again = slow.fetch(10, Duration::from_secs(1)).await.expect("fetch");
    assert_eq!(again.iter().map(|d| d.message.id.as_str()).collect::<Vec<_>>(), vec!["a1"], "a pending message survives compaction for redelivery");
    again[0].ack().await.expect("ack");
    assert_eq!(bus.compact(), 0);
}

#[tokio::test(start_paused = true)]
async fn dedup_window_expires() {
    let bus = MemoryBus::new(MemoryBusConfig { duplicate_window: Duration::from_secs(1), max_messages: 100, ..MemoryBusConfig::default() });
    let first = bus.publish(Message::new("nl.a", "same", "x")).await.expect("publish");
    assert!(bus.publish(Message::new("nl.a", "same", "x")).await.expect("publish").duplicate);
    tokio::time::advance(Duration::from_millis(1500)).await;
    let later = bus.publish(Message::new("nl.a", "same", "x")).await.expect("publish");
    assert!(!later.duplicate, "stored again after the window");
    assert!(later.sequence > first.sequence);
}

#[tokio::test(start_paused = true)]
async fn ack_wait_is_exact_on_a_paused_clock() {
    let bus = bus(100);
    bus.publish(Message::new("nl.a", "1", "x")).await.expect("publish");
    let mut spec = ConsumerSpec::new("c", "nl.>");
    spec.ack_wait = Duration::from_secs(30);
    let mut sub = bus.subscribe(spec).await.expect("subscribe");
    // Held, not dropped: a delivery dropped unsettled is NAKed at once.
    let first = sub.fetch(1, Duration::ZERO).await.expect("fetch");
    assert_eq!(first.len(), 1);
    assert!(sub.fetch(1, Duration::from_millis(29_900)).await.expect("fetch").is_empty(), "not before ack_wait");
    let again = sub.fetch(1, Duration::from_millis(200)).await.expect("fetch");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivered, 2);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_fetch_wakes_on_publish() {
    let bus = bus(100);
    let mut sub = bus.subscribe(ConsumerSpec::new("c", "nl.>")).await.expect("subscribe");
    let publisher = bus.clone();
    let t0 = tokio::time::Instant::now();
    let handle = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        publisher.publish(Message::new("nl.a", "1", "x")).await
    });
    let got = sub.fetch(10, Duration::from_secs(60)).await.expect("fetch");
    assert_eq!(got.len(), 1);
    assert_eq!(t0.elapsed(), Duration::from_secs(3), "woken by the publish, not the timeout");
    handle.await.expect("join").expect("publish");
}

#[tokio::test(start_paused = true)]
async fn nak_on_last_attempt_dead_letters_and_stale_settles_are_ignored() {
    let bus = bus(100);
    bus.publish(Message::new("nl.a", "1", "x")).await.expect("publish");
    let mut spec = ConsumerSpec::new("c", "nl.a");
    spec.max_deliver = 1;
    let mut sub = bus.subscribe(spec.clone()).await.expect("subscribe");
    let d = sub.fetch(1, Duration::ZERO).await.expect("fetch").pop().expect("one");
    d.nak(None, "boom").await.expect("nak");
    assert_eq!(bus.dead_letter_count().await.expect("count"), 1);

    // A settle from a deleted consumer's delivery does not touch the recreated one.
    bus.publish(Message::new("nl.a", "2", "x")).await.expect("publish");
    let mut spec2 = spec.clone();
    spec2.max_deliver = 5;
    let mut sub2 = bus.subscribe(spec2.clone()).await.expect("subscribe");
    let old = sub2.fetch(1, Duration::ZERO).await.expect("fetch").pop().expect("one");
    bus.delete_consumer("c").await.expect("delete");
    let _sub3 = bus.subscribe(spec2).await.expect("recreate");
    old.term("stale").await.expect("stale term is accepted and ignored");
    assert_eq!(bus.dead_letter_count().await.expect("count"), 1);
    assert_eq!(bus.consumer_state("c").await.expect("state").num_pending, 2);
}

#[tokio::test]
async fn bad_specs_and_filter_conflicts_are_rejected() {
    let bus = bus(100);
    for spec in [ConsumerSpec::new("has.dot", "nl.>"), ConsumerSpec::new("ok", "nl.>.x"), ConsumerSpec { max_deliver: 0, ..ConsumerSpec::new("ok", "nl.>") }] {
        assert!(matches!(bus.subscribe(spec).await, Err(BusError::Consumer { .. })));
    }
    let _a = bus.subscribe(ConsumerSpec::new("c", "nl.a")).await.expect("subscribe");
    assert!(matches!(bus.subscribe(ConsumerSpec::new("c", "nl.b")).await, Err(BusError::Consumer { .. })), "filter change refused");
    assert!(matches!(bus.publish(Message::new("nl.*", "1", "x")).await, Err(BusError::Publish { .. })), "wildcard publish refused");
}

#[tokio::test]
async fn num_pending_counts_matching_messages_not_yet_delivered() {
    let bus = bus(100);
    bus.publish(Message::new("nl.a", "1", "x")).await.expect("publish");
    bus.publish(Message::new("nl.b", "2", "x")).await.expect("publish");
    let mut sub = bus.subscribe(ConsumerSpec::new("c", "nl.a")).await.expect("subscribe");
    assert_eq!(bus.consumer_state("c").await.expect("state").num_pending, 1, "messages stored before the consumer");
    bus.publish_batch(vec![Message::new("nl.a", "3", "x"), Message::new("nl.b", "4", "x"), Message::new("nl.a", "5", "x")]).await.expect("publish");
    assert_eq!(bus.consumer_state("c").await.expect("state").num_pending, 3);
    let got = sub.fetch(2, Duration::ZERO).await.expect("fetch");
    let st = bus.consumer_state("c").await.expect("state");
    assert_eq!((st.num_pending, st.num_ack_pending), (1, 2));
    for d in got {
        d.ack().await.expect("ack");
    }
    let _rest = sub.fetch(10, Duration::ZERO).await.expect("fetch");
    assert_eq!(bus.consumer_state("c").await.expect("state").num_pending, 0);
}

fn flow_bus(max_lag: u64, max_pause: Duration) -> MemoryBus {
    MemoryBus::new(MemoryBusConfig { flow: Some(FlowControl { max_lag, max_pause }), ..MemoryBusConfig::default() })
}

#[tokio::test(start_paused = true)]
async fn a_producer_pauses_while_the_slowest_consumer_lags_and_resumes_when_it_catches_up() {
    let bus = flow_bus(3, Duration::from_secs(60));
    let mut slow = bus.subscribe(ConsumerSpec::new("slow", "nl.>")).await.expect("subscribe");
    let mut fast = bus.subscribe(ConsumerSpec::new("fast", "nl.>")).await.expect("subscribe");
    let msgs = (0..5).map(|i| Message::new("nl.a", format!("m{i}"), "x")).collect();
    bus.publish_batch(msgs).await.expect("publish");
    let _fast = fast.fetch(10, Duration::ZERO).await.expect("fetch");
    assert_eq!(bus.lag(), 5, "slow has been delivered nothing");

    let producer = tokio::spawn({
        let bus = bus.clone();
        async move { bus.wait_for_room().await }
    });
    // The paused clock advances to the next timer while everyone waits: 10 s pass, the producer still waits.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!producer.is_finished(), "5 unseen by slow > 3: the producer must wait");
    let one = slow.fetch(1, Duration::ZERO).await.expect("fetch");
    assert_eq!(one.len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!producer.is_finished(), "4 unseen is still above the bound");
    let _two = slow.fetch(2, Duration::ZERO).await.expect("fetch");
    let waited = tokio::time::timeout(Duration::from_secs(1), producer).await.expect("woken by the fetch").expect("join");
    assert!(waited >= Duration::from_secs(11) && waited < Duration::from_secs(12), "{waited:?}");
    let stats = bus.flow_stats();
    assert_eq!((stats.paused, stats.timed_out), (1, 0));
    assert_eq!(bus.wait_for_room().await, Duration::ZERO, "within the bound: no pause");
    assert_eq!(bus.flow_stats().paused, 1);
}

#[tokio::test(start_paused = true)]
async fn a_pause_is_bounded_when_a_consumer_stops_fetching() {
    let flow = flow_bus(1, Duration::from_secs(5));
    let bus = &flow;
    let _stuck = bus.subscribe(ConsumerSpec::new("stuck", "nl.>")).await.expect("subscribe");
    bus.publish_batch(vec![Message::new("nl.a", "1", "x"), Message::new("nl.a", "2", "x")]).await.expect("publish");
    assert_eq!(bus.wait_for_room().await, Duration::from_secs(5), "gives up at max_pause");
    let stats = bus.flow_stats();
    assert_eq!((stats.paused, stats.timed_out, stats.paused_for), (1, 1, Duration::from_secs(5)));
    // Nobody has fetched from `stuck` for longer than max_pause: it no longer holds producers back.
    assert_eq!(bus.wait_for_room().await, Duration::ZERO, "a stalled consumer is not waited for again");
    bus.delete_consumer("stuck").await.expect("delete");
    assert_eq!(bus.wait_for_room().await, Duration::ZERO, "no lagging consumer left");
    assert_eq!(self::bus(100).wait_for_room().await, Duration::ZERO, "without flow control nothing waits");
}
