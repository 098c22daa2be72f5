//! Provider HTTP clients (GoPlus, honeypot.is, rugcheck, and a Solana RPC's `getAccountInfo` on the mint)
//! over [`HttpSource`].
//!
//! Each provider has its own budget, base URL and optional API key (config names the env variable, never
//! the key). A fetch always yields the captured response as a [`RawEvent`] when there was one, success or
//! error body alike, so the caller can publish it before the evaluation that used it (invariant 6). A
//! failed, rate-limited or paused provider yields no [`ProviderReport`]: its checks become `Unknown`; a
//! request that got no response (or was not sent because the budget is paused) is captured too, as a raw
//! event without status carrying why, so a re-derivation ([`ProviderClients::with_recorded`]) answers every
//! request exactly as it was answered then.

use std::collections::BTreeMap;
use std::sync::Arc;

use nl_domain::{AssetId, ChainFamily, RawEvent, Ts};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::kit::recorded::{fetch_captured, fetch_captured_rpc};
use crate::kit::{Budget, BudgetConfig, HttpConfig, HttpSource, RecordedResponses, SecretLocation, SecretParam};
use crate::providers::{Provider, ProviderError, ProviderReport, goplus, honeypot, rugcheck};

/// EVM chain slug → chain id, as GoPlus and honeypot.is number chains.
pub const EVM_CHAIN_IDS: [(&str, u64); 7] = [("eth", 1), ("bsc", 56), ("base", 8453), ("arbitrum", 42161), ("polygon", 137), ("optimism", 10), ("avax", 43114)];

/// The chain id of an EVM chain slug; `None` for chains the providers are not asked about.
#[must_use]
pub fn evm_chain_id(chain: &str) -> Option<u64> {
    EVM_CHAIN_IDS.iter().find(|(c, _)| *c == chain).map(|(_, id)| *id)
}

/// The providers asked about `asset`: GoPlus and honeypot.is for EVM chains with a known chain id,
/// rugcheck for Solana, none for CEX-only ids and unknown chains.
#[must_use]
pub fn providers_for(asset: &AssetId) -> &'static [Provider] {
    match asset {
        AssetId::Chain { chain, .. } if evm_chain_id(chain).is_some() => &[Provider::Goplus, Provider::HoneypotIs],
        AssetId::Chain { chain, .. } if ChainFamily::of_chain(chain) == Some(ChainFamily::Solana) => &[Provider::Rugcheck],
        _ => &[],
    }
}

fn d_true() -> bool {
    true
}
fn d_timeout_ms() -> u64 {
    10_000
}
fn d_max_attempts() -> u32 {
    2
}
fn d_max_body_bytes() -> u64 {
    crate::kit::PAGE_MAX_BODY_BYTES
}
fn d_key_header() -> String {
    "X-API-KEY".into()
}

/// One provider's client settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `false` skips the provider: its checks stay `Unknown`.
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Scheme and host (tests point it at a mock).
    pub base_url: String,
    /// The provider's own request budget.
    pub budget: BudgetConfig,
    /// Per-attempt timeout (default 10 000).
    #[serde(default = "d_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts for 5xx/timeouts, including the first (default 2).
    #[serde(default = "d_max_attempts")]
    pub max_attempts: u32,
    /// Env variable holding an API key or access token. Unset in config = keyless; named but empty in
    /// the environment = keyless with a warning (every provider here serves keyless reads).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Header the key is sent in (default `X-API-KEY`; GoPlus access tokens use `Authorization`).
    #[serde(default = "d_key_header")]
    pub api_key_header: String,
    /// Largest response body kept; a longer one is stored as its prefix with size and SHA-256 and the
    /// provider's checks stay `Unknown`. Default 8 MiB (one token's report is KB).
    #[serde(default = "d_max_body_bytes")]
    pub max_body_bytes: u64,
}

impl ProviderConfig {
    fn new(base_url: &str, rate_per_sec: f64, burst: f64, key_header: &str) -> Self {
        Self {
            enabled: true,
            base_url: base_url.into(),
            budget: BudgetConfig::new(rate_per_sec, burst),
            timeout_ms: d_timeout_ms(),
            max_attempts: d_max_attempts(),
            api_key_env: None,
            api_key_header: key_header.into(),
            max_body_bytes: d_max_body_bytes(),
        }
    }
}

