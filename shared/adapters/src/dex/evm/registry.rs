//! Which contracts emit pool-creation events on which chain, and as what kind of DEX.
//!
//! Defaults come from the reference table (§3.3). Entries the reference marks "not checked" are left out;
//! entries it marks "not confirmed" are present but flagged `confirmed: false` and excluded unless asked for.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use super::events::{TOPIC_AERODROME_POOL_CREATED, TOPIC_V2_PAIR_CREATED, TOPIC_V3_POOL_CREATED, TOPIC_V4_INITIALIZE};
use super::rpc::LogFilter;

/// The creation event family a factory emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactoryKind {
    /// `PairCreated` (Uniswap V2, PancakeSwap V2, other V2 forks).
    V2,
    /// `PoolCreated` with fee and tick spacing (Uniswap V3, PancakeSwap V3).
    V3,
    /// `Initialize` on the Uniswap V4 `PoolManager`.
    V4,
    /// Aerodrome `PoolCreated` with `stable`.
    Aerodrome,
}

impl FactoryKind {
    /// topic0 of this kind's creation event.
    #[must_use]
    pub fn topic0(self) -> B256 {
        match self {
            Self::V2 => TOPIC_V2_PAIR_CREATED,
            Self::V3 => TOPIC_V3_POOL_CREATED,
            Self::V4 => TOPIC_V4_INITIALIZE,
            Self::Aerodrome => TOPIC_AERODROME_POOL_CREATED,
        }
    }
}

/// One configured factory (config-file shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactoryConfig {
    /// Our chain slug (`eth`, `base`, `bsc`).
    pub chain: String,
    /// DEX name used as observation venue (`uniswap_v3`, `pancakeswap_v2`, `aerodrome`).
    pub dex: String,
    pub kind: FactoryKind,
    /// The emitter: factory, or the V4 `PoolManager`.
    pub address: String,
}

/// A built-in default: a factory plus whether the reference confirms the address on that chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultFactory {
    pub chain: &'static str,
    pub dex: &'static str,
    pub kind: FactoryKind,
    pub address: &'static str,
    pub confirmed: bool,
}

const fn f(chain: &'static str, dex: &'static str, kind: FactoryKind, address: &'static str, confirmed: bool) -> DefaultFactory {
    DefaultFactory { chain, dex, kind, address, confirmed }
}

/// Defaults from the reference table. PancakeSwap V2 on Ethereum and Base is "not checked" and absent.
pub const DEFAULT_FACTORIES: &[DefaultFactory] = &[
    f("eth", "uniswap_v2", FactoryKind::V2, "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f", true),
    f("eth", "uniswap_v3", FactoryKind::V3, "0x1F98431c8aD98523631AE4a59f267346ea31F984", true),
    f("eth", "uniswap_v4", FactoryKind::V4, "0x000000000004444c5dc75cB358380D2e3dE08A90", true),
    // Not confirmed on Ethereum: the reference only says "same on ETH/Base/BSC".
    f("eth", "pancakeswap_v3", FactoryKind::V3, "0x0BFbCF9fa4f9C56B0F40a671Ad40E0805A091865", false),
    f("base", "uniswap_v2", FactoryKind::V2, "0x8909Dc15e40173Ff4699343b6eB8132c65e18eC6", true),
    f("base", "uniswap_v3", FactoryKind::V3, "0x33128a8fC17869897dcE68Ed026d694621f6FDfD", true),
    f("base", "uniswap_v4", FactoryKind::V4, "0x498581fF718922c3f8e6A244956aF099B2652b2b", true),
    // Not confirmed on Base (see Ethereum).
    f("base", "pancakeswap_v3", FactoryKind::V3, "0x0BFbCF9fa4f9C56B0F40a671Ad40E0805A091865", false),
    f("base", "aerodrome", FactoryKind::Aerodrome, "0x420DD381b31aEf6683db6B902084cB0FFECe40Da", true),
    f("bsc", "uniswap_v2", FactoryKind::V2, "0x8909Dc15e40173Ff4699343b6eB8132c65e18eC6", true),
    f("bsc", "uniswap_v3", FactoryKind::V3, "0xdB1d10011AD0Ff90774D0C6Bb92e5C5c8b4461F7", true),
    f("bsc", "uniswap_v4", FactoryKind::V4, "0x28e2Ea090877bF75740558f6BFB36A5ffeE9e9dF", true),
    f("bsc", "pancakeswap_v2", FactoryKind::V2, "0xcA143Ce32Fe78f1f7019d7d551a6402fC5350c73", true),
    f("bsc", "pancakeswap_v3", FactoryKind::V3, "0x0BFbCF9fa4f9C56B0F40a671Ad40E0805A091865", true),
];

/// The factories of one chain, keyed by lowercase emitter address. One registry per chain, because the
/// same address can be a factory on several chains (Uniswap V2 on Base and BSC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactoryRegistry {
    chain: String,
    by_address: HashMap<String, FactoryConfig>,
}

impl FactoryRegistry {
    /// Builds the registry of `chain` from configs; entries of other chains are ignored.
    ///
    /// # Errors
    /// `ConfigError::Address` for a malformed address, `ConfigError::Duplicate` for a repeated emitter.
    pub fn new(chain: &str, configs: impl IntoIterator<Item = FactoryConfig>) -> Result<Self, ConfigError> {
        let mut by_address = HashMap::new();
        for cfg in configs.into_iter().filter(|c| c.chain == chain) {
            let addr = Address::from_str(&cfg.address).map_err(|_| ConfigError::Address {
                chain: cfg.chain.clone(),
                dex: cfg.dex.clone(),
                address: cfg.address.clone(),
            })?;
            let key = format!("{addr:#x}");
            if by_address.contains_key(&key) {
                return Err(ConfigError::Duplicate { chain: chain.to_string(), address: key });
            }
            by_address.insert(key.clone(), FactoryConfig { address: key, ..cfg });
        }
        Ok(Self { chain: chain.to_string(), by_address })
    }

    /// The built-in defaults of `chain`; `include_unconfirmed` adds the entries marked not confirmed.
    ///
    /// # Errors
    /// Only if a built-in address were malformed (guarded by tests).
    pub fn with_defaults(chain: &str, include_unconfirmed: bool) -> Result<Self, ConfigError> {
        Self::new(chain, default_configs(chain, include_unconfirmed))
    }

    /// The chain slug.
    #[must_use]
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The factory at `address` (any case).
    #[must_use]
    pub fn lookup(&self, address: &str) -> Option<&FactoryConfig> {
        self.by_address.get(&address.to_ascii_lowercase())
    }

    /// Number of factories.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// True without factories.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// The `eth_getLogs` / `eth_subscribe` filter: all emitters (sorted) and the topic0 of each kind in use.
    #[must_use]
    pub fn log_filter(&self) -> LogFilter {
        let addresses: BTreeSet<&String> = self.by_address.keys().collect();
        let kinds: BTreeSet<FactoryKind> = self.by_address.values().map(|c| c.kind).collect();
        LogFilter { addresses: addresses.into_iter().cloned().collect(), topic0s: kinds.into_iter().map(FactoryKind::topic0).collect() }
    }
}

/// The default entries of `chain` as config structs.
#[must_use]
pub fn default_configs(chain: &str, include_unconfirmed: bool) -> Vec<FactoryConfig> {
    DEFAULT_FACTORIES
        .iter()
        .filter(|d| d.chain == chain && (d.confirmed || include_unconfirmed))
        .map(|d| FactoryConfig { chain: d.chain.into(), dex: d.dex.into(), kind: d.kind, address: d.address.into() })
        .collect()
}
