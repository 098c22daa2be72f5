//! [`PaperReader`] over the ledger DB: the paper tables, and the paper events kept whole in `events`
//! (a trade row's event body is the record itself, so a read returns exactly what was published).

use async_trait::async_trait;
use nl_domain::paper_read::{ExperimentRecord, FillQuery, PaperReader, RunTrades, StrategyRunRecord};
use nl_domain::{Envelope, OrderFilled, ReadError};
use serde::de::DeserializeOwned;
use sqlx::AssertSqlSafe;

use crate::SqliteReader;
use crate::error::LedgerError;

fn unavailable(e: impl std::fmt::Display) -> ReadError {
    ReadError::Unavailable(e.to_string())
}

fn corrupt(e: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(e.to_string())
}

type SpecRow = (String, String, String, String, String, String, Option<String>);
type RunRow = (String, String, String, Option<String>, String, Option<String>, String);

fn experiment(r: SpecRow) -> Result<ExperimentRecord, ReadError> {
    let (experiment_id, status, spec_json, spec_sha256, created_at, updated_at, frozen_at) = r;
    Ok(ExperimentRecord {
        status: status.parse().map_err(corrupt)?,
        spec: serde_json::from_str(&spec_json).map_err(|e| corrupt(format!("spec_json of {experiment_id}: {e}")))?,
        experiment_id,
        spec_sha256,
        created_at,
        updated_at,
        frozen_at,
    })
}

fn strategy_run(r: RunRow) -> Result<StrategyRunRecord, ReadError> {
    let (run_id, mode, settings, source_run_id, started_at, ended_at, status) = r;
    Ok(StrategyRunRecord {
        settings: serde_json::from_str(&settings).map_err(|e| corrupt(format!("settings_json of {run_id}: {e}")))?,
        run_id,
        mode,
        source_run_id,
        started_at,
        ended_at,
        status,
    })
}

/// The typed body of a stored paper event's envelope.
pub(crate) fn body<T: DeserializeOwned>(text: &str) -> Result<T, ReadError> {
    let env = Envelope::from_json(text.as_bytes()).map_err(corrupt)?;
    T::deserialize(&env.meta).map_err(|e| corrupt(format!("{} {}: {e}", env.kind, env.event_id)))
}

const SPEC_COLS: &str = "experiment_id, status, spec_json, spec_sha256, created_at, updated_at, frozen_at";
const RUN_COLS: &str = "run_id, mode, settings_json, source_run_id, started_at, ended_at, status";

impl SqliteReader {
    /// `table` is one of the paper tables (a constant at every call).
    async fn bodies<T: DeserializeOwned>(&self, table: &'static str, run_id: &str) -> Result<Vec<T>, ReadError> {
        let sql = format!("SELECT e.body FROM {table} t JOIN events e ON e.event_id = t.event_id WHERE t.run_id = ? ORDER BY e.seq");
        let rows: Vec<Option<String>> = sqlx::query_scalar(AssertSqlSafe(sql)).bind(run_id).fetch_all(self.pool()).await.map_err(unavailable)?;
        rows.into_iter().flatten().map(|b| body(&b)).collect()
    }
}

#[async_trait]
impl PaperReader for SqliteReader {
    async fn experiments(&self) -> Result<Vec<ExperimentRecord>, ReadError> {
        let rows: Vec<SpecRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {SPEC_COLS} FROM experiment_specs ORDER BY created_at, experiment_id")))
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(experiment).collect()
    }

    async fn experiment(&self, id: &str) -> Result<Option<ExperimentRecord>, ReadError> {
        let row: Option<SpecRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {SPEC_COLS} FROM experiment_specs WHERE experiment_id = ?")))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(experiment).transpose()
    }

    async fn strategy_runs(&self, mode: Option<&str>) -> Result<Vec<StrategyRunRecord>, ReadError> {
        let rows: Vec<RunRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLS} FROM strategy_runs WHERE ?1 IS NULL OR mode = ?1 ORDER BY started_at DESC, run_id")))
            .bind(mode)
            .fetch_all(self.pool())
            .await
            .map_err(unavailable)?;
        rows.into_iter().map(strategy_run).collect()
    }

    async fn strategy_run(&self, run_id: &str) -> Result<Option<StrategyRunRecord>, ReadError> {
        let row: Option<RunRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLS} FROM strategy_runs WHERE run_id = ?")))
            .bind(run_id)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?;
        row.map(strategy_run).transpose()
    }

    async fn fills(&self, q: &FillQuery) -> Result<Vec<OrderFilled>, ReadError> {
        let limit = i64::from(q.limit.unwrap_or(1000).clamp(1, 100_000));
        let rows: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT e.body FROM fills f JOIN events e ON e.event_id = f.event_id \
             WHERE (?1 IS NULL OR f.run_id = ?1) AND (?2 IS NULL OR f.learning_book = ?2) AND (?3 IS NULL OR f.experiment_id = ?3) \
             ORDER BY e.seq LIMIT ?4",
        )
        .bind(q.run_id.as_deref())
        .bind(q.learning_book.map(i64::from))
        .bind(q.experiment_id.as_deref())
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.into_iter().flatten().map(|b| body(&b)).collect()
    }

    async fn run_trades(&self, run_id: &str) -> Result<RunTrades, ReadError> {
        Ok(RunTrades {
            orders: self.bodies("orders", run_id).await?,
            fills: self.bodies("fills", run_id).await?,
            positions: self.bodies("position_snapshots", run_id).await?,
            blocks: self.bodies("block_events", run_id).await?,
        })
    }
}

impl SqliteReader {
    /// The events a backtest replays, in time order: gate decisions, snapshots, risk evaluations and asset
    /// upserts of `run_id` (or of every run) with `ts` in `[from, to)` (RFC 3339 bounds, either optional).
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] when a stored row does not rebuild.
    pub async fn replay_inputs(&self, run_id: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Vec<Envelope>, LedgerError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM events WHERE type IN ('asset.upserted', 'snapshot.recorded', 'risk.evaluated', 'candidate.promoted', 'candidate.rejected') \
             AND (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR ts >= ?2) AND (?3 IS NULL OR ts < ?3) ORDER BY ts, seq",
        )
        .bind(run_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(2000) {
            let chunk: Vec<nl_domain::EventId> = chunk.iter().map(|i| nl_domain::EventId(i.clone())).collect();
            out.extend(self.envelopes(&chunk).await?);
        }
        Ok(out)
    }

    /// The replay inputs committed after event sequence `after` with `ts >= from` (when given), at most
    /// `limit`, in commit order, and the last sequence read (`after` when none): a paper session follows
    /// the ledger with it.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] when a stored row does not rebuild.
    pub async fn replay_inputs_after(&self, after: i64, from: Option<&str>, limit: u32) -> Result<(Vec<Envelope>, i64), LedgerError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, event_id FROM events WHERE seq > ?1 AND (?2 IS NULL OR ts >= ?2) AND type IN ('asset.upserted', 'snapshot.recorded', \
             'risk.evaluated', 'candidate.promoted', 'candidate.rejected', 'experiment.created', 'experiment.status_changed') ORDER BY seq LIMIT ?3",
        )
        .bind(after)
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let last = rows.last().map_or(after, |r| r.0);
        let ids: Vec<nl_domain::EventId> = rows.into_iter().map(|r| nl_domain::EventId(r.1)).collect();
        Ok((self.envelopes(&ids).await?, last))
    }
}
