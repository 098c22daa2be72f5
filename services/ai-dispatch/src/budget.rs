//! Token budgets, per-layer concurrency and a circuit breaker. A call reserves its worst case (prompt
//! estimate plus `max_tokens`) from the daily and the per-run cap *before* it is made and settles to the
//! actual usage after; a reservation that does not fit is refused and the layer fails closed
//! (`ai.failed{reason: budget_exhausted}`). The run cap is per process; the daily cap counts what the
//! ledger's stored AI outputs already spent today, loaded when an AI process starts ([`Budget::preload`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::BudgetConfig;
use crate::layers::Layer;

/// Why a call may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BudgetExhausted,
    BreakerOpen,
}

impl Refusal {
    /// The `ai.failed` reason code.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::BudgetExhausted => "budget_exhausted",
            Self::BreakerOpen => "circuit_open",
        }
    }
}

/// What `nl ai budget` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetView {
    pub day: NaiveDate,
    pub daily_used: u64,
    pub daily_cap: u64,
    pub run_used: u64,
    pub run_cap: u64,
    pub breaker_open: bool,
    pub consecutive_failures: u32,
}

#[derive(Debug)]
struct State {
    day: NaiveDate,
    daily_used: u64,
    run_used: u64,
    failures: u32,
    open_until: Option<Instant>,
}

/// The budget of one process.
#[derive(Debug)]
pub struct Budget {
    cfg: BudgetConfig,
    state: Mutex<State>,
    permits: [Arc<Semaphore>; 4],
}

/// Tokens held by one call until it settles.
#[derive(Debug)]
pub struct Reservation {
    tokens: u64,
    _permit: OwnedSemaphorePermit,
}

impl Budget {
    #[must_use]
    pub fn new(cfg: BudgetConfig, today: NaiveDate) -> Self {
        let n = cfg.concurrency_per_layer;
        Self {
            state: Mutex::new(State { day: today, daily_used: 0, run_used: 0, failures: 0, open_until: None }),
            permits: std::array::from_fn(|_| Arc::new(Semaphore::new(n))),
            cfg,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts `spent` tokens already used on `day` (read from the ledger at start) on top of this
    /// process's own use that day.
    pub fn preload(&self, day: NaiveDate, spent: u64) {
        let mut s = self.state();
        if s.day != day {
            s.day = day;
            s.daily_used = 0;
        }
        s.daily_used = s.daily_used.saturating_add(spent);
    }

    /// Waits for a call slot of `layer`, then reserves `tokens` against both caps.
    ///
    /// # Errors
    /// [`Refusal`] when a cap would be exceeded or the breaker is open.
    pub async fn reserve(&self, layer: Layer, tokens: u64, today: NaiveDate) -> Result<Reservation, Refusal> {
        let idx = Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0);
        let permit = Arc::clone(&self.permits[idx]).acquire_owned().await.map_err(|_| Refusal::BreakerOpen)?;
        let mut s = self.state();
        if s.day != today {
            s.day = today;
            s.daily_used = 0;
        }
        if let Some(until) = s.open_until {
            if Instant::now() < until {
                return Err(Refusal::BreakerOpen);
            }
            s.open_until = None;
        }
        if s.daily_used.saturating_add(tokens) > self.cfg.daily_cap || s.run_used.saturating_add(tokens) > self.cfg.run_cap {
            return Err(Refusal::BudgetExhausted);
        }
        s.daily_used += tokens;
        s.run_used += tokens;
        Ok(Reservation { tokens, _permit: permit })
    }

    /// Replaces the reservation with what the call used (`None`: it failed; the reservation is returned)
    /// and feeds the breaker.
    pub fn settle(&self, r: Reservation, used: Option<u64>) {
        let mut s = self.state();
        s.daily_used = s.daily_used.saturating_sub(r.tokens);
        s.run_used = s.run_used.saturating_sub(r.tokens);
        match used {
            Some(n) => {
                s.daily_used += n;
                s.run_used += n;
                s.failures = 0;
            }
            None => {
                s.failures += 1;
                if s.failures >= self.cfg.breaker_failures {
                    s.open_until = Some(Instant::now() + Duration::from_millis(self.cfg.breaker_cooldown_ms));
                }
            }
        }
    }

    #[must_use]
    pub fn view(&self) -> BudgetView {
        let s = self.state();
        BudgetView {
            day: s.day,
            daily_used: s.daily_used,
            daily_cap: self.cfg.daily_cap,
            run_used: s.run_used,
            run_cap: self.cfg.run_cap,
            breaker_open: s.open_until.is_some_and(|u| Instant::now() < u),
            consecutive_failures: s.failures,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    #[tokio::test]
    async fn caps_are_reserved_before_the_call_and_settled_after() {
        let b = Budget::new(BudgetConfig { daily_cap: 1000, run_cap: 600, ..BudgetConfig::default() }, day());
        let r = b.reserve(Layer::L1, 500, day()).await.unwrap();
        assert_eq!(b.reserve(Layer::L2, 200, day()).await.unwrap_err(), Refusal::BudgetExhausted);
        b.settle(r, Some(100));
        assert_eq!(b.view().run_used, 100);
        let r = b.reserve(Layer::L2, 500, day()).await.unwrap();
        b.settle(r, Some(500));
        assert_eq!(b.reserve(Layer::L1, 1, day()).await.unwrap_err(), Refusal::BudgetExhausted);
    }

    #[tokio::test]
    async fn spend_loaded_at_start_counts_against_the_daily_cap_only() {
        let b = Budget::new(BudgetConfig { daily_cap: 1000, run_cap: 1000, ..BudgetConfig::default() }, day());
        b.preload(day(), 900);
        assert_eq!(b.reserve(Layer::L1, 200, day()).await.unwrap_err(), Refusal::BudgetExhausted);
        let r = b.reserve(Layer::L1, 100, day()).await.unwrap();
        b.settle(r, Some(100));
        assert_eq!((b.view().daily_used, b.view().run_used), (1000, 100), "the run cap counts this process only");
        let tomorrow = day().succ_opt().unwrap();
        assert!(b.reserve(Layer::L1, 500, tomorrow).await.is_ok(), "a new day starts at 0");
    }

    #[tokio::test]
    async fn the_breaker_opens_after_consecutive_failures() {
        let b = Budget::new(BudgetConfig { breaker_failures: 2, ..BudgetConfig::default() }, day());
        for _ in 0..2 {
            let r = b.reserve(Layer::L1, 1, day()).await.unwrap();
            b.settle(r, None);
        }
        assert_eq!(b.reserve(Layer::L1, 1, day()).await.unwrap_err(), Refusal::BreakerOpen);
        assert!(b.view().breaker_open);
    }
}
