//! Tests of the DexScreener parser over the payloads in `test_data/`.

#![allow(clippy::unwrap_used)]

use nl_domain::{AssetId, ChangeKind};

use super::*;

const PAIRS: &str = include_str!("test_data/http_get_latest_dex_pairs.json");
const TOKENS_V1: &str = include_str!("test_data/http_get_tokens_v1.json");
const PROFILES: &str = include_str!("test_data/http_get_token_profiles_latest.json");
const BOOSTS: &str = include_str!("test_data/http_get_token_boosts_latest.json");

#[test]
fn parses_envelope_with_strings_and_numbers() {
    let page = parse_pairs(PAIRS).unwrap();
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(page.schema_version.as_deref(), Some("1.0.0"));
    assert_eq!(page.pools.len(), 2);
    let p = &page.pools[0];
    assert_eq!(p.chain, "solana");
    assert_eq!(p.dex.as_deref(), Some("pumpswap"));
    assert_eq!(p.price_usd.unwrap().to_string(), "0.0003798");
    assert_eq!(p.price_native.unwrap().to_string(), "0.000003465");
    assert_eq!(p.liquidity_usd.unwrap().to_string(), "52239.46");
    assert_eq!(p.fdv_usd.unwrap().to_string(), "379813");
    assert_eq!(p.volume_24h_usd.unwrap().to_string(), "24660.15");
    assert_eq!(p.price_change_24h_pct.unwrap().to_string(), "735");
    assert_eq!(p.txns_5m.unwrap().buys, Some(2236));
    assert_eq!(p.created_at.unwrap().timestamp_millis(), 1_791_632_043_000);
    let bonding = &page.pools[1];
    assert_eq!(bonding.liquidity_usd, None, "absent liquidity is missing, not 0");
    assert_eq!(bonding.txns_1h, None);
    assert_eq!(bonding.price_change_24h_pct.unwrap().to_string(), "69.26");
}

#[test]
fn parses_bare_array_with_gaps_and_keeps_good_items() {
    let page = parse_pairs(TOKENS_V1).unwrap();
    assert_eq!(page.schema_version, None);
    assert_eq!(page.pools.len(), 2);
    assert_eq!(page.errors.len(), 1, "{:?}", page.errors);
    let eth = &page.pools[0];
    assert_eq!(eth.chain, "eth", "ethereum maps to eth");
    assert_eq!(eth.labels, vec!["v3".to_string()]);
    assert_eq!(eth.price_change_24h_pct, None, "priceChange {{}}");
    assert_eq!(eth.market_cap_usd, None);
    assert_eq!(eth.liquidity_usd, None);
    let sol = &page.pools[1];
    assert_eq!(sol.price_usd, None);
    assert_eq!(sol.base_token.name, None, "\"\" is missing");
    assert_eq!(sol.volume_24h_usd, None);
}

#[test]
fn envelope_with_single_pair_and_null_pairs() {
    let body = r#"{"schemaVersion":"1.0.0","pairs":null,"pair":{"chainId":"base","pairAddress":"0x1","baseToken":{"address":"0x2"},"quoteToken":{"address":"0x3"}}}"#;
    let page = parse_pairs(body).unwrap();
    assert_eq!(page.pools.len(), 1);
    assert_eq!(page.pools[0].chain, "base");
    assert!(parse_pairs(r#"{"schemaVersion":"1.0.0","pairs":null,"pair":null}"#).unwrap().pools.is_empty());
    assert!(matches!(parse_pairs("\"nope\""), Err(DexScreenerError::Document { .. })));
    assert!(matches!(parse_pairs(r#"{"pairs":{}}"#), Err(DexScreenerError::Document { .. })));
}

#[test]
fn snapshot_from_pair() {
    let page = parse_pairs(TOKENS_V1).unwrap();
    let at = page.pools[0].created_at.unwrap() + chrono::Duration::minutes(5);
    let snap = page.pools[0].to_snapshot("dexscreener", at, None).unwrap();
    assert_eq!(snap.asset_id, AssetId::parse("eth:0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678").unwrap());
    assert_eq!(snap.price_usd.unwrap().to_string(), "0.00042");
    assert_eq!(snap.liquidity_usd, None);
    assert_eq!(snap.age_minutes, Some(5));
}

#[test]
fn profiles_links_type_or_label() {
    let (profiles, errors) = parse_token_profiles(PROFILES).unwrap();
    assert_eq!(profiles.len(), 2);
    assert_eq!(errors.len(), 1, "item without tokenAddress");
    let p = &profiles[0];
    assert_eq!(p.chain, "solana");
    assert_eq!(p.links.len(), 2, "link without url dropped");
    assert_eq!(p.links[0].kind.as_deref(), Some("twitter"));
    assert_eq!(p.links[1].label.as_deref(), Some("Website"));
    assert_eq!(profiles[1].chain, "eth");
    assert!(profiles[1].links.is_empty(), "links: null tolerated");
    let at = chrono::DateTime::from_timestamp(1_791_632_043, 0).unwrap();
    let ctx = ObservationContext { source: "dexscreener_profiles".into(), first_observed_at: at, emitted_at: at, raw_event_id: None };
    let obs = profiles[1].to_observation(&ctx, ChangeKind::New).unwrap();
    assert_eq!(obs.kind, ObservationKind::TokenProfile);
    assert_eq!(obs.asset_id.to_string(), "eth:0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
}

#[test]
fn boosts_amounts_optional() {
    let (boosts, errors) = parse_token_boosts(BOOSTS).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(boosts[0].amount.unwrap().to_string(), "10");
    assert_eq!(boosts[0].total_amount.unwrap().to_string(), "30");
    assert_eq!(boosts[1].amount, None);
    assert_eq!(boosts[1].total_amount.unwrap().to_string(), "500");
}

#[test]
fn batches_tokens_by_thirty() {
    let addrs: Vec<String> = (0..65).map(|i| format!("0x{i:040x}")).collect();
    let mut with_dupes = addrs.clone();
    with_dupes.push(addrs[0].to_uppercase().replace("0X", "0x"));
    with_dupes.push("  ".into());
    let batches = token_batches(&with_dupes);
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![30, 30, 5]);
    assert_eq!(batches[0][0], addrs[0]);
    assert!(token_batches::<&str>(&[]).is_empty());
    assert_eq!(tokens_v1_path("eth", &["0xa".into(), "0xb".into()]), "/tokens/v1/ethereum/0xa,0xb");
    assert_eq!(tokens_v1_path("solana", &["M".into()]), "/tokens/v1/solana/M");
}
