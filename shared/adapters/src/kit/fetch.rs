//! What a fetch returns: [`Fetched`] (any HTTP status, body verbatim) and the classified [`FetchError`].
//!
//! Error variants that had a response keep it, so callers can still write error bodies to
//! `raw_events` ([`FetchError::response`]); nothing the venue said is lost.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::kit::headers::{self, Usage};

/// Longest body excerpt carried in error messages.
pub const BODY_EXCERPT_CHARS: usize = crate::kit::quote::QUOTE_CHARS;

/// One HTTP response as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// HTTP status code.
    pub status: u16,
    /// Body, verbatim (lossy UTF-8). Empty on 304. Never parsed here: a truncated payload fails in
    /// the caller's parser, where the parse error is recorded next to the raw bytes.
    pub body: String,
    /// Kept response headers (validators, dates, rate-limit families), lower-case names.
    pub headers: Vec<(String, String)>,
    /// Receive time.
    pub observed_at: DateTime<Utc>,
    /// Request URL with credentials redacted; safe to log and store.
    pub url: String,
    /// `ETag` of the representation (the remembered one on 304).
    pub etag: Option<String>,
    /// `Last-Modified` of the representation (the remembered one on 304).
    pub last_modified: Option<String>,
    /// The server answered 304 to our conditional request: nothing changed, skip parsing.
    pub not_modified: bool,
    /// The venue's usage header reading, if any.
    pub usage: Option<Usage>,
    /// Attempts it took (1 = no retry).
    pub attempts: u32,
    /// The body's exact bytes when they are not valid UTF-8 (`body` is then only a lossy rendering, for
    /// excerpts); `None` when `body` is the body.
    pub invalid_utf8: Option<bytes::Bytes>,
    /// The failed attempts the client retried before this response (5xx, timeouts, connect and transport
    /// errors), oldest first: each is kept in `raw_events` with its error ([`FailedAttempt::to_raw_event`]).
    pub retried: Vec<FailedAttempt>,
}

/// One failed attempt the HTTP client retried: the response (a 5xx) or, when none came (timeout, connect
/// or transport error), only when and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedAttempt {
    /// The response, when there was one.
    pub response: Option<Box<Fetched>>,
    /// When the attempt failed (the response's receive time when there was one).
    pub observed_at: DateTime<Utc>,
    /// Request URL with credentials redacted.
    pub url: String,
    /// Why it failed, and that it was retried.
    pub error: String,
}

impl FailedAttempt {
    /// The attempt's capture for `raw_events` at `endpoint` (the redacted URL, plus any label the caller
    /// adds): its response verbatim, or an empty capture without a status, either way with its error.
    #[must_use]
    pub fn to_raw_event_at(&self, source: &str, endpoint: &str, run_id: &str) -> nl_domain::RawEvent {
        let mut raw = match &self.response {
            Some(r) => match &r.invalid_utf8 {
                Some(bytes) => nl_domain::RawEvent::from_bytes(source, endpoint, Some(r.status), r.observed_at, bytes, run_id),
                None => nl_domain::RawEvent::new(source, endpoint, Some(r.status), r.observed_at, r.body.clone(), run_id),
            },
            None => crate::kit::recorded::failure_capture(source, endpoint, self.observed_at, &self.error, run_id),
        };
        raw.parse_error = Some(self.error.clone());
        raw
    }

    /// [`to_raw_event_at`](Self::to_raw_event_at) the attempt's own URL.
    #[must_use]
    pub fn to_raw_event(&self, source: &str, run_id: &str) -> nl_domain::RawEvent {
        self.to_raw_event_at(source, &self.url, run_id)
    }
}

impl Fetched {
    /// The first kept header named `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Bytes of the body as received (its exact bytes when not UTF-8).
    #[must_use]
    pub fn kept_len(&self) -> usize {
        self.invalid_utf8.as_ref().map_or(self.body.len(), bytes::Bytes::len)
    }

