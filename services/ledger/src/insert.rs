//! Multi-row inserts: each table's rows go out in `push_values` statements of at most
//! [`rows_per_statement`] rows (under SQLite's 32,766-bind limit), because every sqlx-sqlite statement
//! costs a round trip (~70 µs) to the connection's worker thread.
//!
//! A statement's text depends on its row count, and sqlx caches prepared statements by text. Cutting a
//! batch into full statements plus one of whatever was left made nearly every batch's last statement a new
//! text: SQLite parsed and planned a statement of up to 500 rows again (~9 % of the writer's CPU in the
//! session-6 profile) and it pushed a useful statement out of the cache. [`statement_chunks`] cuts the rest
//! into power-of-two counts instead, so every statement is one of about ten cached texts per table.

use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection};

use crate::db::rows_per_statement;
use crate::error::Result;
use crate::rows::{DecisionRow, RawRow, RiskRow, ScoreRow, SnapshotRow};

/// `items` cut into statements of a few fixed sizes: as many of `max` as fit, then the rest in
/// decreasing powers of two (499 rows left: 256, 128, 64, 32, 16, 2, 1), so the statement texts repeat
/// and their prepared statements are reused from the connection's cache.
pub(crate) fn statement_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max { max } else { 1 << rest.len().ilog2() };
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// `INSERT`s `items` as `head VALUES (...), (...) tail`, chunked; returns the rows affected. Public for
/// `nl bench ledger`'s raw-SQLite baseline, which must batch exactly as the ledger does.
///
/// # Errors
/// The first failing statement.
pub async fn exec_chunked<T>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    columns: usize,
    items: &[T],
    mut push: impl FnMut(Separated<'_, Sqlite, &'static str>, &T),
) -> Result<u64> {
    let mut affected = 0;
    for chunk in statement_chunks(items, rows_per_statement(columns)) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut push);
        qb.push(tail);
        affected += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}

