//! The risk-scorer's bounded per-asset cache of the latest provider reports: a report younger than the
//! TTL is reused instead of asking the provider again, and a failed refresh keeps the previous report.

use std::collections::{BTreeMap, HashMap};

use nl_adapters::providers::{Provider, ProviderReport};
use nl_domain::{AssetId, Ts};

/// A cached report with the raw events it came from (one per request; the Solana RPC makes two).
#[derive(Debug, Clone)]
pub struct CachedReport {
    pub report: ProviderReport,
    pub raw_ids: Vec<String>,
}

/// The latest successful report per provider per asset. Bounded: beyond `max_assets` the asset touched
/// longest ago is evicted. A failed refresh keeps the previous report; the rules' TTL decides whether it
/// still counts.
#[derive(Debug)]
pub struct ReportCache {
    max_assets: usize,
    ttl_secs: i64,
    tick: u64,
    /// Per asset: the tick it was last touched at and its reports, one per provider, in provider order.
    /// A vector sized to its reports, not a map: a `BTreeMap` node reserves room for 11 reports, about
    /// 2 KB per asset where one or two reports take 200 to 400 bytes.
    entries: HashMap<AssetId, (u64, Vec<CachedReport>)>,
    /// Each cached asset by the tick it was last touched at: the eviction order, so evicting is
    /// O(log n) instead of a scan over every entry.
    touched: BTreeMap<u64, AssetId>,
}

impl ReportCache {
    /// An empty cache holding at most `max_assets` assets (at least 1); a report younger than `ttl_secs`
    /// is reused without asking the provider again.
    #[must_use]
    pub fn new(max_assets: usize, ttl_secs: u64) -> Self {
        Self {
            max_assets: max_assets.max(1),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(i64::MAX),
            tick: 0,
            entries: HashMap::new(),
            touched: BTreeMap::new(),
        }
    }

    /// Cached reports of `asset`, any age.
    #[must_use]
    pub fn get(&self, asset: &AssetId) -> Vec<CachedReport> {
        self.entries.get(asset).map(|(_, m)| m.clone()).unwrap_or_default()
    }

    /// Whether `p`'s cached report on `asset` is young enough to reuse at `now`.
    #[must_use]
    pub fn is_fresh(&self, asset: &AssetId, p: Provider, now: Ts) -> bool {
        self.entries
            .get(asset)
            .and_then(|(_, m)| m.iter().find(|c| c.report.provider == p))
            .is_some_and(|c| (now - c.report.observed_at).num_seconds() < self.ttl_secs)
    }

    /// Stores a report, unless an equally new or newer one is cached.
    pub fn put(&mut self, asset: &AssetId, entry: CachedReport) {
        self.tick += 1;
        if !self.entries.contains_key(asset)
            && self.entries.len() >= self.max_assets
            && let Some((_, oldest)) = self.touched.pop_first()
        {
            self.entries.remove(&oldest);
        }
        let (touched, reports) = self.entries.entry(asset.clone()).or_insert_with(|| (0, Vec::new()));
        self.touched.remove(touched);
        *touched = self.tick;
        self.touched.insert(self.tick, asset.clone());
        match reports.binary_search_by_key(&entry.report.provider, |c| c.report.provider) {
            Ok(i) if reports[i].report.observed_at < entry.report.observed_at => reports[i] = entry,
            Ok(_) => {}
            Err(i) => {
                reports.insert(i, entry);
                reports.shrink_to_fit();
            }
        }
    }

    /// Number of cached assets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_adapters::providers::SecurityFacts;

    use super::*;

    fn at(s: &str) -> Ts {
        s.parse().unwrap()
    }

    #[test]
    fn cache_keeps_newest_and_is_bounded() {
        let a = AssetId::parse("cex:okx:A").unwrap();
        let b = AssetId::parse("cex:okx:B").unwrap();
        let rep = |t: &str| CachedReport {
            report: ProviderReport { provider: Provider::Goplus, observed_at: at(t), facts: SecurityFacts::default() },
            raw_ids: Vec::new(),
        };
        let mut c = ReportCache::new(1, 300);
        c.put(&a, rep("2026-10-08T12:00:00Z"));
        c.put(&a, rep("2026-10-08T11:00:00Z"));
        assert_eq!(c.get(&a)[0].report.observed_at, at("2026-10-08T12:00:00Z"), "an older report never replaces a newer one");
        assert!(c.is_fresh(&a, Provider::Goplus, at("2026-10-08T12:04:59Z")));
        assert!(!c.is_fresh(&a, Provider::Goplus, at("2026-10-08T12:05:00Z")));
        assert!(!c.is_fresh(&a, Provider::HoneypotIs, at("2026-10-08T12:00:00Z")));
        c.put(&b, rep("2026-10-08T12:00:00Z"));
        assert_eq!(c.len(), 1);
        assert!(c.get(&a).is_empty(), "the least recently touched asset was evicted");
    }

    #[test]
    fn reports_stay_in_provider_order_in_room_sized_to_them() {
        let a = AssetId::parse("cex:okx:A").unwrap();
        let rep = |p: Provider, t: &str| CachedReport {
            report: ProviderReport { provider: p, observed_at: at(t), facts: SecurityFacts::default() },
            raw_ids: Vec::new(),
        };
        let mut c = ReportCache::new(10, 300);
        c.put(&a, rep(Provider::HoneypotIs, "2026-10-08T12:00:00Z"));
        c.put(&a, rep(Provider::Goplus, "2026-10-08T12:00:00Z"));
        c.put(&a, rep(Provider::HoneypotIs, "2026-10-08T12:01:00Z"));
        let got: Vec<(Provider, Ts)> = c.get(&a).iter().map(|r| (r.report.provider, r.report.observed_at)).collect();
        assert_eq!(got, vec![(Provider::Goplus, at("2026-10-08T12:00:00Z")), (Provider::HoneypotIs, at("2026-10-08T12:01:00Z"))]);
        assert_eq!(c.entries[&a].1.capacity(), 2, "no room reserved for providers that never answered");
    }

    #[test]
    fn a_touched_asset_is_evicted_after_the_ones_touched_before_it() {
        let ids: Vec<AssetId> = ["A", "B", "C", "D"].iter().map(|s| AssetId::parse(&format!("cex:okx:{s}")).unwrap()).collect();
        let rep = |p: Provider| CachedReport {
            report: ProviderReport { provider: p, observed_at: at("2026-10-08T12:00:00Z"), facts: SecurityFacts::default() },
            raw_ids: Vec::new(),
        };
        let mut c = ReportCache::new(3, 300);
        for id in &ids[..3] {
            c.put(id, rep(Provider::Goplus));
        }
        c.put(&ids[0], rep(Provider::HoneypotIs));
        c.put(&ids[3], rep(Provider::Goplus));
        assert_eq!(c.len(), 3);
        assert!(c.get(&ids[1]).is_empty(), "B was touched longest ago");
        assert_eq!(c.get(&ids[0]).len(), 2, "A was touched again, so it stays with both reports");
        assert!(!c.get(&ids[2]).is_empty() && !c.get(&ids[3]).is_empty());
    }
}
