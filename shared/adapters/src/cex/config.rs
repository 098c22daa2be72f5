//! The `[sources.<name>]` configuration of the CEX poll sources and the builder that turns it into pollable
//! sources (the collector runs them).
//!
//! Each entry names its implementation (`kind`), where it fetches (`base_url`, overridable per environment as
//! `NL_SOURCES__<NAME>__BASE_URL`), how often, and the budget of its provider. Sources of the same provider
//! share one token bucket, so their `rate_per_sec`/`burst` must agree; build the [`BudgetRegistry`] from
//! [`SourcesConfig::budget_configs`]. Secrets never appear here: `api_key_env` names an environment variable.
//!
//! Extension point: kinds this module does not implement (push feeds, see [`push`](crate::cex::push); DEX
//! sources) deserialize as [`SourceKind::Other`]; [`build_sources`] leaves them to their own builders, and
//! [`SourcesConfig::ensure_kinds_known`] rejects any kind no builder claims.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Source;
use crate::cex::currency::CurrencyDescriptor;
use crate::cex::poll::{AnnouncementDescriptor, AnnouncementSource, Endpoint, InstrumentListDescriptor, InstrumentListSource, ListPolicy};
use crate::cex::{AnnouncementPolicy, binance, bingx, bitget, bybit, coinbase, gate, htx, kraken, kucoin, mexc, okx, upbit};
use crate::kit::{BudgetConfig, BudgetRegistry, HttpConfig, HttpSource, SecretLocation, SecretParam};

/// The implementation behind a source entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Binance spot `GET /api/v3/exchangeInfo`.
    BinanceSpot,
    /// OKX `GET /api/v5/public/instruments?instType=SPOT`.
    OkxSpot,
    /// Bybit `GET /v5/market/instruments-info?category=spot`.
    BybitSpot,
    /// Coinbase Exchange `GET /products`.
    CoinbaseProducts,
    /// Kraken `GET /0/public/AssetPairs`.
    KrakenPairs,
    /// KuCoin `GET /api/v2/symbols`.
    KucoinSymbols,
    /// Gate `GET /api/v4/spot/currency_pairs`.
    GatePairs,
    /// MEXC `GET /api/v3/exchangeInfo`.
    MexcSpot,
    /// Bitget `GET /api/v2/spot/public/symbols`.
    BitgetSpot,
    /// Upbit `GET /v1/market/all?isDetails=true` (KRW, BTC and USDT markets).
    UpbitMarkets,
    /// HTX `GET /v2/settings/common/symbols`.
    HtxSpot,
    /// BingX `GET /openApi/spot/v1/common/symbols`.
    BingxSpot,
    /// Binance CMS article list, catalog 48 (new listings).
    BinanceAnnouncements,
    /// OKX `GET /api/v5/support/announcements` (new listings).
    OkxAnnouncements,
    /// Bybit `GET /v5/announcements/index` (`new_crypto`).
    BybitAnnouncements,
    /// KuCoin `GET /api/v3/announcements` (`new-listings`).
    KucoinAnnouncements,
    /// Bitget `GET /api/v2/public/annoucements` (`coin_listings`).
    BitgetAnnouncements,
    /// Binance CMS article list, catalog 161 (delistings).
    BinanceDelistings,
    /// OKX `GET /api/v5/support/announcements` (`announcements-delistings`).
    OkxDelistings,
    /// Bybit `GET /v5/announcements/index` (`delistings`).
    BybitDelistings,
    /// KuCoin `GET /api/v3/announcements` (`delistings`).
    KucoinDelistings,
    /// A kind implemented elsewhere (push feeds, DEX sources), built by that module's own builder.
    #[serde(untagged)]
    Other(String),
}

/// How a poll kind is implemented.
#[derive(Debug, Clone, Copy)]
pub enum PollKind {
    Instruments(InstrumentListDescriptor),
    Announcements(AnnouncementDescriptor),
}

