//! Maps DexScreener pairs, profiles and boosts to domain-facing types, and plans `/tokens/v1` batches.

use std::collections::HashSet;

use nl_domain::{AssetId, ChangeKind, Decimal, DomainError, ListingObservation, ObservationKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::DexScreenerError;
use super::models::{DsLink, DsPair, DsProfile, DsTxWindow};
use crate::dex::pool::{DexPool, ObservationContext, TokenRef, TxCounts};
use crate::dex::wire::{non_empty, num_dec, opt_dec, truncate, ts_from_millis};

/// DexScreener `chainId`s that differ from our chain slugs; others (`solana`, `bsc`, `base`, ...) are
/// identical and unknown ids are kept.
pub const CHAINS: &[(&str, &str)] = &[("ethereum", "eth"), ("avalanche", "avax")];

/// Most token addresses `/tokens/v1/{chainId}/{addresses}` accepts per call.
pub const MAX_TOKENS_PER_CALL: usize = 30;

/// Our chain slug for a DexScreener `chainId`.
#[must_use]
pub fn chain_for_chain_id(chain_id: &str) -> String {
    CHAINS.iter().find(|(d, _)| *d == chain_id).map_or(chain_id, |(_, c)| c).to_string()
}

/// The DexScreener `chainId` for one of our chain slugs.
#[must_use]
pub fn chain_id_for_chain(chain: &str) -> String {
    CHAINS.iter().find(|(_, c)| *c == chain).map_or(chain, |(d, _)| d).to_string()
}

/// Splits addresses into batches of at most [`MAX_TOKENS_PER_CALL`], dropping blanks and duplicates
/// (case-insensitively, keeping the first spelling) while keeping order.
#[must_use]
pub fn token_batches<S: AsRef<str>>(addresses: &[S]) -> Vec<Vec<String>> {
    let mut seen = HashSet::new();
    let unique: Vec<String> = addresses
        .iter()
        .map(|a| a.as_ref().trim())
        .filter(|a| !a.is_empty() && seen.insert(a.to_ascii_lowercase()))
        .map(str::to_string)
        .collect();
    unique.chunks(MAX_TOKENS_PER_CALL).map(<[String]>::to_vec).collect()
}

/// The path `/tokens/v1/{chainId}/{a,b,…}` for one batch from [`token_batches`].
#[must_use]
pub fn tokens_v1_path(chain: &str, batch: &[String]) -> String {
    format!("/tokens/v1/{}/{}", chain_id_for_chain(chain), batch.join(","))
}

/// Pairs parsed from one response, with per-item errors.
#[derive(Debug, Default)]
pub struct PairsPage {
    /// `schemaVersion` of the envelope; `None` for bare arrays.
    pub schema_version: Option<String>,
    pub pools: Vec<DexPool>,
    pub errors: Vec<DexScreenerError>,
}

/// Parses a pairs response: the `{schemaVersion, pairs, pair}` envelope (`pairs`/`pair` may be `null`)
/// or a bare array (`/tokens/v1`, `/token-pairs/v1`).
///
/// # Errors
/// `DexScreenerError::Document` when the body is neither shape. Bad items go to [`PairsPage::errors`].
pub fn parse_pairs(body: &str) -> Result<PairsPage, DexScreenerError> {
    let doc_err = |error: String| DexScreenerError::Document { error, payload: truncate(body) };
    let value: Value = serde_json::from_str(body).map_err(|e| doc_err(crate::kit::quote::quote(&e.to_string())))?;
    let mut page = PairsPage::default();
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => {
            page.schema_version = map.get("schemaVersion").and_then(Value::as_str).map(str::to_string);
            let mut items = match map.remove("pairs") {
                Some(Value::Array(items)) => items,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(doc_err("`pairs` is not an array".into())),
            };
            match map.remove("pair") {
                None | Some(Value::Null) => {}
                Some(pair) => items.push(pair),
            }
            items
        }
        _ => return Err(doc_err("expected an object or an array".into())),
    };
    for raw in items {
        let id = raw.get("pairAddress").and_then(Value::as_str).unwrap_or_default().to_string();
        let result = serde_json::from_value::<DsPair>(raw)
            .map_err(|e| DexScreenerError::Item { id: id.clone(), reason: e.to_string() })
            .and_then(|p| map_pair(&p));
        match result {
            Ok(pool) => page.pools.push(pool),
            Err(e) => page.errors.push(e),
        }
    }
    Ok(page)
}

fn map_pair(p: &DsPair) -> Result<DexPool, DexScreenerError> {
    let dom = |source: DomainError| DexScreenerError::Domain { id: p.pair_address.clone(), source };
    if p.pair_address.trim().is_empty() || p.base_token.address.trim().is_empty() {
        return Err(DexScreenerError::Item { id: p.pair_address.clone(), reason: "empty pairAddress or baseToken.address".into() });
    }
    let created_at = match &p.pair_created_at {
        None => None,
        Some(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).and_then(ts_from_millis),
    };
    let token = |t: &super::models::DsToken| TokenRef {
        address: t.address.clone(),
        symbol: non_empty(t.symbol.as_deref()),
        name: non_empty(t.name.as_deref()),
        decimals: None,
    };
    let tx = |w: &str| p.txns.get(w).map(|t: &DsTxWindow| TxCounts { buys: t.buys, sells: t.sells, buyers: None, sellers: None });
    Ok(DexPool {
        chain: chain_for_chain_id(&p.chain_id),
        pool_address: p.pair_address.clone(),
        dex: non_empty(p.dex_id.as_deref()),
        name: None,
        base_token: token(&p.base_token),
        quote_token: token(&p.quote_token),
        created_at,
        price_usd: opt_dec(p.price_usd.as_ref()).map_err(dom)?,
        price_native: opt_dec(p.price_native.as_ref()).map_err(dom)?,
        fdv_usd: num_dec(p.fdv.as_ref()).map_err(dom)?,
        market_cap_usd: num_dec(p.market_cap.as_ref()).map_err(dom)?,
        liquidity_usd: num_dec(p.liquidity.as_ref().and_then(|l| l.usd.as_ref())).map_err(dom)?,
        volume_24h_usd: num_dec(p.volume.get("h24")).map_err(dom)?,
        price_change_24h_pct: num_dec(p.price_change.get("h24")).map_err(dom)?,
        txns_5m: tx("m5"),
        txns_1h: tx("h1"),
        txns_24h: tx("h24"),
        url: non_empty(p.url.as_deref()),
        labels: p.labels.clone(),
    })
}

