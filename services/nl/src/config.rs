//! The `nl` binary's configuration: every section of `config/default.toml`, each typed by the crate that
//! owns it (`deny_unknown_fields` all the way down), plus path resolution under `[storage] out_dir`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use nl_adapters::cex::config::SourcesConfig;
use nl_adapters::dex::config::DexSourcesConfig;
use nl_bus::NatsConfig;
use nl_collector::push::PushOptionsMap;
use nl_collector::serve::CollectorSettings;
use nl_config::{Loaded, StorageConfig};
use nl_enricher::EnricherConfig;
use nl_gate::service::GateServiceConfig;
use nl_ledger::LedgerConfig;
use nl_recorder::RecorderConfig;
use nl_risk_scorer::service::RiskScorerConfig;
use serde::{Deserialize, Serialize};

/// Which bus the embedded commands use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusMode {
    /// In-process `MemoryBus` (embedded mode; no server needed).
    #[default]
    Memory,
    /// NATS JetStream (`[nats]`).
    Nats,
}

/// `[bus]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSection {
    pub mode: BusMode,
    /// Bound on messages the in-memory stream retains unacknowledged (load shedding beyond it is counted).
    pub memory_max_messages: usize,
    /// Flow control of `nl run`: the sources and the enricher's re-snapshot rounds pause (at most
    /// [`MEMORY_MAX_PAUSE`] at a time) while a consumer is more than this many messages behind; 0 = off.
    pub memory_max_lag: u64,
}

/// Longest single flow-control pause of a producer in `nl run` (see [`BusSection::memory_max_lag`]).
pub const MEMORY_MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for BusSection {
    fn default() -> Self {
        Self { mode: BusMode::Memory, memory_max_messages: 1_000_000, memory_max_lag: 1_000 }
    }
}

impl BusSection {
    /// The in-memory bus of `nl run`: bounded at `memory_max_messages`, with flow control at
    /// `memory_max_lag`.
    #[must_use]
    pub fn memory_bus(&self) -> nl_bus::MemoryBus {
        let flow = (self.memory_max_lag > 0).then_some(nl_bus::FlowControl { max_lag: self.memory_max_lag, max_pause: MEMORY_MAX_PAUSE });
        nl_bus::MemoryBus::new(nl_bus::MemoryBusConfig { max_messages: self.memory_max_messages, flow, ..nl_bus::MemoryBusConfig::default() })
    }
}

/// How long [`ServeSection::ledger_reader_connected`] tries to connect.
pub const LEDGER_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `[serve]`: listen addresses of `nl serve <service>` (distributed mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// `/metrics`, `/healthz` and `/readyz` of every served service.
    pub metrics_addr: SocketAddr,
    /// gRPC `Ledger` of `nl serve ledger`.
    pub ledger_grpc_addr: SocketAddr,
    /// gRPC `Gate` of `nl serve gate`.
    pub gate_grpc_addr: SocketAddr,
    /// Where `nl serve gate` reads decisions: the ledger's gRPC endpoint (the ledger is the only DB writer).
    pub ledger_url: String,
    /// Env variable holding the bearer token every gRPC service requires (and the gate sends to the
    /// ledger). Empty: no authentication, which `nl serve` allows only on loopback gRPC addresses.
    pub grpc_token_env: String,
    /// PEM certificate (chain) and private key of the gRPC servers (`Ledger`, `Gate`, `Orchestrator`):
    /// both set, they serve TLS only; both empty (the default), plaintext.
    pub tls_cert_path: String,
    pub tls_key_path: String,
    /// PEM CA certificate a client trusts for an `https://` `ledger_url` (required then).
    pub tls_ca_path: String,
}

