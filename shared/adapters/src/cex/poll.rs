//! The two generic CEX poll sources: [`InstrumentListSource`] (diff a venue's instrument list against the
//! saved [`KnownSet`]) and [`AnnouncementSource`] (report unseen articles of a venue's listing feed). Each
//! is parameterised by a small per-venue descriptor that lives in the venue's `client.rs`: the endpoint,
//! its request weight, fixed headers and the pure parser.
//!
//! Semantics every poll keeps:
//! * every response body becomes a [`RawEvent`] (error statuses too); a body that fails to parse is kept with
//!   its `parse_error`, reported as [`PollError::Parse`], and the state is not advanced;
//! * `304 Not Modified` produces nothing and keeps the state;
//! * 429/418 become [`PollError::RateLimited`] so the runtime waits before the next poll (the shared
//!   provider budget is already paused by the kit's budget, so there is no retry storm);
//! * observations point at the raw they came from (`raw_event_id`);
//! * where the venue has a currency endpoint ([`CurrencyDescriptor`]), the base currency of each `New`
//!   instrument is looked up (same HTTP client and budget, every response kept raw, at most
//!   `max_currency_lookups` per poll) and a contract it names links the observation to `<chain>:<address>`.
//!   A failed lookup leaves the listing as `cex:<venue>:<BASE>` and is reported like any poll error (a
//!   lookup that got no response is kept too, as a failure capture);
//! * the clock of a poll is its response's receive time (first seen, emitted, announcement lookback), so
//!   [`Source::rederive`] gives the same observations from the recorded response. Currency responses are
//!   lookup answers ([`Source::lookup_path`]): re-deriving a list response looks its new bases up in them,
//!   with the live poll's bound and order, through the same linking step.

use std::ops::ControlFlow;
use std::time::Duration;

use async_trait::async_trait;
use nl_domain::{ChangeKind, RawEvent, Ts};
use crate::kit::{FetchError, Fetched, HttpSource, RecordedResponses, recorded};

use super::currency::{CurrencyDescriptor, annotate, contract_links};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::cursor::{AnnouncementPolicy, SeenAnnouncements, select_new_announcements};
use super::diff::{KnownSet, announcement_observations, diff_with, to_observation};
pub use super::list_policy::{DEFAULT_MAX_NEW_ASSETS, DEFAULT_MAX_SHRINK_FRACTION, ListPolicy};
use super::types::{Announcement, AnnouncementAction, Instrument, ParseError};
use crate::source::{PollError, PollOutcome, Source};

/// Parser of an instrument-list response body.
pub type InstrumentParser = fn(&str) -> Result<Vec<Instrument>, ParseError>;
/// Parser of an announcement-list response body.
pub type AnnouncementParser = fn(&str) -> Result<Vec<Announcement>, ParseError>;

/// One public GET endpoint of a venue.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// Path and query appended to the configured `base_url`.
    pub path: &'static str,
    /// Weight charged to the provider budget per request (the venue's documented request weight, else 1).
    pub weight: u32,
    /// Fixed, non-secret request headers (e.g. OKX `Accept-Language`).
    pub headers: &'static [(&'static str, &'static str)],
    /// Header that carries an API key when the source config names `api_key_env`; `None` when the venue's
    /// public endpoint takes no key (configuring one is then an error).
    pub api_key_header: Option<&'static str>,
}

/// What a venue's instrument-list poll needs: venue slug, endpoint and parser.
#[derive(Debug, Clone, Copy)]
pub struct InstrumentListDescriptor {
    pub venue: &'static str,
    pub endpoint: Endpoint,
    pub parse: InstrumentParser,
}

/// What a venue's announcement poll needs: venue slug, endpoint and parser.
#[derive(Debug, Clone, Copy)]
pub struct AnnouncementDescriptor {
    pub venue: &'static str,
    pub endpoint: Endpoint,
    pub parse: AnnouncementParser,
    /// The page-number query parameter of the endpoint path (which asks for page 1), when the feed pages
    /// (`pageNo`, `page`, `currentPage`); `None` for a single-page feed.
    pub page_param: Option<&'static str>,
    /// A feed of delisting notices (Binance catalog 161, OKX `announcements-delistings`, Bybit and KuCoin
    /// `delistings`): an article whose title is a delisting gives `asset.delisted` per coin, any other
    /// article (a monitoring tag, a margin change) gives nothing, never a listing.
    pub delistings: bool,
}

