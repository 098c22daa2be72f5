//! [`SolanaPushSource`]: launches on one Solana RPC pushed over `logsSubscribe` (one subscription per
//! watched program), with the `getSignaturesForAddress` backfill of [`SolanaLaunchSource`] as the backbone.
//!
//! * **On every connect** (first and each reconnect) and every `interval_ms` it backfills through the
//!   runtime's [`poll_once`] (publish, then save the cursor): transactions created while the socket was
//!   down are found there, each once.
//! * **Each pushed notification** whose logs show a launch of a watched program is kept raw
//!   (`nl.raw.<source>`) and queued for its `getTransaction`. At most `fetch_concurrency` fetches run at
//!   once and at most `max_pending_fetches` wait; one more is **shed** (counted in
//!   [`SolanaStatus::shed`]) and left to the next backfill, which finds it because a shed signature is not
//!   marked done. Notifications without a launch (trades) are counted ([`SolanaStatus::ignored`]) and
//!   marked done (so the backfill does not fetch them), not kept: pump.fun alone sends many per second.
//! * A fetched transaction is applied to the in-memory cursor (signature done, created mints) and its
//!   observations published at once; the cursor is saved every second and before each backfill, so the
//!   backfill skips what the push already reported (same event ids either way).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl_adapters::dex::pool::ObservationContext;
use nl_adapters::dex::solana::parse_logs_notification;
use nl_adapters::dex::solana::source::{Fetched, SolanaCursor, SolanaLaunchSource};
use nl_adapters::kit::{WsConfig, WsEvent};
use nl_adapters::{PollError, Source};
use nl_adapters::kit::quote::quote;
use nl_bus::{observation_messages, raw_messages};
use nl_domain::{RawEvent, Ts};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::lease::{LeaseKeeper, LeasedSessions, Reader, SessionEnd, run_leased};
use super::source::PushStatus;
use crate::runtime::{CollectorCtx, poll_once};

/// How often a dirty in-memory cursor is saved.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Counters of a Solana push task, beside the common [`PushStatus`].
#[derive(Debug, Default)]
pub struct SolanaStatus {
    pub push: Arc<PushStatus>,
    /// Launch notifications dropped because `max_pending_fetches` were waiting (found by the next backfill).
    pub shed: AtomicU64,
    /// Notifications without a launch of a watched program.
    pub ignored: AtomicU64,
    /// Pushed launches whose transaction was fetched and applied.
    pub applied: AtomicU64,
    /// Launch notifications waiting for a fetch slot right now.
    pub pending: AtomicU64,
    /// Pushed trades that made a young mint active (minimum-activity reports published).
    pub active: AtomicU64,
}

/// The push task of one Solana RPC.
pub struct SolanaPushSource {
    name: String,
    scan: Arc<SolanaLaunchSource>,
    ws: WsConfig,
    run_id: String,
    status: Arc<SolanaStatus>,
}