/// The providers' settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    pub goplus: ProviderConfig,
    pub honeypot_is: ProviderConfig,
    pub rugcheck: ProviderConfig,
    /// A Solana JSON-RPC endpoint asked `getAccountInfo(mint, jsonParsed)` for every Solana asset: mint and
    /// freeze authority from the chain itself. Disabled by default (public RPCs throttle hard; set your
    /// provider's endpoint as `base_url`).
    pub solana_rpc: ProviderConfig,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        Self {
            // Keyless GoPlus is roughly 30 requests/minute (sources reference §4, unconfirmed).
            goplus: ProviderConfig::new("https://api.gopluslabs.io", 0.5, 5.0, "Authorization"),
            honeypot_is: ProviderConfig::new("https://api.honeypot.is", 1.0, 5.0, "X-API-KEY"),
            rugcheck: ProviderConfig::new("https://api.rugcheck.xyz", 1.0, 5.0, "X-API-KEY"),
            solana_rpc: ProviderConfig { enabled: false, ..ProviderConfig::new("https://api.mainnet-beta.solana.com", 2.0, 5.0, "X-API-KEY") },
        }
    }
}

impl ProvidersConfig {
    /// The settings of `p`.
    #[must_use]
    pub fn of(&self, p: Provider) -> &ProviderConfig {
        match p {
            Provider::Goplus => &self.goplus,
            Provider::HoneypotIs => &self.honeypot_is,
            Provider::Rugcheck => &self.rugcheck,
            Provider::SolanaRpc => &self.solana_rpc,
        }
    }

    /// Every provider pointed at one base URL (tests and benches serve them from one mock), with a
    /// generous budget. `solana_rpc` keeps its `enabled` (off by default).
    #[must_use]
    pub fn all_at(base_url: &str) -> Self {
        let mut c = Self::default();
        for p in [&mut c.goplus, &mut c.honeypot_is, &mut c.rugcheck, &mut c.solana_rpc] {
            p.base_url = base_url.to_string();
            p.budget = BudgetConfig::new(100_000.0, 100_000.0);
            p.timeout_ms = 5_000;
            p.max_attempts = 1;
        }
        c
    }
}

/// A client failed to build.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{provider}: budget: {source}")]
    Budget { provider: Provider, source: crate::kit::BudgetError },
    #[error("{provider}: http client: {source}")]
    Http { provider: Provider, source: crate::kit::BuildError },
    #[error("{provider}: {reason}")]
    Invalid { provider: Provider, reason: String },
}

/// What one provider fetch produced.
#[derive(Debug, Clone)]
pub struct ProviderFetch {
    pub provider: Provider,
    /// The responses as captured (with `parse_error` set when one gave no report; without status when no
    /// response came or the budget was paused): one per request (the Solana RPC makes two: the mint and its
    /// Metaplex metadata); empty when no request was due (provider disabled, asset not covered, or nothing
    /// recorded in a re-derivation).
    pub raws: Vec<RawEvent>,
    /// The parsed report, or why there is none.
    pub report: Result<ProviderReport, String>,
}

/// The provider clients.
pub struct ProviderClients {
    sources: BTreeMap<Provider, Arc<HttpSource>>,
    run_id: String,
    recorded: Option<Arc<dyn RecordedResponses>>,
}

