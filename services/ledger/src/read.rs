//! Reads over a separate read-only pool. WAL lets these run while the writer commits; a write through
//! this pool fails, which keeps invariant 1 (the writer task is the only writer) mechanical.

use std::path::Path;

use nl_domain::{Envelope, EventId};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::db::open_read_pool;
use crate::error::{LedgerError, Result};
use crate::rows::{AssetFilter, AssetPage, AssetRow, DecisionRow, Latest, RiskRow, ScoreRow, SnapshotRow, Stats};

/// Every table the migrations create (besides `_sqlx_migrations`), in the order `stats` reports them.
pub const TABLES: &[&str] = &[
    "raw_events",
    "assets",
    "market_snapshots",
    "risk_flags",
    "listing_scores",
    "events",
    "gate_decisions",
    "runs",
    "run_configs",
    "source_cursors",
    "outbox",
    "ai_outputs",
    "settings",
    "experiment_specs",
    "strategy_runs",
    "experiment_runs",
    "orders",
    "fills",
    "position_snapshots",
    "risk_allocations",
    "block_events",
    "known_instruments",
];

/// Every view the migrations create.
pub const VIEWS: &[&str] = &["v_latest_snapshot", "v_latest_risk", "v_latest_score", "v_latest_decision", "v_assets_new", "v_assets_candidates"];

/// Default and maximum page sizes of [`SqliteReader::list_assets`].
pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Read-only queries on the ledger database.
#[derive(Debug, Clone)]
pub struct SqliteReader {
    pool: SqlitePool,
}

impl SqliteReader {
    /// Opens `connections` read-only connections on an existing database.
    ///
    /// # Errors
    /// [`LedgerError::Open`] when the file is missing or unreadable.
    pub async fn open(path: &Path, connections: u32) -> Result<Self> {
        Ok(Self { pool: open_read_pool(path, connections).await? })
    }

    /// Wraps an existing (read-only) pool.
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The underlying pool, for ad-hoc read queries (e.g. `nl status`).
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A source's durable cursor.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] when the stored JSON is invalid.
    pub async fn get_cursor(&self, source: &str) -> Result<Option<serde_json::Value>> {
        let raw: Option<String> = sqlx::query_scalar("SELECT cursor_json FROM source_cursors WHERE source = ?").bind(source).fetch_optional(&self.pool).await?;
        raw.map(|s| serde_json::from_str(&s).map_err(|e| LedgerError::Corrupt(format!("cursor of {source}: {e}")))).transpose()
    }

    /// A source's known-instrument set (`known_instruments`), by instrument id.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn known_instruments(&self, source: &str) -> Result<Vec<crate::known::KnownInstrumentRow>> {
        Ok(sqlx::query_as(
            "SELECT instrument_id, base, status, raw_status, scheduled_at, first_seen, removed, baseline, missing, link_chain, link_address \
             FROM known_instruments WHERE source = ? ORDER BY instrument_id",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A `settings` value.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?)
    }