impl PollKind {
    fn endpoint(&self) -> &Endpoint {
        match self {
            Self::Instruments(d) => &d.endpoint,
            Self::Announcements(d) => &d.endpoint,
        }
    }
}

impl SourceKind {
    /// The poll implementation of this kind; `None` for [`SourceKind::Other`].
    #[must_use]
    pub fn poll_kind(&self) -> Option<PollKind> {
        use PollKind::{Announcements as A, Instruments as I};
        Some(match self {
            Self::BinanceSpot => I(binance::client::SPOT),
            Self::OkxSpot => I(okx::client::SPOT),
            Self::BybitSpot => I(bybit::client::SPOT),
            Self::CoinbaseProducts => I(coinbase::client::PRODUCTS),
            Self::KrakenPairs => I(kraken::client::PAIRS),
            Self::KucoinSymbols => I(kucoin::client::SYMBOLS),
            Self::GatePairs => I(gate::client::PAIRS),
            Self::MexcSpot => I(mexc::client::SPOT),
            Self::BitgetSpot => I(bitget::client::SPOT),
            Self::UpbitMarkets => I(upbit::client::SPOT),
            Self::HtxSpot => I(htx::client::SPOT),
            Self::BingxSpot => I(bingx::client::SPOT),
            Self::BinanceAnnouncements => A(binance::client::ANNOUNCEMENTS),
            Self::OkxAnnouncements => A(okx::client::ANNOUNCEMENTS),
            Self::BybitAnnouncements => A(bybit::client::ANNOUNCEMENTS),
            Self::KucoinAnnouncements => A(kucoin::client::ANNOUNCEMENTS),
            Self::BitgetAnnouncements => A(bitget::client::ANNOUNCEMENTS),
            Self::BinanceDelistings => A(binance::client::DELISTINGS),
            Self::OkxDelistings => A(okx::client::DELISTINGS),
            Self::BybitDelistings => A(bybit::client::DELISTINGS),
            Self::KucoinDelistings => A(kucoin::client::DELISTINGS),
            Self::Other(_) => return None,
        })
    }

    /// The venue's currency endpoint, for instrument kinds whose listings can be linked to a contract.
    #[must_use]
    pub fn currency_lookup(&self) -> Option<CurrencyDescriptor> {
        match self {
            Self::KucoinSymbols => Some(kucoin::client::CURRENCY),
            Self::GatePairs => Some(gate::client::CURRENCY),
            _ => None,
        }
    }

    /// The kind as written in config.
    #[must_use]
    pub fn as_str(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => format!("{self:?}"),
        }
    }
}

fn yes() -> bool {
    true
}
fn d_interval_secs() -> u64 {
    10
}
fn d_timeout_ms() -> u64 {
    10_000
}

/// Default of [`SourceConfig::max_currency_lookups`].
pub const DEFAULT_MAX_CURRENCY_LOOKUPS: usize = 10;