impl std::fmt::Debug for ProviderClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClients").field("providers", &self.sources.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl ProviderClients {
    /// Builds a client per enabled provider; `env` resolves the API key variables.
    ///
    /// # Errors
    /// [`ClientError`] for an invalid budget, base URL or header.
    pub fn new(cfg: &ProvidersConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        let mut sources = BTreeMap::new();
        for p in Provider::ALL {
            let pc = cfg.of(p);
            if !pc.enabled {
                continue;
            }
            let budget = Arc::new(Budget::new(pc.budget.clone()).map_err(|source| ClientError::Budget { provider: p, source })?);
            let mut http = HttpConfig::new(pc.base_url.clone());
            http.timeout_ms = pc.timeout_ms;
            http.max_attempts = pc.max_attempts;
            http.max_body_bytes = crate::kit::check_max_body_bytes(pc.max_body_bytes).map_err(|reason| ClientError::Invalid { provider: p, reason })?;
            if let Some(var) = pc.api_key_env.as_deref().filter(|v| !v.trim().is_empty()) {
                if env(var).is_some_and(|v| !v.is_empty()) {
                    http.secrets.push(SecretParam { name: pc.api_key_header.clone(), location: SecretLocation::Header, value_env: var.to_string() });
                } else {
                    warn!(provider = %p, env = var, "API key variable unset or empty; using keyless access.");
                }
            }
            let src = HttpSource::with_env(p.as_str(), http, budget, env).map_err(|source| ClientError::Http { provider: p, source })?;
            sources.insert(p, Arc::new(src));
        }
        Ok(Self { sources, run_id: run_id.to_string(), recorded: None })
    }

    /// The HTTP source of `p`, when enabled (stats and budget status for metrics).
    #[must_use]
    pub fn source(&self, p: Provider) -> Option<&Arc<HttpSource>> {
        self.sources.get(&p)
    }

    /// The providers asked about `asset`: [`providers_for`] plus the Solana RPC for a Solana asset when
    /// `solana_rpc` is enabled.
    #[must_use]
    pub fn asked_about(&self, asset: &AssetId) -> Vec<Provider> {
        let mut ps = providers_for(asset).to_vec();
        if self.sources.contains_key(&Provider::SolanaRpc) && request_path(Provider::SolanaRpc, asset).is_some() {
            ps.push(Provider::SolanaRpc);
        }
        ps
    }

    /// Answers every request from `recorded` (keyed by provider name and request path) instead of the
    /// network: re-derivation from raw_events. Captures keep their recorded receive times and budgets are
    /// not consulted; providers must still be enabled to be asked.
    #[must_use]
    pub fn with_recorded(mut self, recorded: Arc<dyn RecordedResponses>) -> Self {
        self.recorded = Some(recorded);
        self
    }

    /// Fetches and parses `p`'s report on `asset`. `received_at` stamps the response (raw event and
    /// report alike), so a replay of the raw event gives the same report.
    pub async fn fetch(&self, p: Provider, asset: &AssetId, received_at: Ts) -> ProviderFetch {
        let Some(src) = self.sources.get(&p) else { return ProviderFetch { provider: p, raws: Vec::new(), report: Err("provider disabled".into()) } };
        let Some(path) = request_path(p, asset) else { return ProviderFetch { provider: p, raws: Vec::new(), report: Err("asset not covered by provider".into()) } };
        if let (Provider::SolanaRpc, AssetId::Chain { address, .. }) = (p, asset) {
            return self.fetch_solana(src, address, &path, received_at).await;
        }
        let got = fetch_captured(src, self.recorded.as_deref(), p.as_str(), &path, 1, received_at, &self.run_id).await;
        let (raw, report) = got.parsed(|f| parse(p, asset, &f.body, f.observed_at).map_err(|e| e.to_string()));
        if let Err(why) = &report {
            debug!(provider = %p, asset = %asset, %why, "No provider report.");
        }
        ProviderFetch { provider: p, raws: raw.into_iter().collect(), report }
    }

    /// The Solana RPC's report on `mint`: `getAccountInfo(mint, jsonParsed)` (mint and freeze authority),
    /// then, when that is a mint, `getAccountInfo(<Metaplex metadata PDA>, base64)` for `is_mutable`. Both
    /// responses are captured; a metadata call that fails or finds no account leaves `metadata_mutable`
    /// unknown (a Token-2022 `tokenMetadata` extension still answers it).
    async fn fetch_solana(&self, src: &HttpSource, mint: &str, label: &str, received_at: Ts) -> ProviderFetch {
        let p = Provider::SolanaRpc;
        let rec = self.recorded.as_deref();
        let got = fetch_captured_rpc(src, rec, p.as_str(), label, &solana_account_request(mint, "jsonParsed"), received_at, &self.run_id).await;
        let (raw, mint_facts) = got.parsed(|f| solana_mint(&f.body).map(|m| (m, f.observed_at)));
        let mut raws: Vec<RawEvent> = raw.into_iter().collect();
        let (mint_facts, observed_at) = match mint_facts {
            Ok(m) => m,
            Err(why) => return ProviderFetch { provider: p, raws, report: Err(why) },
        };
        let mut metaplex = None;
        if let Some(pda) = crate::dex::solana::pda::metaplex_metadata_address(mint) {
            let label = format!("#getAccountInfo({pda})");
            let got = fetch_captured_rpc(src, rec, p.as_str(), &label, &solana_account_request(&pda, "base64"), received_at, &self.run_id).await;
            let (raw, md) = got.parsed(|f| solana_metaplex(&f.body, mint));
            raws.extend(raw);
            match md {
                Ok(m) => metaplex = m,
                Err(why) => debug!(%mint, %why, "No Metaplex metadata read; metadata_mutable stays unknown."),
            }
        }
        let facts = crate::dex::solana::mint::mint_security_facts(&mint_facts, metaplex.as_ref());
        ProviderFetch { provider: p, raws, report: Ok(ProviderReport { provider: p, observed_at, facts }) }
    }
}

