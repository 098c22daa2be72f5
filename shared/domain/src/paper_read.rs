//! What the paper side reads back from the ledger, as domain types: experiment specs with their status,
//! strategy runs, and the trade records of a run; and the recorded events a backtest or a paper session
//! replays ([`ReplayReader`]). The ledger implements both over its DB (embedded mode), the ledger's gRPC
//! client over `Ledger.View` (distributed mode); the CLI, the report and the ops API hold a trait object.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::read::ReadError;
use crate::{BookTags, Envelope, ExperimentSpec, ExperimentStatus, OrderFilled, OrderSubmitted, PositionUpdated, TradeBlocked};

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

/// Reads of the events a backtest replays (gate decisions, snapshots, risk evaluations, asset upserts)
/// and that a paper session follows, besides the paper tables.
#[async_trait]
pub trait ReplayReader: PaperReader {
    /// The replay inputs of `run_id` (or of every run) with `ts` in `[from, to)` (RFC 3339 bounds, either
    /// optional), in time order.
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn replay_inputs(&self, run_id: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Vec<Envelope>, ReadError>;

    /// The replay inputs (and experiment events) committed after event sequence `after` with `ts >= from`
    /// (when given), at most `limit`, in commit order, and the last sequence read (`after` when none).
    ///
    /// # Errors
    /// As [`PaperReader::experiments`].
    async fn replay_inputs_after(&self, after: i64, from: Option<&str>, limit: u32) -> Result<(Vec<Envelope>, i64), ReadError>;
}

/// At most this many events in one page of replay inputs (a [`ReplayPage`] or a [`FollowPage`]) and
/// this many records in one [`RunTradesPage`] over gRPC; a client pages through more.
pub const REPLAY_PAGE_MAX: u32 = 2_000;
pub const RUN_TRADES_PAGE_MAX: u32 = 5_000;

/// One page of [`ReplayReader::replay_inputs`]: the `Ledger.View` query `replay_inputs`. Pages go in
/// commit order (cheap to resume on the events' primary key); the client puts the whole in time order
/// (a stable sort on each event's stored `ts`, which keeps commit order among equal times: the order
/// [`ReplayReader::replay_inputs`] answers in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayQuery {
    pub run_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Events committed after this sequence (0: from the first).
    pub after: i64,
    /// At most this many (capped at [`REPLAY_PAGE_MAX`]; 0 means the cap).
    pub limit: u32,
}

/// A replay input with its stored `ts` (the column the time order is on).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ReplayEvent {
    pub ts: String,
    pub event: Envelope,
}

/// The answer to a [`ReplayQuery`]: `next` is the `after` of the next page, `None` on the last page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ReplayPage {
    pub events: Vec<ReplayEvent>,
    pub next: Option<i64>,
}

/// [`ReplayReader::replay_inputs_after`] as the `Ledger.View` query `replay_inputs_after`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowQuery {
    pub after: i64,
    pub from: Option<String>,
    /// Capped at [`REPLAY_PAGE_MAX`]; 0 means the cap.
    pub limit: u32,
}

/// The answer to a [`FollowQuery`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct FollowPage {
    pub events: Vec<Envelope>,
    pub last: i64,
}

/// One page of [`PaperReader::run_trades`]: the `Ledger.View` query `run_trades`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTradesQuery {
    pub run_id: String,
    /// Records of events committed after this sequence (0: from the first).
    pub after: i64,
    /// Capped at [`RUN_TRADES_PAGE_MAX`]; 0 means the cap.
    pub limit: u32,
}

/// The answer to a [`RunTradesQuery`]: `next` is the `after` of the next page, `None` on the last page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTradesPage {
    pub trades: RunTrades,
    pub next: Option<i64>,
}

impl RunTrades {
    /// Appends `more` (a later page) to these.
    pub fn extend(&mut self, more: RunTrades) {
        self.orders.extend(more.orders);
        self.fills.extend(more.fills);
        self.positions.extend(more.positions);
        self.blocks.extend(more.blocks);
    }
}
