//! Venue rate-limit headers parsed into one [`Usage`] shape, plus `Retry-After`.
//!
//! Venues report their own view of our usage; feeding it to the
//! [`Budget`](crate::kit::Budget) lets us slow down *before* the venue answers 429 or bans the IP.
//! Header names are matched case-insensitively (they come from a [`HeaderMap`]).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::HeaderMap;

/// Binance spot request-weight limit per minute per IP when the config does not say otherwise.
pub const BINANCE_DEFAULT_WEIGHT_LIMIT: u64 = 6000;

/// Which venue header family a [`Usage`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageKind {
    /// `X-MBX-USED-WEIGHT-1M` (used weight in the current minute; limit from config).
    Binance,
    /// `X-Bapi-Limit-Status` (remaining), `X-Bapi-Limit`, `X-Bapi-Limit-Reset-Timestamp` (ms).
    Bybit,
    /// `gw-ratelimit-remaining`, `gw-ratelimit-limit`, `gw-ratelimit-reset` (ms until reset).
    Kucoin,
    /// `X-Gate-RateLimit-Requests-Remain`, `X-Gate-RateLimit-Limit`, `X-Gate-RateLimit-Reset-Timestamp` (s).
    Gate,
}

/// The venue's view of our usage of its current rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Units (weight or requests) used in the current window.
    pub used: u64,
    /// Units allowed per window.
    pub limit: u64,
    /// When the venue's window resets, if known.
    pub reset_at: Option<DateTime<Utc>>,
    /// The header family it came from.
    pub kind: UsageKind,
}

impl Usage {
    /// Fraction of the window used, `0.0..=1.0` (above 1.0 if the venue over-counts). `1.0` when `limit` is 0.
    #[must_use]
    pub fn fraction_used(&self) -> f64 {
        if self.limit == 0 {
            return 1.0;
        }
        // Precision loss only matters beyond 2^52 units, far above any venue limit.
        #[allow(clippy::cast_precision_loss)]
        let f = self.used as f64 / self.limit as f64;
        f
    }

    /// Time from `now` until the window resets (`None` if unknown, zero if already past).
    #[must_use]
    pub fn reset_in(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.reset_at.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    let raw = header(headers, name)?;
    raw.parse::<u64>().ok().or_else(|| {
        // Some gateways send "123.0"; negative or non-finite values are rejected.
        raw.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(|f| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = f as u64;
            v
        })
    })
}

fn from_unix_ms(ms: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(ms).ok()?).single()
}

fn from_unix_s(s: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(i64::try_from(s).ok()?, 0).single()
}

/// Start of the next UTC minute after `now` (Binance's `1M` interval windows are minute-aligned).
fn next_minute(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let secs = now.timestamp();
    from_unix_s(u64::try_from(secs - secs.rem_euclid(60) + 60).ok()?)
}

/// Reads the first venue usage header family present in `headers`.
///
/// `binance_weight_limit` is the per-minute weight limit used for `X-MBX-USED-WEIGHT-1M`, which
/// carries only the used weight ([`BINANCE_DEFAULT_WEIGHT_LIMIT`] for spot). Returns `None` when no
/// family is present or its values are unparsable.
#[must_use]
pub fn parse_usage(headers: &HeaderMap, now: DateTime<Utc>, binance_weight_limit: u64) -> Option<Usage> {
    if let Some(used) = header_u64(headers, "x-mbx-used-weight-1m") {
        return Some(Usage { used, limit: binance_weight_limit, reset_at: next_minute(now), kind: UsageKind::Binance });
    }
    if let (Some(remaining), Some(limit)) = (header_u64(headers, "x-bapi-limit-status"), header_u64(headers, "x-bapi-limit")) {
        let reset_at = header_u64(headers, "x-bapi-limit-reset-timestamp").and_then(from_unix_ms);
        return Some(Usage { used: limit.saturating_sub(remaining), limit, reset_at, kind: UsageKind::Bybit });
    }
    if let (Some(remaining), Some(limit)) = (header_u64(headers, "gw-ratelimit-remaining"), header_u64(headers, "gw-ratelimit-limit")) {
        let reset_at = header_u64(headers, "gw-ratelimit-reset")
            .and_then(|ms| chrono::Duration::try_milliseconds(i64::try_from(ms).ok()?))
            .and_then(|d| now.checked_add_signed(d));
        return Some(Usage { used: limit.saturating_sub(remaining), limit, reset_at, kind: UsageKind::Kucoin });
    }
    if let (Some(remaining), Some(limit)) =
        (header_u64(headers, "x-gate-ratelimit-requests-remain"), header_u64(headers, "x-gate-ratelimit-limit"))
    {
        let reset_at = header_u64(headers, "x-gate-ratelimit-reset-timestamp").and_then(from_unix_s);
        return Some(Usage { used: limit.saturating_sub(remaining), limit, reset_at, kind: UsageKind::Gate });
    }
    None
}

