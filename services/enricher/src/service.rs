//! The enricher service: a durable pull consumer on `nl.evt.listing.>` and a re-snapshot timer loop.
//!
//! Per fetched batch of observations:
//! * every observation becomes an `asset.upserted` (retractions with status `retracted`);
//! * a non-retracted observation also gets a snapshot, which joins the open round (`crate::round`): when
//!   the round closes, each asset gets ONE merged `snapshot.recorded` from every source's snapshots. The
//!   snapshot comes from the pool data it carries
//!   (GeckoTerminal), from DexScreener pairs (best pool by liquidity; every response is published as a
//!   `raw.captured` and the snapshot points at it), or for a CEX listing its age plus, for a USD-quoted spot
//!   pair on a venue with a ticker lookup, the ticker's last price and 24 h quote volume (the response is
//!   published as a `raw.captured` too; a failed lookup leaves those values NULL);
//! * outputs go out through the `nl-bus` handler kernel (the enricher is a [`nl_bus::BatchHandler`], see
//!   `crate::batch`): raw captures first, then the events, and only when they are stored are the inputs
//!   acked (a failure naks them with a delay); undecodable inputs are terminated;
//! * on-chain assets and CEX listings with a looked-up pair join the bounded tracked set, whose timer loop
//!   re-fetches due assets (pairs in batches of at most 30 addresses per chain, one ticker per CEX pair) and
//!   publishes new snapshots, unless no market fact moved beyond `[enricher.schedule] change_tolerance_pct`
//!   and the asset's last snapshot is younger than `max_quiet_secs` (counted as `unchanged`).
//!
//! Snapshot ids derive from asset, observation time and source. The first snapshot of an observation is
//! stamped with the observation's `emitted_at`, so a redelivery re-publishes the same ids (the fetched
//! raw is new, and recorded, but the duplicate snapshot is dropped by the bus and the ledger).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nl_bus::{Bus, CancellationToken, Clock, Consumer, ConsumerConfig, ConsumerSpec, ServiceCtx};
use nl_domain::{LedgerReader, RunIdentity};
use nl_adapters::dex::DexPool;
use nl_adapters::dex::config::build_dexscreener_client;
use nl_domain::{AssetId, ListingObservation, RawEvent, Snapshot};
use nl_adapters::cex::ticker_client::{TickerClient, TickerRef};
use nl_adapters::kit::RecordedResponses;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::batch::AfterPublish;
use crate::change::MarketFacts;
use crate::config::EnricherConfig;
use crate::round::{RoundControl, Rounds};
use crate::error::EnricherError;
use nl_adapters::dex::dexscreener::{MAX_TOKENS_PER_CALL, PairFetcher};
use crate::schedule::{Due, Schedule};
use crate::snapshot::{apply_ticker, best_pool, cex_snapshot, pool_snapshot};
use crate::stats::{Dropped, EnricherCounts, EnricherStats, Stage};

/// Subjects the enricher consumes: `listing.observed` and `listing.retracted`.
pub const LISTING_FILTER: &str = "nl.evt.listing.>";
/// The service's name (its handle spans are `enricher.handle`).
const SERVICE: &str = "enricher";

/// What the enricher needs from its surroundings: the [`ServiceCtx`] plus the enricher's own extras.
#[derive(Clone)]
pub struct EnricherCtx {
    pub service: ServiceCtx,
    /// Pair source override; `None` builds the DexScreener client from the config.
    pub pairs: Option<Arc<dyn PairFetcher>>,
    /// Venue → REST base URL of its instrument-list source (`SourcesConfig::venue_base_urls`): where CEX
    /// tickers are looked up unless `[enricher.cex_tickers] base_urls` names the venue.
    pub venue_urls: BTreeMap<String, String>,
    /// Recorded ticker answers (re-derivation); `None` asks the venues.
    pub recorded_tickers: Option<Arc<dyn RecordedResponses>>,
    /// Closes rounds on request (the embedded runtimes); an explicit one turns the round timer off.
    pub rounds: Option<RoundControl>,
    /// The ledger's read side: on start, the launches still deferred by `enrich_after_secs` are re-derived
    /// from it (see `crate::resume`). `None` starts with an empty schedule.
    pub ledger: Option<Arc<dyn LedgerReader>>,
}

impl From<ServiceCtx> for EnricherCtx {
    fn from(service: ServiceCtx) -> Self {
        Self { service, pairs: None, venue_urls: BTreeMap::new(), recorded_tickers: None, rounds: None, ledger: None }
    }
}

impl EnricherCtx {
    /// A context with the system clock and the configured DexScreener client.
    #[must_use]
    pub fn new(bus: Arc<dyn Bus>, run: RunIdentity) -> Self {
        ServiceCtx::new(bus, run).into()
    }

