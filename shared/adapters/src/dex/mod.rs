//! DEX sources: pure parsers and decoders for GeckoTerminal, DexScreener, EVM factory logs and Solana
//! program logs, and the polling sources built on them (`*/client.rs`, built from [`config`]).
//!
//! Every source maps to the shared [`DexPool`] / [`TokenRef`] shapes (HTTP aggregators) or to
//! [`evm::PoolCreated`] / [`solana::LaunchEvent`] (chain events), and from there to domain
//! [`nl_domain::ListingObservation`]s and [`nl_domain::Snapshot`]s.

pub mod client_util;
pub mod config;
pub mod dexscreener;
pub mod evm;
pub mod geckoterminal;
pub mod pool;
pub mod solana;
mod wire;

pub use pool::{DexPool, ObservationContext, TokenRef, TxCounts};
