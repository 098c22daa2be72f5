//! A scripted mock venue on `127.0.0.1:0` for tier-(b) tests and the detection benchmark: each path
//! serves a default response (replaceable at any time) after any queued one-shot responses, and every
//! request is recorded with its arrival time so tests can assert request counts and spacing.
//!
//! Paths are matched without the query string. Unknown paths answer 404. A response carrying an `etag` header
//! is answered `304 Not Modified` when the request's `If-None-Match` equals it, like a CDN would.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

/// One scripted HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl MockResponse {
    /// `200` with a JSON body.
    #[must_use]
    pub fn json(body: impl Into<String>) -> Self {
        Self { status: 200, headers: vec![("content-type".into(), "application/json".into())], body: body.into() }
    }

    /// Any status with a body.
    #[must_use]
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

#[derive(Debug, Default)]
struct Route {
    queue: VecDeque<MockResponse>,
    default: Option<MockResponse>,
    hits: Vec<Instant>,
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;

fn lock(r: &Routes) -> MutexGuard<'_, HashMap<String, Route>> {
    // Every update is a plain push/assignment, so the map is consistent even after a panicking holder.
    r.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running mock venue; the server stops when this is dropped.
#[derive(Debug)]
pub struct MockVenue {
    addr: SocketAddr,
    routes: Routes,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockVenue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(routes): State<Routes>, uri: Uri, req_headers: HeaderMap) -> Response {
    let picked = {
        let mut map = lock(&routes);
        map.get_mut(uri.path()).and_then(|r| {
            r.hits.push(Instant::now());
            r.queue.pop_front().or_else(|| r.default.clone())
        })
    };
    let Some(resp) = picked else {
        return (StatusCode::NOT_FOUND, format!("mock venue: no route for {}", uri.path())).into_response();
    };
    let etag = resp.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("etag")).map(|(_, v)| v.as_str());
    let if_none_match = req_headers.get("if-none-match").and_then(|v| v.to_str().ok());
    if etag.is_some() && etag == if_none_match {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &resp.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            headers.insert(k, v);
        }
    }
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, resp.body).into_response()
}

impl MockVenue {
    /// Binds `127.0.0.1:0` and starts serving.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let routes: Routes = Arc::default();
        let app = Router::new().fallback(handle).with_state(Arc::clone(&routes));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "Mock venue stopped.");
            }
        });
        Ok(Self { addr, routes, task })
    }

    /// `http://127.0.0.1:<port>`, to use as a source's `base_url`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the response `path` serves once its queue is empty.
    pub fn set(&self, path: &str, resp: MockResponse) {
        lock(&self.routes).entry(path.to_string()).or_default().default = Some(resp);
    }

    /// Queues a response served once, before the default.
    pub fn push_once(&self, path: &str, resp: MockResponse) {
        lock(&self.routes).entry(path.to_string()).or_default().queue.push_back(resp);
    }

    /// Arrival times of the requests to `path` so far.
    #[must_use]
    pub fn hits(&self, path: &str) -> Vec<Instant> {
        lock(&self.routes).get(path).map(|r| r.hits.clone()).unwrap_or_default()
    }

    /// Number of requests to `path` so far.
    #[must_use]
    pub fn hit_count(&self, path: &str) -> usize {
        lock(&self.routes).get(path).map_or(0, |r| r.hits.len())
    }
}
