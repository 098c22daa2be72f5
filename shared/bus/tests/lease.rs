//! Per-source leases: NATS KV (on a real 2.9 server) and the always-granting memory version.

use std::time::Duration;

use nl_testkit::{NatsServer, unique_name, wait_until};
use nl_bus::{Leases, MemoryLeases, NatsBus, NatsLeases};

#[tokio::test]
async fn one_holder_renew_release_and_takeover() {
    let server = NatsServer::start().await;
    let bus = NatsBus::connect(&server.bus_config()).await.expect("connect");
    let bucket = unique_name("leases");
    let a = NatsLeases::open(bus.jetstream(), &bucket, Duration::from_secs(15), "replica-a").await.expect("open a");
    let b = NatsLeases::open(bus.jetstream(), &bucket, Duration::from_secs(15), "replica-b").await.expect("open b");

    let mut la = a.acquire("source.binance").await.expect("acquire").expect("free lease granted");
    assert!(b.acquire("source.binance").await.expect("acquire").is_none(), "held lease refused");
    assert_eq!(a.holder("source.binance").await.expect("holder").as_deref(), Some("replica-a"));
    let before = la.revision;
    assert!(a.renew(&mut la).await.expect("renew"), "holder renews");
    assert!(la.revision > before, "renewal advances the revision");
    assert_eq!(la.fencing_token, before, "fencing token fixed while held");
    let stale = la.clone();

    a.release(la).await.expect("release");
    let lb = b.acquire("source.binance").await.expect("acquire").expect("released lease is free");
    assert!(lb.fencing_token > stale.fencing_token, "fencing token grows across holders");
    let mut stale = stale;
    assert!(!a.renew(&mut stale).await.expect("renew"), "ex-holder learns it lost the lease");
    a.release(stale).await.expect("releasing a lost lease is a no-op");
    assert_eq!(b.holder("source.binance").await.expect("holder").as_deref(), Some("replica-b"));
    assert!(b.acquire("source.other").await.expect("acquire").is_some(), "keys are independent");
}

#[tokio::test]
async fn abandoned_lease_expires_after_ttl() {
    let server = NatsServer::start().await;
    let bus = NatsBus::connect(&server.bus_config()).await.expect("connect");
    let bucket = unique_name("leases");
    let a = NatsLeases::open(bus.jetstream(), &bucket, Duration::from_secs(2), "a").await.expect("open");
    let b = NatsLeases::open(bus.jetstream(), &bucket, Duration::from_secs(2), "b").await.expect("open");
    let mut la = a.acquire("source.x").await.expect("acquire").expect("granted");
    // "a" dies: no renewals. Within a few TTLs "b" must get it.
    let freed = wait_until(Duration::from_secs(10), || async { b.holder("source.x").await.is_ok_and(|h| h.is_none()) }).await;
    assert!(freed, "lease aged out");
    let lb = b.acquire("source.x").await.expect("acquire").expect("granted after expiry");
    assert!(lb.fencing_token > la.fencing_token);
    assert!(!a.renew(&mut la).await.expect("renew"), "old holder lost it");
}

#[tokio::test]
async fn memory_leases_always_grant() {
    let l = MemoryLeases::new("solo", Duration::from_secs(15));
    let mut one = l.acquire("k").await.expect("acquire").expect("granted");
    let two = l.acquire("k").await.expect("acquire").expect("granted again");
    assert!(two.fencing_token > one.fencing_token);
    assert!(l.renew(&mut one).await.expect("renew"));
    l.release(one).await.expect("release");
    assert_eq!(l.ttl(), Duration::from_secs(15));
}
