//! Push sources: venue WebSocket feeds that report listings as they happen, with a REST gap fill on every
//! (re)connect. The venue side of each feed (kinds, subscribe messages, frame parsing, signing, the mock
//! venue) is in [`nl_adapters::cex::push`]; this module runs them.
//!
//! * [`source`]: [`PushSource`], the task that runs one feed under a lease;
//! * [`evm`]: [`evm::EvmPushSource`], EVM factory logs over `eth_subscribe("logs")` with an `eth_getLogs`
//!   backfill after every (re)connect (configured by `ws_url` under `[dex.evm.<name>]`, not here);
//! * [`solana`]: [`solana::SolanaPushSource`], Solana launches over `logsSubscribe` with a
//!   `getSignaturesForAddress` backfill after every (re)connect (`ws_url` under `[dex.solana.<name>]`).
//!
//! Push entries live in `[sources.<name>]` like poll entries (`kind`, `ws_url`, `base_url` of the REST gap
//! fill, `provider`/`rate_per_sec`/`burst` of its budget, `api_key_env`), so
//! [`SourcesConfig`] deserializes them as [`SourceKind::Other`]. Push-only settings that `SourceConfig` has
//! no field for go in `[push.<name>]` ([`PushOptions`]): the announcement feed's secret variable and
//! WebSocket tuning.

pub mod evm;
mod lease;
pub mod solana;
pub mod source;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nl_adapters::Source;
use nl_adapters::cex::config::{BuildError, SourceConfig, SourceKind, SourcesConfig};
use nl_adapters::cex::poll::InstrumentListSource;
use nl_adapters::cex::push::PushKind;
use nl_adapters::cex::push::signing::announcement_url_fn;
use nl_adapters::kit::{BudgetRegistry, EnvHeader, EnvLookup, HttpConfig, HttpSource, WsConfig};
use serde::{Deserialize, Serialize};
use tracing::warn;

pub use source::{PushSource, PushStatus, run_push_sources};

/// Default announcement topic.
pub const DEFAULT_TOPIC: &str = "com_announcement_en";
/// Default `recvWindow` of the signed announcement URL, ms.
pub const DEFAULT_RECV_WINDOW_MS: u64 = 30_000;

/// `[push.<name>]`: settings of a push entry that `[sources.<name>]` has no field for. All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushOptions {
    /// `binance_announcements_ws` only: env variable holding the API secret (HMAC key). The key itself is
    /// named by the source's `api_key_env` and sent as `X-MBX-APIKEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_secret_env: Option<String>,
    /// `binance_announcements_ws` only: topic (default `com_announcement_en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// `binance_announcements_ws` only: `recvWindow` in ms (default 30 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_window_ms: Option<u64>,
    /// Keepalive period override, ms (0 disables pings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_interval_ms: Option<u64>,
    /// Reconnect after this long without any frame, ms (default 60 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_timeout_ms: Option<u64>,
    /// Reconnect backoff base, ms (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_base_ms: Option<u64>,
    /// Reconnect backoff cap, ms (default 30 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_cap_ms: Option<u64>,
    /// Turn the REST gap fill off (default on where the kind has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_fill: Option<bool>,
}

/// Every `[push.<name>]` table, keyed by source name.
pub type PushOptionsMap = BTreeMap<String, PushOptions>;

fn field(source_name: &str, field: &'static str, reason: impl Into<String>) -> BuildError {
    BuildError::Field { source_name: source_name.to_string(), field, reason: reason.into() }
}

/// The WebSocket settings of one entry.
fn ws_config(name: &str, kind: PushKind, c: &SourceConfig, o: &PushOptions) -> Result<WsConfig, BuildError> {
    let url = c.ws_url.clone().unwrap_or_else(|| kind.default_ws_url().to_string());
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(field(name, "ws_url", format!("`{url}` is not a ws:// or wss:// URL")));
    }
    if url.contains('?') && kind == PushKind::BinanceAnnouncements {
        return Err(field(name, "ws_url", "the signed query is added per connect; give the bare endpoint"));
    }
    let (ping_ms, ping_payload) = kind.keepalive();
    let mut ws = WsConfig::new(url);
    ws.subscribe_messages = kind.subscribe_messages();
    ws.ping_interval_ms = o.ping_interval_ms.unwrap_or(ping_ms);
    ws.ping_payload = ping_payload;
    ws.connect_timeout_ms = c.timeout_ms;
    if let Some(v) = o.silence_timeout_ms {
        ws.silence_timeout_ms = v;
    }
    if let Some(v) = o.backoff_base_ms {
        ws.backoff_base_ms = v;
    }
    if let Some(v) = o.backoff_cap_ms {
        ws.backoff_cap_ms = v;
    }
    Ok(ws)
}

