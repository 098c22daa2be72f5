//! `HttpSource` against a real axum mock server on 127.0.0.1:0: happy and unhappy paths.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use nl_adapters::kit::{Budget, BudgetConfig, BuildError, FetchError, HttpConfig, HttpSource, SecretLocation, SecretParam, UsageKind};
use tokio::time::Instant;

/// JSON whose token name holds Latin-1 bytes (0xE9 = é, 0xFF) and a lone continuation byte.
const NOT_UTF8: &[u8] = b"{\"symbols\":[{\"symbol\":\"CAF\xe9\",\"name\":\"\xff\x80bad\"}]}";

#[derive(Clone, Default)]
struct Mock {
    hits: Arc<Mutex<HashMap<String, u32>>>,
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

impl Mock {
    fn hit(&self, path: &str, headers: &HeaderMap) -> u32 {
        self.seen.lock().unwrap().push((path.to_owned(), headers.clone()));
        let mut h = self.hits.lock().unwrap();
        let n = h.entry(path.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
    fn last_headers(&self, path: &str) -> HeaderMap {
        self.seen.lock().unwrap().iter().rev().find(|(p, _)| p == path).map(|(_, h)| h.clone()).unwrap()
    }
}

async fn handler(State(m): State<Mock>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = req.headers().clone();
    let n = m.hit(&path, &headers);
    match path.as_str() {
        "/etag" => {
            if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"") {
                (StatusCode::NOT_MODIFIED, [("etag", "\"v1\"")]).into_response()
            } else {
                (StatusCode::OK, [("etag", "\"v1\""), ("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")], r#"{"symbols":[]}"#).into_response()
            }
        }
        "/rl" if n == 1 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], r#"{"code":-1003,"msg":"Too many requests"}"#).into_response(),
        "/flaky" if n <= 2 => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        "/down" => (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response(),
        "/slow" => std::future::pending::<Response>().await,
        "/truncated" => (StatusCode::OK, [("content-type", "application/json")], r#"{"symbols":[{"symbol":"ET"#).into_response(),
        "/weight" => (StatusCode::OK, [("x-mbx-used-weight-1m", "5900")], "{}").into_response(),
        "/ban" => (StatusCode::IM_A_TEAPOT, "banned").into_response(),
        "/huge" => (StatusCode::OK, "x".repeat(3 * 1024 * 1024)).into_response(),
        "/latin1" => (StatusCode::OK, NOT_UTF8.to_vec()).into_response(),
        "/latin1_500" => (StatusCode::BAD_REQUEST, NOT_UTF8.to_vec()).into_response(),
        "/missing" => (StatusCode::NOT_FOUND, r#"{"code":-1121,"msg":"Invalid symbol."}"#).into_response(),
        "/echo" => {
            let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or("");
            let ua = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
            format!("query={query};header={key};ua={ua}").into_response()
        }
        "/rpc" => {
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            axum::Json(serde_json::json!({"jsonrpc":"2.0","id":v["id"],"result":v["method"]})).into_response()
        }
        _ => (StatusCode::OK, "ok").into_response(),
    }
}

async fn serve() -> (String, Mock) {
    let mock = Mock::default();
    let app = Router::new().route("/", get(|| async { "root" })).route("/{*path}", any(handler)).with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), mock)
}

fn budget() -> Arc<Budget> {
    Arc::new(Budget::new(BudgetConfig::new(1000.0, 1000.0)).unwrap())
}

fn config(base: &str) -> HttpConfig {
    HttpConfig { timeout_ms: 2000, backoff_base_ms: 20, backoff_cap_ms: 200, ..HttpConfig::new(base) }
}

fn source(base: &str) -> HttpSource {
    HttpSource::new("test", config(base), budget()).unwrap()
}

#[tokio::test]
async fn etag_then_304_not_modified() {
    let (base, mock) = serve().await;
    let s = source(&base);
    let first = s.get("/etag", 1).await.unwrap();
    assert_eq!((first.status, first.not_modified), (200, false));
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(first.body, r#"{"symbols":[]}"#);
    assert!(mock.last_headers("/etag").get("if-none-match").is_none());

    let second = s.get("/etag", 1).await.unwrap();
    assert_eq!((second.status, second.not_modified), (304, true));
    assert!(second.body.is_empty());
    assert_eq!(second.etag.as_deref(), Some("\"v1\""));
    let sent = mock.last_headers("/etag");
    assert_eq!(sent.get("if-none-match").unwrap(), "\"v1\"");
    assert_eq!(sent.get("if-modified-since").unwrap(), "Wed, 21 Oct 2015 07:28:00 GMT");
    let stats = s.stats().snapshot();
    assert_eq!((stats.requests, stats.ok, stats.not_modified, stats.errors), (2, 2, 1, 0));
    assert!(stats.last_success.is_some());
}

#[tokio::test]
async fn rate_limit_penalises_the_shared_budget_without_retry_storm() {
    let (base, mock) = serve().await;
    let shared = budget();
    let a = HttpSource::new("a", config(&base), Arc::clone(&shared)).unwrap();
    let b = HttpSource::new("b", config(&base), Arc::clone(&shared)).unwrap();

    let t0 = Instant::now();
    let err = a.get("/rl", 1).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_millis(900), "a 429 returns at once");
    match &err {
        FetchError::RateLimited { status, retry_after, response } => {
            assert_eq!((*status, *retry_after), (429, Duration::from_secs(1)));
            assert!(response.body.contains("-1003"), "error body kept for raw capture");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(mock.hits("/rl"), 1, "no retry on 429");

    // Another source of the same provider waits out the penalty before sending anything.
    let t1 = Instant::now();
    let ok = b.get("/other", 1).await.unwrap();
    assert_eq!(ok.status, 200);
    assert!(t1.elapsed() >= Duration::from_millis(990), "waited {:?}", t1.elapsed());

    let again = a.get("/rl", 1).await.unwrap();
    assert_eq!(again.status, 200);
    assert_eq!((mock.hits("/rl"), mock.hits("/other")), (2, 1));
    let st = a.stats().snapshot();
    assert_eq!((st.requests, st.rate_limited, st.ok, st.errors, st.retries), (2, 1, 1, 0, 0));
}

#[tokio::test]
async fn ban_without_retry_after_uses_long_default() {
    let (base, mock) = serve().await;
    let s = HttpSource::new("t", HttpConfig { ban_retry_after_secs: 900, ..config(&base) }, budget()).unwrap();
    let err = s.get("/ban", 1).await.unwrap_err();
    assert!(matches!(err, FetchError::RateLimited { status: 418, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(900)));
    let paused = s.budget().status().paused_for.unwrap();
    assert!(paused > Duration::from_secs(890), "{paused:?}");
    assert_eq!(mock.hits("/ban"), 1);
}

#[tokio::test]
async fn server_errors_retry_with_backoff_then_succeed() {
    let (base, mock) = serve().await;
    let s = source(&base);
    let t0 = Instant::now();
    let ok = s.get("/flaky", 1).await.unwrap();
    assert_eq!((ok.status, ok.body.as_str(), ok.attempts), (200, "ok", 3));
    // Equal jitter: at least half of 20 ms + 40 ms.
    assert!(t0.elapsed() >= Duration::from_millis(30), "{:?}", t0.elapsed());
    assert_eq!(mock.hits("/flaky"), 3);
    let st = s.stats().snapshot();
    assert_eq!((st.requests, st.retries, st.ok, st.errors), (3, 2, 1, 0));
    // The retried failures come back with the response, each kept raw with its error (issue #15).
    let raws: Vec<_> = ok.retried.iter().map(|a| a.to_raw_event("t", "r")).collect();
    assert_eq!(raws.iter().map(|r| r.http_status).collect::<Vec<_>>(), [Some(503), Some(503)]);
    assert!(raws.iter().all(|r| r.parse_error.as_deref().is_some_and(|e| e.contains("HTTP 503") && e.contains("retried"))), "{raws:?}");
}

#[tokio::test]
async fn persistent_server_error_becomes_upstream_with_body() {
    let (base, mock) = serve().await;
    let s = source(&base);
    let err = s.get("/down", 1).await.unwrap_err();
    match &err {
        FetchError::Upstream { status, attempts, response } => {
            assert_eq!((*status, *attempts), (502, 3));
            assert_eq!(response.body, "<html>bad gateway</html>");
            assert_eq!(response.retried.iter().map(|a| a.response.as_ref().map(|r| r.status)).collect::<Vec<_>>(), [Some(502), Some(502)]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(mock.hits("/down"), 3);
    assert_eq!(s.stats().snapshot().errors, 1);
}

#[tokio::test]
async fn timeout_is_retried_then_reported() {
    let (base, mock) = serve().await;
    let s = HttpSource::new("t", HttpConfig { timeout_ms: 150, max_attempts: 2, ..config(&base) }, budget()).unwrap();
    let err = s.get("/slow", 1).await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout { attempts: 2, .. }), "{err:?}");
    assert!(err.is_retryable());
    let raw = err.retried().first().map(|a| a.to_raw_event("t", "r")).expect("the first timeout is returned");
    assert_eq!((raw.http_status, raw.payload.as_str()), (None, ""));
    assert!(raw.parse_error.as_deref().is_some_and(|e| e.contains("timed out") && e.contains("retried")), "{raw:?}");
    assert_eq!(mock.hits("/slow"), 2);
}

#[tokio::test]
async fn connect_refused_is_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let s = HttpSource::new("t", HttpConfig { max_attempts: 2, ..config(&format!("http://{addr}")) }, budget()).unwrap();
    let err = s.get("/x?apikey=abc", 1).await.unwrap_err();
    assert!(matches!(err, FetchError::Connect { attempts: 2, .. }), "{err:?}");
    assert!(!err.to_string().contains("abc"), "no URL in messages: {err}");
    assert_eq!(s.stats().snapshot().retries, 1);
}

#[tokio::test]
async fn truncated_body_is_returned_verbatim() {
    let (base, _mock) = serve().await;
    let s = source(&base);
    let f = s.get("/truncated", 1).await.unwrap();
    assert_eq!(f.body, r#"{"symbols":[{"symbol":"ET"#);
    assert!(serde_json::from_str::<serde_json::Value>(&f.body).is_err(), "the caller's parse fails, not the client");
    let raw = f.to_raw_event("binance_spot", "run-1");
    assert_eq!(raw.payload, f.body);
    assert_eq!(raw.http_status, Some(200));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, mock) = serve().await;
    let s = source(&base);
    let err = s.get("/missing", 1).await.unwrap_err();
    match &err {
        FetchError::Status { status, body_excerpt, .. } => {
            assert_eq!(*status, 404);
            assert!(body_excerpt.contains("Invalid symbol"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(mock.hits("/missing"), 1);
}

#[tokio::test]
async fn binance_used_weight_header_slows_the_budget() {
    let (base, _mock) = serve().await;
    let s = source(&base);
    let f = s.get("/weight", 1).await.unwrap();
    let usage = f.usage.unwrap();
    assert_eq!((usage.used, usage.limit, usage.kind), (5900, 6000, UsageKind::Binance));
    assert_eq!(f.header("X-MBX-USED-WEIGHT-1M"), Some("5900"));
    let status = s.budget().status();
    assert!(status.paused_for.is_some_and(|d| d <= Duration::from_secs(60)), "{status:?}");
    assert!(s.budget().try_acquire(1).is_err(), "next request must wait for the venue window");
}

#[tokio::test]
async fn secrets_are_sent_but_never_exposed() {
    let (base, _mock) = serve().await;
    let cfg = HttpConfig {
        secrets: vec![
            SecretParam { name: "apikey".into(), location: SecretLocation::Query, value_env: "NL_TEST_QUERY_KEY".into() },
            SecretParam { name: "x-api-key".into(), location: SecretLocation::Header, value_env: "NL_TEST_HEADER_KEY".into() },
        ],
        ..config(&base)
    };
    let env = |k: &str| match k {
        "NL_TEST_QUERY_KEY" => Some("q-s3cr3t".to_owned()),
        "NL_TEST_HEADER_KEY" => Some("h-s3cr3t".to_owned()),
        _ => None,
    };
    let s = HttpSource::with_env("t", cfg.clone(), budget(), &env).unwrap();
    let f = s.get("/echo?page=1", 1).await.unwrap();
    assert_eq!(f.body, format!("query=page=1&apikey=q-s3cr3t;header=h-s3cr3t;ua={}", nl_adapters::kit::USER_AGENT));
    assert!(f.url.ends_with("/echo?page=1&apikey=REDACTED"), "{}", f.url);
    let raw = f.to_raw_event("t", "run");
    assert!(!raw.endpoint.contains("s3cr3t"));
    assert!(!format!("{s:?}").contains("s3cr3t"));

    let missing = HttpSource::with_env("t", cfg, budget(), &|_| None).unwrap_err();
    assert!(matches!(missing, BuildError::MissingSecret { .. }), "{missing:?}");
}

#[tokio::test]
async fn post_json_rpc() {
    let (base, mock) = serve().await;
    let s = source(&base);
    let body = serde_json::json!({"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]});
    let f = s.post_json("/rpc", &body, 1).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&f.body).unwrap();
    assert_eq!(v["result"], "eth_blockNumber");
    assert_eq!(v["id"], 7);
    assert_eq!(mock.last_headers("/rpc").get("content-type").unwrap(), "application/json");
    assert!(mock.last_headers("/rpc").get("if-none-match").is_none());
}

#[test]
fn bad_base_url_is_rejected() {
    let err = HttpSource::new("t", HttpConfig::new("ftp://x"), budget()).unwrap_err();
    assert!(matches!(err, BuildError::BaseUrl(_)));
    let cfg: Result<HttpConfig, _> = serde_json::from_str(r#"{"base_url":"https://x","timeout":5}"#);
    assert!(cfg.is_err(), "unknown fields are rejected");
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_kept_as_a_capped_prefix_with_its_size_and_hash() {
    let (base, _mock) = serve().await;
    let s = HttpSource::new("t", HttpConfig { max_body_bytes: 64 * 1024, ..config(&base) }, budget()).unwrap();
    let err = s.get("/huge", 1).await.unwrap_err();
    let FetchError::TooLarge { size, limit, sha256, response } = &err else { panic!("{err}") };
    let whole = "x".repeat(3 * 1024 * 1024);
    assert_eq!((*size, *limit), (whole.len() as u64, 64 * 1024));
    assert_eq!(*sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(whole.as_bytes())));
    assert_eq!(response.body.len(), 64 * 1024, "only the prefix is kept");
    assert_eq!(err.response().map(|r| r.status), Some(200), "kept for raw capture");
    assert!(!err.is_retryable());
    assert!(err.to_string().len() < 300, "the message quotes no venue text: {err}");
    // Under the cap nothing changes.
    assert_eq!(source(&base).get("/huge", 1).await.unwrap().body.len(), whole.len());
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_kept_byte_exact_with_an_error_never_replaced() {
    use base64::Engine as _;
    let (base, _mock) = serve().await;
    let err = source(&base).get("/latin1", 1).await.unwrap_err();
    let FetchError::NotUtf8 { size, valid_up_to, response } = &err else { panic!("{err}") };
    assert_eq!((*size, Some(*valid_up_to)), (NOT_UTF8.len(), NOT_UTF8.iter().position(|&b| b == 0xe9)));
    assert!(!err.is_retryable());
    let raw = response.to_raw_event("t", "run-1");
    assert_eq!(raw.payload_encoding.as_deref(), Some(nl_domain::PAYLOAD_BASE64));
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&raw.payload).unwrap(), NOT_UTF8, "byte-exact");
    assert_eq!(raw.payload_bytes().unwrap(), NOT_UTF8);
    assert!(!raw.payload.contains('\u{FFFD}'));
    assert_eq!(raw.content_hash, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(NOT_UTF8)), "hash of the bytes received");
    assert!(raw.parse_error.as_deref().is_some_and(|e| e.contains("not valid UTF-8")), "{:?}", raw.parse_error);
    // Replayed from the capture (re-derivation), it is the same error.
    let replayed = nl_adapters::kit::recorded::replay(&raw).unwrap_err();
    assert_eq!(replayed.to_string(), err.to_string());
    // An error status with such a body is still that status, and its capture still byte-exact.
    let err = source(&base).get("/latin1_500", 1).await.unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 400, .. }), "{err}");
    assert_eq!(err.response().unwrap().to_raw_event("t", "r").payload_bytes().unwrap(), NOT_UTF8);
}
