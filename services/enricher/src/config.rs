//! `[enricher]` configuration: the durable consumer, the bounded re-snapshot schedule, the DexScreener
//! pair lookups and the CEX ticker lookups. Every field has a default, so an empty table is valid.

use std::time::Duration;

use nl_adapters::cex::ticker::TICKER_VENUES;
use nl_adapters::cex::ticker_client::CexTickersConfig;
use nl_adapters::cex::ticker_descriptor;
use nl_adapters::dex::config::DexScreenerConfig;
use nl_domain::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::EnricherError;

/// Largest accepted batch and bound (invariant 8: every batch and set has a bound).
pub const MAX_BOUND: usize = 1_000_000;

/// `[enricher]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnricherConfig {
    /// Run the enricher at all. Default true.
    pub enabled: bool,
    /// Durable consumer name on `nl.evt.listing.>`. Default `enricher`.
    pub durable: String,
    /// Deliveries per bus fetch (and per published output batch). Default 100.
    pub batch_size: usize,
    /// How long one fetch waits for messages. Default 500.
    pub fetch_wait_ms: u64,
    /// Redelivery delay after a failed publish. Default 1 000.
    pub nak_delay_ms: u64,
    /// Bound of the tracked (re-snapshot) set; when full the oldest-tracked asset is evicted and counted.
    /// Default 10 000.
    pub max_tracked: usize,
    /// Most assets re-fetched in one scheduler round (the rest stay due for the next round). Default 300.
    pub max_refresh_per_round: usize,
    /// Re-snapshot cadence by asset age.
    pub schedule: ScheduleConfig,
    /// DexScreener `/tokens/v1` lookups.
    pub dexscreener: DexScreenerEnrichConfig,
    /// Single-pair ticker lookups of CEX listings.
    pub cex_tickers: CexTickersConfig,
    /// A round (every source's snapshots of an asset merged into one evaluated snapshot) closes every
    /// this many ms; 0 closes rounds only on request (a [`crate::RoundControl`]). Default 200.
    pub round_ms: u64,
    /// Minimum-activity filter before enrichment (#20): a new on-chain listing whose launch (the source's
    /// own time, else when nl first saw it) is younger than this many seconds is discovered at once but
    /// not enriched: no lookups and no snapshot (so no risk-provider calls) until it is that old, when the
    /// re-snapshot schedule takes it (still without a pool then, it gets a no-data snapshot and a
    /// decision). Needs the schedule (`schedule.enabled` and a lookup source); 0 (default) enriches at once.
    pub enrich_after_secs: u64,
    /// Minimum-activity trigger by trades (#20): a launch deferred by `enrich_after_secs` is enriched as
    /// soon as its source reports it reached this many trades (`listing.observed` with `details.activity`:
    /// the Solana source counts pump.fun `TradeEvent`s within `enrich_after_secs` of the launch), whichever
    /// comes first. Needs `enrich_after_secs > 0` (every launch still gets enriched by time); 0 (default) = off.
    pub enrich_after_trades: u32,
}

impl Default for EnricherConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            durable: "enricher".into(),
            batch_size: 100,
            fetch_wait_ms: 500,
            nak_delay_ms: 1_000,
            max_tracked: 10_000,
            max_refresh_per_round: 300,
            schedule: ScheduleConfig::default(),
            dexscreener: DexScreenerEnrichConfig::default(),
            cex_tickers: CexTickersConfig::default(),
            round_ms: 200,
            enrich_after_secs: 0,
            enrich_after_trades: 0,
        }
    }
}

/// One cadence tier: assets younger than `max_age_minutes` are re-snapshotted every `every_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Upper bound (exclusive) of the tier's age range.
    pub max_age_minutes: u64,
    /// Re-snapshot interval within the tier.
    pub every_secs: u64,
}

