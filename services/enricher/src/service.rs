//! The enricher service: a durable pull consumer on `nl.evt.listing.>` and a re-snapshot timer loop.
//!
//! Per fetched batch of observations:
//! * every observation becomes an `asset.upserted` (retractions with status `retracted`);
//! * a non-retracted observation also gets a `snapshot.recorded`: from the pool data it carries
//!   (GeckoTerminal), from DexScreener pairs (best pool by liquidity; every response is published as a
//!   `raw.captured` and the snapshot points at it), or for a CEX listing its age plus, for a USD-quoted spot
//!   pair on a venue with a ticker lookup, the ticker's last price and 24 h quote volume (the response is
//!   published as a `raw.captured` too; a failed lookup leaves those values NULL);
//! * outputs go out in one `publish_batch`; only when it returns are the inputs acked (a failure naks
//!   them with a delay); undecodable inputs are terminated;
//! * on-chain assets and CEX listings with a looked-up pair join the bounded tracked set, whose timer loop
//!   re-fetches due assets (pairs in batches of at most 30 addresses per chain, one ticker per CEX pair) and
//!   publishes new snapshots.
//!
//! Snapshot ids derive from asset, observation time and source. The first snapshot of an observation is
//! stamped with the observation's `emitted_at`, so a redelivery re-publishes the same ids (the fetched
//! raw is new, and recorded, but the duplicate snapshot is dropped by the bus and the ledger).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nl_bus::raw_messages;
use nl_adapters::cex::ticker_client::{TickerClient, TickerRef};
use nl_adapters::dex::DexPool;
use nl_adapters::dex::config::build_dexscreener_client;
use nl_adapters::dex::dexscreener::{MAX_TOKENS_PER_CALL, PairFetcher};
use nl_adapters::kit::RecordedResponses;
use nl_bus::{Bus, BusError, ConsumerSpec, Delivery, Message, Subscription};
use nl_domain::{AssetId, ChangeKind, Envelope, EventType, ListingObservation, RawEvent, RunIdentity, Snapshot, Ts};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::{Span, debug, info, warn};

use crate::config::EnricherConfig;
use crate::error::EnricherError;
use crate::normalize::{asset_of, upsert_envelope};
use crate::schedule::{Due, Schedule, Tracked};
use crate::snapshot::{apply_ticker, best_pool, carried_snapshot, cex_age_snapshot, cex_snapshot, pool_snapshot, snapshot_envelope};
use crate::stats::{Dropped, EnricherCounts, EnricherStats, Stage};

/// Subjects the enricher consumes: `listing.observed` and `listing.retracted`.
pub const LISTING_FILTER: &str = "nl.evt.listing.>";
/// Bytes of an undecodable payload kept in logs and term reasons.
const PREVIEW_BYTES: usize = 200;

/// Wall-clock time source. Tests use [`tokio_clock`] so snapshot times follow a paused tokio clock.
pub type Clock = Arc<dyn Fn() -> Ts + Send + Sync>;

/// `Utc::now`.
#[must_use]
pub fn system_clock() -> Clock {
    Arc::new(chrono::Utc::now)
}

/// `base` plus the tokio time elapsed since this call: follows `tokio::time::pause()`/`advance()`.
#[must_use]
pub fn tokio_clock(base: Ts) -> Clock {
    let start = Instant::now();
    Arc::new(move || base + chrono::Duration::from_std(start.elapsed()).unwrap_or_default())
}

/// What the enricher needs from its surroundings.
#[derive(Clone)]
pub struct EnricherCtx {
    pub bus: Arc<dyn Bus>,
    pub run: RunIdentity,
    pub clock: Clock,
    /// Pair source override; `None` builds the DexScreener client from the config.
    pub pairs: Option<Arc<dyn PairFetcher>>,
    /// Venue → REST base URL of its instrument-list source (`SourcesConfig::venue_base_urls`): where CEX
    /// tickers are looked up unless `[enricher.cex_tickers] base_urls` names the venue.
    pub venue_urls: BTreeMap<String, String>,
    /// Recorded ticker answers (re-derivation); `None` asks the venues.
    pub recorded_tickers: Option<Arc<dyn RecordedResponses>>,
}

