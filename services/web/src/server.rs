//! The HTTP routes: pages, CSV exports, the live stream, static assets, and the optional token check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use maud::Markup;
use nl_bus::Clock;
use nl_domain::secret::constant_time_eq;
use nl_domain::views::ListingQuery;
use nl_domain::{AssetId, LedgerReader, ReadError};
use serde::Serialize;
use tokio::sync::watch;

use crate::config::WebConfig;
use crate::filters::Filters;
use crate::pages::error_page;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// Counters of the dashboard.
#[derive(Debug, Default)]
pub struct WebStats {
    pub pages: AtomicU64,
    pub exports: AtomicU64,
    pub live_streams: AtomicU64,
    pub live_pushes: AtomicU64,
    pub read_errors: AtomicU64,
    pub unauthorized: AtomicU64,
}

/// [`WebStats`] as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct WebCounts {
    pub pages: u64,
    pub exports: u64,
    pub live_streams: u64,
    pub live_pushes: u64,
    pub read_errors: u64,
    pub unauthorized: u64,
}

impl WebStats {
    #[must_use]
    pub fn snapshot(&self) -> WebCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WebCounts {
            pages: g(&self.pages),
            exports: g(&self.exports),
            live_streams: g(&self.live_streams),
            live_pushes: g(&self.live_pushes),
            read_errors: g(&self.read_errors),
            unauthorized: g(&self.unauthorized),
        }
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub reader: Arc<dyn LedgerReader>,
    pub cfg: WebConfig,
    pub token: Option<String>,
    pub clock: Arc<dyn Clock>,
    pub stats: Arc<WebStats>,
    /// The ledger's latest change mark, published by the poller.
    pub changes: watch::Receiver<i64>,
    /// The alert sinks running beside the dashboard, shown on the sources page.
    pub alerts: Option<Arc<crate::alerts::AlertBoard>>,
    /// Where "mark reviewed" sends its `asset.reviewed` event; `None`: the button answers 501.
    pub writer: Option<Arc<dyn crate::review::EventWriter>>,
    /// Where the sources page looks up lease holders; `None`: no leases (embedded modes).
    pub leases: Option<Arc<dyn crate::leases::LeaseHolders>>,
    /// The identity the dashboard's own events carry.
    pub run: nl_domain::RunIdentity,
    /// The paper side (the `/v1` API's reader), for the learning-book page; `None`: not connected.
    pub paper: Option<Arc<dyn nl_domain::paper_read::PaperReader>>,
}

type St = State<Arc<AppState>>;

/// A failed request: a status and a message shown on an (escaped) error page.
pub(crate) struct Failure(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let title = if self.0 == StatusCode::NOT_FOUND { "Not found" } else { "Error" };
        (self.0, Html(error_page(title, &self.1).into_string())).into_response()
    }
}

impl AppState {
    pub(crate) fn read_failed(&self, e: &ReadError) -> Failure {
        self.stats.read_errors.fetch_add(1, Ordering::Relaxed);
        match e {
            ReadError::Unavailable(m) => Failure(StatusCode::SERVICE_UNAVAILABLE, format!("ledger unavailable: {m}")),
            ReadError::Corrupt(m) => Failure(StatusCode::INTERNAL_SERVER_ERROR, format!("ledger data is corrupt: {m}")),
        }
    }

    /// The listings `filters` select (candidates only when `candidates`).
    pub(crate) async fn listings(&self, filters: &Filters, candidates: bool) -> Result<Vec<nl_domain::Listing>, Failure> {
        let query = ListingQuery { candidates_only: candidates, ..self.query(filters)? };
        self.reader.listings(&query).await.map_err(|e| self.read_failed(&e))
    }

    fn query(&self, filters: &Filters) -> Result<ListingQuery, Failure> {
        filters.to_query(self.clock.now(), self.cfg.page_rows).map_err(|m| Failure(StatusCode::BAD_REQUEST, format!("bad filter: {m}")))
    }
}

fn page(state: &AppState, m: &Markup) -> Response {
    state.stats.pages.fetch_add(1, Ordering::Relaxed);
    Html(m.clone().into_string()).into_response()
}

