//! The shared shape of a DEX pool as HTTP aggregators (GeckoTerminal, DexScreener) report it, and its
//! mapping to domain snapshots and observations. Missing market values stay `None`, never 0.

use nl_domain::{AssetId, ChangeKind, Decimal, DomainError, ListingObservation, ObservationKind, Snapshot, Ts};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// One side of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRef {
    /// Contract address or mint, as the source spells it (normalized later by [`AssetId::chain`]).
    pub address: String,
    pub symbol: Option<String>,
    pub name: Option<String>,
    /// Token decimals where the source gives them (GeckoTerminal `included[]` tokens).
    pub decimals: Option<u8>,
}

impl TokenRef {
    /// A token known only by its address.
    #[must_use]
    pub fn bare(address: &str) -> Self {
        Self { address: address.to_string(), symbol: None, name: None, decimals: None }
    }
}

/// Buy/sell counts over one window. `buyers`/`sellers` are GeckoTerminal-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxCounts {
    pub buys: Option<u64>,
    pub sells: Option<u64>,
    pub buyers: Option<u64>,
    pub sellers: Option<u64>,
}

/// A DEX pool or pair with its market data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DexPool {
    /// Our chain slug (`eth`, `base`, `bsc`, `solana`, `polygon`, ...; unknown source ids are kept).
    pub chain: String,
    pub pool_address: String,
    /// DEX id as the source names it (`pumpswap`, `uniswap_v3`, `pancakeswap`, ...).
    pub dex: Option<String>,
    /// Display name (`US / SOL`), GeckoTerminal only.
    pub name: Option<String>,
    pub base_token: TokenRef,
    pub quote_token: TokenRef,
    pub created_at: Option<Ts>,
    /// USD price of the base token.
    pub price_usd: Option<Decimal>,
    /// Base-token price in the quote token (DexScreener `priceNative`).
    pub price_native: Option<Decimal>,
    pub fdv_usd: Option<Decimal>,
    pub market_cap_usd: Option<Decimal>,
    /// GeckoTerminal `reserve_in_usd`, DexScreener `liquidity.usd`.
    pub liquidity_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub price_change_24h_pct: Option<Decimal>,
    pub txns_5m: Option<TxCounts>,
    pub txns_1h: Option<TxCounts>,
    pub txns_24h: Option<TxCounts>,
    /// Source page for the pair (DexScreener `url`).
    pub url: Option<String>,
    /// DexScreener `labels` (e.g. `v3`), empty elsewhere.
    pub labels: Vec<String>,
}

/// Who is emitting an observation and when; shared by every `to_observation(s)` in the DEX sources.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationContext {
    /// Source id from config (`geckoterminal`, `dexscreener_tokens`, `evm_base`, ...).
    pub source: String,
    pub first_observed_at: Ts,
    pub emitted_at: Ts,
    pub raw_event_id: Option<String>,
}

impl DexPool {
    /// The asset this pool is about: the base token on `chain`.
    ///
    /// # Errors
    /// `DomainError::AssetId` when the chain slug or base address is malformed.
    pub fn base_asset(&self) -> Result<AssetId, DomainError> {
        AssetId::chain(&self.chain, &self.base_token.address)
    }

    /// A market snapshot of the base token. Missing values stay `None`; `age_minutes` is derived from
    /// `created_at` when known.
    ///
    /// # Errors
    /// `DomainError::AssetId` when the base token address is malformed for the chain.
    pub fn to_snapshot(&self, source: &str, observed_at: Ts, raw_event_id: Option<String>) -> Result<Snapshot, DomainError> {
        Ok(Snapshot {
            asset_id: self.base_asset()?,
            observed_at,
            source: source.to_string(),
            price_usd: self.price_usd,
            fdv_usd: self.fdv_usd,
            market_cap_usd: self.market_cap_usd,
            liquidity_usd: self.liquidity_usd,
            volume_24h_usd: self.volume_24h_usd,
            holders: None,
            age_minutes: self.created_at.map(|c| (observed_at - c).num_minutes()),
            raw_event_id,
        })
    }

    /// A `DexPool` observation of the base token. `instrument_id` is the pool address.
    ///
    /// # Errors
    /// `DomainError::AssetId` when the base token address is malformed for the chain.
    pub fn to_observation(&self, ctx: &ObservationContext, change: ChangeKind) -> Result<ListingObservation, DomainError> {
        Ok(ListingObservation {
            source: ctx.source.clone(),
            venue: self.dex.clone().unwrap_or_else(|| ctx.source.clone()),
            kind: ObservationKind::DexPool,
            change,
            asset_id: self.base_asset()?,
            symbol: self.base_token.symbol.clone().unwrap_or_default(),
            name: self.base_token.name.clone(),
            base: self.base_token.symbol.clone(),
            quote: self.quote_token.symbol.clone(),
            instrument_id: self.pool_address.clone(),
            status: None,
            source_published_at: self.created_at,
            scheduled_at: None,
            first_observed_at: ctx.first_observed_at,
            emitted_at: ctx.emitted_at,
            raw_event_id: ctx.raw_event_id.clone(),
            details: json!({
                "dex": self.dex,
                "pool": self.pool_address,
                "pair": self.name,
                "base_token": self.base_token.address,
                "base_decimals": self.base_token.decimals,
                "quote_token": self.quote_token.address,
                "quote_symbol": self.quote_token.symbol,
                "url": self.url,
                "labels": self.labels,
            }),
        })
    }
}
