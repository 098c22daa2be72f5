//! `WsClient` against an axum WebSocket mock on 127.0.0.1:0: reconnect, resubscribe, watchdog,
//! keepalive and backpressure. Waits are conditions with deadlines, never bare sleeps.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use nl_adapters::kit::{WsClient, WsConfig, WsEvent, WsExit};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

/// What the mock does with each connection.
#[derive(Clone, Copy)]
enum Mode {
    /// Read `n` subscribe messages, send one frame naming the connection, then drop the socket.
    FrameThenDrop(usize),
    /// Read everything, never send anything.
    Silent,
    /// Answer text "ping" with "pong"; report protocol pings.
    Keepalive,
    /// Send `n` numbered frames as fast as possible, then stay open.
    Flood(u32),
    /// Send a small frame, one text message of `n` bytes, another small frame, then stay open.
    Huge(usize),
}

#[derive(Clone)]
struct Mock {
    mode: Mode,
    connections: Arc<AtomicU32>,
    received: mpsc::Sender<String>,
}

async fn upgrade(State(m): State<Mock>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(m, socket))
}

async fn session(m: Mock, mut socket: WebSocket) {
    let n = m.connections.fetch_add(1, Ordering::SeqCst) + 1;
    match m.mode {
        Mode::FrameThenDrop(subs) => {
            for _ in 0..subs {
                if let Some(Ok(Message::Text(t))) = socket.recv().await {
                    let _ = m.received.send(format!("{n}:{}", t.as_str())).await;
                }
            }
            let _ = socket.send(Message::Text(format!("frame-{n}").into())).await;
            drop(socket);
        }
        Mode::Silent => while let Some(Ok(_)) = socket.recv().await {},
        Mode::Huge(bytes) => {
            let _ = socket.send(Message::Text(format!("small-{n}").into())).await;
            let _ = socket.send(Message::Text("x".repeat(bytes).into())).await;
            let _ = socket.send(Message::Text(format!("after-{n}").into())).await;
            while let Some(Ok(_)) = socket.recv().await {}
        }
        Mode::Keepalive => {
            while let Some(Ok(msg)) = socket.recv().await {
                match msg {
                    Message::Text(t) if t.as_str() == "ping" => {
                        let _ = m.received.send("text-ping".into()).await;
                        let _ = socket.send(Message::Text("pong".into())).await;
                    }
                    Message::Ping(_) => {
                        let _ = m.received.send("frame-ping".into()).await;
                    }
                    _ => {}
                }
            }
        }
        Mode::Flood(count) => {
            for i in 0..count {
                if socket.send(Message::Text(format!("{i}").into())).await.is_err() {
                    return;
                }
            }
            let _ = m.received.send("flood-done".into()).await;
            while let Some(Ok(_)) = socket.recv().await {}
        }
    }
}

async fn serve(mode: Mode) -> (String, Arc<AtomicU32>, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel(256);
    let connections = Arc::new(AtomicU32::new(0));
    let mock = Mock { mode, connections: Arc::clone(&connections), received: tx };
    let app = Router::new().route("/ws", get(upgrade)).with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("ws://{addr}/ws"), connections, rx)
}

fn config(url: &str) -> WsConfig {
    WsConfig { ping_interval_ms: 0, silence_timeout_ms: 5_000, backoff_base_ms: 10, backoff_cap_ms: 50, connect_timeout_ms: 2_000, ..WsConfig::new(url) }
}

const WAIT: Duration = Duration::from_secs(5);

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    timeout(WAIT, rx.recv()).await.expect("event within deadline").expect("channel open")
}

struct Running {
    events: mpsc::Receiver<WsEvent>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<WsExit>,
    handle: nl_adapters::kit::WsHandle,
}

fn start(cfg: WsConfig, capacity: usize) -> Running {
    let (tx, events) = mpsc::channel(capacity);
    let (stop, stopped) = oneshot::channel::<()>();
    let client = WsClient::new(cfg);
    let handle = client.handle();
    let task = tokio::spawn(client.run(tx, async move {
        let _ = stopped.await;
    }));
    Running { events, stop, task, handle }
}

impl Running {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        assert_eq!(timeout(WAIT, self.task).await.unwrap().unwrap(), WsExit::Shutdown);
    }
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_drop() {
    let (url, connections, mut received) = serve(Mode::FrameThenDrop(2)).await;
    let mut cfg = config(&url);
    cfg.subscribe_messages = vec![r#"{"op":"subscribe","args":[{"channel":"instruments","instType":"SPOT"}]}"#.into(), "second".into()];
    let mut c = start(cfg, 8);

    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 1 });
    assert!(matches!(next(&mut c.events).await, WsEvent::Text(t, _) if t == "frame-1"));
    assert!(matches!(next(&mut c.events).await, WsEvent::Disconnected { .. }));
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 2 });
    assert!(matches!(next(&mut c.events).await, WsEvent::Text(t, _) if t == "frame-2"));

    let mut subs = Vec::new();
    for _ in 0..4 {
        subs.push(next(&mut received).await);
    }
    assert_eq!(
        subs,
        vec![
            r#"1:{"op":"subscribe","args":[{"channel":"instruments","instType":"SPOT"}]}"#.to_owned(),
            "1:second".to_owned(),
            r#"2:{"op":"subscribe","args":[{"channel":"instruments","instType":"SPOT"}]}"#.to_owned(),
            "2:second".to_owned(),
        ]
    );
    assert!(connections.load(Ordering::SeqCst) >= 2);
    assert!(c.handle.connects() >= 2);
    assert!(c.handle.messages() >= 2);
    c.shutdown().await;
}

