//! `[dex.solana.<name>]`: one Solana launch source per RPC (cluster).

use serde::{Deserialize, Serialize};

use super::parse::{CREATE_PATTERNS, PROGRAMS};

/// One Solana RPC and the launch programs watched on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SolanaConfig {
    pub enabled: bool,
    /// Source name; default the table key.
    pub name: Option<String>,
    /// HTTP JSON-RPC endpoint (`getSignaturesForAddress`, `getTransaction`, `getAccountInfo`). Required.
    pub rpc_url: String,
    /// WebSocket endpoint for `logsSubscribe`; without it the source only polls (backfill).
    pub ws_url: Option<String>,
    /// `confirmed` (default) or `finalized` (`getSignaturesForAddress` refuses `processed`).
    pub commitment: String,
    /// Programs watched, by our DEX name (`pumpfun`, `pumpswap`, `raydium_amm_v4`, `raydium_cpmm`,
    /// `raydium_launchlab`, `meteora_damm_v2`, `meteora_dlmm`) or program id. One `logsSubscribe` each.
    pub programs: Vec<String>,
    /// `getSignaturesForAddress` page size (1..=1000). Default 100.
    pub page_limit: u32,
    /// Most signature pages per program per poll; the rest of a long gap is carried to the next poll.
    /// Default 10.
    pub max_pages_per_poll: u32,
    /// Most transactions fetched per program per poll (the rest carried over). Default 2 000.
    pub max_tx_per_poll: u32,
    /// Pushed launches waiting for their `getTransaction`; one more is shed (counted) and left to the
    /// next backfill. Default 1 024.
    pub max_pending_fetches: usize,
    /// Concurrent `getTransaction` calls of the push path. Default 8.
    pub fetch_concurrency: usize,
    /// `getTransaction` attempts while the node has not indexed a pushed transaction yet. Default 3.
    pub tx_fetch_attempts: u32,
    /// RPC budget (HTTP calls per second; public RPCs throttle hard). Default 10.
    pub calls_per_sec: f64,
    /// Milliseconds between backfill polls (default 30 000); a (re)connect always backfills.
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub ws_backoff_base_ms: u64,
    pub ws_backoff_cap_ms: u64,
    /// Signatures remembered as handled (push or backfill), so backfill does not fetch them again.
    /// Default 20 000.
    pub remember_signatures: usize,
    /// Largest JSON-RPC response body kept; a longer one is stored as its prefix with size and SHA-256
    /// and the call fails. Default 8 MiB (a transaction or a page of at most 1 000 signatures).
    pub max_body_bytes: u64,
    /// The minimum-activity trigger: not a key of this table but `[enricher] enrich_after_trades` and
    /// `enrich_after_secs`, set by whoever builds the collector ([`crate::dex::config::DexSourcesConfig::with_activity`]);
    /// `None` counts no trades.
    #[serde(skip)]
    pub activity: Option<super::activity::ActivityTrigger>,
}

impl Default for SolanaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            name: None,
            rpc_url: String::new(),
            ws_url: None,
            commitment: "confirmed".into(),
            programs: DEFAULT_PROGRAMS.iter().map(ToString::to_string).collect(),
            page_limit: 100,
            max_pages_per_poll: 10,
            max_tx_per_poll: 2_000,
            max_pending_fetches: 1_024,
            fetch_concurrency: 8,
            tx_fetch_attempts: 3,
            calls_per_sec: 10.0,
            interval_ms: 30_000,
            timeout_ms: 10_000,
            ws_backoff_base_ms: 500,
            ws_backoff_cap_ms: 30_000,
            remember_signatures: 20_000,
            max_body_bytes: crate::kit::PAGE_MAX_BODY_BYTES,
            activity: None,
        }
    }
}

/// The launch programs watched by default.
pub const DEFAULT_PROGRAMS: &[&str] = &["pumpfun", "pumpswap", "raydium_amm_v4", "raydium_cpmm", "raydium_launchlab", "meteora_damm_v2", "meteora_dlmm"];

/// A watched program: id and our DEX name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub dex: String,
}

impl SolanaConfig {
    /// The configured programs as ids with DEX names.
    ///
    /// # Errors
    /// A message naming a program that is neither a known name nor a known id, or one without a create
    /// pattern (it would be subscribed to for nothing).
    pub fn resolve_programs(&self) -> Result<Vec<Program>, String> {
        let mut out: Vec<Program> = Vec::new();
        for p in &self.programs {
            let Some((id, dex)) = PROGRAMS.iter().find(|(id, dex)| p == id || p == dex) else {
                let known: Vec<&str> = PROGRAMS.iter().map(|(_, d)| *d).collect();
                return Err(format!("unknown program `{p}` (known: {})", known.join(", ")));
            };
            if !CREATE_PATTERNS.iter().any(|c| c.program == *id) {
                return Err(format!("program `{p}` has no create pattern; remove it"));
            }
            if !out.iter().any(|o| o.id == *id) {
                out.push(Program { id: (*id).to_string(), dex: (*dex).to_string() });
            }
        }
        if out.is_empty() {
            return Err("`programs` is empty".into());
        }
        Ok(out)
    }

    /// Checks the fields a build needs.
    ///
    /// # Errors
    /// A message saying which field to fix.
    pub fn validate(&self) -> Result<Vec<Program>, String> {
        if !(self.rpc_url.starts_with("http://") || self.rpc_url.starts_with("https://")) {
            return Err("`rpc_url` must be an http(s) URL".into());
        }
        if self.ws_url.as_deref().is_some_and(|u| !(u.starts_with("ws://") || u.starts_with("wss://"))) {
            return Err("`ws_url` must start with ws:// or wss://".into());
        }
        if !matches!(self.commitment.as_str(), "confirmed" | "finalized") {
            return Err(format!("`commitment` = `{}`: use confirmed or finalized", self.commitment));
        }
        if !(1..=1000).contains(&self.page_limit) {
            return Err("`page_limit` must be in 1..=1000".into());
        }
        if self.max_pages_per_poll == 0 || self.max_tx_per_poll == 0 || self.fetch_concurrency == 0 || self.max_pending_fetches == 0 {
            return Err("`max_pages_per_poll`, `max_tx_per_poll`, `fetch_concurrency` and `max_pending_fetches` must be > 0".into());
        }
        if self.timeout_ms == 0 || self.interval_ms == 0 {
            return Err("`timeout_ms` and `interval_ms` must be > 0".into());
        }
        self.resolve_programs()
    }
}
