#![allow(clippy::expect_used)]

use super::*;

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
