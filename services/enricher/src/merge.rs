//! One market view per asset and round, merged from every source's snapshot of it (pure).
//!
//! A round's snapshots of one asset (GeckoTerminal's pool data, DexScreener's best pair, a CEX ticker, or a
//! snapshot with no values when nothing is known) become one [`Merged`] view:
//!
//! * **members**: per source, its latest snapshot of the round (latest `observed_at`, then raw id), sorted by
//!   source. Snapshots without any market value are dropped when another one has values; when none has,
//!   the latest of them is the only member (so the view still says "nothing known" and carries an age);
//! * **values**: each market value from the newest member that has it (ties by source name), recorded in
//!   [`Merged::provenance`] as `field → source`;
//! * **age**: the oldest any member reports, carried to the view's time;
//! * **time, source, raw id**: the newest member's time; the members' sources joined with `+`
//!   (`dexscreener+geckoterminal`; one member keeps its own source); the newest member's raw id.
//!
//! The result depends on the set of snapshots only, never on the order they arrived in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use nl_domain::{AssetId, Decimal, Snapshot};
use serde::{Deserialize, Serialize};

/// The meta key of a `snapshot.recorded` that holds its [`MergeInfo`].
pub const MERGE_KEY: &str = "merge";

/// What a merged view was made of: each source's own snapshot (values and raw event: the provenance of
/// every value) and which source gave each value of the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeInfo {
    /// Per source, the snapshot the view used, sorted by source.
    pub members: Vec<Snapshot>,
    /// `field → source` for every market value the view has (`price_usd → geckoterminal`).
    pub provenance: BTreeMap<String, String>,
}

/// A merged view: the snapshot evaluated, and what it was made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub snapshot: Snapshot,
    pub info: MergeInfo,
}

/// Whether `s` carries any market value (its age alone is not market data).
#[must_use]
pub fn has_market_data(s: &Snapshot) -> bool {
    [s.price_usd, s.fdv_usd, s.market_cap_usd, s.liquidity_usd, s.volume_24h_usd].iter().any(Option::is_some) || s.holders.is_some()
}

/// Newer first: later `observed_at`, then larger raw id, then smaller source name (a total order, so the
/// choice never depends on input order).
fn newer(a: &Snapshot, b: &Snapshot) -> Ordering {
    b.observed_at.cmp(&a.observed_at).then_with(|| b.raw_event_id.cmp(&a.raw_event_id)).then_with(|| a.source.cmp(&b.source))
}

/// Merges `snapshots` (all of `asset`; others are ignored) into one view; `None` when there are none.
#[must_use]
pub fn merge(asset: &AssetId, snapshots: &[Snapshot]) -> Option<Merged> {
    let mine: Vec<&Snapshot> = snapshots.iter().filter(|s| &s.asset_id == asset).collect();
    let with_data: Vec<&Snapshot> = mine.iter().copied().filter(|s| has_market_data(s)).collect();
    let pool = if with_data.is_empty() { mine } else { with_data };
    let mut per_source: BTreeMap<&str, &Snapshot> = BTreeMap::new();
    for s in pool {
        match per_source.get(s.source.as_str()) {
            Some(kept) if newer(kept, s) != Ordering::Greater => {}
            _ => {
                per_source.insert(s.source.as_str(), s);
            }
        }
    }
    let mut members: Vec<Snapshot> = per_source.into_values().cloned().collect();
    if !members.iter().any(has_market_data) && members.len() > 1 {
        members.sort_by(newer);
        members.truncate(1);
    }
    let mut by_age: Vec<&Snapshot> = members.iter().collect();
    by_age.sort_by(|a, b| newer(a, b));
    let newest = *by_age.first()?;
    let at = newest.observed_at;
    let mut provenance = BTreeMap::new();
    let mut pick = |field: &str, get: &dyn Fn(&Snapshot) -> Option<Decimal>| {
        by_age.iter().find_map(|s| get(s).map(|v| (v, s.source.clone()))).map(|(v, src)| {
            provenance.insert(field.to_string(), src);
            v
        })
    };
    let price_usd = pick("price_usd", &|s| s.price_usd);
    let fdv_usd = pick("fdv_usd", &|s| s.fdv_usd);
    let market_cap_usd = pick("market_cap_usd", &|s| s.market_cap_usd);
    let liquidity_usd = pick("liquidity_usd", &|s| s.liquidity_usd);
    let volume_24h_usd = pick("volume_24h_usd", &|s| s.volume_24h_usd);
    let holders = by_age.iter().find_map(|s| s.holders.map(|h| (h, s.source.clone()))).map(|(h, src)| {
        provenance.insert("holders".into(), src);
        h
    });
    let age_minutes = members.iter().filter_map(|s| s.age_minutes_at(at)).max();
    let source = members.iter().map(|s| s.source.as_str()).collect::<Vec<_>>().join("+");
    let snapshot = Snapshot {
        asset_id: asset.clone(),
        observed_at: at,
        source,
        price_usd,
        fdv_usd,
        market_cap_usd,
        liquidity_usd,
        volume_24h_usd,
        holders,
        age_minutes,
        raw_event_id: newest.raw_event_id.clone(),
    };
    Some(Merged { snapshot, info: MergeInfo { members, provenance } })
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
