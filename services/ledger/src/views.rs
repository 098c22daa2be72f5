//! The SQL of the read models people look at ([`nl_domain::views`]): the new-listings list, one asset's
//! detail, source health and runs. Every query the CLI views and the dashboard need lives here, so a
//! column rename touches this file only.

use std::collections::{BTreeMap, BTreeSet};

use nl_domain::views::{
    AiNote, AssetDetail, EventFeedQuery, FeedEvent, Listing, ListingQuery, MarketKind, RiskSummary, RunSummary, SourceHealth, TimelineEntry,
};
use nl_domain::{AssetId, Decision, GateDecision, RiskCheck, RiskEvaluation, ScoreRecord, Sighting, Snapshot, Ts};
use sqlx::SqlitePool;

use crate::db::ts_str;
use crate::error::{LedgerError, Result};
use crate::rows::{DecisionRow, RiskRow, ScoreRow, SnapshotRow};
use crate::typed::{decimal, json, ts};

/// Snapshots an asset detail carries (the latest ones) and timeline entries it shows.
pub const DETAIL_SNAPSHOTS: u32 = 500;
pub const DETAIL_TIMELINE: u32 = 500;
/// Recent assets whose sightings feed the per-source detection latency.
pub const LATENCY_SAMPLE_ASSETS: u32 = 2000;

/// One asset joined with its latest snapshot, score, risk and decision. Latest = latest by time, ties broken
/// by the higher id, as the `v_latest_*` views define it (inlined so that the newest-first scan stays on
/// `assets_first_seen` and stops at the limit).
const LISTINGS_SQL: &str = "
SELECT a.asset_id, a.symbol, a.name, a.chain, a.contract_address AS address, a.kind, a.status, a.sources_json, a.first_seen_at,
       a.first_source, a.reviewed_at, s.price AS price_usd, s.liquidity_usd, d.decision, d.reason_codes_json,
       (SELECT CAST(c.score AS TEXT) FROM listing_scores AS c WHERE c.asset_id = a.asset_id
        ORDER BY c.ts DESC, c.id DESC LIMIT 1) AS score,
       (SELECT r.flags_json FROM risk_flags AS r WHERE r.asset_id = a.asset_id
        ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS checks_json,
       (SELECT r.check_times_json FROM risk_flags AS r WHERE r.asset_id = a.asset_id
        ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS check_times_json
FROM assets AS a
LEFT JOIN market_snapshots AS s ON s.id = (SELECT s2.id FROM market_snapshots AS s2 WHERE s2.asset_id = a.asset_id
                                           ORDER BY s2.ts DESC, s2.id DESC LIMIT 1)
LEFT JOIN gate_decisions AS d ON d.id = (SELECT d2.id FROM gate_decisions AS d2 WHERE d2.asset_id = a.asset_id
                                         ORDER BY d2.decided_at DESC, d2.id DESC LIMIT 1)
WHERE (?1 IS NULL OR a.first_seen_at >= ?1)
  AND (?2 IS NULL OR a.chain = ?2)
  AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.sources_json) AS j WHERE json_extract(j.value, '$.venue') = ?3))
  AND (?4 IS NULL OR a.kind = ?4)
  AND (?5 IS NULL OR d.decision = ?5)
  AND (?6 IS NULL OR (s.liquidity_usd IS NOT NULL AND CAST(s.liquidity_usd AS REAL) >= ?6))
  AND (?7 IS NULL OR instr(lower(a.symbol || ' ' || COALESCE(a.name, '') || ' ' || a.asset_id), lower(?7)) > 0)
  AND (?8 = 0 OR EXISTS (SELECT 1 FROM v_assets_candidates AS v WHERE v.asset_id = a.asset_id))
  AND (?9 IS NULL OR a.asset_id = ?9)
ORDER BY a.first_seen_at DESC, a.asset_id DESC
LIMIT ?10";

