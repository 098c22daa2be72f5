//! Evidence packs per layer and trigger. L1 reads the trigger (`asset.discovered`: the asset row and its
//! sightings; `candidate.promoted`: the decision) and, for the deep pass, the ledger's snapshots, risk
//! checks and score of the asset; L2–L4 read the run's own listings through the ledger. Every item is
//! dated and the [`PackBuilder`] drops what is newer than the trigger.

use std::sync::Arc;

use nl_domain::{AssetChanged, AssetDetail, AssetId, Decision, Envelope, GateDecision, LedgerReader, Listing, ListingQuery, Ts};
use serde_json::{Value, json};

use crate::governance;
use crate::pack::{Pack, PackBuilder};

/// Caps of one pack: characters per untrusted text, items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub chars: usize,
    pub items: usize,
}

impl Limits {
    #[must_use]
    pub fn of(cfg: &crate::AiConfig) -> Self {
        Self { chars: cfg.max_text_chars, items: cfg.max_pack_items }
    }
}

/// Listings a run-level pack looks at, at most.
pub const RUN_LISTINGS: u32 = 500;

/// Why a pack could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The trigger's meta is not what its type promises: dead-letter it.
    #[error("trigger meta: {0}")]
    Trigger(String),
    /// The ledger could not be read: retry.
    #[error("ledger read: {0}")]
    Read(String),
}

/// The L1 pack of an `asset.discovered` (light) or `candidate.promoted` (deep) trigger.
///
/// # Errors
/// [`PackError`].
pub async fn l1(trigger: &Envelope, reader: Option<&Arc<dyn LedgerReader>>, lim: Limits) -> Result<Pack, PackError> {
    let asset = trigger.asset_id.clone().ok_or_else(|| PackError::Trigger("no asset_id".into()))?;
    let mut b = PackBuilder::new("l1", trigger.ts, Some(asset.clone()), lim.chars).with_max_items(lim.items);
    let deep = trigger.kind == nl_domain::EventType::CandidatePromoted;
    if deep {
        let d = GateDecision::deserialize_meta(&trigger.meta).map_err(PackError::Trigger)?;
        b.push("decision", Some(d.decided_at), Some(trigger.event_id.0.clone()), json!({
            "decision": d.decision, "reason_codes": d.reason_codes, "rule_set_version": d.rule_set_version,
        }), &[]);
    } else {
        let c: AssetChanged = serde_json::from_value(trigger.meta.clone()).map_err(|e| PackError::Trigger(e.to_string()))?;
        let text = |k: &str| c.asset.get(k).and_then(Value::as_str).map(str::to_owned);
        let (name, symbol, desc) = (text("name"), text("symbol").or_else(|| trigger.symbol.clone()), text("description"));
        b.push("asset", Some(trigger.ts), Some(trigger.event_id.0.clone()), json!({
            "asset_id": asset, "chain": trigger.chain, "contract_address": c.contract_address, "venue_type": c.venue_type,
            "metadata_missing": c.metadata_missing,
        }), &[("name", name.as_deref()), ("symbol", symbol.as_deref()), ("description", desc.as_deref())]);
        for s in &c.sightings {
            b.push("sighting", Some(s.first_observed_at), None, json!({
                "source": s.source, "venue": s.venue, "kind": s.kind, "instrument_id": s.instrument_id,
                "source_published_at": s.source_published_at, "first_observed_at": s.first_observed_at,
            }), &[]);
        }
    }
    if let Some(reader) = reader.filter(|_| deep) {
        let id = AssetId::parse(&asset).map_err(|e| PackError::Trigger(e.to_string()))?;
        if let Some(d) = reader.asset_detail(&id).await.map_err(|e| PackError::Read(e.to_string()))? {
            detail_items(&mut b, &asset, &d);
        }
    }
    Ok(b.finish())
}

/// The L1 pack of an asset from the ledger's detail alone, as of `as_of` (`nl ai run`).
#[must_use]
pub fn l1_of_detail(asset: &str, d: &AssetDetail, as_of: Ts, lim: Limits) -> Pack {
    let mut b = PackBuilder::new("l1", as_of, Some(asset.to_owned()), lim.chars).with_max_items(lim.items);
    if let Some(dec) = &d.decision {
        b.push("decision", Some(dec.decided_at), d.decision_event_id.clone(), json!({
            "decision": dec.decision, "reason_codes": dec.reason_codes, "rule_set_version": dec.rule_set_version,
        }), &[]);
    }
    detail_items(&mut b, asset, d);
    b.finish()
}

/// The asset, its latest snapshots, risk checks and score (each dropped when newer than the pack).
fn detail_items(b: &mut PackBuilder, asset: &str, d: &AssetDetail) {
    {
        {
            let l = &d.listing;
            b.push("asset", Some(l.first_seen_at), None, json!({
                "asset_id": asset, "chain": l.chain, "contract_address": l.address, "kind": l.kind, "venues": l.venues,
                "sources": l.sources, "first_seen_at": l.first_seen_at,
            }), &[("name", l.name.as_deref()), ("symbol", Some(l.symbol.as_str()))]);
            for s in d.snapshots.iter().rev().take(5).rev() {
                b.push("snapshot", Some(s.observed_at), None, json!({
                    "source": s.source, "price_usd": s.price_usd, "fdv_usd": s.fdv_usd, "liquidity_usd": s.liquidity_usd,
                    "volume_24h_usd": s.volume_24h_usd, "holders": s.holders, "age_minutes": s.age_minutes,
                }), &[]);
            }
            if let Some(r) = &d.risk {
                for c in &r.checks {
                    b.push("risk_check", Some(r.evaluated_at), d.risk_event_id.clone(), json!({
                        "code": c.code, "verdict": c.verdict, "provider": c.provider, "severity": c.severity, "value": c.value,
                    }), &[("detail", c.detail.as_deref())]);
                }
            }
            if let Some(s) = &d.score {
                b.push("score", Some(s.computed_at), None, json!({"score": s.score, "formula_version": s.formula_version, "components": s.components}), &[]);
            }
        }
    }
}

