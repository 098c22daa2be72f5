//! A scripted WebSocket venue on `127.0.0.1:0` for push tests and the push benchmark: every connection
//! receives what [`MockWsVenue::send`] broadcasts, [`MockWsVenue::drop_connections`] cuts them all (the
//! client must reconnect), text `ping` is answered with `pong` (OKX style), and what clients send is
//! recorded (subscribe messages).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
enum Cmd {
    Text(String),
    Drop,
}

#[derive(Debug)]
struct Shared {
    tx: broadcast::Sender<Cmd>,
    accepted: AtomicUsize,
    live: AtomicUsize,
    received: Mutex<Vec<String>>,
}

/// The running mock; the server stops when this is dropped.
#[derive(Debug)]
pub struct MockWsVenue {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockWsVenue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(socket, shared))
}

async fn session(mut socket: WebSocket, shared: Arc<Shared>) {
    // Subscribe before counting, so anything sent after a test sees the connection reaches it.
    let mut rx = shared.tx.subscribe();
    shared.accepted.fetch_add(1, Ordering::SeqCst);
    shared.live.fetch_add(1, Ordering::SeqCst);
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Ok(Cmd::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Ok(Cmd::Drop) | Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let text = t.as_str().to_string();
                    let ping = text == "ping";
                    shared.received.lock().unwrap_or_else(PoisonError::into_inner).push(text);
                    if ping && socket.send(Message::Text("pong".into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    // Dropping the socket without a close frame: an abrupt loss, as when a venue cuts the line.
    shared.live.fetch_sub(1, Ordering::SeqCst);
}

impl MockWsVenue {
    /// Starts the server.
    ///
    /// # Errors
    /// When the loopback listener cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let (tx, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared { tx, accepted: AtomicUsize::new(0), live: AtomicUsize::new(0), received: Mutex::new(Vec::new()) });
        let app = Router::new().fallback(upgrade).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `ws://127.0.0.1:<port>/ws`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Sends `text` to every open connection; returns how many connections it went to.
    pub fn send(&self, text: impl Into<String>) -> usize {
        self.shared.tx.send(Cmd::Text(text.into())).unwrap_or(0)
    }

    /// Cuts every open connection.
    pub fn drop_connections(&self) {
        let _ = self.shared.tx.send(Cmd::Drop);
    }

    /// Connections accepted so far.
    #[must_use]
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    #[must_use]
    pub fn live(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Text frames clients sent, in arrival order.
    #[must_use]
    pub fn received(&self) -> Vec<String> {
        self.shared.received.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