/// An asset's typed events, newest first (sightings and the review come from the asset row).
const TIMELINE_SQL: &str = "
SELECT ts, type, event_id, summary FROM (
  SELECT ts, 'snapshot.recorded' AS type, event_id,
         source || ': price ' || COALESCE(price, '?') || ', liquidity ' || COALESCE(liquidity_usd, '?') AS summary
  FROM market_snapshots WHERE asset_id = ?1
  UNION ALL
  SELECT ts, 'risk.evaluated', event_id, 'rule set ' || rule_set_version || ', severity ' || severity
  FROM risk_flags WHERE asset_id = ?1
  UNION ALL
  SELECT ts, 'score.computed', event_id, 'score ' || score || ' (' || formula_version || ')'
  FROM listing_scores WHERE asset_id = ?1
  UNION ALL
  SELECT decided_at, 'candidate.' || decision, event_id, 'reasons ' || reason_codes_json
  FROM gate_decisions WHERE asset_id = ?1
  UNION ALL
  SELECT created_at, 'ai.' || layer || '.completed', event_id, 'advisory, model ' || COALESCE(model, '?')
  FROM ai_outputs WHERE asset_id = ?1
) ORDER BY ts DESC, event_id DESC LIMIT ?2";

const SOURCES_SQL: &str = "
SELECT r.source, COUNT(*) AS captures,
       SUM(r.parse_error IS NOT NULL OR COALESCE(r.http_status, 0) >= 400) AS errors,
       SUM(COALESCE(r.http_status, 0) = 429) AS rate_limited,
       MAX(r.observed_at) AS last_capture_at,
       MAX(CASE WHEN r.parse_error IS NULL AND COALESCE(r.http_status, 200) < 400 THEN r.observed_at END) AS last_success_at,
       (SELECT COALESCE(e.parse_error, 'HTTP ' || e.http_status) FROM raw_events AS e
        WHERE e.source = r.source AND (e.parse_error IS NOT NULL OR COALESCE(e.http_status, 0) >= 400)
        ORDER BY e.observed_at DESC LIMIT 1) AS last_error,
       (SELECT c.lease_rev FROM source_cursors AS c WHERE c.source = r.source) AS lease_rev
FROM raw_events AS r GROUP BY r.source ORDER BY r.source";

const LATENCY_SQL: &str = "
SELECT json_extract(j.value, '$.source'), json_extract(j.value, '$.first_observed_at'),
       json_extract(j.value, '$.source_published_at')
FROM (SELECT sources_json FROM assets ORDER BY first_seen_at DESC LIMIT ?1) AS a, json_each(a.sources_json) AS j
WHERE json_extract(j.value, '$.source_published_at') IS NOT NULL";

#[derive(sqlx::FromRow)]
struct ListingRow {
    asset_id: String,
    symbol: String,
    name: Option<String>,
    chain: Option<String>,
    address: Option<String>,
    kind: String,
    status: String,
    sources_json: String,
    first_seen_at: String,
    first_source: String,
    reviewed_at: Option<String>,
    price_usd: Option<String>,
    liquidity_usd: Option<String>,
    decision: Option<String>,
    reason_codes_json: Option<String>,
    score: Option<String>,
    checks_json: Option<String>,
    check_times_json: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    source: String,
    captures: i64,
    errors: i64,
    rate_limited: i64,
    last_capture_at: Option<String>,
    last_success_at: Option<String>,
    last_error: Option<String>,
    lease_rev: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    run_id: String,
    config_hash: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    dry_run: i64,
    manifest_json: String,
    run_manifest_json: Option<String>,
    status: String,
}

fn corrupt(what: &str, id: &str, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Corrupt(format!("{what} of {id}: {e}"))
}

fn opt_ts(what: &str, id: &str, s: Option<&str>) -> Result<Option<Ts>> {
    s.map(|s| ts(what, id, s)).transpose()
}

fn value<T: serde::de::DeserializeOwned>(what: &str, id: &str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| corrupt(what, id, e))
}

