//! The contract between the collector runtime and one source.
//!
//! A poll source fetches once, keeps every payload as a [`RawEvent`] (parse failures included, with their
//! error), parses, diffs against the state its previous poll returned and hands back observations plus
//! the next state. The runtime publishes raws and observations (durably) and only then saves the state, so
//! a crash in between re-polls and re-emits the same deterministic event ids, which every consumer dedupes.

use std::time::Duration;

use async_trait::async_trait;
use nl_domain::{ListingObservation, RawEvent, Ts};

use crate::kit::RecordedResponses;

/// Why a poll did not fully succeed. The runtime counts it by kind and keeps going.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The venue could not be reached or answered with an error status.
    #[error("{source_name}: fetch failed: {message}")]
    Fetch {
        source_name: String,
        message: String,
        /// A 5xx, timeout or transport failure: trying again soon may succeed.
        transient: bool,
    },
    /// The venue asked us to slow down (429/418); the next poll waits at least this long.
    #[error("{source_name}: rate limited, retry after {retry_after:?}")]
    RateLimited { source_name: String, retry_after: Duration },
    /// The payload did not parse; it is kept in raw_events with this error.
    #[error("{source_name}: parse failed: {message}")]
    Parse { source_name: String, message: String },
    /// The payload parsed but is not a plausible snapshot (empty first list, a list that shrank past the
    /// configured fraction): an outage. It is kept raw and does not move the baseline.
    #[error("{source_name}: implausible snapshot (outage?): {message}")]
    Implausible { source_name: String, message: String },
}

impl PollError {
    /// A short label for metrics (`errors_total{stage}`).
    #[must_use]
    pub fn stage(&self) -> &'static str {
        match self {
            Self::Fetch { .. } => "fetch",
            Self::RateLimited { .. } => "rate_limited",
            Self::Parse { .. } => "parse",
            Self::Implausible { .. } => "implausible",
        }
    }
}

/// What one poll produced.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// Every payload fetched during the poll, verbatim.
    pub raws: Vec<RawEvent>,
    /// New, updated or retracted listings.
    pub observations: Vec<ListingObservation>,
    /// The state to hand to the next poll; `None` keeps the previous state (e.g. after a failed fetch).
    pub next_state: Option<serde_json::Value>,
    /// Failures of this poll; the runtime counts them and logs them by source.
    pub errors: Vec<PollError>,
    /// Delistings seen by this poll (a delisting title, an instrument gone for N polls); published as
    /// `asset.delisted`, never as listings.
    pub delistings: Vec<nl_domain::AssetDelisted>,
}

/// One pollable source (a venue endpoint, a chain's factory logs, ...).
#[async_trait]
pub trait Source: Send + Sync {
    /// The config name, e.g. `okx_instruments`. Also the lease key and the state key.
    fn name(&self) -> &str;

    /// Time between polls.
    fn interval(&self) -> Duration;

    /// Polls once. `state` is the `next_state` of the last poll whose outputs were published.
    async fn poll(&self, state: Option<&serde_json::Value>, now: Ts) -> PollOutcome;

    /// Re-derives, without I/O, what a poll made of one of its recorded responses (`raw`, as kept in
    /// raw_events): the observations and the next state, exactly as if the fetch had just returned it. A
    /// poll's clock is its responses' receive times, so the result does not depend on when this runs.
    /// Lookups the poll made after that response are answered from `answers` (the same run's captures of
    /// this source that [`lookup_path`](Self::lookup_path) names), in the order the poll made them.
    /// `None` when the source cannot re-derive from raw events (the default; e.g. RPC log sources).
    fn rederive(&self, _state: Option<&serde_json::Value>, _raw: &RawEvent, _answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        None
    }

    /// [`rederive`](Self::rederive) over a whole run: the state goes from one response to the next in
    /// `carried`, which the source may keep in its own type (see [`CarriedState`]), so a large state (a
    /// seen-set) is not turned into JSON and back for every response. The outcome's `next_state` is left
    /// `None`: the state is in `carried`. The default carries the JSON state of [`rederive`](Self::rederive).
    fn rederive_carried(&self, carried: &mut CarriedState, raw: &RawEvent, answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        let mut out = self.rederive(carried.get::<serde_json::Value>(), raw, answers)?;
        if let Some(next) = out.next_state.take() {
            carried.set(next);
        }
        Some(out)
    }

    /// For an instrument-list source: the venue whose known assets its state records (see
    /// [`crate::cex::poll::state_knows_asset`]); the collector drops listings of those assets from other
    /// sources (an announcement naming a coin the venue already listed at baseline is not new).
    fn known_assets_venue(&self) -> Option<&str> {
        None
    }

    /// The source's own rate budget, if it has one (shared by every source of its provider). The three
    /// budget methods below derive from it.
    fn budget(&self) -> Option<&crate::kit::Budget> {
        None
    }

    /// How long the source's rate budget is paused (a 429/418 on any source of its provider), if it is.
    fn budget_paused_for(&self) -> Option<Duration> {
        self.budget().and_then(|b| b.status().paused_for)
    }

    /// Pauses the source's rate budget for `d` (a ban remembered from an earlier process); a no-op for a
    /// source without a budget of its own.
    fn pause_budget_for(&self, d: Duration) {
        if let Some(b) = self.budget() {
            b.penalize_for(d);
        }
    }

    /// Changes each time the source's rate budget is paused or its pause extended (see
    /// [`crate::kit::Budget::pauses`]); `None` for a source without a budget of its own.
    fn budget_pauses(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.budget().map(crate::kit::Budget::pauses)
    }

    /// When `raw` is the capture of a lookup a poll makes besides its main fetch (e.g. a CEX currency
    /// endpoint), the request path it answers: re-derivation does not re-derive it on its own but hands it
    /// to [`rederive`](Self::rederive) through `answers` under this path. `None` (the default) otherwise.
    fn lookup_path(&self, _raw: &RawEvent) -> Option<String> {
        None
    }
}

/// A source's state between the responses of a re-derivation ([`Source::rederive_carried`]), in whatever
/// type the source keeps it; empty before the first response.
#[derive(Default)]
pub struct CarriedState(Option<Box<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for CarriedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CarriedState").field(&self.0.is_some()).finish()
    }
}

impl CarriedState {
    /// Whether a response was re-derived into it yet.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The state, when it is a `T`.
    #[must_use]
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        self.0.as_ref().and_then(|b| b.downcast_ref::<T>())
    }

    /// Replaces the state.
    pub fn set<T: std::any::Any + Send + Sync>(&mut self, state: T) {
        self.0 = Some(Box::new(state));
    }

    /// The state as a `T`, made with `init` when empty (or held as another type).
    pub fn get_or_insert_with<T: std::any::Any + Send + Sync>(&mut self, init: impl FnOnce() -> T) -> &mut T {
        if self.get::<T>().is_none() {
            self.set(init());
        }
        match self.0.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(t) => t,
            None => unreachable!("the state was just set to a T"),
        }
    }
}

/// The re-derivation of a source whose outcome follows from one response: replays the capture `raw` (an
/// unreadable capture gives an empty outcome) and runs `process` on it, as the live poll does on a fetch.
pub(crate) fn replay_response(raw: &RawEvent, process: impl FnOnce(&crate::kit::Fetched, &mut PollOutcome)) -> Option<PollOutcome> {
    let mut out = PollOutcome::default();
    if let Ok(f) = crate::kit::recorded::replay(raw) {
        process(&f, &mut out);
    }
    Some(out)
}
