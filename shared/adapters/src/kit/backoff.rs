//! Exponential backoff with jitter, shared by the HTTP retry loop and the WebSocket reconnect loop.
//!
//! Jitter uses a tiny xorshift generator seeded from the wall clock: it only has to de-synchronise
//! replicas and sources, not be cryptographically strong, so no `rand` dependency is pulled in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exponential backoff: attempt `n` (0-based) waits between half and all of `min(cap, base * 2^n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale of the first retry.
    pub base: Duration,
    /// Upper bound of any single delay.
    pub cap: Duration,
}

impl Backoff {
    /// The documented default: base 500 ms, cap 30 s.
    pub const DEFAULT: Self = Self { base: Duration::from_millis(500), cap: Duration::from_secs(30) };

    /// A backoff with the given base and cap (`cap` is raised to `base` if smaller).
    #[must_use]
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap: cap.max(base) }
    }

    /// The un-jittered ceiling for attempt `attempt` (0-based).
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).unwrap_or(self.cap).min(self.cap)
    }

    /// The jittered delay for attempt `attempt` (0-based): uniform in `[ceiling/2, ceiling]`.
    ///
    /// Half of the delay is kept fixed so a retry never fires immediately ("equal jitter").
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let span = u64::try_from(ceiling.saturating_sub(half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if span == 0 { 0 } else { next_random() % (span + 1) };
        half + Duration::from_nanos(jitter)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::DEFAULT
    }
}

static STATE: AtomicU64 = AtomicU64::new(0);

/// A pseudo-random `u64` (xorshift64*), lazily seeded from the system clock.
pub(crate) fn next_random() -> u64 {
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or(1));
        x = nanos | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    // Races between threads only cost a repeated value, never correctness.
    STATE.store(x, Ordering::Relaxed);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_and_caps() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        assert_eq!(b.ceiling(0), Duration::from_millis(500));
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(3), Duration::from_secs(4));
        assert_eq!(b.ceiling(10), Duration::from_secs(30));
        assert_eq!(b.ceiling(200), Duration::from_secs(30));
    }

    #[test]
    fn delay_stays_within_half_and_full_ceiling() {
        let b = Backoff::DEFAULT;
        for attempt in 0..12 {
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(d >= b.ceiling(attempt) / 2 && d <= b.ceiling(attempt), "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_varies() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let samples: std::collections::HashSet<Duration> = (0..20).map(|_| b.delay(0)).collect();
        assert!(samples.len() > 1);
    }
}