impl EnricherCtx {
    /// A context with the system clock and the configured DexScreener client.
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>, run: RunIdentity) -> Self {
        Self { bus, run, clock: system_clock(), pairs: None, venue_urls: BTreeMap::new(), recorded_tickers: None }
    }

    /// Replaces the wall clock (tests pass [`tokio_clock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Looks CEX tickers up at these venue base URLs (see [`EnricherCtx::venue_urls`]).
    #[must_use]
    pub fn with_venue_urls(mut self, venue_urls: BTreeMap<String, String>) -> Self {
        self.venue_urls = venue_urls;
        self
    }

    /// Answers ticker lookups from `recorded` instead of the venues (re-derivation from raw_events).
    #[must_use]
    pub fn with_recorded_tickers(mut self, recorded: Arc<dyn RecordedResponses>) -> Self {
        self.recorded_tickers = Some(recorded);
        self
    }

    /// Uses `pairs` instead of building the DexScreener client from the config.
    #[must_use]
    pub fn with_pair_fetcher(mut self, pairs: Arc<dyn PairFetcher>) -> Self {
        self.pairs = Some(pairs);
        self
    }
}

/// The built service; [`EnricherService::run`] drives it.
pub struct EnricherService {
    core: Arc<Core>,
    sub: Box<dyn Subscription>,
}

impl std::fmt::Debug for EnricherService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnricherService").field("cfg", &self.core.cfg).finish_non_exhaustive()
    }
}

struct Core {
    cfg: EnricherConfig,
    bus: Arc<dyn Bus>,
    run: RunIdentity,
    clock: Clock,
    pairs: Option<Arc<dyn PairFetcher>>,
    tickers: Option<TickerClient>,
    schedule: Mutex<Schedule>,
    wake: Notify,
    stats: Arc<EnricherStats>,
}

/// Validates the config, builds the DexScreener client (unless disabled or overridden) and the ticker
/// client (for the venues with a base URL, unless disabled) and binds the durable consumer `cfg.durable` on
/// `nl.evt.listing.>`.
///
/// # Errors
/// [`EnricherError::Config`] for a bad config or ticker base URL, [`EnricherError::Build`] for a bad
/// DexScreener URL or budget, [`EnricherError::Bus`] when the consumer cannot be bound.
pub async fn build(cfg: EnricherConfig, ctx: EnricherCtx) -> Result<EnricherService, EnricherError> {
    cfg.validate()?;
    let pairs: Option<Arc<dyn PairFetcher>> = match (cfg.dexscreener.enabled, ctx.pairs) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => Some(Arc::new(build_dexscreener_client(&cfg.dexscreener.to_collector_config(), &ctx.run.run_id)?)),
    };
    let ticker_urls = cfg.cex_tickers.resolve_base_urls(&ctx.venue_urls);
    let tickers = if cfg.cex_tickers.enabled && !ticker_urls.is_empty() {
        let client = TickerClient::new(&cfg.cex_tickers, &ticker_urls, &ctx.run.run_id)?;
        Some(match ctx.recorded_tickers {
            Some(rec) => client.with_recorded(rec),
            None => client,
        })
    } else {
        None
    };
    let mut spec = ConsumerSpec::new(cfg.durable.clone(), LISTING_FILTER);
    spec.max_ack_pending = spec.max_ack_pending.max(cfg.batch_size);
    let sub = ctx.bus.subscribe(spec).await?;
    let schedule = Mutex::new(Schedule::new(cfg.schedule.clone(), cfg.max_tracked));
    let core = Core { cfg, bus: ctx.bus, run: ctx.run, clock: ctx.clock, pairs, tickers, schedule, wake: Notify::new(), stats: Arc::default() };
    Ok(EnricherService { core: Arc::new(core), sub })
}

impl EnricherService {
    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<EnricherStats> {
        Arc::clone(&self.core.stats)
    }

