//! Tests of EVM log decoding, quote filtering, observations and ERC-20 metadata decoding.

#![allow(clippy::unwrap_used)]

use alloy_primitives::{
    Address, B256, LogData, U256, address,
    aliases::{I24, U24, U160},
};
use alloy_sol_types::{SolEvent, SolValue};
use nl_domain::ChangeKind;

use super::events::{aerodrome, v3, v4};
use super::*;
use crate::dex::pool::ObservationContext;

const GET_LOGS: &str = include_str!("test_data/rpc_eth_get_logs.json");
const WS_LOG: &str = include_str!("test_data/ws_eth_subscription_log.json");
const WS_LOG_REMOVED: &str = include_str!("test_data/ws_eth_subscription_log_removed.json");
const WS_REPLY: &str = include_str!("test_data/ws_eth_subscribe_reply.json");

const WETH: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
const NEW: &str = "0xa1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn ctx() -> ObservationContext {
    let at = chrono::DateTime::from_timestamp(1_779_130_000, 0).unwrap();
    ObservationContext { source: "evm_eth".into(), first_observed_at: at, emitted_at: at, raw_event_id: Some("raw-1".into()) }
}

fn eth() -> FactoryRegistry {
    FactoryRegistry::with_defaults("eth", false).unwrap()
}

/// An `RpcLog` from alloy-encoded log data, as a node would send it.
fn rpc_log(emitter: &str, data: &LogData, removed: bool) -> RpcLog {
    RpcLog {
        address: emitter.to_string(),
        topics: data.topics().iter().map(|t| format!("{t:#x}")).collect(),
        data: format!("0x{}", alloy_primitives::hex::encode(&data.data)),
        block_number: Some(0x10),
        block_hash: Some(format!("{:#x}", B256::repeat_byte(0xbb))),
        transaction_hash: Some(format!("{:#x}", B256::repeat_byte(0xcc))),
        transaction_index: Some(0),
        log_index: Some(7),
        removed,
        block_timestamp: None,
    }
}

#[test]
fn decodes_v2_pair_created_from_get_logs() {
    let logs = parse_get_logs(GET_LOGS).unwrap();
    assert_eq!(logs.len(), 1);
    let pool = decode_log(&eth(), &logs[0]).unwrap();
    assert_eq!(pool.chain, "eth");
    assert_eq!(pool.dex, "uniswap_v2");
    assert_eq!(pool.kind, FactoryKind::V2);
    assert_eq!(pool.token0, NEW);
    assert_eq!(pool.token1, WETH);
    assert_eq!(pool.pool, "0xfeedfacefeedfacefeedfacefeedfacefeedface");
    assert_eq!((pool.fee, pool.tick_spacing, pool.stable, pool.hooks.as_deref()), (None, None, None, None));
    assert_eq!(pool.block_number, Some(0x1312d05));
    assert_eq!(pool.log_index, Some(0x1a));
    assert!(!pool.removed);
    assert_eq!(pool.block_time, None);
    assert_eq!(new_tokens(&pool, &QuoteSet::defaults()), vec![NEW.to_string()]);
}

