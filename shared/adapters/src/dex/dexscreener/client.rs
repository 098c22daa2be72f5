//! DexScreener over HTTP: [`ProfilesSource`] polls `token-profiles/latest/v1` or `token-boosts/latest/v1`
//! (secondary discovery: only tokens that paid for a profile or boost show up), and
//! [`DexScreenerClient::fetch_pairs_for_tokens`] looks up pairs by token for the enricher, ≤ 30 per call.
//!
//! Like `new_pools`, the "latest" lists hold only recent items, so the first poll reports them (no
//! baseline); a bounded seen set in the durable state prevents repeats across polls and restarts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nl_domain::{ChangeKind, RawEvent, Ts};
use crate::kit::{Budget, FetchError, Fetched, HttpConfig, HttpSource, RecordedResponses, recorded};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::naming;
use super::parse::{parse_pairs, parse_token_boosts, parse_token_profiles, token_batches, tokens_v1_path};
use crate::source::{PollError, PollOutcome, Source};
use crate::dex::client_util::{BoundedSeen, keep_error_response, keep_final_response, keep_retried, poll_error, raw_from};
use crate::dex::config::{DexBuildError, DexScreenerConfig, per_minute_budget};
use crate::dex::pool::{DexPool, ObservationContext};

/// Which "latest" list a [`ProfilesSource`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfilesVariant {
    /// `token-profiles/latest/v1`, source `dexscreener_profiles`.
    Profiles,
    /// `token-boosts/latest/v1`, source `dexscreener_boosts`.
    Boosts,
}

impl ProfilesVariant {
    fn path(self) -> &'static str {
        match self {
            Self::Profiles => "/token-profiles/latest/v1",
            Self::Boosts => "/token-boosts/latest/v1",
        }
    }

    /// The source name.
    #[must_use]
    pub fn source_name(self) -> &'static str {
        match self {
            Self::Profiles => "dexscreener_profiles",
            Self::Boosts => "dexscreener_boosts",
        }
    }
}

/// Durable state: seen `chain:token` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilesState {
    #[serde(default)]
    pub seen: BoundedSeen,
}

fn http_source(name: &str, cfg: &DexScreenerConfig, budget: Arc<Budget>) -> Result<HttpSource, DexBuildError> {
    let mut http_cfg = HttpConfig::new(cfg.base_url.clone());
    http_cfg.timeout_ms = cfg.timeout_ms;
    http_cfg.max_body_bytes =
        crate::kit::check_max_body_bytes(cfg.max_body_bytes).map_err(|reason| DexBuildError::Invalid { source_name: name.to_string(), reason })?;
    HttpSource::new(name, http_cfg, budget).map_err(|error| DexBuildError::Http { source_name: name.to_string(), error })
}

/// Polls a DexScreener "latest" list.
#[derive(Debug)]
pub struct ProfilesSource {
    variant: ProfilesVariant,
    http: HttpSource,
    interval: Duration,
    seen_cap: usize,
    lookback: chrono::Duration,
    run_id: String,
    /// Names new address-only tokens (`/tokens/v1`) before they are published.
    lookup: DexScreenerClient,
}

impl ProfilesSource {
    /// Builds the source on a (shared) profiles budget.
    ///
    /// # Errors
    /// [`DexBuildError::Http`] for a bad base URL.
    pub fn from_config(cfg: &DexScreenerConfig, variant: ProfilesVariant, budget: Arc<Budget>, run_id: &str) -> Result<Self, DexBuildError> {
        Ok(Self {
            variant,
            http: http_source(variant.source_name(), cfg, budget)?,
            interval: Duration::from_millis(cfg.interval_ms),
            seen_cap: cfg.seen_cap,
            lookback: crate::dex::client_util::lookback(cfg.lookback_minutes),
            run_id: run_id.to_string(),
            lookup: DexScreenerClient::for_source(cfg, run_id, variant.source_name())?,
        })
    }
}