/// One link of a token profile. DexScreener sends `type` (socials) **or** `label` (websites).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenProfileLink {
    pub kind: Option<String>,
    pub label: Option<String>,
    pub url: String,
}

/// A paid DexScreener token profile (secondary discovery only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenProfile {
    pub chain: String,
    pub token_address: String,
    pub url: Option<String>,
    pub icon: Option<String>,
    pub description: Option<String>,
    pub links: Vec<TokenProfileLink>,
}

/// A boost item: a profile plus the boost amounts (both optional; which one is sent is not confirmed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenBoost {
    pub profile: TokenProfile,
    pub amount: Option<Decimal>,
    pub total_amount: Option<Decimal>,
}

impl TokenProfile {
    /// A `TokenProfile` observation. `instrument_id` is the token address (profiles have no pair).
    ///
    /// # Errors
    /// `DomainError::AssetId` when the token address is malformed for the chain.
    pub fn to_observation(&self, ctx: &ObservationContext, change: ChangeKind) -> Result<ListingObservation, DomainError> {
        Ok(ListingObservation {
            source: ctx.source.clone(),
            venue: "dexscreener".into(),
            kind: ObservationKind::TokenProfile,
            change,
            asset_id: AssetId::chain(&self.chain, &self.token_address)?,
            symbol: String::new(),
            name: None,
            base: None,
            quote: None,
            instrument_id: self.token_address.clone(),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: ctx.first_observed_at,
            emitted_at: ctx.emitted_at,
            raw_event_id: ctx.raw_event_id.clone(),
            // The issuer's own `description` (attacker-controlled text): the enricher carries it to the
            // risk-scorer's `metadata_injection` rule.
            details: json!({ "url": self.url, "description": self.description, "links": self.links }),
        })
    }
}

/// Parses `token-profiles/latest/v1` (an array; a single object is accepted too).
///
/// # Errors
/// `DexScreenerError::Document` when the body is not JSON of either shape.
pub fn parse_token_profiles(body: &str) -> Result<(Vec<TokenProfile>, Vec<DexScreenerError>), DexScreenerError> {
    let (items, errors) = parse_profile_items(body)?;
    Ok((items.iter().map(map_profile).collect(), errors))
}

/// Parses `token-boosts/latest/v1` (same items as profiles plus `amount`/`totalAmount`).
///
/// # Errors
/// `DexScreenerError::Document` when the body is not JSON of either shape.
pub fn parse_token_boosts(body: &str) -> Result<(Vec<TokenBoost>, Vec<DexScreenerError>), DexScreenerError> {
    let (items, mut errors) = parse_profile_items(body)?;
    let mut boosts = Vec::with_capacity(items.len());
    for item in &items {
        let dom = |source| DexScreenerError::Domain { id: item.token_address.clone(), source };
        match (num_dec(item.amount.as_ref()), num_dec(item.total_amount.as_ref())) {
            (Ok(amount), Ok(total_amount)) => boosts.push(TokenBoost { profile: map_profile(item), amount, total_amount }),
            (Err(e), _) | (_, Err(e)) => errors.push(dom(e)),
        }
    }
    Ok((boosts, errors))
}

fn parse_profile_items(body: &str) -> Result<(Vec<DsProfile>, Vec<DexScreenerError>), DexScreenerError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| DexScreenerError::Document { error: crate::kit::quote::quote(&e.to_string()), payload: truncate(body) })?;
    let raw_items = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(DexScreenerError::Document { error: "expected an array or an object".into(), payload: truncate(body) }),
    };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for raw in raw_items {
        let id = raw.get("tokenAddress").and_then(Value::as_str).unwrap_or_default().to_string();
        match serde_json::from_value::<DsProfile>(raw) {
            Ok(p) if !p.token_address.trim().is_empty() => items.push(p),
            Ok(_) => errors.push(DexScreenerError::Item { id, reason: "empty tokenAddress".into() }),
            Err(e) => errors.push(DexScreenerError::Item { id, reason: e.to_string() }),
        }
    }
    Ok((items, errors))
}

fn map_profile(p: &DsProfile) -> TokenProfile {
    TokenProfile {
        chain: chain_for_chain_id(&p.chain_id),
        token_address: p.token_address.clone(),
        url: non_empty(p.url.as_deref()),
        icon: non_empty(p.icon.as_deref()),
        description: non_empty(p.description.as_deref()),
        links: p.links.iter().filter_map(map_link).collect(),
    }
}

fn map_link(l: &DsLink) -> Option<TokenProfileLink> {
    Some(TokenProfileLink { kind: non_empty(l.kind.as_deref()), label: non_empty(l.label.as_deref()), url: non_empty(l.url.as_deref())? })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