    /// Whether the status is 2xx.
    #[must_use]
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first [`BODY_EXCERPT_CHARS`] characters of the body, control characters escaped.
    #[must_use]
    pub fn body_excerpt(&self) -> String {
        crate::kit::quote::quote(&self.body)
    }

    /// The raw capture of this response for `raw_events`, with the redacted URL as endpoint.
    #[must_use]
    pub fn to_raw_event(&self, source: &str, run_id: &str) -> nl_domain::RawEvent {
        match &self.invalid_utf8 {
            Some(bytes) => nl_domain::RawEvent::from_bytes(source, &self.url, Some(self.status), self.observed_at, bytes, run_id),
            None => nl_domain::RawEvent::new(source, &self.url, Some(self.status), self.observed_at, self.body.clone(), run_id),
        }
    }
}

/// A failed fetch, classified for retry decisions.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 429 or 418 (ban). The provider budget is already penalised until `retry_after` passes.
    #[error("rate limited (HTTP {status}), retry after {retry_after:?}")]
    RateLimited {
        /// 429 or 418.
        status: u16,
        /// From `Retry-After`, or the configured default.
        retry_after: Duration,
        /// The response, for raw capture.
        response: Box<Fetched>,
    },
    /// 5xx still failing after all attempts.
    #[error("upstream HTTP {status} after {attempts} attempt(s)")]
    Upstream {
        /// Last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The last response, for raw capture.
        response: Box<Fetched>,
    },
    /// Any other non-success status (4xx, unexpected 1xx/3xx); not retried.
    #[error("HTTP {status}: {body_excerpt}")]
    Status {
        /// The status.
        status: u16,
        /// Start of the body.
        body_excerpt: String,
        /// The response, for raw capture.
        response: Box<Fetched>,
    },
    /// The body was longer than `max_body_bytes`: `response` holds its first
    /// [`OVERSIZE_PREFIX_BYTES`](crate::kit::http::OVERSIZE_PREFIX_BYTES) bytes (or `limit`, if smaller);
    /// `size` and `sha256` describe the whole body. Not retried (the same body would come back).
    #[error("response body of {size} bytes exceeds max_body_bytes = {limit} (sha256 {sha256}); its first {} bytes are kept", response.kept_len())]
    TooLarge {
        /// Bytes the server sent.
        size: u64,
        /// The configured cap.
        limit: u64,
        /// SHA-256 (hex) of the whole body.
        sha256: String,
        /// The response with the capped body, for raw capture.
        response: Box<Fetched>,
    },
    /// A 2xx body that is not valid UTF-8: not parsed. `response` keeps its exact bytes
    /// ([`Fetched::invalid_utf8`]), stored base64-encoded with this error. Not retried.
    #[error("response body of {size} bytes is not valid UTF-8 (first invalid byte at offset {valid_up_to}); kept byte-exact, base64-encoded")]
    NotUtf8 {
        /// Bytes of the body.
        size: usize,
        /// Length of its valid UTF-8 prefix.
        valid_up_to: usize,
        /// The response, for raw capture.
        response: Box<Fetched>,
    },
    /// No complete response within the per-request timeout, on the last attempt.
    #[error("timed out after {attempts} attempt(s)")]
    Timeout {
        /// Attempts made.
        attempts: u32,
        /// The earlier attempts, retried (see [`Fetched::retried`]).
        retried: Vec<FailedAttempt>,
    },
    /// Could not connect, on the last attempt.
    #[error("connect failed after {attempts} attempt(s): {message}")]
    Connect {
        /// Attempts made.
        attempts: u32,
        /// Cause, without URL.
        message: String,
        /// The earlier attempts, retried (see [`Fetched::retried`]).
        retried: Vec<FailedAttempt>,
    },
    /// Other transport failures (reset mid-body, protocol errors), on the last attempt.
    #[error("transport error after {attempts} attempt(s): {message}")]
    Transport {
        /// Attempts made.
        attempts: u32,
        /// Cause, without URL.
        message: String,
        /// The earlier attempts, retried (see [`Fetched::retried`]).
        retried: Vec<FailedAttempt>,
    },
    /// The request could not be built (bad path, unserialisable body).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl FetchError {
    /// Whether trying again later can succeed (NAK with delay rather than poison).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Upstream { .. } | Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::Status { status, .. } => matches!(status, 408 | 425),
            Self::InvalidRequest(_) | Self::TooLarge { .. } | Self::NotUtf8 { .. } => false,
        }
    }

    /// How long to wait before retrying, when the server said so.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::Upstream { response, .. } => {
                response.header("retry-after").and_then(|v| headers::parse_retry_after_value(v, response.observed_at))
            }
            _ => None,
        }
    }

    /// The HTTP response behind the error, if there was one (write it to `raw_events`).
    #[must_use]
    pub fn response(&self) -> Option<&Fetched> {
        match self {
            Self::RateLimited { response, .. }
            | Self::Upstream { response, .. }
            | Self::Status { response, .. }
            | Self::TooLarge { response, .. }
            | Self::NotUtf8 { response, .. } => {
                Some(response)
            }
            _ => None,
        }
    }

    /// The failed attempts retried before the last one, oldest first (keep each in `raw_events`).
    #[must_use]
    pub fn retried(&self) -> &[FailedAttempt] {
        match self {
            Self::Timeout { retried, .. } | Self::Connect { retried, .. } | Self::Transport { retried, .. } => retried,
            Self::InvalidRequest(_) => &[],
            _ => self.response().map_or(&[], |r| r.retried.as_slice()),
        }
    }

    /// A short label for metrics (`errors_total{kind}`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Upstream { .. } => "upstream",
            Self::Status { .. } => "status",
            Self::Timeout { .. } => "timeout",
            Self::Connect { .. } => "connect",
            Self::Transport { .. } => "transport",
            Self::InvalidRequest(_) => "invalid_request",
            Self::TooLarge { .. } => "too_large",
            Self::NotUtf8 { .. } => "not_utf8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(status: u16, headers: Vec<(String, String)>) -> Fetched {
        Fetched {
            status,
            body: "x".repeat(2000),
            headers,
            observed_at: Utc::now(),
            url: "https://h/p?apikey=REDACTED".into(),
            etag: None,
            last_modified: None,
            not_modified: false,
            usage: None,
            attempts: 1,
            invalid_utf8: None,
            retried: Vec::new(),
        }
    }

    #[test]
    fn classification() {
        let rl = FetchError::RateLimited { status: 429, retry_after: Duration::from_secs(2), response: Box::new(fetched(429, vec![])) };
        assert!(rl.is_retryable());
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(rl.response().map(|r| r.status), Some(429));
        let up = FetchError::Upstream { status: 503, attempts: 3, response: Box::new(fetched(503, vec![("retry-after".into(), "7".into())])) };
        assert!(up.is_retryable());
        assert_eq!(up.retry_after(), Some(Duration::from_secs(7)));
        let st = FetchError::Status { status: 404, body_excerpt: String::new(), response: Box::new(fetched(404, vec![])) };
        assert!(!st.is_retryable());
        assert_eq!(st.retry_after(), None);
        assert!(FetchError::Timeout { attempts: 3, retried: Vec::new() }.is_retryable());
        assert!(!FetchError::InvalidRequest("x".into()).is_retryable());
        assert_eq!(FetchError::Timeout { attempts: 1, retried: Vec::new() }.kind(), "timeout");
    }

    #[test]
    fn raw_event_uses_redacted_url_and_verbatim_body() {
        let f = fetched(500, vec![]);
        let raw = f.to_raw_event("binance_spot", "run-1");
        assert_eq!(raw.endpoint, "https://h/p?apikey=REDACTED");
        assert_eq!(raw.http_status, Some(500));
        assert_eq!(raw.payload.len(), 2000);
        assert_eq!(f.body_excerpt().len(), BODY_EXCERPT_CHARS);
    }
}