    /// One asset by id.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn get_asset(&self, asset_id: &str) -> Result<Option<AssetRow>> {
        Ok(sqlx::query_as("SELECT * FROM assets WHERE asset_id = ?").bind(asset_id).fetch_optional(&self.pool).await?)
    }

    /// A page of assets ordered by `asset_id`. `page_size` 0 means [`DEFAULT_PAGE_SIZE`]; it is capped
    /// at [`MAX_PAGE_SIZE`]. `page_token` is the previous page's `next_page_token`.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn list_assets(&self, filter: AssetFilter, page_size: u32, page_token: Option<&str>) -> Result<AssetPage> {
        let size = if page_size == 0 { DEFAULT_PAGE_SIZE } else { page_size.min(MAX_PAGE_SIZE) };
        // The relation name is one of three constants, never caller input.
        let sql = format!("SELECT * FROM {} WHERE asset_id > ? ORDER BY asset_id LIMIT ?", filter.relation());
        let mut assets: Vec<AssetRow> =
            sqlx::query_as(AssertSqlSafe(sql)).bind(page_token.unwrap_or("")).bind(i64::from(size) + 1).fetch_all(&self.pool).await?;
        let next_page_token = if assets.len() > size as usize {
            assets.truncate(size as usize);
            assets.last().map(|a| a.asset_id.clone())
        } else {
            None
        };
        Ok(AssetPage { assets, next_page_token })
    }

    /// The latest snapshot, risk evaluation, score and gate decision of one asset.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn latest(&self, asset_id: &str) -> Result<Latest> {
        let snapshot: Option<SnapshotRow> =
            sqlx::query_as("SELECT * FROM v_latest_snapshot WHERE asset_id = ?").bind(asset_id).fetch_optional(&self.pool).await?;
        let risk: Option<RiskRow> = sqlx::query_as("SELECT * FROM v_latest_risk WHERE asset_id = ?").bind(asset_id).fetch_optional(&self.pool).await?;
        let risk = risk.map(RiskRow::whole).transpose()?;
        let score: Option<ScoreRow> = sqlx::query_as("SELECT * FROM v_latest_score WHERE asset_id = ?").bind(asset_id).fetch_optional(&self.pool).await?;
        let decision: Option<DecisionRow> =
            sqlx::query_as("SELECT * FROM v_latest_decision WHERE asset_id = ?").bind(asset_id).fetch_optional(&self.pool).await?;
        Ok(Latest { asset_id: asset_id.to_string(), snapshot, risk, score, decision })
    }

    /// The latest decision of each of the `limit` most recently decided assets, most recent first.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn latest_decision_rows(&self, limit: u32) -> Result<Vec<DecisionRow>> {
        Ok(sqlx::query_as("SELECT * FROM v_latest_decision ORDER BY decided_at DESC, id DESC LIMIT ?").bind(limit).fetch_all(&self.pool).await?)
    }

    /// Whether `events` holds a row (false when the table does not exist yet).
    ///
    /// # Errors
    /// [`LedgerError::Db`] when the file cannot be read (not a database, or damaged): never taken for "no
    /// events", which would make a damaged DB look like a lost one.
    pub async fn has_events(&self) -> Result<bool> {
        let table: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetch_one(&self.pool).await?;
        if table == 0 {
            return Ok(false);
        }
        let n: i64 = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM events)").fetch_one(&self.pool).await?;
        Ok(n == 1)
    }

    /// Whether `events` holds the event `event_id`.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn holds_event(&self, event_id: &str) -> Result<bool> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT EXISTS(SELECT 1 FROM events WHERE event_id = ?)").bind(event_id).fetch_one(&self.pool).await? == 1)
    }

    /// The ids of the stored events events.jsonl mirrors: all but `raw.captured`, whose payloads live in
    /// `raw_events` (crash reconciliation against events.jsonl).
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn mirrored_event_ids(&self) -> Result<std::collections::BTreeSet<String>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM events WHERE type != 'raw.captured'").fetch_all(&self.pool).await?;
        Ok(ids.into_iter().collect())
    }

    /// `PRAGMA quick_check`: the problems found, empty when the file is sound.
    ///
    /// # Errors
    /// [`LedgerError::Db`] when the check cannot run.
    pub async fn quick_check(&self) -> Result<Vec<String>> {
        crate::db::quick_check(&self.pool).await
    }

    /// Row counts per table, events per type, pending outbox rows and the last run.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure.
    pub async fn stats(&self) -> Result<Stats> {
        // Table names are the constants above, never caller input.
        let sql = TABLES.iter().map(|t| format!("SELECT '{t}', COUNT(*) FROM {t}")).collect::<Vec<_>>().join(" UNION ALL ");
        let counts: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        let tables = TABLES.iter().map(|t| ((*t).to_string(), counts.iter().find(|(n, _)| n == t).map_or(0, |(_, c)| *c))).collect();
        let events_by_type: Vec<(String, i64)> = sqlx::query_as("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY type").fetch_all(&self.pool).await?;
        let outbox_pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").fetch_one(&self.pool).await?;
        let last_run: Option<(String, String)> =
            sqlx::query_as("SELECT run_id, status FROM runs ORDER BY COALESCE(started_at, finished_at) DESC, run_id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let undecided = i64::try_from(self.undecided().await?.len()).unwrap_or(i64::MAX);
        let (last_run_id, last_run_status) = last_run.map_or((None, None), |(id, status)| (Some(id), Some(status)));
        let dead_letters_recorded: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(CAST(json_extract(manifest_json, '$.summary.dead_letters') AS INTEGER)), 0) FROM runs WHERE json_valid(manifest_json)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats { tables, events_by_type, outbox_pending, last_run_id, last_run_status, dead_letters_recorded, undecided })
    }

    /// The published envelopes of the stored events among `ids`, in the order of `ids` (ids not stored are
    /// left out). Rebuilt from what the ledger keeps: the `events` columns, the typed row, and the events a
    /// stored meta cites ([`nl_domain::stored`]); equal, field for field, to the envelopes that were applied.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] when a stored row does not rebuild.
    pub async fn envelopes(&self, ids: &[EventId]) -> Result<Vec<Envelope>> {
        let mut conn = self.pool.acquire().await?;
        let wanted: Vec<String> = ids.iter().map(|i| i.0.clone()).collect();
        let by_id = crate::rebuild::envelopes(&mut conn, &wanted).await?;
        Ok(ids.iter().filter_map(|id| by_id.get(id.as_str()).cloned()).collect())
    }

    /// Up to `limit` derived events committed but not yet published, oldest first.
    ///
    /// # Errors
    /// [`LedgerError::Db`] on query failure, [`LedgerError::Corrupt`] for an unparseable stored event.
    pub async fn pending_outbox(&self, limit: u32) -> Result<Vec<Envelope>> {
        let bodies: Vec<(String, String)> = sqlx::query_as("SELECT event_id, body FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        bodies.into_iter().map(|(id, body)| Envelope::from_json(body.as_bytes()).map_err(|e| LedgerError::Corrupt(format!("outbox event {id}: {e}")))).collect()
    }
}