/// Re-snapshot cadence. Tiers are checked in order; an asset older than every tier uses `else_every_secs`;
/// past `stop_after_minutes` it is no longer tracked. A re-snapshot is published only when a market fact
/// moved by more than `change_tolerance_pct`, appeared or disappeared, or `max_quiet_secs` passed since the
/// asset's last published snapshot (see `crate::change`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Re-snapshot tracked on-chain assets at all. Default true.
    pub enabled: bool,
    /// Default: `< 60 min → 60 s`, `< 1 440 min → 300 s`.
    pub tiers: Vec<Tier>,
    /// Cadence of assets older than every tier. Default 3 600.
    pub else_every_secs: u64,
    /// Stop tracking past this age. Default 10 080 (7 days).
    pub stop_after_minutes: u64,
    /// Relative move (percent) of price, FDV, market cap, liquidity, 24 h volume or holders beyond which
    /// a re-snapshot is published. Default 1.0.
    pub change_tolerance_pct: f64,
    /// Publish a re-snapshot anyway once this long passed since the asset's last published snapshot, so
    /// its age advances and its risk verdicts renew downstream; 0 publishes every round. Default 600.
    pub max_quiet_secs: u64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tiers: vec![Tier { max_age_minutes: 60, every_secs: 60 }, Tier { max_age_minutes: 1_440, every_secs: 300 }],
            else_every_secs: 3_600,
            stop_after_minutes: 10_080,
            change_tolerance_pct: 1.0,
            max_quiet_secs: 600,
        }
    }
}

impl ScheduleConfig {
    /// The re-snapshot interval for an asset of `age`.
    #[must_use]
    pub fn interval_for(&self, age: Duration) -> Duration {
        let minutes = age.as_secs() / 60;
        let secs = self.tiers.iter().find(|t| minutes < t.max_age_minutes).map_or(self.else_every_secs, |t| t.every_secs);
        Duration::from_secs(secs)
    }

    /// `change_tolerance_pct` as a fraction (0.01 for 1 %); a value `validate` rejects counts as zero.
    #[must_use]
    pub fn tolerance(&self) -> Decimal {
        Decimal::try_from(self.change_tolerance_pct).map_or(Decimal::ZERO, |pct| pct / Decimal::ONE_HUNDRED)
    }

    /// How long an unchanged asset may go without a published snapshot.
    #[must_use]
    pub fn max_quiet(&self) -> Duration {
        Duration::from_secs(self.max_quiet_secs)
    }

    /// Age past which an asset is no longer tracked.
    #[must_use]
    pub fn stop_after(&self) -> Duration {
        Duration::from_secs(self.stop_after_minutes.saturating_mul(60))
    }
}

/// DexScreener pair lookups (`/tokens/v1/{chainId}/{≤30 addresses}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DexScreenerEnrichConfig {
    /// Fetch pairs for on-chain assets. Default true.
    pub enabled: bool,
    /// Default `https://api.dexscreener.com`; tests point it at a mock.
    pub base_url: String,
    /// Budget of pair lookups. Default 300 (the documented pairs/tokens limit).
    pub calls_per_min: f64,
    /// Per-request timeout. Default 10 000.
    pub timeout_ms: u64,
    /// Largest response body kept; a longer one is stored as its prefix with size and SHA-256 and the
    /// lookup fails. Default 8 MiB (at most 30 tokens' pairs).
    pub max_body_bytes: u64,
}

impl Default for DexScreenerEnrichConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: "https://api.dexscreener.com".into(),
            calls_per_min: 300.0,
            timeout_ms: 10_000,
            max_body_bytes: nl_adapters::kit::PAGE_MAX_BODY_BYTES,
        }
    }
}

impl DexScreenerEnrichConfig {
    /// The DexScreener adapter config carrying these lookup settings (its discovery polls are off).
    #[must_use]
    pub fn to_collector_config(&self) -> DexScreenerConfig {
        DexScreenerConfig {
            enabled: self.enabled,
            base_url: self.base_url.clone(),
            profiles: false,
            boosts: false,
            pairs_calls_per_min: self.calls_per_min,
            timeout_ms: self.timeout_ms,
            max_body_bytes: self.max_body_bytes,
            ..DexScreenerConfig::default()
        }
    }
}