impl ServeSection {
    /// The gRPC servers' TLS, `None` for plaintext.
    ///
    /// # Errors
    /// Only one of the two paths set, or a file unreadable.
    pub fn server_tls(&self) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
        nl_proto::tls::server_tls(&self.tls_cert_path, &self.tls_key_path).map_err(|e| anyhow::anyhow!("[serve] {e}"))
    }

    /// The endpoint of the ledger's gRPC at `url`: plaintext for `http://`, TLS trusting the CA at
    /// `tls_ca_path` for `https://`.
    ///
    /// # Errors
    /// `url` not a URL, or `https://` without a readable `tls_ca_path`.
    pub fn ledger_endpoint(&self, url: &str) -> anyhow::Result<tonic::transport::Endpoint> {
        nl_proto::tls::endpoint(url, &self.tls_ca_path).map_err(|e| anyhow::anyhow!("ledger URL {url:?}: {e}"))
    }

    /// A gRPC server on a non-loopback address answers anyone who reaches it: like the dashboard's, it
    /// needs a token then. `key` names the setting that chose `addr`.
    ///
    /// # Errors
    /// `addr` is not loopback and `grpc_token_env` is empty, saying what to set.
    pub fn require_token_off_loopback(&self, key: &str, addr: SocketAddr) -> anyhow::Result<()> {
        if !addr.ip().is_loopback() && self.grpc_token_env.trim().is_empty() {
            anyhow::bail!(
                "{key} = {addr} is not loopback: set [serve] grpc_token_env (env NL_SERVE__GRPC_TOKEN_ENV) to the name of an \
                 environment variable holding a bearer token, or bind to 127.0.0.1"
            );
        }
        Ok(())
    }

    /// What every client of the ledger's gRPC (the services and the CLI) attaches: the bearer token from
    /// the env variable `grpc_token_env` names; nothing when that is empty.
    ///
    /// # Errors
    /// `grpc_token_env` names an unset variable, or the token is no valid header value.
    pub fn ledger_auth(&self) -> anyhow::Result<nl_proto::auth::AttachBearer> {
        let token = nl_proto::auth::token_from_env(&self.grpc_token_env, |k| std::env::var(k).ok()).context("[serve] grpc_token_env")?;
        Ok(nl_proto::auth::AttachBearer::new(token.as_deref(), &self.grpc_token_env)?)
    }

    /// The ledger's gRPC reader at `ledger_url`, connected lazily, with [`Self::ledger_endpoint`]'s TLS
    /// and [`Self::ledger_auth`]'s token.
    ///
    /// # Errors
    /// As [`Self::ledger_endpoint`] and [`Self::ledger_auth`].
    pub fn ledger_reader(&self) -> anyhow::Result<nl_proto::GrpcLedgerReader> {
        let endpoint = self.ledger_endpoint(&self.ledger_url).context("[serve] ledger_url")?;
        Ok(nl_proto::GrpcLedgerReader::with_auth(endpoint.connect_lazy(), self.ledger_auth()?))
    }

    /// [`Self::ledger_reader`] connected now (within [`LEDGER_CONNECT_TIMEOUT`]): what a command that
    /// reads the ledger in NATS mode uses, so an empty or unreachable `ledger_url` fails at once, saying
    /// what to set.
    ///
    /// # Errors
    /// `ledger_url` empty, not a URL or not answering; as [`Self::ledger_auth`].
    pub async fn ledger_reader_connected(&self) -> anyhow::Result<nl_proto::GrpcLedgerReader> {
        let url = self.ledger_url.trim();
        anyhow::ensure!(
            !url.is_empty(),
            "[serve] ledger_url is empty: set it (NL_SERVE__LEDGER_URL) to the ledger's gRPC address, e.g. http://127.0.0.1:50051"
        );
        let endpoint = self.ledger_endpoint(url).context("[serve] ledger_url (NL_SERVE__LEDGER_URL)")?.connect_timeout(LEDGER_CONNECT_TIMEOUT);
        let auth = self.ledger_auth()?;
        let channel = endpoint.connect().await.with_context(|| {
            format!("connecting to the ledger's gRPC at {url}: is `nl serve ledger` running there? ([serve] ledger_url / NL_SERVE__LEDGER_URL names it)")
        })?;
        Ok(nl_proto::GrpcLedgerReader::with_auth(channel, auth))
    }
}

impl Default for ServeSection {
    fn default() -> Self {
        Self {
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9100)),
            ledger_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            gate_grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50052)),
            ledger_url: "http://127.0.0.1:50051".into(),
            grpc_token_env: String::new(),
            tls_cert_path: String::new(),
            tls_key_path: String::new(),
            tls_ca_path: String::new(),
        }
    }
}

/// `[run]`: continuous operation (`nl run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// How often the run's manifest is rewritten with the events range and counts so far (seconds).
    pub checkpoint_secs: u64,
    /// On SIGINT/SIGTERM, give up draining the pipeline after this many seconds.
    pub drain_timeout_secs: u64,
    /// `nl run-cycle`: the longest rate-limit wait (`Retry-After`, a ban on a shared budget) a source sits
    /// through within the cycle before it retries; longer ones fail the source now, by name.
    pub max_in_cycle_wait_secs: u64,
}

