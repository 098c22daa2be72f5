//! BingX wire types. Keys are read exactly as documented (`apiStateBuy`, `apiStateSell`; one SDK swaps them).

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// The envelope `{"code","msg","data":{"symbols":[...]}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Envelope {
    #[serde(deserialize_with = "opt_str")]
    pub code: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub msg: Option<String>,
    pub data: Option<Data>,
}

/// `data`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Data {
    pub symbols: Option<Vec<Symbol>>,
}

/// One symbol.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Symbol {
    #[serde(deserialize_with = "opt_str")]
    pub symbol: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub api_state_buy: Option<bool>,
    #[serde(deserialize_with = "opt_bool")]
    pub api_state_sell: Option<bool>,
    /// Listing time, epoch ms.
    #[serde(deserialize_with = "opt_str")]
    pub time_online: Option<String>,
    /// Delisting time, epoch ms (0 = none).
    #[serde(deserialize_with = "opt_str")]
    pub off_time: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub display_name: Option<String>,
}
