//! Rebuilding published envelopes from what the ledger keeps ([`crate::kept`]): the envelope's columns,
//! the meta its typed row stands for ([`crate::typed`]) with the row's residual applied, and the keys it
//! cites restored from the cited events ([`nl_domain::stored::restore`]).
//!
//! The writer uses the same code to check citations before dropping a copy, so a rebuilt envelope equals,
//! field for field, the one that was published.

use std::collections::HashMap;

use nl_domain::stored::{cited_events, cited_value, restore};
use nl_domain::{Envelope, EventId, EventType, SCHEMA_VERSION};
use serde_json::Value;
use sqlx::SqliteConnection;

use crate::error::{LedgerError, Result};
use crate::insert::fetch_in;
use crate::kept::{apply_residual, form, Form};
use crate::rows::{DecisionRow, RawRow, RiskRow, ScoreRow, SnapshotRow};

/// The columns of an `events` row.
#[derive(Debug, Clone, sqlx::FromRow)]
struct EventRow {
    event_id: String,
    ts: String,
    #[sqlx(rename = "type")]
    kind: String,
    run_id: String,
    config_hash: String,
    asset_id: Option<String>,
    source: Option<String>,
    symbol: Option<String>,
    chain: Option<String>,
    meta: Option<String>,
    body: Option<String>,
}

/// An events row keeps `config_hash` only when it differs from its run's (`run_configs`).
const EVENT_COLUMNS: &str = "SELECT e.event_id, e.ts, e.type, e.run_id, COALESCE(e.config_hash, c.config_hash) AS config_hash, e.asset_id, e.source, \
     e.symbol, e.chain, e.meta, e.body FROM events AS e LEFT JOIN run_configs AS c ON c.run_id = e.run_id WHERE e.event_id IN";

fn corrupt(id: &str, what: &str, e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Corrupt(format!("event {id}: {what}: {e}"))
}

/// The metas the typed rows of `rows` (tabled, not whole) stand for, by event id.
async fn bases(conn: &mut SqliteConnection, rows: &[EventRow]) -> Result<HashMap<String, Value>> {
    let mut ids: HashMap<EventType, Vec<String>> = HashMap::new();
    for r in rows.iter().filter(|r| r.body.is_none()) {
        let kind: EventType = r.kind.parse().map_err(|e| corrupt(&r.event_id, "type", e))?;
        if form(kind) == Form::Tabled {
            ids.entry(kind).or_default().push(r.event_id.clone());
        }
    }
    let mut out = HashMap::new();
    for (kind, ids) in ids {
        use EventType as T;
        match kind {
            T::RawCaptured => {
                for row in fetch_in::<RawRow>(conn, "SELECT * FROM raw_events WHERE raw_id IN", &ids).await? {
                    out.insert(row.raw_id.clone(), row.meta()?);
                }
            }
            T::SnapshotRecorded => {
                for row in fetch_in::<SnapshotRow>(conn, "SELECT * FROM market_snapshots WHERE event_id IN", &ids).await? {
                    out.insert(row.event_id.clone(), row.meta()?);
                }
            }
            T::RiskEvaluated => {
                for row in fetch_in::<RiskRow>(conn, "SELECT * FROM risk_flags WHERE event_id IN", &ids).await? {
                    out.insert(row.event_id.clone(), row.meta()?);
                }
            }
            T::ScoreComputed => {
                for row in fetch_in::<ScoreRow>(conn, "SELECT * FROM listing_scores WHERE event_id IN", &ids).await? {
                    out.insert(row.event_id.clone(), row.meta()?);
                }
            }
            T::CandidatePromoted | T::CandidateRejected => {
                for row in fetch_in::<DecisionRow>(conn, "SELECT * FROM gate_decisions WHERE event_id IN", &ids).await? {
                    out.insert(row.event_id.clone(), row.meta()?);
                }
            }
            _ => {
                for (id, body) in fetch_in::<(String, String)>(conn, "SELECT event_id, body_json FROM ai_outputs WHERE event_id IN", &ids).await? {
                    let meta = serde_json::from_str(&body).map_err(|e| corrupt(&id, "ai_outputs.body_json", e))?;
                    out.insert(id, meta);
                }
            }
        }
    }
    Ok(out)
}

/// The envelopes of `rows` with their stored metas (citations not yet restored).
async fn stored(conn: &mut SqliteConnection, ids: &[String]) -> Result<Vec<Envelope>> {
    let rows: Vec<EventRow> = fetch_in(conn, EVENT_COLUMNS, ids).await?;
    let mut bases = bases(conn, &rows).await?;
    rows.into_iter()
        .map(|r| {
            let id = r.event_id.as_str();
            if let Some(body) = &r.body {
                return Envelope::from_json(body.as_bytes()).map_err(|e| corrupt(id, "body", e));
            }
            let kind: EventType = r.kind.parse().map_err(|e| corrupt(id, "type", e))?;
            let kept = r.meta.as_deref().map(serde_json::from_str::<Value>).transpose().map_err(|e| corrupt(id, "meta", e))?;
            let meta = match form(kind) {
                Form::Tabled => {
                    let base = bases.remove(id).ok_or_else(|| corrupt(id, "typed row", "missing"))?;
                    apply_residual(base, kept)
                }
                _ => kept.ok_or_else(|| corrupt(id, "meta", "missing"))?,
            };
            let ts = chrono::DateTime::parse_from_rfc3339(&r.ts).map_err(|e| corrupt(id, "ts", e))?.with_timezone(&chrono::Utc);
            Ok(Envelope {
                event_id: EventId(r.event_id),
                ts,
                kind,
                run_id: r.run_id,
                config_hash: r.config_hash,
                asset_id: r.asset_id,
                symbol: r.symbol,
                chain: r.chain,
                source: r.source,
                meta,
                v: SCHEMA_VERSION,
            })
        })
        .collect()
}

/// The published envelopes of the events `ids` that are stored, by id.
///
/// # Errors
/// [`LedgerError::Db`] on query failure; [`LedgerError::Corrupt`] when a row does not parse, its typed row
/// is missing, or an event it cites is not stored.
pub(crate) async fn envelopes(conn: &mut SqliteConnection, ids: &[String]) -> Result<HashMap<String, Envelope>> {
    let mut envs = stored(conn, ids).await?;
    // Cited events never cite (see nl_domain::stored), so one more round restores everything.
    let cited_ids: Vec<String> = envs.iter().flat_map(|e| cited_events(e.kind, &e.meta)).map(|(_, id)| id.to_string()).collect();
    let cited: HashMap<String, Envelope> =
        if cited_ids.is_empty() { HashMap::new() } else { stored(conn, &cited_ids).await?.into_iter().map(|e| (e.event_id.0.clone(), e)).collect() };
    for env in &mut envs {
        let lookup = |kind: EventType, id: &str| cited.get(id).filter(|c| c.kind == kind).and_then(|c| cited_value(kind, &c.meta));
        restore(env.kind, &mut env.meta, lookup).map_err(|e| corrupt(env.event_id.as_str(), "citation", e))?;
    }
    Ok(envs.into_iter().map(|e| (e.event_id.0.clone(), e)).collect())
}
