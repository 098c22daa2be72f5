//! [`GeckoTerminalSource`]: polls `/networks/{network}/new_pools?page=N&include=base_token,quote_token,dex`
//! for each configured network and reports every pool once.
//!
//! First run: **no baseline.** Unlike a CEX instrument list, every pool on `new_pools` is genuinely
//! recent (≤ 48 h old), so the first poll reports what it sees instead of swallowing it as "existing".
//! A bounded per-network set of seen pool ids in the durable state makes sure nothing is reported twice,
//! across polls and restarts.
//!
//! Paging stops at `max_pages`, at an empty page, or at a page whose pools are all known. A 429 stops the
//! whole poll at once (the provider budget is penalised by `Retry-After`, so the next call waits; no storm).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::kit::{FetchError, Fetched, HttpConfig, HttpSource, RecordedResponses, SecretLocation, SecretParam, recorded};
use async_trait::async_trait;
use nl_domain::{ChangeKind, RawEvent, Ts};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::debug;

use super::parse::{chain_for_network, parse_pools};
use crate::dex::client_util::{BoundedSeen, keep_error_response, keep_retried, non_quote_view, poll_error, raw_from};
use crate::dex::config::{DexBuildError, GeckoTerminalConfig, per_minute_budget};
use crate::dex::evm::QuoteSet;
use crate::dex::pool::ObservationContext;
use crate::source::{CarriedState, PollError, PollOutcome, Source};

/// Durable state: seen pools (`{chain}:{pool address}`) per chain slug.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeckoTerminalState {
    #[serde(default)]
    pub seen: BTreeMap<String, BoundedSeen>,
}

/// The GeckoTerminal `new_pools` source.
pub struct GeckoTerminalSource {
    name: String,
    http: HttpSource,
    networks: Vec<String>,
    max_pages: u32,
    interval: Duration,
    seen_cap: usize,
    lookback: chrono::Duration,
    quotes: QuoteSet,
    run_id: String,
    keyed: bool,
}

impl std::fmt::Debug for GeckoTerminalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeckoTerminalSource").field("name", &self.name).field("networks", &self.networks).field("keyed", &self.keyed).finish_non_exhaustive()
    }
}