    /// Replaces the service clock (tests pass a [`nl_bus::TokioClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.service.clock = clock;
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

    /// Lets `rounds` close this enricher's rounds (see [`RoundControl`]).
    #[must_use]
    pub fn with_rounds(mut self, rounds: RoundControl) -> Self {
        self.rounds = Some(rounds);
        self
    }

    /// Re-derives the launches still deferred from `ledger` on start (see [`EnricherCtx::ledger`]).
    #[must_use]
    pub fn with_ledger_reader(mut self, ledger: Arc<dyn LedgerReader>) -> Self {
        self.ledger = Some(ledger);
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
    consumer: Consumer<Enriching>,
    core: Arc<Core>,
}

impl std::fmt::Debug for EnricherService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnricherService").field("cfg", &self.core.cfg).finish_non_exhaustive()
    }
}

/// What the consumer and the scheduler share.
pub(crate) struct Core {
    pub(crate) cfg: EnricherConfig,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) run: RunIdentity,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) pairs: Option<Arc<dyn PairFetcher>>,
    tickers: Option<TickerClient>,
    schedule: Mutex<Schedule>,
    /// The open round (see `crate::round`).
    pub(crate) rounds: Mutex<Rounds>,
    /// How often the round timer closes a round; 0 = only on request.
    round_ms: u64,
    pub(crate) wake: Notify,
    pub(crate) stats: Arc<EnricherStats>,
    /// See [`EnricherCtx::ledger`].
    pub(crate) ledger: Option<Arc<dyn LedgerReader>>,
}

/// The consumer's [`nl_bus::BatchHandler`] (see `crate::batch`): the shared core and what the batch being
/// published leaves to do.
pub(crate) struct Enriching(pub(crate) Arc<Core>, pub(crate) Mutex<Option<AfterPublish>>);

/// Validates the config, builds the DexScreener client (unless disabled or overridden) and the ticker
/// client (for the venues with a base URL, unless disabled) and binds the durable consumer `cfg.durable` on
/// `nl.evt.listing.>`. `ctx` is a [`ServiceCtx`], or an [`EnricherCtx`] with the enricher's extras.
///
/// # Errors
/// [`EnricherError::Config`] for a bad config or ticker base URL, [`EnricherError::Build`] for a bad
/// DexScreener URL or budget, [`EnricherError::Bus`] when the consumer cannot be bound.
pub async fn build(cfg: EnricherConfig, ctx: impl Into<EnricherCtx>) -> Result<EnricherService, EnricherError> {
    let EnricherCtx { service, pairs, venue_urls, recorded_tickers, rounds, ledger } = ctx.into();
    cfg.validate()?;
    let pairs: Option<Arc<dyn PairFetcher>> = match (cfg.dexscreener.enabled, pairs) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => Some(Arc::new(build_dexscreener_client(&cfg.dexscreener.to_collector_config(), &service.run.run_id)?)),
    };
    let ticker_urls = cfg.cex_tickers.resolve_base_urls(&venue_urls);
    let tickers = if cfg.cex_tickers.enabled && !ticker_urls.is_empty() {
        let client = TickerClient::new(&cfg.cex_tickers, &ticker_urls, &service.run.run_id)?;
        Some(match recorded_tickers {
            Some(rec) => client.with_recorded(rec),
            None => client,
        })
    } else {
        None
    };
    let kernel = ConsumerConfig::new(SERVICE, ConsumerSpec::new(cfg.durable.clone(), LISTING_FILTER), cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms))
        .with_nak_delay(Duration::from_millis(cfg.nak_delay_ms));
    let schedule = Mutex::new(Schedule::new(cfg.schedule.clone(), cfg.max_tracked));
    let stats = Arc::new(EnricherStats::default());
    let consumer_stats = Arc::clone(&stats.consumer);
    let ServiceCtx { bus, run, clock, .. } = service;
    let round_ms = if rounds.as_ref().is_some_and(RoundControl::is_explicit) { 0 } else { cfg.round_ms };
    let open = Mutex::new(Rounds::new(cfg.max_tracked));
    let core = Arc::new(Core { cfg, bus: Arc::clone(&bus), run, clock, pairs, tickers, schedule, rounds: open, round_ms, wake: Notify::new(), stats, ledger });
    if let Some(r) = &rounds {
        r.attach(&core);
    }
    let consumer = Consumer::bind(bus, kernel, Enriching(Arc::clone(&core), Mutex::new(None)), consumer_stats).await?;
    Ok(EnricherService { consumer, core })
}

