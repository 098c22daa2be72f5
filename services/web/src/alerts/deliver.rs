//! One HTTP request to a sink, and what its answer means. Rate-limit answers carry their wait: Telegram's
//! `parameters.retry_after` (older answers only say "retry after N" in `description`), Discord's
//! `retry_after` (seconds, float) and every kind's `Retry-After` header (sources-2.md §7).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::alerts::config::SinkKind;

/// What one request achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The receiver took the message.
    Sent,
    /// 429: not delivered; ask again after this long (`None`: the answer named no wait).
    RateLimited(Option<Duration>),
    /// Not delivered (refused connection, timeout, 5xx): worth retrying.
    Failed(String),
    /// Not delivered and retrying cannot help (404 unknown webhook, 401/403 bad token, 400 bad request):
    /// the sink stops and says why; its cursor stays, so nothing is lost once the setting is fixed.
    Gone(String),
}

/// Posts `body` to `url`. The URL is a secret and never appears in an outcome's text.
pub async fn post(client: &reqwest::Client, kind: SinkKind, url: &str, body: &Value) -> Outcome {
    let resp = match client.post(url).json(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            return Outcome::Failed(what.to_string());
        }
    };
    let status = resp.status();
    let header_wait = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| nl_adapters::kit::headers::parse_retry_after_value(v, chrono::Utc::now()));
    let text = resp.text().await.unwrap_or_default();
    classify(kind, status, header_wait, &text)
}

/// The meaning of an answer (separate from the I/O so it is tested on the documented shapes).
#[must_use]
pub fn classify(kind: SinkKind, status: StatusCode, header_wait: Option<Duration>, body: &str) -> Outcome {
    let json: Option<Value> = serde_json::from_str(body).ok();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let body_wait = json.as_ref().and_then(|j| body_retry_after(kind, j));
        // Telegram's body is authoritative for it; otherwise the header, then the body.
        let wait = match kind {
            SinkKind::Telegram => body_wait.or(header_wait),
            _ => header_wait.or(body_wait),
        };
        return Outcome::RateLimited(wait);
    }
    if status.is_success() {
        // Telegram answers 200 with {"ok": true, ...}; anything else with "ok": false is an error.
        if kind == SinkKind::Telegram && json.as_ref().and_then(|j| j.get("ok")).and_then(Value::as_bool) == Some(false) {
            return Outcome::Failed(format!("telegram ok=false: {}", short(&describe(json.as_ref(), body))));
        }
        return Outcome::Sent;
    }
    let why = format!("HTTP {}: {}", status.as_u16(), short(&describe(json.as_ref(), body)));
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Outcome::Failed(why)
    } else {
        Outcome::Gone(why)
    }
}

/// The wait a 429 body names.
fn body_retry_after(kind: SinkKind, j: &Value) -> Option<Duration> {
    match kind {
        SinkKind::Telegram => j
            .pointer("/parameters/retry_after")
            .and_then(Value::as_u64)
            .map(Duration::from_secs)
            .or_else(|| j.get("description").and_then(Value::as_str).and_then(described_wait)),
        _ => j.get("retry_after").and_then(Value::as_f64).filter(|s| s.is_finite() && *s >= 0.0).and_then(|s| Duration::try_from_secs_f64(s).ok()),
    }
}

/// "Too Many Requests: retry after 3" → 3 s.
fn described_wait(d: &str) -> Option<Duration> {
    let at = d.to_ascii_lowercase().find("retry after ")?;
    let digits: String = d[at + "retry after ".len()..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().map(Duration::from_secs)
}

fn describe(json: Option<&Value>, body: &str) -> String {
    json.and_then(|j| j.get("description").or_else(|| j.get("message")).and_then(Value::as_str)).map_or_else(|| body.trim().to_string(), str::to_string)
}

fn short(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
    flat
}
