//! Config of the DEX sources (GeckoTerminal `new_pools`, DexScreener profiles/boosts, EVM factory logs)
//! and [`build_dex_sources`], which turns it into runnable [`Source`]s. Every field has a default, so an
//! empty table is valid; secrets are named by env var only (`api_key_env`, `rpc_secrets`).

use std::sync::Arc;

use crate::kit::{Budget, BudgetConfig, BudgetError, BuildError, SecretParam};
use serde::{Deserialize, Serialize};

use super::dexscreener::client::{DexScreenerClient, ProfilesSource, ProfilesVariant};
use super::evm::client::EvmLogSource;
use super::evm::{ConfigError, FactoryConfig};
use super::geckoterminal::client::GeckoTerminalSource;
use crate::source::Source;

/// All DEX sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DexSourcesConfig {
    pub geckoterminal: GeckoTerminalConfig,
    pub dexscreener: DexScreenerConfig,
    /// One factory-log source per entry, keyed by source name (e.g. `evm_eth`), so env overrides can address it.
    pub evm: std::collections::BTreeMap<String, EvmChainConfig>,
    /// One Solana launch source per RPC, keyed by source name (e.g. `solana_mainnet`).
    pub solana: std::collections::BTreeMap<String, crate::dex::solana::config::SolanaConfig>,
}

/// GeckoTerminal `new_pools`, one request per network and page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeckoTerminalConfig {
    pub enabled: bool,
    /// Source name (state key, lease key, `source` of events). Default `geckoterminal`.
    pub name: String,
    /// Keyless API root. Default `https://api.geckoterminal.com/api/v2`.
    pub base_url: String,
    /// API root used when a key is present (CoinGecko's on-chain API serves the same `new_pools` under
    /// `/onchain`; the keyless host ignores keys). Default `https://pro-api.coingecko.com/api/v3/onchain`.
    pub keyed_base_url: String,
    /// Env var holding an API key; unset or empty means keyless. Default none.
    pub api_key_env: Option<String>,
    /// Header carrying the key. Default `x-cg-pro-api-key` (CoinGecko docs, "Authentication (Pro API)";
    /// demo keys use `x-cg-demo-api-key` with `https://api.coingecko.com/api/v3/onchain`).
    pub api_key_header: String,
    /// GeckoTerminal network ids. Default `eth, base, bsc, solana, arbitrum`.
    pub networks: Vec<String>,
    /// Pages per network and poll (20 pools each; stops early on an empty or fully known page). Default 1.
    pub max_pages: u32,
    /// Default 60 000 (the keyless cache is 60 s).
    pub interval_ms: u64,
    /// Keyless budget. Default 10 (the FAQ says 30; ~10 is what is observed without 429s).
    pub calls_per_min: f64,
    /// Budget with a key. Default 100.
    pub keyed_calls_per_min: f64,
    /// Pool ids remembered per network so restarts never re-report. Default 500.
    pub seen_per_network: usize,
    /// First poll of a network: only pools created within this many minutes are new; older ones are
    /// recorded as known (and that poll reads one page). Default 10.
    pub lookback_minutes: u64,
    /// Per-request timeout. Default 10 000.
    pub timeout_ms: u64,
    /// Largest response body kept; a longer one is stored as its prefix with size and SHA-256 and the
    /// poll fails. Default 8 MiB (a page of 20 pools is tens of KB).
    pub max_body_bytes: u64,
}

impl Default for GeckoTerminalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            name: "geckoterminal".into(),
            base_url: "https://api.geckoterminal.com/api/v2".into(),
            keyed_base_url: "https://pro-api.coingecko.com/api/v3/onchain".into(),
            api_key_env: None,
            api_key_header: "x-cg-pro-api-key".into(),
            networks: ["eth", "base", "bsc", "solana", "arbitrum"].map(String::from).to_vec(),
            max_pages: 1,
            interval_ms: 60_000,
            calls_per_min: 10.0,
            keyed_calls_per_min: 100.0,
            seen_per_network: 500,
            lookback_minutes: super::client_util::DEFAULT_LOOKBACK_MINUTES,
            timeout_ms: 10_000,
            max_body_bytes: crate::kit::PAGE_MAX_BODY_BYTES,
        }
    }
}

/// DexScreener: `token-profiles/latest/v1` and `token-boosts/latest/v1` as secondary discovery, and the
/// `/tokens/v1` pair lookups of the enricher ([`DexScreenerClient`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DexScreenerConfig {
    pub enabled: bool,
    /// Default `https://api.dexscreener.com`.
    pub base_url: String,
    /// Poll `token-profiles/latest/v1` as source `dexscreener_profiles`. Default true.
    pub profiles: bool,
    /// Poll `token-boosts/latest/v1` as source `dexscreener_boosts`. Default true.
    pub boosts: bool,
    /// Default 60 000.
    pub interval_ms: u64,
    /// Budget shared by profiles and boosts. Default 60.
    pub profiles_calls_per_min: f64,
    /// Budget of pair/token lookups. Default 300.
    pub pairs_calls_per_min: f64,
    /// Tokens remembered per source so restarts never re-report. Default 2 000.
    pub seen_cap: usize,
    /// First poll of profiles/boosts: only items published within this many minutes are new (the lists
    /// carry no time, so the first poll records every item as known). Default 10.
    pub lookback_minutes: u64,
    /// Default 10 000.
    pub timeout_ms: u64,
    /// Largest response body kept (lists and `/tokens/v1` lookups); a longer one is stored as its prefix
    /// with size and SHA-256 and the call fails. Default 8 MiB.
    pub max_body_bytes: u64,
}

