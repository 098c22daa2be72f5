//! What a source saw: one listing sighting, with the three timestamps that make detection lag measurable.

use serde::{Deserialize, Serialize};

use crate::{AssetId, Envelope, EventType, Ts};

/// What kind of sighting this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A spot instrument in a venue's instrument list or instrument push feed.
    CexInstrument,
    /// A futures/perpetual contract (e.g. Binance `!contractInfo`).
    CexContract,
    /// A venue announcement naming the coin (usually minutes to days before trading).
    CexAnnouncement,
    /// A DEX pool or pair (GeckoTerminal, DexScreener, factory logs).
    DexPool,
    /// A token profile or boost (DexScreener), secondary discovery.
    TokenProfile,
}

/// How the sighting relates to what the source saw before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// First seen after the source's baseline.
    New,
    /// Already known; status, schedule or other attributes changed (or it re-appeared).
    Updated,
    /// The source withdrew it (e.g. a reorged-out log, `removed: true`).
    Retracted,
}

/// One sighting of a listing, published as `listing.observed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingObservation {
    /// Source id from config, e.g. `okx_instruments`, `geckoterminal`, `evm_eth`.
    pub source: String,
    /// Venue or DEX, e.g. `okx`, `uniswap_v3`.
    pub venue: String,
    pub kind: ObservationKind,
    pub change: ChangeKind,
    pub asset_id: AssetId,
    /// Base symbol as the venue spells it, uppercased for CEX.
    pub symbol: String,
    pub name: Option<String>,
    pub base: Option<String>,
    pub quote: Option<String>,
    /// The venue's own instrument/pair/pool id (`BTC-USDT`, pool address, announcement code).
    pub instrument_id: String,
    pub status: Option<String>,
    /// When the source says it happened (listTime, releaseDate, pool_created_at, block time).
    pub source_published_at: Option<Ts>,
    /// When trading is scheduled to start, where the venue says (OKX listTime, KuCoin tradingStartTime, ...).
    pub scheduled_at: Option<Ts>,
    /// When nl first saw it.
    pub first_observed_at: Ts,
    /// When nl emitted this observation. Poll sources use the receive time of the response it was parsed
    /// from, so re-deriving it from raw_events gives the same value (and the same downstream snapshot).
    pub emitted_at: Ts,
    /// Id of the `raw_events` row this was parsed from.
    pub raw_event_id: Option<String>,
    /// Source-specific detail (announcement title/url, dex, fee, token0/token1, block, ...).
    pub details: serde_json::Value,
}

/// `details` key of an activity update (see [`ListingActivity`]).
pub const ACTIVITY_KEY: &str = "activity";

/// The minimum-activity report of a new on-chain listing (#20): a source that counts a young token's
/// trades (the Solana source, pump.fun `TradeEvent`s) reports once, as a `listing.observed` with
/// `change: updated` and `details.activity` = this, that the token reached the configured number of trades
/// (`[enricher] enrich_after_trades`). It is not a new sighting (the enricher publishes no upsert for it);
/// it tells the enricher to enrich a launch it deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingActivity {
    /// Trades counted when the report was made.
    pub trades: u32,
}

impl ListingObservation {
    /// The activity report this observation carries, if it is one (an update with `details.activity`).
    #[must_use]
    pub fn activity(&self) -> Option<ListingActivity> {
        if self.change != ChangeKind::Updated {
            return None;
        }
        serde_json::from_value(self.details.get(ACTIVITY_KEY)?.clone()).ok()
    }

    /// The natural identity of this sighting, used for the event id: source, instrument, change, status and
    /// scheduled start (so an update that only moves the listing time is a distinct event).
    #[must_use]
    pub fn event_id_parts(&self) -> [String; 6] {
        [
            self.source.clone(),
            self.instrument_id.clone(),
            self.asset_id.to_string(),
            serde_json::to_string(&self.change).unwrap_or_default(),
            self.status.clone().unwrap_or_default(),
            self.scheduled_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default(),
        ]
    }

    /// Wraps the observation in a `listing.observed` (or `listing.retracted`) envelope.
    #[must_use]
    pub fn to_envelope(&self, run_id: &str, config_hash: &str) -> Envelope {
        let kind = if self.change == ChangeKind::Retracted { EventType::ListingRetracted } else { EventType::ListingObserved };
        let parts = self.event_id_parts();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let meta = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut env = Envelope::new(kind, &refs, self.emitted_at, run_id, config_hash, meta)
            .with_asset(self.asset_id.to_string())
            .with_symbol(self.symbol.clone())
            .with_source(self.source.clone());
        if let Some(chain) = self.asset_id.chain_slug() {
            env = env.with_chain(chain);
        }
        env
    }
}
