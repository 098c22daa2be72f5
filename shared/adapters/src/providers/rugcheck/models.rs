//! rugcheck wire types, shared by the full report and the summary (the summary has only `risks`,
//! `score`, `score_normalised` and `lpLockedPct`). `tokenMeta` (name/symbol) is deliberately not modelled.

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
