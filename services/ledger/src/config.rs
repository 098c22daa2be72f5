//! `[ledger]` configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{LedgerError, Result};

pub use nl_config::{DB_FILE_NAME, LEGACY_DB_FILE_NAME};
/// Default location of the SQLite database.
pub const DEFAULT_DB_PATH: &str = "out/research/new_listings/new_listings.sqlite";
/// The runbook's `venue_type` values.
pub const VENUE_TYPES: [&str; 2] = ["CEX", "DEX"];
/// Largest accepted `batch_size` and `channel_bound` (invariant 8: every batch has a bound).
pub const MAX_BOUND: usize = 100_000;

/// `raw_events.venue_type` (`CEX` or `DEX`) by source name, shared by the writer.
pub type VenueTypes = std::sync::Arc<BTreeMap<String, String>>;

/// `[ledger]` configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// The SQLite database file. Default `out/research/new_listings/new_listings.sqlite`.
    pub db_path: PathBuf,
    /// Envelopes per group-committed transaction, and deliveries per bus fetch.
    pub batch_size: usize,
    /// Bound of the writer's command channel; senders wait when it is full.
    pub channel_bound: usize,
    /// Read-only connections serving queries and gRPC.
    pub read_connections: u32,
    /// `v_assets_new`: an asset first seen within this many minutes is new.
    pub new_window_minutes: u32,
    /// `v_assets_candidates`: minimum latest liquidity in USD (decimal string).
    pub candidate_min_liquidity_usd: String,
    /// Durable consumer name on the bus.
    pub durable: String,
    /// How long one fetch waits for messages.
    pub fetch_wait_ms: u64,
    /// Pause before retrying a failed store (the batch is held, not nak'd).
    pub retry_delay_ms: u64,
    /// Whole-batch store attempts before the batch is stored event by event, dead-lettering only the
    /// events that still fail.
    pub store_attempts: u32,
    /// `raw_events.venue_type` by source name (`CEX` or `DEX`), derived from the configured sources'
    /// kinds by the binary (not a config key). A source not listed stores NULL (risk providers).
    #[serde(skip)]
    pub venue_types: BTreeMap<String, String>,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            db_path: PathBuf::from(DEFAULT_DB_PATH),
            batch_size: 1000,
            channel_bound: 64,
            read_connections: 4,
            new_window_minutes: 1440,
            candidate_min_liquidity_usd: "10000".into(),
            durable: "ledger".into(),
            fetch_wait_ms: 500,
            retry_delay_ms: 1000,
            store_attempts: 5,
            venue_types: BTreeMap::new(),
        }
    }
}

impl LedgerConfig {
    /// A default config writing to `db_path`.
    #[must_use]
    pub fn with_db_path(db_path: impl Into<PathBuf>) -> Self {
        Self { db_path: db_path.into(), ..Self::default() }
    }

    /// Checks bounds and formats.
    ///
    /// # Errors
    /// [`LedgerError::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LedgerError::Config(m));
        if self.db_path.as_os_str().is_empty() {
            return bad("db_path is empty".into());
        }
        if !(1..=MAX_BOUND).contains(&self.batch_size) {
            return bad(format!("batch_size must be 1..={MAX_BOUND}, got {}", self.batch_size));
        }
        if !(1..=MAX_BOUND).contains(&self.channel_bound) {
            return bad(format!("channel_bound must be 1..={MAX_BOUND}, got {}", self.channel_bound));
        }
        if !(1..=64).contains(&self.read_connections) {
            return bad(format!("read_connections must be 1..=64, got {}", self.read_connections));
        }
        if nl_domain::parse_decimal(&self.candidate_min_liquidity_usd).is_err() {
            return bad(format!("candidate_min_liquidity_usd is not a decimal: {:?}", self.candidate_min_liquidity_usd));
        }
        if self.durable.is_empty() {
            return bad("durable is empty".into());
        }
        if self.store_attempts == 0 {
            return bad("store_attempts must be at least 1".into());
        }
        if let Some((source, v)) = self.venue_types.iter().find(|(_, v)| !VENUE_TYPES.contains(&v.as_str())) {
            return bad(format!("venue type of source {source} must be CEX or DEX, got {v:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_unknown_fields_are_rejected() {
        LedgerConfig::default().validate().unwrap();
        let cfg: LedgerConfig = toml_like(r#"{"batch_size": 5}"#);
        assert_eq!(cfg.batch_size, 5);
        assert_eq!(cfg.db_path, PathBuf::from(DEFAULT_DB_PATH));
        assert!(serde_json::from_str::<LedgerConfig>(r#"{"bogus": 1}"#).is_err());
        let bad = LedgerConfig { batch_size: 0, ..LedgerConfig::default() };
        assert!(bad.validate().is_err());
        let bad = LedgerConfig { candidate_min_liquidity_usd: "lots".into(), ..LedgerConfig::default() };
        assert!(bad.validate().is_err());
    }

    fn toml_like(s: &str) -> LedgerConfig {
        serde_json::from_str(s).unwrap()
    }
}
