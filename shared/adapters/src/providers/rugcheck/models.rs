//! rugcheck wire types, shared by the full report and the summary (the summary has only `risks`,
//! `score`, `score_normalised` and `lpLockedPct`). Of `tokenMeta` only `mutable` is modelled (name/symbol
//! come from the listing sources).

use serde::Deserialize;

use crate::providers::wire::{loose, nullable};

/// A token report or report summary.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[serde(default, deserialize_with = "loose")]
    pub mint: Option<String>,
    #[serde(default)]
    pub token: Option<TokenInfo>,
    /// Absent = not reported; `null` = disabled; a key = enabled.
    #[serde(default, deserialize_with = "nullable")]
    pub mint_authority: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub freeze_authority: Option<Option<String>>,
    #[serde(default)]
    pub top_holders: Option<Vec<TopHolder>>,
    #[serde(default)]
    pub risks: Option<Vec<Risk>>,
    #[serde(default, deserialize_with = "loose")]
    pub score: Option<String>,
    #[serde(default)]
    pub markets: Option<Vec<Market>>,
    #[serde(default, deserialize_with = "loose")]
    pub total_holders: Option<String>,
    /// Summary endpoint only: LP locked percent of the token's pools.
    #[serde(default, deserialize_with = "loose")]
    pub lp_locked_pct: Option<String>,
    #[serde(default)]
    pub transfer_fee: Option<TransferFee>,
    #[serde(default)]
    pub token_meta: Option<TokenMeta>,
}

/// `tokenMeta`: the token's Metaplex metadata as rugcheck read it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenMeta {
    /// Metaplex `is_mutable`; absent or not a bool = not reported.
    #[serde(default, deserialize_with = "loose_bool")]
    pub mutable: Option<bool>,
}

fn loose_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_bool())
}

/// `token`: the SPL mint account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    #[serde(default, deserialize_with = "nullable")]
    pub mint_authority: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub freeze_authority: Option<Option<String>>,
}

/// `topHolders[]`; `pct` is a percent number.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopHolder {
    #[serde(default, deserialize_with = "loose")]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub pct: Option<String>,
}

/// `risks[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Risk {
    #[serde(default, deserialize_with = "loose")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub level: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub score: Option<String>,
}

/// `markets[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Market {
    #[serde(default, deserialize_with = "loose")]
    pub pubkey: Option<String>,
    #[serde(default)]
    pub lp: Option<MarketLp>,
}

/// `markets[].lp`; USD values and `lpLockedPct` (percent) are numbers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketLp {
    #[serde(default, rename = "baseUSD", deserialize_with = "loose")]
    pub base_usd: Option<String>,
    #[serde(default, rename = "quoteUSD", deserialize_with = "loose")]
    pub quote_usd: Option<String>,
    #[serde(default, deserialize_with = "loose")]
    pub lp_locked_pct: Option<String>,
}

/// `transferFee` (Token-2022); `pct` is a percent number.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferFee {
    #[serde(default, deserialize_with = "loose")]
    pub pct: Option<String>,
}