#[test]
fn subscription_notification_and_removed_log_give_new_and_retracted() {
    let WsFrame::Log { subscription, log } = parse_ws_frame(WS_LOG).unwrap() else { panic!("not a log") };
    assert_eq!(subscription, "0x9cef478923ff08bf67fde6c64013158d");
    let pool = decode_log(&eth(), &log).unwrap();
    assert_eq!(pool.block_time.unwrap().timestamp(), 0x6a0b_5e2c);
    let obs = to_observations(&pool, &QuoteSet::defaults(), &ctx()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.change, ChangeKind::New);
    assert_eq!(o.asset_id.to_string(), format!("eth:{NEW}"));
    assert_eq!(o.instrument_id, "0xfeedfacefeedfacefeedfacefeedfacefeedface");
    assert_eq!(o.venue, "uniswap_v2");
    assert_eq!(o.quote.as_deref(), Some(WETH));
    assert_eq!(o.source_published_at, pool.block_time);
    assert_eq!(o.details["block"], 0x1312d05);
    assert_eq!(o.details["token1"], WETH);

    let WsFrame::Log { log: removed, .. } = parse_ws_frame(WS_LOG_REMOVED).unwrap() else { panic!("not a log") };
    let retracted = to_observations(&decode_log(&eth(), &removed).unwrap(), &QuoteSet::defaults(), &ctx()).unwrap();
    assert_eq!(retracted[0].change, ChangeKind::Retracted);
    assert_eq!(retracted[0].event_id_parts()[1], o.event_id_parts()[1], "same instrument");
    assert_ne!(retracted[0].to_envelope("r", "c").event_id, o.to_envelope("r", "c").event_id);

    match parse_ws_frame(WS_REPLY).unwrap() {
        WsFrame::Reply { result, .. } => assert_eq!(result, "0x9cef478923ff08bf67fde6c64013158d"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn v3_pool_created_roundtrips_through_abi_encoding() {
    let token0 = address!("1111111111111111111111111111111111111111");
    let event = v3::PoolCreated {
        token0,
        token1: address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
        fee: U24::from(10_000u32),
        tickSpacing: I24::try_from(200i32).unwrap(),
        pool: address!("2222222222222222222222222222222222222222"),
    };
    let log = rpc_log("0x1F98431c8aD98523631AE4a59f267346ea31F984", &event.encode_log_data(), false);
    assert_eq!(log.topics[0], format!("{:#x}", events::TOPIC_V3_POOL_CREATED));
    let pool = decode_log(&eth(), &log).unwrap();
    assert_eq!(pool.dex, "uniswap_v3");
    assert_eq!(pool.token0, "0x1111111111111111111111111111111111111111");
    assert_eq!(pool.pool, "0x2222222222222222222222222222222222222222");
    assert_eq!(pool.fee, Some(10_000));
    assert_eq!(pool.tick_spacing, Some(200));
    assert_eq!(pool.block_number, Some(0x10));
    assert_eq!(new_tokens(&pool, &QuoteSet::defaults()), vec!["0x1111111111111111111111111111111111111111".to_string()]);
}

#[test]
fn v4_initialize_with_native_currency_and_negative_tick() {
    let id = B256::repeat_byte(0x42);
    let new = address!("3333333333333333333333333333333333333333");
    let hooks = address!("4444444444444444444444444444444444440080");
    let event = v4::Initialize {
        id,
        currency0: Address::ZERO,
        currency1: new,
        fee: U24::from(3000u32),
        tickSpacing: I24::try_from(60i32).unwrap(),
        hooks,
        sqrtPriceX96: U160::from(1u128 << 96),
        tick: I24::try_from(-887_272i32).unwrap(),
    };
    let registry = FactoryRegistry::with_defaults("base", false).unwrap();
    let log = rpc_log("0x498581fF718922c3f8e6A244956aF099B2652b2b", &event.encode_log_data(), false);
    let pool = decode_log(&registry, &log).unwrap();
    assert_eq!(pool.chain, "base");
    assert_eq!(pool.kind, FactoryKind::V4);
    assert_eq!(pool.pool, format!("0x{}", "42".repeat(32)), "V4 instrument is the bytes32 pool id");
    assert_eq!(pool.token0, NATIVE_CURRENCY);
    assert!(PoolCreated::is_native(&pool.token0));
    assert_eq!(pool.fee, Some(3000));
    assert_eq!(pool.tick_spacing, Some(60));
    assert_eq!(pool.hooks.as_deref(), Some("0x4444444444444444444444444444444444440080"));
    assert_eq!(new_tokens(&pool, &QuoteSet::empty()), vec!["0x3333333333333333333333333333333333333333".to_string()], "native is a quote");
    let obs = to_observations(&pool, &QuoteSet::empty(), &ctx()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].instrument_id.len(), 66);
    // The encoder sign-extends `tick`; decoding the data tuple with alloy recovers it.
    let data = v4::Initialize::abi_decode_data(&event.encode_data()).unwrap();
    assert_eq!(data.4.as_i32(), -887_272);
}

#[test]
fn aerodrome_and_pancake_v2_on_their_chains() {
    let event = aerodrome::PoolCreated {
        token0: address!("4200000000000000000000000000000000000006"),
        token1: address!("5555555555555555555555555555555555555555"),
        stable: true,
        pool: address!("6666666666666666666666666666666666666666"),
        _4: U256::from(12u8),
    };
    let base = FactoryRegistry::with_defaults("base", false).unwrap();
    let pool = decode_log(&base, &rpc_log("0x420dd381b31aef6683db6b902084cb0ffece40da", &event.encode_log_data(), false)).unwrap();
    assert_eq!(pool.dex, "aerodrome");
    assert_eq!(pool.stable, Some(true));
    assert_eq!(pool.pool, "0x6666666666666666666666666666666666666666");
    assert_eq!(new_tokens(&pool, &QuoteSet::defaults()), vec!["0x5555555555555555555555555555555555555555".to_string()]);

    let bsc = FactoryRegistry::with_defaults("bsc", false).unwrap();
    let mut log = parse_get_logs(GET_LOGS).unwrap().remove(0);
    log.address = "0xcA143Ce32Fe78f1f7019d7d551a6402fC5350c73".into();
    let pool = decode_log(&bsc, &log).unwrap();
    assert_eq!((pool.chain.as_str(), pool.dex.as_str()), ("bsc", "pancakeswap_v2"));
    // WETH is not a BSC quote: both sides are candidates there.
    assert_eq!(new_tokens(&pool, &QuoteSet::defaults()).len(), 2);
}

#[test]
fn quote_rules_both_unknown_both_quotes() {
    let mut pool = decode_log(&eth(), &parse_get_logs(GET_LOGS).unwrap()[0]).unwrap();
    let quotes = QuoteSet::defaults();
    pool.token1 = "0x9999999999999999999999999999999999999999".into();
    assert_eq!(new_tokens(&pool, &quotes).len(), 2, "both unknown → both");
    pool.token0 = "0xdac17f958d2ee523a2206206994597c13d831ec7".into();
    pool.token1 = WETH.into();
    assert!(new_tokens(&pool, &quotes).is_empty(), "USDT/WETH → none");
    assert!(to_observations(&pool, &quotes, &ctx()).unwrap().is_empty());
    let mut custom = QuoteSet::empty();
    custom.insert("eth", "0x9999999999999999999999999999999999999999").unwrap();
    assert!(custom.is_quote("eth", "0x9999999999999999999999999999999999999999"));
    assert!(!custom.is_quote("base", "0x9999999999999999999999999999999999999999"));
    assert!(custom.insert("eth", "0x12").is_err());
}

#[test]
fn foreign_and_malformed_logs() {
    let mut log = parse_get_logs(GET_LOGS).unwrap().remove(0);
    let registry = eth();
    let mut unknown = log.clone();
    unknown.address = "0x0000000000000000000000000000000000000001".into();
    assert!(decode_log(&registry, &unknown).unwrap_err().is_foreign());
    let mut transfer = log.clone();
    transfer.address = "0x000000000004444c5dc75cB358380D2e3dE08A90".into();
    transfer.topics[0] = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef".into();
    assert!(matches!(decode_log(&registry, &transfer), Err(DecodeError::UnexpectedTopic { kind: FactoryKind::V4, .. })));
    let mut short = log.clone();
    short.data = "0x1234".into();
    let err = decode_log(&registry, &short).unwrap_err();
    assert!(matches!(err, DecodeError::Abi { .. }) && !err.is_foreign(), "{err:?}");
    let mut missing_topic = log.clone();
    missing_topic.topics.truncate(2);
    assert!(matches!(decode_log(&registry, &missing_topic), Err(DecodeError::Abi { .. })));
    log.data = "0xzz".into();
    assert!(matches!(decode_log(&registry, &log), Err(DecodeError::Hex { field: "data", .. })));
}

#[test]
fn registry_defaults_and_filter() {
    for d in DEFAULT_FACTORIES {
        assert!(FactoryRegistry::new(d.chain, default_configs(d.chain, true)).is_ok(), "{d:?}");
    }
    assert_eq!(eth().len(), 3, "unconfirmed PancakeSwap V3 on Ethereum left out by default");
    assert_eq!(FactoryRegistry::with_defaults("eth", true).unwrap().len(), 4);
    assert_eq!(FactoryRegistry::with_defaults("base", false).unwrap().len(), 4);
    assert_eq!(FactoryRegistry::with_defaults("bsc", false).unwrap().len(), 5);
    assert!(FactoryRegistry::with_defaults("solana", false).unwrap().is_empty());
    let filter = eth().log_filter();
    assert_eq!(filter.addresses.len(), 3);
    assert_eq!(filter.topic0s, vec![events::TOPIC_V2_PAIR_CREATED, events::TOPIC_V3_POOL_CREATED, events::TOPIC_V4_INITIALIZE]);
    let dup = vec![
        FactoryConfig { chain: "eth".into(), dex: "a".into(), kind: FactoryKind::V2, address: WETH.into() },
        FactoryConfig { chain: "eth".into(), dex: "b".into(), kind: FactoryKind::V2, address: WETH.to_uppercase().replace("0X", "0x") },
    ];
    assert!(matches!(FactoryRegistry::new("eth", dup), Err(ConfigError::Duplicate { .. })));
    let bad = vec![FactoryConfig { chain: "eth".into(), dex: "a".into(), kind: FactoryKind::V2, address: "0x12".into() }];
    assert!(matches!(FactoryRegistry::new("eth", bad), Err(ConfigError::Address { .. })));
    let cfg: FactoryConfig =
        serde_json::from_str(r#"{"chain":"eth","dex":"x","kind":"aerodrome","address":"0x420DD381b31aEf6683db6B902084cB0FFECe40Da"}"#)
            .unwrap();
    assert_eq!(cfg.kind, FactoryKind::Aerodrome);
}

fn abi_hex<T: SolValue>(v: &T) -> String {
    format!("0x{}", alloy_primitives::hex::encode(v.abi_encode()))
}

#[test]
fn erc20_strings_bytes32_and_flags() {
    assert_eq!(decode_string_or_bytes32(&abi_hex(&"Wrapped Ether".to_string())).unwrap(), "Wrapped Ether");
    // MKR-style bytes32 symbol, right-padded with NULs.
    let mut word = [0u8; 32];
    word[..3].copy_from_slice(b"MKR");
    let bytes32 = format!("0x{}", alloy_primitives::hex::encode(word));
    assert_eq!(decode_string_or_bytes32(&bytes32).unwrap(), "MKR");
    assert_eq!(decode_string_or_bytes32("0x"), Err(MetaError::Empty));
    assert!(matches!(decode_string_or_bytes32("0x1234"), Err(MetaError::Malformed(_))));
    assert!(matches!(decode_string_or_bytes32("nothex"), Err(MetaError::Hex(_))));

    assert_eq!(decode_uint8_decimals(&abi_hex(&U256::from(18u8))).unwrap(), 18);
    assert!(matches!(decode_uint8_decimals(&abi_hex(&U256::from(256u16))), Err(MetaError::OutOfRange(_))));
    let supply = U256::from(10u8).pow(U256::from(27u8));
    assert_eq!(decode_uint256(&abi_hex(&supply)).unwrap().to_string(), "1000000000000000000000000000");

    let name = abi_hex(&"Maker".to_string());
    let meta = token_meta(
        CallOutcome::Returned(&name),
        CallOutcome::Returned(&bytes32),
        CallOutcome::Returned(&abi_hex(&U256::from(77u8))),
        CallOutcome::Returned(&abi_hex(&supply)),
    );
    assert_eq!(meta.name.as_deref(), Some("Maker"));
    assert_eq!(meta.symbol.as_deref(), Some("MKR"));
    assert_eq!(meta.decimals, Some(77));
    assert_eq!(meta.total_supply.as_deref(), Some("1000000000000000000000000000"));
    assert_eq!(meta.flags, vec!["symbol_bytes32", "decimals_absurd"]);

    let reverted = token_meta(
        CallOutcome::Failed,
        CallOutcome::Returned("0x"),
        CallOutcome::Returned("0x"),
        CallOutcome::Returned(&abi_hex(&U256::ZERO)),
    );
    assert_eq!(
        reverted,
        TokenMeta {
            name: None,
            symbol: None,
            decimals: None,
            total_supply: Some("0".into()),
            flags: vec!["name_reverted".into(), "symbol_empty".into(), "decimals_empty".into(), "total_supply_zero".into()],
        }
    );
}

#[test]
fn erc20_selectors_match_signatures_and_requests() {
    for (sig, sel) in [
        ("name()", erc20::SELECTOR_NAME),
        ("symbol()", erc20::SELECTOR_SYMBOL),
        ("decimals()", erc20::SELECTOR_DECIMALS),
        ("totalSupply()", erc20::SELECTOR_TOTAL_SUPPLY),
    ] {
        let h = alloy_primitives::keccak256(sig.as_bytes());
        assert_eq!(format!("0x{}", alloy_primitives::hex::encode(&h[..4])), sel, "{sig}");
    }
    let reqs = metadata_requests(10, NEW, BlockTag::Latest);
    assert_eq!(
        reqs[0],
        serde_json::json!({"jsonrpc":"2.0","id":10,"method":"eth_call","params":[{"to":NEW,"data":"0x06fdde03"},"latest"]})
    );
    assert_eq!(reqs[3]["id"], 13);
    assert_eq!(reqs[3]["params"][0]["data"], "0x18160ddd");
}