impl GeckoTerminalSource {
    /// Builds the source. With `api_key_env` set and non-empty in `env`, the keyed root, key header and
    /// keyed budget are used; otherwise keyless.
    ///
    /// # Errors
    /// [`DexBuildError`] for a bad URL, budget or page count.
    pub fn from_config(cfg: &GeckoTerminalConfig, run_id: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, DexBuildError> {
        let name = cfg.name.clone();
        if cfg.max_pages == 0 || cfg.max_pages > 10 {
            return Err(DexBuildError::Invalid { source_name: name, reason: "max_pages must be 1..=10 (pages beyond 10 are paid)".into() });
        }
        let key_env = cfg.api_key_env.as_deref().filter(|k| env(k).is_some_and(|v| !v.is_empty()));
        let (base, per_min) = match key_env {
            Some(_) => (cfg.keyed_base_url.clone(), cfg.keyed_calls_per_min),
            None => (cfg.base_url.clone(), cfg.calls_per_min),
        };
        let mut http_cfg = HttpConfig::new(base);
        http_cfg.timeout_ms = cfg.timeout_ms;
        http_cfg.max_body_bytes =
            crate::kit::check_max_body_bytes(cfg.max_body_bytes).map_err(|reason| DexBuildError::Invalid { source_name: name.clone(), reason })?;
        http_cfg.headers.insert("Accept".into(), "application/json".into());
        if let Some(k) = key_env {
            http_cfg.secrets.push(SecretParam { name: cfg.api_key_header.clone(), location: SecretLocation::Header, value_env: k.to_string() });
        }
        let budget = per_minute_budget(per_min).map_err(|error| DexBuildError::Budget { source_name: name.clone(), error })?;
        let http = HttpSource::with_env(name.clone(), http_cfg, budget, env).map_err(|error| DexBuildError::Http { source_name: name.clone(), error })?;
        Ok(Self {
            name,
            http,
            networks: cfg.networks.clone(),
            max_pages: cfg.max_pages,
            interval: Duration::from_millis(cfg.interval_ms),
            seen_cap: cfg.seen_per_network,
            lookback: crate::dex::client_util::lookback(cfg.lookback_minutes),
            quotes: QuoteSet::defaults(),
            run_id: run_id.to_string(),
            keyed: key_env.is_some(),
        })
    }

    /// The HTTP client (budget and stats, for metrics and tests).
    #[must_use]
    pub fn http(&self) -> &HttpSource {
        &self.http
    }

    /// Whether an API key is in use.
    #[must_use]
    pub fn keyed(&self) -> bool {
        self.keyed
    }

    fn path(network: &str, page: u32) -> String {
        format!("/networks/{network}/new_pools?page={page}&include=base_token,quote_token,dex")
    }

    /// Polls one network; returns false when the poll must stop (rate limited).
    async fn poll_network(&self, network: &str, seen: &mut BoundedSeen, out: &mut PollOutcome) -> bool {
        for page in 1..=self.max_pages {
            let fetched = match self.http.get(&Self::path(network, page), 1).await {
                Ok(f) => {
                    keep_retried(&mut out.raws, &f.retried, &self.name, &self.run_id, "");
                    f
                }
                Err(e) => {
                    keep_error_response(&mut out.raws, &e, &self.name, &self.run_id, "");
                    out.errors.push(poll_error(&self.name, &e));
                    return !matches!(e, FetchError::RateLimited { .. });
                }
            };
            let more = self.process_page(network, &fetched, seen, out);
            debug!(source = %self.name, network, page, more, "GeckoTerminal page.");
            if !more {
                break;
            }
        }
        true
    }

    /// What a poll made of the recorded page `raw`, with `st` the state before it (updated in place), and
    /// whether the page could be replayed (else the outcome is empty and `st` unchanged). `None` when the
    /// endpoint names no network.
    fn rederive_page(&self, st: &mut GeckoTerminalState, raw: &RawEvent) -> Option<(PollOutcome, bool)> {
        let mut out = PollOutcome::default();
        // The base URL may carry a path prefix (`/api/v2`): the network follows `/networks/`.
        let network = recorded::endpoint_path(&raw.endpoint).split_once("/networks/").and_then(|(_, r)| r.split('/').next())?;
        let Ok(f) = recorded::replay(raw) else { return Some((out, false)) };
        self.process_page(network, &f, st.seen.entry(chain_for_network(network)).or_default(), &mut out);
        Some((out, true))
    }

    /// Reports the unseen pools of one fetched page; returns whether the next page is worth fetching (the
    /// page parsed and had unseen pools). The clock is the response's receive time. A page met while the
    /// network knows no pool yet is its first poll: only pools created within the lookback are new, the
    /// rest (and their tokens: a later pool of such a token is not new either) are recorded as known, and
    /// no further page is read.
    fn process_page(&self, network: &str, fetched: &Fetched, seen: &mut BoundedSeen, out: &mut PollOutcome) -> bool {
        let now = fetched.observed_at;
        let first_poll = seen.is_empty();
        let mut raw = raw_from(fetched, &self.name, &self.run_id, "");
        let page_doc = match parse_pools(&fetched.body) {
            Ok(p) => p,
            Err(e) => {
                raw.parse_error = Some(e.to_string());
                out.raws.push(raw);
                out.errors.push(PollError::Parse { source_name: self.name.clone(), message: e.to_string() });
                return false;
            }
        };
        if !page_doc.errors.is_empty() {
            let msg = page_doc.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            raw.parse_error = Some(msg.clone());
            out.errors.push(PollError::Parse { source_name: self.name.clone(), message: msg });
        }
        let ctx = ObservationContext { source: self.name.clone(), first_observed_at: now, emitted_at: now, raw_event_id: Some(raw.raw_id.clone()) };
        out.raws.push(raw);
        let mut fresh = 0usize;
        for pool in &page_doc.pools {
            let key = format!("{}:{}", pool.chain, pool.pool_address);
            if !seen.insert(key, self.seen_cap) {
                continue;
            }
            fresh += 1;
            let Some(view) = non_quote_view(pool, &self.quotes) else { continue };
            // A token met in an old pool on the first poll is known: its later pools are not new listings.
            let token_key = format!("token:{}:{}", view.chain, view.base_token.address);
            if first_poll && !crate::dex::client_util::new_on_first_poll(pool.created_at, now, self.lookback) {
                seen.insert(token_key, self.seen_cap);
                continue;
            }
            if !first_poll && seen.contains(&token_key) {
                continue;
            }
            match view.to_observation(&ctx, ChangeKind::New) {
                Ok(mut obs) => {
                    if let (Some(d), Ok(snap)) = (obs.details.as_object_mut(), view.to_snapshot(&self.name, now, ctx.raw_event_id.clone())) {
                        d.insert("network".into(), json!(network));
                        d.insert("snapshot".into(), serde_json::to_value(&snap).unwrap_or_default());
                        d.insert("base_decimals".into(), json!(view.base_token.decimals));
                    }
                    out.observations.push(obs);
                }
                Err(e) => out.errors.push(PollError::Parse { source_name: self.name.clone(), message: format!("pool {}: {e}", pool.pool_address) }),
            }
        }
        !first_poll && !page_doc.pools.is_empty() && fresh > 0
    }
}

#[async_trait]
impl Source for GeckoTerminalSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.http.budget().as_ref())
    }

    async fn poll(&self, state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let mut st: GeckoTerminalState = state.and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
        let mut out = PollOutcome::default();
        for network in &self.networks {
            let seen = st.seen.entry(chain_for_network(network)).or_default();
            if !self.poll_network(network, seen, &mut out).await {
                break;
            }
        }
        out.next_state = serde_json::to_value(&st).ok();
        out
    }

    fn rederive(&self, state: Option<&serde_json::Value>, raw: &RawEvent, _answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        let mut st: GeckoTerminalState = state.and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
        let (mut out, replayed) = self.rederive_page(&mut st, raw)?;
        if replayed {
            out.next_state = serde_json::to_value(&st).ok();
        }
        Some(out)
    }

    /// Keeps the seen-sets typed between pages, instead of taking up to `seen_cap` keys per network from
    /// JSON and back to JSON for every page.
    fn rederive_carried(&self, carried: &mut CarriedState, raw: &RawEvent, _answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        self.rederive_page(carried.get_or_insert_with(GeckoTerminalState::default), raw).map(|(out, _)| out)
    }
}
