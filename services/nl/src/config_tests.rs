#![allow(clippy::unwrap_used, clippy::expect_used)]

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

#[test]
fn every_listener_binds_loopback_by_default_in_code_and_in_the_shipped_config() {
    let d = ServeSection::default();
    for addr in [d.metrics_addr, d.ledger_grpc_addr, d.gate_grpc_addr] {
        assert!(addr.ip().is_loopback(), "{addr}");
    }
    assert!(d.grpc_token_env.is_empty(), "authentication is opt-in");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
    let text = std::fs::read_to_string(&path).expect("config/default.toml");
    let shipped: NlConfig = nl_config::load_str(&path, &text, std::iter::empty()).expect("config/default.toml loads").config;
    for addr in [shipped.serve.metrics_addr, shipped.serve.ledger_grpc_addr, shipped.serve.gate_grpc_addr] {
        assert!(addr.ip().is_loopback(), "config/default.toml binds {addr}");
    }
    assert!(text.contains("grpc_token_env"), "the shipped config documents grpc_token_env");
}

#[test]
fn a_bad_paper_section_is_refused_at_load_with_the_key_to_fix() {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml")).unwrap();
    let bad = shipped.replacen("fill_model = \"snapshot_v1\"", "fill_model = \"snapshot_v9\"", 1);
    assert_ne!(bad, shipped, "the shipped config names the fill model");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let err = format!("{:#}", load(&path).err().expect("an unknown fill model is refused"));
    assert!(err.contains("fill_model") && err.contains("snapshot_v9"), "{err}");
}
