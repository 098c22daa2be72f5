//! OKX wire types. Every field is optional: a `preopen` SPOT instrument has only `instType`, `instId`,
//! `listTime` and `state` filled, everything else is `""` until shortly before `listTime`.

use serde::Deserialize;

use crate::cex::wire::opt_str;

/// `{"code":"0","msg":"","data":[...]}`.
#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct Envelope<T> {
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
    pub data: Vec<T>,
}

impl<T> Default for Envelope<T> {
    fn default() -> Self {
        Self { code: None, msg: None, data: Vec::new() }
    }
}

/// One instrument (REST row or push row).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OkxInstrument {
    #[serde(deserialize_with = "opt_str")]
    pub inst_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub inst_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_ccy: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_ccy: Option<String>,
    /// Listing time, ms as a string.
    #[serde(deserialize_with = "opt_str")]
    pub list_time: Option<String>,
    /// Call-auction end time, ms as a string.
    #[serde(deserialize_with = "opt_str")]
    pub cont_td_sw_time: Option<String>,
    /// `live`, `suspend`, `preopen`, `test`, ...
    #[serde(deserialize_with = "opt_str")]
    pub state: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub rule_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub open_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub tick_sz: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub lot_sz: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub min_sz: Option<String>,
}

/// One page of `support/announcements`: `data[0].details[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnnouncementPage {
    pub details: Vec<OkxAnnouncement>,
    #[serde(deserialize_with = "opt_str")]
    pub total_page: Option<String>,
}

/// One announcement. OKX gives no id; the URL is the stable identity.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OkxAnnouncement {
    #[serde(deserialize_with = "opt_str")]
    pub ann_type: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub title: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub url: Option<String>,
    /// Publish time, ms as a string (may lag the displayed time by minutes).
    #[serde(deserialize_with = "opt_str")]
    pub p_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub business_p_time: Option<String>,
}

/// A public WebSocket frame: push (`arg` + `data`) or event (`event`, `code`, `msg`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WsMessage {
    #[serde(deserialize_with = "opt_str")]
    pub event: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
    pub arg: Option<WsArg>,
    pub data: Option<Vec<OkxInstrument>>,
}

/// Channel argument of a push or subscribe event.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WsArg {
    #[serde(deserialize_with = "opt_str")]
    pub channel: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub inst_type: Option<String>,
}

/// One row of `GET /api/v5/market/ticker?instId=` (shape: OKX v5 "Get ticker"; fields as in the rust-okx
/// `market::Ticker` and the OKX v5 OpenAPI `GetMarketTickerV5Resp` example). For SPOT, `vol24h` is in the
/// base currency and `volCcy24h` in the quote currency.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OkxTicker {
    #[serde(deserialize_with = "opt_str")]
    pub inst_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub last: Option<String>,
    #[serde(rename = "volCcy24h", deserialize_with = "opt_str")]
    pub vol_ccy_24h: Option<String>,
}
