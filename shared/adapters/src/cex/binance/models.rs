//! Binance wire types. Unknown fields are ignored; `""` and `null` read as missing.

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// `GET /api/v3/exchangeInfo`; an error reply is `{"code":-1121,"msg":"..."}` instead.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExchangeInfo {
    pub symbols: Option<Vec<SpotSymbol>>,
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
}

/// One `exchangeInfo.symbols[]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SpotSymbol {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_asset: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_asset: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_spot_trading_allowed: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub is_margin_trading_allowed: Option<bool>,
    pub permission_sets: Option<serde_json::Value>,
}

/// CMS `article/list/query` envelope (`code == "000000"` on success).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CmsEnvelope {
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub message: Option<String>,
    pub data: Option<CmsData>,
}

/// CMS `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CmsData {
    pub catalogs: Vec<CmsCatalog>,
}

/// One catalog with its articles.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CmsCatalog {
    #[serde(deserialize_with = "opt_str")]
    pub catalog_id: Option<String>,
    pub articles: Vec<CmsArticle>,
}

/// One article; `code` builds the public URL.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CmsArticle {
    #[serde(deserialize_with = "opt_str")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub title: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub release_date: Option<String>,
}

/// Futures `!contractInfo` event (raw stream) or combined-stream wrapper / command reply.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FuturesFrame {
    #[serde(deserialize_with = "opt_str")]
    pub e: Option<String>,
    /// Event time (ms).
    #[serde(rename = "E", deserialize_with = "opt_str")]
    pub event_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub s: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ps: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ct: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub dt: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub ot: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub cs: Option<String>,
    /// Combined stream: `{"stream":"!contractInfo","data":{...}}`.
    #[serde(deserialize_with = "opt_str")]
    pub stream: Option<String>,
    pub data: Option<serde_json::Value>,
    /// Command reply: `{"result":null,"id":1}`.
    pub id: Option<serde_json::Value>,
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
}

/// Announcement WS frame: `{"type":"DATA","topic":...,"data":"<json string>"}`; commands use `type:"COMMAND"`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnnouncementWsFrame {
    #[serde(rename = "type", deserialize_with = "opt_str")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub topic: Option<String>,
    /// For `DATA` frames a JSON document encoded as a string.
    pub data: Option<serde_json::Value>,
}

/// The document inside an announcement `DATA` frame.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnnouncementWsData {
    #[serde(deserialize_with = "opt_str")]
    pub catalog_id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub catalog_name: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub publish_date: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub title: Option<String>,
}
