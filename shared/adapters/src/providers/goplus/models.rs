//! GoPlus wire types. Every scalar is read loosely (string, number or bool) and kept as text; unknown
//! fields are ignored. Token name and symbol are deliberately not modelled: free text never reaches a rule.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::providers::wire::loose;

/// The response envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSecurityResponse {
    #[serde(default, deserialize_with = "loose")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub message: Option<String>,
    /// Keyed by lowercased contract address; `null` on errors. Entries stay raw JSON so one odd entry
    /// cannot spoil the one asked for; it is decoded into [`TokenSecurity`] after lookup.
    #[serde(default)]
    pub result: Option<BTreeMap<String, serde_json::Value>>,
}

/// One token's security record (only the fields nl judges).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenSecurity {
    #[serde(default, deserialize_with = "loose")]
    pub is_honeypot: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub buy_tax: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub sell_tax: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_mintable: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub owner_address: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub can_take_back_ownership: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_proxy: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_open_source: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub holder_count: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub honeypot_with_same_creator: Option<String>,
    #[serde(default)]
    pub holders: Option<Vec<Holder>>,
    #[serde(default)]
    pub lp_holders: Option<Vec<Holder>>,
}

/// An entry of `holders[]` or `lp_holders[]`. `percent` is a fraction string; `is_contract`/`is_locked`
/// are ints.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Holder {
    #[serde(default, deserialize_with = "loose")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub percent: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_contract: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub is_locked: Option<String>,
}
