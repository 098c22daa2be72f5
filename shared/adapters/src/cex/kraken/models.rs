//! Kraken wire types. REST pair keys and `base`/`quote` use legacy X/Z-prefixed codes for old assets
//! (`XXBTZUSD`, `XXBT`, `ZUSD`); `wsname` (`XBT/USD`) carries the readable base and quote.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cex::wire::opt_str;

/// `{"error":[],"result":{<pair key>: {...}}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssetPairsEnvelope {
    pub error: Vec<String>,
    pub result: Option<BTreeMap<String, AssetPair>>,
}

/// One `AssetPairs` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssetPair {
    #[serde(deserialize_with = "opt_str")]
    pub altname: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub wsname: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub aclass_base: Option<String>,
    /// `online`, `cancel_only`, `post_only`, `limit_only`, `reduce_only`.
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ordermin: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub tick_size: Option<String>,
}

/// A v2 WebSocket frame. Channel pushes have `channel`/`type`/`data`; method replies have
/// `method`/`success`/`error`/`result`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WsMessage {
    #[serde(deserialize_with = "opt_str")]
    pub channel: Option<String>,
    /// `snapshot` or `update`.
    #[serde(rename = "type", deserialize_with = "opt_str")]
    pub kind: Option<String>,
    pub data: Option<serde_json::Value>,
    #[serde(deserialize_with = "opt_str")]
    pub method: Option<String>,
    pub success: Option<bool>,
    #[serde(deserialize_with = "opt_str")]
    pub error: Option<String>,
    pub result: Option<serde_json::Value>,
}

/// `data` of an `instrument` push. Only `pairs[].symbol`, `base`, `quote` and `status` are read: those names are
/// confirmed by Kraken's docs and several public clients' fixtures; other pair fields stay in `details` raw.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstrumentData {
    pub pairs: Vec<serde_json::Value>,
}

/// The confirmed subset of one `pairs[]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WsPair {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
}