/// Default bound on the pages an announcement feed reads back in one poll.
pub const DEFAULT_ANNOUNCEMENT_MAX_PAGES: u32 = 5;

/// `path` (asking for page 1 with `param=1`) asking for page `n`; `None` when the path has no `param=1`.
#[must_use]
pub fn page_path(path: &str, param: &str, n: u32) -> Option<String> {
    let needle = format!("{param}=1");
    let at = path.match_indices(&needle).find(|(i, _)| {
        let before = path.as_bytes().get(i.wrapping_sub(1)).copied();
        let after = path.as_bytes().get(i + needle.len()).copied();
        matches!(before, Some(b'?' | b'&')) && matches!(after, None | Some(b'&'))
    })?;
    Some(format!("{}{param}={n}{}", &path[..at.0], &path[at.0 + needle.len()..]))
}

/// Saved state of an [`InstrumentListSource`]: every instrument id ever seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstrumentListState {
    pub known: KnownSet,
    /// The set was built from push deltas only, never from a complete list: the next complete list is
    /// still a baseline (see [`crate::cex::diff_unbaselined`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// Saved state of an [`AnnouncementSource`]: the ids already handled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnouncementState {
    pub seen: SeenAnnouncements,
}

/// Result of one fetch: a body to parse, or nothing more to do (304, or a failure already recorded).
enum Fetch {
    Body(Box<Fetched>),
    Done,
}

/// Fetches `path` charging `weight`; failures are recorded in `out` (raw of the error response, poll error).
async fn fetch(http: &HttpSource, name: &str, path: &str, weight: u32, run_id: &str, out: &mut PollOutcome) -> Fetch {
    classify(http.get(path, weight).await, name, run_id, out)
}

/// What a fetch result leaves to do; a failure is recorded in `out` (raw of the error response, poll error).
/// The failed attempts the client retried are kept raw first, each with its error.
fn classify(result: Result<Fetched, FetchError>, name: &str, run_id: &str, out: &mut PollOutcome) -> Fetch {
    let retried = match &result {
        Ok(f) => f.retried.as_slice(),
        Err(e) => e.retried(),
    };
    out.raws.extend(retried.iter().map(|a| a.to_raw_event(name, run_id)));
    match result {
        Ok(f) if f.not_modified => Fetch::Done,
        Ok(f) => Fetch::Body(Box::new(f)),
        Err(e) => {
            if let Some(resp) = e.response() {
                let mut raw = resp.to_raw_event(name, run_id);
                raw.parse_error = Some(e.to_string());
                out.raws.push(raw);
            }
            out.errors.push(crate::dex::client_util::poll_error(name, &e));
            Fetch::Done
        }
    }
}

/// Parses a body, keeping it raw either way. `None` (with the raw marked and a poll error) on failure.
fn parse_kept<T>(f: &Fetched, name: &str, run_id: &str, parse: fn(&str) -> Result<T, ParseError>, out: &mut PollOutcome) -> Option<(T, String)> {
    let mut raw: RawEvent = f.to_raw_event(name, run_id);
    let raw_id = raw.raw_id.clone();
    match parse(&f.body) {
        Ok(v) => {
            out.raws.push(raw);
            Some((v, raw_id))
        }
        Err(e) => {
            let message = e.to_string();
            raw.parse_error = Some(message.clone());
            out.raws.push(raw);
            out.errors.push(PollError::Parse { source_name: name.to_string(), message });
            None
        }
    }
}

/// Reads saved state; an unreadable one is reported (parse error) and treated as absent, so the source
/// re-baselines instead of being stuck forever.
fn load_state<T: for<'de> Deserialize<'de>>(state: Option<&serde_json::Value>, name: &str, out: &mut PollOutcome) -> Option<T> {
    let v = state?;
    match serde_json::from_value(v.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            let message = format!("saved state unreadable ({e}); establishing a new baseline");
            warn!(source = %name, %message, "Source state reset.");
            out.errors.push(PollError::Parse { source_name: name.to_string(), message });
            None
        }
    }
}

fn state_value<T: Serialize>(state: &T, name: &str, out: &mut PollOutcome) -> Option<serde_json::Value> {
    match serde_json::to_value(state) {
        Ok(v) => Some(v),
        Err(e) => {
            out.errors.push(PollError::Parse { source_name: name.to_string(), message: format!("cannot serialize state: {e}") });
            None
        }
    }
}

