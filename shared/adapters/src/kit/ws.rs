//! A reconnecting WebSocket client for push feeds (OKX/Kraken instruments, Coinbase status, …).
//!
//! On every (re)connect it re-sends the subscribe messages and emits [`WsEvent::Connected`], so
//! the caller can fill the gap with a REST poll. A silence watchdog forces a reconnect when no
//! frame (data, text pong or protocol pong) arrives within `silence_timeout_ms`; keepalive pings
//! are either text (OKX `"ping"`, Kraken `{"method":"ping"}`) or protocol ping frames. Reconnects
//! back off exponentially with jitter. Events go through a bounded channel and each send is
//! awaited: a slow consumer slows reading (TCP backpressure) instead of growing a buffer.
//!
//! Authenticated feeds (Binance announcements) add handshake headers whose values come from env
//! variables ([`EnvHeader`]; marked sensitive, never logged) and may derive a fresh URL per connect
//! ([`WsClient::with_url_fn`], e.g. a signed query with the current timestamp); only the configured
//! base URL, redacted, is ever logged.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

use crate::kit::backoff::Backoff;
use crate::kit::http::install_crypto_provider;

fn d_ping_interval_ms() -> u64 {
    20_000
}
fn d_silence_timeout_ms() -> u64 {
    60_000
}
fn d_backoff_base_ms() -> u64 {
    500
}
fn d_backoff_cap_ms() -> u64 {
    30_000
}
fn d_connect_timeout_ms() -> u64 {
    10_000
}
fn d_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

/// Default cap on one WebSocket message (and frame): push frames are one update or one instrument
/// snapshot, far below this. A longer message ends the connection (counted as a disconnect, reconnected
/// with backoff) instead of being buffered: the library's own default is 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// WebSocket feed settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsConfig {
    /// `ws://` or `wss://` URL; tests point it at a mock server.
    pub url: String,
    /// Text frames sent after every successful connect, in order.
    #[serde(default)]
    pub subscribe_messages: Vec<String>,
    /// Keepalive period; 0 disables pings (default 20 000).
    #[serde(default = "d_ping_interval_ms")]
    pub ping_interval_ms: u64,
    /// Text ping payload (`"ping"` for OKX); `None` sends protocol ping frames.
    #[serde(default)]
    pub ping_payload: Option<String>,
    /// Reconnect when nothing arrives for this long (default 60 000).
    #[serde(default = "d_silence_timeout_ms")]
    pub silence_timeout_ms: u64,
    /// Reconnect backoff base (default 500).
    #[serde(default = "d_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Reconnect backoff cap (default 30 000).
    #[serde(default = "d_backoff_cap_ms")]
    pub backoff_cap_ms: u64,
    /// Handshake timeout (default 10 000).
    #[serde(default = "d_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Extra handshake headers valued from env variables (e.g. `X-MBX-APIKEY`), read at each connect.
    #[serde(default)]
    pub env_headers: Vec<EnvHeader>,
    /// Largest message (and frame) read (default [`DEFAULT_MAX_MESSAGE_BYTES`]); a longer one drops the
    /// connection, which reconnects with backoff.
    #[serde(default = "d_max_message_bytes")]
    pub max_message_bytes: usize,
}

/// A handshake header whose value is read from an env variable at connect time. The value is sent
/// as a sensitive header and never logged or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvHeader {
    /// Header name, e.g. `X-MBX-APIKEY`.
    pub name: String,
    /// Env variable holding the value.
    pub value_env: String,
}

