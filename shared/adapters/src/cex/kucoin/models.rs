//! KuCoin wire types. Envelope `{"code":"200000","data":...}`; times are epoch ms numbers and may be `null`.

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// Envelope.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Envelope<T> {
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
    pub data: Option<T>,
}

/// One `/api/v2/symbols` row.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Symbol {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_currency: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_currency: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub market: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub enable_trading: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_margin_enabled: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub st: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub callauction_is_enabled: Option<bool>,
    #[serde(deserialize_with = "opt_str")]
    pub callauction_first_stage_start_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub callauction_second_stage_start_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub callauction_third_stage_start_time: Option<String>,
    /// Trading start, epoch ms, nullable.
    #[serde(deserialize_with = "opt_str")]
    pub trading_start_time: Option<String>,
}

/// `data` of `/api/v3/announcements`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnnouncementPage {
    pub items: Vec<KucoinAnnouncement>,
}

/// One announcement.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KucoinAnnouncement {
    #[serde(deserialize_with = "opt_str")]
    pub ann_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ann_title: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ann_url: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub c_time: Option<String>,
}

/// `data` of `GET /api/v3/currencies/{currency}`. Shape from KuCoin's SDK model
/// (Kucoin/kucoin-java-sdk `ApiCurrencyDetailChainPropertyResponseV2`) and a captured currency list
/// (coder-169/Binance-lite-testing `app/components/Symbols.jsx`): `chains[]` with `chainName` (`ERC20`),
/// `chainId` (`eth`) and `contractAddress` (`""` for native coins).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Currency {
    #[serde(deserialize_with = "opt_str")]
    pub currency: Option<String>,
    pub chains: Option<Vec<CurrencyChain>>,
}

/// One entry of `chains`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CurrencyChain {
    #[serde(deserialize_with = "opt_str")]
    pub chain_name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub chain_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub contract_address: Option<String>,
}

/// `data` of `GET /api/v1/market/stats?symbol=` (24 h stats; shape: KuCoin spot "Get 24hr Stats", fields as in
/// the allTickers rows of Kucoin.jl `src/market.jl`): `vol` in the base currency, `volValue` in the quote
/// currency; values are `null` for a symbol without trades.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MarketStats {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub last: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub vol_value: Option<String>,
}
