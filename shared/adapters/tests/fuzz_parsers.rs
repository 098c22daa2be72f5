//! Every parser family fuzzed with structure-aware mutations of its `test_data/` payloads (#16): each case
//! parses a real payload into JSON, mutates 1–6 nodes (replace with a hostile value, delete, duplicate,
//! wrap, empty, rename a key), may then truncate or splice bytes, and hands the text to the parser.
//! Properties: no panic (overflow checks are on in test builds), and an error is short (venue text in
//! errors is quoted at most 256 characters) — an input is either parsed or rejected with an error, which is
//! what a poll keeps next to the raw payload. 10 000 cases per family.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nl_adapters::cex;
use nl_adapters::dex::{dexscreener, evm, geckoterminal, solana};
use nl_adapters::providers::{goplus, honeypot, rugcheck};
use proptest::prelude::*;
use serde_json::Value;

/// Cases per family.
const CASES: u32 = 10_000;
/// The longest error message accepted (a quoted excerpt plus the parser's own words).
const MAX_ERROR_CHARS: usize = 2048;

type Parser = fn(&str) -> Result<(), String>;

macro_rules! data {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/", $path))
    };
}

fn now() -> nl_domain::Ts {
    chrono::Utc::now()
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn cex_lists() -> Vec<(&'static str, Parser)> {
    vec![
        (data!("cex/binance/test_data/http_get_exchange_info.json"), |b| cex::binance::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/okx/test_data/http_get_public_instruments_spot.json"), |b| cex::okx::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/bybit/test_data/http_get_market_instruments_info_spot.json"), |b| cex::bybit::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/kucoin/test_data/http_get_v2_symbols.json"), |b| cex::kucoin::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/mexc/test_data/http_get_exchange_info.json"), |b| cex::mexc::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/bitget/test_data/http_get_spot_public_symbols.json"), |b| cex::bitget::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/kraken/test_data/http_get_asset_pairs.json"), |b| cex::kraken::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/coinbase/test_data/http_get_products.json"), |b| cex::coinbase::parse_instruments(b).map(drop).map_err(err)),
        (data!("cex/gate/test_data/http_get_spot_currency_pairs.json"), |b| cex::gate::parse_instruments(b).map(drop).map_err(err)),
    ]
}

fn cex_announcements() -> Vec<(&'static str, Parser)> {
    vec![
        (data!("cex/binance/test_data/http_get_cms_article_list.json"), |b| cex::binance::parse_announcements(b).map(drop).map_err(err)),
        (data!("cex/okx/test_data/http_get_support_announcements.json"), |b| cex::okx::parse_announcements(b).map(drop).map_err(err)),
        (data!("cex/bybit/test_data/http_get_announcements_index.json"), |b| cex::bybit::parse_announcements(b).map(drop).map_err(err)),
        (data!("cex/kucoin/test_data/http_get_v3_announcements.json"), |b| cex::kucoin::parse_announcements(b).map(drop).map_err(err)),
        (data!("cex/bitget/test_data/http_get_public_annoucements.json"), |b| cex::bitget::parse_announcements(b).map(drop).map_err(err)),
        (data!("cex/kucoin/test_data/http_get_v3_currencies_currency.json"), |b| cex::kucoin::parse_currency(b).map(drop).map_err(err)),
        (data!("cex/gate/test_data/http_get_spot_currencies_currency.json"), |b| cex::gate::parse_currency(b).map(drop).map_err(err)),
    ]
}