/// Derives the URL of one connection attempt from the configured URL (e.g. adds a signed query).
/// An `Err` message must not contain secrets: it is logged as the disconnect reason.
pub type UrlFn = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// Env lookup used for [`EnvHeader`] values (normally `std::env::var`).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl WsConfig {
    /// A config with defaults for everything but the URL.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            subscribe_messages: Vec::new(),
            ping_interval_ms: d_ping_interval_ms(),
            ping_payload: None,
            silence_timeout_ms: d_silence_timeout_ms(),
            backoff_base_ms: d_backoff_base_ms(),
            backoff_cap_ms: d_backoff_cap_ms(),
            connect_timeout_ms: d_connect_timeout_ms(),
            env_headers: Vec::new(),
            max_message_bytes: d_max_message_bytes(),
        }
    }
}

/// What the client reports to its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// Connected and subscribed; `attempt` counts successful connections from 1. Every value
    /// after 1 means a gap: backfill it with a REST poll.
    Connected {
        /// 1-based connection count.
        attempt: u64,
    },
    /// A text (or UTF-8 binary) frame and its receive time. Text pong replies are included.
    Text(String, DateTime<Utc>),
    /// The connection was lost or could not be made; a reconnect follows after backoff.
    Disconnected {
        /// Human-readable cause (`silence: …`, `connect failed: …`, `closed by server …`).
        reason: String,
    },
}

/// Why [`WsClient::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsExit {
    /// The shutdown future completed.
    Shutdown,
    /// The event receiver was dropped; nobody is listening.
    ReceiverDropped,
}

#[derive(Debug, Default)]
struct Shared {
    last_message: Mutex<Option<Instant>>,
    connects: AtomicU64,
    messages: AtomicU64,
    connected: AtomicBool,
}

impl Shared {
    fn touch(&self) {
        *self.last_message.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
    fn last(&self) -> Option<Instant> {
        *self.last_message.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Read-only view of a running client, for health checks and metrics.
#[derive(Debug, Clone)]
pub struct WsHandle {
    shared: Arc<Shared>,
}

impl WsHandle {
    /// Time since the last frame (or since the last connect, if none yet); `None` before any connect.
    #[must_use]
    pub fn last_message_age(&self) -> Option<Duration> {
        self.shared.last().map(|t| t.elapsed())
    }

    /// Successful connections so far.
    #[must_use]
    pub fn connects(&self) -> u64 {
        self.shared.connects.load(Ordering::Relaxed)
    }

    /// Text frames forwarded so far.
    #[must_use]
    pub fn messages(&self) -> u64 {
        self.shared.messages.load(Ordering::Relaxed)
    }

    /// Whether a connection is currently up.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }
}

/// The reconnecting client. Create, take a [`handle`](Self::handle), then [`run`](Self::run).
pub struct WsClient {
    cfg: WsConfig,
    shared: Arc<Shared>,
    log_url: String,
    url_fn: Option<UrlFn>,
    env: EnvLookup,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient").field("url", &self.log_url).field("url_fn", &self.url_fn.is_some()).finish_non_exhaustive()
    }
}

enum End {
    Exit(WsExit),
    Lost(String),
}

impl WsClient {
    /// A client for `cfg` (nothing connects until [`run`](Self::run)).
    #[must_use]
    pub fn new(cfg: WsConfig) -> Self {
        let log_url = reqwest::Url::parse(&cfg.url).map_or_else(|_| "<invalid url>".to_owned(), |u| crate::kit::secrets::redact_url(&u, &[]));
        Self { cfg, shared: Arc::new(Shared::default()), log_url, url_fn: None, env: Arc::new(|k| std::env::var(k).ok()) }
    }

    /// Derives each connection's URL from the configured one (called once per connect attempt).
    #[must_use]
    pub fn with_url_fn(mut self, url_fn: UrlFn) -> Self {
        self.url_fn = Some(url_fn);
        self
    }

    /// Reads [`EnvHeader`] values through `lookup` instead of the process environment (tests).
    #[must_use]
    pub fn with_env_lookup(mut self, lookup: EnvLookup) -> Self {
        self.env = lookup;
        self
    }

    /// The handshake request of one attempt: derived URL plus env headers. Errors never carry secret values.
    /// The message and frame caps of a connection (a zero cap would refuse everything: one byte then).
    fn ws_limits(&self) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        let max = self.cfg.max_message_bytes.max(1);
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(max)).max_frame_size(Some(max))
    }