/// One `[sources.<name>]` entry. The name is the map key: it is also the state key, lease key and the
/// `source` of every event the source emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Poll this source (default true). Disabled sources are skipped by every builder.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The implementation (`okx_spot`, `binance_announcements`, ...).
    pub kind: SourceKind,
    /// Scheme and host (optionally a path prefix) of the REST API; the endpoint path is fixed by the kind.
    /// Tests point it at a mock venue.
    pub base_url: String,
    /// WebSocket URL, for push kinds only; poll kinds reject it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
    /// Seconds between polls (default 10, at least 1). A 429/418 `Retry-After` lengthens the next wait.
    #[serde(default = "d_interval_secs")]
    pub interval_secs: u64,
    /// Per-request timeout including the body, in milliseconds (default 10 000).
    #[serde(default = "d_timeout_ms")]
    pub timeout_ms: u64,
    /// Budget key: every source naming the same provider shares one token bucket (e.g. `binance`).
    pub provider: String,
    /// Sustained budget of the provider in request-weight units per second.
    pub rate_per_sec: f64,
    /// Largest burst of weight units the provider's bucket allows after idling (at least 1).
    pub burst: f64,
    /// Name of an environment variable holding an API key, sent in the venue's key header. Only kinds whose
    /// venue takes a key on this endpoint accept it (Binance spot: `X-MBX-APIKEY`). The value is never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Announcement kinds only: on the very first run, articles published within this many minutes are
    /// still reported; older ones are recorded silently (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_minutes: Option<u64>,
    /// Instrument kinds with a currency endpoint only (`kucoin_symbols`, `gate_pairs`): how many new base
    /// currencies per poll are looked up to link the listing to its contract (default 10; 0 turns linking
    /// off). Each lookup is one request on the provider's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_currency_lookups: Option<usize>,
    /// Largest response body kept (default 32 MiB); a longer one is kept as its prefix with its size and
    /// SHA-256, and the poll fails with that error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<u64>,
    /// Instrument kinds only: an instrument absent from this many consecutive lists is delisted
    /// (`asset.delisted` when no other pair of its base is listed; default 3, at least 1). A shorter
    /// absence is a flap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delist_after_polls: Option<u32>,
    /// Instrument kinds only: a list with more than this fraction fewer instruments than the last one
    /// (or an empty one) is an outage, kept raw, and does not move the baseline (default 0.5, in (0, 1]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shrink_fraction: Option<f64>,
    /// Instrument kinds only: a list that adds more new assets (bases) at once than this, and more than were
    /// listed before, is no batch of listings but a list that was partial until now (a tiny first snapshot):
    /// it becomes the baseline, nothing in it is reported new, and the poll reports why (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_assets: Option<usize>,
}

/// First-poll lookback of the delisting feeds (7 days): a delisting is announced days before it happens.
const DELISTINGS_LOOKBACK_MIN: u64 = 7 * 24 * 60;

impl SourceConfig {
    /// The provider budget this entry configures.
    #[must_use]
    pub fn budget(&self) -> BudgetConfig {
        BudgetConfig::new(self.rate_per_sec, self.burst)
    }

    /// An enabled entry polling `base_url` with the `(rate_per_sec, burst)` budget, every optional field unset.
    #[must_use]
    pub fn poll(kind: SourceKind, base_url: &str, interval_secs: u64, timeout_ms: u64, provider: &str, budget: (f64, f64)) -> Self {
        Self {
            enabled: true,
            kind,
            base_url: base_url.to_string(),
            ws_url: None,
            interval_secs,
            timeout_ms,
            provider: provider.to_string(),
            rate_per_sec: budget.0,
            burst: budget.1,
            api_key_env: None,
            lookback_minutes: None,
            max_currency_lookups: None,
            max_body_bytes: None,
            delist_after_polls: None,
            max_shrink_fraction: None,
            max_new_assets: None,
        }
    }

    fn with_lookback(mut self, minutes: u64) -> Self {
        self.lookback_minutes = Some(minutes);
        self
    }
}

/// Why the sources could not be built. Always names the source (or provider) and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// A field of a source entry is invalid.
    #[error("source `{source_name}`: invalid `{field}`: {reason}")]
    Field { source_name: String, field: &'static str, reason: String },
    /// No builder implements the entry's kind.
    #[error("source `{source_name}`: unknown kind `{kind}`")]
    UnknownKind { source_name: String, kind: String },
    /// Two sources of one provider configure different budgets.
    #[error("provider `{provider}`: sources `{first}` and `{second}` set different rate_per_sec/burst; sources of one provider share one budget")]
    BudgetConflict { provider: String, first: String, second: String },
}

fn field(source_name: &str, field: &'static str, reason: impl Into<String>) -> BuildError {
    BuildError::Field { source_name: source_name.to_string(), field, reason: reason.into() }
}

/// Every `[sources.<name>]` entry, keyed by name (sorted, so builds and config hashes are deterministic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourcesConfig(pub BTreeMap<String, SourceConfig>);

