//! [`PushSource`]: one WebSocket feed run as a collector source.
//!
//! The push task is the only owner of its state key: it loads the state when a session starts, diffs every
//! frame against it, publishes the frame (`raw.captured`) and its observations (`listing.observed`) durably
//! through the runtime's helpers, then saves the state. On every `Connected` (first connect and each
//! reconnect) it fills the gap by running the paired REST poll once, inline, under the same key, and reloads
//! the state afterwards; so the push and the gap-fill poll never race (the REST twin must therefore not also
//! be configured as a separate poll source under the same name). When a publish fails, the state is not
//! advanced and a gap fill runs before the next frame.
//!
//! Leases and the WebSocket reader are handled as in every push task ([`super::lease`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nl_adapters::Source;
use nl_bus::{observation_messages, raw_messages};
use nl_adapters::cex::AnnouncementPolicy;
use nl_adapters::cex::push::PushKind;
use nl_adapters::cex::push::frame::{FeedState, FrameContext, process_text};
use nl_adapters::kit::{UrlFn, WsConfig, WsEvent, WsHandle};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::lease::{LeaseKeeper, LeasedSessions, Reader, SessionEnd, run_leased};
use crate::known::KnownAssets;
use crate::runtime::{CollectorCtx, SourceCounters, poll_once};

/// Live status of a push source, for metrics and health checks.
#[derive(Debug, Default)]
pub struct PushStatus {
    ws: Mutex<Option<WsHandle>>,
    /// Publishing counters, the same set poll sources have.
    pub counters: Arc<SourceCounters>,
    /// Text frames handled.
    pub frames: AtomicU64,
    /// Frames that did not parse (kept raw with their error).
    pub parse_errors: AtomicU64,
    /// Error frames the venue sent.
    pub venue_errors: AtomicU64,
    /// Gap-fill polls completed.
    pub gap_fills: AtomicU64,
    /// Successful connections (all sessions).
    pub connects: AtomicU64,
}

impl PushStatus {
    /// Time since the feed last sent anything (frame or pong); `None` when not connected yet. Export as
    /// `last_message_age_seconds{source}`.
    #[must_use]
    pub fn last_message_age(&self) -> Option<Duration> {
        self.ws.lock().unwrap_or_else(PoisonError::into_inner).as_ref().and_then(WsHandle::last_message_age)
    }

    /// Whether a connection is up right now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.ws.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(WsHandle::is_connected)
    }

    pub(crate) fn set_handle(&self, h: Option<WsHandle>) {
        *self.ws.lock().unwrap_or_else(PoisonError::into_inner) = h;
    }
}

/// One push feed: WebSocket settings, parser, and the optional REST poll that fills connection gaps.
pub struct PushSource {
    name: String,
    kind: PushKind,
    ws: WsConfig,
    url_fn: Option<UrlFn>,
    gap_fill: Option<Arc<dyn Source>>,
    policy: AnnouncementPolicy,
    run_id: String,
    status: Arc<PushStatus>,
    /// The venues' known assets (instrument-list baselines): an announced listing of one is dropped.
    known: std::sync::OnceLock<Arc<KnownAssets>>,
}

impl std::fmt::Debug for PushSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSource").field("name", &self.name).field("kind", &self.kind).field("gap_fill", &self.gap_fill.is_some()).finish_non_exhaustive()
    }
}

