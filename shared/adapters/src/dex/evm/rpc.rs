//! Ethereum JSON-RPC wire types (logs, block headers, `eth_subscription` notifications, error objects)
//! and request builders for `eth_getLogs`, `eth_blockNumber`, `eth_getBlockByNumber`, `eth_subscribe`.
//! Quantities are `0x`-prefixed hex without leading zeros on output; input is parsed leniently.

use alloy_primitives::B256;
use nl_domain::Ts;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::error::RpcError;
use crate::dex::wire::ts_from_secs;

/// Formats a quantity as JSON-RPC hex: `0x0`, `0x1312d00` (no leading zeros).
#[must_use]
pub fn to_quantity(n: u64) -> String {
    format!("{n:#x}")
}

/// Parses a hex quantity (`0x1a`). Leading zeros are tolerated; empty digits and non-hex are not.
///
/// # Errors
/// `RpcError::Quantity` for anything else.
pub fn parse_quantity(s: &str) -> Result<u64, RpcError> {
    let bad = || RpcError::Quantity(s.chars().take(80).collect());
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).ok_or_else(bad)?;
    if digits.is_empty() {
        return Err(bad());
    }
    u64::from_str_radix(digits, 16).map_err(|_| bad())
}

/// Serde adapter: an optional hex quantity (also accepts a plain JSON number, and `null`).
fn de_opt_quantity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_quantity(&s).map(Some).map_err(serde::de::Error::custom),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| serde::de::Error::custom("quantity is not a u64")),
        Some(other) => Err(serde::de::Error::custom(format!("quantity has unexpected type: {other}"))),
    }
}

/// A log object as returned by `eth_getLogs` and pushed by `eth_subscribe("logs")`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    pub address: String,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default = "empty_data")]
    pub data: String,
    /// `null` for pending logs.
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub block_number: Option<u64>,
    pub block_hash: Option<String>,
    pub transaction_hash: Option<String>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub transaction_index: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub log_index: Option<u64>,
    /// `true` when a reorg removed the log.
    #[serde(default)]
    pub removed: bool,
    /// Unix seconds; added by some providers only.
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub block_timestamp: Option<u64>,
}

fn empty_data() -> String {
    "0x".into()
}

impl RpcLog {
    /// The provider-supplied block time, when present and in range.
    #[must_use]
    pub fn block_time(&self) -> Option<Ts> {
        self.block_timestamp.and_then(|s| i64::try_from(s).ok()).and_then(ts_from_secs)
    }
}

/// The fields of a block header we use (from `eth_getBlockByNumber`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlockHeader {
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub number: Option<u64>,
    pub hash: Option<String>,
    pub parent_hash: Option<String>,
    #[serde(default, deserialize_with = "de_opt_quantity")]
    pub timestamp: Option<u64>,
}

impl RpcBlockHeader {
    /// The block time, when present and in range.
    #[must_use]
    pub fn time(&self) -> Option<Ts> {
        self.timestamp.and_then(|s| i64::try_from(s).ok()).and_then(ts_from_secs)
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JsonRpcError {
    pub code: i64,
    #[serde(default)]
    pub message: String,
    pub data: Option<Value>,
}

/// A JSON-RPC response: exactly one of `result` or `error` is expected.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonRpcResponse {
    pub jsonrpc: Option<String>,
    pub id: Option<Value>,
    /// `Some(Value::Null)` when the node answered `"result": null` (e.g. unknown block); `None` when absent.
    #[serde(default, deserialize_with = "present")]
    pub result: Option<Value>,
    pub error: Option<JsonRpcError>,
}

/// Keeps an explicit `null` as `Some(Value::Null)` (absent fields fall back to `None` via `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// What kind of failure an error object describes, for the caller's retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcErrorClass {
    /// The block range or result set is over the provider's cap: split the range and retry.
    RangeTooLarge,
    /// Throttled: back off and retry.
    RateLimited,
    /// Anything else.
    Other,
}