/// Polls a venue's full instrument list and reports instruments not seen before (`New`) and status,
/// schedule or re-appearance changes (`Updated`). The first successful snapshot is the silent baseline.
pub struct InstrumentListSource {
    name: String,
    interval: Duration,
    http: HttpSource,
    desc: InstrumentListDescriptor,
    run_id: String,
    /// The venue's currency endpoint, if it has one (its captures are lookup answers even when linking is off).
    currency: Option<CurrencyDescriptor>,
    /// The most currency lookups per poll; `0` never links.
    max_lookups: usize,
    policy: ListPolicy,
}

/// The known set in the saved state of an instrument-list source (`None` when unreadable).
#[must_use]
pub fn known_set_of(state: &serde_json::Value) -> Option<KnownSet> {
    InstrumentListState::deserialize(state).ok().map(|s| s.known)
}

impl InstrumentListSource {
    /// A source named `name` polling `desc` through `http` every `interval`; raws carry `run_id`.
    #[must_use]
    pub fn new(name: impl Into<String>, interval: Duration, http: HttpSource, desc: InstrumentListDescriptor, run_id: impl Into<String>) -> Self {
        Self { name: name.into(), interval, http, desc, run_id: run_id.into(), currency: None, max_lookups: 0, policy: ListPolicy::default() }
    }

    /// Uses `policy` for delistings and outages.
    #[must_use]
    pub fn with_policy(mut self, policy: ListPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Looks up the base currency of up to `max_per_poll` new instruments per poll at `currency` to link
    /// them to their contract (`0` disables it).
    #[must_use]
    pub fn with_currency_lookup(mut self, currency: CurrencyDescriptor, max_per_poll: usize) -> Self {
        (self.currency, self.max_lookups) = (Some(currency), max_per_poll);
        self
    }

    /// The currency endpoint when linking is on, and the distinct bases of the `New` observations in `out` to
    /// look up there: first appearance order, at most the per-poll bound (the rest stay unlinked).
    fn bases_to_link(&self, out: &PollOutcome) -> Option<(CurrencyDescriptor, Vec<String>)> {
        let desc = self.currency.filter(|_| self.max_lookups > 0)?;
        let mut bases: Vec<String> = Vec::new();
        for o in out.observations.iter().filter(|o| o.change == ChangeKind::New) {
            if let Some(b) = &o.base
                && !bases.contains(b)
            {
                bases.push(b.clone());
            }
        }
        if bases.len() > self.max_lookups {
            warn!(source = %self.name, new = bases.len(), max = self.max_lookups, "More new currencies than lookups per poll; the rest stay unlinked.");
            bases.truncate(self.max_lookups);
        }
        Some((desc, bases))
    }

    /// Links `New` observations to contracts through the venue's currency endpoint, one request per
    /// distinct base. Stops at the per-poll bound or the first rate limit; the rest stay unlinked.
    async fn link_new(&self, out: &mut PollOutcome) {
        let Some((desc, bases)) = self.bases_to_link(out) else { return };
        for base in bases {
            let path = desc.path(&base);
            let result = self.http.get(&path, desc.weight).await;
            if let Err(e) = &result
                && e.response().is_none()
            {
                // Kept, so a re-derivation sees that this lookup failed rather than answering it with a later one.
                out.raws.push(recorded::failure_capture(&self.name, &self.http.shown_url(&path), chrono::Utc::now(), &e.to_string(), &self.run_id));
            }
            if self.link_answer(&desc, &base, result, out).is_break() {
                break;
            }
        }
    }

    /// [`link_new`](Self::link_new) on recorded currency responses: the same lookups in the same order, each
    /// answered by its capture (none recorded: the lookup failed).
    fn relink_new(&self, answers: &dyn RecordedResponses, out: &mut PollOutcome) {
        let Some((desc, bases)) = self.bases_to_link(out) else { return };
        for base in bases {
            let Some(raw) = answers.take(&self.name, &desc.path(&base)) else { continue };
            if self.link_answer(&desc, &base, recorded::replay(&raw), out).is_break() {
                break;
            }
        }
    }

    /// Annotates the `New` observations of `base` with the contract the currency response `result` names,
    /// keeping the response raw. `Break` after a rate limit: the lookups left stay unlinked.
    fn link_answer(&self, desc: &CurrencyDescriptor, base: &str, result: Result<Fetched, FetchError>, out: &mut PollOutcome) -> ControlFlow<()> {
        let name = self.name.as_str();
        let errors_before = out.errors.len();
        let Fetch::Body(f) = classify(result, name, &self.run_id, out) else {
            if out.errors[errors_before..].iter().any(|e| matches!(e, PollError::RateLimited { .. })) {
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        };
        let Some((info, raw_id)) = parse_kept(&f, name, &self.run_id, desc.parse, out) else { return ControlFlow::Continue(()) };
        let links = contract_links(&info, desc);
        for o in out.observations.iter_mut().filter(|o| o.change == ChangeKind::New && o.base.as_deref() == Some(base)) {
            annotate(&mut o.details, &links, &raw_id);
        }
        ControlFlow::Continue(())
    }

    /// The venue descriptor.
    #[must_use]
    pub fn descriptor(&self) -> &InstrumentListDescriptor {
        &self.desc
    }

    /// The HTTP client (stats, budget).
    #[must_use]
    pub fn http(&self) -> &HttpSource {
        &self.http
    }
}

#[async_trait]
impl Source for InstrumentListSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    async fn poll(&self, state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let mut out = PollOutcome::default();
        if let Fetch::Body(f) = fetch(&self.http, &self.name, self.desc.endpoint.path, self.desc.endpoint.weight, &self.run_id, &mut out).await {
            self.process(&f, state, &mut out);
            self.link_new(&mut out).await;
            super::currency::remember_links(&mut out);
        }
        out
    }

    fn rederive(&self, state: Option<&serde_json::Value>, raw: &RawEvent, answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        crate::source::replay_response(raw, |f, out| {
            self.process(f, state, out);
            self.relink_new(answers, out);
            super::currency::remember_links(out);
        })
    }

    fn known_assets_venue(&self) -> Option<&str> {
        Some(self.desc.venue)
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.http.budget().as_ref())
    }

