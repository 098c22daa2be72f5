//! MEXC wire types. `tradeSideType` and `status` arrive as strings in the docs and numbers elsewhere.

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// `exchangeInfo`, or an error `{"code":...,"msg":...}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExchangeInfo {
    pub symbols: Option<Vec<Symbol>>,
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
}

/// One symbol.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Symbol {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_asset: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_asset: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub trade_side_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub contract_address: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_spot_trading_allowed: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub st: Option<bool>,
}