fn rpc_value(body: &str) -> Result<serde_json::Value, String> {
    crate::dex::evm::rpc::parse_response(body).map(|r| r.get("value").cloned().unwrap_or(serde_json::Value::Null)).map_err(|e| format!("result: {e}"))
}

/// The mint account of a `getAccountInfo(mint, jsonParsed)` body.
fn solana_mint(body: &str) -> Result<crate::dex::solana::mint::MintFacts, String> {
    crate::dex::solana::mint::parse_mint_account(&rpc_value(body)?).map_err(|reason| format!("result.value: {reason}"))
}

/// The Metaplex metadata of `mint` in a `getAccountInfo(<PDA>, base64)` body (`None`: no account).
fn solana_metaplex(body: &str, mint: &str) -> Result<Option<crate::dex::solana::mint::MetaplexMetadata>, String> {
    crate::dex::solana::mint::parse_metadata_account(&rpc_value(body)?, mint).map_err(|reason| format!("result.value: {reason}"))
}

/// The request path and query of `p` for `asset`, `None` when `p` does not cover it. The Solana RPC posts
/// to its endpoint; its "path" is the fragment naming the call (`#getAccountInfo(<mint>)`), as the
/// JSON-RPC sources label their captures.
#[must_use]
pub fn request_path(p: Provider, asset: &AssetId) -> Option<String> {
    let AssetId::Chain { chain, address } = asset else { return None };
    let solana = ChainFamily::of_chain(chain) == Some(ChainFamily::Solana);
    match p {
        Provider::SolanaRpc => solana.then(|| format!("#getAccountInfo({address})")),
        Provider::Goplus => evm_chain_id(chain).map(|id| format!("/api/v1/token_security/{id}?contract_addresses={address}")),
        Provider::HoneypotIs => evm_chain_id(chain).map(|id| format!("/v2/IsHoneypot?address={address}&chainID={id}")),
        Provider::Rugcheck => solana.then(|| format!("/v1/tokens/{address}/report")),
    }
}

/// Parses a provider body for `asset` (the same function a replay from raw events uses).
///
/// # Errors
/// The provider parser's [`ProviderError`]; [`ProviderError::Field`] when GoPlus is asked about a
/// CEX-only asset.
pub fn parse(p: Provider, asset: &AssetId, body: &str, observed_at: Ts) -> Result<ProviderReport, ProviderError> {
    match p {
        Provider::Goplus => {
            let AssetId::Chain { address, .. } = asset else {
                return Err(ProviderError::Field { provider: p, field: "asset_id", reason: "not an on-chain asset".into() });
            };
            goplus::parse_token_security(body, address, observed_at)
        }
        Provider::HoneypotIs => honeypot::parse_is_honeypot(body, observed_at),
        Provider::Rugcheck => rugcheck::parse_report(body, observed_at),
        // The mint account alone (the Metaplex metadata is a second call: [`ProviderClients::fetch`]).
        Provider::SolanaRpc => {
            let mint = solana_mint(body).map_err(|reason| ProviderError::Field { provider: p, field: "result", reason })?;
            Ok(ProviderReport { provider: p, observed_at, facts: crate::dex::solana::mint::mint_security_facts(&mint, None) })
        }
    }
}