impl Default for RunSection {
    fn default() -> Self {
        Self { checkpoint_secs: 60, drain_timeout_secs: 30, max_in_cycle_wait_secs: nl_collector::cycle::DEFAULT_MAX_IN_CYCLE_WAIT_SECS }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NlConfig {
    pub storage: StorageConfig,
    pub bus: BusSection,
    pub nats: NatsConfig,
    pub ledger: LedgerConfig,
    pub recorder: RecorderConfig,
    /// CEX instrument lists, announcement feeds and push feeds, by source name.
    pub sources: SourcesConfig,
    /// Push-feed options that `[sources.<name>]` has no field for (secret env names, topics, timers).
    pub push: PushOptionsMap,
    /// Collector replica settings (leases, state bucket) for distributed mode.
    pub collector: CollectorSettings,
    /// DEX sources: GeckoTerminal, DexScreener, EVM factory logs.
    pub dex: DexSourcesConfig,
    pub enricher: EnricherConfig,
    pub risk_scorer: RiskScorerConfig,
    pub gate: GateServiceConfig,
    pub serve: ServeSection,
    pub run: RunSection,
    /// The web dashboard (`nl web`, `nl serve web`, `nl run --web`).
    pub web: nl_web::WebConfig,
    /// Alert sinks by name (`[alerts.<name>]`): they run beside the dashboard and in `nl run`.
    pub alerts: BTreeMap<String, nl_web::AlertSinkConfig>,
    /// L0 in distributed mode (`nl serve orchestrator`).
    pub orchestrator: nl_runtime::OrchestratorConfig,
    /// The optional AI layers L1–L4 (off unless enabled with an endpoint).
    pub ai: nl_ai_dispatch::AiConfig,
    /// Paper trading: the profit book, the learning book, the fill model (`nl serve paper`, `nl backtest`).
    pub paper: nl_paper::PaperConfig,
}

impl NlConfig {
    /// Places the DB and events log under `storage.out_dir` unless they were set explicitly, and tells the
    /// ledger each source's venue type.
    fn resolve_paths(&mut self) {
        if self.ledger.db_path == Path::new(nl_ledger::config::DEFAULT_DB_PATH) {
            self.ledger.db_path = self.storage.db_path();
        }
        if self.recorder.path == Path::new(nl_recorder::DEFAULT_EVENTS_PATH) {
            self.recorder.path = self.storage.events_path();
        }
        self.ledger.venue_types = self.venue_types();
    }

    /// `raw_events.venue_type` by the source names raw captures carry: every `[sources.*]` entry (CEX
    /// instrument lists, announcement feeds and push feeds, and their currency lookups) and the enricher's
    /// CEX ticker lookups (`<venue>_ticker`) are `CEX`; GeckoTerminal, DexScreener (profiles, boosts and
    /// the enricher's pair lookups) and the EVM factory-log sources are `DEX`. Risk providers are no venue
    /// and are left out (NULL).
    #[must_use]
    pub fn venue_types(&self) -> BTreeMap<String, String> {
        use nl_adapters::dex::dexscreener::client::{DexScreenerClient, ProfilesVariant};
        let cex = self.sources.0.keys().cloned().chain(nl_adapters::cex::ticker::TICKER_VENUES.iter().map(|v| format!("{v}_ticker")));
        let dex = [self.dex.geckoterminal.name.clone(), DexScreenerClient::SOURCE.to_string()]
            .into_iter()
            .chain([ProfilesVariant::Profiles, ProfilesVariant::Boosts].map(|v| v.source_name().to_string()))
            .chain(self.dex.evm.values().map(nl_adapters::dex::config::EvmChainConfig::source_name));
        cex.map(|s| (s, "CEX".to_string())).chain(dex.map(|s| (s, "DEX".to_string()))).collect()
    }
}

/// Renames a database left as `nl.db` in the out dir to the configured path (the runbook's
/// `new_listings.sqlite`), with its `-wal`/`-shm` files, and says so on one line of stderr.
///
/// # Errors
/// The rename failed (nothing was lost: the old files stay where they were).
pub fn adopt_legacy_db(config: &NlConfig) -> anyhow::Result<()> {
    let path = &config.ledger.db_path;
    if let Some(old) = nl_ledger::db::adopt_legacy_db(path).with_context(|| format!("renaming the old database to {}", path.display()))? {
        eprintln!("note: renamed {} to {} (the runbook's database name); its data is unchanged", old.display(), path.display());
    }
    Ok(())
}

/// Loads and validates the configuration from `path` (plus `NL_*__*` env overrides).
///
/// # Errors
/// A message naming the file or env variable and the key to fix.
pub fn load(path: &Path) -> anyhow::Result<Loaded<NlConfig>> {
    let mut loaded: Loaded<NlConfig> = match nl_config::load(path) {
        Ok(loaded) => loaded,
        Err(nl_config::ConfigError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => anyhow::bail!("{}", missing_config(path)),
        Err(e) => return Err(e).with_context(|| format!("loading config {}", path.display())),
    };
    loaded.config.resolve_paths();
    loaded.config.ledger.validate().map_err(|e| anyhow::anyhow!("config {}: [ledger] {e}", path.display()))?;
    loaded.config.recorder.validate().map_err(|e| anyhow::anyhow!("config {}: [recorder] {e}", path.display()))?;
    for (name, sink) in &loaded.config.alerts {
        sink.validate(name).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
    }
    loaded.config.ai.validate().map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
    // A paper section that is on, or that names a fee model, must be usable: refused here, not at the
    // first `nl backtest` (a disabled section without `[paper.fees]` is fine).
    if loaded.config.paper.enabled || loaded.config.paper.fees.is_some() {
        loaded.config.paper.validate().map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
    }
    Ok(loaded)
}

/// A config file that is not there, with where it was looked for and how to name another: the default
/// path is relative, so running `nl` outside the repository is the usual cause.
#[must_use]
pub fn missing_config(path: &Path) -> String {
    let relative = if path.is_relative() {
        std::env::current_dir().map(|d| format!(" (relative to the current directory {})", d.display())).unwrap_or_default()
    } else {
        String::new()
    };
    format!(
        "config file {} not found{relative}: run nl from the repository root, or name the config file with --config PATH or NL_CONFIG=PATH",
        path.display()
    )
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