/// Like [`exec_chunked`] for statements ending in `RETURNING <one text column>`.
pub(crate) async fn returning_chunked<T>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    columns: usize,
    items: &[T],
    mut push: impl FnMut(Separated<'_, Sqlite, &'static str>, &T),
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for chunk in statement_chunks(items, rows_per_statement(columns)) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut push);
        qb.push(tail);
        out.extend(qb.build_query_scalar::<String>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Rows of `SELECT … IN (ids)`, chunked. `head` ends just before the opening parenthesis.
pub(crate) async fn fetch_in<T>(conn: &mut SqliteConnection, head: &str, ids: &[String]) -> Result<Vec<T>>
where
    T: for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    let mut out = Vec::new();
    for chunk in statement_chunks(ids, crate::db::MAX_ROWS_PER_STATEMENT) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push(" (");
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(id.as_str());
        }
        qb.push(")");
        out.extend(qb.build_query_as::<T>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

pub(crate) async fn raw_events(conn: &mut SqliteConnection, rows: &[&RawRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO raw_events (raw_id, source, endpoint, http_status, observed_at, content_hash, payload_json, parse_error, run_id, inserted_at, venue_type, payload_encoding) ",
        " ON CONFLICT(raw_id) DO NOTHING",
        12,
        rows,
        |mut b, r| {
            b.push_bind(r.raw_id.as_str())
                .push_bind(r.source.as_str())
                .push_bind(r.endpoint.as_str())
                .push_bind(r.http_status)
                .push_bind(r.observed_at.as_str())
                .push_bind(r.content_hash.as_str())
                .push_bind(r.payload_json.as_str())
                .push_bind(r.parse_error.as_deref())
                .push_bind(r.run_id.as_str())
                .push_bind(r.inserted_at.as_str())
                .push_bind(r.venue_type.as_deref())
                .push_bind(r.payload_encoding.as_deref());
        },
    )
    .await
}

pub(crate) async fn snapshots(conn: &mut SqliteConnection, rows: &[&SnapshotRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO market_snapshots (event_id, asset_id, ts, source, price, fdv, market_cap_usd, liquidity_usd, volume_24h_usd, holders, age_minutes, raw_event_id, run_id, source_count) ",
        " ON CONFLICT(event_id) DO NOTHING",
        14,
        rows,
        |mut b, s| {
            b.push_bind(s.event_id.as_str())
                .push_bind(s.asset_id.as_str())
                .push_bind(s.ts.as_str())
                .push_bind(s.source.as_str())
                .push_bind(s.price.as_deref())
                .push_bind(s.fdv.as_deref())
                .push_bind(s.market_cap_usd.as_deref())
                .push_bind(s.liquidity_usd.as_deref())
                .push_bind(s.volume_24h_usd.as_deref())
                .push_bind(s.holders)
                .push_bind(s.age_minutes)
                .push_bind(s.raw_event_id.as_deref())
                .push_bind(s.run_id.as_str())
                .push_bind(s.source_count);
        },
    )
    .await
}

pub(crate) async fn risks(conn: &mut SqliteConnection, rows: &[&RiskRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO risk_flags (event_id, asset_id, ts, rule_set_version, severity, flags_json, disagreements_json, run_id, config_hash, check_times_json) ",
        " ON CONFLICT(event_id) DO NOTHING",
        10,
        rows,
        |mut b, r| {
            b.push_bind(r.event_id.as_str())
                .push_bind(r.asset_id.as_str())
                .push_bind(r.ts.as_str())
                .push_bind(r.rule_set_version.as_str())
                .push_bind(r.severity)
                .push_bind(r.flags_json.as_str())
                .push_bind(r.disagreements_json.as_str())
                .push_bind(r.run_id.as_str())
                .push_bind(r.config_hash.as_str())
                .push_bind(r.check_times_json.as_deref());
        },
    )
    .await
}

pub(crate) async fn scores(conn: &mut SqliteConnection, rows: &[&ScoreRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO listing_scores (event_id, asset_id, ts, score, breakdown_json, reason, formula_version, run_id, config_hash, inputs_json, source_count, provider_raw_ids_json) ",
        " ON CONFLICT(event_id) DO NOTHING",
        12,
        rows,
        |mut b, s| {
            b.push_bind(s.event_id.as_str())
                .push_bind(s.asset_id.as_str())
                .push_bind(s.ts.as_str())
                .push_bind(s.score)
                .push_bind(s.breakdown_json.as_str())
                .push_bind(s.reason.as_str())
                .push_bind(s.formula_version.as_str())
                .push_bind(s.run_id.as_str())
                .push_bind(s.config_hash.as_str())
                .push_bind(s.inputs_json.as_deref())
                .push_bind(s.source_count)
                .push_bind(s.provider_raw_ids_json.as_deref());
        },
    )
    .await
}

pub(crate) async fn decisions(conn: &mut SqliteConnection, rows: &[&DecisionRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO gate_decisions (event_id, asset_id, decision, reason_codes_json, rule_set_version, config_hash, inputs_json, decided_at, run_id) ",
        " ON CONFLICT(event_id) DO NOTHING",
        9,
        rows,
        |mut b, d| {
            b.push_bind(d.event_id.as_str())
                .push_bind(d.asset_id.as_str())
                .push_bind(d.decision.as_str())
                .push_bind(d.reason_codes_json.as_str())
                .push_bind(d.rule_set_version.as_str())
                .push_bind(d.config_hash.as_str())
                .push_bind(d.inputs_json.as_str())
                .push_bind(d.decided_at.as_str())
                .push_bind(d.run_id.as_str());
        },
    )
    .await
}

/// One `ai_outputs` row.
pub(crate) struct AiRow {
    pub event_id: String,
    pub run_id: String,
    pub asset_id: Option<String>,
    pub layer: &'static str,
    pub model: Option<String>,
    pub artifact_path: Option<String>,
    pub body_json: String,
    pub created_at: String,
    pub prompt_id: Option<String>,
    pub prompt_sha256: Option<String>,
    pub schema_version: Option<String>,
    pub input_sha256: Option<String>,
    pub artifact_sha256: Option<String>,
    pub status: Option<String>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub latency_ms: Option<i64>,
    pub trigger_event_id: Option<String>,
    /// L1's tags, merged into `assets.tags_json` as `ai:<tag>` (empty for other layers and abstentions).
    pub ai_tags: Vec<String>,
}

pub(crate) async fn ai_outputs(conn: &mut SqliteConnection, rows: &[&AiRow]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO ai_outputs (event_id, asset_id, layer, model, artifact_path, body_json, created_at, run_id, prompt_id, \
         prompt_sha256, schema_version, input_sha256, artifact_sha256, status, tokens_in, tokens_out, latency_ms, trigger_event_id) ",
        // Any conflict: the event already stored, or its artifact already stored by another trigger's row.
        " ON CONFLICT DO NOTHING",
        18,
        rows,
        |mut b, r| {
            b.push_bind(r.event_id.as_str())
                .push_bind(r.asset_id.as_deref())
                .push_bind(r.layer)
                .push_bind(r.model.as_deref())
                .push_bind(r.artifact_path.as_deref())
                .push_bind(r.body_json.as_str())
                .push_bind(r.created_at.as_str())
                .push_bind(r.run_id.as_str())
                .push_bind(r.prompt_id.as_deref())
                .push_bind(r.prompt_sha256.as_deref())
                .push_bind(r.schema_version.as_deref())
                .push_bind(r.input_sha256.as_deref())
                .push_bind(r.artifact_sha256.as_deref())
                .push_bind(r.status.as_deref())
                .push_bind(r.tokens_in)
                .push_bind(r.tokens_out)
                .push_bind(r.latency_ms)
                .push_bind(r.trigger_event_id.as_deref());
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::statement_chunks;

    #[test]
    fn chunks_are_full_statements_then_powers_of_two() {
        let items: Vec<u32> = (0..1_499).collect();
        let sizes: Vec<usize> = statement_chunks(&items, 500).map(<[u32]>::len).collect();
        assert_eq!(sizes, [500, 500, 256, 128, 64, 32, 16, 2, 1]);
        let back: Vec<u32> = statement_chunks(&items, 500).flatten().copied().collect();
        assert_eq!(back, items);
        assert_eq!(statement_chunks(&items[..0], 500).count(), 0);
        assert_eq!(statement_chunks(&items[..7], 0).map(<[u32]>::len).collect::<Vec<_>>(), [1; 7]);
    }
}
