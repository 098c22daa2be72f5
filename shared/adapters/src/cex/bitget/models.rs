//! Bitget v2 wire types. Envelope `{"code":"00000","msg":"success","requestTime":...,"data":...}`.
//! `openTime`/`offTime` were seen only in a mock and `annId` may be a string or a number: all optional.

use serde::Deserialize;

use crate::cex::wire::opt_str;

/// Envelope.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Envelope<T> {
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub request_time: Option<String>,
    pub data: Option<T>,
}

/// One spot symbol.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Symbol {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_coin: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_coin: Option<String>,
    /// `online`, `offline`, `gray`, `halt`.
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub open_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub off_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub area_symbol: Option<String>,
}

/// One announcement.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BitgetAnnouncement {
    #[serde(deserialize_with = "opt_str")]
    pub ann_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ann_title: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ann_url: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub c_time: Option<String>,
}