/// The run's listings first seen at or before `as_of` (newest first, at most [`RUN_LISTINGS`]).
///
/// # Errors
/// [`PackError::Read`].
pub async fn run_listings(reader: &Arc<dyn LedgerReader>, as_of: Ts) -> Result<Vec<Listing>, PackError> {
    let q = ListingQuery { since: Some(as_of - chrono::Duration::hours(24)), limit: RUN_LISTINGS, ..ListingQuery::default() };
    let mut rows = reader.listings(&q).await.map_err(|e| PackError::Read(e.to_string()))?;
    rows.retain(|l| l.first_seen_at <= as_of);
    Ok(rows)
}

fn quartiles(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return json!({"n": 0});
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((v.len() - 1) as f64 * p).round() as usize;
        v[i]
    };
    json!({"n": v.len(), "p25": q(0.25), "p50": q(0.5), "p75": q(0.75), "max": q(1.0)})
}

fn num(d: Option<&nl_domain::Decimal>) -> Option<f64> {
    d.and_then(|d| d.to_string().parse().ok())
}

/// The market items of a run-level pack (L2, L3): counts, promotion rate, distributions.
fn market_items(b: &mut PackBuilder, rows: &[Listing], as_of: Ts) {
    let cex = rows.iter().filter(|l| l.kind == nl_domain::MarketKind::Cex).count();
    b.push("new_listings", Some(as_of), None, json!({"window_hours": 24, "total": rows.len(), "cex": cex, "dex": rows.len() - cex}), &[]);
    let promoted = rows.iter().filter(|l| l.decision == Some(Decision::Promoted)).count();
    let decided = rows.iter().filter(|l| l.decision.is_some()).count();
    let rate = if decided == 0 { Value::Null } else { json!(format!("{:.3}", promoted as f64 / decided as f64)) };
    b.push("promotion_rate", Some(as_of), None, json!({"promoted": promoted, "decided": decided, "rate": rate}), &[]);
    b.push("liquidity_usd", Some(as_of), None, quartiles(rows.iter().filter_map(|l| num(l.liquidity_usd.as_ref())).collect()), &[]);
    b.push("price_usd", Some(as_of), None, quartiles(rows.iter().filter_map(|l| num(l.price_usd.as_ref())).collect()), &[]);
}

/// The L2 (regime) or L3 (hypotheses) pack as of `as_of`.
///
/// # Errors
/// [`PackError::Read`].
pub async fn run_level(layer: &str, as_of: Ts, reader: &Arc<dyn LedgerReader>, lim: Limits) -> Result<Pack, PackError> {
    let rows = run_listings(reader, as_of).await?;
    let mut b = PackBuilder::new(layer, as_of, None, lim.chars).with_max_items(lim.items);
    market_items(&mut b, &rows, as_of);
    if layer == "l3" {
        for l in rows.iter().filter(|l| l.decision == Some(Decision::Promoted)).take(20) {
            b.push("candidate", Some(l.first_seen_at), None, json!({
                "asset_id": l.asset_id, "kind": l.kind, "score": l.score, "liquidity_usd": l.liquidity_usd, "reason_codes": l.reason_codes,
            }), &[("symbol", Some(l.symbol.as_str()))]);
        }
    }
    Ok(b.finish())
}

/// The L4 pack: the deterministic governance checks over the promoted candidates, and their report.
///
/// # Errors
/// [`PackError::Read`].
pub async fn l4(as_of: Ts, reader: &Arc<dyn LedgerReader>, lim: Limits) -> Result<(Pack, Vec<governance::CandidateCheck>), PackError> {
    let rows = run_listings(reader, as_of).await?;
    let mut checks = Vec::new();
    for l in rows.iter().filter(|l| l.decision == Some(Decision::Promoted)).take(50) {
        let detail = reader.asset_detail(&l.asset_id).await.map_err(|e| PackError::Read(e.to_string()))?;
        checks.push(governance::check(&l.asset_id.to_string(), detail.as_ref()));
    }
    let mut b = PackBuilder::new("l4", as_of, None, lim.chars).with_max_items(lim.items);
    for c in &checks {
        b.push("governance_check", Some(as_of), c.decision_event_id.clone(), serde_json::to_value(c).unwrap_or(Value::Null), &[]);
    }
    Ok((b.finish(), checks))
}

trait MetaExt: Sized {
    fn deserialize_meta(meta: &Value) -> Result<Self, String>;
}

impl MetaExt for GateDecision {
    fn deserialize_meta(meta: &Value) -> Result<Self, String> {
        serde_json::from_value(meta.clone()).map_err(|e| e.to_string())
    }
}
