//! [`HttpSource`]: the one budgeted HTTP client every polling source uses.
//!
//! Per call: acquire the provider [`Budget`] → send (with conditional validators and secrets) →
//! classify. 429/418 penalise the shared budget and return at once (the *next* call waits, so
//! there is no retry storm); 5xx, timeouts and connect errors retry with jittered exponential
//! backoff; other statuses return as [`FetchError::Status`]. Venue usage headers on any response
//! feed [`Budget::observe_usage`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::kit::backoff::Backoff;
use crate::kit::budget::Budget;
use crate::kit::fetch::{FailedAttempt, FetchError, Fetched};
use crate::kit::headers;
use crate::kit::secrets::{self, ResolvedSecret, SecretLocation, SecretParam};
use crate::kit::stats::SourceStats;

/// User-Agent sent on every request.
pub const USER_AGENT: &str = concat!("nl/", env!("CARGO_PKG_VERSION"));
/// Remembered validators are dropped wholesale beyond this many URLs (bounded memory).
const MAX_VALIDATORS: usize = 1024;

static CRYPTO: Once = Once::new();

/// Installs rustls' `ring` provider as the process default once; "already installed" is fine.
pub fn install_crypto_provider() {
    CRYPTO.call_once(|| {
        // Err means another provider is already the default, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn d_timeout_ms() -> u64 {
    10_000
}
fn d_max_attempts() -> u32 {
    3
}
fn d_backoff_base_ms() -> u64 {
    500
}
fn d_backoff_cap_ms() -> u64 {
    30_000
}
fn d_retry_after_secs() -> u64 {
    60
}
fn d_ban_secs() -> u64 {
    600
}
fn d_weight_limit() -> u64 {
    headers::BINANCE_DEFAULT_WEIGHT_LIMIT
}
fn d_max_body_bytes() -> u64 {
    DEFAULT_MAX_BODY_BYTES
}

/// Default cap on a response body: Binance's full `exchangeInfo`, the largest list nl reads, is in the
/// low tens of MB; this leaves about twice that as headroom. Also the default of the EVM RPC sources,
/// whose `eth_getLogs` answers over `max_block_span` blocks are the largest DEX payloads.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Default cap of the sources whose answers are one page or one token (GeckoTerminal pages of 20 pools,
/// DexScreener lists and `/tokens/v1` lookups of at most 30 tokens, a Solana transaction or signature
/// page, one token's risk report, one CEX ticker): such answers are KB to hundreds of KB, so 8 MiB is
/// over ten times the largest with room to spare, and a hostile body costs a quarter of the list cap.
pub const PAGE_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// How much of a body over `max_body_bytes` is kept for `raw_events`: enough to show what the venue sent
/// (a prefix does not parse anyway), so a venue that keeps sending huge bodies adds this much per poll to
/// the DB and to every copy on the way there, not the whole cap.
pub const OVERSIZE_PREFIX_BYTES: usize = 64 * 1024;

/// Checks a configured `max_body_bytes` (at least 1: a cap of 0 would refuse every response).
///
/// # Errors
/// A one-line reason naming the key.
pub fn check_max_body_bytes(value: u64) -> Result<u64, String> {
    if value == 0 { Err("`max_body_bytes` must be at least 1 (every response would be refused)".into()) } else { Ok(value) }
}

/// HTTP client settings of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Scheme, host and optional path prefix; tests point it at a mock server. `{name}`
    /// placeholders are filled from [`SecretLocation::Path`] secrets.
    pub base_url: String,
    /// Per-attempt timeout, whole request including body (default 10 000).
    #[serde(default = "d_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts for 5xx/timeouts/connect errors, including the first (default 3).
    #[serde(default = "d_max_attempts")]
    pub max_attempts: u32,
    /// Backoff base (default 500).
    #[serde(default = "d_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Backoff cap (default 30 000).
    #[serde(default = "d_backoff_cap_ms")]
    pub backoff_cap_ms: u64,
    /// Penalty for a 429 without `Retry-After` (default 60).
    #[serde(default = "d_retry_after_secs")]
    pub default_retry_after_secs: u64,
    /// Penalty for a 418 (IP ban) without `Retry-After` (default 600).
    #[serde(default = "d_ban_secs")]
    pub ban_retry_after_secs: u64,
    /// Limit paired with `X-MBX-USED-WEIGHT-1M` (default 6000).
    #[serde(default = "d_weight_limit")]
    pub used_weight_limit: u64,
    /// Largest response body read (default [`DEFAULT_MAX_BODY_BYTES`]). A longer body is read to its end
    /// for its size and SHA-256 but only its first [`OVERSIZE_PREFIX_BYTES`] (or this cap, if smaller) are
    /// kept: [`FetchError::TooLarge`].
    #[serde(default = "d_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Extra non-secret headers, e.g. `Accept-Language`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Secret headers, query parameters or path parts, valued from env vars.
    #[serde(default)]
    pub secrets: Vec<SecretParam>,
}

impl HttpConfig {
    /// A config with defaults for everything but the base URL.
    #[must_use]
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout_ms: d_timeout_ms(),
            max_attempts: d_max_attempts(),
            backoff_base_ms: d_backoff_base_ms(),
            backoff_cap_ms: d_backoff_cap_ms(),
            default_retry_after_secs: d_retry_after_secs(),
            ban_retry_after_secs: d_ban_secs(),
            used_weight_limit: d_weight_limit(),
            max_body_bytes: d_max_body_bytes(),
            headers: BTreeMap::new(),
            secrets: Vec::new(),
        }
    }
}

