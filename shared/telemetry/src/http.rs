//! The health and metrics endpoint every `nl serve` process exposes: `/metrics` (Prometheus text),
//! `/healthz` (200 while the process runs) and `/readyz` (200 once the service is connected and consuming).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::Registry;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
}

/// The router alone (to mount elsewhere or test without a socket).
pub fn router(registry: Arc<Registry>, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, ready })
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // Rendering runs the scrape hooks, which only read atomics; no need for spawn_blocking.
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.registry.render())
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) { (StatusCode::OK, "ready\n") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready\n") }
}

/// Binds `addr` and serves the endpoints until `shutdown` resolves.
///
/// # Errors
/// The bind error when `addr` is taken or invalid.
pub async fn serve_http(addr: SocketAddr, registry: Arc<Registry>, ready: Arc<AtomicBool>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(listener, registry, ready, std::future::pending()).await
}

/// Serves on an already bound listener (bind `127.0.0.1:0` and read `local_addr` first in tests) until
/// `shutdown` resolves.
///
/// # Errors
/// An I/O error from the accept loop.
pub async fn serve_listener(
    listener: TcpListener,
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, ready)).with_graceful_shutdown(shutdown).await
}
