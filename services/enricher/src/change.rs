//! Whether a re-snapshot says anything new. A scheduled round re-fetches every due asset, but most young
//! listings sit still between rounds; publishing an unchanged snapshot re-runs risk, score and gate for
//! nothing (issue 14: "decide only on change"). The round compares each new snapshot's market facts with
//! the asset's last published ones and skips it unless a fact moved beyond the configured relative
//! tolerance, appeared or disappeared, or the asset has been quiet for `max_quiet_secs` (so ages still
//! advance and risk verdicts still renew downstream).

use nl_domain::{Decimal, Snapshot};

/// The market facts of a snapshot that a re-snapshot is compared on. Age and observation time are not
/// facts here: they always move, and `max_quiet_secs` bounds how stale they may get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketFacts {
    values: [Option<Decimal>; 6],
}

impl MarketFacts {
    /// The facts of `s`.
    #[must_use]
    pub fn of(s: &Snapshot) -> Self {
        Self { values: [s.price_usd, s.fdv_usd, s.market_cap_usd, s.liquidity_usd, s.volume_24h_usd, s.holders.map(Decimal::from)] }
    }

    /// Whether any fact appeared, disappeared, or moved by more than `tolerance` (a fraction: 0.01 is 1 %)
    /// relative to `prev`. A fact moving off zero counts as moved.
    #[must_use]
    pub fn moved_from(&self, prev: &Self, tolerance: Decimal) -> bool {
        self.values.iter().zip(&prev.values).any(|(new, old)| match (new, old) {
            (None, None) => false,
            (Some(new), Some(old)) if old.is_zero() => !new.is_zero(),
            (Some(new), Some(old)) => (*new - *old).abs() > old.abs() * tolerance,
            _ => true,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_domain::AssetId;

    use super::*;

    fn snap(price: Option<i64>, liquidity: Option<i64>, holders: Option<u64>) -> MarketFacts {
        let s = Snapshot {
            asset_id: AssetId::parse("eth:0x0000000000000000000000000000000000000001").unwrap(),
            observed_at: chrono::Utc::now(),
            source: "dexscreener".into(),
            price_usd: price.map(Decimal::from),
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: liquidity.map(Decimal::from),
            volume_24h_usd: None,
            holders,
            age_minutes: Some(5),
            raw_event_id: None,
        };
        MarketFacts::of(&s)
    }

    #[test]
    fn within_tolerance_is_unchanged_beyond_or_appearing_is_moved() {
        let pct = Decimal::new(1, 2);
        let base = snap(Some(1000), Some(50_000), Some(100));
        assert!(!snap(Some(1000), Some(50_000), Some(100)).moved_from(&base, pct));
        assert!(!snap(Some(1010), Some(49_500), Some(101)).moved_from(&base, pct), "exactly 1 % is within");
        assert!(snap(Some(1011), Some(50_000), Some(100)).moved_from(&base, pct));
        assert!(snap(Some(1000), Some(50_000), Some(102)).moved_from(&base, pct));
        assert!(snap(Some(1000), None, Some(100)).moved_from(&base, pct), "a fact disappeared");
        assert!(base.moved_from(&snap(Some(1000), None, Some(100)), pct), "a fact appeared");
        assert!(snap(Some(1), Some(0), None).moved_from(&snap(Some(1), Some(0), Some(0)), pct));
        assert!(snap(Some(1), Some(1), None).moved_from(&snap(Some(1), Some(0), None), pct), "off zero");
        assert!(snap(Some(1003), Some(50_000), Some(100)).moved_from(&base, Decimal::ZERO), "zero tolerance: any move");
    }
}
