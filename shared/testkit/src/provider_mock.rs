//! A loopback mock of the three risk providers (GoPlus, honeypot.is, rugcheck) for tests and benches. Responses are keyed by provider and token address; an unknown token gets a
//! fallback (when set) or a 404. Rate-limit responses carry `Retry-After: 0` unless told otherwise, so
//! one scripted 429 does not pause the provider budget for the rest of a test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nl_adapters::providers::Provider;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One scripted response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockResponse {
    pub status: u16,
    pub body: String,
    /// `Retry-After` seconds sent with 429/418 (default 0).
    pub retry_after_secs: u64,
}

impl MockResponse {
    /// A 200 with `body`.
    #[must_use]
    pub fn ok(body: impl Into<String>) -> Self {
        Self { status: 200, body: body.into(), retry_after_secs: 0 }
    }

    /// A response with `status` and `body`.
    #[must_use]
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into(), retry_after_secs: 0 }
    }
}

type Fallback = Arc<dyn Fn(Provider, &str) -> Option<MockResponse> + Send + Sync>;

/// The mock's script and request counter. Cloning shares them.
#[derive(Clone, Default)]
pub struct ProviderMock {
    routes: Arc<Mutex<HashMap<(Provider, String), MockResponse>>>,
    fallback: Option<Fallback>,
    hits: Arc<AtomicU64>,
}

impl std::fmt::Debug for ProviderMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderMock").field("hits", &self.hits()).finish_non_exhaustive()
    }
}

impl ProviderMock {
    /// An empty script.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers tokens without a scripted response with `f(provider, lowercased address)`.
    #[must_use]
    pub fn with_fallback(mut self, f: impl Fn(Provider, &str) -> Option<MockResponse> + Send + Sync + 'static) -> Self {
        self.fallback = Some(Arc::new(f));
        self
    }

    /// Scripts (or replaces) the answer of `provider` about `address`.
    pub fn set(&self, provider: Provider, address: &str, resp: MockResponse) {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert((provider, address.to_ascii_lowercase()), resp);
    }

    /// Requests served so far.
    #[must_use]
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn answer(&self, provider: Provider, address: &str) -> Response {
        self.hits.fetch_add(1, Ordering::Relaxed);
        let key = (provider, address.to_ascii_lowercase());
        let scripted = self.routes.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
        let Some(r) = scripted.or_else(|| self.fallback.as_ref().and_then(|f| f(provider, &key.1))) else {
            return (StatusCode::NOT_FOUND, "unknown token").into_response();
        };
        let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, r.body).into_response();
        if matches!(r.status, 429 | 418) {
            resp.headers_mut().insert("retry-after", HeaderValue::from(r.retry_after_secs));
        }
        resp
    }

    /// Serves the mock on `127.0.0.1:0` until the returned task is aborted.
    ///
    /// # Errors
    /// The I/O error when the port cannot be bound.
    pub async fn serve(&self) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
        type Q = Query<HashMap<String, String>>;
        let app = Router::new()
            .route(
                "/api/v1/token_security/{chain}",
                get(|State(m): State<Self>, Path(_chain): Path<String>, Query(q): Q| async move {
                    m.answer(Provider::Goplus, q.get("contract_addresses").map_or("", String::as_str))
                }),
            )
            .route(
                "/v2/IsHoneypot",
                get(|State(m): State<Self>, Query(q): Q| async move { m.answer(Provider::HoneypotIs, q.get("address").map_or("", String::as_str)) }),
            )
            .route("/v1/tokens/{mint}/report", get(|State(m): State<Self>, Path(mint): Path<String>| async move { m.answer(Provider::Rugcheck, &mint) }))
            .with_state(self.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "Provider mock stopped.");
            }
        });
        Ok((addr, task))
    }
}
