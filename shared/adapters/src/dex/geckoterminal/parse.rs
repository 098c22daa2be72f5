//! Maps GeckoTerminal pool resources to [`DexPool`]s: id splitting, network → chain mapping, exact
//! decimals, joined `included[]` tokens.

use std::collections::HashMap;

use nl_domain::{Decimal, DomainError};

use super::error::GeckoTerminalError;
use super::models::{GtDocument, GtIncluded, GtPool, GtRelationship, GtTxWindow};
use crate::dex::pool::{DexPool, TokenRef, TxCounts};
use crate::dex::wire::{non_empty, opt_dec, truncate};

/// GeckoTerminal network ids and our chain slugs. Unknown networks keep their GeckoTerminal id.
pub const NETWORKS: &[(&str, &str)] = &[
    ("eth", "eth"),
    ("base", "base"),
    ("bsc", "bsc"),
    ("solana", "solana"),
    ("arbitrum", "arbitrum"),
    ("polygon_pos", "polygon"),
    ("optimism", "optimism"),
    ("avax", "avax"),
];

/// Our chain slug for a GeckoTerminal network id (unknown ids are returned unchanged).
#[must_use]
pub fn chain_for_network(network: &str) -> String {
    NETWORKS.iter().find(|(n, _)| *n == network).map_or(network, |(_, c)| c).to_string()
}

/// The GeckoTerminal network id for one of our chain slugs (unknown slugs are returned unchanged).
#[must_use]
pub fn network_for_chain(chain: &str) -> String {
    NETWORKS.iter().find(|(_, c)| *c == chain).map_or(chain, |(n, _)| n).to_string()
}

/// Splits a resource id `{network}_{address}` into its parts. Network ids may contain `_`
/// (`polygon_pos`) but addresses (0x-hex, base58) never do, so the split is at the last `_`.
#[must_use]
pub fn split_resource_id(id: &str) -> Option<(&str, &str)> {
    let (network, address) = id.rsplit_once('_')?;
    (!network.is_empty() && !address.is_empty()).then_some((network, address))
}

/// One page of pools: the pools that mapped and the per-resource errors of those that did not.
#[derive(Debug, Default)]
pub struct PoolsPage {
    pub pools: Vec<DexPool>,
    pub errors: Vec<GeckoTerminalError>,
}

/// Parses a `new_pools` (or any pool-list) document.
///
/// # Errors
/// `GeckoTerminalError::Document` when the body is not a JSON:API document. Malformed individual pools
/// are reported in [`PoolsPage::errors`] instead.
pub fn parse_pools(body: &str) -> Result<PoolsPage, GeckoTerminalError> {
    let doc: GtDocument =
        serde_json::from_str(body).map_err(|e| GeckoTerminalError::Document { error: crate::kit::quote::quote(&e.to_string()), payload: truncate(body) })?;
    let included: HashMap<String, GtIncluded> =
        doc.included.into_iter().filter_map(|v| serde_json::from_value::<GtIncluded>(v).ok()).map(|inc| (inc.id.clone(), inc)).collect();
    let mut page = PoolsPage::default();
    for raw in doc.data {
        let id = raw.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let result = serde_json::from_value::<GtPool>(raw)
            .map_err(|e| GeckoTerminalError::Pool { id: id.clone(), reason: e.to_string() })
            .and_then(|pool| map_pool(&pool, &included));
        match result {
            Ok(pool) => page.pools.push(pool),
            Err(e) => page.errors.push(e),
        }
    }
    Ok(page)
}