impl PushSource {
    /// A feed named `name` (its state and lease key) of `kind` over `ws`; raws carry `run_id`.
    #[must_use]
    pub fn new(name: impl Into<String>, kind: PushKind, ws: WsConfig, run_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            ws,
            url_fn: None,
            gap_fill: None,
            policy: AnnouncementPolicy::default(),
            run_id: run_id.into(),
            status: Arc::new(PushStatus::default()),
            known: std::sync::OnceLock::new(),
        }
    }

    /// Checks announced listings against `known` (set once; [`Feeds`](crate::serve::Feeds) gives every
    /// push feed the collector's known assets, so a push feed applies the same rule as a poll).
    pub fn set_known(&self, known: Arc<KnownAssets>) {
        let _ = self.known.set(known);
    }

    /// The REST poll that fills this feed's connection gaps, when it has one.
    #[must_use]
    pub fn gap_fill_source(&self) -> Option<&Arc<dyn Source>> {
        self.gap_fill.as_ref()
    }

    /// Runs `source` once on every connect. Give it the same name as this feed to share its state.
    #[must_use]
    pub fn with_gap_fill(mut self, source: Arc<dyn Source>) -> Self {
        self.gap_fill = Some(source);
        self
    }

    /// Derives each connection's URL (signed query).
    #[must_use]
    pub fn with_url_fn(mut self, f: UrlFn) -> Self {
        self.url_fn = Some(f);
        self
    }

    /// Announcement selection (first-run lookback, max age).
    #[must_use]
    pub fn with_policy(mut self, policy: AnnouncementPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The source name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The feed kind.
    #[must_use]
    pub fn kind(&self) -> PushKind {
        self.kind
    }

    /// Status for metrics (`last_message_age`, counters).
    #[must_use]
    pub fn status(&self) -> Arc<PushStatus> {
        Arc::clone(&self.status)
    }

    /// Runs until `stop` turns true (or its sender is dropped); releases the lease on the way out.
    pub async fn run(self: Arc<Self>, ctx: CollectorCtx, stop: watch::Receiver<bool>) {
        run_leased(&*self, ctx, stop).await;
    }

    async fn run_session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        let mut reader = Reader::start(self.ws.clone(), self.url_fn.as_ref(), &self.status);
        let mut state = self.load_state(ctx).await;
        let mut needs_gap_fill = false;
        let mut renew_tick = LeaseKeeper::renew_tick(ctx);
        let end = loop {
            tokio::select! {
                _ = stop.changed() => break SessionEnd::Stop,
                _ = renew_tick.tick(), if ctx.leases.is_some() => {
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                }
                ev = reader.events.recv() => {
                    let Some(ev) = ev else { break SessionEnd::Stop };
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                    match ev {
                        WsEvent::Connected { attempt } => {
                            self.status.connects.fetch_add(1, Ordering::Relaxed);
                            debug!(source = %self.name, attempt, "Feed connected; filling the gap.");
                            state = self.fill_gap(ctx, state).await;
                            needs_gap_fill = false;
                        }
                        WsEvent::Text(text, at) => {
                            if needs_gap_fill {
                                state = self.fill_gap(ctx, state).await;
                            }
                            let (next, committed) = self.handle_text(ctx, &text, at, state).await;
                            state = next;
                            needs_gap_fill = !committed;
                        }
                        WsEvent::Disconnected { reason } => debug!(source = %self.name, %reason, "Feed disconnected."),
                    }
                }
            }
        };
        reader.finish().await;
        end
    }

    async fn load_state(&self, ctx: &CollectorCtx) -> FeedState {
        match ctx.state.load(&self.name).await {
            Ok(v) => FeedState::decode(self.kind, &self.name, v.as_ref()),
            Err(error) => {
                // Without the saved state every frame would look new; a baseline from the feed is safer.
                warn!(source = %self.name, %error, "Cannot load push state; starting from a new baseline.");
                FeedState::decode(self.kind, &self.name, None)
            }
        }
    }

    /// One poll of the REST twin (same state key), then the state as that poll left it.
    async fn fill_gap(&self, ctx: &CollectorCtx, state: FeedState) -> FeedState {
        let Some(gap) = &self.gap_fill else { return state };
        let report = poll_once(gap.as_ref(), ctx, Arc::clone(&self.status.counters), chrono::Utc::now()).await;
        // Counted once the poll is done, so a reader seeing the count also sees the poll's effects.
        self.status.gap_fills.fetch_add(1, Ordering::Relaxed);
        if !report.ok() {
            warn!(source = %self.name, errors = ?report.errors, not_committed = ?report.not_committed, "Gap-fill poll incomplete.");
        }
        if gap.name() == self.name { self.load_state(ctx).await } else { state }
    }

    /// Publishes one frame's raw and observations, then saves the state. Returns the state to continue with
    /// and whether the frame was committed.
    async fn handle_text(&self, ctx: &CollectorCtx, text: &str, at: nl_domain::Ts, state: FeedState) -> (FeedState, bool) {
        let counters = &self.status.counters;
        self.status.frames.fetch_add(1, Ordering::Relaxed);
        let cx = FrameContext { source: &self.name, kind: self.kind, endpoint: &self.ws.url, run_id: &self.run_id, policy: &self.policy };
        let mut p = process_text(&cx, text, at, &state);
        if let Some(known) = self.known.get()
            && !p.observations.is_empty()
        {
            known.drop_known_observations(ctx.state.as_ref(), &mut p.observations).await;
        }
        if let Some(error) = &p.parse_error {
            self.status.parse_errors.fetch_add(1, Ordering::Relaxed);
            counters.errors.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, %error, "Push frame did not parse; kept raw.");
        }
        if let Some(error) = &p.venue_error {
            self.status.venue_errors.fetch_add(1, Ordering::Relaxed);
            counters.errors.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, %error, "Venue sent an error frame.");
        }
        let raws: Vec<_> = p.raw.into_iter().collect();
        let msgs: Vec<_> = raw_messages(&raws, &ctx.run)
            .into_iter()
            .chain(observation_messages(&p.observations, &ctx.run))
            .chain(crate::runtime::delisting_messages(&p.delistings, &ctx.run))
            .collect();
        if !msgs.is_empty()
            && let Err(error) = ctx.bus.publish_batch(msgs).await
        {
            counters.publish_failures.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, %error, "Publishing a push frame failed; state not advanced, a gap fill follows.");
            return (state, false);
        }
        counters.raws.fetch_add(raws.len() as u64, Ordering::Relaxed);
        counters.observations.fetch_add(p.observations.len() as u64, Ordering::Relaxed);
        let Some(next) = p.next else {
            self.mark_success();
            return (state, true);
        };
        let saved = match next.encode() {
            Ok(Some(v)) => ctx.state.save(&self.name, &v).await.map_err(|e| e.to_string()),
            Ok(None) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = saved {
            warn!(source = %self.name, %error, "Saving push state failed; continuing in memory, a gap fill follows.");
            return (next, false);
        }
        self.mark_success();
        (next, true)
    }

    fn mark_success(&self) {
        let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        self.status.counters.last_success_ms.store(ms, Ordering::Relaxed);
    }
}

/// Runs every push source until `stop` turns true.
pub async fn run_push_sources(sources: Vec<Arc<PushSource>>, ctx: CollectorCtx, stop: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    for s in sources {
        tasks.spawn(s.run(ctx.clone(), stop.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

#[async_trait::async_trait]
impl LeasedSessions for PushSource {
    fn lease_name(&self) -> &str {
        &self.name
    }

    fn lease_status(&self) -> Arc<PushStatus> {
        Arc::clone(&self.status)
    }

    async fn session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        self.run_session(ctx, lease, stop).await
    }
}
