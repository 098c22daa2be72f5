//! GeckoTerminal `new_pools` (JSON:API): `data[]` pool resources plus `included[]` tokens and dexes when
//! requested with `include=base_token,quote_token,dex`. Keyless, 60 s cache, budget ≤10 calls/min.

pub mod client;
pub mod error;
pub mod models;
pub mod parse;

pub use error::GeckoTerminalError;
pub use parse::{NETWORKS, PoolsPage, chain_for_network, network_for_chain, parse_pools, split_resource_id};
