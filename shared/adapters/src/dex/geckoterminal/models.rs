//! Wire types of GeckoTerminal pool listings. Unknown keys are ignored; every attribute is optional
//! because `null`, `""` and absent all occur. Decimals stay strings here and are parsed exactly in
//! [`super::parse`].

use std::collections::HashMap;

use serde::Deserialize;

/// The top-level JSON:API document. `data` items are kept as raw JSON so one bad pool cannot sink a page.
#[derive(Debug, Clone, Deserialize)]
pub struct GtDocument {
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub data: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub included: Vec<serde_json::Value>,
}

/// A `pool` resource.
#[derive(Debug, Clone, Deserialize)]
pub struct GtPool {
    /// `{network}_{address}`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub attributes: GtPoolAttributes,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub relationships: GtRelationships,
}

/// Pool attributes. All decimals are strings of arbitrary precision.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GtPoolAttributes {
    pub address: Option<String>,
    pub name: Option<String>,
    /// ISO-8601, e.g. `2026-10-07T19:24:46Z`.
    pub pool_created_at: Option<String>,
    pub base_token_price_usd: Option<String>,
    pub quote_token_price_usd: Option<String>,
    pub base_token_price_quote_token: Option<String>,
    pub fdv_usd: Option<String>,
    /// `null` for unverified tokens.
    pub market_cap_usd: Option<String>,
    /// Can be `null`.
    pub reserve_in_usd: Option<String>,
    /// Windows `m5`, `m15`, `m30`, `h1`, `h6`, `h24`; values are decimal strings.
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub price_change_percentage: HashMap<String, Option<String>>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub volume_usd: HashMap<String, Option<String>>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub transactions: HashMap<String, GtTxWindow>,
}

/// Transaction counts of one window (ints).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct GtTxWindow {
    pub buys: Option<u64>,
    pub sells: Option<u64>,
    pub buyers: Option<u64>,
    pub sellers: Option<u64>,
}

/// `relationships` of a pool.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GtRelationships {
    pub base_token: Option<GtRelationship>,
    pub quote_token: Option<GtRelationship>,
    pub dex: Option<GtRelationship>,
}

/// `{"data": {"id": …, "type": …}}`; `data` may be `null`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GtRelationship {
    pub data: Option<GtResourceRef>,
}

/// A resource identifier.
#[derive(Debug, Clone, Deserialize)]
pub struct GtResourceRef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// An `included[]` resource (`token` or `dex`).
#[derive(Debug, Clone, Deserialize)]
pub struct GtIncluded {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "crate::dex::wire::null_default")]
    pub attributes: GtIncludedAttributes,
}

/// Attributes of an included token (`address`, `name`, `symbol`, `decimals`, `image_url`,
/// `coingecko_coin_id`). Attributes of included `dex` resources are not confirmed; only their id is used.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GtIncludedAttributes {
    pub address: Option<String>,
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: Option<u32>,
    pub image_url: Option<String>,
    pub coingecko_coin_id: Option<String>,
}
