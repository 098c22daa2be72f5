//! What the paper side reads back from the ledger, as domain types: experiment specs with their status,
//! strategy runs, and the trade records of a run. The ledger implements [`PaperReader`]; the CLI, the
//! report and the ops API hold it as a trait object.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::read::ReadError;
use crate::{BookTags, ExperimentSpec, ExperimentStatus, OrderFilled, OrderSubmitted, PositionUpdated, TradeBlocked};

/// A stored experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    pub experiment_id: String,
    pub status: ExperimentStatus,
    pub spec: ExperimentSpec,
    pub spec_sha256: String,
    pub created_at: String,
    pub updated_at: String,
    /// When it first started running (the spec hash is frozen from then on).
    pub frozen_at: Option<String>,
}

/// A stored paper session or backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRunRecord {
    pub run_id: String,
    /// `paper` or `backtest`.
    pub mode: String,
    pub settings: serde_json::Value,
    pub source_run_id: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// `running` or `completed`.
    pub status: String,
}

/// Which fills to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillQuery {
    pub run_id: Option<String>,
    pub learning_book: Option<bool>,
    pub experiment_id: Option<String>,
    pub limit: Option<u32>,
}

/// Everything one run traded, in event order: what a report is computed from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTrades {
    pub orders: Vec<OrderSubmitted>,
    pub fills: Vec<OrderFilled>,
    pub positions: Vec<PositionUpdated>,
    pub blocks: Vec<TradeBlocked>,
}

impl RunTrades {
    /// Every record's tags, in a fixed order (orders, fills, positions, blocks): for tag audits.
    #[must_use]
    pub fn all_tags(&self) -> Vec<&BookTags> {
        let mut out: Vec<&BookTags> = self.orders.iter().map(|o| &o.tags).collect();
        out.extend(self.fills.iter().map(|f| &f.tags));
        out.extend(self.positions.iter().map(|p| &p.tags));
        out.extend(self.blocks.iter().map(|b| &b.tags));
        out
    }
}

/// Reads of the paper tables.
#[async_trait]
pub trait PaperReader: Send + Sync + 'static {
    /// Every experiment, oldest first.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or a row does not parse.
    async fn experiments(&self) -> Result<Vec<ExperimentRecord>, ReadError>;

    /// One experiment.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRecord>, ReadError>;

    /// Strategy runs of `mode` (`None`: both), newest first.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn strategy_runs(&self, mode: Option<&str>) -> Result<Vec<StrategyRunRecord>, ReadError>;

    /// One strategy run.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn strategy_run(&self, run_id: &str) -> Result<Option<StrategyRunRecord>, ReadError>;

    /// Fills matching `q`, in event order.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn fills(&self, q: &FillQuery) -> Result<Vec<OrderFilled>, ReadError>;

    /// Everything `run_id` traded.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn run_trades(&self, run_id: &str) -> Result<RunTrades, ReadError>;
}
