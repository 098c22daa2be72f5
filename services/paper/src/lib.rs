//! Paper trading for nl: the profit book and the learning book (issue #18).
//!
//! * [`engine`]: signal → order → fill → position, one engine for paper sessions and backtests.
//! * [`fill`]: fill model `snapshot_v1` (no look-ahead, DEX constant-product, CEX spread, caps).
//! * [`gate`]: the learning gate (no-learn zones, daily budget, per-spec caps), separate from L5.
//! * [`backtest`]: replays stored events through the engine.
//! * [`report`]: profit and learning PnL apart, per experiment metrics with a bootstrap interval.
//! * [`service`]: `nl serve paper` and the embedded service of `nl run`.
//!
//! Everything is paper: no code here or anywhere in nl places an order; L6 stays blocked.
#![forbid(unsafe_code)]

pub mod backtest;
pub mod config;
pub mod engine;
pub mod fill;
pub mod gate;
/// The report lives in `nl_domain::paper_report`, so the dashboard renders it without this service.
pub use nl_domain::paper_report as report;
pub mod service;

pub use config::{FeeModel, PaperConfig};
pub use engine::{Engine, Experiment};

/// Errors of the paper service.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error("invalid paper config: {0}")]
    Config(String),
    #[error("bus: {0}")]
    Bus(#[from] nl_bus::BusError),
}