/// Errors building an [`HttpSource`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A configured secret's env var is unset or empty (the value is never shown).
    #[error("secret `{name}`: env var `{env}` is unset or empty")]
    MissingSecret {
        /// Secret parameter name.
        name: String,
        /// Env var name.
        env: String,
    },
    /// `base_url` is not an absolute http(s) URL.
    #[error("invalid base_url: {0}")]
    BaseUrl(String),
    /// A configured header name or value is invalid.
    #[error("invalid header `{0}`")]
    Header(String),
    /// reqwest could not build the client.
    #[error("http client: {0}")]
    Client(String),
}

#[derive(Debug, Clone, Default)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Budgeted, retrying HTTP client of one source. Cheap to share behind an `Arc`.
pub struct HttpSource {
    name: String,
    client: reqwest::Client,
    base_url: String,
    cfg: HttpConfig,
    fixed_headers: HeaderMap,
    secrets: Vec<ResolvedSecret>,
    budget: Arc<Budget>,
    validators: Mutex<HashMap<String, Validators>>,
    stats: Arc<SourceStats>,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource").field("name", &self.name).field("base_url", &self.cfg.base_url).field("secrets", &self.secrets).finish_non_exhaustive()
    }
}

impl HttpSource {
    /// Builds the client, reading secret values from the process environment.
    ///
    /// # Errors
    /// [`BuildError`] for a missing secret env var, a bad base URL or header, or a TLS/client failure.
    pub fn new(name: impl Into<String>, cfg: HttpConfig, budget: Arc<Budget>) -> Result<Self, BuildError> {
        Self::with_env(name, cfg, budget, &|k| std::env::var(k).ok())
    }

