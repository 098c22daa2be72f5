//! `[paper]`: the profit book's strategy, the fill model's fees and caps, and the learning book's budget.
//! The fee model has no default: a paper service or backtest without `[paper.fees]` refuses to start.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::PaperError;

/// `[paper.strategy]`: the profit book. Enters on `candidate.promoted`, exits on take-profit, stop-loss or
/// max holding time, marked on each snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    pub enabled: bool,
    pub notional_usd: Decimal,
    pub take_profit_pct: Decimal,
    pub stop_loss_pct: Decimal,
    pub max_hold_minutes: u32,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self { enabled: true, notional_usd: Decimal::ONE_HUNDRED, take_profit_pct: Decimal::from(50), stop_loss_pct: Decimal::from(25), max_hold_minutes: 240 }
    }
}

/// `[paper.fees]`: the costs the fill model charges. Every key is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeModel {
    /// DEX pool fee, percent of the amount in (Uniswap V2: 0.3).
    pub dex_pool_fee_pct: Decimal,
    /// Gas per DEX swap, USD.
    pub dex_gas_usd: Decimal,
    /// CEX taker fee, percent of notional.
    pub cex_taker_fee_pct: Decimal,
    /// CEX bid-ask spread at listing (age 0), bps; decays toward the floor with the half-life.
    pub cex_spread_bps_at_listing: Decimal,
    pub cex_spread_bps_floor: Decimal,
    pub cex_spread_half_life_minutes: u32,
}

/// `[paper.caps]`: fills that would move the price or the market too much are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapsConfig {
    /// Most price impact (DEX) or half-spread (CEX) a fill may take, percent.
    pub max_impact_pct: Decimal,
    /// Most of the 24 h volume one order may be, percent (unknown volume: not checked).
    pub max_participation_pct: Decimal,
}

impl Default for CapsConfig {
    fn default() -> Self {
        Self { max_impact_pct: Decimal::from(5), max_participation_pct: Decimal::from(10) }
    }
}

/// `[paper.learning]`: the learning book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningConfig {
    pub enabled: bool,
    /// Share of `equity_usd` the learning book may commit per UTC day (reset at midnight), percent.
    pub daily_risk_budget_pct: Decimal,
    pub equity_usd: Decimal,
    /// Experiments to run (empty: every running one).
    pub experiment_ids: Vec<String>,
    /// The current regime label, matched by `regime` no-learn zones (empty: none).
    pub regime: String,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self { enabled: false, daily_risk_budget_pct: Decimal::ONE, equity_usd: Decimal::from(10_000), experiment_ids: Vec::new(), regime: String::new() }
    }
}

/// `[paper]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConfig {
    /// Part of `nl run` (embedded) when true.
    pub enabled: bool,
    /// Durable consumer name of `nl serve paper`.
    pub durable: String,
    /// Fill model version; only `snapshot_v1` exists.
    pub fill_model: String,
    /// An order fills at the first snapshot at or after its decision time plus this.
    pub decision_latency_ms: u64,
    /// A first snapshot later than decision + latency + this is stale: the order is blocked `no_fresh_price`.
    pub max_price_wait_secs: u64,
    /// Seed of the deterministic sampler (carried on every fill).
    pub rng: u64,
    pub strategy: StrategyConfig,
    /// No default: required.
    pub fees: Option<FeeModel>,
    pub caps: CapsConfig,
    pub learning: LearningConfig,
    pub batch_size: usize,
    pub fetch_wait_ms: u64,
    pub ack_wait_ms: u64,
    pub max_deliver: u32,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            durable: "paper".into(),
            fill_model: crate::fill::MODEL_VERSION.into(),
            decision_latency_ms: 1_000,
            max_price_wait_secs: 900,
            rng: 0,
            strategy: StrategyConfig::default(),
            fees: None,
            caps: CapsConfig::default(),
            learning: LearningConfig::default(),
            batch_size: 256,
            fetch_wait_ms: 500,
            ack_wait_ms: 30_000,
            max_deliver: 5,
        }
    }
}

impl PaperConfig {
    /// The fee model, validated.
    ///
    /// # Errors
    /// [`PaperError::Config`] when `[paper.fees]` is missing or any value is out of range, naming the key.
    pub fn validate(&self) -> Result<&FeeModel, PaperError> {
        let bad = |m: String| Err(PaperError::Config(m));
        if self.fill_model != crate::fill::MODEL_VERSION {
            return bad(format!("[paper] fill_model = {:?} is unknown (known: {})", self.fill_model, crate::fill::MODEL_VERSION));
        }
        let Some(fees) = &self.fees else {
            return bad("[paper.fees] is not configured: the fill model needs an explicit fee model (dex_pool_fee_pct, dex_gas_usd, cex_taker_fee_pct, cex_spread_bps_at_listing, cex_spread_bps_floor, cex_spread_half_life_minutes)".into());
        };
        let hundred = Decimal::ONE_HUNDRED;
        for (k, v, max) in [
            ("fees.dex_pool_fee_pct", fees.dex_pool_fee_pct, hundred),
            ("fees.cex_taker_fee_pct", fees.cex_taker_fee_pct, hundred),
            ("fees.dex_gas_usd", fees.dex_gas_usd, Decimal::MAX),
            ("fees.cex_spread_bps_at_listing", fees.cex_spread_bps_at_listing, Decimal::from(10_000)),
            ("fees.cex_spread_bps_floor", fees.cex_spread_bps_floor, fees.cex_spread_bps_at_listing),
            ("caps.max_impact_pct", self.caps.max_impact_pct, hundred),
            ("caps.max_participation_pct", self.caps.max_participation_pct, hundred),
            ("learning.daily_risk_budget_pct", self.learning.daily_risk_budget_pct, hundred),
        ] {
            if v < Decimal::ZERO || v > max {
                return bad(format!("[paper] {k} = {v} is out of range [0, {max}]"));
            }
        }
        let s = &self.strategy;
        if s.notional_usd <= Decimal::ZERO || s.take_profit_pct <= Decimal::ZERO || s.stop_loss_pct <= Decimal::ZERO || s.max_hold_minutes == 0 {
            return bad("[paper.strategy] notional_usd, take_profit_pct, stop_loss_pct and max_hold_minutes must be positive".into());
        }
        if self.learning.equity_usd <= Decimal::ZERO {
            return bad("[paper.learning] equity_usd must be positive".into());
        }
        if !(1..=10_000).contains(&self.batch_size) || self.fetch_wait_ms == 0 {
            return bad("[paper] batch_size must be 1..=10000 and fetch_wait_ms positive".into());
        }
        Ok(fees)
    }

    /// The settings a strategy run records (learning-book settings included).
    #[must_use]
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::json!({
            "fill_model": self.fill_model,
            "decision_latency_ms": self.decision_latency_ms,
            "max_price_wait_secs": self.max_price_wait_secs,
            "rng_seed": self.rng,
            "strategy": self.strategy,
            "fees": self.fees,
            "caps": self.caps,
            "learning_book": {
                "learning_book_enabled": self.learning.enabled,
                "learning_daily_risk_budget_pct": self.learning.daily_risk_budget_pct,
                "equity_usd": self.learning.equity_usd,
                "experiment_ids": self.learning.experiment_ids,
                "regime": self.learning.regime,
            },
        })
    }
}