#[async_trait]
impl Source for ProfilesSource {
    fn name(&self) -> &str {
        self.variant.source_name()
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.http.budget().as_ref())
    }

    async fn poll(&self, state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let mut out = PollOutcome::default();
        match self.http.get(self.variant.path(), 1).await {
            Ok(fetched) => {
                keep_retried(&mut out.raws, &fetched.retried, self.variant.source_name(), &self.run_id, "");
                self.process(&fetched, state, &mut out);
                for (chain, addrs) in naming::unnamed(&out.observations) {
                    let found = self.lookup.fetch_pairs_for_tokens(&chain, &addrs).await;
                    self.name_from(&chain, found, &mut out);
                }
            }
            Err(e) => {
                keep_error_response(&mut out.raws, &e, self.variant.source_name(), &self.run_id, "");
                out.errors.push(poll_error(self.variant.source_name(), &e));
            }
        }
        out
    }

    fn rederive(&self, state: Option<&serde_json::Value>, raw: &RawEvent, answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        crate::source::replay_response(raw, |f, out| {
            self.process(f, state, out);
            for (chain, addrs) in naming::unnamed(&out.observations) {
                let found = self.lookup.replay_pairs_for_tokens(&chain, &addrs, answers);
                self.name_from(&chain, found, out);
            }
        })
    }

    fn lookup_path(&self, raw: &RawEvent) -> Option<String> {
        self.lookup.lookup_path(raw)
    }
}

impl ProfilesSource {
    /// Names the unnamed new observations in `out` from one chain's token lookup, keeping its raws; a
    /// failed lookup is a poll error and leaves them marked `metadata_missing`.
    fn name_from(&self, chain: &str, found: TokenPairs, out: &mut PollOutcome) {
        let name = self.variant.source_name();
        out.raws.extend(found.raws);
        for e in found.errors {
            out.errors.push(match e {
                DexScreenerFetchError::Fetch(f) => poll_error(name, &f),
                DexScreenerFetchError::Parse(message) => PollError::Parse { source_name: name.to_string(), message },
            });
        }
        naming::apply_names(&mut out.observations, chain, &found.pools);
    }
}

impl ProfilesSource {
    /// Parses a fetched list and reports the unseen tokens. The clock is the response's receive time.
    fn process(&self, fetched: &Fetched, state: Option<&serde_json::Value>, out: &mut PollOutcome) {
        let name = self.variant.source_name();
        let mut st: ProfilesState = state.and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
        // The first poll (nothing known yet) reports only items published within the lookback.
        let first_poll = st.seen.is_empty();
        let mut raw = raw_from(fetched, name, &self.run_id, "");
        let parsed = match self.variant {
            ProfilesVariant::Profiles => parse_token_profiles(&fetched.body).map(|(p, e)| (p.into_iter().map(|p| (p, None)).collect::<Vec<_>>(), e)),
            ProfilesVariant::Boosts => parse_token_boosts(&fetched.body)
                .map(|(b, e)| (b.into_iter().map(|b| (b.profile, Some(json!({"amount": b.amount, "total_amount": b.total_amount})))).collect(), e)),
        };
        let (items, item_errors) = match parsed {
            Ok(x) => x,
            Err(e) => {
                raw.parse_error = Some(e.to_string());
                out.raws.push(raw);
                out.errors.push(PollError::Parse { source_name: name.to_string(), message: e.to_string() });
                return;
            }
        };
        if !item_errors.is_empty() {
            let msg = item_errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            raw.parse_error = Some(msg.clone());
            out.errors.push(PollError::Parse { source_name: name.to_string(), message: msg });
        }
        let at = fetched.observed_at;
        let ctx = ObservationContext { source: name.to_string(), first_observed_at: at, emitted_at: at, raw_event_id: Some(raw.raw_id.clone()) };
        out.raws.push(raw);
        for (profile, boost) in items {
            if !st.seen.insert(format!("{}:{}", profile.chain, profile.token_address), self.seen_cap) {
                continue;
            }
            match profile.to_observation(&ctx, ChangeKind::New) {
                Ok(obs) if first_poll && !crate::dex::client_util::new_on_first_poll(obs.source_published_at, at, self.lookback) => {}
                Ok(mut obs) => {
                    if let (Some(d), Some(b)) = (obs.details.as_object_mut(), boost) {
                        d.insert("boost".into(), b);
                    }
                    out.observations.push(obs);
                }
                Err(e) => out.errors.push(PollError::Parse { source_name: name.to_string(), message: format!("{}: {e}", profile.token_address) }),
            }
        }
        out.next_state = serde_json::to_value(&st).ok();
    }
}

/// What a pair lookup returned: pools, the raw responses to keep, and per-batch errors.
#[derive(Debug, Default)]
pub struct TokenPairs {
    pub pools: Vec<DexPool>,
    pub raws: Vec<RawEvent>,
    pub errors: Vec<DexScreenerFetchError>,
}