    fn request(&self) -> Result<(tokio_tungstenite::tungstenite::handshake::client::Request, String), String> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
        let url = match &self.url_fn {
            Some(f) => f(&self.cfg.url)?,
            None => self.cfg.url.clone(),
        };
        let mut req = url.as_str().into_client_request().map_err(|e| format!("invalid url: {e}"))?;
        for h in &self.cfg.env_headers {
            let value = (self.env)(&h.value_env).filter(|v| !v.is_empty()).ok_or_else(|| format!("header `{}`: env var `{}` is unset or empty", h.name, h.value_env))?;
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| format!("invalid header name `{}`", h.name))?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| format!("header `{}`: value from `{}` is not a valid header value", h.name, h.value_env))?;
            value.set_sensitive(true);
            req.headers_mut().insert(name, value);
        }
        Ok((req, url))
    }

    /// A handle exposing `last_message_age()` and counters.
    #[must_use]
    pub fn handle(&self) -> WsHandle {
        WsHandle { shared: Arc::clone(&self.shared) }
    }

    /// Connects, subscribes and forwards frames to `events` until `shutdown` completes or the
    /// receiver is dropped, reconnecting forever in between.
    pub async fn run(self, events: mpsc::Sender<WsEvent>, shutdown: impl Future<Output = ()>) -> WsExit {
        install_crypto_provider();
        tokio::pin!(shutdown);
        let backoff = Backoff::new(Duration::from_millis(self.cfg.backoff_base_ms), Duration::from_millis(self.cfg.backoff_cap_ms));
        let mut failures = 0u32;
        loop {
            let (reason, attempt_url) = match self.request() {
                Err(e) => (format!("connect failed: {e}"), None),
                Ok((req, attempt_url)) => {
                    let connect = tokio::time::timeout(Duration::from_millis(self.cfg.connect_timeout_ms), tokio_tungstenite::connect_async_with_config(req, Some(self.ws_limits()), false));
                    let result = tokio::select! {
                        biased;
                        () = &mut shutdown => return WsExit::Shutdown,
                        r = connect => r,
                    };
                    let reason = match result {
                        Ok(Ok((ws, _response))) => match self.session(ws, &events, &mut shutdown, &mut failures).await {
                            End::Exit(exit) => return exit,
                            End::Lost(reason) => reason,
                        },
                        Ok(Err(e)) => format!("connect failed: {e}"),
                        Err(_) => format!("connect timed out after {} ms", self.cfg.connect_timeout_ms),
                    };
                    (reason, Some(attempt_url))
                }
            };
            self.shared.connected.store(false, Ordering::Relaxed);
            let mut reason = reason.replace(&self.cfg.url, &self.log_url);
            if let Some(u) = attempt_url.filter(|u| u != &self.cfg.url) {
                reason = reason.replace(&u, &self.log_url);
            }
            let delay = backoff.delay(failures.min(30));
            failures = failures.saturating_add(1);
            warn!(url = %self.log_url, %reason, ?delay, "WebSocket disconnected; reconnecting.");
            if let Some(exit) = forward(&events, WsEvent::Disconnected { reason }, &mut shutdown).await {
                return exit;
            }
            tokio::select! {
                biased;
                () = &mut shutdown => return WsExit::Shutdown,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn session<S, F>(
        &self,
        ws: tokio_tungstenite::WebSocketStream<S>,
        events: &mpsc::Sender<WsEvent>,
        shutdown: &mut std::pin::Pin<&mut F>,
        failures: &mut u32,
    ) -> End
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        F: Future<Output = ()>,
    {
        let (mut sink, mut stream) = ws.split();
        for m in &self.cfg.subscribe_messages {
            if let Err(e) = sink.send(Message::text(m.as_str())).await {
                return End::Lost(format!("subscribe failed: {e}"));
            }
        }
        let attempt = self.shared.connects.fetch_add(1, Ordering::Relaxed) + 1;
        self.shared.connected.store(true, Ordering::Relaxed);
        // The watchdog counts from the connect, so a feed that never speaks is also detected.
        self.shared.touch();
        info!(url = %self.log_url, attempt, "WebSocket connected.");
        if let Some(exit) = forward(events, WsEvent::Connected { attempt }, shutdown).await {
            return End::Exit(exit);
        }
        let silence = Duration::from_millis(self.cfg.silence_timeout_ms.max(1));
        let ping_every = Duration::from_millis(self.cfg.ping_interval_ms.max(1));
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let ping_enabled = self.cfg.ping_interval_ms > 0;
        loop {
            let deadline = self.shared.last().unwrap_or_else(Instant::now) + silence;
            // Biased: buffered frames are handled before the watchdog, so time spent blocked on
            // a slow consumer does not look like silence from the venue.
            let msg = tokio::select! {
                biased;
                () = shutdown.as_mut() => {
                    // Best effort: the server may already be gone.
                    let _ = sink.send(Message::Close(None)).await;
                    return End::Exit(WsExit::Shutdown);
                }
                msg = stream.next() => msg,
                _ = ping.tick(), if ping_enabled => {
                    let frame = match &self.cfg.ping_payload {
                        Some(text) => Message::text(text.as_str()),
                        None => Message::Ping(bytes::Bytes::new()),
                    };
                    if let Err(e) = sink.send(frame).await {
                        return End::Lost(format!("ping failed: {e}"));
                    }
                    continue;
                }
                () = tokio::time::sleep_until(deadline) => {
                    return End::Lost(format!("silence: no message for {} ms", silence.as_millis()));
                }
            };
            let text = match msg {
                None => return End::Lost("stream ended".to_owned()),
                Some(Err(e)) => return End::Lost(format!("read error: {e}")),
                Some(Ok(Message::Close(frame))) => {
                    return End::Lost(format!("closed by server: {}", frame.map_or_else(|| "no close frame".to_owned(), |f| format!("{} {}", f.code, f.reason))));
                }
                Some(Ok(m)) => {
                    self.shared.touch();
                    match m {
                        Message::Text(t) => t.as_str().to_owned(),
                        Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                            Ok(s) => s,
                            Err(_) => {
                                debug!(url = %self.log_url, len = b.len(), "Non-UTF-8 binary frame skipped.");
                                continue;
                            }
                        },
                        // Protocol pings are answered by tungstenite on the next read; pongs only feed the watchdog.
                        _ => continue,
                    }
                }
            };
            // A data frame proves the connection works: reconnect backoff starts over.
            *failures = 0;
            self.shared.messages.fetch_add(1, Ordering::Relaxed);
            if let Some(exit) = forward(events, WsEvent::Text(text, Utc::now()), shutdown).await {
                return End::Exit(exit);
            }
        }
    }
}

/// Awaits a bounded send (backpressure) while still honouring shutdown.
async fn forward<F: Future<Output = ()>>(events: &mpsc::Sender<WsEvent>, ev: WsEvent, shutdown: &mut std::pin::Pin<&mut F>) -> Option<WsExit> {
    tokio::select! {
        biased;
        () = shutdown.as_mut() => Some(WsExit::Shutdown),
        r = events.send(ev) => r.err().map(|_| WsExit::ReceiverDropped),
    }
}

/// Convenience: `WsClient::new(cfg).run(events, shutdown)` (use [`WsClient`] to get a [`WsHandle`]).
pub async fn run(cfg: WsConfig, events: mpsc::Sender<WsEvent>, shutdown: impl Future<Output = ()>) -> WsExit {
    WsClient::new(cfg).run(events, shutdown).await
}
