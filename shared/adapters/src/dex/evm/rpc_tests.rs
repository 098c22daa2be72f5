//! Tests of the JSON-RPC wire types, error classification and request builders.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::dex::evm::events::{TOPIC_V2_PAIR_CREATED, TOPIC_V3_POOL_CREATED};

#[test]
fn quantities() {
    assert_eq!(to_quantity(0), "0x0");
    assert_eq!(to_quantity(20_000_000), "0x1312d00");
    assert_eq!(parse_quantity("0x1312d05").unwrap(), 0x1312d05);
    assert_eq!(parse_quantity("0x0").unwrap(), 0);
    assert_eq!(parse_quantity("0x001").unwrap(), 1, "leading zeros tolerated on input");
    for bad in ["", "0x", "12", "0xg1", "0x10000000000000000"] {
        assert!(parse_quantity(bad).is_err(), "{bad}");
    }
}

#[test]
fn log_quantities_and_optional_fields() {
    let log: RpcLog = serde_json::from_value(json!({
        "address": "0xabc", "topics": [], "data": "0x", "blockNumber": null, "blockHash": null,
        "transactionHash": null, "transactionIndex": null, "logIndex": null
    }))
    .unwrap();
    assert_eq!(log.block_number, None);
    assert!(!log.removed, "absent removed is false");
    assert!(serde_json::from_value::<RpcLog>(json!({"address": "0xabc", "blockNumber": "nothex"})).is_err());
    let numeric: RpcLog = serde_json::from_value(json!({"address": "0xabc", "blockNumber": 5, "blockTimestamp": "0x5"})).unwrap();
    assert_eq!(numeric.block_number, Some(5));
    assert_eq!(numeric.block_time().unwrap().timestamp(), 5);
    assert_eq!(numeric.data, "0x");
}

#[test]
fn request_builders() {
    let filter = LogFilter {
        addresses: vec!["0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f".into()],
        topic0s: vec![TOPIC_V2_PAIR_CREATED, TOPIC_V3_POOL_CREATED],
    };
    let req = get_logs_request(1, &filter, BlockTag::Number(20_000_000), BlockTag::Latest);
    assert_eq!(
        req,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{
            "fromBlock":"0x1312d00","toBlock":"latest",
            "address":["0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f"],
            "topics":[["0x0d3648bd0f6ba80134a33ba9275ac585d9d315f0ad8355cddefde31afa28d0e9",
                       "0x783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118"]]}]})
    );
    let sub = subscribe_logs_request(2, &filter);
    assert_eq!(sub["method"], "eth_subscribe");
    assert_eq!(sub["params"][0], "logs");
    assert_eq!(sub["params"][1]["topics"][0][1], "0x783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118");
    assert!(sub["params"][1].get("fromBlock").is_none());
    assert_eq!(block_number_request(3), json!({"jsonrpc":"2.0","id":3,"method":"eth_blockNumber","params":[]}));
    assert_eq!(
        get_block_by_number_request(4, BlockTag::Number(255)),
        json!({"jsonrpc":"2.0","id":4,"method":"eth_getBlockByNumber","params":["0xff",false]})
    );
    assert_eq!(BlockTag::Finalized.to_param(), "finalized");
    assert_eq!(BlockTag::Safe.to_param(), "safe");
}

#[test]
fn responses() {
    assert_eq!(parse_block_number(r#"{"jsonrpc":"2.0","id":1,"result":"0x1312d05"}"#).unwrap(), 0x1312d05);
    let header = parse_block_header(r#"{"jsonrpc":"2.0","id":4,"result":{"number":"0x1312d05","hash":"0xaa","parentHash":"0xbb","timestamp":"0x6a0b5e2c","transactions":[]}}"#)
        .unwrap()
        .unwrap();
    assert_eq!(header.number, Some(0x1312d05));
    assert_eq!(header.hash.as_deref(), Some("0xaa"));
    assert_eq!(header.time().unwrap().timestamp(), 0x6a0b_5e2c);
    assert_eq!(parse_block_header(r#"{"jsonrpc":"2.0","id":4,"result":null}"#).unwrap(), None);
    let err = parse_get_logs(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results"}}"#)
        .unwrap_err();
    assert_eq!(err.class(), Some(RpcErrorClass::RangeTooLarge));
    assert!(err.is_retryable());
    assert!(matches!(parse_response(r#"{"jsonrpc":"2.0","id":1}"#), Err(RpcError::Shape(_))));
    assert!(matches!(parse_response("{"), Err(RpcError::Json { .. })));
    assert!(matches!(
        parse_ws_frame(r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"method not found"}}"#),
        Ok(WsFrame::Error { .. })
    ));
}

#[test]
fn classifies_range_and_rate_errors() {
    let cases: &[(i64, &str, RpcErrorClass)] = &[
        (-32005, "query returned more than 10000 results", RpcErrorClass::RangeTooLarge),
        (-32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range", RpcErrorClass::RangeTooLarge),
        (-32600, "block range too large", RpcErrorClass::RangeTooLarge),
        (-32000, "exceed maximum block range: 50000", RpcErrorClass::RangeTooLarge),
        (-32005, "project ID request rate exceeded", RpcErrorClass::RateLimited),
        (429, "Too Many Requests", RpcErrorClass::RateLimited),
        (-32602, "invalid argument 0: hex string has leading zero digits", RpcErrorClass::Other),
        (3, "execution reverted", RpcErrorClass::Other),
        (-32601, "the method eth_getLogs does not exist/is not available (block range)", RpcErrorClass::Other),
    ];
    for (code, message, want) in cases {
        let e = JsonRpcError { code: *code, message: (*message).into(), data: None };
        assert_eq!(e.classify(), *want, "{code} {message}");
    }
}
