//! Coinbase Exchange wire types. Only `online` is a confirmed `status` value; flags refine it.

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// One product (REST row or `status` channel row).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    #[serde(deserialize_with = "opt_str")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub base_currency: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub quote_currency: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status_message: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub trading_disabled: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub auction_mode: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub cancel_only: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub limit_only: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub post_only: Option<bool>,
    #[serde(deserialize_with = "opt_str")]
    pub display_name: Option<String>,
}

/// A WebSocket frame: `status` (products), `subscriptions` (ack), `error`, `heartbeat`, ...
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WsMessage {
    #[serde(rename = "type", deserialize_with = "opt_str")]
    pub kind: Option<String>,
    pub products: Option<Vec<Product>>,
    #[serde(deserialize_with = "opt_str")]
    pub message: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub reason: Option<String>,
}

/// REST error body: `{"message":"..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    #[serde(deserialize_with = "opt_str")]
    pub message: Option<String>,
}
