//! Per-provider request budgets: an async token bucket with penalties and adaptive throttling.
//!
//! One [`Budget`] is shared (`Arc`) by every source that talks to the same provider, through the
//! [`BudgetRegistry`]. Three inputs shape it:
//! - our own pacing (`rate_per_sec`, `burst`), charged per request weight by [`Budget::acquire`];
//! - hard stops from the venue (429 `Retry-After`, 418 bans) via [`Budget::penalize_until`];
//! - the venue's usage headers via [`Budget::observe_usage`]/[`Budget::slow_down`], which throttle
//!   *before* the venue bans us.
//!
//! All timing uses `tokio::time`, so tests can run it under `tokio::time::pause()`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::kit::headers::Usage;

/// Above this venue-side usage fraction the bucket stops entirely until the venue window resets.
const PAUSE_FRACTION: f64 = 0.95;
/// Refill factor applied right at the slowdown threshold; it falls linearly to 0 at 100 %.
const SLOW_FACTOR_AT_THRESHOLD: f64 = 0.5;
/// Slowdowns weaker than this become a pause (a near-zero refill is a pause with extra steps).
const MIN_SLOW_FACTOR: f64 = 0.05;

fn default_threshold() -> f64 {
    0.8
}

fn default_max_pause_secs() -> u64 {
    3600
}

/// `now + d`, or `now + cap` when `d` exceeds `cap` or the sum does not fit an `Instant`: venue values
/// never reach unchecked time arithmetic.
fn later(now: Instant, d: Duration, cap: Duration) -> Instant {
    now.checked_add(d.min(cap)).unwrap_or(now)
}

/// Budget of one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Sustained weight units per second.
    pub rate_per_sec: f64,
    /// Bucket capacity: the largest burst of weight allowed after idling.
    pub burst: f64,
    /// Venue-side usage fraction (from rate-limit headers) above which we slow down, default 0.8.
    #[serde(default = "default_threshold")]
    pub header_slowdown_threshold: f64,
    /// The longest a venue can pause this budget (`Retry-After`, a ban, a usage reset), default 3600 s;
    /// a longer ask pauses this long and the next request learns the rest from the venue.
    #[serde(default = "default_max_pause_secs")]
    pub max_pause_secs: u64,
}

impl BudgetConfig {
    /// A config with the default slowdown threshold.
    #[must_use]
    pub fn new(rate_per_sec: f64, burst: f64) -> Self {
        Self { rate_per_sec, burst, header_slowdown_threshold: default_threshold(), max_pause_secs: default_max_pause_secs() }
    }

    /// Checks that the numbers make a usable bucket.
    ///
    /// # Errors
    /// [`BudgetError::Invalid`] when the rate is not positive and finite, the burst is below 1, or
    /// the threshold is outside `(0, 1]`.
    pub fn validate(&self) -> Result<(), BudgetError> {
        if !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0) {
            return Err(BudgetError::Invalid(format!("rate_per_sec must be > 0, got {}", self.rate_per_sec)));
        }
        if !(self.burst.is_finite() && self.burst >= 1.0) {
            return Err(BudgetError::Invalid(format!("burst must be >= 1, got {}", self.burst)));
        }
        let t = self.header_slowdown_threshold;
        if !(t > 0.0 && t <= 1.0) {
            return Err(BudgetError::Invalid(format!("header_slowdown_threshold must be in (0, 1], got {t}")));
        }
        if self.max_pause_secs == 0 {
            return Err(BudgetError::Invalid("max_pause_secs must be > 0".into()));
        }
        Ok(())
    }
}

/// Errors building budgets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The configuration cannot make a working bucket.
    #[error("invalid budget config: {0}")]
    Invalid(String),
}

/// A point-in-time view of a budget, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetStatus {
    /// Tokens available now.
    pub tokens: f64,
    /// Remaining hard pause (penalty, ban or exhausted venue window), if any.
    pub paused_for: Option<Duration>,
    /// Current refill multiplier (1.0 = normal).
    pub refill_factor: f64,
    /// Remaining time of the reduced refill, if any.
    pub slowed_for: Option<Duration>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
    slowed_until: Option<Instant>,
    slow_factor: f64,
}

