//! Upbit wire types (`/v1/market/all`). `market_warning` was removed on 2024-11-20 and is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// One market of the bare array.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Market {
    /// `QUOTE-BASE`, e.g. `KRW-BTC`.
    #[serde(deserialize_with = "opt_str")]
    pub market: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub korean_name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub english_name: Option<String>,
    /// Present when details are requested.
    pub market_event: Option<MarketEvent>,
}

/// `market_event`: the investment warning and the caution flags (UPPER_SNAKE keys).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MarketEvent {
    #[serde(deserialize_with = "opt_bool")]
    pub warning: Option<bool>,
    pub caution: BTreeMap<String, serde_json::Value>,
}
