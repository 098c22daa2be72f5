//! Multi-row inserts: each table's rows go out in `push_values` statements of at most
//! [`rows_per_statement`] rows (under SQLite's 32,766-bind limit), because every sqlx-sqlite statement
//! costs a round trip (~70 µs) to the connection's worker thread.

use nl_domain::{GateDecision, RawEvent, RiskEvaluation, ScoreRecord, Snapshot};
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::db::{rows_per_statement, ts_str};
use crate::error::Result;

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
    for chunk in items.chunks(rows_per_statement(columns)) {
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
    for chunk in items.chunks(rows_per_statement(columns)) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut push);
        qb.push(tail);
        out.extend(qb.build_query_scalar::<String>().fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Columns shared by every per-event row: the envelope's id, run and config.
pub(crate) struct Meta<'a> {
    pub event_id: &'a str,
    pub run_id: &'a str,
    pub config_hash: &'a str,
}

fn dec(d: Option<nl_domain::Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

pub(crate) async fn raw_events(conn: &mut SqliteConnection, rows: &[&RawEvent], inserted_at: &str) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO raw_events (raw_id, source, endpoint, http_status, observed_at, content_hash, payload, parse_error, run_id, inserted_at) ",
        " ON CONFLICT(raw_id) DO NOTHING",
        10,
        rows,
        |mut b, r| {
            b.push_bind(r.raw_id.as_str())
                .push_bind(r.source.as_str())
                .push_bind(r.endpoint.as_str())
                .push_bind(r.http_status.map(i64::from))
                .push_bind(ts_str(&r.observed_at))
                .push_bind(r.content_hash.as_str())
                .push_bind(r.payload.as_str())
                .push_bind(r.parse_error.as_deref())
                .push_bind(r.run_id.as_str())
                .push_bind(inserted_at);
        },
    )
    .await
}

pub(crate) async fn snapshots(conn: &mut SqliteConnection, rows: &[(Meta<'_>, &Snapshot)]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO market_snapshots (event_id, asset_id, observed_at, source, price_usd, fdv_usd, market_cap_usd, liquidity_usd, volume_24h_usd, holders, age_minutes, raw_event_id, run_id) ",
        " ON CONFLICT(event_id) DO NOTHING",
        13,
        rows,
        |mut b, (m, s)| {
            b.push_bind(m.event_id)
                .push_bind(s.asset_id.to_string())
                .push_bind(ts_str(&s.observed_at))
                .push_bind(s.source.as_str())
                .push_bind(dec(s.price_usd))
                .push_bind(dec(s.fdv_usd))
                .push_bind(dec(s.market_cap_usd))
                .push_bind(dec(s.liquidity_usd))
                .push_bind(dec(s.volume_24h_usd))
                .push_bind(s.holders.map(|h| i64::try_from(h).unwrap_or(i64::MAX)))
                .push_bind(s.age_minutes)
                .push_bind(s.raw_event_id.as_deref())
                .push_bind(m.run_id);
        },
    )
    .await
}

/// Inserts evaluations; serialization of the check lists happened before (`json` = checks, disagreements).
pub(crate) async fn risks(conn: &mut SqliteConnection, rows: &[(Meta<'_>, &RiskEvaluation, String, String)]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO risk_flags (event_id, asset_id, evaluated_at, rule_set_version, severity, checks_json, disagreements_json, run_id, config_hash) ",
        " ON CONFLICT(event_id) DO NOTHING",
        9,
        rows,
        |mut b, (m, r, checks, disagreements)| {
            b.push_bind(m.event_id)
                .push_bind(r.asset_id.to_string())
                .push_bind(ts_str(&r.evaluated_at))
                .push_bind(r.rule_set_version.as_str())
                .push_bind(i64::from(r.severity))
                .push_bind(checks.as_str())
                .push_bind(disagreements.as_str())
                .push_bind(m.run_id)
                .push_bind(m.config_hash);
        },
    )
    .await
}

pub(crate) async fn scores(conn: &mut SqliteConnection, rows: &[(Meta<'_>, &ScoreRecord, String)]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO listing_scores (event_id, asset_id, computed_at, score, breakdown_json, reason, formula_version, run_id, config_hash) ",
        " ON CONFLICT(event_id) DO NOTHING",
        9,
        rows,
        |mut b, (m, s, breakdown)| {
            b.push_bind(m.event_id)
                .push_bind(s.asset_id.to_string())
                .push_bind(ts_str(&s.computed_at))
                .push_bind(s.score.to_string())
                .push_bind(breakdown.as_str())
                .push_bind(s.reason.as_str())
                .push_bind(s.formula_version.as_str())
                .push_bind(m.run_id)
                .push_bind(m.config_hash);
        },
    )
    .await
}

/// Inserts decisions; `reasons` and `inputs` are the JSON arrays.
pub(crate) async fn decisions(conn: &mut SqliteConnection, rows: &[(Meta<'_>, &GateDecision, String, String)]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO gate_decisions (event_id, asset_id, decision, reason_codes_json, rule_set_version, config_hash, inputs_json, decided_at, run_id) ",
        " ON CONFLICT(event_id) DO NOTHING",
        9,
        rows,
        |mut b, (m, d, reasons, inputs)| {
            let decision = match d.decision {
                nl_domain::Decision::Promoted => "promoted",
                nl_domain::Decision::Rejected => "rejected",
            };
            b.push_bind(m.event_id)
                .push_bind(d.asset_id.to_string())
                .push_bind(decision)
                .push_bind(reasons.as_str())
                .push_bind(d.rule_set_version.as_str())
                .push_bind(d.config_hash.as_str())
                .push_bind(inputs.as_str())
                .push_bind(ts_str(&d.decided_at))
                .push_bind(m.run_id);
        },
    )
    .await
}

/// One `ai_outputs` row.
pub(crate) struct AiRow<'a> {
    pub meta: Meta<'a>,
    pub asset_id: Option<&'a str>,
    pub layer: &'static str,
    pub model: Option<String>,
    pub artifact_path: Option<String>,
    pub body_json: String,
    pub created_at: String,
}

pub(crate) async fn ai_outputs(conn: &mut SqliteConnection, rows: &[AiRow<'_>]) -> Result<u64> {
    exec_chunked(
        conn,
        "INSERT INTO ai_outputs (event_id, asset_id, layer, model, artifact_path, body_json, created_at, run_id) ",
        " ON CONFLICT(event_id) DO NOTHING",
        8,
        rows,
        |mut b, r| {
            b.push_bind(r.meta.event_id)
                .push_bind(r.asset_id)
                .push_bind(r.layer)
                .push_bind(r.model.as_deref())
                .push_bind(r.artifact_path.as_deref())
                .push_bind(r.body_json.as_str())
                .push_bind(r.created_at.as_str())
                .push_bind(r.meta.run_id);
        },
    )
    .await
}
