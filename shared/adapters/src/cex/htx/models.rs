//! HTX wire types (`/v2/settings/common/symbols`). Errors come as `err_code`/`err_msg` here and as
//! `err-code`/`err-msg` on the v1 endpoints; both spellings are read.

use serde::Deserialize;

use crate::cex::wire::{opt_bool, opt_str};

/// The envelope.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Symbols {
    #[serde(deserialize_with = "opt_str")]
    pub status: Option<String>,
    pub data: Option<Vec<Symbol>>,
    #[serde(deserialize_with = "opt_str")]
    pub full: Option<String>,
    #[serde(deserialize_with = "opt_str", alias = "err-code")]
    pub err_code: Option<String>,
    #[serde(deserialize_with = "opt_str", alias = "err-msg")]
    pub err_msg: Option<String>,
}

/// One symbol.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Symbol {
    /// Symbol code (`ethusdt`).
    #[serde(deserialize_with = "opt_str")]
    pub sc: Option<String>,
    /// Display name (`ETH/USDT`).
    #[serde(deserialize_with = "opt_str")]
    pub dn: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub bc: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub bcdn: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub qc: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub qcdn: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub state: Option<String>,
    /// Trade enabled.
    #[serde(deserialize_with = "opt_bool")]
    pub te: Option<bool>,
    /// Trade open at, epoch ms.
    #[serde(deserialize_with = "opt_str")]
    pub toa: Option<String>,
    /// Symbol partition (`main`, `innovation`, `st`).
    #[serde(deserialize_with = "opt_str")]
    pub sp: Option<String>,
    #[serde(deserialize_with = "opt_str")]
    pub tags: Option<String>,
    /// Call-auction stage (`ca_1`, `ca_2`).
    #[serde(deserialize_with = "opt_str")]
    pub castate: Option<String>,
}
