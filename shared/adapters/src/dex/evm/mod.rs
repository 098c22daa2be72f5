//! EVM factory logs: event ABIs, JSON-RPC wire types and request builders, factory registry, log
//! decoding into [`PoolCreated`], quote-token filtering, observations, ERC-20 metadata decoding and
//! block-range planning (pure), plus the polling [`client::EvmLogSource`] and its JSON-RPC client. The loopback
//! mock node for tests and benchmarks is `nl_testkit::evm_node`.

pub mod client;
pub mod cursor;
pub mod decode;
pub mod erc20;
pub mod error;
pub mod events;
pub mod observe;
pub mod quotes;
pub mod ranges;
pub mod registry;
pub mod rpc;
pub mod rpc_client;

pub use decode::{NATIVE_CURRENCY, PoolCreated, decode_log};
pub use erc20::{CallOutcome, TokenMeta, decode_string_or_bytes32, decode_uint8_decimals, decode_uint256, metadata_requests, token_meta};
pub use error::{ConfigError, DecodeError, MetaError, RpcError};
pub use observe::to_observations;
pub use quotes::{DEFAULT_QUOTES, QuoteSet, new_tokens};
pub use ranges::{halve_span, plan_ranges, split_range};
pub use registry::{DEFAULT_FACTORIES, FactoryConfig, FactoryKind, FactoryRegistry, default_configs};
pub use rpc::{BlockTag, JsonRpcError, LogFilter, RpcErrorClass, RpcLog, WsFrame, parse_get_logs, parse_ws_frame};

#[cfg(test)]
mod tests;