impl ListingRow {
    fn into_listing(self) -> Result<(Listing, Vec<Sighting>)> {
        let id = self.asset_id.as_str();
        let sightings: Vec<Sighting> = json("assets.sources_json", id, &self.sources_json)?;
        let venues: BTreeSet<String> = sightings.iter().map(|s| s.venue.clone()).collect();
        let sources: BTreeSet<String> = sightings.iter().map(|s| s.source.clone()).collect();
        let first = sightings.iter().filter(|s| s.source_published_at.is_some()).min_by_key(|s| s.first_observed_at);
        let checks: Option<Vec<RiskCheck>> = match (self.checks_json, self.check_times_json) {
            (Some(c), times) => Some(value("risk_flags.flags_json", id, crate::typed::whole_checks(id, &c, times.as_deref())?)?),
            (None, _) => None,
        };
        let reason_codes: Vec<String> =
            self.reason_codes_json.as_deref().map(|r| json("gate_decisions.reason_codes_json", id, r)).transpose()?.unwrap_or_default();
        let listing = Listing {
            asset_id: AssetId::parse(id).map_err(|e| corrupt("asset_id", id, e))?,
            kind: MarketKind::parse(&self.kind).ok_or_else(|| corrupt("assets.kind", id, &self.kind))?,
            decision: self.decision.as_deref().map(|d| Decision::parse(d).ok_or_else(|| corrupt("gate_decisions.decision", id, d))).transpose()?,
            first_seen_at: ts("assets.first_seen_at", id, &self.first_seen_at)?,
            reviewed_at: opt_ts("assets.reviewed_at", id, self.reviewed_at.as_deref())?,
            price_usd: decimal("price_usd", id, self.price_usd.as_deref())?,
            liquidity_usd: decimal("liquidity_usd", id, self.liquidity_usd.as_deref())?,
            score: decimal("listing_scores.score", id, self.score.as_deref())?,
            source_published_at: first.and_then(|s| s.source_published_at),
            risk: checks.as_deref().map(RiskSummary::of),
            venues: venues.into_iter().collect(),
            sources: sources.into_iter().collect(),
            reason_codes,
            symbol: self.symbol,
            name: self.name,
            chain: self.chain,
            address: self.address,
            status: self.status,
            first_source: self.first_source,
        };
        Ok((listing, sightings))
    }
}

async fn listing_rows(pool: &SqlitePool, q: &ListingQuery, asset: Option<&str>) -> Result<Vec<ListingRow>> {
    Ok(sqlx::query_as(LISTINGS_SQL)
        .bind(q.since.as_ref().map(ts_str))
        .bind(q.chain.as_deref())
        .bind(q.venue.as_deref())
        .bind(q.kind.map(MarketKind::as_str))
        .bind(q.decision.map(Decision::as_str))
        .bind(q.min_liquidity_usd.map(|d| d.to_string().parse::<f64>().unwrap_or(f64::MAX)))
        .bind(q.text.as_deref().filter(|t| !t.is_empty()))
        .bind(i64::from(q.candidates_only))
        .bind(asset)
        .bind(i64::from(q.effective_limit()))
        .fetch_all(pool)
        .await?)
}

/// Listings matching `q`, newest first.
pub(crate) async fn listings(pool: &SqlitePool, q: &ListingQuery) -> Result<Vec<Listing>> {
    listing_rows(pool, q, None).await?.into_iter().map(|r| r.into_listing().map(|(l, _)| l)).collect()
}