    fn lookup_path(&self, raw: &RawEvent) -> Option<String> {
        let desc = self.currency?;
        let path = recorded::request_path(&raw.endpoint, &self.http.shown_url(""));
        path.starts_with(desc.path_prefix).then(|| path.to_string())
    }
}

impl InstrumentListSource {
    /// Parses a fetched list and diffs it against `state`. The clock is the response's receive time. An
    /// implausible snapshot (empty, or shrunk past the policy) is kept raw, reported, and leaves the state.
    fn process(&self, f: &Fetched, state: Option<&serde_json::Value>, out: &mut PollOutcome) {
        let name = self.name.as_str();
        let Some((instruments, raw_id)) = parse_kept(f, name, &self.run_id, self.desc.parse, out) else { return };
        let loaded: Option<InstrumentListState> = load_state(state, name, out);
        // A set from push deltas alone is no baseline: this complete list is, and takes the deltas over.
        let pushed = loaded.as_ref().filter(|k| k.partial).map(|k| &k.known);
        let known = loaded.as_ref().filter(|k| !k.partial).map(|k| &k.known);
        if let Some(message) = self.policy.implausible(known, instruments.len()) {
            warn!(source = %name, %message, "Implausible instrument list; the baseline does not move.");
            if let Some(raw) = out.raws.iter_mut().find(|r| r.raw_id == raw_id) {
                raw.parse_error = Some(format!("implausible snapshot: {message}"));
            }
            out.errors.push(PollError::Implausible { source_name: name.to_string(), message });
            return;
        }
        // First-seen time is the receive time of the response that showed the instrument.
        let seen_at = f.observed_at;
        let mut d = diff_with(known, &instruments, seen_at, self.policy.diff);
        if let Some(p) = pushed {
            d.next.absorb(p);
        }
        if let Some(message) = known.and_then(|k| self.policy.mass_listing(k, &d.new)) {
            warn!(source = %name, %message, "Implausible mass listing; taken as the baseline.");
            for inst in d.new.drain(..) {
                if let Some(e) = d.next.entries.get_mut(&inst.instrument_id) {
                    e.baseline = true;
                }
            }
            out.errors.push(PollError::Implausible { source_name: name.to_string(), message });
        }
        let changes = d.new.iter().map(|i| (i, ChangeKind::New, seen_at)).chain(d.updated.iter().map(|(i, _)| {
            let first = d.next.entries.get(&i.instrument_id).map_or(seen_at, |e| e.first_seen);
            (i, ChangeKind::Updated, first)
        }));
        for (inst, change, first_seen) in changes {
            match to_observation(inst, change, name, first_seen, seen_at, Some(raw_id.clone())) {
                Ok(mut o) => {
                    // A linked listing's later observations carry its link (no new lookup), so they stay on that asset.
                    if let Some((chain, address)) = d.next.entries.get(&inst.instrument_id).and_then(|e| e.link.as_ref()) {
                        o.details[super::currency::LINK_CHAIN_KEY] = chain.clone().into();
                        o.details[super::currency::LINK_CONTRACT_KEY] = address.clone().into();
                    }
                    out.observations.push(o);
                }
                // Recorded in the known set, so it is not retried; logged so the skip is visible.
                Err(error) => warn!(source = %name, instrument = %inst.instrument_id, %error, "Instrument skipped: no valid asset id."),
            }
        }
        out.delistings.extend(vanished_delistings(self.desc.venue, name, &d.vanished, &d.next, seen_at, &raw_id));
        out.next_state = state_value(&InstrumentListState { known: d.next, partial: false }, name, out);
    }
}

