//! Per-run reads the runtime needs (cycle summaries, manifests, re-derivation, `nl diff-runs`), and the two
//! whole-database copies (a dry run's scratch DB, a re-derivation's raws). The ledger owns its SQL: callers
//! get plain values, never a query.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use futures::{Stream, StreamExt};
use nl_domain::RawEvent;
use serde::Serialize;

use crate::db::{migrate_up, open_write_pool};
use crate::error::{LedgerError, Result};
use crate::read::SqliteReader;
use crate::rows::RawRow;

/// The run id that selects every run of a DB in [`SqliteReader::run_decisions`].
pub const ALL_RUNS: &str = "all";

/// What a run concluded: assets first discovered in it, each decided asset's latest decision, and the
/// assets of the DB that no decision covers yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunResults {
    pub discovered: Vec<String>,
    pub promoted: Vec<String>,
    pub rejected: Vec<String>,
    /// Every asset of the DB without a gate decision (in any run), sorted.
    pub undecided: Vec<String>,
}

/// One asset's latest decision in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDecision {
    pub asset_id: String,
    pub decision: String,
    pub reason_codes: Vec<String>,
    /// The score the decision used (exact decimal text), when stored.
    pub score: Option<String>,
    pub rule_set_version: String,
    pub event_id: String,
    pub decided_at: String,
}

type DecisionDbRow = (String, String, String, String, String, String, Option<f64>);

impl SqliteReader {
    /// Every asset id in the DB.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn asset_ids(&self) -> Result<BTreeSet<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT asset_id FROM assets").fetch_all(self.pool()).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The assets `run_id` discovered, promoted and rejected (an asset decided several times in the run
    /// counts once, by its latest decision).
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn run_results(&self, run_id: &str) -> Result<RunResults> {
        let discovered: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT asset_id FROM events WHERE type = 'asset.discovered' AND run_id = ?1 ORDER BY asset_id")
                .bind(run_id)
                .fetch_all(self.pool())
                .await?;
        let decided: Vec<(String, String)> = sqlx::query_as(
            "SELECT g.asset_id, g.decision FROM gate_decisions g WHERE g.run_id = ?1 \
             AND g.id = (SELECT MAX(h.id) FROM gate_decisions h WHERE h.asset_id = g.asset_id AND h.run_id = ?1) ORDER BY g.asset_id",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        let of = |want: &str| decided.iter().filter(|(_, d)| d == want).map(|(a, _)| a.clone()).collect();
        let undecided = self.undecided().await?;
        Ok(RunResults { discovered: discovered.into_iter().map(|r| r.0).collect(), promoted: of("promoted"), rejected: of("rejected"), undecided })
    }

    /// Every asset without a gate decision, sorted: each discovered asset should reach one (a rejection with
    /// `NO_MARKET_DATA` at least), so a non-empty list names assets the pipeline lost or has not finished.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn undecided(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT a.asset_id FROM assets a WHERE NOT EXISTS (SELECT 1 FROM gate_decisions g WHERE g.asset_id = a.asset_id) ORDER BY a.asset_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Runs still `running` (not dry runs): `(run_id, config_hash)`, oldest first.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn unfinished_runs(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT run_id, config_hash FROM runs WHERE status = 'running' AND dry_run = 0 ORDER BY started_at, run_id")
            .fetch_all(self.pool())
            .await?)
    }

    /// Events of `run_id` per type.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn events_per_type(&self, run_id: &str) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT type, COUNT(*) FROM events WHERE run_id = ?1 GROUP BY type").bind(run_id).fetch_all(self.pool()).await?;
        Ok(rows.into_iter().collect())
    }

    /// The runs that captured raw events, in the order of their first capture.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn raw_runs(&self) -> Result<Vec<String>> {
        let runs: Vec<(String,)> =
            sqlx::query_as("SELECT run_id FROM raw_events GROUP BY run_id ORDER BY MIN(observed_at), run_id").fetch_all(self.pool()).await?;
        Ok(runs.into_iter().map(|r| r.0).collect())
    }

    /// The raw events of `run_id` in receive order, one row at a time: a re-derivation reads a run of any
    /// size in bounded memory. An item fails with [`LedgerError::Db`] on query failure,
    /// [`LedgerError::Corrupt`] for an unreadable `observed_at`.
    pub fn stream_raws_of_run<'a>(&'a self, run_id: &'a str) -> impl Stream<Item = Result<RawEvent>> + Send + 'a {
        sqlx::query_as::<_, RawRow>("SELECT * FROM raw_events WHERE run_id = ?1 ORDER BY observed_at, raw_id")
            .bind(run_id)
            .fetch(self.pool())
            .map(|row| row.map_err(LedgerError::from).and_then(|r| r.to_event()))
    }

    /// Whether `run` is known to the DB (a `runs` row or a decision of it).
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn has_run(&self, run: &str) -> Result<bool> {
        let known: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM runs WHERE run_id = ?1 UNION SELECT 1 FROM gate_decisions WHERE run_id = ?1 LIMIT 1")
            .bind(run)
            .fetch_optional(self.pool())
            .await?;
        Ok(known.is_some())
    }

    /// Each asset's latest decision in `run` (latest by decision time, then event id, so the choice does
    /// not depend on insert order), or across every run for [`ALL_RUNS`].
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] for unreadable reason codes.
    pub async fn run_decisions(&self, run: &str) -> Result<BTreeMap<String, RunDecision>> {
        let rows: Vec<DecisionDbRow> = sqlx::query_as(
            "SELECT g.asset_id, g.decision, g.reason_codes_json, g.rule_set_version, g.event_id, g.decided_at, \
               (SELECT s.score FROM listing_scores s WHERE s.event_id IN (SELECT value FROM json_each(g.inputs_json)) LIMIT 1) \
             FROM gate_decisions g WHERE ?1 = 'all' OR g.run_id = ?1 ORDER BY g.asset_id, g.decided_at, g.event_id",
        )
        .bind(run)
        .fetch_all(self.pool())
        .await?;
        let mut out = BTreeMap::new();
        for (asset_id, decision, reasons, rule_set_version, event_id, decided_at, score) in rows {
            let reason_codes: Vec<String> =
                serde_json::from_str(&reasons).map_err(|e| LedgerError::Corrupt(format!("decision {event_id}: reason codes {reasons:?}: {e}")))?;
            // Rows come in decision-time order per asset: the last one is the latest.
            let score = score.map(|s| s.to_string());
            out.insert(asset_id.clone(), RunDecision { asset_id, decision, reason_codes, score, rule_set_version, event_id, decided_at });
        }
        Ok(out)
    }

    /// Writes a consistent copy of the whole DB to `target` (`VACUUM INTO`; `target` must not exist).
    ///
    /// # Errors
    /// [`LedgerError::Db`] when the copy fails.
    pub async fn copy_to(&self, target: &Path) -> Result<()> {
        let target = target.to_string_lossy().replace('\'', "''");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{target}'"))).execute(self.pool()).await?;
        Ok(())
    }
}

