//! Tests of Solana launch detection and `getTransaction` parsing.

#![allow(clippy::unwrap_used)]

use super::*;

const NOTIFICATION: &str = include_str!("test_data/ws_logs_notification.json");
const NOTIFICATION_FAILED: &str = include_str!("test_data/ws_logs_notification_failed.json");
const TX_JSON: &str = include_str!("test_data/http_get_transaction_json.json");
const TX_PARSED: &str = include_str!("test_data/http_get_transaction_json_parsed.json");

const PUMP: &str = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P";
const RAYDIUM: &str = "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8";

fn notice(logs: &[&str]) -> LogsNotice {
    LogsNotice { subscription: 1, slot: 9, signature: "sig".into(), err: None, logs: logs.iter().map(|s| (*s).to_string()).collect() }
}

#[test]
fn parses_notification_and_detects_pump_create() {
    let n = parse_logs_notification(NOTIFICATION).unwrap();
    assert_eq!(n.subscription, 24040);
    assert_eq!(n.slot, 5_208_469);
    assert!(n.err.is_none());
    let events = detect_launches(&n, CREATE_PATTERNS);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].program, PUMP);
    assert_eq!(events[0].dex, "pumpfun");
    assert_eq!(events[0].kind, LaunchKind::TokenCreate);
    assert_eq!(events[0].signature, "5h6xBEauJ3PK6SWCZ1PGjBvj8vDdWG3KpwATGy1ARAXFSDwt8GFXM7W5Ncn16wmqokgpiKRLuS83KUxyZyv2sUYv");
}

#[test]
fn failed_transactions_and_wrong_method() {
    let n = parse_logs_notification(NOTIFICATION_FAILED).unwrap();
    assert!(n.err.is_some());
    assert!(detect_launches(&n, CREATE_PATTERNS).is_empty());
    assert!(matches!(
        parse_logs_notification(
            r#"{"jsonrpc":"2.0","method":"slotNotification","params":{"result":{"context":{"slot":1},"value":{"signature":"s"}},"subscription":1}}"#
        ),
        Err(RpcError::Shape(_))
    ));
    assert!(parse_logs_notification("{").is_err());
}

#[test]
fn patterns_only_match_inside_their_program() {
    // A pump.fun-looking line logged by another program is not a pump.fun create.
    let foreign = notice(&[
        "Program Other111111111111111111111111111111111 invoke [1]",
        "Program log: Instruction: Create",
        "Program Other111111111111111111111111111111111 success",
    ]);
    assert!(detect_launches(&foreign, CREATE_PATTERNS).is_empty());
    // Raydium initialize2 nested under a router, after a sibling returned.
    let nested = notice(&[
        "Program Router1111111111111111111111111111111111 invoke [1]",
        "Program TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA invoke [2]",
        "Program TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA success",
        &format!("Program {RAYDIUM} invoke [2]"),
        "Program log: initialize2: InitializeInstruction2 { nonce: 254, open_time: 0 }",
        &format!("Program {RAYDIUM} consumed 1000 of 2000 compute units"),
        &format!("Program {RAYDIUM} success"),
        "Program Router1111111111111111111111111111111111 success",
    ]);
    let events = detect_launches(&nested, CREATE_PATTERNS);
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].dex.as_str(), events[0].kind), ("raydium_amm_v4", LaunchKind::PoolInit));
    // CreateV2 matches; duplicates collapse to one event per program and kind.
    let v2 = notice(&[
        &format!("Program {PUMP} invoke [1]"),
        "Program log: Instruction: CreateV2",
        "Program log: Instruction: Create",
        &format!("Program {PUMP} success"),
    ]);
    assert_eq!(detect_launches(&v2, CREATE_PATTERNS).len(), 1);
    let swap = notice(&["Program pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA invoke [1]", "Program log: Instruction: CreatePool"]);
    assert_eq!(detect_launches(&swap, CREATE_PATTERNS)[0].dex, "pumpswap");
    assert!(detect_launches(&notice(&["Program log: Instruction: Create"]), CREATE_PATTERNS).is_empty(), "no invoke context");
}