impl EnricherService {
    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<EnricherStats> {
        Arc::clone(&self.core.stats)
    }

    /// Consumes observations and runs the re-snapshot schedule until `shutdown` is cancelled; the batch
    /// or round in flight is finished first.
    ///
    /// # Errors
    /// A non-retryable bus error while fetching; retryable ones are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) -> Result<EnricherCounts, EnricherError> {
        let EnricherService { consumer, core } = self;
        // The consumer ends on shutdown or a fatal error; either way the scheduler stops too.
        let stop = shutdown.child_token();
        info!(durable = %core.cfg.durable, tracked_bound = core.cfg.max_tracked, "Enricher running.");
        core.resume_deferred().await;
        let consumer = async {
            let r = consumer.run(stop.clone()).await.map(drop);
            stop.cancel();
            r
        };
        let (result, (), ()) = tokio::join!(consumer, core.schedule_loop(&stop), core.round_loop(&stop));
        let counts = core.stats.snapshot();
        info!(?counts, "Enricher stopped.");
        result.map(|()| counts)
    }
}

nl_bus::impl_service!(EnricherService, SERVICE, durables = |s| vec![s.consumer.durable().to_owned()], stats = |s| s.stats());

impl Core {
    pub(crate) fn schedule(&self) -> MutexGuard<'_, Schedule> {
        // A panic while holding the lock leaves the schedule consistent enough to keep serving.
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn tracking(&self) -> bool {
        self.cfg.schedule.enabled && (self.pairs.is_some() || self.tickers.is_some())
    }

    /// Whether the minimum-activity filter holds `obs` back: a new on-chain listing younger than
    /// `enrich_after_secs` (by the source's own time, else nl's first sighting) while the schedule runs.
    pub(crate) fn defers(&self, obs: &ListingObservation, asset: &AssetId) -> bool {
        if self.cfg.enrich_after_secs == 0 || obs.change != nl_domain::ChangeKind::New || !matches!(asset, AssetId::Chain { .. }) || !self.tracking() {
            return false;
        }
        let born = obs.source_published_at.unwrap_or(obs.first_observed_at);
        (self.clock.now() - born).num_seconds() < i64::try_from(self.cfg.enrich_after_secs).unwrap_or(i64::MAX)
    }

    /// The pair to look up for a CEX observation: a USD-quoted spot pair on a looked-up venue.
    pub(crate) fn ticker_pair(&self, obs: &ListingObservation) -> Option<TickerRef> {
        let tickers = self.tickers.as_ref()?;
        TickerRef::of(obs).filter(|p| p.usd_quoted() && tickers.covers(&p.venue))
    }

    /// Looks `pair`'s ticker up and sets `s`'s market values from it; the capture goes to `raws`. A failed
    /// lookup (rate limit, error status, unparseable body) leaves the values NULL and is counted and logged.
    /// Returns whether a ticker was parsed.
    pub(crate) async fn add_ticker(&self, s: &mut Snapshot, pair: &TickerRef, raws: &mut Vec<RawEvent>) -> bool {
        let Some(tickers) = &self.tickers else { return false };
        let Some(got) = tickers.fetch(pair, self.clock.now()).await else { return false };
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

    /// Looks up `assets` (on-chain) in calls of at most 30 addresses per chain. Returns each asset's best
    /// pool with the id of the raw response it came from; every response is appended to `raws`.
    pub(crate) async fn fetch_best_pools(&self, assets: &[AssetId], raws: &mut Vec<RawEvent>) -> HashMap<AssetId, (DexPool, Option<String>)> {
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

    /// Publishes a scheduler round's raw captures in one batch (its snapshots join the open round).
    async fn publish(&self, raws: Vec<RawEvent>) -> Result<(), EnricherError> {
        let msgs = self.encode(raws, std::iter::empty(), &[], &HashMap::new())?;
        if msgs.is_empty() {
            return Ok(());
        }
        let acks = self.bus.publish_batch(msgs).await?;
        EnricherStats::add(&self.stats.consumer.published, acks.len());
        EnricherStats::add(&self.stats.consumer.duplicates, acks.iter().filter(|a| a.duplicate).count());
        Ok(())
    }

    /// Closes a round every `round_ms` (never when 0) and once more when stopped, so nothing gathered is
    /// left unevaluated by a clean stop.
    async fn round_loop(&self, stop: &CancellationToken) {
        if self.round_ms > 0 {
            let every = Duration::from_millis(self.round_ms);
            loop {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(every) => {}
                }
                if let Err(error) = self.close_round().await {
                    self.stats.error(Stage::Publish);
                    warn!(%error, "Closing a round failed; it is published with the next one.");
                }
            }
        } else {
            stop.cancelled().await;
        }
        if let Err(error) = self.close_round().await {
            warn!(%error, "Closing the last round at stop failed.");
        }
    }

    /// Sleeps until the earliest due asset (or a wake-up from the consumer) and runs rounds until stopped.
    async fn schedule_loop(&self, stop: &CancellationToken) {
        if !self.tracking() {
            stop.cancelled().await;
            return;
        }
        loop {
            let next = self.schedule().next_due();
            let now = Instant::now();
            if next.is_some_and(|t| t <= now) {
                // Flow control: a round waits while the pipeline is far behind (the consumer goes on).
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    _ = self.bus.wait_for_room() => {}
                }
                self.round(Instant::now()).await;
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
                () = stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = sleep => {}
            }
        }
    }