    /// Consumes observations and runs the re-snapshot schedule until `shutdown` completes; the batch or
    /// round in flight is finished first.
    ///
    /// # Errors
    /// A non-retryable bus error while fetching; retryable ones are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<EnricherCounts, EnricherError> {
        let EnricherService { core, mut sub } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        info!(durable = %core.cfg.durable, tracked_bound = core.cfg.max_tracked, "Enricher running.");
        let consumer = async {
            let r = core.consume(&mut *sub, stop_rx.clone()).await;
            // The consumer ends on shutdown or a fatal error; either way the scheduler stops too.
            let _ = stop_tx.send(true);
            r
        };
        let watcher = async {
            let mut rx = stop_rx.clone();
            tokio::select! {
                () = shutdown => { let _ = stop_tx.send(true); }
                _ = rx.wait_for(|s| *s) => {}
            }
        };
        let (result, (), ()) = tokio::join!(consumer, core.schedule_loop(stop_rx.clone()), watcher);
        let counts = core.stats.snapshot();
        info!(?counts, "Enricher stopped.");
        result.map(|()| counts)
    }
}

/// One decoded input, with the span its handling (and its outputs' trace) belongs to.
struct Input {
    delivery: Delivery,
    obs: ListingObservation,
    span: Span,
}

/// Handling spans of a batch's inputs by asset id, so each output continues its own input's trace.
type Spans = HashMap<String, Span>;

/// Outputs of one batch or round, in publish order: raws, then upserts, then snapshots.
#[derive(Default)]
struct Outputs {
    raws: Vec<RawEvent>,
    events: Vec<Envelope>,
    snapshots: Vec<Snapshot>,
}

impl Core {
    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        // A panic while holding the lock leaves the schedule consistent enough to keep serving.
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tracking(&self) -> bool {
        self.cfg.schedule.enabled && (self.pairs.is_some() || self.tickers.is_some())
    }

    /// The pair to look up for a CEX observation: a USD-quoted spot pair on a looked-up venue.
    fn ticker_pair(&self, obs: &ListingObservation) -> Option<TickerRef> {
        let tickers = self.tickers.as_ref()?;
        TickerRef::of(obs).filter(|p| p.usd_quoted() && tickers.covers(&p.venue))
    }