#[async_trait::async_trait]
impl nl_domain::LedgerReader for SqliteReader {
    async fn latest_decision(&self, asset: &nl_domain::AssetId) -> std::result::Result<Option<nl_domain::GateDecision>, nl_domain::ReadError> {
        let row: Option<DecisionRow> = sqlx::query_as("SELECT * FROM v_latest_decision WHERE asset_id = ?")
            .bind(asset.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| nl_domain::ReadError::Unavailable(e.to_string()))?;
        row.map(nl_domain::GateDecision::try_from).transpose()
    }

    async fn latest_decisions(&self, limit: u32) -> std::result::Result<Vec<nl_domain::GateDecision>, nl_domain::ReadError> {
        self.latest_decision_rows(limit).await.map_err(read_error)?.into_iter().map(nl_domain::GateDecision::try_from).collect()
    }

    async fn listings(&self, query: &nl_domain::ListingQuery) -> std::result::Result<Vec<nl_domain::Listing>, nl_domain::ReadError> {
        crate::views::listings(&self.pool, query).await.map_err(read_error)
    }

    async fn asset_detail(&self, asset: &nl_domain::AssetId) -> std::result::Result<Option<nl_domain::AssetDetail>, nl_domain::ReadError> {
        crate::views::asset_detail(&self.pool, asset).await.map_err(read_error)
    }

    async fn sources(&self) -> std::result::Result<Vec<nl_domain::SourceHealth>, nl_domain::ReadError> {
        crate::views::sources(&self.pool).await.map_err(read_error)
    }

    async fn runs(&self, limit: u32) -> std::result::Result<Vec<nl_domain::RunSummary>, nl_domain::ReadError> {
        crate::views::runs(&self.pool, limit).await.map_err(read_error)
    }

    async fn change_mark(&self) -> std::result::Result<i64, nl_domain::ReadError> {
        crate::views::change_mark(&self.pool).await.map_err(read_error)
    }

    async fn events_after(&self, query: &nl_domain::EventFeedQuery) -> std::result::Result<Vec<nl_domain::FeedEvent>, nl_domain::ReadError> {
        crate::views::events_after(&self.pool, query).await.map_err(read_error)
    }

    async fn ai_usage_since(&self, since: nl_domain::Ts) -> std::result::Result<nl_domain::AiUsage, nl_domain::ReadError> {
        crate::views::ai_usage_since(&self.pool, since).await.map_err(read_error)
    }

    async fn ai_layers_answered(&self, trigger_event_id: &str) -> std::result::Result<Vec<String>, nl_domain::ReadError> {
        crate::views::ai_layers_answered(&self.pool, trigger_event_id).await.map_err(read_error)
    }

    async fn stored_event_ids(&self, ids: &[String]) -> std::result::Result<std::collections::BTreeSet<String>, nl_domain::ReadError> {
        crate::views::stored_event_ids(&self.pool, ids).await.map_err(read_error)
    }
}

/// A store failure as a read error: retryable failures are `Unavailable`, the rest `Corrupt`.
pub(crate) fn read_error(e: LedgerError) -> nl_domain::ReadError {
    if e.is_retryable() { nl_domain::ReadError::Unavailable(e.to_string()) } else { nl_domain::ReadError::Corrupt(e.to_string()) }
}