/// One `asset.delisted` per base whose instruments all vanished (a base still listed under another quote
/// is not delisted). A listing linked to its contract is delisted on the contract's asset.
fn vanished_delistings(venue: &str, source: &str, vanished: &[String], next: &KnownSet, at: Ts, raw_id: &str) -> Vec<nl_domain::AssetDelisted> {
    type Link = Option<(String, String)>;
    let mut by_base: std::collections::BTreeMap<String, (Vec<String>, Link)> = std::collections::BTreeMap::new();
    for id in vanished {
        let Some(e) = next.entries.get(id) else { continue };
        if let Some(base) = e.base.clone() {
            let (instruments, link) = by_base.entry(base.to_ascii_uppercase()).or_default();
            instruments.push(id.clone());
            if link.is_none() {
                link.clone_from(&e.link);
            }
        }
    }
    by_base
        .into_iter()
        .filter(|(base, _)| !next.is_listed(base))
        .filter_map(|(base, (instruments, link))| {
            let linked = link.and_then(|(chain, address)| nl_domain::AssetId::chain(&chain, &address).ok());
            let asset_id = match linked {
                Some(id) => id,
                None => nl_domain::AssetId::cex(venue, &base).ok()?,
            }
            .to_string();
            Some(nl_domain::AssetDelisted {
                asset_id,
                symbol: base,
                venue: venue.to_string(),
                source: source.to_string(),
                reason: "vanished".into(),
                scheduled_at: None,
                announcement_id: None,
                title: None,
                instruments,
                observed_at: at,
                raw_event_id: Some(raw_id.to_string()),
            })
        })
        .collect()
}

/// Polls a venue's listing-announcement feed and reports each article once (one observation per coin named
/// in its title). On the first run only articles within the configured lookback are reported.
pub struct AnnouncementSource {
    name: String,
    interval: Duration,
    http: HttpSource,
    desc: AnnouncementDescriptor,
    policy: AnnouncementPolicy,
    run_id: String,
    max_pages: u32,
}

impl AnnouncementSource {
    /// A source named `name` polling `desc` through `http` every `interval`, selecting with `policy`.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        interval: Duration,
        http: HttpSource,
        desc: AnnouncementDescriptor,
        policy: AnnouncementPolicy,
        run_id: impl Into<String>,
    ) -> Self {
        Self { name: name.into(), interval, http, desc, policy, run_id: run_id.into(), max_pages: DEFAULT_ANNOUNCEMENT_MAX_PAGES }
    }

    /// Reads back at most `max_pages` pages per poll (at least 1).
    #[must_use]
    pub fn with_max_pages(mut self, max_pages: u32) -> Self {
        self.max_pages = max_pages.max(1);
        self
    }

    /// The venue descriptor.
    #[must_use]
    pub fn descriptor(&self) -> &AnnouncementDescriptor {
        &self.desc
    }

    /// The selection policy (lookback, max age, cursor capacity).
    #[must_use]
    pub fn policy(&self) -> &AnnouncementPolicy {
        &self.policy
    }
}

