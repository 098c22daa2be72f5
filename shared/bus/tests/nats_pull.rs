//! Pull-request edge cases of `NatsBus` against a real nats-server, reached through a loopback proxy
//! that can hold the server's bytes back: a client that reads late, as a starved process does under
//! CPU load.

use std::time::Duration;

use nl_bus::{Bus, ConsumerSpec, Message, NatsBus};
use nl_testkit::{NatsServer, unique_name, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Far above every wait below: a delivery that only comes back after it was lost.
const ACK_WAIT: Duration = Duration::from_secs(20);

/// Forwards loopback connections to `upstream`. While the returned flag is `true`, bytes from the
/// server are kept back (in order) and forwarded once it is `false` again.
async fn holding_proxy(upstream: u16) -> (u16, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("proxy address").port();
    let (hold, held) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(("127.0.0.1", upstream)).await.expect("connect upstream");
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
            let mut held = held.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match from_server.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if held.wait_for(|h| !*h).await.is_err() || to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, hold)
}

/// A request the client gave up on (its expiry passed with no reply: the server's bytes were late)
/// still delivers; that delivery must be handed out, not wait out `ack_wait` to be redelivered.
#[tokio::test]
async fn a_delivery_to_a_pull_request_given_up_on_is_not_lost() {
    let server = NatsServer::start().await;
    let mut cfg = server.bus_config();
    let direct = NatsBus::connect(&cfg).await.expect("connect");
    let (port, hold) = holding_proxy(server.port()).await;
    cfg.url = format!("nats://127.0.0.1:{port}");
    let late = NatsBus::connect(&cfg).await.expect("connect through the proxy");
    let subject = format!("nl.test.{}", unique_name("late"));
    let spec = ConsumerSpec { ack_wait: ACK_WAIT, ..ConsumerSpec::new(unique_name("late"), subject.clone()) };
    let durable = spec.durable.clone();
    let mut sub = late.subscribe(spec).await.expect("subscribe");
    direct.publish(Message::new(subject, "m1", b"{}".to_vec())).await.expect("publish");

    hold.send_replace(true);
    assert!(sub.fetch(1, Duration::from_millis(200)).await.expect("fetch").is_empty(), "the server's bytes are held");
    let delivered = wait_until(Duration::from_secs(5), || async { direct.consumer_state(&durable).await.is_ok_and(|s| s.num_ack_pending == 1) }).await;
    assert!(delivered, "the server delivered m1 to the first pull request");
    // The first request's expiry passes with nothing read: it is given up and another one sent.
    assert!(sub.fetch(1, Duration::from_secs(1)).await.expect("fetch").is_empty(), "the server's bytes are still held");
    hold.send_replace(false);

    let got = sub.fetch(1, ACK_WAIT / 4).await.expect("fetch");
    assert_eq!(got.len(), 1, "the delivery to the given-up request was dropped; it would come back only after ack_wait");
    assert_eq!((got[0].message.id.as_str(), got[0].delivered), ("m1", 1));
    got[0].ack().await.expect("ack");
    let state = direct.consumer_state(&durable).await.expect("consumer state");
    assert_eq!(state.num_redelivered, 0);
}

/// Dropping a subscription NAKs what arrived but was never handed out, so another consumer of the
/// same durable gets it at once instead of after `ack_wait`.
#[tokio::test]
async fn dropping_a_subscription_naks_what_it_holds() {
    let server = NatsServer::start().await;
    let mut cfg = server.bus_config();
    let bus = NatsBus::connect(&cfg).await.expect("connect");
    let (port, hold) = holding_proxy(server.port()).await;
    cfg.url = format!("nats://127.0.0.1:{port}");
    let late = NatsBus::connect(&cfg).await.expect("connect through the proxy");
    let subject = format!("nl.test.{}", unique_name("held"));
    let spec = ConsumerSpec { ack_wait: ACK_WAIT, ..ConsumerSpec::new(unique_name("held"), subject.clone()) };
    let durable = spec.durable.clone();
    let mut sub = late.subscribe(spec.clone()).await.expect("subscribe");
    bus.publish(Message::new(subject.clone(), "m1", b"{}".to_vec())).await.expect("publish");
    hold.send_replace(true);
    assert!(sub.fetch(1, Duration::from_millis(200)).await.expect("fetch").is_empty(), "the server's bytes are held");
    let delivered = wait_until(Duration::from_secs(5), || async { bus.consumer_state(&durable).await.is_ok_and(|s| s.num_ack_pending == 1) }).await;
    assert!(delivered, "the server delivered m1 to the pull request");
    hold.send_replace(false);
    // Wait (on a condition) until the delivery reached the client, then drop the subscription unread.
    let mut probe = late.subscribe(ConsumerSpec::new(unique_name("probe"), subject)).await.expect("probe");
    assert_eq!(probe.fetch(1, Duration::from_secs(5)).await.expect("probe fetch").len(), 1, "the proxy forwards again");
    drop(sub);

    let mut other = bus.subscribe(spec).await.expect("subscribe again");
    let got = other.fetch(1, ACK_WAIT / 4).await.expect("fetch");
    assert_eq!(got.len(), 1, "m1 was not NAKed when its subscription was dropped");
    assert_eq!((got[0].message.id.as_str(), got[0].delivered), ("m1", 2));
    got[0].ack().await.expect("ack");
}
