//! Wire types of DexScreener. Types follow the reference exactly: `priceNative`/`priceUsd` are strings;
//! volume, liquidity, fdv, marketCap and priceChange are numbers; almost everything is optional
//! (`liquidity` is absent on bonding-curve pairs, `priceChange` may be `{}`).

use std::collections::HashMap;

use serde::Deserialize;

/// A pair object (envelope `pairs[]`/`pair`, or an item of the bare `/tokens/v1` array).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsPair {
    pub chain_id: String,
    pub dex_id: Option<String>,
    pub url: Option<String>,
    pub pair_address: String,
    pub base_token: DsToken,
    pub quote_token: DsToken,
    pub price_native: Option<String>,
    pub price_usd: Option<String>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub txns: HashMap<String, DsTxWindow>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub volume: HashMap<String, serde_json::Number>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub price_change: HashMap<String, serde_json::Number>,
    pub liquidity: Option<DsLiquidity>,
    pub fdv: Option<serde_json::Number>,
    pub market_cap: Option<serde_json::Number>,
    /// Unix milliseconds.
    pub pair_created_at: Option<serde_json::Number>,
    pub info: Option<DsInfo>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub labels: Vec<String>,
    pub boosts: Option<DsBoosts>,
}

/// `baseToken` / `quoteToken`.
#[derive(Debug, Clone, Deserialize)]
pub struct DsToken {
    pub address: String,
    pub name: Option<String>,
    pub symbol: Option<String>,
}

/// Buys and sells in one window.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct DsTxWindow {
    pub buys: Option<u64>,
    pub sells: Option<u64>,
}

/// `liquidity`: numbers, each optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DsLiquidity {
    pub usd: Option<serde_json::Number>,
    pub base: Option<serde_json::Number>,
    pub quote: Option<serde_json::Number>,
}

/// `info` of a pair.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsInfo {
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub websites: Vec<DsLink>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub socials: Vec<DsLink>,
}

/// `boosts` of a pair.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DsBoosts {
    pub active: Option<i64>,
}

/// A link: profile `links[]` carry `type` **or** `label`; pair socials carry `type`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DsLink {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub label: Option<String>,
    pub url: Option<String>,
}

/// A `token-profiles/latest/v1` item; `token-boosts/latest/v1` items add `amount`/`totalAmount`
/// (which of the two is present is not confirmed, so both are optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsProfile {
    pub url: Option<String>,
    pub chain_id: String,
    pub token_address: String,
    pub icon: Option<String>,
    pub header: Option<String>,
    pub open_graph: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub links: Vec<DsLink>,
    pub amount: Option<serde_json::Number>,
    pub total_amount: Option<serde_json::Number>,
}