/// Binance: 6000 weight/min/IP; 90 % of it sustained, a tenth of the window as burst.
const BINANCE_BUDGET: (f64, f64) = (90.0, 600.0);
/// OKX: the stricter shared limit (announcements, 5 req/2 s): 1 + 2·2 ≤ 5 per 2 s.
const OKX_BUDGET: (f64, f64) = (2.0, 1.0);
/// Bybit: 600 req/5 s/IP (a 403 bans for 10 min): 60 + 108·5 ≤ 600.
const BYBIT_BUDGET: (f64, f64) = (108.0, 60.0);
/// Coinbase Exchange: 10 req/s/IP, burst 15; kept below both.
const COINBASE_BUDGET: (f64, f64) = (8.0, 10.0);
/// Kraken: public limit not confirmed; 1 req/s as the widely used client default.
const KRAKEN_BUDGET: (f64, f64) = (1.0, 1.0);
/// KuCoin: public pool weights not confirmed; conservative.
const KUCOIN_BUDGET: (f64, f64) = (1.0, 2.0);
/// Gate: about 200 req/10 s per endpoint: 20 + 18·10 ≤ 200.
const GATE_BUDGET: (f64, f64) = (18.0, 20.0);
/// MEXC: exchangeInfo weighs 10; the IP limit is not in the reference, so one call per second at most.
const MEXC_BUDGET: (f64, f64) = (10.0, 20.0);
/// Bitget: announcements 20 req/s/IP, symbols not confirmed; half of it, shared.
const BITGET_BUDGET: (f64, f64) = (10.0, 10.0);
/// Upbit: the market group allows 10 req/s per IP (429, then escalating 418 bans); half of it.
const UPBIT_BUDGET: (f64, f64) = (5.0, 5.0);
/// HTX: the settings endpoints' limit is not confirmed; conservative.
const HTX_BUDGET: (f64, f64) = (1.0, 2.0);
/// BingX: market group 500 req/10 s and 1000 req/min per IP (a breach restricts for 5 min); well below.
const BINGX_BUDGET: (f64, f64) = (5.0, 10.0);