/// An async token bucket shared by all sources of one provider.
#[derive(Debug)]
pub struct Budget {
    cfg: BudgetConfig,
    state: Mutex<State>,
    /// Serialises waiters so they are served first-come first-served without a thundering herd.
    turn: tokio::sync::Mutex<()>,
    /// Bumped each time a pause starts or grows (see [`Budget::pauses`]).
    pauses: tokio::sync::watch::Sender<u64>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent even if a holder panicked: every update is a plain assignment.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Budget {
    /// A full bucket.
    ///
    /// # Errors
    /// [`BudgetError::Invalid`] if `cfg` fails [`BudgetConfig::validate`].
    pub fn new(cfg: BudgetConfig) -> Result<Self, BudgetError> {
        cfg.validate()?;
        Ok(Self::unchecked(cfg))
    }

    /// The configuration this budget was built from.
    #[must_use]
    pub fn config(&self) -> &BudgetConfig {
        &self.cfg
    }

    /// Waits until `weight` units are available and takes them. Weights above `burst` are capped
    /// to `burst` so an oversized request can still run (after a full refill).
    pub async fn acquire(&self, weight: u32) {
        let _turn = self.turn.lock().await;
        loop {
            match self.take(weight, Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Takes `weight` units if available now without waiting.
    ///
    /// # Errors
    /// The estimated wait when the units are not available (or another caller is queued first).
    pub fn try_acquire(&self, weight: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(_turn) = self.turn.try_lock() else {
            return Err(self.estimate(weight, now).max(Duration::from_millis(1)));
        };
        self.take(weight, now)
    }

    /// Stops all acquisitions until `until` (from `Retry-After` or a ban). Never shortens an
    /// existing pause. The bucket restarts empty, so the first request after a ban is not a burst.
    /// A pause is never longer than `max_pause_secs` from now. Returns how long the budget is now paused
    /// for (the capped `until`, or a longer pause already held): what a caller reports, not the asked delay.
    pub fn penalize_until(&self, until: Instant) -> Duration {
        self.pause(Instant::now(), until)
    }

    /// [`penalize_until`](Self::penalize_until) as of `now`.
    fn pause(&self, now: Instant, until: Instant) -> Duration {
        let until = until.min(later(now, Duration::MAX, self.max_pause()));
        let mut s = lock(&self.state);
        s.refill(&self.cfg, now);
        let until = s.paused_until.map_or(until, |p| p.max(until));
        s.paused_until = Some(until);
        s.tokens = s.tokens.min(0.0);
        drop(s);
        self.paused();
        until.saturating_duration_since(now)
    }

    /// Tells [`pauses`](Self::pauses) subscribers that a pause started or grew.
    fn paused(&self) {
        self.pauses.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes each time the budget is paused or its pause extended, so a caller can wait
    /// for a ban instead of polling [`status`](Self::status).
    #[must_use]
    pub fn pauses(&self) -> tokio::sync::watch::Receiver<u64> {
        self.pauses.subscribe()
    }

    /// [`penalize_until`](Self::penalize_until) `now + delay`; returns the pause it holds.
    pub fn penalize_for(&self, delay: Duration) -> Duration {
        let now = Instant::now();
        self.pause(now, later(now, delay, self.max_pause()))
    }

    fn max_pause(&self) -> Duration {
        Duration::from_secs(self.cfg.max_pause_secs)
    }

    /// Adaptive throttling from a venue usage reading: `fraction_used` of the venue window is used
    /// and the window resets at `until`.
    ///
    /// Below the threshold nothing changes. Above it the refill rate is cut in proportion to the
    /// headroom left and the stored burst is dropped; at ≥ 95 % the bucket pauses until `until`.
    /// Returns whether throttling was applied. Existing throttling is never loosened early.
    pub fn slow_down(&self, fraction_used: f64, until: Instant) -> bool {
        let threshold = self.cfg.header_slowdown_threshold;
        if !fraction_used.is_finite() || fraction_used < threshold {
            return false;
        }
        let now = Instant::now();
        let mut s = lock(&self.state);
        s.refill(&self.cfg, now);
        let headroom = if threshold >= 1.0 { 0.0 } else { ((1.0 - fraction_used) / (1.0 - threshold)).clamp(0.0, 1.0) };
        let factor = SLOW_FACTOR_AT_THRESHOLD * headroom;
        s.tokens = s.tokens.min(1.0);
        if fraction_used >= PAUSE_FRACTION || factor < MIN_SLOW_FACTOR {
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
            s.tokens = s.tokens.min(0.0);
            drop(s);
            self.paused();
        } else {
            let active = s.slowed_until.is_some_and(|u| u > now);
            s.slow_factor = if active { s.slow_factor.min(factor) } else { factor };
            s.slowed_until = Some(s.slowed_until.filter(|_| active).map_or(until, |u| u.max(until)));
        }
        true
    }

    /// Feeds a parsed venue usage header to [`slow_down`](Self::slow_down). Without a known reset
    /// time the throttle lasts one minute (the common venue window).
    pub fn observe_usage(&self, usage: &Usage, now: DateTime<Utc>) -> bool {
        let reset_in = usage.reset_in(now).unwrap_or(Duration::from_secs(60));
        self.slow_down(usage.fraction_used(), later(Instant::now(), reset_in, self.max_pause()))
    }

    /// Current state, for metrics and tests.
    #[must_use]
    pub fn status(&self) -> BudgetStatus {
        let now = Instant::now();
        let mut s = lock(&self.state);
        s.refill(&self.cfg, now);
        let remaining = |t: Option<Instant>| t.filter(|t| *t > now).map(|t| t - now);
        let slowed_for = remaining(s.slowed_until);
        BudgetStatus {
            tokens: s.tokens,
            paused_for: remaining(s.paused_until),
            refill_factor: if slowed_for.is_some() { s.slow_factor } else { 1.0 },
            slowed_for,
        }
    }

    fn take(&self, weight: u32, now: Instant) -> Result<(), Duration> {
        let mut s = lock(&self.state);
        s.refill(&self.cfg, now);
        let need = f64::from(weight).min(self.cfg.burst);
        if s.paused_until.is_none_or(|p| p <= now) && s.tokens >= need {
            s.tokens -= need;
            return Ok(());
        }
        Err(s.wait_for(&self.cfg, need, now).max(Duration::from_millis(1)))
    }

    fn estimate(&self, weight: u32, now: Instant) -> Duration {
        let mut s = lock(&self.state);
        s.refill(&self.cfg, now);
        s.wait_for(&self.cfg, f64::from(weight).min(self.cfg.burst), now)
    }
}

impl State {
    /// Accrues tokens for the time since `last`: nothing while paused, the reduced rate while slowed.
    fn refill(&mut self, cfg: &BudgetConfig, now: Instant) {
        let start = self.paused_until.map_or(self.last, |p| p.max(self.last));
        if now > start {
            let slow_end = self.slowed_until.map_or(start, |u| u.clamp(start, now));
            let slow = (slow_end - start).as_secs_f64() * cfg.rate_per_sec * self.slow_factor;
            let full = (now - slow_end).as_secs_f64() * cfg.rate_per_sec;
            self.tokens = (self.tokens + slow + full).min(cfg.burst);
        }
        self.last = self.last.max(now);
    }

    /// Time until `need` tokens are available, given the current pause and slowdown.
    fn wait_for(&self, cfg: &BudgetConfig, need: f64, now: Instant) -> Duration {
        let mut t = now;
        if let Some(p) = self.paused_until.filter(|p| *p > now) {
            t = p;
        }
        let mut missing = need - self.tokens;
        if missing <= 0.0 {
            return t - now;
        }
        if let Some(u) = self.slowed_until.filter(|u| *u > t) {
            let slow_rate = cfg.rate_per_sec * self.slow_factor;
            let available = (u - t).as_secs_f64() * slow_rate;
            if available >= missing {
                return (t - now) + Duration::from_secs_f64(missing / slow_rate);
            }
            missing -= available;
            t = u;
        }
        (t - now) + Duration::from_secs_f64(missing / cfg.rate_per_sec)
    }
}

/// Budgets keyed by provider name: sources naming the same provider share one bucket.
#[derive(Debug)]
pub struct BudgetRegistry {
    configs: BTreeMap<String, BudgetConfig>,
    default: BudgetConfig,
    budgets: Mutex<HashMap<String, Arc<Budget>>>,
}

impl BudgetRegistry {
    /// A registry with per-provider configs and a default for unnamed providers.
    ///
    /// # Errors
    /// [`BudgetError::Invalid`] naming the first invalid config.
    pub fn new(configs: BTreeMap<String, BudgetConfig>, default: BudgetConfig) -> Result<Self, BudgetError> {
        default.validate().map_err(|e| BudgetError::Invalid(format!("default: {e}")))?;
        for (name, cfg) in &configs {
            cfg.validate().map_err(|e| BudgetError::Invalid(format!("{name}: {e}")))?;
        }
        Ok(Self { configs, default, budgets: Mutex::new(HashMap::new()) })
    }

    /// The shared budget of `provider`, created on first use from its config (or the default).
    #[must_use]
    pub fn get(&self, provider: &str) -> Arc<Budget> {
        let mut map = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = map.get(provider) {
            return Arc::clone(b);
        }
        let cfg = self.configs.get(provider).unwrap_or(&self.default).clone();
        // Configs were validated in `new`, so construction cannot fail; fall back defensively.
        let budget = Arc::new(Budget::new(cfg).unwrap_or_else(|_| Budget::unchecked(self.default.clone())));
        map.insert(provider.to_owned(), Arc::clone(&budget));
        budget
    }

    /// Status of every budget created so far, by provider name.
    #[must_use]
    pub fn statuses(&self) -> BTreeMap<String, BudgetStatus> {
        let map = self.budgets.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, b)| (k.clone(), b.status())).collect()
    }
}

impl Budget {
    fn unchecked(cfg: BudgetConfig) -> Self {
        let state = State { tokens: cfg.burst, last: Instant::now(), paused_until: None, slowed_until: None, slow_factor: 1.0 };
        Self { cfg, state: Mutex::new(state), turn: tokio::sync::Mutex::new(()), pauses: tokio::sync::watch::Sender::new(0) }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