#[test]
fn get_transaction_json_finds_new_mint_not_wsol() {
    let tx = parse_get_transaction(TX_JSON).unwrap().unwrap();
    assert_eq!(tx.slot, 5_208_469);
    assert_eq!(tx.block_time.unwrap().timestamp(), 1_791_632_043);
    assert!(!tx.failed);
    assert_eq!(tx.signature.as_deref(), Some("5h6xBEauJ3PK6SWCZ1PGjBvj8vDdWG3KpwATGy1ARAXFSDwt8GFXM7W5Ncn16wmqokgpiKRLuS83KUxyZyv2sUYv"));
    assert_eq!(tx.account_keys.len(), 5, "3 static + 2 loaded");
    assert_eq!(tx.account_keys[3], "Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp");
    assert_eq!(tx.mints.len(), 2, "distinct mints");
    let new = new_mints(&tx, &[]);
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].mint, "3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump");
    assert_eq!(new[0].decimals, Some(6));
    assert!(new[0].absent_before);
    assert!(new_mints(&tx, &["3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump"]).is_empty());

    let events = detect_launches(&notice(&tx.logs.iter().map(String::as_str).collect::<Vec<_>>()), CREATE_PATTERNS);
    let at = chrono::DateTime::from_timestamp(1_791_632_050, 0).unwrap();
    let ctx = ObservationContext { source: "solana_pumpfun".into(), first_observed_at: at, emitted_at: at, raw_event_id: None };
    let obs = launch_observations(&events[0], &new, tx.block_time, &ctx).unwrap();
    assert_eq!(obs[0].asset_id.to_string(), "solana:3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump");
    assert_eq!(obs[0].venue, "pumpfun");
    assert_eq!(obs[0].source_published_at, tx.block_time);
    assert_eq!(obs[0].details["absent_before"], true);
}

#[test]
fn get_transaction_json_parsed_and_edge_cases() {
    let tx = parse_get_transaction(TX_PARSED).unwrap().unwrap();
    assert_eq!(tx.block_time, None);
    assert_eq!(tx.account_keys, vec!["9GHvMeJ4ZWuAX6sDGscFL1TBMszx2EehnrcTVUy4MZJQ", RAYDIUM]);
    assert!(tx.logs.is_empty(), "logMessages: null");
    let new = new_mints(&tx, &[]);
    assert_eq!(new.len(), 1, "USDC is a quote");
    assert!(!new[0].absent_before, "existing token pooled");

    assert_eq!(parse_get_transaction(r#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap(), None);
    let encoded = parse_get_transaction(
        r#"{"jsonrpc":"2.0","id":1,"result":{"slot":1,"blockTime":null,"transaction":["AQID","base64"],"meta":null}}"#,
    )
    .unwrap()
    .unwrap();
    assert!(encoded.account_keys.is_empty() && encoded.mints.is_empty() && !encoded.failed);
    let failed = parse_get_transaction(r#"{"jsonrpc":"2.0","id":1,"result":{"slot":1,"transaction":["AQID","base64"],"meta":{"err":{"InstructionError":[0,"InvalidArgument"]}}}}"#).unwrap().unwrap();
    assert!(failed.failed);
    assert!(matches!(
        parse_get_transaction(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid param"}}"#),
        Err(RpcError::Rpc(_))
    ));
}

#[test]
fn request_builders() {
    assert_eq!(
        logs_subscribe_request(1, PUMP, "confirmed"),
        json!({"jsonrpc":"2.0","id":1,"method":"logsSubscribe","params":[{"mentions":[PUMP]},{"commitment":"confirmed"}]})
    );
    let req = get_transaction_request(2, "sig", "confirmed");
    assert_eq!(req["params"][1]["maxSupportedTransactionVersion"], 0);
    assert_eq!(req["params"][1]["encoding"], "jsonParsed");
    assert!(CREATE_PATTERNS.iter().all(|p| PROGRAMS.iter().any(|(id, dex)| *id == p.program && *dex == p.dex)));
}