/// A failed pair lookup batch.
#[derive(Debug, thiserror::Error)]
pub enum DexScreenerFetchError {
    #[error("dexscreener fetch: {0}")]
    Fetch(#[from] FetchError),
    #[error("dexscreener parse: {0}")]
    Parse(String),
}

/// DexScreener pair lookups (`/tokens/v1/{chainId}/{≤30 addresses}`) for the enricher.
#[derive(Debug)]
pub struct DexScreenerClient {
    http: HttpSource,
    run_id: String,
    /// The `source` of the raws it captures.
    source: String,
}

impl DexScreenerClient {
    /// Source name of the raws this client captures.
    pub const SOURCE: &'static str = "dexscreener_pairs";

    /// Builds the client with its own pairs budget.
    ///
    /// # Errors
    /// [`DexBuildError`] for a bad base URL or budget.
    pub fn from_config(cfg: &DexScreenerConfig, run_id: &str) -> Result<Self, DexBuildError> {
        Self::for_source(cfg, run_id, Self::SOURCE)
    }

    /// Builds the client with its own pairs budget, capturing raws as `source` (a source's own lookups are
    /// its lookup answers at re-derivation, apart from the enricher's).
    ///
    /// # Errors
    /// [`DexBuildError`] for a bad base URL or budget.
    pub fn for_source(cfg: &DexScreenerConfig, run_id: &str, source: &str) -> Result<Self, DexBuildError> {
        let budget = per_minute_budget(cfg.pairs_calls_per_min).map_err(|error| DexBuildError::Budget { source_name: source.into(), error })?;
        Ok(Self { http: http_source(source, cfg, budget)?, run_id: run_id.to_string(), source: source.to_string() })
    }

    /// Pairs of `addrs` on `chain` (our slug), in batches of at most 30 addresses per call. Every response
    /// is returned as a raw event (parse failures carry their error, and a lookup that got no response at all is
    /// kept as a capture of its error); a failed batch does not stop the
    /// others, except a 429, after which the remaining batches are skipped (the budget is paused).
    pub async fn fetch_pairs_for_tokens(&self, chain: &str, addrs: &[String]) -> TokenPairs {
        let mut out = TokenPairs::default();
        for batch in token_batches(addrs) {
            let path = tokens_v1_path(chain, &batch);
            let result = self.http.get(&path, 1).await;
            if let Err(e) = &result
                && e.response().is_none()
            {
                // Kept too, so a re-derivation sees that this lookup failed (not a later one).
                out.raws.push(recorded::failure_capture(&self.source, &self.http.shown_url(&path), chrono::Utc::now(), &e.to_string(), &self.run_id));
            }
            if self.absorb(result, &mut out) {
                break;
            }
        }
        out
    }

    /// [`fetch_pairs_for_tokens`](Self::fetch_pairs_for_tokens) answered by recorded responses (a batch
    /// without one failed): the same batches, in the same order, no request made.
    pub fn replay_pairs_for_tokens(&self, chain: &str, addrs: &[String], answers: &dyn RecordedResponses) -> TokenPairs {
        let mut out = TokenPairs::default();
        for batch in token_batches(addrs) {
            let Some(raw) = answers.take(&self.source, &tokens_v1_path(chain, &batch)) else { continue };
            if self.absorb(recorded::replay(&raw), &mut out) {
                break;
            }
        }
        out
    }

    /// The request path a capture of this client answers (`/tokens/v1/...`), if it is one.
    #[must_use]
    pub fn lookup_path(&self, raw: &RawEvent) -> Option<String> {
        let path = recorded::request_path(&raw.endpoint, &self.http.shown_url(""));
        path.starts_with("/tokens/v1/").then(|| path.to_string())
    }

    /// Adds one batch's response to `out` (the raw kept, pools parsed); true when the remaining batches
    /// must be skipped (a 429: the budget is paused).
    fn absorb(&self, result: Result<Fetched, FetchError>, out: &mut TokenPairs) -> bool {
        match result {
            Ok(f) => {
                let mut raw = raw_from(&f, &self.source, &self.run_id, "");
                match parse_pairs(&f.body) {
                    Ok(page) => {
                        if !page.errors.is_empty() {
                            raw.parse_error = Some(page.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
                        }
                        out.pools.extend(page.pools);
                    }
                    Err(e) => {
                        raw.parse_error = Some(e.to_string());
                        out.errors.push(DexScreenerFetchError::Parse(e.to_string()));
                    }
                }
                out.raws.push(raw);
                false
            }
            Err(e) => {
                keep_final_response(&mut out.raws, &e, &self.source, &self.run_id, "");
                let stop = matches!(e, FetchError::RateLimited { .. });
                out.errors.push(e.into());
                stop
            }
        }
    }
}