/// Error codes providers use for an over-large `eth_getLogs` (with a matching message).
pub const RANGE_ERROR_CODES: &[i64] = &[-32005, -32602, -32600];

/// Lowercase message fragments of "range too large / too many results" errors seen across providers.
pub const RANGE_ERROR_PATTERNS: &[&str] = &[
    "range too large",
    "range is too large",
    "block range",
    "query returned more than",
    "too many results",
    "response size exceeded",
    "response size should not",
    "limit exceeded",
    "exceed maximum block range",
    "max range",
    "range limit",
    "logs are limited",
    "is limited to",
];

/// Lowercase message fragments of throttling errors.
pub const RATE_LIMIT_PATTERNS: &[&str] = &["rate limit", "too many requests", "request rate", "capacity exceeded", "throttl"];

impl JsonRpcError {
    /// Classifies the error: a range pattern under a range code (or any server-error code
    /// `-32099..=-32000`) is [`RpcErrorClass::RangeTooLarge`]; a throttling pattern (or HTTP-like 429) is
    /// [`RpcErrorClass::RateLimited`].
    #[must_use]
    pub fn classify(&self) -> RpcErrorClass {
        let msg = self.message.to_ascii_lowercase();
        let range_code = RANGE_ERROR_CODES.contains(&self.code) || (-32099..=-32000).contains(&self.code);
        if RATE_LIMIT_PATTERNS.iter().any(|p| msg.contains(p)) || self.code == 429 {
            RpcErrorClass::RateLimited
        } else if range_code && RANGE_ERROR_PATTERNS.iter().any(|p| msg.contains(p)) {
            RpcErrorClass::RangeTooLarge
        } else {
            RpcErrorClass::Other
        }
    }
}

/// `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":…,"result":…}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionNotification {
    pub jsonrpc: Option<String>,
    pub method: String,
    pub params: SubscriptionParams,
}

/// `params` of a subscription notification.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionParams {
    pub subscription: String,
    pub result: Value,
}

/// One frame from an EVM WebSocket, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum WsFrame {
    /// A log pushed on subscription `subscription`.
    Log { subscription: String, log: RpcLog },
    /// The reply to a request (e.g. `eth_subscribe` → subscription id).
    Reply { id: Option<Value>, result: Value },
    /// An error reply.
    Error { id: Option<Value>, error: JsonRpcError },
}

/// Parses one WebSocket text frame.
///
/// # Errors
/// `RpcError::Json` when the frame is not a JSON-RPC message of a known shape.
pub fn parse_ws_frame(text: &str) -> Result<WsFrame, RpcError> {
    let value: Value = serde_json::from_str(text).map_err(|e| RpcError::json(&e, text))?;
    if value.get("method").and_then(Value::as_str) == Some("eth_subscription") {
        let n: SubscriptionNotification = serde_json::from_value(value).map_err(|e| RpcError::json(&e, text))?;
        let log: RpcLog = serde_json::from_value(n.params.result).map_err(|e| RpcError::json(&e, text))?;
        return Ok(WsFrame::Log { subscription: n.params.subscription, log });
    }
    let r: JsonRpcResponse = serde_json::from_value(value).map_err(|e| RpcError::json(&e, text))?;
    match (r.error, r.result) {
        (Some(error), _) => Ok(WsFrame::Error { id: r.id, error }),
        (None, Some(result)) => Ok(WsFrame::Reply { id: r.id, result }),
        (None, None) => Err(RpcError::Shape("neither result nor error".into())),
    }
}

/// Parses an HTTP JSON-RPC response into its `result` value.
///
/// # Errors
/// `RpcError::Rpc` for an error object (classify it with [`JsonRpcError::classify`]), `RpcError::Json`
/// for malformed bodies, `RpcError::Shape` when neither `result` nor `error` is present.
pub fn parse_response(body: &str) -> Result<Value, RpcError> {
    let r: JsonRpcResponse = serde_json::from_str(body).map_err(|e| RpcError::json(&e, body))?;
    match (r.error, r.result) {
        (Some(error), _) => Err(RpcError::Rpc(error)),
        (None, Some(result)) => Ok(result),
        (None, None) => Err(RpcError::Shape("neither result nor error".into())),
    }
}