fn map_pool(pool: &GtPool, included: &HashMap<String, GtIncluded>) -> Result<DexPool, GeckoTerminalError> {
    let bad = |reason: &str| GeckoTerminalError::Pool { id: pool.id.clone(), reason: reason.to_string() };
    let dom = |source: DomainError| GeckoTerminalError::Domain { id: pool.id.clone(), source };
    if pool.kind.as_deref().is_some_and(|k| k != "pool") {
        return Err(bad("resource type is not `pool`"));
    }
    let (network, id_address) = split_resource_id(&pool.id).ok_or_else(|| bad("id is not {network}_{address}"))?;
    let a = &pool.attributes;
    let pool_address = non_empty(a.address.as_deref()).unwrap_or_else(|| id_address.to_string());
    let base_token = token(&pool.relationships.base_token, included).ok_or_else(|| bad("missing base_token relationship"))?;
    let quote_token = token(&pool.relationships.quote_token, included).ok_or_else(|| bad("missing quote_token relationship"))?;
    let created_at = match non_empty(a.pool_created_at.as_deref()) {
        None => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s).map_err(|e| bad(&format!("pool_created_at {s:?}: {e}")))?.with_timezone(&chrono::Utc),
        ),
    };
    let window = |m: &HashMap<String, Option<String>>, w: &str| -> Result<Option<Decimal>, GeckoTerminalError> {
        opt_dec(m.get(w).and_then(Option::as_ref)).map_err(dom)
    };
    Ok(DexPool {
        chain: chain_for_network(network),
        pool_address,
        dex: pool.relationships.dex.as_ref().and_then(|r| r.data.as_ref()).map(|d| d.id.clone()),
        name: non_empty(a.name.as_deref()),
        base_token,
        quote_token,
        created_at,
        price_usd: opt_dec(a.base_token_price_usd.as_ref()).map_err(dom)?,
        price_native: opt_dec(a.base_token_price_quote_token.as_ref()).map_err(dom)?,
        fdv_usd: opt_dec(a.fdv_usd.as_ref()).map_err(dom)?,
        market_cap_usd: opt_dec(a.market_cap_usd.as_ref()).map_err(dom)?,
        liquidity_usd: opt_dec(a.reserve_in_usd.as_ref()).map_err(dom)?,
        volume_24h_usd: window(&a.volume_usd, "h24")?,
        price_change_24h_pct: window(&a.price_change_percentage, "h24")?,
        txns_5m: a.transactions.get("m5").map(tx),
        txns_1h: a.transactions.get("h1").map(tx),
        txns_24h: a.transactions.get("h24").map(tx),
        url: None,
        labels: Vec::new(),
    })
}

/// The token a relationship points at, enriched from `included[]` when present.
fn token(rel: &Option<GtRelationship>, included: &HashMap<String, GtIncluded>) -> Option<TokenRef> {
    let id = &rel.as_ref()?.data.as_ref()?.id;
    let (_, id_address) = split_resource_id(id)?;
    let Some(inc) = included.get(id) else {
        return Some(TokenRef::bare(id_address));
    };
    let at = &inc.attributes;
    Some(TokenRef {
        address: non_empty(at.address.as_deref()).unwrap_or_else(|| id_address.to_string()),
        symbol: non_empty(at.symbol.as_deref()),
        name: non_empty(at.name.as_deref()),
        decimals: at.decimals.and_then(|d| u8::try_from(d).ok()),
    })
}

