//! Errors of the EVM decoders.

use super::rpc::{JsonRpcError, RpcErrorClass};

/// A JSON-RPC payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Malformed JSON or unexpected shape; keeps a truncated copy of the payload.
    #[error("invalid JSON-RPC payload: {error}; payload: {payload}")]
    Json { error: String, payload: String },
    /// A well-formed message without the expected parts.
    #[error("unexpected JSON-RPC shape: {}", crate::kit::quote::quote(.0))]
    Shape(String),
    /// A hex quantity that does not parse.
    #[error("invalid hex quantity \"{}\"", crate::kit::quote::quote(.0))]
    Quantity(String),
    /// The node answered with an error object (its message quoted: at most 256 bytes, escaped).
    #[error("JSON-RPC error {}: {}", .0.code, crate::kit::quote::quote(&.0.message))]
    Rpc(JsonRpcError),
}

impl RpcError {
    pub(crate) fn json(e: &serde_json::Error, payload: &str) -> Self {
        Self::Json { error: crate::kit::quote::quote(&e.to_string()), payload: crate::dex::wire::truncate(payload) }
    }

    /// The error class when the node answered with an error object.
    #[must_use]
    pub fn class(&self) -> Option<RpcErrorClass> {
        match self {
            Self::Rpc(e) => Some(e.classify()),
            _ => None,
        }
    }

    /// Whether retrying (after a back-off or with a smaller range) can help.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self.class(), Some(RpcErrorClass::RangeTooLarge | RpcErrorClass::RateLimited))
    }
}

/// A log could not be decoded into a pool creation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The emitter is not a registered factory on this chain.
    #[error("log from unregistered emitter {0}")]
    UnknownEmitter(String),
    /// The emitter is registered but the log is another event (e.g. a V4 `Swap`).
    #[error("topic0 {topic0} is not the creation event of {kind:?} emitter {emitter}")]
    UnexpectedTopic { emitter: String, kind: super::registry::FactoryKind, topic0: String },
    /// Malformed hex in address, topics or data.
    #[error("invalid hex in {field}: {value}")]
    Hex { field: &'static str, value: String },
    /// ABI decoding failed (wrong topic count, short data, ...).
    #[error("ABI decode of {event} failed: {reason}")]
    Abi { event: &'static str, reason: String },
}

impl DecodeError {
    /// True when the log is simply not a pool creation we track (skip it, do not count it as a failure).
    #[must_use]
    pub fn is_foreign(&self) -> bool {
        matches!(self, Self::UnknownEmitter(_) | Self::UnexpectedTopic { .. })
    }
}

/// An ERC-20 `eth_call` result could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetaError {
    /// `0x`: the call reverted silently or the contract has no such function.
    #[error("empty result (0x)")]
    Empty,
    /// Not hex.
    #[error("invalid hex: {0}")]
    Hex(String),
    /// Neither an ABI string nor a bytes32.
    #[error("malformed return data: {0}")]
    Malformed(String),
    /// A number that does not fit the type (e.g. decimals > 255).
    #[error("value out of range: {0}")]
    OutOfRange(String),
}

/// A factory configuration entry is invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid factory address {address:?} for {dex} on {chain}")]
    Address { chain: String, dex: String, address: String },
    #[error("factory {address} is configured twice on {chain}")]
    Duplicate { chain: String, address: String },
    #[error("invalid quote token address {0:?}")]
    QuoteAddress(String),
}