impl Default for DexScreenerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: "https://api.dexscreener.com".into(),
            profiles: true,
            boosts: true,
            interval_ms: 60_000,
            profiles_calls_per_min: 60.0,
            pairs_calls_per_min: 300.0,
            seen_cap: 2_000,
            lookback_minutes: super::client_util::DEFAULT_LOOKBACK_MINUTES,
            timeout_ms: 10_000,
            max_body_bytes: crate::kit::PAGE_MAX_BODY_BYTES,
        }
    }
}

/// Factory logs of one EVM chain over JSON-RPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvmChainConfig {
    pub enabled: bool,
    /// Source name; default `evm_<chain>`.
    pub name: Option<String>,
    /// Our chain slug (`eth`, `base`, `bsc`). Required.
    pub chain: String,
    /// HTTP JSON-RPC endpoint. Required. `{name}` placeholders are filled from `rpc_secrets`.
    pub rpc_url: String,
    /// Secret parts of the RPC URL / headers, valued from env vars.
    pub rpc_secrets: Vec<SecretParam>,
    /// WebSocket endpoint (`ws://` or `wss://`) for `eth_subscribe("logs")`. When set, a long-running
    /// collector runs this chain as a push task: pushed logs are reported at once, and the `eth_getLogs`
    /// poll (every `interval_ms` and after every (re)connect) keeps the durable cursor. `{name}`
    /// placeholders and query secrets come from `rpc_secrets`, like `rpc_url`. Default none (poll only).
    pub ws_url: Option<String>,
    /// First reconnect delay of the WebSocket, doubled per failure with jitter. Default 500.
    pub ws_backoff_base_ms: u64,
    /// Longest reconnect delay. Default 30 000.
    pub ws_backoff_cap_ms: u64,
    /// Factories to watch; `None` = the built-in defaults of the chain (`FactoryRegistry::with_defaults`).
    pub factories: Option<Vec<FactoryConfig>>,
    /// Add the defaults the reference marks "not confirmed". Default false.
    pub include_unconfirmed_factories: bool,
    /// Extra quote tokens (added to the built-in WETH/stables of the chain).
    pub quotes: Vec<String>,
    /// Blocks behind the head considered safe. Default 2.
    pub confirmations: u64,
    /// Largest `eth_getLogs` span the provider accepts (halved on a range-cap error). Default 2 000.
    pub max_block_span: u64,
    /// Most blocks scanned per poll, so a long backfill is spread over polls. Default 20 000.
    pub max_blocks_per_poll: u64,
    /// First block to scan on the very first run (backfill). Default: the safe head at first run.
    pub start_block: Option<u64>,
    /// Blocks re-scanned when the cursor's block hash changed (a reorg). Default 64.
    pub reorg_rewind: u64,
    /// Fetch ERC-20 name/symbol/decimals/totalSupply of new tokens via `eth_call`. Default true.
    pub fetch_metadata: bool,
    /// Bound on metadata lookups per poll (the rest are emitted without). Default 200.
    pub max_metadata_per_poll: usize,
    /// Default 5 000.
    pub interval_ms: u64,
    /// RPC budget. Default 20.
    pub calls_per_sec: f64,
    /// Default 10 000.
    pub timeout_ms: u64,
    /// Largest JSON-RPC response body kept; a longer one is stored as its prefix with size and SHA-256
    /// and the call fails. Default 32 MiB (`eth_getLogs` over `max_block_span` blocks).
    pub max_body_bytes: u64,
}

impl Default for EvmChainConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            name: None,
            chain: String::new(),
            rpc_url: String::new(),
            rpc_secrets: Vec::new(),
            ws_url: None,
            ws_backoff_base_ms: 500,
            ws_backoff_cap_ms: 30_000,
            factories: None,
            include_unconfirmed_factories: false,
            quotes: Vec::new(),
            confirmations: 2,
            max_block_span: 2_000,
            max_blocks_per_poll: 20_000,
            start_block: None,
            reorg_rewind: 64,
            fetch_metadata: true,
            max_metadata_per_poll: 200,
            interval_ms: 5_000,
            calls_per_sec: 20.0,
            timeout_ms: 10_000,
            max_body_bytes: crate::kit::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl EvmChainConfig {
    /// The source name: `name`, or `evm_<chain>`.
    #[must_use]
    pub fn source_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("evm_{}", self.chain))
    }
}