    /// Like [`new`](Self::new) with an explicit env lookup (tests, secret stores).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_env(
        name: impl Into<String>,
        cfg: HttpConfig,
        budget: Arc<Budget>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, BuildError> {
        install_crypto_provider();
        let mut resolved = Vec::with_capacity(cfg.secrets.len());
        for p in &cfg.secrets {
            let s = ResolvedSecret::resolve(p, lookup).ok_or_else(|| BuildError::MissingSecret { name: p.name.clone(), env: p.value_env.clone() })?;
            resolved.push(s);
        }
        let mut base_url = cfg.base_url.trim_end_matches('/').to_owned();
        for s in resolved.iter().filter(|s| s.location == SecretLocation::Path) {
            base_url = base_url.replace(&format!("{{{}}}", s.name), &s.value);
        }
        match Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(BuildError::BaseUrl(shown_base_url(&cfg.base_url))),
        }
        let mut fixed_headers = HeaderMap::new();
        let pairs = cfg.headers.iter().map(|(k, v)| (k.as_str(), v.as_str(), false));
        let secret_pairs = resolved.iter().filter(|s| s.location == SecretLocation::Header).map(|s| (s.name.as_str(), s.value.as_str(), true));
        for (k, v, sensitive) in pairs.chain(secret_pairs) {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| BuildError::Header(k.to_owned()))?;
            let mut value = HeaderValue::from_str(v).map_err(|_| BuildError::Header(k.to_owned()))?;
            value.set_sensitive(sensitive);
            fixed_headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_millis(cfg.timeout_ms))
            .build()
            .map_err(|e| BuildError::Client(e.without_url().to_string()))?;
        Ok(Self {
            name: name.into(),
            client,
            base_url,
            cfg,
            fixed_headers,
            secrets: resolved,
            budget,
            validators: Mutex::new(HashMap::new()),
            stats: Arc::new(SourceStats::default()),
        })
    }

    /// Source name (for logs and metrics).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shared provider budget.
    #[must_use]
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Counters for the metrics layer.
    #[must_use]
    pub fn stats(&self) -> Arc<SourceStats> {
        Arc::clone(&self.stats)
    }

    /// Conditional GET of `base_url + path_and_query`, charging `weight` to the budget per attempt.
    ///
    /// # Errors
    /// [`FetchError`]: `RateLimited` (budget penalised), `Upstream`/`Timeout`/`Connect`/`Transport`
    /// after retries, `Status` for other non-success statuses, `InvalidRequest` for a bad path.
    pub async fn get(&self, path_and_query: &str, weight: u32) -> Result<Fetched, FetchError> {
        let url = self.url(path_and_query)?;
        self.execute(Method::GET, url, None, weight).await
    }

    /// POST a JSON body (e.g. an EVM JSON-RPC call) with the same budget, backoff and classification.
    /// Never conditional. JSON-RPC errors arrive as 200 with an `error` member: the caller parses them.
    ///
    /// # Errors
    /// As [`get`](Self::get); `InvalidRequest` if `body` does not serialise.
    pub async fn post_json<B: Serialize + ?Sized>(&self, path: &str, body: &B, weight: u32) -> Result<Fetched, FetchError> {
        let url = self.url(path)?;
        let bytes = serde_json::to_vec(body).map_err(|e| FetchError::InvalidRequest(format!("json body: {e}")))?;
        self.execute(Method::POST, url, Some(bytes), weight).await
    }

    /// The redacted URL of `path_and_query` on this source: what a capture of it records as its endpoint.
    #[must_use]
    pub fn shown_url(&self, path_and_query: &str) -> String {
        self.url(path_and_query).map_or_else(|_| format!("{}{path_and_query}", shown_base_url(&self.cfg.base_url)), |u| secrets::redact_url(&u, &self.secrets))
    }

    fn url(&self, path_and_query: &str) -> Result<Url, FetchError> {
        let path = path_and_query.trim_start_matches('/');
        let joined = if path.is_empty() { self.base_url.clone() } else { format!("{}/{path}", self.base_url) };
        let mut url = Url::parse(&joined).map_err(|e| FetchError::InvalidRequest(format!("url: {e}")))?;
        let query: Vec<_> = self.secrets.iter().filter(|s| s.location == SecretLocation::Query).collect();
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for s in query {
                pairs.append_pair(&s.name, &s.value);
            }
        }
        Ok(url)
    }

    fn validators(&self, key: &str) -> Validators {
        self.validators.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned().unwrap_or_default()
    }

    fn remember(&self, key: &str, v: Validators) {
        let mut map = self.validators.lock().unwrap_or_else(PoisonError::into_inner);
        if v.etag.is_none() && v.last_modified.is_none() {
            map.remove(key);
            return;
        }
        if map.len() >= MAX_VALIDATORS && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), v);
    }

    async fn execute(&self, method: Method, url: Url, body: Option<Vec<u8>>, weight: u32) -> Result<Fetched, FetchError> {
        let redacted = secrets::redact_url(&url, &self.secrets);
        let key = url.as_str().to_owned();
        let conditional = method == Method::GET;
        let backoff = Backoff::new(Duration::from_millis(self.cfg.backoff_base_ms), Duration::from_millis(self.cfg.backoff_cap_ms));
        let max_attempts = self.cfg.max_attempts.max(1);
        let mut attempt = 0u32;
        // Every failed attempt that is retried goes back with the outcome, to be kept in raw_events.
        let mut retried: Vec<FailedAttempt> = Vec::new();
        loop {
            attempt += 1;
            self.budget.acquire(weight).await;
            self.stats.request();
            let known = if conditional { self.validators(&key) } else { Validators::default() };
            let result = self.send_once(&method, &url, body.as_deref(), &known).await;
            let (status, hdrs, (bytes, oversize)) = match result {
                Ok(ok) => {
                    crate::kit::reach::answered();
                    ok
                }
                Err(e) => {
                    let connect_failed = e.is_connect();
                    let mut err = transport_error(e, attempt);
                    if connect_failed {
                        // Resolve, refuse or connect timeout: no server was reached.
                        let why = if let FetchError::Connect { message, .. } = &err { message.as_str() } else { "connect timed out" };
                        crate::kit::reach::unreachable(why);
                    }
                    if attempt < max_attempts {
                        let delay = backoff.delay(attempt - 1);
                        self.stats.retry();
                        warn!(source = %self.name, url = %redacted, error = %err, attempt, ?delay, "Request failed; backing off.");
                        let error = format!("{err} (attempt {attempt} of {max_attempts}; retried)");
                        retried.push(FailedAttempt { response: None, observed_at: Utc::now().trunc_subsecs(3), url: redacted.clone(), error });
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    self.stats.error();
                    warn!(source = %self.name, url = %redacted, error = %err, "Request failed; giving up.");
                    if let FetchError::Timeout { retried: r, .. } | FetchError::Connect { retried: r, .. } | FetchError::Transport { retried: r, .. } = &mut err {
                        *r = retried;
                    }
                    return Err(err);
                }
            };
            // Milliseconds, as raw_events stores it: a capture read back is the same capture (same raw id).
            let observed_at = Utc::now().trunc_subsecs(3);
            let usage = headers::parse_usage(&hdrs, observed_at, self.cfg.used_weight_limit);
            if let Some(u) = &usage
                && self.budget.observe_usage(u, observed_at)
            {
                debug!(source = %self.name, used = u.used, limit = u.limit, "Venue usage high; throttling.");
            }
            let not_modified = status == StatusCode::NOT_MODIFIED && conditional;
            let mut fetched = fetched(status, &hdrs, bytes, observed_at, &redacted, not_modified.then_some(&known), usage, attempt);
            if status.is_server_error() && oversize.is_none() && attempt < max_attempts {
                let hinted = headers::parse_retry_after(&hdrs, observed_at).map(|d| d.min(backoff.cap));
                let delay = backoff.delay(attempt - 1).max(hinted.unwrap_or(Duration::ZERO));
                let code = status.as_u16();
                self.stats.retry();
                warn!(source = %self.name, url = %redacted, status = code, attempt, ?delay, "Server error; backing off.");
                let error = format!("upstream HTTP {code} (attempt {attempt} of {max_attempts}; retried)");
                retried.push(FailedAttempt { response: Some(Box::new(fetched)), observed_at, url: redacted.clone(), error });
                tokio::time::sleep(delay).await;
                continue;
            }
            fetched.retried = std::mem::take(&mut retried);
            if let Some((size, sha256)) = oversize {
                self.stats.error();
                warn!(source = %self.name, url = %redacted, size, limit = self.cfg.max_body_bytes, "Response body over max_body_bytes; keeping its prefix.");
                return Err(FetchError::TooLarge { size, limit: self.cfg.max_body_bytes, sha256, response: Box::new(fetched) });
            }
            if status.is_success()
                && let Some(raw) = &fetched.invalid_utf8
            {
                let valid_up_to = std::str::from_utf8(raw).err().map_or(0, |e| e.valid_up_to());
                self.stats.error();
                warn!(source = %self.name, url = %redacted, size = raw.len(), valid_up_to, "Response body is not valid UTF-8; kept byte-exact.");
                return Err(FetchError::NotUtf8 { size: raw.len(), valid_up_to, response: Box::new(fetched) });
            }
            if fetched.not_modified || status.is_success() {
                if conditional && status.is_success() {
                    self.remember(&key, Validators { etag: fetched.etag.clone(), last_modified: fetched.last_modified.clone() });
                }
                self.stats.success(observed_at, fetched.not_modified);
                return Ok(fetched);
            }
            let code = status.as_u16();
            if code == 429 || code == 418 {
                let default = if code == 418 { self.cfg.ban_retry_after_secs } else { self.cfg.default_retry_after_secs };
                let asked = headers::parse_retry_after(&hdrs, observed_at).unwrap_or(Duration::from_secs(default));
                // The budget caps a venue's delay at `max_pause_secs` (and keeps a longer pause it holds):
                // its real pause is what is reported, as the remembered ban and the next cycle see it.
                let retry_after = self.budget.penalize_for(asked);
                self.stats.rate_limited();
                warn!(source = %self.name, url = %redacted, status = code, ?asked, ?retry_after, "Rate limited; provider budget paused.");
                return Err(FetchError::RateLimited { status: code, retry_after, response: Box::new(fetched) });
            }
            if status.is_server_error() {
                self.stats.error();
                return Err(FetchError::Upstream { status: code, attempts: attempt, response: Box::new(fetched) });
            }
            self.stats.error();
            return Err(FetchError::Status { status: code, body_excerpt: fetched.body_excerpt(), response: Box::new(fetched) });
        }
    }

    /// One HTTP exchange, body included (the per-request timeout covers both). The body is kept up to
    /// `max_body_bytes`; past that it is read on for its total size and SHA-256 (returned), and only its
    /// first [`OVERSIZE_PREFIX_BYTES`] are kept. A `Content-Length` over the cap keeps no more than that
    /// prefix from the start.
    async fn send_once(&self, method: &Method, url: &Url, body: Option<&[u8]>, known: &Validators) -> Result<(StatusCode, HeaderMap, CappedBody), reqwest::Error> {
        let mut req = self.client.request(method.clone(), url.clone()).timeout(Duration::from_millis(self.cfg.timeout_ms)).headers(self.fixed_headers.clone());
        if let Some(etag) = &known.etag {
            req = req.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &known.last_modified {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        if let Some(b) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_vec());
        }
        let mut resp = req.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let cap = usize::try_from(self.cfg.max_body_bytes).unwrap_or(usize::MAX);
        let hint = resp.content_length().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        let prefix = cap.min(OVERSIZE_PREFIX_BYTES);
        // A body announced over the cap is hashed from its first byte and only its prefix is kept.
        let announced_over = hint > cap;
        let mut kept = Vec::with_capacity(if announced_over { prefix } else { hint.min(cap) });
        let mut total: u64 = 0;
        let mut over: Option<sha2::Sha256> = announced_over.then(<sha2::Sha256 as sha2::Digest>::new);
        while let Some(chunk) = resp.chunk().await? {
            total += chunk.len() as u64;
            if let Some(h) = &mut over {
                sha2::Digest::update(h, &chunk);
                let room = prefix.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                continue;
            }
            let room = cap - kept.len();
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                let mut h = <sha2::Sha256 as sha2::Digest>::new();
                sha2::Digest::update(&mut h, &kept);
                sha2::Digest::update(&mut h, &chunk[room..]);
                over = Some(h);
                kept.truncate(prefix);
                kept.shrink_to_fit();
            }
        }
        let oversize = over.map(|h| (total, hex::encode(sha2::Digest::finalize(h))));
        Ok((status, headers, (kept, oversize)))
    }
}

