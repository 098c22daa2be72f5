//! The paper side's reads as `Ledger.View` views (what a CLI or `nl serve web` in distributed mode reads
//! instead of the DB file): the [`PaperReader`] methods, and the replay inputs of a backtest or a paper
//! session ([`ReplayReader`]), each answer bounded (run trades and replay inputs in pages).

use std::collections::HashMap;

use async_trait::async_trait;
use nl_domain::paper_read::{
    FillQuery, FollowPage, FollowQuery, PaperReader, REPLAY_PAGE_MAX, RUN_TRADES_PAGE_MAX, ReplayEvent, ReplayPage, ReplayQuery, ReplayReader, RunTrades,
    RunTradesPage, RunTradesQuery,
};
use nl_domain::{Envelope, EventId, ReadError};
use serde::de::DeserializeOwned;

use crate::SqliteReader;
use crate::error::LedgerError;
use crate::views::ViewError;

/// The views [`answer`] serves, for the unknown-view message.
pub(crate) const PAPER_VIEWS: &str = "experiments, experiment, strategy_runs, strategy_run, fills, run_trades, replay_inputs, replay_inputs_after";

/// At most this many fills in one `fills` answer (a [`FillQuery`] without a limit gets 1000).
pub const FILLS_MAX: u32 = 10_000;

/// A limit of 0 means `max`; more is capped at `max`.
fn cap(limit: u32, max: u32) -> u32 {
    if limit == 0 { max } else { limit.min(max) }
}

pub(crate) fn read_error(e: LedgerError) -> ReadError {
    match e {
        LedgerError::Corrupt(m) => ReadError::Corrupt(m),
        other => ReadError::Unavailable(other.to_string()),
    }
}

impl SqliteReader {
    /// One page of replay inputs (see [`ReplayQuery`]), in commit order, each with its stored `ts`.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] when a stored row does not rebuild.
    pub async fn replay_page(&self, q: &ReplayQuery) -> Result<ReplayPage, LedgerError> {
        let limit = cap(q.limit, REPLAY_PAGE_MAX);
        // The same events as `replay_inputs`.
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, ts, event_id FROM events WHERE seq > ?1 AND type IN ('asset.upserted', 'snapshot.recorded', 'risk.evaluated', \
             'candidate.promoted', 'candidate.rejected') AND (?2 IS NULL OR run_id = ?2) AND (?3 IS NULL OR ts >= ?3) AND (?4 IS NULL OR ts < ?4) \
             ORDER BY seq LIMIT ?5",
        )
        .bind(q.after)
        .bind(q.run_id.as_deref())
        .bind(q.from.as_deref())
        .bind(q.to.as_deref())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let next = if rows.len() == limit as usize { rows.last().map(|r| r.0) } else { None };
        let mut ts: HashMap<String, String> = HashMap::with_capacity(rows.len());
        let ids: Vec<EventId> = rows
            .into_iter()
            .map(|(_, t, id)| {
                ts.insert(id.clone(), t);
                EventId(id)
            })
            .collect();
        let events =
            self.envelopes(&ids).await?.into_iter().map(|event| ReplayEvent { ts: ts.remove(event.event_id.as_str()).unwrap_or_default(), event }).collect();
        Ok(ReplayPage { events, next })
    }

    /// One page of what `q.run_id` traded (see [`RunTradesQuery`]), each list in event order.
    ///
    /// # Errors
    /// [`ReadError`] when the store cannot be read or a stored record does not parse.
    pub async fn run_trades_page(&self, q: &RunTradesQuery) -> Result<RunTradesPage, ReadError> {
        let limit = cap(q.limit, RUN_TRADES_PAGE_MAX);
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT e.seq, t.k, e.body FROM (SELECT 'o' AS k, event_id FROM orders WHERE run_id = ?1 \
             UNION ALL SELECT 'f', event_id FROM fills WHERE run_id = ?1 \
             UNION ALL SELECT 'p', event_id FROM position_snapshots WHERE run_id = ?1 \
             UNION ALL SELECT 'b', event_id FROM block_events WHERE run_id = ?1) AS t \
             JOIN events e ON e.event_id = t.event_id WHERE e.seq > ?2 ORDER BY e.seq LIMIT ?3",
        )
        .bind(&q.run_id)
        .bind(q.after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| ReadError::Unavailable(e.to_string()))?;
        let next = if rows.len() == limit as usize { rows.last().map(|r| r.0) } else { None };
        let mut trades = RunTrades::default();
        for (_, kind, body) in rows {
            let Some(b) = body else { continue };
            match kind.as_str() {
                "o" => trades.orders.push(crate::paper_read::body(&b)?),
                "f" => trades.fills.push(crate::paper_read::body(&b)?),
                "p" => trades.positions.push(crate::paper_read::body(&b)?),
                _ => trades.blocks.push(crate::paper_read::body(&b)?),
            }
        }
        Ok(RunTradesPage { trades, next })
    }
}