impl EnricherConfig {
    /// Checks bounds and names before anything is built.
    ///
    /// # Errors
    /// [`EnricherError::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<(), EnricherError> {
        let bad = |reason: String| Err(EnricherError::Config(reason));
        if self.durable.is_empty() || !self.durable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return bad(format!("enricher.durable {:?} must be non-empty [A-Za-z0-9_-]", self.durable));
        }
        for (name, v) in [("batch_size", self.batch_size), ("max_tracked", self.max_tracked), ("max_refresh_per_round", self.max_refresh_per_round)] {
            if v == 0 || v > MAX_BOUND {
                return bad(format!("enricher.{name} must be in 1..={MAX_BOUND}, got {v}"));
            }
        }
        if self.fetch_wait_ms == 0 {
            return bad("enricher.fetch_wait_ms must be positive".into());
        }
        if self.enrich_after_trades > 0 && self.enrich_after_secs == 0 {
            return bad("enricher.enrich_after_trades needs enricher.enrich_after_secs > 0 (the time trigger every launch falls back to)".into());
        }
        let s = &self.schedule;
        if s.else_every_secs == 0 || s.tiers.iter().any(|t| t.every_secs == 0) {
            return bad("enricher.schedule intervals must be positive".into());
        }
        if !(s.change_tolerance_pct.is_finite() && s.change_tolerance_pct >= 0.0) {
            return bad(format!("enricher.schedule.change_tolerance_pct must be >= 0, got {}", s.change_tolerance_pct));
        }
        if s.tiers.windows(2).any(|w| w[0].max_age_minutes >= w[1].max_age_minutes) {
            return bad("enricher.schedule.tiers must have increasing max_age_minutes".into());
        }
        let d = &self.dexscreener;
        if !(d.calls_per_min.is_finite() && d.calls_per_min > 0.0) {
            return bad(format!("enricher.dexscreener.calls_per_min must be positive, got {}", d.calls_per_min));
        }
        if d.timeout_ms == 0 {
            return bad("enricher.dexscreener.timeout_ms must be positive".into());
        }
        let t = &self.cex_tickers;
        if !(t.calls_per_min.is_finite() && t.calls_per_min > 0.0) {
            return bad(format!("enricher.cex_tickers.calls_per_min must be positive, got {}", t.calls_per_min));
        }
        if t.timeout_ms == 0 {
            return bad("enricher.cex_tickers.timeout_ms must be positive".into());
        }
        if let Some(v) = t.base_urls.keys().find(|v| ticker_descriptor(v).is_none()) {
            let known = TICKER_VENUES.join(", ");
            return bad(format!("enricher.cex_tickers.base_urls: no ticker lookup for venue {v:?} (known: {known})"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_tiers_match_the_brief() {
        let c = EnricherConfig::default();
        c.validate().expect("defaults valid");
        let s = &c.schedule;
        assert_eq!(s.interval_for(Duration::from_secs(59 * 60)), Duration::from_secs(60));
        assert_eq!(s.interval_for(Duration::from_secs(60 * 60)), Duration::from_secs(300));
        assert_eq!(s.interval_for(Duration::from_secs(24 * 3600 - 1)), Duration::from_secs(300));
        assert_eq!(s.interval_for(Duration::from_secs(24 * 3600)), Duration::from_secs(3600));
        assert_eq!(s.stop_after(), Duration::from_secs(7 * 24 * 3600));
        assert_eq!((s.tolerance(), s.max_quiet()), (Decimal::new(1, 2), Duration::from_secs(600)));
    }

    #[test]
    fn empty_table_is_default_and_unknown_keys_are_rejected() {
        let c: EnricherConfig = serde_json::from_str("{}").expect("empty");
        assert_eq!(c, EnricherConfig::default());
        assert!(serde_json::from_str::<EnricherConfig>(r#"{"bogus": 1}"#).is_err());
        assert!(serde_json::from_str::<EnricherConfig>(r#"{"schedule": {"tier": []}}"#).is_err());
    }

    #[test]
    fn rejects_zero_bounds_and_unordered_tiers() {
        let mut c = EnricherConfig { max_tracked: 0, ..EnricherConfig::default() };
        assert!(c.validate().is_err());
        c.max_tracked = 10;
        c.schedule.tiers = vec![Tier { max_age_minutes: 100, every_secs: 60 }, Tier { max_age_minutes: 50, every_secs: 60 }];
        assert!(c.validate().is_err());
        c.schedule = ScheduleConfig { change_tolerance_pct: -1.0, ..ScheduleConfig::default() };
        assert!(c.validate().is_err());
        c.schedule = ScheduleConfig::default();
        c.dexscreener.calls_per_min = 0.0;
        assert!(c.validate().is_err());
        c.dexscreener = DexScreenerEnrichConfig::default();
        c.cex_tickers.base_urls.insert("kraken".into(), "http://127.0.0.1:1".into());
        let err = c.validate().expect_err("unknown venue").to_string();
        assert!(err.contains("kraken"), "{err}");
    }

    #[test]
    fn the_trade_trigger_needs_the_time_trigger() {
        let mut c = EnricherConfig { enrich_after_trades: 5, ..EnricherConfig::default() };
        let err = c.validate().expect_err("trades without secs").to_string();
        assert!(err.contains("enrich_after_secs"), "{err}");
        c.enrich_after_secs = 60;
        assert!(c.validate().is_ok());
    }
}