/// Parses an `eth_getLogs` response body.
///
/// # Errors
/// As [`parse_response`], plus `RpcError::Json` when `result` is not an array of logs.
pub fn parse_get_logs(body: &str) -> Result<Vec<RpcLog>, RpcError> {
    let result = parse_response(body)?;
    serde_json::from_value(result).map_err(|e| RpcError::json(&e, body))
}

/// Parses an `eth_blockNumber` response body.
///
/// # Errors
/// As [`parse_response`], plus `RpcError::Quantity` for a bad number.
pub fn parse_block_number(body: &str) -> Result<u64, RpcError> {
    match parse_response(body)? {
        Value::String(s) => parse_quantity(&s),
        other => Err(RpcError::Shape(format!("block number is not a string: {other}"))),
    }
}

/// Parses an `eth_getBlockByNumber` response body; `Ok(None)` when the block is unknown (`null`).
///
/// # Errors
/// As [`parse_response`], plus `RpcError::Json` when the header is malformed.
pub fn parse_block_header(body: &str) -> Result<Option<RpcBlockHeader>, RpcError> {
    match parse_response(body)? {
        Value::Null => Ok(None),
        v => serde_json::from_value(v).map(Some).map_err(|e| RpcError::json(&e, body)),
    }
}

/// A block selector for requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTag {
    Number(u64),
    Latest,
    Safe,
    Finalized,
}

impl BlockTag {
    /// The JSON-RPC spelling: a hex quantity or a tag name.
    #[must_use]
    pub fn to_param(self) -> String {
        match self {
            Self::Number(n) => to_quantity(n),
            Self::Latest => "latest".into(),
            Self::Safe => "safe".into(),
            Self::Finalized => "finalized".into(),
        }
    }
}

/// A log filter: emitters and topic0 alternatives (`topics: [[t0, t1, …]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    pub addresses: Vec<String>,
    pub topic0s: Vec<B256>,
}

impl LogFilter {
    fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("address".into(), json!(self.addresses));
        let topics: Vec<String> = self.topic0s.iter().map(|t| format!("{t:#x}")).collect();
        m.insert("topics".into(), json!([topics]));
        m
    }
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// `eth_getLogs` over `[from, to]`.
#[must_use]
pub fn get_logs_request(id: u64, filter: &LogFilter, from: BlockTag, to: BlockTag) -> Value {
    let mut f = filter.to_json();
    f.insert("fromBlock".into(), json!(from.to_param()));
    f.insert("toBlock".into(), json!(to.to_param()));
    request(id, "eth_getLogs", json!([f]))
}

/// `eth_blockNumber`.
#[must_use]
pub fn block_number_request(id: u64) -> Value {
    request(id, "eth_blockNumber", json!([]))
}

/// `eth_getBlockByNumber` without full transactions (for block hash and timestamp).
#[must_use]
pub fn get_block_by_number_request(id: u64, block: BlockTag) -> Value {
    request(id, "eth_getBlockByNumber", json!([block.to_param(), false]))
}

/// `eth_subscribe("logs", filter)`.
#[must_use]
pub fn subscribe_logs_request(id: u64, filter: &LogFilter) -> Value {
    request(id, "eth_subscribe", json!(["logs", filter.to_json()]))
}

/// `eth_call` of `data` on `to` at `block`.
#[must_use]
pub fn eth_call_request(id: u64, to: &str, data: &str, block: BlockTag) -> Value {
    request(id, "eth_call", json!([{"to": to, "data": data}, block.to_param()]))
}

#[cfg(test)]
#[path = "rpc_tests.rs"]
mod tests;
