//! Answering requests from recorded responses instead of the network: re-derivation from `raw_events`.
//!
//! Every response a stage fetches is captured as a [`RawEvent`] (status, body, receive time, redacted URL,
//! and for a failure without a response the error). [`replay`] turns such a capture back into what the
//! fetch returned then, so the stage's own parser and logic run on it unchanged. [`RecordedResponses`] is
//! the lookup a re-derivation provides in place of a live client; [`RecordedQueues`] is its first in, first
//! out implementation.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::SubsecRound;

use nl_domain::{RawEvent, Ts};

use crate::kit::fetch::{FetchError, Fetched};
use crate::kit::http::HttpSource;

/// Recorded responses, keyed by the capture's `source` and the request's path and query.
pub trait RecordedResponses: Send + Sync {
    /// Takes (consumes) the recorded answer of `source` to `path_and_query`: the earliest capture of that
    /// request not taken yet, so the n-th request gets the n-th answer. `None` when none is left.
    fn take(&self, source: &str, path_and_query: &str) -> Option<RawEvent>;
}

/// Recorded responses by source and request path, each path's captures in receive order: the n-th request
/// of a path gets its n-th capture.
#[derive(Debug, Default)]
pub struct RecordedQueues {
    queues: Mutex<HashMap<(String, String), VecDeque<RawEvent>>>,
}

impl RecordedQueues {
    /// Captures not taken (yet).
    #[must_use]
    pub fn unused(&self) -> usize {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner).values().map(VecDeque::len).sum()
    }

    /// Adds a capture of `source` answering `path`, after the ones already queued for it (captures arrive
    /// in receive order while a re-derivation streams a run).
    pub fn push(&self, source: String, path: String, raw: RawEvent) {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner).entry((source, path)).or_default().push_back(raw);
    }
}

/// From `(source, request path, capture)` in receive order.
impl FromIterator<(String, String, RawEvent)> for RecordedQueues {
    fn from_iter<I: IntoIterator<Item = (String, String, RawEvent)>>(iter: I) -> Self {
        let mut queues: HashMap<(String, String), VecDeque<RawEvent>> = HashMap::new();
        for (source, path, raw) in iter {
            queues.entry((source, path)).or_default().push_back(raw);
        }
        Self { queues: Mutex::new(queues) }
    }
}

impl RecordedResponses for RecordedQueues {
    fn take(&self, source: &str, path_and_query: &str) -> Option<RawEvent> {
        let key = (source.to_string(), path_and_query.to_string());
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.get_mut(&key)?;
        let raw = queue.pop_front();
        // A drained path's key is dropped: a streamed re-derivation keys a new path per asset.
        if queue.is_empty() {
            queues.remove(&key);
        }
        raw
    }
}

/// The request path and query a capture of `endpoint` answered on a source configured with `base_url`: the
/// endpoint's path with the base URL's path prefix removed (`https://h/api/x?y` on `https://h/api/` →
/// `/x?y`), so captures key like the paths clients ask for, whatever host they were recorded from.
#[must_use]
pub fn request_path<'a>(endpoint: &'a str, base_url: &str) -> &'a str {
    let prefix = endpoint_path(base_url).split('?').next().unwrap_or_default().trim_end_matches('/');
    let path = endpoint_path(endpoint);
    path.strip_prefix(prefix).filter(|p| p.starts_with('/')).unwrap_or(path)
}

/// The path and query of a captured endpoint (`https://host/a/b?c=1#m` → `/a/b?c=1#m`); the endpoint itself
/// when it is not a URL (e.g. an RPC method name).
#[must_use]
pub fn endpoint_path(endpoint: &str) -> &str {
    match endpoint.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => endpoint,
    }
}

/// What a live fetch returned when it received `raw`: `Ok` for a 2xx, else the error the live client
/// classifies that status as (429/418 rate limited, 5xx upstream, other statuses), and a capture without a
/// status (a transport failure recorded with its error) as a transport error. Response headers are not
/// captured, so none are restored (a recorded 429 carries no `Retry-After` hint).
///
/// # Errors
/// The [`FetchError`] of a non-success capture, as described.
pub fn replay(raw: &RawEvent) -> Result<Fetched, FetchError> {
    let exact = if raw.payload_encoding.is_some() { raw.payload_bytes() } else { None };
    let fetched = Fetched {
        status: raw.http_status.unwrap_or(0),
        body: exact.as_deref().map_or_else(|| raw.payload.clone(), |b| String::from_utf8_lossy(b).into_owned()),
        headers: Vec::new(),
        observed_at: raw.observed_at,
        url: raw.endpoint.clone(),
        etag: None,
        last_modified: None,
        not_modified: false,
        usage: None,
        attempts: 1,
        invalid_utf8: exact.filter(|b| std::str::from_utf8(b).is_err()).map(bytes::Bytes::from),
        retried: Vec::new(),
    };
    match raw.http_status {
        Some(s) if (200..300).contains(&s) && fetched.invalid_utf8.is_some() => {
            let size = fetched.invalid_utf8.as_ref().map_or(0, bytes::Bytes::len);
            let valid_up_to = fetched.invalid_utf8.as_deref().and_then(|b| std::str::from_utf8(b).err()).map_or(0, |e| e.valid_up_to());
            Err(FetchError::NotUtf8 { size, valid_up_to, response: Box::new(fetched) })
        }
        None => Err(FetchError::Transport { attempts: 1, message: raw.parse_error.clone().unwrap_or_else(|| "no response recorded".into()), retried: Vec::new() }),
        Some(s) if (200..300).contains(&s) => Ok(fetched),
        Some(status @ (429 | 418)) => Err(FetchError::RateLimited { status, retry_after: Duration::ZERO, response: Box::new(fetched) }),
        Some(status) if status >= 500 => Err(FetchError::Upstream { status, attempts: 1, response: Box::new(fetched) }),
        Some(status) => Err(FetchError::Status { status, body_excerpt: fetched.body_excerpt(), response: Box::new(fetched) }),
    }
}