#[async_trait]
impl ReplayReader for SqliteReader {
    async fn replay_inputs(&self, run_id: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Vec<Envelope>, ReadError> {
        SqliteReader::replay_inputs(self, run_id, from, to).await.map_err(read_error)
    }

    async fn replay_inputs_after(&self, after: i64, from: Option<&str>, limit: u32) -> Result<(Vec<Envelope>, i64), ReadError> {
        SqliteReader::replay_inputs_after(self, after, from, limit).await.map_err(read_error)
    }
}

/// The JSON answer of the paper view `view` to `query_json`, `None` when `view` is no paper view.
pub(crate) async fn answer(r: &SqliteReader, view: &str, query_json: &str) -> Option<Result<String, ViewError>> {
    fn query<T: DeserializeOwned>(view: &str, q: &str) -> Result<T, ViewError> {
        serde_json::from_str(if q.is_empty() { "null" } else { q }).map_err(|e| ViewError::Request(format!("query of view {view}: {e}")))
    }
    fn json(v: Result<impl serde::Serialize, ReadError>) -> Result<String, ViewError> {
        serde_json::to_string(&v.map_err(ViewError::Read)?).map_err(|e| ViewError::Store(e.into()))
    }
    let q = query_json;
    Some(match view {
        "experiments" => json(r.experiments().await),
        "experiment" => match query::<String>(view, q) {
            Ok(id) => json(r.experiment(&id).await),
            Err(e) => Err(e),
        },
        "strategy_runs" => match query::<Option<String>>(view, q) {
            Ok(mode) => json(r.strategy_runs(mode.as_deref()).await),
            Err(e) => Err(e),
        },
        "strategy_run" => match query::<String>(view, q) {
            Ok(id) => json(r.strategy_run(&id).await),
            Err(e) => Err(e),
        },
        "fills" => match query::<FillQuery>(view, q) {
            Ok(mut fq) => {
                fq.limit = Some(fq.limit.unwrap_or(1000).clamp(1, FILLS_MAX));
                json(r.fills(&fq).await)
            }
            Err(e) => Err(e),
        },
        "run_trades" => match query::<RunTradesQuery>(view, q) {
            Ok(tq) => json(r.run_trades_page(&tq).await),
            Err(e) => Err(e),
        },
        "replay_inputs" => match query::<ReplayQuery>(view, q) {
            Ok(rq) => json(r.replay_page(&rq).await.map_err(read_error)),
            Err(e) => Err(e),
        },
        "replay_inputs_after" => match query::<FollowQuery>(view, q) {
            Ok(fq) => {
                let page = SqliteReader::replay_inputs_after(r, fq.after, fq.from.as_deref(), cap(fq.limit, REPLAY_PAGE_MAX)).await;
                json(page.map(|(events, last)| FollowPage { events, last }).map_err(read_error))
            }
            Err(e) => Err(e),
        },
        _ => return None,
    })
}
