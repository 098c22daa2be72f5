//! One market view per asset from every source's snapshots (pure).
//!
//! Each source (GeckoTerminal's carried pool data, DexScreener pairs, a CEX ticker, ...) publishes its own
//! `snapshot.recorded`. The scorer keeps the latest snapshot per source of each asset ([`SourceSnapshots`])
//! and evaluates, scores and decides once per asset from their merge ([`merge`]), so two sources never
//! produce two decisions from two partial views.
//!
//! The merge is a function of the *set* of kept snapshots, never of the order they arrived in:
//! * per source, the snapshot with the latest `observed_at` is kept (ties: the larger event id);
//! * a view member must be fresh: observed within `snapshot_ttl_secs` of the newest member;
//! * each market value comes from the newest member that has it (ties: the source name, ascending), and
//!   [`MarketView::provenance`] says which source gave it;
//! * the age is the oldest age any member reports (the asset existed since its earliest sighting);
//! * a single member is the view as is, so a one-source asset is evaluated exactly as before.
//!
//! Sources that disagree on the price beyond a tolerance are recorded ([`SourceDisagreement`]) and become
//! the `source_disagreement` check (see [`disagreement_check`]).

use std::collections::BTreeMap;

use nl_domain::{AssetId, BoundedMap, CheckCode, Decimal, NO_MARKET_SOURCE, RiskCheck, Snapshot, Ts, Verdict};
use serde::{Deserialize, Serialize};

/// One source's latest snapshot of an asset, with its event id and the source count it was stamped with.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub snapshot: Snapshot,
    pub event_id: String,
    pub source_count: Option<u32>,
}

/// The latest snapshot per source of the most recently seen assets (bounded: the least recently updated
/// asset is forgotten first; its next snapshot starts a new view).
#[derive(Debug)]
pub struct SourceSnapshots(BoundedMap<AssetId, BTreeMap<String, Member>>);

impl SourceSnapshots {
    /// An empty set holding at most `max_assets` assets.
    #[must_use]
    pub fn new(max_assets: usize) -> Self {
        Self(BoundedMap::new(max_assets))
    }

    /// Keeps `m` unless its source already has a later snapshot of the asset; returns the asset's members.
    pub fn add(&mut self, m: Member) -> Vec<Member> {
        let members = self.0.get_or_insert_with(m.snapshot.asset_id.clone(), BTreeMap::new);
        let newer = |kept: &Member| (m.snapshot.observed_at, m.event_id.as_str()) > (kept.snapshot.observed_at, kept.event_id.as_str());
        match members.get(&m.snapshot.source) {
            Some(kept) if !newer(kept) => {}
            _ => {
                members.insert(m.snapshot.source.clone(), m);
            }
        }
        members.values().cloned().collect()
    }
}

/// Two or more sources whose values of one market fact are further apart than the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDisagreement {
    /// The snapshot field (`price_usd`).
    pub field: String,
    /// `source → value`, every fresh member that gave the field.
    pub values: BTreeMap<String, Decimal>,
}

/// The merged view of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketView {
    /// The merged snapshot: observed at the newest member's time, `source` = the members' sources joined
    /// by `+` (a single member is kept as it is).
    pub snapshot: Snapshot,
    /// Event ids of the members, sorted (empty for a single member).
    pub merged_from: Vec<String>,
    /// `field → source` for every merged market value (empty for a single member).
    pub provenance: BTreeMap<String, String>,
    /// Sources that saw the asset: the largest stamped count, or the members that are real sources.
    pub source_count: u32,
    pub disagreements: Vec<SourceDisagreement>,
    /// How many fresh members gave a price (the disagreement check applies from two on).
    pub priced: usize,
}

