//! Row types of the ledger's tables and views, as read back by queries and served over gRPC.

use serde::{Deserialize, Serialize};

/// One row of `assets` (or of the asset columns of `v_assets_new` / `v_assets_candidates`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AssetRow {
    pub asset_id: String,
    pub symbol: String,
    pub name: Option<String>,
    pub chain: Option<String>,
    /// The token's contract address (mint on Solana) when known.
    pub contract_address: Option<String>,
    /// `cex` or `dex` (the venue type, lowercase; see [`AssetRow::venue_type`]).
    pub kind: String,
    pub first_seen_at: String,
    pub first_source: String,
    pub last_seen_at: String,
    /// JSON array of [`nl_domain::Sighting`], one per `(source, instrument_id)`, sorted by that key.
    pub sources_json: String,
    pub status: String,
    pub reviewed_at: Option<String>,
    pub updated_at: String,
    pub run_id: String,
    /// Token decimals where a source gives them (GeckoTerminal token attributes); `None` = unknown.
    pub decimals: Option<i64>,
    /// JSON array of the asset's rule tags, sorted (see [`crate::tags`]).
    pub tags_json: String,
}

impl AssetRow {
    /// The runbook's `venue_type`: `CEX` or `DEX`.
    #[must_use]
    pub fn venue_type(&self) -> &'static str {
        if self.kind == "dex" {
            "DEX"
        } else {
            "CEX"
        }
    }
}

/// One row of `market_snapshots` / `v_latest_snapshot`. Decimals are exact strings; `None` is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: i64,
    pub event_id: String,
    pub asset_id: String,
    /// When the snapshot was observed.
    pub ts: String,
    pub source: String,
    /// USD price.
    pub price: Option<String>,
    /// Fully diluted valuation in USD.
    pub fdv: Option<String>,
    pub market_cap_usd: Option<String>,
    pub liquidity_usd: Option<String>,
    pub volume_24h_usd: Option<String>,
    pub holders: Option<i64>,
    pub age_minutes: Option<i64>,
    pub raw_event_id: Option<String>,
    pub run_id: String,
    /// Sources that had seen the asset when the enricher took the snapshot (`None` = not said).
    pub source_count: Option<i64>,
}

/// One row of `risk_flags` / `v_latest_risk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RiskRow {
    pub id: i64,
    pub event_id: String,
    pub asset_id: String,
    /// When the evaluation was made.
    pub ts: String,
    pub rule_set_version: String,
    pub severity: i64,
    /// JSON array of every rule check with its verdict (`pass`, `fail`, `unknown`); stored compact when
    /// `check_times_json` is set.
    pub flags_json: String,
    pub disagreements_json: String,
    pub run_id: String,
    pub config_hash: String,
    /// The distinct `[observed_at, expires_at]` pairs of the checks, when `flags_json` keeps each check's
    /// times as an index into them (see [`RiskRow::whole`], which readers get). Never serialized.
    #[serde(skip)]
    pub check_times_json: Option<String>,
}

/// One row of `listing_scores` / `v_latest_score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ScoreRow {
    pub id: i64,
    pub event_id: String,
    pub asset_id: String,
    /// When the score was computed.
    pub ts: String,
    /// REAL in SQLite, so `ORDER BY score` is numeric.
    pub score: f64,
    pub breakdown_json: String,
    pub reason: String,
    pub formula_version: String,
    pub run_id: String,
    pub config_hash: String,
    /// JSON array `[snapshot_event_id, risk_event_id]` the score was computed from (`None` = not said).
    pub inputs_json: Option<String>,
    pub source_count: Option<i64>,
    /// JSON array of the raw events of the provider reports the evaluation used.
    pub provider_raw_ids_json: Option<String>,
}

/// One row of `gate_decisions` / `v_latest_decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: i64,
    pub event_id: String,
    pub asset_id: String,
    /// `promoted` or `rejected`.
    pub decision: String,
    pub reason_codes_json: String,
    pub rule_set_version: String,
    pub config_hash: String,
    pub inputs_json: String,
    pub decided_at: String,
    pub run_id: String,
}

