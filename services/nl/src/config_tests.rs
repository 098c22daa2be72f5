#![allow(clippy::unwrap_used)]

use std::path::Path;

use super::*;

fn repo_config() -> Loaded<NlConfig> {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml")).unwrap()
}

#[test]
fn every_venue_source_of_the_default_config_has_its_venue_type() {
    let c = repo_config().config;
    let v = &c.ledger.venue_types;
    assert_eq!(v, &c.venue_types(), "load() hands the map to the ledger");
    for name in c.sources.0.keys() {
        assert_eq!(v.get(name).map(String::as_str), Some("CEX"), "{name}");
    }
    for name in ["okx_ticker", "gate_ticker", "kucoin_ticker", "bybit_ticker"] {
        assert_eq!(v.get(name).map(String::as_str), Some("CEX"), "{name}");
    }
    for name in ["geckoterminal", "dexscreener_profiles", "dexscreener_boosts", "dexscreener_pairs", "evm_eth", "evm_base", "evm_bsc"] {
        assert_eq!(v.get(name).map(String::as_str), Some("DEX"), "{name}");
    }
    for provider in ["goplus", "honeypot_is", "rugcheck"] {
        assert!(!v.contains_key(provider), "{provider} is no venue");
    }
    c.ledger.validate().unwrap();
}

#[test]
fn the_db_defaults_to_the_runbook_file_under_the_out_dir() {
    let c = repo_config().config;
    assert_eq!(c.ledger.db_path, c.storage.out_dir.join("new_listings.sqlite"));
}