type Field = (&'static str, fn(&Snapshot) -> Option<Decimal>);

/// The market facts merged field by field.
const FIELDS: [Field; 6] = [
    ("price_usd", |s| s.price_usd),
    ("fdv_usd", |s| s.fdv_usd),
    ("market_cap_usd", |s| s.market_cap_usd),
    ("liquidity_usd", |s| s.liquidity_usd),
    ("volume_24h_usd", |s| s.volume_24h_usd),
    ("holders", |s| s.holders.map(Decimal::from)),
];

/// Merges `members` (one per source, any order) into the asset's view; `None` for no members.
/// `max_price_spread` is the largest accepted `max / min − 1` between the sources' prices (0.5: the
/// highest may be 1.5× the lowest).
#[must_use]
pub fn merge(members: &[Member], snapshot_ttl_secs: u64, max_price_spread: Decimal) -> Option<MarketView> {
    let newest = members.iter().map(|m| m.snapshot.observed_at).max()?;
    let ttl = chrono::TimeDelta::try_seconds(i64::try_from(snapshot_ttl_secs).unwrap_or(i64::MAX)).unwrap_or(chrono::TimeDelta::MAX);
    let mut fresh: Vec<&Member> = members.iter().filter(|m| newest.checked_sub_signed(ttl).is_none_or(|t| m.snapshot.observed_at > t)).collect();
    // Newest first; equal times by source name, so the order of arrival never matters.
    fresh.sort_by(|a, b| b.snapshot.observed_at.cmp(&a.snapshot.observed_at).then_with(|| a.snapshot.source.cmp(&b.snapshot.source)));
    let real = fresh.iter().filter(|m| m.snapshot.source != NO_MARKET_SOURCE).count();
    let stamped = fresh.iter().filter_map(|m| m.source_count).max().unwrap_or(1);
    let source_count = stamped.max(u32::try_from(real).unwrap_or(u32::MAX)).max(1);
    let disagreements = price_disagreement(&fresh, max_price_spread).into_iter().collect();
    let priced = fresh.iter().filter(|m| m.snapshot.price_usd.is_some()).count();
    let first = fresh.first()?;
    if fresh.len() == 1 {
        return Some(MarketView { snapshot: first.snapshot.clone(), merged_from: vec![], provenance: BTreeMap::new(), source_count, disagreements, priced });
    }
    let mut provenance = BTreeMap::new();
    let mut pick = |field: &'static str, get: fn(&Snapshot) -> Option<Decimal>| {
        let (m, v) = fresh.iter().find_map(|m| get(&m.snapshot).map(|v| (m, v)))?;
        provenance.insert(field.to_string(), m.snapshot.source.clone());
        Some(v)
    };
    let [price, fdv, mcap, liq, vol, holders] = FIELDS.map(|(name, get)| pick(name, get));
    let mut sources: Vec<&str> = fresh.iter().map(|m| m.snapshot.source.as_str()).collect();
    sources.sort_unstable();
    let snapshot = Snapshot {
        asset_id: first.snapshot.asset_id.clone(),
        observed_at: newest,
        source: sources.join("+"),
        price_usd: price,
        fdv_usd: fdv,
        market_cap_usd: mcap,
        liquidity_usd: liq,
        volume_24h_usd: vol,
        holders: holders.and_then(|h| u64::try_from(h).ok()),
        age_minutes: fresh.iter().filter_map(|m| m.snapshot.age_minutes_at(newest)).max(),
        raw_event_id: None,
    };
    let mut merged_from: Vec<String> = fresh.iter().map(|m| m.event_id.clone()).collect();
    merged_from.sort_unstable();
    Some(MarketView { snapshot, merged_from, provenance, source_count, disagreements, priced })
}

/// The prices of the fresh members when the highest exceeds the lowest by more than `max_spread`.
fn price_disagreement(fresh: &[&Member], max_spread: Decimal) -> Option<SourceDisagreement> {
    let values: BTreeMap<String, Decimal> = fresh.iter().filter_map(|m| m.snapshot.price_usd.map(|p| (m.snapshot.source.clone(), p))).collect();
    let lo = values.values().min().copied()?;
    let hi = values.values().max().copied()?;
    let apart = if lo <= Decimal::ZERO { hi > lo } else { hi > lo * (Decimal::ONE + max_spread) };
    apart.then(|| SourceDisagreement { field: "price_usd".into(), values })
}

/// The `source_disagreement` check of a view whose members gave two or more prices (`None` otherwise, so
/// a one-source asset's evaluation is unchanged): failed when they disagree, with the values as its value.
#[must_use]
pub fn disagreement_check(view: &MarketView, severity: u8, now: Ts, ttl_secs: u64) -> Option<RiskCheck> {
    if view.priced < 2 {
        return None;
    }
    let failed = !view.disagreements.is_empty();
    let expires_at = i64::try_from(ttl_secs).ok().and_then(chrono::TimeDelta::try_seconds).and_then(|d| view.snapshot.observed_at.checked_add_signed(d)).unwrap_or(now);
    let detail = view.disagreements.iter().map(|d| {
        let v: Vec<String> = d.values.iter().map(|(s, v)| format!("{s}={}", v.normalize())).collect();
        format!("{} disagrees: {}", d.field, v.join(", "))
    });
    Some(RiskCheck {
        code: CheckCode::SourceDisagreement,
        verdict: if failed { Verdict::Fail } else { Verdict::Pass },
        provider: format!("snapshot:{}", view.snapshot.source),
        observed_at: view.snapshot.observed_at,
        expires_at,
        severity: if failed { severity } else { 0 },
        value: Some(serde_json::to_value(&view.disagreements).unwrap_or_default()),
        detail: Some(if failed { detail.collect::<Vec<_>>().join("; ") } else { format!("{} sources' prices agree", view.priced) }),
    })
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