fn cex_push() -> Vec<(&'static str, Parser)> {
    vec![
        (data!("cex/binance/test_data/ws_com_announcement_en.json"), |b| cex::binance::parse_announcement_frame(b).map(drop).map_err(err)),
        (data!("cex/binance/test_data/ws_contract_info.json"), |b| cex::binance::parse_contract_info_frame(b).map(drop).map_err(err)),
        (data!("cex/okx/test_data/ws_instruments.json"), |b| cex::okx::parse_ws_frame(b).map(drop).map_err(err)),
        (data!("cex/kraken/test_data/ws_instrument.json"), |b| cex::kraken::parse_ws_frame(b).map(drop).map_err(err)),
        (data!("cex/coinbase/test_data/ws_status.json"), |b| cex::coinbase::parse_ws_frame(b).map(drop).map_err(err)),
    ]
}

fn dex_apis() -> Vec<(&'static str, Parser)> {
    vec![
        (data!("dex/geckoterminal/test_data/http_get_new_pools.json"), |b| geckoterminal::parse_pools(b).map(drop).map_err(err)),
        (data!("dex/geckoterminal/test_data/http_get_new_pools_multi_network.json"), |b| geckoterminal::parse_pools(b).map(drop).map_err(err)),
        (data!("dex/dexscreener/test_data/http_get_latest_dex_pairs.json"), |b| dexscreener::parse::parse_pairs(b).map(drop).map_err(err)),
        (data!("dex/dexscreener/test_data/http_get_tokens_v1.json"), |b| dexscreener::parse::parse_pairs(b).map(drop).map_err(err)),
        (data!("dex/dexscreener/test_data/http_get_token_profiles_latest.json"), |b| dexscreener::parse::parse_token_profiles(b).map(drop).map_err(err)),
        (data!("dex/dexscreener/test_data/http_get_token_boosts_latest.json"), |b| dexscreener::parse::parse_token_boosts(b).map(drop).map_err(err)),
    ]
}

fn evm_eth() -> &'static evm::FactoryRegistry {
    static REG: std::sync::OnceLock<evm::FactoryRegistry> = std::sync::OnceLock::new();
    REG.get_or_init(|| evm::FactoryRegistry::new("eth", evm::default_configs("eth", true)).unwrap())
}

fn chains() -> Vec<(&'static str, Parser)> {
    vec![
        (data!("dex/evm/test_data/rpc_eth_get_logs.json"), |b| {
            let logs = evm::parse_get_logs(b).map_err(err)?;
            for log in &logs {
                let _ = evm::decode_log(evm_eth(), log).map_err(err).map_err(|e| assert!(e.chars().count() <= MAX_ERROR_CHARS, "{e}"));
            }
            Ok(())
        }),
        (data!("dex/evm/test_data/ws_eth_subscription_log.json"), |b| evm::parse_ws_frame(b).map(drop).map_err(err)),
        (data!("dex/evm/test_data/ws_eth_subscription_log_removed.json"), |b| evm::parse_ws_frame(b).map(drop).map_err(err)),
        (data!("dex/evm/test_data/ws_eth_subscribe_reply.json"), |b| evm::parse_ws_frame(b).map(drop).map_err(err)),
        (data!("dex/solana/test_data/ws_logs_notification.json"), |b| solana::parse_logs_notification(b).map(drop).map_err(err)),
        (data!("dex/solana/test_data/ws_logs_notification_failed.json"), |b| solana::parse_logs_notification(b).map(drop).map_err(err)),
        (data!("dex/solana/test_data/http_get_transaction_json.json"), |b| solana::parse_get_transaction(b).map(drop).map_err(err)),
        (data!("dex/solana/test_data/http_get_transaction_json_parsed.json"), |b| solana::parse_get_transaction(b).map(drop).map_err(err)),
    ]
}

