//! Known quote tokens per chain (wrapped native and major stablecoins) and the "which side is new" rule.
//!
//! Defaults are only addresses confirmed in the reference (WETH on Ethereum) or seen consistently in
//! several public repositories; configure more with [`QuoteSet::insert`].

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use alloy_primitives::Address;

use super::decode::{NATIVE_CURRENCY, PoolCreated};
use super::error::ConfigError;

/// `(chain, symbol, address)` defaults.
pub const DEFAULT_QUOTES: &[(&str, &str, &str)] = &[
    ("eth", "WETH", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
    ("eth", "USDC", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"),
    ("eth", "USDT", "0xdac17f958d2ee523a2206206994597c13d831ec7"),
    ("eth", "DAI", "0x6b175474e89094c44da98b954eedeac495271d0f"),
    ("base", "WETH", "0x4200000000000000000000000000000000000006"),
    ("base", "USDC", "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"),
    ("base", "USDbC", "0xd9aaec86b65d86f6a7b5b1b0c42ffa531710b6ca"),
    ("base", "USDT", "0xfde4c96c8593536e31f229ea8f37b2ada2699bb2"),
    ("bsc", "WBNB", "0xbb4cdb9cbd36b01bd1cbaebf2de08d9173bc095c"),
    ("bsc", "USDT", "0x55d398326f99059ff775485246999027b3197955"),
    ("bsc", "USDC", "0x8ac76a51cc950d9822d68b83fe1ad97b32cd580d"),
    ("bsc", "BUSD", "0xe9e7cea3dedca5984780bafc599bd69add087d56"),
];

/// Quote tokens per chain. The native placeholder (zero address, V4) is always a quote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuoteSet {
    by_chain: HashMap<String, HashSet<String>>,
}

impl QuoteSet {
    /// An empty set (only the native placeholder counts as a quote).
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in defaults ([`DEFAULT_QUOTES`]).
    #[must_use]
    pub fn defaults() -> Self {
        let mut s = Self::default();
        for (chain, _, addr) in DEFAULT_QUOTES {
            s.by_chain.entry((*chain).to_string()).or_default().insert((*addr).to_string());
        }
        s
    }

    /// Adds a quote token on `chain`.
    ///
    /// # Errors
    /// `ConfigError::QuoteAddress` when `address` is not a 20-byte hex address.
    pub fn insert(&mut self, chain: &str, address: &str) -> Result<(), ConfigError> {
        let a = Address::from_str(address).map_err(|_| ConfigError::QuoteAddress(address.to_string()))?;
        self.by_chain.entry(chain.to_string()).or_default().insert(format!("{a:#x}"));
        Ok(())
    }

    /// True when `address` (any case) is a quote on `chain`, or the native placeholder.
    #[must_use]
    pub fn is_quote(&self, chain: &str, address: &str) -> bool {
        let a = address.to_ascii_lowercase();
        a == NATIVE_CURRENCY || self.by_chain.get(chain).is_some_and(|s| s.contains(&a))
    }
}

/// The side(s) of a pool that may be new listings: the non-quote side; both when neither is a quote;
/// none when both are quotes. The native placeholder is never returned.
#[must_use]
pub fn new_tokens(pool: &PoolCreated, quotes: &QuoteSet) -> Vec<String> {
    let q0 = quotes.is_quote(&pool.chain, &pool.token0);
    let q1 = quotes.is_quote(&pool.chain, &pool.token1);
    let mut out = Vec::new();
    if !q0 {
        out.push(pool.token0.clone());
    }
    if !q1 && pool.token1 != pool.token0 {
        out.push(pool.token1.clone());
    }
    out
}