impl std::fmt::Debug for SolanaPushSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaPushSource").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SolanaPushSource {
    /// Pushes over `ws_url` (one `logsSubscribe` per program of `scan`) on top of `scan`, under its name.
    #[must_use]
    pub fn new(scan: Arc<SolanaLaunchSource>, ws_url: &str, run_id: &str) -> Self {
        let cfg = scan.config();
        let mut ws = WsConfig::new(ws_url.to_string());
        ws.subscribe_messages = scan.subscribe_messages();
        ws.connect_timeout_ms = cfg.timeout_ms;
        ws.backoff_base_ms = cfg.ws_backoff_base_ms.max(1);
        ws.backoff_cap_ms = cfg.ws_backoff_cap_ms.max(ws.backoff_base_ms);
        Self { name: scan.name().to_string(), scan, ws, run_id: run_id.to_string(), status: Arc::new(SolanaStatus::default()) }
    }

    /// The source name (state and lease key).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counters (shedding, ignored, applied) and the common push status.
    #[must_use]
    pub fn status(&self) -> Arc<SolanaStatus> {
        Arc::clone(&self.status)
    }

    /// Runs until `stop` turns true (or its sender is dropped); releases the lease on the way out.
    pub async fn run(self: Arc<Self>, ctx: CollectorCtx, stop: watch::Receiver<bool>) {
        run_leased(&*self, ctx, stop).await;
    }

    async fn load_cursor(&self, ctx: &CollectorCtx) -> SolanaCursor {
        match ctx.state.load(&self.name).await {
            Ok(v) => SolanaLaunchSource::cursor_of(v.as_ref()),
            Err(error) => {
                warn!(source = %self.name, %error, "Cannot load the cursor; starting from an empty one.");
                SolanaCursor::default()
            }
        }
    }

    async fn save_cursor(&self, ctx: &CollectorCtx, cursor: &SolanaCursor) {
        let saved = match serde_json::to_value(cursor) {
            Ok(v) => ctx.state.save(&self.name, &v).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = saved {
            warn!(source = %self.name, %error, "Saving the cursor failed; continuing in memory.");
        }
    }

    /// Saves the in-memory cursor, backfills through the runtime, and reloads what the backfill saved.
    async fn backfill(&self, ctx: &CollectorCtx, cursor: &mut SolanaCursor) {
        // The backfill starts from the saved cursor: first merge what pushes did since it was loaded.
        let saved = self.load_cursor(ctx).await;
        let mut merged = cursor.clone();
        merged.programs = saved.programs;
        self.save_cursor(ctx, &merged).await;
        let report = poll_once(self.scan.as_ref(), ctx, Arc::clone(&self.status.push.counters), chrono::Utc::now()).await;
        if !report.ok() {
            warn!(source = %self.name, errors = ?report.errors, "Backfill incomplete; the rest is carried to the next one.");
        }
        self.status.push.gap_fills.fetch_add(1, Ordering::Relaxed);
        *cursor = self.load_cursor(ctx).await;
    }

    async fn run_session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        let mut reader = Reader::start(self.ws.clone(), None, &self.status.push);
        let mut cursor = self.load_cursor(ctx).await;
        let mut dirty = false;
        let mut pending: VecDeque<(nl_adapters::dex::solana::LogsNotice, String, Ts)> = VecDeque::new();
        let mut fetches: JoinSet<(Fetched, String, Ts)> = JoinSet::new();
        // Signatures pending or being fetched.
        let mut queued: HashSet<String> = HashSet::new();
        let cfg = self.scan.config().clone();
        let mut renew_tick = LeaseKeeper::renew_tick(ctx);
        let every = self.scan.interval().max(Duration::from_millis(1));
        let mut poll_tick = tokio::time::interval_at(Instant::now() + every, every);
        poll_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut save_tick = tokio::time::interval_at(Instant::now() + SAVE_EVERY, SAVE_EVERY);
        save_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let end = loop {
            while fetches.len() < cfg.fetch_concurrency
                && let Some((notice, raw_id, at)) = pending.pop_front()
            {
                let scan = Arc::clone(&self.scan);
                fetches.spawn(async move { (scan.fetch(notice).await, raw_id, at) });
            }
            self.status.pending.store(pending.len() as u64, Ordering::Relaxed);
            tokio::select! {
                _ = stop.changed() => break SessionEnd::Stop,
                _ = renew_tick.tick(), if ctx.leases.is_some() => {
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                }
                _ = save_tick.tick(), if dirty => {
                    self.save_cursor(ctx, &cursor).await;
                    dirty = false;
                }
                _ = poll_tick.tick() => {
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                    // What the drain applied is saved by the backfill's merge.
                    let _ = self.drain(ctx, &mut cursor, &mut fetches, &mut queued).await;
                    self.backfill(ctx, &mut cursor).await;
                    pending.retain(|(n, ..)| !cursor.done.contains(&n.signature) || !queued.remove(&n.signature));
                    dirty = false;
                }
                Some(done) = fetches.join_next(), if !fetches.is_empty() => match done {
                    Ok((fetched, frame_raw_id, at)) => {
                        queued.remove(&fetched.notice.signature);
                        dirty |= self.apply(ctx, &mut cursor, fetched, &frame_raw_id, at).await;
                    }
                    Err(error) => warn!(source = %self.name, %error, "A transaction fetch task failed; the next backfill finds its launch."),
                },
                ev = reader.events.recv() => {
                    let Some(ev) = ev else { break SessionEnd::Stop };
                    if !lease.keep(ctx).await {
                        break SessionEnd::LeaseLost;
                    }
                    match ev {
                        WsEvent::Connected { attempt } => {
                            self.status.push.connects.fetch_add(1, Ordering::Relaxed);
                            debug!(source = %self.name, attempt, "RPC connected; backfilling with getSignaturesForAddress.");
                            let _ = self.drain(ctx, &mut cursor, &mut fetches, &mut queued).await;
                            self.backfill(ctx, &mut cursor).await;
                            pending.retain(|(n, ..)| !cursor.done.contains(&n.signature) || !queued.remove(&n.signature));
                            dirty = false;
                        }
                        WsEvent::Text(text, at) => {
                            if let Some(item) = self.handle_text(ctx, &text, at).await {
                                if item.1.is_empty() {
                                    // Not a launch: remembered as handled, so no backfill fetches it; its
                                    // trades are counted once (minimum-activity trigger).
                                    if cursor.done.insert(item.0.signature.clone(), cfg.remember_signatures.max(1)) {
                                        dirty = true;
                                        self.count_pushed_trades(ctx, &mut cursor, &item.0, &text, at).await;
                                    }
                                    continue;
                                }
                                // One transaction mentioning two watched programs is notified twice.
                                if cursor.done.contains(&item.0.signature) || !queued.insert(item.0.signature.clone()) {
                                    continue;
                                }
                                // Its trades count from now on, while its transaction is fetched.
                                self.scan.track_creates(&mut cursor, &item.0.logs);
                                if pending.len() >= cfg.max_pending_fetches {
                                    queued.remove(&item.0.signature);
                                    self.status.shed.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    pending.push_back(item);
                                }
                            }
                        }
                        WsEvent::Disconnected { reason } => debug!(source = %self.name, %reason, "RPC disconnected."),
                    }
                }
            }
        };
        // Finish the fetches already running (their launches are published), leave the queue to backfill.
        dirty |= self.drain(ctx, &mut cursor, &mut fetches, &mut queued).await;
        if dirty {
            self.save_cursor(ctx, &cursor).await;
        }
        reader.finish().await;
        end
    }

    /// Waits for the fetches in flight and applies them, so a backfill does not fetch them again.
    async fn drain(&self, ctx: &CollectorCtx, cursor: &mut SolanaCursor, fetches: &mut JoinSet<(Fetched, String, Ts)>, queued: &mut HashSet<String>) -> bool {
        let mut dirty = false;
        while let Some(done) = fetches.join_next().await {
            if let Ok((fetched, frame_raw_id, at)) = done {
                queued.remove(&fetched.notice.signature);
                dirty |= self.apply(ctx, cursor, fetched, &frame_raw_id, at).await;
            }
        }
        dirty
    }

    /// One frame: a launch notification is kept raw and returned for a fetch (with its raw id); another
    /// notification is counted and returned without a raw id (handled, nothing to fetch); subscription
    /// replies are logged; an unparseable frame kept raw with its error.
    async fn handle_text(&self, ctx: &CollectorCtx, text: &str, at: Ts) -> Option<(nl_adapters::dex::solana::LogsNotice, String, Ts)> {
        let counters = &self.status.push.counters;
        self.status.push.frames.fetch_add(1, Ordering::Relaxed);
        let mut raw = RawEvent::new(&self.name, &self.ws.url, None, at, text.to_string(), &self.run_id);
        let item = match parse_logs_notification(text) {
            Ok(notice) if self.scan.is_candidate(&notice) => Some((notice, raw.raw_id.clone(), at)),
            Ok(notice) => {
                // Seen and not a launch: the backfill need not fetch it.
                self.status.ignored.fetch_add(1, Ordering::Relaxed);
                return Some((notice, String::new(), at));
            }
            Err(e) => {
                let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
                if v.get("result").is_some() && v.get("id").is_some() {
                    info!(source = %self.name, subscription = %quote(&v["result"].to_string()), "Subscribed to program logs.");
                    return None;
                }
                if let Some(err) = v.get("error") {
                    self.status.push.venue_errors.fetch_add(1, Ordering::Relaxed);
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    warn!(source = %self.name, error = %quote(&err.to_string()), "RPC answered with an error; backfill continues.");
                } else {
                    self.status.push.parse_errors.fetch_add(1, Ordering::Relaxed);
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    warn!(source = %self.name, error = %e, "Pushed frame did not parse; kept raw.");
                }
                raw.parse_error = Some(e.to_string());
                None
            }
        };
        if !self.publish(ctx, vec![raw], Vec::new()).await {
            return None; // the next backfill finds it
        }
        item
    }

    /// Counts a pushed trade notification's trades; a mint that became active is reported with the frame
    /// kept raw as its provenance (other trade frames are not kept).
    async fn count_pushed_trades(&self, ctx: &CollectorCtx, cursor: &mut SolanaCursor, notice: &nl_adapters::dex::solana::LogsNotice, text: &str, at: Ts) {
        if !self.scan.counts_trades() {
            return;
        }
        let raw = RawEvent::new(&self.name, &self.ws.url, None, at, text.to_string(), &self.run_id);
        let octx = ObservationContext { source: self.name.clone(), first_observed_at: at, emitted_at: chrono::Utc::now(), raw_event_id: Some(raw.raw_id.clone()) };
        let active = self.scan.count_trades(cursor, &notice.signature, notice.slot, &notice.logs, &octx);
        if active.is_empty() {
            return;
        }
        self.status.active.fetch_add(active.len() as u64, Ordering::Relaxed);
        if !self.publish(ctx, vec![raw], active).await {
            // Not published: the saved cursor never counted it; the backfill fetches the trade again.
            *cursor = self.load_cursor(ctx).await;
        }
    }

    /// A fetched launch: applied to the cursor and published; whether the cursor changed.
    async fn apply(&self, ctx: &CollectorCtx, cursor: &mut SolanaCursor, fetched: Fetched, frame_raw_id: &str, at: Ts) -> bool {
        let Fetched { notice, raws, tx, error } = fetched;
        let mut errors: Vec<PollError> = error.into_iter().collect();
        let mut obs = Vec::new();
        let mut changed = false;
        if let Some((tx, raw_id)) = tx {
            let (o, e) = self.scan.apply(cursor, &notice.signature, &tx, Some(raw_id.unwrap_or_else(|| frame_raw_id.to_string())), at);
            for ob in o {
                obs.push(nl_domain::ListingObservation { emitted_at: chrono::Utc::now(), ..ob });
            }
            errors.extend(e);
            changed = true;
        }
        for e in &errors {
            self.status.push.counters.errors.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, stage = e.stage(), error = %e, "Pushed launch error.");
        }
        self.status.applied.fetch_add(1, Ordering::Relaxed);
        if !self.publish(ctx, raws, obs).await && changed {
            // Not published: forget it was done (the saved cursor never had it), so the backfill reports it.
            *cursor = self.load_cursor(ctx).await;
            return false;
        }
        changed
    }

    /// Publishes raws and observations; false when the bus refused them.
    async fn publish(&self, ctx: &CollectorCtx, raws: Vec<RawEvent>, obs: Vec<nl_domain::ListingObservation>) -> bool {
        let counters = &self.status.push.counters;
        let msgs: Vec<_> = raw_messages(&raws, &ctx.run).into_iter().chain(observation_messages(&obs, &ctx.run)).collect();
        if msgs.is_empty() {
            return true;
        }
        if let Err(error) = ctx.bus.publish_batch(msgs).await {
            counters.publish_failures.fetch_add(1, Ordering::Relaxed);
            warn!(source = %self.name, %error, "Publishing a pushed launch failed; the next backfill reports it.");
            return false;
        }
        counters.raws.fetch_add(raws.len() as u64, Ordering::Relaxed);
        counters.observations.fetch_add(obs.len() as u64, Ordering::Relaxed);
        let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        counters.last_success_ms.store(ms, Ordering::Relaxed);
        true
    }
}

#[async_trait::async_trait]
impl LeasedSessions for SolanaPushSource {
    fn lease_name(&self) -> &str {
        &self.name
    }

    fn lease_status(&self) -> Arc<PushStatus> {
        Arc::clone(&self.status.push)
    }

    async fn session(&self, ctx: &CollectorCtx, lease: &mut LeaseKeeper, stop: &mut watch::Receiver<bool>) -> SessionEnd {
        self.run_session(ctx, lease, stop).await
    }
}
