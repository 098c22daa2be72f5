//! Gate v4 wire types. Times are unix seconds; `0` means "not set".

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// One currency pair.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CurrencyPair {
    #[serde(deserialize_with = "opt_str")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote: Option<String>,
    /// `untradable`, `buyable`, `sellable`, `tradable`.
    #[serde(deserialize_with = "opt_str")]
    pub trade_status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub buy_start: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub sell_start: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub delisting_time: Option<String>,
    /// `normal` or `premarket`.
    #[serde(rename = "type", deserialize_with = "opt_str")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub st_tag: Option<bool>,
}

/// `GET /api/v4/spot/currencies/{currency}`. Shape from the Gate v4 docs example and response schema
/// (mirrored in rosssaunders/coincise `docs/gateio/endpoints/public/get_spot_currencies_currency.md`):
/// `chain` is the main chain, `chains[]` has `name` (`ETH`, `BSC`, ...) and `addr` (`""` when none).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Currency {
    #[serde(deserialize_with = "opt_str")]
    pub currency: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub chain: Option<String>,
    pub chains: Option<Vec<CurrencyChain>>,
    /// Present on error bodies (`{"label":...,"message":...}`).
    #[serde(deserialize_with = "opt_str")]
    pub label: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub message: Option<String>,
}

/// One entry of `chains`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CurrencyChain {
    #[serde(deserialize_with = "opt_str")]
    pub name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub addr: Option<String>,
}

/// Error body: `{"label":"...","message":"..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    #[serde(deserialize_with = "opt_str")]
    pub label: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub message: Option<String>,
}

/// One row of `GET /api/v4/spot/tickers?currency_pair=` (a bare array; shape: Gate API v4 `Ticker` model as
/// documented in gateio/gateapi-js `docs/Ticker.md`): `base_volume` in the base currency, `quote_volume` in
/// the quote currency.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GateTicker {
    #[serde(deserialize_with = "opt_str")]
    pub currency_pair: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub last: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_volume: Option<String>,
}
