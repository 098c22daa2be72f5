//! Paper trading's event bodies: orders, fills, positions, blocks, experiments and the learning gate.
//!
//! Every body carries the book tags ([`BookTags`]): `learning_book` and `experiment_id`, flattened into the
//! meta, with `experiment_id` present exactly when `learning_book` is true (the same rule as the DB's
//! `CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))`). Nothing here places an order: these are
//! paper records.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Envelope, EventType, ExperimentSpec, ExperimentStatus, Ts};

/// The two tags every paper record carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BookTags {
    pub learning_book: bool,
    pub experiment_id: Option<String>,
}

impl BookTags {
    /// The profit book.
    #[must_use]
    pub fn profit() -> Self {
        Self { learning_book: false, experiment_id: None }
    }

    /// The learning book, for experiment `id`.
    #[must_use]
    pub fn learning(id: impl Into<String>) -> Self {
        Self { learning_book: true, experiment_id: Some(id.into()) }
    }

    /// `learning_book` ⇔ `experiment_id` present (and not empty).
    ///
    /// # Errors
    /// A message saying which half is missing.
    pub fn check(&self) -> Result<(), String> {
        match (self.learning_book, self.experiment_id.as_deref()) {
            (true, Some(id)) if !id.is_empty() => Ok(()),
            (true, _) => Err("learning_book = true needs an experiment_id".into()),
            (false, None) => Ok(()),
            (false, Some(_)) => Err("experiment_id is set but learning_book = false".into()),
        }
    }

    /// `profit` or `learning`.
    #[must_use]
    pub fn book(&self) -> &'static str {
        if self.learning_book { "learning" } else { "profit" }
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// The learning budget an order draws on (learning orders only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAllocation {
    /// The UTC day the budget belongs to (`YYYY-MM-DD`); it resets at midnight.
    pub budget_day: String,
    pub allocated_usd: Decimal,
    /// Used today including this order.
    pub budget_used_usd: Decimal,
    pub budget_limit_usd: Decimal,
}

/// `order.submitted`: a paper order, decided at `decided_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSubmitted {
    #[serde(flatten)]
    pub tags: BookTags,
    pub order_id: String,
    /// The position it opens (entry) or closes (exit): the entry order's id.
    pub position_id: String,
    pub asset_id: String,
    pub side: Side,
    /// Buys: USD to spend. Sells: the entry notional being closed.
    pub notional_usd: Decimal,
    /// Sells: tokens to sell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// `entry`, `take_profit`, `stop_loss`, `max_hold` or `session_end`.
    pub intent: String,
    /// The decision (entry) or snapshot (exit) that caused it.
    pub signal_event_id: String,
    pub decided_at: Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_allocation: Option<RiskAllocation>,
}

/// `order.filled`: the paper fill of an order, priced by the fill model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFilled {
    #[serde(flatten)]
    pub tags: BookTags,
    pub order_id: String,
    pub fill_id: String,
    pub asset_id: String,
    pub side: Side,
    /// The snapshot price the fill was priced from.
    pub mark_price: Decimal,
    /// The effective price paid or received (impact and spread included; fees apart).
    pub price: Decimal,
    pub quantity: Decimal,
    pub notional_usd: Decimal,
    pub fee_usd: Decimal,
    pub tax_usd: Decimal,
    pub gas_usd: Decimal,
    /// `(price - mark) / mark` in basis points, signed against the trader.
    pub slippage_bps: Decimal,
    pub snapshot_event_id: String,
    pub filled_at: Ts,
    pub fill_model: String,
    pub rng_seed: u64,
    /// What the model assumed (e.g. reserves = liquidity_usd / 2 per side).
    pub assumptions: Vec<String>,
}

/// `position.updated`: a position after a fill or a mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionUpdated {
    #[serde(flatten)]
    pub tags: BookTags,
    pub position_id: String,
    pub asset_id: String,
    /// `open` or `closed`.
    pub status: String,
    pub quantity: Decimal,
    pub entry_notional_usd: Decimal,
    pub avg_entry_price: Decimal,
    pub mark_price: Decimal,
    pub unrealized_pnl_usd: Decimal,
    pub realized_pnl_usd: Decimal,
    pub fees_usd: Decimal,
    /// A held honeypot: unsellable, marked to 0.
    #[serde(default)]
    pub honeypot: bool,
    pub at: Ts,
}

/// `trade.blocked`: a signal that placed no order, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeBlocked {
    #[serde(flatten)]
    pub tags: BookTags,
    pub asset_id: String,
    pub side: Side,
    pub signal_event_id: String,
    pub reason_codes: Vec<String>,
    pub blocked_at: Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// `experiment.created`: a spec stored as `draft`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentCreated {
    #[serde(flatten)]
    pub tags: BookTags,
    pub spec: ExperimentSpec,
    pub spec_sha256: String,
    pub created_at: Ts,
}

/// `experiment.status_changed`: one legal step of the status machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentStatusChanged {
    #[serde(flatten)]
    pub tags: BookTags,
    pub from: ExperimentStatus,
    pub to: ExperimentStatus,
    /// The spec hash, frozen when it starts running.
    pub spec_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub changed_at: Ts,
}

/// `learning.gate_updated`: the learning budget and active zones of one experiment after a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningGateUpdated {
    #[serde(flatten)]
    pub tags: BookTags,
    pub budget_day: String,
    pub budget_used_usd: Decimal,
    pub budget_limit_usd: Decimal,
    pub zones_active: Vec<String>,
    pub at: Ts,
}

/// `strategy_run.started` / `strategy_run.completed`: a paper session or backtest with its settings
/// (the learning-book settings included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRun {
    /// `paper` or `backtest`.
    pub mode: String,
    pub settings: serde_json::Value,
    pub experiment_ids: Vec<String>,
    pub started_at: Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Ts>,
    /// The run a backtest replayed (`None` for a time range or a paper session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
}

/// The tags of a paper event's meta, when it is one.
#[must_use]
pub fn tags_of(kind: EventType, meta: &serde_json::Value) -> Option<BookTags> {
    use EventType as T;
    match kind {
        T::OrderSubmitted | T::OrderFilled | T::PositionUpdated | T::TradeBlocked | T::ExperimentCreated | T::ExperimentStatusChanged | T::LearningGateUpdated => {
            BookTags::deserialize(meta).ok()
        }
        _ => None,
    }
}

/// Builds a paper envelope of `kind` with `body` as its meta.
#[must_use]
pub fn paper_envelope<B: Serialize>(kind: EventType, id_parts: &[&str], ts: Ts, run: &crate::RunIdentity, asset_id: Option<&str>, body: &B) -> Envelope {
    let meta = serde_json::to_value(body).unwrap_or(serde_json::Value::Null);
    let env = Envelope::new(kind, id_parts, ts, &run.run_id, &run.config_hash, meta).with_source("paper");
    match asset_id {
        Some(a) => env.with_asset(a),
        None => env,
    }
}