fn providers() -> Vec<(&'static str, Parser)> {
    const WETH: &str = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2";
    vec![
        (data!("providers/goplus/test_data/http_get_token_security.json"), |b| goplus::parse_token_security(b, WETH, now()).map(drop).map_err(err)),
        (data!("providers/goplus/test_data/http_get_token_security_new_token.json"), |b| {
            goplus::parse_token_security(b, WETH, now()).map(drop).map_err(err)
        }),
        (data!("providers/goplus/test_data/http_get_token_security_error.json"), |b| goplus::parse_token_security(b, WETH, now()).map(drop).map_err(err)),
        (data!("providers/honeypot/test_data/http_get_is_honeypot.json"), |b| honeypot::parse_is_honeypot(b, now()).map(drop).map_err(err)),
        (data!("providers/honeypot/test_data/http_get_is_honeypot_honeypot.json"), |b| honeypot::parse_is_honeypot(b, now()).map(drop).map_err(err)),
        (data!("providers/honeypot/test_data/http_get_is_honeypot_sim_failed.json"), |b| honeypot::parse_is_honeypot(b, now()).map(drop).map_err(err)),
        (data!("providers/rugcheck/test_data/http_get_report.json"), |b| rugcheck::parse_report(b, now()).map(drop).map_err(err)),
        (data!("providers/rugcheck/test_data/http_get_report_summary.json"), |b| rugcheck::parse_report(b, now()).map(drop).map_err(err)),
    ]
}

/// A hostile leaf value.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(-1i64), Just(0i64), any::<i64>()].prop_map(Value::from),
        prop_oneof![Just(u64::MAX), any::<u64>()].prop_map(Value::from),
        prop_oneof![Just(1e308f64), Just(-0.0f64), Just(5e-324f64), any::<f64>().prop_filter("finite", |f| f.is_finite())].prop_map(Value::from),
        prop_oneof![
            Just(String::new()),
            Just(" ".to_string()),
            Just("18446744073709551616".to_string()),
            Just("-1".to_string()),
            Just("1e999".to_string()),
            Just("NaN".to_string()),
            Just("0x".to_string()),
            Just("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff".to_string()),
            Just("\u{0}\u{1b}[31m\r\n\u{202e}".to_string()),
            Just("2026-13-45T25:61:61Z".to_string()),
            "\\PC{0,40}",
            "[a-zA-Z0-9_-]{300,1000}",
        ]
        .prop_map(Value::String),
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(Value),
    Delete,
    Duplicate,
    Wrap,
    Empty,
    RenameKey(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => leaf().prop_map(Edit::Replace),
        2 => Just(Edit::Delete),
        1 => Just(Edit::Duplicate),
        1 => Just(Edit::Wrap),
        1 => Just(Edit::Empty),
        1 => "[a-zA-Z_]{0,12}".prop_map(Edit::RenameKey),
    ]
}

/// A byte-level finish after the structural edits.
#[derive(Debug, Clone)]
enum Bytes {
    Keep,
    Truncate(usize),
    Splice(usize, Vec<u8>),
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        6 => Just(Bytes::Keep),
        2 => any::<usize>().prop_map(Bytes::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Bytes::Splice(i, b)),
    ]
}

/// JSON-pointer paths of every node, preorder.
fn paths(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| paths(c, format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| paths(c, format!("{here}/{i}"), out)),
        _ => {}
    }
}