/// Builds every enabled push entry of `sources` (entries whose kind is in [`PUSH_KINDS`](nl_adapters::cex::push::PUSH_KINDS)), with `options`
/// from `[push.<name>]`, gap-fill HTTP clients sharing `budgets`, secrets read through `env`, and raws
/// stamped with `run_id`.
///
/// A `binance_announcements_ws` entry needs `api_key_env` and `api_secret_env` named; when either variable
/// is unset or empty at build time the entry is skipped with a warning (the feed is used only with a key).
///
/// # Errors
/// [`BuildError`] naming the source and field: a bad `ws_url`/`base_url`, a zero timeout, options for an
/// entry that is not a push entry, a key named for a keyless feed, or a missing key name.
pub fn build_push_sources(
    sources: &SourcesConfig,
    options: &PushOptionsMap,
    budgets: &BudgetRegistry,
    env: EnvLookup,
    run_id: &str,
) -> Result<Vec<Arc<PushSource>>, BuildError> {
    for name in options.keys() {
        let is_push = sources.get(name).is_some_and(|c| matches!(&c.kind, SourceKind::Other(k) if PushKind::from_kind(k).is_some()));
        if !is_push {
            return Err(field(name, "push", "`[push.<name>]` needs a `[sources.<name>]` entry of a push kind"));
        }
    }
    let mut out = Vec::new();
    for (name, c) in sources.enabled() {
        let SourceKind::Other(k) = &c.kind else { continue };
        let Some(kind) = PushKind::from_kind(k) else { continue };
        let default_options = PushOptions::default();
        let o = options.get(name).unwrap_or(&default_options);
        if c.timeout_ms == 0 {
            return Err(field(name, "timeout_ms", "must be at least 1"));
        }
        let mut ws = ws_config(name, kind, c, o)?;
        let mut push = PushSource::new(name, kind, ws.clone(), run_id);
        if kind == PushKind::BinanceAnnouncements {
            let key_env = c.api_key_env.clone().ok_or_else(|| field(name, "api_key_env", "the announcement feed needs a read-only API key"))?;
            let secret_env =
                o.api_secret_env.clone().ok_or_else(|| field(name, "push.api_secret_env", "the announcement feed needs the API secret's variable"))?;
            if [&key_env, &secret_env].iter().any(|v| env(v).is_none_or(|x| x.is_empty())) {
                warn!(source = %name, key_env = %key_env, secret_env = %secret_env, "Announcement feed skipped: its API key or secret variable is unset.");
                continue;
            }
            ws.env_headers.push(EnvHeader { name: "X-MBX-APIKEY".into(), value_env: key_env });
            let topic = o.topic.clone().unwrap_or_else(|| DEFAULT_TOPIC.to_string());
            let url_fn = announcement_url_fn(topic, o.recv_window_ms.unwrap_or(DEFAULT_RECV_WINDOW_MS), secret_env, Arc::clone(&env));
            push = PushSource::new(name, kind, ws, run_id).with_url_fn(url_fn);
        } else if c.api_key_env.is_some() || o.api_secret_env.is_some() || o.topic.is_some() || o.recv_window_ms.is_some() {
            return Err(field(name, "api_key_env", format!("kind `{}` is keyless and takes no key, secret, topic or recvWindow", kind.as_str())));
        }
        if let (Some(desc), true) = (kind.gap_fill(), o.gap_fill.unwrap_or(true)) {
            let mut http = HttpConfig::new(c.base_url.clone());
            http.timeout_ms = c.timeout_ms;
            if let Some(max) = c.max_body_bytes {
                if max == 0 {
                    return Err(field(name, "max_body_bytes", "must be at least 1 (every response would be refused)"));
                }
                http.max_body_bytes = max;
            }
            http.headers = desc.endpoint.headers.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
            let client = HttpSource::with_env(name, http, budgets.get(&c.provider), &|k| env(k)).map_err(|e| field(name, "base_url", e.to_string()))?;
            let interval = Duration::from_secs(c.interval_secs.max(1));
            let rest: Arc<dyn Source> = Arc::new(InstrumentListSource::new(name, interval, client, desc, run_id));
            push = push.with_gap_fill(rest);
        }
        out.push(Arc::new(push));
    }
    Ok(out)
}