/// Everything known about one asset.
pub(crate) async fn asset_detail(pool: &SqlitePool, asset: &AssetId) -> Result<Option<AssetDetail>> {
    let id = asset.to_string();
    let query = ListingQuery { limit: 1, ..ListingQuery::default() };
    let Some(row) = listing_rows(pool, &query, Some(&id)).await?.into_iter().next() else { return Ok(None) };
    let (listing, sightings) = row.into_listing()?;

    let mut snapshot_rows: Vec<SnapshotRow> = sqlx::query_as("SELECT * FROM market_snapshots WHERE asset_id = ? ORDER BY ts DESC, id DESC LIMIT ?")
        .bind(&id)
        .bind(i64::from(DETAIL_SNAPSHOTS))
        .fetch_all(pool)
        .await?;
    snapshot_rows.reverse();
    let snapshots = snapshot_rows.iter().map(|r| value::<Snapshot>("snapshot", &r.event_id, r.meta()?)).collect::<Result<Vec<_>>>()?;

    let risk_row: Option<RiskRow> = sqlx::query_as("SELECT * FROM v_latest_risk WHERE asset_id = ?").bind(&id).fetch_optional(pool).await?;
    let risk = risk_row.as_ref().map(|r| value::<RiskEvaluation>("risk evaluation", &r.event_id, r.meta()?)).transpose()?;
    let score_row: Option<ScoreRow> = sqlx::query_as("SELECT * FROM v_latest_score WHERE asset_id = ?").bind(&id).fetch_optional(pool).await?;
    let score = score_row.as_ref().map(|s| value::<ScoreRecord>("score", &s.event_id, s.meta()?)).transpose()?;
    let decision_row: Option<DecisionRow> = sqlx::query_as("SELECT * FROM v_latest_decision WHERE asset_id = ?").bind(&id).fetch_optional(pool).await?;
    let decision_event_id = decision_row.as_ref().map(|d| d.event_id.clone());
    let decision = decision_row.map(GateDecision::try_from).transpose().map_err(|e| LedgerError::Corrupt(e.to_string()))?;

    let timeline = timeline(pool, &listing, &sightings).await?;
    let notes: Vec<(String, Option<String>, String, String, String)> =
        sqlx::query_as("SELECT layer, model, created_at, body_json, event_id FROM ai_outputs WHERE asset_id = ? ORDER BY created_at, id")
            .bind(&id)
            .fetch_all(pool)
            .await?;
    let ai_notes = notes
        .into_iter()
        .map(|(layer, model, created_at, body, event_id)| {
            Ok(AiNote { created_at: ts("ai_outputs.created_at", &event_id, &created_at)?, body: json("ai_outputs.body_json", &event_id, &body)?, layer, model })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(AssetDetail {
        listing,
        sightings,
        snapshots,
        risk,
        risk_event_id: risk_row.map(|r| r.event_id),
        score,
        decision,
        decision_event_id,
        timeline,
        ai_notes,
    }))
}

/// The typed events of the asset plus its sightings and review, oldest first.
async fn timeline(pool: &SqlitePool, listing: &Listing, sightings: &[Sighting]) -> Result<Vec<TimelineEntry>> {
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as(TIMELINE_SQL).bind(listing.asset_id.to_string()).bind(i64::from(DETAIL_TIMELINE)).fetch_all(pool).await?;
    let mut entries = rows
        .into_iter()
        .map(|(at, event_type, event_id, summary)| Ok(TimelineEntry { ts: ts("timeline ts", &event_id, &at)?, event_type, event_id, summary }))
        .collect::<Result<Vec<_>>>()?;
    entries.extend(sightings.iter().map(|s| TimelineEntry {
        ts: s.first_observed_at,
        event_type: "listing.observed".into(),
        event_id: String::new(),
        summary: format!("{} saw {} on {} ({})", s.source, s.instrument_id, s.venue, s.status.as_deref().unwrap_or("no status")),
    }));
    if let Some(at) = listing.reviewed_at {
        entries.push(TimelineEntry { ts: at, event_type: "asset.reviewed".into(), event_id: String::new(), summary: "marked reviewed".into() });
    }
    entries.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| stage(&a.event_type).cmp(&stage(&b.event_type))));
    Ok(entries)
}

/// Pipeline order of an event type, for entries stamped the same instant.
fn stage(event_type: &str) -> u8 {
    match event_type.split('.').next().unwrap_or("") {
        "listing" => 0,
        "snapshot" => 1,
        "risk" => 2,
        "score" => 3,
        "candidate" => 4,
        "ai" => 5,
        _ => 6,
    }
}