impl SourcesConfig {
    /// Every CEX poll source with its real public URL, interval and the budget derived from the venue's
    /// documented limits; all enabled. Names equal kinds.
    #[must_use]
    pub fn defaults() -> Self {
        use SourceKind as K;
        let entries = [
            ("binance_spot", SourceConfig::poll(K::BinanceSpot, binance::client::BASE_URL, 10, 15_000, "binance", BINANCE_BUDGET)),
            ("okx_spot", SourceConfig::poll(K::OkxSpot, okx::client::BASE_URL, 2, 10_000, "okx", OKX_BUDGET)),
            ("bybit_spot", SourceConfig::poll(K::BybitSpot, bybit::client::BASE_URL, 5, 10_000, "bybit", BYBIT_BUDGET)),
            ("coinbase_products", SourceConfig::poll(K::CoinbaseProducts, coinbase::client::BASE_URL, 5, 10_000, "coinbase", COINBASE_BUDGET)),
            ("kraken_pairs", SourceConfig::poll(K::KrakenPairs, kraken::client::BASE_URL, 10, 10_000, "kraken", KRAKEN_BUDGET)),
            ("kucoin_symbols", SourceConfig::poll(K::KucoinSymbols, kucoin::client::BASE_URL, 5, 10_000, "kucoin", KUCOIN_BUDGET)),
            ("gate_pairs", SourceConfig::poll(K::GatePairs, gate::client::BASE_URL, 5, 10_000, "gate", GATE_BUDGET)),
            ("mexc_spot", SourceConfig::poll(K::MexcSpot, mexc::client::BASE_URL, 10, 15_000, "mexc", MEXC_BUDGET)),
            ("bitget_spot", SourceConfig::poll(K::BitgetSpot, bitget::client::BASE_URL, 5, 10_000, "bitget", BITGET_BUDGET)),
            ("upbit_markets", SourceConfig::poll(K::UpbitMarkets, upbit::client::BASE_URL, 5, 10_000, "upbit", UPBIT_BUDGET)),
            ("htx_spot", SourceConfig::poll(K::HtxSpot, htx::client::BASE_URL, 10, 10_000, "htx", HTX_BUDGET)),
            ("bingx_spot", SourceConfig::poll(K::BingxSpot, bingx::client::BASE_URL, 10, 10_000, "bingx", BINGX_BUDGET)),
            (
                "binance_announcements",
                SourceConfig::poll(K::BinanceAnnouncements, binance::client::CMS_BASE_URL, 3, 10_000, "binance", BINANCE_BUDGET).with_lookback(10),
            ),
            ("okx_announcements", SourceConfig::poll(K::OkxAnnouncements, okx::client::BASE_URL, 5, 10_000, "okx", OKX_BUDGET).with_lookback(10)),
            ("bybit_announcements", SourceConfig::poll(K::BybitAnnouncements, bybit::client::BASE_URL, 5, 10_000, "bybit", BYBIT_BUDGET).with_lookback(10)),
            (
                "kucoin_announcements",
                SourceConfig::poll(K::KucoinAnnouncements, kucoin::client::BASE_URL, 10, 10_000, "kucoin", KUCOIN_BUDGET).with_lookback(10),
            ),
            (
                "bitget_announcements",
                SourceConfig::poll(K::BitgetAnnouncements, bitget::client::BASE_URL, 5, 10_000, "bitget", BITGET_BUDGET).with_lookback(10),
            ),
            // Delisting notices: hourly news, polled every minute; the first poll reports the last 7 days'.
            (
                "binance_delistings",
                SourceConfig::poll(K::BinanceDelistings, binance::client::CMS_BASE_URL, 60, 10_000, "binance", BINANCE_BUDGET).with_lookback(DELISTINGS_LOOKBACK_MIN),
            ),
            ("okx_delistings", SourceConfig::poll(K::OkxDelistings, okx::client::BASE_URL, 60, 10_000, "okx", OKX_BUDGET).with_lookback(DELISTINGS_LOOKBACK_MIN)),
            ("bybit_delistings", SourceConfig::poll(K::BybitDelistings, bybit::client::BASE_URL, 60, 10_000, "bybit", BYBIT_BUDGET).with_lookback(DELISTINGS_LOOKBACK_MIN)),
            (
                "kucoin_delistings",
                SourceConfig::poll(K::KucoinDelistings, kucoin::client::BASE_URL, 60, 10_000, "kucoin", KUCOIN_BUDGET).with_lookback(DELISTINGS_LOOKBACK_MIN),
            ),
        ];
        Self(entries.into_iter().map(|(n, c)| (n.to_string(), c)).collect())
    }