/// The longest delay a venue can ask for through a header: longer values are venue bugs or hostile, and
/// taken as this (a day), so no caller does time arithmetic on an unbounded venue value.
pub const MAX_VENUE_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` value: delay-seconds (`"120"`, leniently `"1.5"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`). A date in the past gives zero; anything longer than
/// [`MAX_VENUE_DELAY`] (up to `u64::MAX` seconds) gives [`MAX_VENUE_DELAY`].
#[must_use]
pub fn parse_retry_after_value(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs > MAX_VENUE_DELAY.as_secs_f64() { MAX_VENUE_DELAY } else { Duration::try_from_secs_f64(secs).ok()? }
    } else {
        let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_VENUE_DELAY))
}

/// The `Retry-After` header of `headers`, if present and parsable.
#[must_use]
pub fn parse_retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    parse_retry_after_value(header(headers, "retry-after")?, now)
}

/// Whether a response header is worth keeping on [`Fetched`](crate::kit::Fetched): caching
/// validators, dates and every rate-limit family (so raw captures explain throttling later).
#[must_use]
pub fn is_kept_header(name: &str) -> bool {
    const EXACT: &[&str] = &["content-type", "etag", "last-modified", "date", "retry-after", "age", "cache-control", "cf-cache-status"];
    const PREFIXES: &[&str] = &["x-mbx-used-weight", "x-bapi-", "gw-ratelimit-", "x-gate-ratelimit-", "x-ratelimit-", "ratelimit-"];
    let n = name.to_ascii_lowercase();
    EXACT.contains(&n.as_str()) || PREFIXES.iter().any(|p| n.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).expect("name"), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_760_000_030, 0).single().expect("ts")
    }

    #[test]
    fn retry_after_is_capped_at_a_day_whatever_the_venue_sends() {
        let now = Utc::now();
        assert_eq!(parse_retry_after_value("18446744073709551615", now), Some(MAX_VENUE_DELAY));
        assert_eq!(parse_retry_after_value("1e300", now), Some(MAX_VENUE_DELAY));
        assert_eq!(parse_retry_after_value("Fri, 31 Dec 9999 23:59:59 GMT", now), Some(MAX_VENUE_DELAY));
        assert_eq!(parse_retry_after_value("2", now), Some(Duration::from_secs(2)));
        let mut h = HeaderMap::new();
        h.insert("gw-ratelimit-remaining", "1".parse().unwrap());
        h.insert("gw-ratelimit-limit", "10".parse().unwrap());
        h.insert("gw-ratelimit-reset", "9223372036854775807".parse().unwrap());
        assert!(parse_usage(&h, now, 6000).is_some(), "an absurd reset is dropped, not a panic");
    }

    #[test]
    fn binance_used_weight_with_configured_limit_and_minute_reset() {
        let u = parse_usage(&map(&[("X-MBX-USED-WEIGHT-1M", "5900")]), now(), BINANCE_DEFAULT_WEIGHT_LIMIT).expect("usage");
        assert_eq!((u.used, u.limit, u.kind), (5900, 6000, UsageKind::Binance));
        assert_eq!(u.reset_in(now()), Some(Duration::from_secs(10)));
        assert!(u.fraction_used() > 0.98);
        let u = parse_usage(&map(&[("x-mbx-used-weight-1m", "10")]), now(), 1200).expect("usage");
        assert_eq!(u.limit, 1200);
    }

    #[test]
    fn bybit_remaining_limit_and_ms_timestamp() {
        let h = map(&[("X-Bapi-Limit", "600"), ("X-Bapi-Limit-Status", "100"), ("X-Bapi-Limit-Reset-Timestamp", "1760000035000")]);
        let u = parse_usage(&h, now(), 6000).expect("usage");
        assert_eq!((u.used, u.limit, u.kind), (500, 600, UsageKind::Bybit));
        assert_eq!(u.reset_in(now()), Some(Duration::from_secs(5)));
    }

    #[test]
    fn kucoin_reset_is_ms_until_reset() {
        let h = map(&[("gw-ratelimit-limit", "2000"), ("gw-ratelimit-remaining", "1999"), ("gw-ratelimit-reset", "29996")]);
        let u = parse_usage(&h, now(), 6000).expect("usage");
        assert_eq!((u.used, u.limit, u.kind), (1, 2000, UsageKind::Kucoin));
        assert_eq!(u.reset_in(now()), Some(Duration::from_millis(29996)));
    }

    #[test]
    fn gate_reset_is_unix_seconds() {
        let h = map(&[
            ("X-Gate-RateLimit-Limit", "200"),
            ("X-Gate-RateLimit-Requests-Remain", "10"),
            ("X-Gate-RateLimit-Reset-Timestamp", "1760000040"),
        ]);
        let u = parse_usage(&h, now(), 6000).expect("usage");
        assert_eq!((u.used, u.limit, u.kind), (190, 200, UsageKind::Gate));
        assert_eq!(u.reset_in(now()), Some(Duration::from_secs(10)));
    }

    #[test]
    fn missing_partial_or_garbage_headers_give_none() {
        assert_eq!(parse_usage(&HeaderMap::new(), now(), 6000), None);
        assert_eq!(parse_usage(&map(&[("X-Bapi-Limit", "600")]), now(), 6000), None);
        assert_eq!(parse_usage(&map(&[("X-MBX-USED-WEIGHT-1M", "")]), now(), 6000), None);
        assert_eq!(parse_usage(&map(&[("X-MBX-USED-WEIGHT-1M", "lots")]), now(), 6000), None);
        assert_eq!(parse_usage(&map(&[("gw-ratelimit-limit", "-1"), ("gw-ratelimit-remaining", "0")]), now(), 6000), None);
    }

    #[test]
    fn remaining_above_limit_saturates_and_zero_limit_is_full() {
        let u = parse_usage(&map(&[("X-Bapi-Limit", "10"), ("X-Bapi-Limit-Status", "50")]), now(), 6000).expect("usage");
        assert_eq!(u.used, 0);
        let u = Usage { used: 0, limit: 0, reset_at: None, kind: UsageKind::Gate };
        assert!((u.fraction_used() - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(parse_retry_after(&map(&[("Retry-After", "2")]), now()), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after_value(" 1.5 ", now()), Some(Duration::from_millis(1500)));
        let at = now() + chrono::Duration::seconds(90);
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        assert_eq!(parse_retry_after_value(&date, now()), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after_value("Wed, 21 Oct 2015 07:28:00 GMT", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after_value("soon", now()), None);
        assert_eq!(parse_retry_after_value("-3", now()), None);
        assert_eq!(parse_retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn kept_headers() {
        assert!(is_kept_header("ETag"));
        assert!(is_kept_header("X-MBX-USED-WEIGHT-1M"));
        assert!(is_kept_header("x-gate-ratelimit-limit"));
        assert!(!is_kept_header("set-cookie"));
        assert!(!is_kept_header("x-mbx-apikey"));
    }
}