    /// One scheduler round: re-fetch up to `max_refresh_per_round` due assets, publish the snapshots that
    /// say something new (and all raw responses; unchanged ones are counted, see `crate::change`), then
    /// schedule each one's next round by its age tier.
    async fn round(&self, now: Instant) {
        let due: Vec<Due> = self.schedule().take_due(now, self.cfg.max_refresh_per_round);
        if due.is_empty() {
            return;
        }
        let observed_at = self.clock.now();
        let (mut raws, mut snapshots) = (Vec::new(), Vec::new());
        let assets: Vec<AssetId> = due.iter().filter(|d| d.pair.is_none()).map(|d| d.asset.clone()).collect();
        let found = self.fetch_best_pools(&assets, &mut raws).await;
        // Deferred launches (never snapshotted) get a snapshot even without a pool, so they are decided.
        let unpublished: Vec<bool> = {
            let sched = self.schedule();
            due.iter().map(|d| d.pair.is_none() && !sched.was_published(&d.asset)).collect()
        };
        let mut symbols: HashMap<AssetId, String> = HashMap::new();
        for (d, unpublished) in due.iter().zip(unpublished) {
            if let Some(pair) = &d.pair {
                let age = i64::try_from(d.age.as_secs() / 60).ok();
                let mut s = cex_snapshot(&d.asset, observed_at, age, None);
                if self.add_ticker(&mut s, pair, &mut raws).await {
                    if let AssetId::Cex { base, .. } = &d.asset {
                        symbols.insert(d.asset.clone(), base.clone());
                    }
                    snapshots.push(s);
                }
                continue;
            }
            let Some((pool, raw_id)) = found.get(&d.asset) else {
                if unpublished {
                    snapshots.push(crate::snapshot::unpooled_snapshot(&d.asset, observed_at, i64::try_from(d.age.as_secs() / 60).ok()));
                }
                continue;
            };
            let born = observed_at - chrono::Duration::from_std(d.age).unwrap_or_default();
            match pool_snapshot(pool, observed_at, raw_id.clone(), Some(born)) {
                Ok(s) => snapshots.push(s),
                Err(error) => warn!(asset = %d.asset, %error, "Pool snapshot failed."),
            }
        }
        symbols.extend(found.iter().filter_map(|(a, (p, _))| p.base_token.symbol.clone().map(|s| (a.clone(), s))));
        let fetched = snapshots.len();
        let (snapshots, facts): (Vec<Snapshot>, Vec<MarketFacts>) = {
            let sched = self.schedule();
            snapshots.into_iter().map(|s| (MarketFacts::of(&s), s)).filter(|(f, s)| !sched.unchanged(&s.asset_id, f, now)).map(|(f, s)| (s, f)).unzip()
        };
        EnricherStats::add(&self.stats.unchanged, fetched - snapshots.len());
        // The raw responses are recorded even when every snapshot was unchanged: they are what was fetched.
        let published = match self.publish(raws).await {
            Ok(()) => {
                EnricherStats::add(&self.stats.rescheduled_snapshots, snapshots.len());
                let mut rounds = self.rounds();
                for (asset, (pool, _)) in &found {
                    rounds.remember_text(asset, &crate::round::TokenText::of_token(&pool.base_token));
                }
                for s in &snapshots {
                    rounds.add(&s.asset_id, None, vec![s.clone()], symbols.get(&s.asset_id).map(String::as_str), &tracing::Span::current());
                }
                true
            }
            Err(error) => {
                // Nothing to nak: the next round of each asset fetches fresh data again.
                self.stats.error(Stage::Publish);
                warn!(%error, assets = due.len(), "Publishing scheduled snapshots failed; they are retried next round.");
                false
            }
        };
        let mut sched = self.schedule();
        if published {
            for (s, f) in snapshots.iter().zip(facts) {
                sched.published(&s.asset_id, f, now);
            }
        }
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
}