/// Source health from raw captures, cursors and recent sightings.
pub(crate) async fn sources(pool: &SqlitePool) -> Result<Vec<SourceHealth>> {
    let rows: Vec<SourceRow> = sqlx::query_as(SOURCES_SQL).fetch_all(pool).await?;
    let samples: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as(LATENCY_SQL).bind(i64::from(LATENCY_SAMPLE_ASSETS)).fetch_all(pool).await?;
    let mut latencies: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (source, observed, published) in samples {
        let (Some(source), Some(observed), Some(published)) = (source, observed, published) else { continue };
        let (Ok(o), Ok(p)) = (chrono::DateTime::parse_from_rfc3339(&observed), chrono::DateTime::parse_from_rfc3339(&published)) else { continue };
        latencies.entry(source).or_default().push((o - p).num_milliseconds());
    }
    rows.into_iter()
        .map(|r| {
            let mut lat = latencies.remove(&r.source).unwrap_or_default();
            lat.sort_unstable();
            Ok(SourceHealth {
                captures: u64::try_from(r.captures).unwrap_or(0),
                errors: u64::try_from(r.errors).unwrap_or(0),
                rate_limited: u64::try_from(r.rate_limited).unwrap_or(0),
                last_capture_at: opt_ts("raw_events.observed_at", &r.source, r.last_capture_at.as_deref())?,
                last_success_at: opt_ts("raw_events.observed_at", &r.source, r.last_success_at.as_deref())?,
                latency_p50_ms: percentile(&lat, 50),
                latency_p99_ms: percentile(&lat, 99),
                last_error: r.last_error,
                lease_rev: r.lease_rev,
                source: r.source,
            })
        })
        .collect()
}

/// The `pct` percentile (nearest rank) of sorted `xs`.
fn percentile(xs: &[i64], pct: usize) -> Option<i64> {
    if xs.is_empty() {
        return None;
    }
    let rank = (xs.len() * pct).div_ceil(100).max(1);
    xs.get(rank - 1).copied()
}

/// The latest `limit` runs, newest first.
pub(crate) async fn runs(pool: &SqlitePool, limit: u32) -> Result<Vec<RunSummary>> {
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT run_id, config_hash, started_at, finished_at, dry_run, manifest_json, run_manifest_json, status FROM runs
         ORDER BY COALESCE(started_at, finished_at) DESC, run_id DESC LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(RunSummary {
                started_at: opt_ts("runs.started_at", &r.run_id, r.started_at.as_deref())?,
                finished_at: opt_ts("runs.finished_at", &r.run_id, r.finished_at.as_deref())?,
                manifest: json("runs.manifest_json", &r.run_id, &r.manifest_json)?,
                run_manifest: r.run_manifest_json.as_deref().map(|m| json("runs.run_manifest_json", &r.run_id, m)).transpose()?,
                dry_run: r.dry_run != 0,
                run_id: r.run_id,
                config_hash: r.config_hash,
                status: r.status,
            })
        })
        .collect()
}

/// The last committed event's sequence number (0 when there is none).
pub(crate) async fn change_mark(pool: &SqlitePool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events").fetch_one(pool).await?)
}

/// Committed events after `q.after_seq` (of `q.types`, when given), oldest first: the feed alerts and
/// `nl watch` tail. Walks the `events` primary key, so a page costs its rows, not the table.
pub(crate) async fn events_after(pool: &SqlitePool, q: &EventFeedQuery) -> Result<Vec<FeedEvent>> {
    let types = serde_json::to_string(&q.types).map_err(|e| LedgerError::Corrupt(format!("event types: {e}")))?;
    type Row = (i64, String, String, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, event_id, ts, type, asset_id, symbol, chain, source, meta FROM events
         WHERE seq > ?1 AND (?2 = '[]' OR type IN (SELECT value FROM json_each(?2)))
         ORDER BY seq LIMIT ?3",
    )
    .bind(q.after_seq)
    .bind(types)
    .bind(i64::from(q.effective_limit()))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(seq, event_id, at, event_type, asset_id, symbol, chain, source, meta)| {
            let meta = match meta.as_deref() {
                Some(m) => serde_json::from_str(m).map_err(|e| LedgerError::Corrupt(format!("events.meta of {event_id}: {e}")))?,
                None => serde_json::Value::Null,
            };
            Ok(FeedEvent { seq, ts: ts("events.ts", &event_id, &at)?, event_id, event_type, asset_id, symbol, chain, source, meta })
        })
        .collect()
}

/// Model tokens (in + out) and outputs by status of the AI outputs created at or after `since`: one row per
/// artifact, so a cached answer reached again is not counted twice.
pub(crate) async fn ai_usage_since(pool: &SqlitePool, since: Ts) -> Result<nl_domain::AiUsage> {
    let rows: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*), COALESCE(SUM(COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0)), 0) FROM ai_outputs WHERE created_at >= ?1 GROUP BY status",
    )
    .bind(ts_str(&since))
    .fetch_all(pool)
    .await?;
    let mut usage = nl_domain::AiUsage::default();
    for (status, n, tokens) in rows {
        usage.tokens += u64::try_from(tokens).unwrap_or(0);
        usage.by_status.insert(status.unwrap_or_else(|| "unknown".into()), u64::try_from(n).unwrap_or(0));
    }
    Ok(usage)
}

