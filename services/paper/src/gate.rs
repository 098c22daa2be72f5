//! The learning gate: deterministic, separate from L5, and blind to AI output (its inputs are the spec,
//! the signal's time, the venue's scheduled start, the configured regime label and the book's own
//! budget). It answers "allowed" or the reason codes a learning signal is blocked with:
//! no-learn zones (`no_learn_window`, `no_learn_regime`, `venue_not_open`), the daily learning budget
//! (`learning_budget_exhausted`, reset at UTC midnight) and the spec's caps (`spec_max_open_positions`,
//! `spec_max_notional`).

use std::collections::BTreeMap;

use chrono::Timelike;
use nl_domain::experiment::NoLearnZone;
use nl_domain::{ExperimentSpec, Ts};
use rust_decimal::Decimal;

/// The learning book's budget for one UTC day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    pub day: String,
    pub used_usd: Decimal,
}

/// One experiment's open exposure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecExposure {
    pub open_positions: u32,
    pub open_notional_usd: Decimal,
}

/// The gate's state: today's budget, and each experiment's open exposure.
#[derive(Debug, Clone, Default)]
pub struct LearningGate {
    pub limit_usd: Decimal,
    pub regime: Option<String>,
    pub budget: Budget,
    pub exposure: BTreeMap<String, SpecExposure>,
}

/// The UTC day of `t`, `YYYY-MM-DD`.
#[must_use]
pub fn utc_day(t: Ts) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl LearningGate {
    #[must_use]
    pub fn new(limit_usd: Decimal, regime: &str) -> Self {
        Self { limit_usd, regime: (!regime.is_empty()).then(|| regime.to_string()), ..Self::default() }
    }

    /// The budget as of `at` (a new UTC day starts at 0).
    pub fn roll(&mut self, at: Ts) -> &Budget {
        let day = utc_day(at);
        if self.budget.day != day {
            self.budget = Budget { day, used_usd: Decimal::ZERO };
        }
        &self.budget
    }

    /// The zones of `spec` that hold at `at` (as reason codes), `venue_open_at` being the venue's
    /// scheduled trading start when one is known.
    #[must_use]
    pub fn zones_active(&self, spec: &ExperimentSpec, at: Ts, venue_open_at: Option<Ts>) -> Vec<String> {
        let minute = at.hour() * 60 + at.minute();
        let mut out: Vec<String> = Vec::new();
        for z in &spec.no_learn_zones {
            let holds = match z {
                NoLearnZone::VenueNotOpen => venue_open_at.is_some_and(|open| open > at),
                other => other.holds_at(minute, self.regime.as_deref()),
            };
            if holds && !out.iter().any(|c| c == z.reason_code()) {
                out.push(z.reason_code().to_string());
            }
        }
        out
    }

    /// Checks a learning entry of `notional` for `spec` at `at`: empty = allowed.
    pub fn check(&mut self, spec: &ExperimentSpec, notional: Decimal, at: Ts, venue_open_at: Option<Ts>) -> Vec<String> {
        let mut codes = self.zones_active(spec, at, venue_open_at);
        let exp = self.exposure.get(&spec.spec_id).cloned().unwrap_or_default();
        if exp.open_positions >= spec.risk.max_open_positions {
            codes.push("spec_max_open_positions".into());
        }
        if exp.open_notional_usd + notional > spec.risk.max_notional_usd {
            codes.push("spec_max_notional".into());
        }
        let limit = self.limit_usd;
        if self.roll(at).used_usd + notional > limit {
            codes.push("learning_budget_exhausted".into());
        }
        codes
    }

    /// Books an allowed entry: the budget and the spec's exposure grow.
    pub fn commit(&mut self, spec_id: &str, notional: Decimal, at: Ts) {
        self.roll(at);
        self.budget.used_usd += notional;
        let e = self.exposure.entry(spec_id.to_string()).or_default();
        e.open_positions += 1;
        e.open_notional_usd += notional;
    }

    /// An entry that did not become a position (its fill was refused) or a position that closed.
    pub fn release(&mut self, spec_id: &str, notional: Decimal) {
        if let Some(e) = self.exposure.get_mut(spec_id) {
            e.open_positions = e.open_positions.saturating_sub(1);
            e.open_notional_usd = (e.open_notional_usd - notional).max(Decimal::ZERO);
        }
    }
}