/// The capture of a request that got no response at all (timeout, connect or transport error, or not sent
/// because the budget was paused): no status, an empty payload and why, so a re-derivation sees that this
/// request failed rather than answering it with a later one.
#[must_use]
pub fn failure_capture(source: &str, endpoint: &str, observed_at: nl_domain::Ts, error: &str, run_id: &str) -> RawEvent {
    let mut raw = RawEvent::new(source, endpoint, None, observed_at.trunc_subsecs(3), String::new(), run_id);
    raw.parse_error = Some(error.to_string());
    raw
}

/// What one lookup through [`fetch_captured`] produced.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The response as captured, or the capture of a request that got no response (or was not sent because
    /// the budget was paused); `None` only when a re-derivation had no recorded answer to give.
    pub raw: Option<RawEvent>,
    /// The successful response to parse, or why there is none (also set as the capture's `parse_error`).
    pub response: Result<Fetched, String>,
}

/// One GET of `path` through `src` that always leaves a capture: live, or answered from `recorded` (keyed by
/// `source` and `path`) in a re-derivation. A live response is stamped `received_at` (milliseconds, as
/// raw_events keeps it), so parsing the capture later gives the same result; a recorded one keeps its
/// recorded time. While the budget is paused the request is not sent (waiting out a `Retry-After` would stall
/// the caller) and that is captured too, so a re-derivation skips it the same way.
pub async fn fetch_captured(
    src: &HttpSource,
    recorded: Option<&dyn RecordedResponses>,
    source: &str,
    path: &str,
    weight: u32,
    received_at: Ts,
    run_id: &str,
) -> Captured {
    let shown = src.shown_url(path);
    let at = Capture { src, recorded, source, key: path, shown: &shown, rpc: false, received_at, run_id };
    at.take(src.get(path, weight)).await
}

/// [`fetch_captured`] for a JSON-RPC call: `body` POSTed to the source's URL, captured with the endpoint
/// `<url><label>` (the JSON-RPC sources label a capture by its method, e.g. `#getAccountInfo(<address>)`) and
/// answered by that label in a re-derivation.
pub async fn fetch_captured_rpc(
    src: &HttpSource,
    recorded: Option<&dyn RecordedResponses>,
    source: &str,
    label: &str,
    body: &serde_json::Value,
    received_at: Ts,
    run_id: &str,
) -> Captured {
    let base = src.shown_url("");
    let shown = format!("{base}{label}");
    let key = request_path(&shown, &base).to_string();
    let at = Capture { src, recorded, source, key: &key, shown: &shown, rpc: true, received_at, run_id };
    at.take(src.post_json("", body, 1)).await
}

/// One request of [`fetch_captured`] / [`fetch_captured_rpc`]: where it goes and how it is keyed and shown.
struct Capture<'a> {
    src: &'a HttpSource,
    recorded: Option<&'a dyn RecordedResponses>,
    source: &'a str,
    key: &'a str,
    shown: &'a str,
    /// A JSON-RPC call: its capture's endpoint is `shown` (the URL alone would not tell calls apart).
    rpc: bool,
    received_at: Ts,
    run_id: &'a str,
}