async fn listings(State(s): St, Query(f): Query<Filters>, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let rows = s.listings(&f, false).await?;
    Ok(page(&s, &crate::pages::listings_page(&rows, &f, raw.as_deref().unwrap_or(""))))
}

async fn candidates(State(s): St, Query(f): Query<Filters>, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let rows = s.listings(&f, true).await?;
    Ok(page(&s, &crate::pages::candidates_page(&rows, &f, raw.as_deref().unwrap_or(""))))
}

async fn export(s: &AppState, f: &Filters, candidates: bool, name: &str) -> Result<Response, Failure> {
    let rows = s.listings(f, candidates).await?;
    s.stats.exports.fetch_add(1, Ordering::Relaxed);
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")))],
        crate::csv::listings_csv(&rows),
    )
        .into_response())
}

async fn listings_csv(State(s): St, Query(f): Query<Filters>) -> Result<Response, Failure> {
    export(&s, &f, false, "listings").await
}

async fn candidates_csv(State(s): St, Query(f): Query<Filters>) -> Result<Response, Failure> {
    export(&s, &f, true, "candidates").await
}

async fn asset(State(s): St, Path(id): Path<String>) -> Result<Response, Failure> {
    let asset = AssetId::parse(&id).map_err(|e| Failure(StatusCode::BAD_REQUEST, format!("asset id {id:?}: {e}")))?;
    match s.reader.asset_detail(&asset).await.map_err(|e| s.read_failed(&e))? {
        Some(d) => Ok(page(&s, &crate::detail::asset_page(&d))),
        None => Err(Failure(StatusCode::NOT_FOUND, format!("no asset {id}"))),
    }
}

async fn sources(State(s): St) -> Result<Response, Failure> {
    let sources = s.reader.sources().await.map_err(|e| s.read_failed(&e))?;
    let runs = s.reader.runs(s.cfg.runs_shown).await.map_err(|e| s.read_failed(&e))?;
    let now = s.clock.now();
    let alerts = s.alerts.as_ref().map(|b| crate::alerts::board_section(now, b)).unwrap_or_default();
    let holders = match &s.leases {
        Some(l) => crate::leases::holders_of(l.as_ref(), sources.iter().map(|h| h.source.as_str())).await,
        None => std::collections::BTreeMap::new(),
    };
    Ok(page(&s, &crate::pages::sources_page(now, &sources, &holders, &runs, &alerts)))
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], STYLE)
}

async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=300")], SCRIPT)
}

async fn healthz() -> &'static str {
    "ok"
}


/// Whether `headers` carry the token: `Authorization: Bearer <token>`, or Basic auth whose password is it
/// (what a browser prompts for).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return constant_time_eq(bearer.trim().as_bytes(), token.as_bytes());
    }
    use base64::Engine as _;
    value.strip_prefix("Basic ").and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()).is_some_and(|pair| {
        pair.iter().position(|c| *c == b':').is_some_and(|i| constant_time_eq(&pair[i + 1..], token.as_bytes()))
    })
}

async fn auth(State(s): St, req: Request, next: Next) -> Response {
    match &s.token {
        Some(token) if !authorized(req.headers(), token) => {
            s.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"nl\", charset=\"UTF-8\"")], "a token is required (Bearer, or Basic with the token as password)\n").into_response()
        }
        _ => next.run(req).await,
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    // Only this origin's script and style; the SVG charts are inline markup.
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(listings))
        .route("/export.csv", get(listings_csv))
        .route("/candidates", get(candidates))
        .route("/candidates/export.csv", get(candidates_csv))
        .route("/asset/{id}", get(asset))
        .route("/asset/{id}/review", post(crate::review::review))
        .route("/sources", get(sources))
        .route("/learning", get(crate::learning::overview))
        .route("/learning/{id}", get(crate::learning::experiment))
        .route("/learning/report.csv", get(crate::learning::report_csv))
        .route("/learning/fills.csv", get(crate::learning::fills_csv))
        .route("/live", get(crate::live::live))
        .route("/static/style.css", get(style))
        .route("/static/app.js", get(script))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}