/// One row of `raw_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RawRow {
    pub raw_id: String,
    pub source: String,
    pub endpoint: String,
    pub http_status: Option<i64>,
    pub observed_at: String,
    pub content_hash: String,
    /// The payload as received, verbatim (JSON for every HTTP source; kept as is when it does not parse).
    pub payload_json: String,
    pub parse_error: Option<String>,
    pub run_id: String,
    pub inserted_at: String,
    /// `CEX` or `DEX`, from the kind of the source that fetched it; `None` for non-venue sources (risk
    /// providers) and sources the ledger was not told about.
    pub venue_type: Option<String>,
    /// `base64` when `payload_json` holds the base64 of a body that was not valid UTF-8 (migration 0011).
    pub payload_encoding: Option<String>,
}

/// The latest row of each per-asset history.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Latest {
    pub asset_id: String,
    pub snapshot: Option<SnapshotRow>,
    pub risk: Option<RiskRow>,
    pub score: Option<ScoreRow>,
    pub decision: Option<DecisionRow>,
}

/// Row counts and pipeline health.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// `(table, rows)` for every ledger table, in a fixed order.
    pub tables: Vec<(String, i64)>,
    /// `(event type, events)` from `events`, sorted by type.
    pub events_by_type: Vec<(String, i64)>,
    /// Outbox rows not yet published.
    pub outbox_pending: i64,
    /// The run with the latest `started_at`.
    pub last_run_id: Option<String>,
    /// Assets without a gate decision.
    #[serde(default)]
    pub undecided: i64,
    /// That run's status (`running`, `completed`, `failed`, `interrupted`, `aborted`).
    pub last_run_status: Option<String>,
    /// Messages dead-lettered, as the runs recorded them at completion (`summary.dead_letters` of their
    /// `run.completed`): embedded runs' dead letters outlive the in-memory bus here.
    pub dead_letters_recorded: i64,
}

/// Which assets [`crate::SqliteReader::list_assets`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetFilter {
    /// `assets`.
    All,
    /// `v_assets_new`.
    New,
    /// `v_assets_candidates`.
    Candidates,
}

impl AssetFilter {
    pub(crate) fn relation(self) -> &'static str {
        match self {
            Self::All => "assets",
            Self::New => "v_assets_new",
            Self::Candidates => "v_assets_candidates",
        }
    }
}

/// One page of assets, ordered by `asset_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetPage {
    pub assets: Vec<AssetRow>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

impl TryFrom<DecisionRow> for nl_domain::GateDecision {
    type Error = nl_domain::ReadError;

    /// The domain decision a `gate_decisions` row stores; [`ReadError::Corrupt`] names the field that does
    /// not parse.
    ///
    /// [`ReadError::Corrupt`]: nl_domain::ReadError::Corrupt
    fn try_from(row: DecisionRow) -> std::result::Result<Self, Self::Error> {
        use nl_domain::{AssetId, Decision};
        let corrupt = |field: &str, e: &dyn std::fmt::Display| nl_domain::ReadError::Corrupt(format!("{} {field}: {e}", row.event_id));
        let decision = match row.decision.as_str() {
            "promoted" => Decision::Promoted,
            "rejected" => Decision::Rejected,
            other => return Err(corrupt("decision", &other)),
        };
        Ok(Self {
            asset_id: AssetId::parse(&row.asset_id).map_err(|e| corrupt("asset_id", &e))?,
            decision,
            reason_codes: serde_json::from_str(&row.reason_codes_json).map_err(|e| corrupt("reason_codes_json", &e))?,
            rule_set_version: row.rule_set_version.clone(),
            config_hash: row.config_hash.clone(),
            inputs: serde_json::from_str(&row.inputs_json).map_err(|e| corrupt("inputs_json", &e))?,
            decided_at: chrono::DateTime::parse_from_rfc3339(&row.decided_at).map_err(|e| corrupt("decided_at", &e))?.with_timezone(&chrono::Utc),
        })
    }
}
