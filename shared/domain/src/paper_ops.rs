//! What the `/v1` ops API asks of the paper side: the request bodies (the seed's BacktestConfig and
//! PaperTradingSessionConfig fields) and the actions behind them. The `nl` binary implements
//! [`PaperOps`] (it links the paper engine); the web service holds it as a trait object, so no service
//! depends on another.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ExperimentSpec, ExperimentStatus};

/// `POST /v1/backtests`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Replay this recorded run, or the `[from, to)` time range.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub learning_book_enabled: bool,
    #[serde(default)]
    pub experiment_id: Option<String>,
    /// An inline ExperimentSpec (validated; not stored).
    #[serde(default)]
    pub experiment_spec: Option<serde_json::Value>,
    #[serde(default)]
    pub learning_daily_risk_budget_pct: Option<Decimal>,
    #[serde(default)]
    pub seed: Option<u64>,
}

/// `POST /v1/paper-sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperSessionRequest {
    #[serde(default)]
    pub learning_book_enabled: bool,
    #[serde(default)]
    pub experiment_id: Option<String>,
    #[serde(default)]
    pub experiment_spec: Option<serde_json::Value>,
    #[serde(default)]
    pub learning_daily_risk_budget_pct: Option<Decimal>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// Follow the ledger's events from this RFC 3339 time (default: from now).
    #[serde(default)]
    pub from: Option<String>,
}

/// `PATCH /v1/experiments/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: ExperimentStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Why an ops action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpsError {
    /// 400: the request is wrong at `path`.
    #[error("{path}: {message}")]
    BadRequest { path: String, message: String },
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: e.g. an illegal status step, or an id that exists.
    #[error("{0}")]
    Conflict(String),
    /// 503/500: the store or bus failed.
    #[error("{0}")]
    Failed(String),
}

/// The paper actions of the ops API.
#[async_trait]
pub trait PaperOps: Send + Sync + 'static {
    /// Stores `spec` as a draft (`experiment.created`).
    ///
    /// # Errors
    /// [`OpsError::Conflict`] when the id exists.
    async fn create_experiment(&self, spec: ExperimentSpec) -> Result<(), OpsError>;

    /// One step of the status machine (`experiment.status_changed`).
    ///
    /// # Errors
    /// [`OpsError::NotFound`], or [`OpsError::Conflict`] for an illegal step.
    async fn set_experiment_status(&self, id: &str, to: ExperimentStatus, reason: Option<String>) -> Result<(), OpsError>;

    /// Runs a backtest to completion; returns its run id.
    ///
    /// # Errors
    /// [`OpsError::BadRequest`] naming the field, or a failure.
    async fn run_backtest(&self, req: BacktestRequest) -> Result<String, OpsError>;

    /// Starts a paper session; returns its run id.
    ///
    /// # Errors
    /// [`OpsError::BadRequest`] naming the field, or a failure.
    async fn start_session(&self, req: PaperSessionRequest) -> Result<String, OpsError>;

    /// Stops a session this process started.
    ///
    /// # Errors
    /// [`OpsError::NotFound`] when it is not running here.
    async fn stop_session(&self, run_id: &str) -> Result<(), OpsError>;

    /// The report of a run grouped by `group_by` (book, experiment_id, reason_code), as JSON.
    ///
    /// # Errors
    /// [`OpsError::BadRequest`] for an unknown key, [`OpsError::NotFound`] for an unknown run.
    async fn report(&self, run_id: &str, group_by: &str) -> Result<serde_json::Value, OpsError>;
}