fn tx(w: &GtTxWindow) -> TxCounts {
    TxCounts { buys: w.buys, sells: w.sells, buyers: w.buyers, sellers: w.sellers }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_domain::{AssetId, ChangeKind};

    use super::*;
    use crate::dex::pool::ObservationContext;

    const NEW_POOLS: &str = include_str!("test_data/http_get_new_pools.json");
    const MULTI_NETWORK: &str = include_str!("test_data/http_get_new_pools_multi_network.json");

    fn ts(s: &str) -> nl_domain::Ts {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc)
    }

    #[test]
    fn splits_ids_at_last_underscore() {
        assert_eq!(split_resource_id("polygon_pos_0xabc"), Some(("polygon_pos", "0xabc")));
        assert_eq!(
            split_resource_id("solana_So11111111111111111111111111111111111111112"),
            Some(("solana", "So11111111111111111111111111111111111111112"))
        );
        assert_eq!(split_resource_id("eth_0x1"), Some(("eth", "0x1")));
        assert_eq!(split_resource_id("noseparator"), None);
        assert_eq!(split_resource_id("eth_"), None);
        assert_eq!(split_resource_id("_0x1"), None);
    }

    #[test]
    fn maps_networks_both_ways() {
        assert_eq!(chain_for_network("polygon_pos"), "polygon");
        assert_eq!(chain_for_network("eth"), "eth");
        assert_eq!(chain_for_network("zksync"), "zksync");
        assert_eq!(network_for_chain("polygon"), "polygon_pos");
        assert_eq!(network_for_chain("linea"), "linea");
    }

    #[test]
    fn parses_real_page_with_nulls_long_decimals_and_included_tokens() {
        let page = parse_pools(NEW_POOLS).unwrap();
        assert!(page.errors.is_empty(), "{:?}", page.errors);
        assert_eq!(page.pools.len(), 2);
        let p = &page.pools[0];
        assert_eq!(p.chain, "solana");
        assert_eq!(p.pool_address, "A7cJ8yHXpkgPSGG31TAgvqjgx7AfrXNtsMZSZAxsYw3m");
        assert_eq!(p.dex.as_deref(), Some("pumpswap"));
        assert_eq!(p.base_token.address, "Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp");
        assert_eq!(p.base_token.symbol.as_deref(), Some("US"));
        assert_eq!(p.base_token.decimals, Some(6));
        assert_eq!(p.quote_token.symbol.as_deref(), Some("SOL"));
        assert!(p.price_usd.unwrap().to_string().starts_with("0.000646399702075111604342796"));
        assert_eq!(p.fdv_usd.unwrap().to_string(), "824.6826942");
        assert_eq!(p.market_cap_usd, None, "null market cap stays missing");
        assert_eq!(p.liquidity_usd.unwrap().to_string(), "0.0115");
        assert_eq!(p.volume_24h_usd.unwrap().to_string(), "64813742.3053932");
        assert_eq!(p.price_change_24h_pct.unwrap().to_string(), "-92.552");
        assert_eq!(p.txns_24h.unwrap().buys, Some(82720));
        assert_eq!(p.txns_24h.unwrap().sellers, Some(33));
        assert_eq!(p.created_at, Some(ts("2026-10-07T19:24:46Z")));

        let q = &page.pools[1];
        assert_eq!(q.liquidity_usd, None, "null reserve stays missing");
        assert_eq!(q.market_cap_usd.unwrap().to_string(), "183989683842.658");
        assert_eq!(q.txns_24h, None);
        // Token not in included[]: address from the relationship id, nothing invented.
        assert_eq!(q.base_token, TokenRef::bare("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"));
    }

    #[test]
    fn multi_network_ids_and_bad_items_do_not_sink_the_page() {
        let page = parse_pools(MULTI_NETWORK).unwrap();
        assert_eq!(page.pools.len(), 2);
        assert_eq!(page.errors.len(), 2, "{:?}", page.errors);
        let poly = &page.pools[0];
        assert_eq!(poly.chain, "polygon");
        assert_eq!(poly.pool_address, "0x1111111111111111111111111111111111111111");
        assert_eq!(poly.base_token.address, "0x2222222222222222222222222222222222222222");
        assert_eq!(poly.price_usd, None, "\"\" is missing");
        let unknown = &page.pools[1];
        assert_eq!(unknown.chain, "zksync");
        assert_eq!(unknown.pool_address, "0x5555555555555555555555555555555555555555", "address from id when attribute absent");
        assert!(matches!(page.errors[0], GeckoTerminalError::Domain { .. }));
        assert!(matches!(page.errors[1], GeckoTerminalError::Pool { .. }));
    }

    #[test]
    fn rejects_non_document() {
        assert!(matches!(parse_pools("[1,2"), Err(GeckoTerminalError::Document { .. })));
        assert!(parse_pools("{}").unwrap().pools.is_empty());
    }

    #[test]
    fn snapshot_keeps_missing_as_none() {
        let page = parse_pools(NEW_POOLS).unwrap();
        let at = ts("2026-10-07T20:24:46Z");
        let snap = page.pools[0].to_snapshot("geckoterminal", at, Some("raw1".into())).unwrap();
        assert_eq!(snap.asset_id, AssetId::parse("solana:Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp").unwrap());
        assert_eq!(snap.market_cap_usd, None);
        assert_eq!(snap.holders, None);
        assert_eq!(snap.age_minutes, Some(60));
        assert_eq!(snap.liquidity_usd.unwrap().to_string(), "0.0115");
        let snap2 = page.pools[1].to_snapshot("geckoterminal", at, None).unwrap();
        assert_eq!(snap2.liquidity_usd, None);
    }

    #[test]
    fn observation_carries_pool_details() {
        let page = parse_pools(NEW_POOLS).unwrap();
        let at = ts("2026-10-07T20:00:00Z");
        let ctx = ObservationContext { source: "geckoterminal".into(), first_observed_at: at, emitted_at: at, raw_event_id: None };
        let obs = page.pools[0].to_observation(&ctx, ChangeKind::New).unwrap();
        assert_eq!(obs.venue, "pumpswap");
        assert_eq!(obs.symbol, "US");
        assert_eq!(obs.instrument_id, "A7cJ8yHXpkgPSGG31TAgvqjgx7AfrXNtsMZSZAxsYw3m");
        assert_eq!(obs.source_published_at, Some(ts("2026-10-07T19:24:46Z")));
        assert_eq!(obs.details["quote_token"], "So11111111111111111111111111111111111111112");
    }
}