#[tokio::test]
async fn a_message_over_max_message_bytes_drops_the_connection_and_is_never_buffered() {
    // #16: a hostile feed sending one 2 MiB message to a client capped at 64 KiB.
    let (url, connections, _received) = serve(Mode::Huge(2 * 1024 * 1024)).await;
    let cfg = WsConfig { max_message_bytes: 64 * 1024, ..config(&url) };
    let mut c = start(cfg, 8);
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 1 });
    assert!(matches!(next(&mut c.events).await, WsEvent::Text(t, _) if t == "small-1"));
    let WsEvent::Disconnected { reason } = next(&mut c.events).await else { panic!("the oversized message ends the connection") };
    assert!(reason.to_lowercase().contains("size") || reason.to_lowercase().contains("too long"), "{reason}");
    assert!(reason.len() < 1024, "{reason}");
    // It reconnects (the next message is small again), and the huge one was never delivered.
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 2 });
    assert!(matches!(next(&mut c.events).await, WsEvent::Text(t, _) if t == "small-2"));
    assert!(connections.load(Ordering::SeqCst) >= 2);
    assert_eq!(WsConfig::new("ws://x").max_message_bytes, nl_adapters::kit::ws::DEFAULT_MAX_MESSAGE_BYTES, "a cap by default");
    c.shutdown().await;
}

#[tokio::test]
async fn silence_watchdog_forces_reconnect() {
    let (url, connections, _received) = serve(Mode::Silent).await;
    let cfg = WsConfig { silence_timeout_ms: 300, ..config(&url) };
    let mut c = start(cfg, 8);

    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 1 });
    let t0 = Instant::now();
    assert!(c.handle.last_message_age().is_some());
    match next(&mut c.events).await {
        WsEvent::Disconnected { reason } => assert!(reason.starts_with("silence"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(t0.elapsed() >= Duration::from_millis(250), "watchdog fired after {:?}", t0.elapsed());
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 2 });
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    c.shutdown().await;
}

async fn keepalive_holds(payload: Option<String>, expect: &str) {
    let (url, connections, mut received) = serve(Mode::Keepalive).await;
    let cfg = WsConfig { ping_interval_ms: 50, ping_payload: payload, silence_timeout_ms: 300, ..config(&url) };
    let mut c = start(cfg, 64);
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 1 });
    // Ten pings span ~500 ms, well past the 300 ms silence timeout: only replies keep it alive.
    for _ in 0..10 {
        assert_eq!(next(&mut received).await, expect);
    }
    while let Ok(ev) = c.events.try_recv() {
        assert!(matches!(&ev, WsEvent::Text(t, _) if t == "pong"), "no reconnect expected, got {ev:?}");
    }
    assert_eq!((connections.load(Ordering::SeqCst), c.handle.connects()), (1, 1));
    assert!(c.handle.is_connected());
    c.shutdown().await;
}

#[tokio::test]
async fn text_pings_keep_the_connection_alive() {
    keepalive_holds(Some("ping".into()), "text-ping").await;
}

#[tokio::test]
async fn protocol_pings_keep_the_connection_alive() {
    keepalive_holds(None, "frame-ping").await;
}

#[tokio::test]
async fn bounded_channel_applies_backpressure_without_loss() {
    let (url, _connections, mut received) = serve(Mode::Flood(200)).await;
    let mut c = start(config(&url), 1);
    assert_eq!(next(&mut c.events).await, WsEvent::Connected { attempt: 1 });
    // The consumer is idle until the server has written everything; nothing may be dropped.
    assert_eq!(next(&mut received).await, "flood-done");
    for i in 0..200 {
        match next(&mut c.events).await {
            WsEvent::Text(t, _) => assert_eq!(t, i.to_string()),
            other => panic!("unexpected {other:?}"),
        }
    }
    c.shutdown().await;
}

#[tokio::test]
async fn connect_failures_are_reported_and_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut c = start(config(&format!("ws://{addr}/ws?apikey=abc123")), 8);
    for _ in 0..2 {
        match next(&mut c.events).await {
            WsEvent::Disconnected { reason } => {
                assert!(reason.starts_with("connect failed"), "{reason}");
                assert!(!reason.contains("abc123"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(c.handle.connects(), 0);
    assert_eq!(c.handle.last_message_age(), None);
    c.shutdown().await;
}

#[tokio::test]
async fn dropped_receiver_stops_the_client() {
    let (url, _connections, _received) = serve(Mode::Silent).await;
    let c = start(config(&url), 1);
    drop(c.events);
    assert_eq!(timeout(WAIT, c.task).await.unwrap().unwrap(), WsExit::ReceiverDropped);
}
