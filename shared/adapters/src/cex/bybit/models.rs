//! Bybit v5 wire types. `{"retCode":0,"retMsg":"OK","result":{...}}` wraps every reply.

use serde::Deserialize;

use crate::cex::wire::opt_str;

/// v5 envelope.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Envelope<T> {
    #[serde(deserialize_with = "opt_str")]
    pub ret_code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ret_msg: Option<String>,
    pub result: Option<ListResult<T>>,
}

/// `result.list`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct ListResult<T> {
    pub list: Vec<T>,
}

impl<T> Default for ListResult<T> {
    fn default() -> Self {
        Self { list: Vec::new() }
    }
}

/// One spot instrument.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SpotInstrument {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_coin: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_coin: Option<String>,
    /// `PreLaunch`, `Trading`, `Delivering`, `Closed`.
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub innovation: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub margin_trading: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub symbol_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub st_tag: Option<String>,
}

/// One announcement. Bybit gives no id; the URL is the identity. `publishTime`, `dateTimestamp` and
/// `startDateTimestamp` are all optional (docs and examples disagree).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BybitAnnouncement {
    #[serde(deserialize_with = "opt_str")]
    pub title: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub url: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub publish_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub date_timestamp: Option<String>,
}

/// One `result.list` row of `GET /v5/market/tickers?category=spot&symbol=` (shape: Bybit v5 "Get Tickers"
/// response example, as quoted in bybit-rust-api `rest/market/dto/tickers.rs`): `volume24h` in the base
/// coin, `turnover24h` in the quote coin.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SpotTicker {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub last_price: Option<String>,
    #[serde(rename = "turnover24h", deserialize_with = "opt_str")]
    pub turnover_24h: Option<String>,
}