    /// The entry called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&SourceConfig> {
        self.0.get(name)
    }

    /// Mutable access to the entry called `name` (tests point `base_url` at a mock).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut SourceConfig> {
        self.0.get_mut(name)
    }

    /// Enabled entries, in name order.
    pub fn enabled(&self) -> impl Iterator<Item = (&str, &SourceConfig)> {
        self.0.iter().filter(|(_, c)| c.enabled).map(|(n, c)| (n.as_str(), c))
    }

    /// Keeps only the named entries (e.g. to run a subset).
    #[must_use]
    pub fn only(&self, names: &[&str]) -> Self {
        Self(self.0.iter().filter(|(n, _)| names.contains(&n.as_str())).map(|(n, c)| (n.clone(), c.clone())).collect())
    }

    /// The REST base URL of each venue, from its enabled instrument-list entries (the first by name): where
    /// other lookups on that venue's public API (the enricher's tickers) go, so a mock or simulator set here
    /// serves them too.
    #[must_use]
    pub fn venue_base_urls(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (_, c) in self.enabled() {
            if let Some(PollKind::Instruments(desc)) = c.kind.poll_kind() {
                out.entry(desc.venue.to_string()).or_insert_with(|| c.base_url.clone());
            }
        }
        out
    }

    /// One budget per provider, from the enabled entries, for [`BudgetRegistry::new`].
    ///
    /// # Errors
    /// [`BuildError::BudgetConflict`] when two sources of one provider disagree; [`BuildError::Field`] for an
    /// empty provider or an unusable rate/burst.
    pub fn budget_configs(&self) -> Result<BTreeMap<String, BudgetConfig>, BuildError> {
        let mut out: BTreeMap<String, (String, BudgetConfig)> = BTreeMap::new();
        for (name, c) in self.enabled() {
            if c.provider.trim().is_empty() {
                return Err(field(name, "provider", "must not be empty"));
            }
            let budget = c.budget();
            budget.validate().map_err(|e| field(name, "rate_per_sec/burst", e.to_string()))?;
            match out.get(&c.provider) {
                Some((first, b)) if *b != budget => {
                    return Err(BuildError::BudgetConflict { provider: c.provider.clone(), first: first.clone(), second: name.to_string() });
                }
                Some(_) => {}
                None => {
                    out.insert(c.provider.clone(), (name.to_string(), budget));
                }
            }
        }
        Ok(out.into_iter().map(|(p, (_, b))| (p, b)).collect())
    }

    /// Checks that every enabled entry's kind is implemented here or listed in `extra_kinds` (the kinds other
    /// builders, e.g. push feeds, claim).
    ///
    /// # Errors
    /// [`BuildError::UnknownKind`] naming the first unclaimed source.
    pub fn ensure_kinds_known(&self, extra_kinds: &[&str]) -> Result<(), BuildError> {
        for (name, c) in self.enabled() {
            if let SourceKind::Other(k) = &c.kind
                && !extra_kinds.contains(&k.as_str())
            {
                return Err(BuildError::UnknownKind { source_name: name.to_string(), kind: k.clone() });
            }
        }
        Ok(())
    }
}

