//! "Mark reviewed": the dashboard's one write. The ledger stays the only writer of the DB (invariant 1):
//! the button becomes an `asset.reviewed` event handed to an [`EventWriter`] — the bus in distributed mode
//! and beside `nl run` (the ledger consumes it), or the path `nl review` takes in embedded mode (events.jsonl,
//! then the ledger store) — and the page comes back once the ledger shows `reviewed_at`.
//!
//! It is a write, so besides the dashboard's token (when one is configured) it is POST only and refused
//! cross-site: a browser's `Origin` must be this host, and `Sec-Fetch-Site` must not say cross-site.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use nl_bus::{Bus, Message};
use nl_domain::{AssetId, AssetReviewed, Envelope};

use crate::server::{AppState, Failure};

/// Longest wait for the ledger to show the review before the page answers "accepted".
const APPLY_WAIT: Duration = Duration::from_secs(5);

/// Hands a user's event to the ledger's writer.
#[async_trait]
pub trait EventWriter: Send + Sync + 'static {
    /// Emits `env`; a short line saying where it went.
    ///
    /// # Errors
    /// Why it could not be emitted (nothing was written then).
    async fn emit(&self, env: Envelope) -> Result<String, String>;
}

/// Publishes to a bus the ledger and the recorder consume (distributed mode, or the bus of `nl run`).
#[derive(Clone)]
pub struct BusWriter(pub Arc<dyn Bus>);

#[async_trait]
impl EventWriter for BusWriter {
    async fn emit(&self, env: Envelope) -> Result<String, String> {
        let payload = env.to_json().map_err(|e| format!("encoding {}: {e}", env.event_id))?;
        let ack = self.0.publish(Message::new(env.subject(), env.event_id.0.clone(), payload)).await.map_err(|e| format!("publishing {}: {e}", env.event_id))?;
        Ok(format!("{} published to {} (seq {})", env.event_id, env.subject(), ack.sequence))
    }
}

/// Whether the request comes from this dashboard's own pages (or from no browser at all). A browser says so
/// in `Sec-Fetch-Site` (which pages cannot set); one that does not send it must send an `Origin` that is
/// this host. (With the dashboard's `Referrer-Policy: no-referrer`, Chromium sends `Origin: null` on a
/// same-origin form POST, so `Sec-Fetch-Site` is the primary check.) No browser header at all is a
/// non-browser client (curl), which the token, when configured, already covers.
fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return if site == "same-origin" { Ok(()) } else { Err(format!("a {site} request is refused: use the dashboard's own page")) };
    }
    if let Some(origin) = get(header::ORIGIN.as_str()) {
        let host = get(header::HOST.as_str()).unwrap_or_default();
        let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")).unwrap_or("");
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(format!("Origin {origin:?} is not this dashboard ({host})"));
        }
    }
    Ok(())
}

/// `POST /asset/{id}/review`.
pub(crate) async fn review(State(s): State<Arc<AppState>>, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, Failure> {
    same_origin(&headers).map_err(|m| Failure(StatusCode::FORBIDDEN, m))?;
    let asset = AssetId::parse(&id).map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("asset id {id:?}: {e}")))?;
    let Some(writer) = s.writer.clone() else {
        return Err(Failure(
            StatusCode::NOT_IMPLEMENTED,
            format!("this dashboard has no path to the ledger's writer (it reads a remote ledger without a bus); run `nl review {id}` (it emits asset.reviewed, which the ledger applies); nothing was changed"),
        ));
    };
    let detail = s.reader.asset_detail(&asset).await.map_err(|e| s.read_failed(&e))?;
    if detail.is_none() {
        return Err(Failure(StatusCode::NOT_FOUND, format!("no asset {id}")));
    }
    let now = s.clock.now();
    let env = AssetReviewed { reviewed_by: Some("web".into()), note: None }.envelope(&asset, now, &s.run.run_id, &s.run.config_hash, "web");
    let line = writer.emit(env).await.map_err(|m| Failure(StatusCode::SERVICE_UNAVAILABLE, format!("asset.reviewed could not be emitted: {m}")))?;
    tracing::info!(asset = %asset, "{line}");
    // The ledger applies it (at once in embedded mode, from the bus otherwise): come back when the page
    // would show it, woken by the live poller's change marks.
    let until = tokio::time::Instant::now() + APPLY_WAIT;
    let mut changes = s.changes.clone();
    loop {
        let applied = s.reader.asset_detail(&asset).await.ok().flatten().is_some_and(|d| d.listing.reviewed_at.is_some_and(|at| at >= now - chrono::Duration::seconds(1)));
        if applied {
            return Ok(Redirect::to(&format!("/asset/{asset}")).into_response());
        }
        if !matches!(tokio::time::timeout_at(until, changes.changed()).await, Ok(Ok(()))) {
            let msg = format!("{line}; the ledger has not applied it yet: reload in a moment");
            return Ok((StatusCode::ACCEPTED, axum::response::Html(crate::pages::error_page("Accepted", &msg).into_string())).into_response());
        }
    }
}