/// Applies `e` at the node `all[at % len]` (paths taken before the case's first edit; a path an earlier
/// edit removed is a no-op).
fn apply(root: &mut Value, all: &[String], at: usize, e: &Edit) {
    let path = all[at % all.len()].clone();
    let (parent_path, last) = path.rsplit_once('/').map_or((String::new(), None), |(p, l)| (p.to_string(), Some(l.replace("~1", "/").replace("~0", "~"))));
    match e {
        Edit::Replace(v) => {
            if let Some(n) = root.pointer_mut(&path) {
                *n = v.clone();
            }
        }
        Edit::Wrap => {
            if let Some(n) = root.pointer_mut(&path) {
                *n = Value::Array(vec![n.take()]);
            }
        }
        Edit::Empty => match root.pointer_mut(&path) {
            Some(Value::Object(m)) => m.clear(),
            Some(Value::Array(a)) => a.clear(),
            Some(n) => *n = Value::Object(serde_json::Map::new()),
            None => {}
        },
        Edit::Delete | Edit::Duplicate | Edit::RenameKey(_) => {
            let Some(last) = last else { return };
            match root.pointer_mut(&parent_path) {
                Some(Value::Object(m)) => match e {
                    Edit::Delete => drop(m.remove(&last)),
                    Edit::RenameKey(k) => {
                        if let Some(v) = m.remove(&last) {
                            m.insert(k.clone(), v);
                        }
                    }
                    _ => {}
                },
                Some(Value::Array(a)) => {
                    let Ok(i) = last.parse::<usize>() else { return };
                    if i < a.len() {
                        match e {
                            Edit::Delete => drop(a.remove(i)),
                            Edit::Duplicate => {
                                let dup = a[i].clone();
                                a.extend(std::iter::repeat_n(dup, 3));
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn mutate(payload: &str, edits: &[(usize, Edit)], finish: &Bytes) -> String {
    let mut text = match serde_json::from_str::<Value>(payload) {
        Ok(mut v) => {
            let mut all = Vec::new();
            paths(&v, String::new(), &mut all);
            for (at, e) in edits {
                apply(&mut v, &all, *at, e);
            }
            serde_json::to_string(&v).unwrap()
        }
        Err(_) => payload.to_string(),
    };
    match finish {
        Bytes::Keep => {}
        Bytes::Truncate(i) => {
            let mut cut = i % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        Bytes::Splice(i, b) => {
            let mut raw = text.into_bytes();
            let at = i % (raw.len() + 1);
            raw.splice(at..at, b.iter().copied());
            text = String::from_utf8_lossy(&raw).into_owned();
        }
    }
    text
}

fn case() -> impl Strategy<Value = (usize, Vec<(usize, Edit)>, Bytes)> {
    (any::<usize>(), proptest::collection::vec((any::<usize>(), edit()), 1..7), bytes())
}

fn check(family: &[(&'static str, Parser)], pick: usize, edits: &[(usize, Edit)], finish: &Bytes) -> Result<(), TestCaseError> {
    let (payload, parse) = family[pick % family.len()];
    let input = mutate(payload, edits, finish);
    if let Err(e) = parse(&input) {
        prop_assert!(e.chars().count() <= MAX_ERROR_CHARS, "an error of {} chars: {}", e.chars().count(), &e[..e.len().min(400)]);
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: CASES, failure_persistence: None, max_shrink_iters: 2000, ..ProptestConfig::default() }
}

#[test]
fn every_unmutated_payload_parses() {
    for family in [cex_lists(), cex_announcements(), cex_push(), dex_apis(), chains(), providers()] {
        for (payload, parse) in family {
            // The goplus error sample is an error answer: it may be rejected, never panic.
            let _ = parse(payload);
        }
    }
    for (payload, parse) in cex_lists().into_iter().chain(dex_apis()) {
        assert!(parse(payload).is_ok(), "{}", &payload[..payload.len().min(200)]);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cex_instrument_lists((pick, edits, finish) in case()) {
        check(&cex_lists(), pick, &edits, &finish)?;
    }

    #[test]
    fn cex_announcements_and_currencies((pick, edits, finish) in case()) {
        check(&cex_announcements(), pick, &edits, &finish)?;
    }

    #[test]
    fn cex_push_frames((pick, edits, finish) in case()) {
        check(&cex_push(), pick, &edits, &finish)?;
    }

    #[test]
    fn dex_apis_geckoterminal_dexscreener((pick, edits, finish) in case()) {
        check(&dex_apis(), pick, &edits, &finish)?;
    }

    #[test]
    fn evm_and_solana_rpc((pick, edits, finish) in case()) {
        check(&chains(), pick, &edits, &finish)?;
    }

    #[test]
    fn risk_providers((pick, edits, finish) in case()) {
        check(&providers(), pick, &edits, &finish)?;
    }
}