/// Builds every enabled CEX poll source of `cfg`; raws carry an empty `run_id`. Prefer
/// [`build_sources_for_run`] in services, which stamps the run. Entries of [`SourceKind::Other`] are left to
/// their own builders.
///
/// # Errors
/// As [`build_sources_for_run`].
pub fn build_sources(cfg: &SourcesConfig, budgets: &BudgetRegistry, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Arc<dyn Source>>, BuildError> {
    build_sources_for_run(cfg, budgets, env, "")
}

/// Builds every enabled CEX poll source of `cfg`, sharing `budgets` by provider, reading `api_key_env`
/// variables through `env`, and stamping raw payloads with `run_id`.
///
/// # Errors
/// [`BuildError`] naming the source and field: a base URL that is not absolute http(s), a zero interval or
/// timeout, a `ws_url`/`lookback_minutes`/`api_key_env` the kind does not use, an unset key variable, or
/// conflicting budgets within a provider.
pub fn build_sources_for_run(
    cfg: &SourcesConfig,
    budgets: &BudgetRegistry,
    env: &dyn Fn(&str) -> Option<String>,
    run_id: &str,
) -> Result<Vec<Arc<dyn Source>>, BuildError> {
    cfg.budget_configs()?;
    let mut out: Vec<Arc<dyn Source>> = Vec::new();
    for (name, c) in cfg.enabled() {
        let Some(kind) = c.kind.poll_kind() else { continue };
        let http = http_source(name, c, kind.endpoint(), budgets, env)?;
        let interval = Duration::from_secs(c.interval_secs);
        match kind {
            PollKind::Instruments(desc) => {
                if c.lookback_minutes.is_some() {
                    return Err(field(name, "lookback_minutes", "only announcement kinds use it"));
                }
                let mut src = InstrumentListSource::new(name, interval, http, desc, run_id).with_policy(list_policy(name, c)?);
                match (c.kind.currency_lookup(), c.max_currency_lookups) {
                    (Some(cur), max) => src = src.with_currency_lookup(cur, max.unwrap_or(DEFAULT_MAX_CURRENCY_LOOKUPS)),
                    (None, Some(_)) => return Err(field(name, "max_currency_lookups", "only kucoin_symbols and gate_pairs link listings to contracts")),
                    (None, None) => {}
                }
                out.push(Arc::new(src));
            }
            PollKind::Announcements(desc) => {
                if c.max_currency_lookups.is_some() {
                    return Err(field(name, "max_currency_lookups", "only kucoin_symbols and gate_pairs link listings to contracts"));
                }
                if c.delist_after_polls.is_some() || c.max_shrink_fraction.is_some() || c.max_new_assets.is_some() {
                    return Err(field(name, "delist_after_polls/max_shrink_fraction/max_new_assets", "only instrument-list kinds use them"));
                }
                let mut policy = AnnouncementPolicy::default();
                if let Some(m) = c.lookback_minutes {
                    let minutes = i64::try_from(m).map_err(|_| field(name, "lookback_minutes", "too large"))?;
                    policy.baseline_lookback = chrono::Duration::try_minutes(minutes).ok_or_else(|| field(name, "lookback_minutes", "too large"))?;
                }
                out.push(Arc::new(AnnouncementSource::new(name, interval, http, desc, policy, run_id)));
            }
        }
    }
    Ok(out)
}

/// The delisting and outage policy of an instrument-list entry.
fn list_policy(name: &str, c: &SourceConfig) -> Result<ListPolicy, BuildError> {
    let mut p = ListPolicy::default();
    if let Some(n) = c.delist_after_polls {
        if n == 0 {
            return Err(field(name, "delist_after_polls", "must be at least 1"));
        }
        p.diff.delist_after = n;
    }
    if let Some(f) = c.max_shrink_fraction {
        if !(f > 0.0 && f <= 1.0) {
            return Err(field(name, "max_shrink_fraction", format!("{f} is not in (0, 1]")));
        }
        p.max_shrink_fraction = f;
    }
    if let Some(n) = c.max_new_assets {
        if n == 0 {
            return Err(field(name, "max_new_assets", "must be at least 1"));
        }
        p.max_new_assets = n;
    }
    Ok(p)
}

fn http_source(
    name: &str,
    c: &SourceConfig,
    endpoint: &Endpoint,
    budgets: &BudgetRegistry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HttpSource, BuildError> {
    if c.interval_secs == 0 {
        return Err(field(name, "interval_secs", "must be at least 1"));
    }
    if c.timeout_ms == 0 {
        return Err(field(name, "timeout_ms", "must be at least 1"));
    }
    if c.ws_url.is_some() {
        return Err(field(name, "ws_url", format!("kind `{}` polls over HTTP and takes no ws_url", c.kind.as_str())));
    }
    let mut http = HttpConfig::new(c.base_url.clone());
    http.timeout_ms = c.timeout_ms;
    if let Some(max) = c.max_body_bytes {
        if max == 0 {
            return Err(field(name, "max_body_bytes", "must be at least 1 (every response would be refused)"));
        }
        http.max_body_bytes = max;
    }
    http.headers = endpoint.headers.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    if let Some(var) = &c.api_key_env {
        let Some(header) = endpoint.api_key_header else {
            return Err(field(name, "api_key_env", format!("kind `{}` takes no API key", c.kind.as_str())));
        };
        http.secrets.push(SecretParam { name: header.to_string(), location: SecretLocation::Header, value_env: var.clone() });
    }
    HttpSource::with_env(name, http, budgets.get(&c.provider), env).map_err(|e| match e {
        crate::kit::BuildError::BaseUrl(u) => field(name, "base_url", format!("`{u}` is not an absolute http(s) URL")),
        crate::kit::BuildError::MissingSecret { env, .. } => field(name, "api_key_env", format!("environment variable `{env}` is unset or empty")),
        other => field(name, "http client", other.to_string()),
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
