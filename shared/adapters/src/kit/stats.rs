//! Per-source counters for the metrics layer (`requests`, `rate_limited_total`, last success age…).
//!
//! Plain atomics: the HTTP client bumps them on every attempt, the metrics layer reads a
//! [`StatsSnapshot`] whenever it scrapes. Counters are disjoint by outcome: a rate-limited
//! response counts in `rate_limited`, not in `errors`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// Atomic counters of one source.
#[derive(Debug, Default)]
pub struct SourceStats {
    requests: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    rate_limited: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
    /// Unix ms of the last success; 0 = never.
    last_success_ms: AtomicI64,
}

/// A consistent-enough copy of [`SourceStats`] for export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// HTTP attempts sent (retries included).
    pub requests: u64,
    /// Calls that ended in a 2xx or 304.
    pub ok: u64,
    /// Calls that ended in an error other than a rate limit.
    pub errors: u64,
    /// Responses with 429 or 418.
    pub rate_limited: u64,
    /// 304 responses (also counted in `ok`).
    pub not_modified: u64,
    /// Attempts repeated after a 5xx, timeout or transport error.
    pub retries: u64,
    /// When the last call succeeded.
    pub last_success: Option<DateTime<Utc>>,
}

impl SourceStats {
    /// Copies the counters.
    #[must_use]
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            last_success: self.last_success(),
        }
    }

    /// When the last call succeeded, if ever.
    #[must_use]
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        match self.last_success_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Utc.timestamp_millis_opt(ms).single(),
        }
    }

    /// Age of the last success at `now` (`None` if never succeeded): the `last_success_age_seconds` gauge.
    #[must_use]
    pub fn last_success_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.last_success().map(|t| (now - t).to_std().unwrap_or(Duration::ZERO))
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn success(&self, at: DateTime<Utc>, not_modified: bool) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        if not_modified {
            self.not_modified.fetch_add(1, Ordering::Relaxed);
        }
        self.last_success_ms.fetch_max(at.timestamp_millis().max(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_last_success_age() {
        let s = SourceStats::default();
        assert_eq!(s.snapshot(), StatsSnapshot::default());
        let t = Utc.timestamp_millis_opt(1_760_000_000_000).single().expect("ts");
        s.request();
        s.success(t, true);
        s.request();
        s.rate_limited();
        let snap = s.snapshot();
        assert_eq!((snap.requests, snap.ok, snap.not_modified, snap.rate_limited, snap.errors), (2, 1, 1, 1, 0));
        assert_eq!(s.last_success_age(t + chrono::Duration::seconds(5)), Some(Duration::from_secs(5)));
    }
}