#[async_trait]
impl Source for AnnouncementSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    /// Reads page 1; while a whole page is unseen (downtime longer than a page) and the feed pages, reads
    /// the next one, up to `max_pages`. Pages are then processed deepest first, each on the state the
    /// deeper one left, so every article is reported once whatever page it was on. The first poll (no
    /// state) reads one page.
    async fn poll(&self, state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let mut out = PollOutcome::default();
        let ep = &self.desc.endpoint;
        let Fetch::Body(first) = fetch(&self.http, &self.name, ep.path, ep.weight, &self.run_id, &mut out).await else { return out };
        let mut pages = vec![first];
        if let (Some(param), Some(_)) = (self.desc.page_param, state) {
            while pages.len() < self.max_pages as usize && pages.last().is_some_and(|f| self.all_unseen(f, state)) {
                let n = u32::try_from(pages.len() + 1).unwrap_or(u32::MAX);
                let Some(path) = page_path(ep.path, param, n) else { break };
                match fetch(&self.http, &self.name, &path, ep.weight, &self.run_id, &mut out).await {
                    Fetch::Body(f) => pages.push(f),
                    Fetch::Done => break,
                }
            }
        }
        let mut current = state.cloned();
        for f in pages.iter().rev() {
            self.process(f, current.as_ref(), &mut out);
            if out.next_state.is_some() {
                current.clone_from(&out.next_state);
            }
        }
        out.next_state = current.filter(|_| out.next_state.is_some());
        out
    }

    fn rederive(&self, state: Option<&serde_json::Value>, raw: &RawEvent, _answers: &dyn RecordedResponses) -> Option<PollOutcome> {
        crate::source::replay_response(raw, |f, out| self.process(f, state, out))
    }

    fn budget(&self) -> Option<&crate::kit::Budget> {
        Some(self.http.budget().as_ref())
    }
}

impl AnnouncementSource {
    /// Whether every article of a fetched page is unknown to `state` (a page that does not parse or is
    /// empty is not: paging stops there).
    fn all_unseen(&self, f: &Fetched, state: Option<&serde_json::Value>) -> bool {
        let Some(seen) = state.and_then(|v| serde_json::from_value::<AnnouncementState>(v.clone()).ok()) else { return false };
        (self.desc.parse)(&f.body).is_ok_and(|anns| !anns.is_empty() && anns.iter().all(|a| !seen.seen.contains(&a.id)))
    }

    /// Parses a fetched feed and selects the unseen articles. The clock (lookback, max age) is the
    /// response's receive time. A delisting title is a delisting, whatever the feed: `asset.delisted` per
    /// coin, never a listing.
    fn process(&self, f: &Fetched, state: Option<&serde_json::Value>, out: &mut PollOutcome) {
        let name = self.name.as_str();
        let Some((anns, raw_id)) = parse_kept(f, name, &self.run_id, self.desc.parse, out) else { return };
        let seen: Option<AnnouncementState> = load_state(state, name, out);
        let sel = select_new_announcements(seen.as_ref().map(|s| &s.seen), &anns, f.observed_at, &self.policy);
        let (delistings, mut listings): (Vec<&Announcement>, Vec<&Announcement>) =
            sel.new.iter().partition(|a| a.action == AnnouncementAction::Delisting);
        if self.desc.delistings {
            listings.clear();
        }
        out.observations.extend(listings.into_iter().flat_map(|a| announcement_observations(a, name, f.observed_at, f.observed_at, Some(&raw_id))));
        out.delistings.extend(delistings.into_iter().flat_map(|a| announcement_delistings(a, name, f.observed_at, &raw_id)));
        out.next_state = state_value(&AnnouncementState { seen: sel.next }, name, out);
    }
}

/// One `asset.delisted` per coin a delisting announcement names, with the time its title gives.
#[must_use]
pub fn announcement_delistings(ann: &Announcement, source: &str, at: Ts, raw_id: &str) -> Vec<nl_domain::AssetDelisted> {
    let scheduled_at = super::title::scheduled_time(&ann.title);
    ann.coins
        .iter()
        .filter_map(|coin| {
            let asset_id = nl_domain::AssetId::cex(&ann.venue, &coin.symbol).ok()?.to_string();
            Some(nl_domain::AssetDelisted {
                asset_id,
                symbol: coin.symbol.clone(),
                venue: ann.venue.clone(),
                source: source.to_string(),
                reason: "announcement".into(),
                scheduled_at,
                announcement_id: Some(ann.id.clone()),
                title: Some(ann.title.clone()),
                instruments: ann.pairs.iter().filter(|(b, _)| *b == coin.symbol).map(|(b, q)| format!("{b}/{q}")).collect(),
                observed_at: at,
                raw_event_id: Some(raw_id.to_string()),
            })
        })
        .collect()
}