impl Capture<'_> {
    /// Answers from the recording, or sends `live` (not polled in a re-derivation or while paused).
    async fn take(&self, live: impl std::future::Future<Output = Result<Fetched, FetchError>>) -> Captured {
        let failed = |raw: RawEvent| Captured { response: Err(raw.parse_error.clone().unwrap_or_else(|| "no response recorded".into())), raw: Some(raw) };
        let result = match self.recorded {
            Some(rec) => match rec.take(self.source, self.key) {
                // A request that got no response then gets none now, and keeps its capture.
                Some(raw) if raw.http_status.is_none() => return failed(raw),
                Some(raw) => replay(&raw),
                None => return Captured { raw: None, response: Err("no recorded response".into()) },
            },
            None => {
                if let Some(paused) = self.src.budget().status().paused_for {
                    let why = format!("not sent: budget paused for {paused:?}");
                    return failed(failure_capture(self.source, self.shown, self.received_at, &why, self.run_id));
                }
                live.await
            }
        };
        let (mut fetched, failure) = match result {
            Ok(f) if f.not_modified => (f, Some("304 not modified".to_string())),
            Ok(f) => (f, None),
            Err(e) => match e.response() {
                Some(resp) => (resp.clone(), Some(e.to_string())),
                None => return failed(failure_capture(self.source, self.shown, self.received_at, &e.to_string(), self.run_id)),
            },
        };
        if self.recorded.is_none() {
            fetched.observed_at = self.received_at.trunc_subsecs(3);
        }
        let mut raw = fetched.to_raw_event(self.source, self.run_id);
        if self.rpc {
            self.shown.clone_into(&mut raw.endpoint);
        }
        raw.parse_error.clone_from(&failure);
        Captured { raw: Some(raw), response: failure.map_or(Ok(fetched), Err) }
    }
}

impl Captured {
    /// The capture and `parse` of the response; a parse failure is also set as the capture's `parse_error`.
    pub fn parsed<T>(self, parse: impl FnOnce(&Fetched) -> Result<T, String>) -> (Option<RawEvent>, Result<T, String>) {
        let Self { mut raw, response } = self;
        let out = response.and_then(|f| parse(&f));
        if let (Some(r), Err(why)) = (raw.as_mut(), &out)
            && r.parse_error.is_none()
        {
            r.parse_error = Some(why.clone());
        }
        (raw, out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn raw(status: Option<u16>) -> RawEvent {
        RawEvent::new("goplus", "https://api.gopluslabs.io/api/v1/token_security/1?contract_addresses=0xab", status, chrono::Utc::now(), "{}".into(), "r")
    }

    #[test]
    fn replays_each_status_as_the_live_client_classifies_it() {
        let ok = replay(&raw(Some(200))).unwrap();
        assert_eq!((ok.status, ok.body.as_str()), (200, "{}"));
        assert!(matches!(replay(&raw(Some(429))), Err(FetchError::RateLimited { status: 429, .. })));
        assert!(matches!(replay(&raw(Some(503))), Err(FetchError::Upstream { status: 503, .. })));
        assert!(matches!(replay(&raw(Some(404))), Err(FetchError::Status { status: 404, .. })));
        let e = failure_capture("goplus", "https://x/y", chrono::Utc::now(), &FetchError::Timeout { attempts: 3, retried: Vec::new() }.to_string(), "r");
        assert_eq!(e.http_status, None);
        match replay(&e) {
            Err(FetchError::Transport { message, .. }) => assert!(message.contains("timed out"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queues_answer_each_request_with_the_next_capture_of_it() {
        let path = "/api/v1/token_security/1?contract_addresses=0xab";
        let raws = [("a", 10), ("b", 20)].map(|(body, s)| {
            let r =
                RawEvent::new("goplus", &format!("https://gp.example/x{path}"), Some(200), chrono::Utc::now() + chrono::Duration::seconds(s), body.into(), "r");
            ("goplus".to_string(), request_path(&r.endpoint, "https://gp.example/x/").to_string(), r)
        });
        let rec: RecordedQueues = raws.into_iter().collect();
        assert_eq!(rec.unused(), 2);
        assert_eq!(rec.take("goplus", path).unwrap().payload, "a");
        assert_eq!(rec.take("honeypot_is", path), None, "keyed by source");
        assert_eq!(rec.take("goplus", path).unwrap().payload, "b");
        assert_eq!(rec.take("goplus", path), None);
        assert_eq!(rec.unused(), 0);
    }

    #[test]
    fn request_path_drops_the_base_prefix_only() {
        assert_eq!(request_path("https://h/api/v4/x?y=1", "https://other/api"), "/v4/x?y=1");
        assert_eq!(request_path("https://h/apix/v4", "https://h/api/"), "/apix/v4", "a prefix ends at a segment");
        assert_eq!(request_path("http://127.0.0.1:9/a/b", "http://127.0.0.1:9/"), "/a/b");
        assert_eq!(request_path("https://h/p/a?k=1", "https://h/p?key=REDACTED"), "/a?k=1");
    }

    #[test]
    fn endpoint_path_strips_scheme_and_host() {
        assert_eq!(endpoint_path("https://h:8080/a/b?c=1"), "/a/b?c=1");
        assert_eq!(endpoint_path("http://127.0.0.1:1/x#eth_getLogs(0x1..0x2)"), "/x#eth_getLogs(0x1..0x2)");
        assert_eq!(endpoint_path("https://h"), "/");
        assert_eq!(endpoint_path("eth_call"), "eth_call");
    }
}