/// The query of [`ai_layers_answered`], answered from the index `ai_outputs_trigger` (migration 0013).
pub const AI_LAYERS_ANSWERED_SQL: &str = "SELECT DISTINCT layer FROM ai_outputs WHERE trigger_event_id = ?1 ORDER BY layer";

/// The layers with a stored AI output triggered by `trigger_event_id`.
pub(crate) async fn ai_layers_answered(pool: &SqlitePool, trigger_event_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(AI_LAYERS_ANSWERED_SQL).bind(trigger_event_id).fetch_all(pool).await?)
}

/// Which of `ids` are stored in `events` (the ledger applied them).
pub(crate) async fn stored_event_ids(pool: &SqlitePool, ids: &[String]) -> Result<BTreeSet<String>> {
    let mut stored = BTreeSet::new();
    for chunk in ids.chunks(500) {
        let list = serde_json::to_string(chunk).map_err(|e| LedgerError::Corrupt(format!("event ids: {e}")))?;
        let found: Vec<String> =
            sqlx::query_scalar("SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?1))").bind(list).fetch_all(pool).await?;
        stored.extend(found);
    }
    Ok(stored)
}

/// Why a [`answer`] failed: a bad request, or the store.
#[derive(Debug)]
pub(crate) enum ViewError {
    Request(String),
    Store(LedgerError),
    /// A paper read (see [`crate::paper_views`]).
    Read(nl_domain::ReadError),
}

impl From<LedgerError> for ViewError {
    fn from(e: LedgerError) -> Self {
        Self::Store(e)
    }
}

/// The JSON answer of the named view to a JSON query: the gRPC `Ledger.View` call.
pub(crate) async fn answer(pool: &SqlitePool, view: &str, query_json: &str) -> std::result::Result<String, ViewError> {
    fn query<T: serde::de::DeserializeOwned>(view: &str, q: &str) -> std::result::Result<T, ViewError> {
        serde_json::from_str(if q.is_empty() { "null" } else { q }).map_err(|e| ViewError::Request(format!("query of view {view}: {e}")))
    }
    let out = match view {
        "listings" => serde_json::to_string(&listings(pool, &query::<ListingQuery>(view, query_json)?).await?),
        "asset_detail" => {
            let id: String = query(view, query_json)?;
            let asset = AssetId::parse(&id).map_err(|e| ViewError::Request(format!("asset id {id:?}: {e}")))?;
            serde_json::to_string(&asset_detail(pool, &asset).await?)
        }
        "sources" => serde_json::to_string(&sources(pool).await?),
        "runs" => serde_json::to_string(&runs(pool, query::<u32>(view, query_json)?).await?),
        "change_mark" => serde_json::to_string(&change_mark(pool).await?),
        "events_after" => serde_json::to_string(&events_after(pool, &query::<EventFeedQuery>(view, query_json)?).await?),
        "ai_usage_since" => serde_json::to_string(&ai_usage_since(pool, query::<Ts>(view, query_json)?).await?),
        "ai_layers_answered" => serde_json::to_string(&ai_layers_answered(pool, &query::<String>(view, query_json)?).await?),
        "stored_event_ids" => {
            let ids: Vec<String> = query(view, query_json)?;
            let max = nl_domain::read::STORED_EVENT_IDS_PER_REQUEST;
            if ids.len() > max {
                return Err(ViewError::Request(format!("query of view {view}: {} ids, at most {max} per request", ids.len())));
            }
            serde_json::to_string(&stored_event_ids(pool, &ids).await?)
        }
        other => {
            return Err(ViewError::Request(format!(
                "unknown view {other:?} (listings, asset_detail, sources, runs, change_mark, events_after, ai_usage_since, ai_layers_answered, stored_event_ids, {})",
                crate::paper_views::PAPER_VIEWS
            )));
        }
    };
    out.map_err(|e| ViewError::Store(e.into()))
}