/// The `getAccountInfo(address, {encoding})` request: `jsonParsed` for a mint (reference sources-2 §4d),
/// `base64` for the Metaplex metadata account (`data` = `[<base64>, "base64"]`).
fn solana_account_request(address: &str, encoding: &str) -> serde_json::Value {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": [address, {"encoding": encoding, "commitment": "confirmed"}]})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::kit::recorded;

    fn at(s: &str) -> Ts {
        s.parse().unwrap()
    }

    /// Answers from a list of captures, by provider and request path.
    struct Captures(std::sync::Mutex<Vec<RawEvent>>);

    impl RecordedResponses for Captures {
        fn take(&self, source: &str, path_and_query: &str) -> Option<RawEvent> {
            let mut v = self.0.lock().unwrap();
            let i = v.iter().position(|r| r.source == source && recorded::endpoint_path(&r.endpoint) == path_and_query)?;
            Some(v.remove(i))
        }
    }

    #[tokio::test]
    async fn a_request_without_response_is_captured_and_replays_as_the_same_failure() {
        // A loopback port nothing listens on: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cfg = ProvidersConfig::default();
        cfg.goplus.base_url = format!("http://127.0.0.1:{port}");
        cfg.goplus.max_attempts = 1;
        let eth = AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap();
        let live = ProviderClients::new(&cfg, "run-1", &|_| None).unwrap();
        let f = live.fetch(Provider::Goplus, &eth, at("2026-01-01T00:00:00.123456Z")).await;
        let raw = f.raws.first().cloned().expect("the failed request is captured");
        assert_eq!((raw.http_status, raw.payload.as_str()), (None, ""));
        assert_eq!(raw.observed_at, at("2026-01-01T00:00:00.123Z"), "millisecond times, as raw_events stores them");
        assert_eq!(raw.parse_error.as_deref(), f.report.as_ref().err().map(String::as_str));

        let replay = ProviderClients::new(&cfg, "run-2", &|_| None).unwrap().with_recorded(Arc::new(Captures(std::sync::Mutex::new(vec![raw.clone()]))));
        let g = replay.fetch(Provider::Goplus, &eth, at("2030-01-01T00:00:00Z")).await;
        assert_eq!(g.raws, vec![raw], "the replay keeps the original capture");
        assert_eq!(g.report.err(), f.report.err());
        let h = replay.fetch(Provider::Goplus, &eth, at("2030-01-01T00:00:00Z")).await;
        assert!(h.raws.is_empty() && h.report.is_err(), "nothing recorded: no answer and no capture");
    }

    #[test]
    fn paths_and_coverage() {
        let eth = AssetId::parse("base:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap();
        let sol = AssetId::parse("solana:HaQdrXRUoxxk1qLFZJNrSyzWNjn16o1r1np5h6jipump").unwrap();
        let cex = AssetId::parse("cex:okx:NEWX").unwrap();
        assert_eq!(providers_for(&eth), [Provider::Goplus, Provider::HoneypotIs]);
        assert_eq!(providers_for(&sol), [Provider::Rugcheck]);
        assert!(providers_for(&cex).is_empty());
        assert_eq!(request_path(Provider::Goplus, &eth).unwrap(), "/api/v1/token_security/8453?contract_addresses=0x6982508145454ce325ddbe47a25d4ec3d2311933");
        assert_eq!(request_path(Provider::HoneypotIs, &eth).unwrap(), "/v2/IsHoneypot?address=0x6982508145454ce325ddbe47a25d4ec3d2311933&chainID=8453");
        assert_eq!(request_path(Provider::Rugcheck, &sol).unwrap(), "/v1/tokens/HaQdrXRUoxxk1qLFZJNrSyzWNjn16o1r1np5h6jipump/report");
        assert_eq!(request_path(Provider::Rugcheck, &eth), None);
        for (slug, id) in EVM_CHAIN_IDS {
            assert_eq!(evm_chain_id(slug), Some(id));
        }
    }

    #[test]
    fn config_rejects_unknown_keys_and_keeps_defaults() {
        let c: ProvidersConfig = serde_json::from_str(r#"{"goplus":{"base_url":"http://x","budget":{"rate_per_sec":1,"burst":1}}}"#).unwrap();
        assert_eq!(c.goplus.base_url, "http://x");
        assert_eq!(c.rugcheck, ProvidersConfig::default().rugcheck);
        assert!(serde_json::from_str::<ProvidersConfig>(r#"{"goplus":{"base_url":"x","budget":{"rate_per_sec":1,"burst":1},"api_key":"s"}}"#).is_err());
    }
}