/// Why the DEX sources could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DexBuildError {
    /// A required field is missing or a value is out of range.
    #[error("{source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("{source_name}: {error}")]
    Http { source_name: String, error: BuildError },
    #[error("{source_name}: {error}")]
    Budget { source_name: String, error: BudgetError },
    #[error("{source_name}: {error}")]
    Factories { source_name: String, error: ConfigError },
}

/// A budget of `per_min` calls per minute with a burst of a few calls.
///
/// # Errors
/// `BudgetError` for a non-positive rate.
pub fn per_minute_budget(per_min: f64) -> Result<Arc<Budget>, BudgetError> {
    let rate = per_min / 60.0;
    Budget::new(BudgetConfig::new(rate, (per_min / 10.0).clamp(1.0, 10.0))).map(Arc::new)
}

/// Builds every enabled DEX source, reading secrets from the process environment.
///
/// # Errors
/// [`DexBuildError`] naming the source whose config is invalid.
pub fn build_dex_sources(cfg: &DexSourcesConfig, run_id: &str) -> Result<Vec<Arc<dyn Source>>, DexBuildError> {
    build_dex_sources_with_env(cfg, run_id, &|k| std::env::var(k).ok())
}

/// [`build_dex_sources`] with an explicit env lookup (tests, secret stores). Every enabled EVM chain is a
/// poll source here, `ws_url` or not (one-shot cycles poll; `push::evm::build_dex_feeds` splits them).
///
/// # Errors
/// As [`build_dex_sources`].
pub fn build_dex_sources_with_env(cfg: &DexSourcesConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Source>>, DexBuildError> {
    let mut out = build_aggregator_sources(cfg, run_id, env)?;
    for chain in evm_chains(cfg) {
        out.push(Arc::new(EvmLogSource::from_config(&chain, run_id, env)?));
    }
    for (name, c) in solana_sources(cfg) {
        out.push(Arc::new(crate::dex::solana::source::SolanaLaunchSource::from_config(name, c, run_id, env)?));
    }
    Ok(out)
}

impl DexSourcesConfig {
    /// Every Solana source counts pump.fun trades for the minimum-activity trigger: a young mint is
    /// reported active at `trades` trades within `window_secs` of its launch (`[enricher]
    /// enrich_after_trades` / `enrich_after_secs`); `trades = 0` or `window_secs = 0` counts nothing.
    #[must_use]
    pub fn with_activity(mut self, trades: u32, window_secs: u64) -> Self {
        let trigger = (trades > 0 && window_secs > 0).then_some(crate::dex::solana::activity::ActivityTrigger { trades, window_secs });
        for s in self.solana.values_mut() {
            s.activity = trigger;
        }
        self
    }
}

/// The enabled Solana sources with their names (the `name` field, else the table key).
pub fn solana_sources(cfg: &DexSourcesConfig) -> impl Iterator<Item = (&str, &crate::dex::solana::config::SolanaConfig)> + '_ {
    cfg.solana.iter().filter(|(_, c)| c.enabled).map(|(k, c)| (c.name.as_deref().unwrap_or(k.as_str()), c))
}

/// The enabled GeckoTerminal and DexScreener sources.
///
/// # Errors
/// As [`build_dex_sources`].
pub fn build_aggregator_sources(cfg: &DexSourcesConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Source>>, DexBuildError> {
    let mut out: Vec<Arc<dyn Source>> = Vec::new();
    if cfg.geckoterminal.enabled {
        out.push(Arc::new(GeckoTerminalSource::from_config(&cfg.geckoterminal, run_id, env)?));
    }
    let ds = &cfg.dexscreener;
    if ds.enabled && (ds.profiles || ds.boosts) {
        let budget = per_minute_budget(ds.profiles_calls_per_min).map_err(|error| DexBuildError::Budget { source_name: "dexscreener".into(), error })?;
        for (on, variant) in [(ds.profiles, ProfilesVariant::Profiles), (ds.boosts, ProfilesVariant::Boosts)] {
            if on {
                out.push(Arc::new(ProfilesSource::from_config(ds, variant, Arc::clone(&budget), run_id)?));
            }
        }
    }
    Ok(out)
}

/// The enabled EVM chains, each with its source name filled from its table key when not set.
pub fn evm_chains(cfg: &DexSourcesConfig) -> impl Iterator<Item = EvmChainConfig> + '_ {
    cfg.evm.iter().filter(|(_, c)| c.enabled).map(|(name, c)| {
        let mut chain = c.clone();
        chain.name.get_or_insert_with(|| name.clone());
        chain
    })
}

/// The DexScreener pair-lookup client for the enricher.
///
/// # Errors
/// [`DexBuildError`] for a bad base URL or budget.
pub fn build_dexscreener_client(cfg: &DexScreenerConfig, run_id: &str) -> Result<DexScreenerClient, DexBuildError> {
    DexScreenerClient::from_config(cfg, run_id)
}
