//! Response body caps of the DEX and provider clients (#16): every HTTP client reads at most its source's
//! `max_body_bytes`; a longer body is kept as its first 64 KiB (for `raw_events`) and the poll or lookup
//! fails with the size, never buffering the whole body. A loopback venue answers every request with one body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use nl_adapters::dex::config::{DexSourcesConfig, EvmChainConfig, build_dex_sources_with_env};
use nl_adapters::dex::solana::config::SolanaConfig;
use nl_adapters::kit::{OVERSIZE_PREFIX_BYTES, PAGE_MAX_BODY_BYTES};
use nl_adapters::providers::{Provider, ProviderClients};
use nl_domain::AssetId;

/// A loopback server answering every request with 200 and `body`; returns its URL.
async fn serve(body: Vec<u8>) -> String {
    serve_with(body, true).await
}

/// As [`serve`]; without `content_length` the body runs until the connection closes (nothing announces
/// its size, as with an endless stream).
async fn serve_with(body: Vec<u8>, content_length: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = std::sync::Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let body = std::sync::Arc::clone(&body);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = conn.read(&mut buf).await;
                let length = if content_length { format!("content-length: {}\r\n", body.len()) } else { String::new() };
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n");
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    url
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dex_sources_keep_a_capped_prefix_of_a_body_over_their_max_body_bytes() {
    // 1 MiB more than the page default: GeckoTerminal and DexScreener keep 8 MiB of it.
    let huge = usize::try_from(PAGE_MAX_BODY_BYTES).unwrap() + 1024 * 1024;
    let url = serve(vec![b'x'; huge]).await;
    let mut cfg = DexSourcesConfig::default();
    cfg.geckoterminal.base_url.clone_from(&url);
    cfg.geckoterminal.networks = vec!["eth".into()];
    cfg.dexscreener.base_url.clone_from(&url);
    cfg.dexscreener.boosts = false;
    // The RPC sources take their own, smaller cap from config.
    let evm = EvmChainConfig { chain: "eth".into(), rpc_url: url.clone(), max_body_bytes: 4096, ..EvmChainConfig::default() };
    cfg.evm = BTreeMap::from([("evm_eth".to_string(), evm)]);
    let sol = SolanaConfig { rpc_url: url.clone(), max_body_bytes: 2048, programs: vec!["pumpfun".into()], ..SolanaConfig::default() };
    cfg.solana = BTreeMap::from([("solana_mainnet".to_string(), sol)]);
    let sources = build_dex_sources_with_env(&cfg, "nl_20261207_000000Z_deadbeef", &no_env).unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["geckoterminal", "dexscreener_profiles", "evm_eth", "solana_mainnet"]);
    let expected = [("geckoterminal", PAGE_MAX_BODY_BYTES), ("dexscreener_profiles", PAGE_MAX_BODY_BYTES), ("evm_eth", 4096), ("solana_mainnet", 2048)];
    for (src, (name, cap)) in sources.iter().zip(expected) {
        let out = src.poll(None, chrono::Utc::now()).await;
        assert!(out.observations.is_empty(), "{name}: nothing is read from a capped body");
        let error = out.errors.first().unwrap_or_else(|| panic!("{name}: the poll fails")).to_string();
        assert!(error.contains(&format!("exceeds max_body_bytes = {cap}")) && error.contains(&format!("{huge} bytes")), "{name}: {error}");
        assert!(error.len() < 600, "{name}: no venue text in the error: {error}");
        let raw = out.raws.first().unwrap_or_else(|| panic!("{name}: the capped body is kept raw"));
        let prefix = cap.min(OVERSIZE_PREFIX_BYTES as u64);
        assert_eq!(raw.payload.len() as u64, prefix, "{name}: the prefix, not the whole body");
        assert!(error.contains(&format!("its first {prefix} bytes are kept")), "{name}: {error}");
        assert!(raw.parse_error.as_deref().is_some_and(|e| e.contains("max_body_bytes")), "{name}: {:?}", raw.parse_error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_report_over_max_body_bytes_is_kept_capped_and_its_checks_stay_unknown() {
    let huge = usize::try_from(PAGE_MAX_BODY_BYTES).unwrap() + 1024 * 1024;
    let url = serve(vec![b'{'; huge]).await;
    let clients = ProviderClients::new(&nl_adapters::providers::ProvidersConfig::all_at(&url), "nl_20261207_000000Z_deadbeef", &no_env).unwrap();
    let asset = AssetId::parse("eth:0x0000000000000000000000000000515100000001").unwrap();
    let fetched = clients.fetch(Provider::Goplus, &asset, chrono::Utc::now()).await;
    let why = fetched.report.unwrap_err();
    assert!(why.contains(&format!("exceeds max_body_bytes = {PAGE_MAX_BODY_BYTES}")), "{why}");
    let raw = fetched.raws.into_iter().next().unwrap();
    assert_eq!(raw.payload.len(), OVERSIZE_PREFIX_BYTES, "the prefix is kept raw");
    assert_eq!(raw.parse_error.as_deref(), Some(why.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_unannounced_length_is_cut_to_its_prefix_once_it_passes_the_cap() {
    use nl_adapters::kit::{Budget, BudgetConfig, FetchError, HttpConfig, HttpSource};
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| b'a' + u8::try_from(i % 26).unwrap()).collect();
    for announced in [false, true] {
        let url = serve_with(body.clone(), announced).await;
        let budget = std::sync::Arc::new(Budget::new(BudgetConfig::new(1000.0, 1000.0)).unwrap());
        let s = HttpSource::new("t", HttpConfig { max_body_bytes: 1024 * 1024, ..HttpConfig::new(url) }, budget).unwrap();
        let err = s.get("/stream", 1).await.unwrap_err();
        let FetchError::TooLarge { size, limit, sha256, response } = &err else { panic!("{err}") };
        assert_eq!((*size, *limit), (body.len() as u64, 1024 * 1024), "announced {announced}");
        assert_eq!(*sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)), "the hash is of the whole body (announced {announced})");
        assert_eq!(response.body.as_bytes(), &body[..OVERSIZE_PREFIX_BYTES], "its first bytes are kept (announced {announced})");
    }
}

#[test]
fn a_zero_max_body_bytes_is_refused_by_name() {
    let mut cfg = DexSourcesConfig::default();
    cfg.geckoterminal.max_body_bytes = 0;
    let e = build_dex_sources_with_env(&cfg, "r", &no_env).err().expect("refused").to_string();
    assert!(e.contains("geckoterminal") && e.contains("max_body_bytes"), "{e}");
    let mut cfg = DexSourcesConfig::default();
    cfg.geckoterminal.enabled = false;
    cfg.dexscreener.max_body_bytes = 0;
    let e = build_dex_sources_with_env(&cfg, "r", &no_env).err().expect("refused").to_string();
    assert!(e.contains("dexscreener") && e.contains("max_body_bytes"), "{e}");
    let mut p = nl_adapters::providers::ProvidersConfig::all_at("http://127.0.0.1:9");
    p.rugcheck.max_body_bytes = 0;
    let e = ProviderClients::new(&p, "r", &no_env).unwrap_err().to_string();
    assert!(e.contains("rugcheck") && e.contains("max_body_bytes"), "{e}");
}