/// Copies one run's raw events from the attached `src` (a DB at the current schema).
const RAW_COPY: &str = "INSERT OR IGNORE INTO raw_events (raw_id, source, endpoint, http_status, observed_at, content_hash, payload_json, parse_error, \
     run_id, inserted_at, venue_type, payload_encoding) SELECT raw_id, source, endpoint, http_status, observed_at, content_hash, payload_json, \
     parse_error, run_id, inserted_at, venue_type, payload_encoding FROM src.raw_events WHERE run_id = ?1";

/// Creates (and migrates) the DB at `target` and copies the `raw_events` rows of `runs` from the DB at
/// `source` into it, unchanged: the input of a re-derivation. The fresh file copies with a rollback
/// journal and goes back to WAL after: in WAL every copied page was written twice (log, then checkpoint),
/// about a third more work for a copy of every raw payload; nothing else has the new file open yet.
///
/// # Errors
/// [`LedgerError::Open`]/[`LedgerError::Migrate`] for the target, [`LedgerError::Db`] when the copy fails.
pub async fn copy_raws(source: &Path, target: &Path, runs: &[&str]) -> Result<()> {
    let pool = open_write_pool(target).await?;
    migrate_up(&pool).await?;
    let mut conn = pool.acquire().await?;
    let src = source.to_string_lossy().replace('\'', "''");
    sqlx::query("PRAGMA main.journal_mode = DELETE").execute(&mut *conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("ATTACH DATABASE '{src}' AS src"))).execute(&mut *conn).await?;
    for run in runs {
        sqlx::query(RAW_COPY).bind(run).execute(&mut *conn).await?;
    }
    sqlx::query("DETACH DATABASE src").execute(&mut *conn).await?;
    sqlx::query("PRAGMA main.journal_mode = WAL").execute(&mut *conn).await?;
    drop(conn);
    pool.close().await;
    Ok(())
}