    async fn consume(&self, sub: &mut (dyn Subscription + 'static), mut stop: watch::Receiver<bool>) -> Result<(), EnricherError> {
        let wait = Duration::from_millis(self.cfg.fetch_wait_ms);
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::pin!(stopped);
        while let Some(batch) = nl_bus::next_batch(sub, self.cfg.batch_size, wait, stopped.as_mut()).await? {
            if !batch.is_empty() {
                self.handle(batch).await;
            }
        }
        Ok(())
    }

    /// Decodes, enriches, publishes and settles one fetched batch.
    async fn handle(&self, batch: Vec<Delivery>) {
        EnricherStats::add(&self.stats.received, batch.len());
        let mut inputs = Vec::with_capacity(batch.len());
        for d in batch {
            let span = nl_bus::trace::handle_span("enricher", &d.message);
            match decode(&d) {
                Ok(obs) => {
                    span.record("asset_id", asset_of(&obs).to_string());
                    inputs.push(Input { delivery: d, obs, span });
                }
                Err((reason, why)) => {
                    self.stats.drop_one(reason, 1);
                    self.stats.error(Stage::Decode);
                    span.in_scope(|| warn!(subject = %d.message.subject, sequence = d.sequence, error = %why, "Undecodable input; terminating."));
                    self.settle(d.term(&why).await);
                }
            }
        }
        if inputs.is_empty() {
            return;
        }
        let mut out = Outputs::default();
        let mut symbols: HashMap<AssetId, String> = HashMap::new();
        let mut need_fetch: Vec<(usize, AssetId)> = Vec::new();
        // One snapshot per CEX asset and batch: from its first observation with a looked-up pair, else its first.
        let mut cex: BTreeMap<AssetId, (usize, Option<TickerRef>)> = BTreeMap::new();
        for (i, Input { obs, .. }) in inputs.iter().enumerate() {
            match upsert_envelope(obs, &self.run.run_id, &self.run.config_hash) {
                Ok(env) => out.events.push(env),
                Err(error) => warn!(%error, "Encoding an upsert failed."),
            }
            let asset = asset_of(obs);
            if !obs.symbol.is_empty() {
                symbols.insert(asset.clone(), obs.symbol.clone());
            }
            if obs.change == ChangeKind::Retracted {
                continue;
            }
            if let Some(s) = carried_snapshot(obs, &asset) {
                out.snapshots.push(s);
            } else if matches!(asset, AssetId::Chain { .. }) {
                if self.pairs.is_some() {
                    need_fetch.push((i, asset));
                }
            } else {
                let pair = self.ticker_pair(obs);
                match cex.get(&asset) {
                    Some((_, Some(_))) => {}
                    Some((_, None)) if pair.is_none() => {}
                    _ => {
                        cex.insert(asset, (i, pair));
                    }
                }
            }
        }
        let mut cex_pairs: HashMap<AssetId, TickerRef> = HashMap::new();
        for (asset, (i, pair)) in cex {
            let obs = &inputs[i].obs;
            let mut snap = cex_age_snapshot(obs, &asset, obs.emitted_at);
            if let Some(pair) = pair {
                let s = snap.get_or_insert_with(|| cex_snapshot(&asset, obs.emitted_at, None, obs.raw_event_id.clone()));
                self.add_ticker(s, &pair, &mut out.raws).await;
                cex_pairs.insert(asset, pair);
            }
            out.snapshots.extend(snap);
        }
        let wanted: Vec<AssetId> = need_fetch.iter().map(|(_, a)| a.clone()).collect();
        let found = self.fetch_best_pools(&wanted, &mut out.raws).await;
        for (i, asset) in &need_fetch {
            let obs = &inputs[*i].obs;
            if let Some((pool, raw_id)) = found.get(asset) {
                if let Some(sym) = &pool.base_token.symbol {
                    symbols.entry(asset.clone()).or_insert_with(|| sym.clone());
                }
                match pool_snapshot(pool, obs.emitted_at, raw_id.clone(), obs.source_published_at) {
                    Ok(s) => out.snapshots.push(s),
                    Err(error) => warn!(asset = %asset, %error, "Pool snapshot failed."),
                }
            } else {
                debug!(asset = %asset, "No DexScreener pair yet; the schedule will look again.");
            }
        }
        let initial: HashMap<AssetId, Snapshot> = out.snapshots.iter().map(|s| (s.asset_id.clone(), s.clone())).collect();
        let spans: Spans = inputs.iter().map(|i| (asset_of(&i.obs).to_string(), i.span.clone())).collect();
        if let Err(error) = self.publish(out, &symbols, &spans).await {
            self.stats.error(Stage::Publish);
            warn!(%error, batch = inputs.len(), "Publishing outputs failed; naking the batch.");
            let delay = Duration::from_millis(self.cfg.nak_delay_ms);
            let reason = format!("enricher publish failed: {error}");
            for input in &inputs {
                self.settle(input.delivery.nak(Some(delay), &reason).await);
            }
            return;
        }
        if self.tracking() {
            self.track_all(&inputs, &initial, &cex_pairs);
        }
        for input in &inputs {
            self.settle(input.delivery.ack().await);
        }
    }

    /// Looks `pair`'s ticker up and sets `s`'s market values from it; the capture goes to `raws`. A failed
    /// lookup (rate limit, error status, unparseable body) leaves the values NULL and is counted and logged.
    /// Returns whether a ticker was parsed.
    async fn add_ticker(&self, s: &mut Snapshot, pair: &TickerRef, raws: &mut Vec<RawEvent>) -> bool {
        let Some(tickers) = &self.tickers else { return false };
        let Some(got) = tickers.fetch(pair, (self.clock)()).await else { return false };
        let raw_id = got.raw.as_ref().map(|r| r.raw_id.clone());
        raws.extend(got.raw);
        match got.ticker {
            Ok(t) => {
                apply_ticker(s, pair, &t, raw_id);
                true
            }
            Err(error) => {
                self.stats.error(Stage::Fetch);
                warn!(venue = %pair.venue, instrument = %pair.instrument_id, %error, "Ticker lookup failed; market values stay NULL.");
                false
            }
        }
    }

    /// Adds the batch's on-chain assets, and its CEX assets with a looked-up pair, to the tracked set (first
    /// re-snapshot one tier after now).
    fn track_all(&self, inputs: &[Input], initial: &HashMap<AssetId, Snapshot>, cex_pairs: &HashMap<AssetId, TickerRef>) {
        let now_ts = (self.clock)();
        let now = Instant::now();
        let mut added = false;
        let mut sched = self.schedule();
        for Input { obs, .. } in inputs.iter().filter(|i| i.obs.change != ChangeKind::Retracted) {
            let asset = asset_of(obs);
            let pair = cex_pairs.get(&asset).cloned();
            if pair.is_none() && !matches!(asset, AssetId::Chain { .. }) {
                continue;
            }
            let born = initial
                .get(&asset)
                .and_then(|s| s.age_minutes.map(|a| s.observed_at - chrono::Duration::minutes(a)))
                .or(obs.source_published_at)
                .unwrap_or(obs.first_observed_at);
            let age = (now_ts - born).to_std().unwrap_or_default();
            match sched.track(asset, age, now, pair) {
                Tracked::Added { evicted } => {
                    added = true;
                    if let Some(old) = evicted {
                        EnricherStats::add(&self.stats.shed_total, 1);
                        self.stats.drop_one(Dropped::Shed, 1);
                        warn!(evicted = %old, bound = self.cfg.max_tracked, "Tracked set full; evicted the oldest-tracked asset.");
                    }
                }
                Tracked::Known | Tracked::TooOld => {}
            }
        }
        self.stats.tracked.store(sched.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(sched);
        if added {
            self.wake.notify_one();
        }
    }

    /// Looks up `assets` (on-chain) in calls of at most 30 addresses per chain. Returns each asset's best
    /// pool with the id of the raw response it came from; every response is appended to `raws`.
    async fn fetch_best_pools(&self, assets: &[AssetId], raws: &mut Vec<RawEvent>) -> HashMap<AssetId, (DexPool, Option<String>)> {
        let mut found = HashMap::new();
        let Some(pairs) = &self.pairs else { return found };
        let mut by_chain: BTreeMap<&str, Vec<&AssetId>> = BTreeMap::new();
        for a in assets {
            if let AssetId::Chain { chain, .. } = a {
                let v = by_chain.entry(chain.as_str()).or_default();
                if !v.contains(&a) {
                    v.push(a);
                }
            }
        }
        for (chain, list) in by_chain {
            for chunk in list.chunks(MAX_TOKENS_PER_CALL) {
                let addrs: Vec<String> =
                    chunk.iter().filter_map(|a| if let AssetId::Chain { address, .. } = a { Some(address.clone()) } else { None }).collect();
                let got = pairs.fetch_pairs(chain, &addrs).await;
                for error in &got.errors {
                    self.stats.error(Stage::Fetch);
                    warn!(chain, addresses = addrs.len(), %error, "DexScreener lookup failed.");
                }
                // One call covers one ≤30 batch, so its pools all come from its last (successful) response.
                let raw_id = if got.pools.is_empty() { None } else { got.raws.last().map(|r| r.raw_id.clone()) };
                for a in chunk {
                    if let Some(p) = best_pool(&got.pools, a) {
                        found.insert((*a).clone(), (p.clone(), raw_id.clone()));
                    }
                }
                raws.extend(got.raws);
            }
        }
        found
    }

    /// Publishes raws, events and snapshots in one batch and counts them. Events and snapshots of an
    /// asset in `spans` carry that span's trace context.
    async fn publish(&self, out: Outputs, symbols: &HashMap<AssetId, String>, spans: &Spans) -> Result<(), EnricherError> {
        let mut msgs = raw_messages(&out.raws, &self.run);
        for env in &out.events {
            msgs.push(message(env, spans)?);
        }
        for s in &out.snapshots {
            let env = snapshot_envelope(s, symbols.get(&s.asset_id).map(String::as_str), &self.run.run_id, &self.run.config_hash)
                .map_err(|e| EnricherError::Encode { what: "snapshot", error: e.to_string() })?;
            msgs.push(message(&env, spans)?);
        }
        if msgs.is_empty() {
            return Ok(());
        }
        let acks = self.bus.publish_batch(msgs).await?;
        EnricherStats::add(&self.stats.published, acks.len());
        EnricherStats::add(&self.stats.duplicates, acks.iter().filter(|a| a.duplicate).count());
        EnricherStats::add(&self.stats.snapshots, out.snapshots.len());
        Ok(())
    }

    /// Sleeps until the earliest due asset (or a wake-up from the consumer) and runs rounds until stopped.
    async fn schedule_loop(&self, mut stop: watch::Receiver<bool>) {
        if !self.tracking() {
            let _ = stop.wait_for(|s| *s).await;
            return;
        }
        loop {
            let next = self.schedule().next_due();
            let now = Instant::now();
            if next.is_some_and(|t| t <= now) {
                self.round(now).await;
                continue;
            }
            let sleep = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                () = self.wake.notified() => {}
                () = sleep => {}
            }
        }
    }

    /// One scheduler round: re-fetch up to `max_refresh_per_round` due assets, publish their snapshots
    /// (and the raw responses), then schedule each one's next round by its age tier.
    async fn round(&self, now: Instant) {
        let due: Vec<Due> = self.schedule().take_due(now, self.cfg.max_refresh_per_round);
        if due.is_empty() {
            return;
        }
        let observed_at = (self.clock)();
        let mut out = Outputs::default();
        let assets: Vec<AssetId> = due.iter().filter(|d| d.pair.is_none()).map(|d| d.asset.clone()).collect();
        let found = self.fetch_best_pools(&assets, &mut out.raws).await;
        let mut symbols: HashMap<AssetId, String> = HashMap::new();
        for d in &due {
            if let Some(pair) = &d.pair {
                let age = i64::try_from(d.age.as_secs() / 60).ok();
                let mut s = cex_snapshot(&d.asset, observed_at, age, None);
                if self.add_ticker(&mut s, pair, &mut out.raws).await {
                    if let AssetId::Cex { base, .. } = &d.asset {
                        symbols.insert(d.asset.clone(), base.clone());
                    }
                    out.snapshots.push(s);
                }
                continue;
            }
            let Some((pool, raw_id)) = found.get(&d.asset) else { continue };
            let born = observed_at - chrono::Duration::from_std(d.age).unwrap_or_default();
            match pool_snapshot(pool, observed_at, raw_id.clone(), Some(born)) {
                Ok(s) => out.snapshots.push(s),
                Err(error) => warn!(asset = %d.asset, %error, "Pool snapshot failed."),
            }
        }
        symbols.extend(found.iter().filter_map(|(a, (p, _))| p.base_token.symbol.clone().map(|s| (a.clone(), s))));
        let n = out.snapshots.len();
        match self.publish(out, &symbols, &Spans::new()).await {
            Ok(()) => EnricherStats::add(&self.stats.rescheduled_snapshots, n),
            Err(error) => {
                // Nothing to nak: the next round of each asset fetches fresh data again.
                self.stats.error(Stage::Publish);
                warn!(%error, assets = due.len(), "Publishing scheduled snapshots failed; they are retried next round.");
            }
        }
        let mut sched = self.schedule();
        let mut expired = 0;
        for d in &due {
            // Not contained: evicted while the round ran (already counted as shed).
            if sched.contains(&d.asset) && !sched.reschedule(&d.asset, now) {
                expired += 1;
            }
        }
        self.stats.drop_one(Dropped::Expired, expired);
        self.stats.tracked.store(sched.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    fn settle(&self, res: Result<(), BusError>) {
        if let Err(error) = res {
            self.stats.error(Stage::Settle);
            warn!(%error, "Settling a delivery failed; the bus will redeliver it.");
        }
    }
}

fn message(env: &Envelope, spans: &Spans) -> Result<Message, EnricherError> {
    let body = env.to_json().map_err(|e| EnricherError::Encode { what: "envelope", error: e.to_string() })?;
    let msg = Message::new(env.subject(), env.event_id.as_str(), body);
    Ok(match env.asset_id.as_deref().and_then(|a| spans.get(a)) {
        Some(span) => msg.traced(span),
        None => msg,
    })
}

/// An observation from a delivery, or why it is poison.
fn decode(d: &Delivery) -> Result<ListingObservation, (Dropped, String)> {
    let env = Envelope::from_json(&d.message.payload)
        .map_err(|e| (Dropped::Undecodable, format!("undecodable envelope: {e}; payload starts {}", preview(&d.message.payload))))?;
    if !matches!(env.kind, EventType::ListingObserved | EventType::ListingRetracted) {
        return Err((Dropped::UnexpectedType, format!("unexpected event type {} on {}", env.kind, d.message.subject)));
    }
    serde_json::from_value(env.meta).map_err(|e| (Dropped::Undecodable, format!("meta of {} is not a ListingObservation: {e}", env.kind)))
}

fn preview(payload: &[u8]) -> String {
    let end = payload.len().min(PREVIEW_BYTES);
    String::from_utf8_lossy(&payload[..end]).into_owned()
}