/// A response body as read: at most `max_body_bytes` (a longer one: its first [`OVERSIZE_PREFIX_BYTES`]),
/// and `(total size, SHA-256)` when it was longer.
type CappedBody = (Vec<u8>, Option<(u64, String)>);

/// Builds the [`Fetched`] record; on 304 (`remembered` is set) the validators are the known ones.
#[allow(clippy::too_many_arguments)]
fn fetched(
    status: StatusCode,
    hdrs: &HeaderMap,
    bytes: Vec<u8>,
    observed_at: chrono::DateTime<Utc>,
    url: &str,
    remembered: Option<&Validators>,
    usage: Option<crate::kit::headers::Usage>,
    attempts: u32,
) -> Fetched {
    let header_str = |n: &str| hdrs.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (etag, last_modified) = match remembered {
        Some(v) => (v.etag.clone(), v.last_modified.clone()),
        None => (header_str("etag"), header_str("last-modified")),
    };
    // Valid UTF-8 (the usual case) becomes the body without a copy.
    let (body, invalid_utf8) = match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(e) => {
            let raw = e.into_bytes();
            (String::from_utf8_lossy(&raw).into_owned(), Some(bytes::Bytes::from(raw)))
        }
    };
    Fetched {
        status: status.as_u16(),
        body,
        headers: hdrs
            .iter()
            .filter(|(k, _)| headers::is_kept_header(k.as_str()))
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        observed_at,
        url: url.to_owned(),
        etag,
        last_modified,
        not_modified: remembered.is_some(),
        usage,
        attempts,
        invalid_utf8,
        retried: Vec::new(),
    }
}

/// The configured base URL for an error message, unless it may carry a secret.
fn shown_base_url(raw: &str) -> String {
    let safe = !raw.contains('{') && !raw.contains('@') && !raw.contains('?');
    if safe { raw.to_owned() } else { format!("<{}>", secrets::REDACTED) }
}

/// Classifies a reqwest error; the URL (which may carry secrets) is stripped from the message.
fn transport_error(e: reqwest::Error, attempts: u32) -> FetchError {
    let timeout = e.is_timeout();
    let connect = e.is_connect();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if timeout {
        FetchError::Timeout { attempts, retried: Vec::new() }
    } else if connect {
        FetchError::Connect { attempts, message, retried: Vec::new() }
    } else {
        FetchError::Transport { attempts, message, retried: Vec::new() }
    }
}
