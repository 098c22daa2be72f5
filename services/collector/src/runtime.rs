//! The collector runtime: polls every source on its interval, publishes raw payloads and observations
//! durably, then saves the source's state. With leases (distributed mode) a source is polled only by the
//! replica holding its lease; the lease is renewed right before each poll, so a replica that lost it (or
//! was paused past its TTL) stops before its next poll.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl_bus::{observation_messages, raw_messages};
use nl_adapters::{PollError, PollOutcome, Source};
use nl_bus::Bus;
use nl_bus::lease::{Lease, Leases};
use nl_domain::Ts;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::known::{KnownAssets, ListsFirst};
use crate::state::StateStore;

/// The run identity (shared with every service).
pub use nl_domain::RunIdentity;

/// What the collector needs from its surroundings.
#[derive(Clone)]
pub struct CollectorCtx {
    pub bus: Arc<dyn Bus>,
    pub state: Arc<dyn StateStore>,
    /// `None` in embedded mode: every source runs locally.
    pub leases: Option<Arc<dyn Leases>>,
    /// How often a held lease is renewed (a third of the lease TTL).
    pub lease_renew_every: Duration,
    pub run: RunIdentity,
}

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub polls: AtomicU64,
    pub raws: AtomicU64,
    pub observations: AtomicU64,
    pub errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub publish_failures: AtomicU64,
    /// Unix milliseconds of the last poll without errors (0 = never).
    pub last_success_ms: AtomicU64,
    pub leases_lost: AtomicU64,
    /// Times the source's task panicked (and was restarted).
    pub panics: AtomicU64,
}

/// What one poll of one source did, for cycle summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    pub source: String,
    pub raws: usize,
    pub new: usize,
    pub updated: usize,
    pub retracted: usize,
    /// `asset.delisted` events published.
    pub delisted: usize,
    pub errors: Vec<String>,
    /// Errors of earlier attempts that a retry within the cycle got past.
    pub retried: Vec<String>,
    /// The longest wait a venue asked for (429/418 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// Publishing or saving state failed: the poll's outputs will be produced again next time.
    pub not_committed: Option<String>,
}

impl PollReport {
    #[must_use]
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.not_committed.is_none()
    }
}

/// The collector over a set of sources.
pub struct Collector {
    sources: Vec<Arc<dyn Source>>,
    ctx: CollectorCtx,
    counters: BTreeMap<String, Arc<SourceCounters>>,
    known: Arc<KnownAssets>,
}

impl Collector {
    #[must_use]
    pub fn new(sources: Vec<Arc<dyn Source>>, ctx: CollectorCtx) -> Self {
        let counters = sources.iter().map(|s| (s.name().to_string(), Arc::new(SourceCounters::default()))).collect();
        let known = Arc::new(KnownAssets::of(&sources));
        Self { sources, ctx, counters, known }
    }

    /// Uses `known` (e.g. built over the poll sources and the push feeds' gap fills) for announcements.
    #[must_use]
    pub fn with_known(mut self, known: Arc<KnownAssets>) -> Self {
        self.known = known;
        self
    }

    /// The known assets announcements are checked against.
    #[must_use]
    pub fn known(&self) -> Arc<KnownAssets> {
        Arc::clone(&self.known)
    }

    /// Per-source counters, keyed by source name.
    #[must_use]
    pub fn counters(&self) -> &BTreeMap<String, Arc<SourceCounters>> {
        &self.counters
    }

    /// Names of the configured sources.
    #[must_use]
    pub fn source_names(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.name().to_string()).collect()
    }

    /// Polls every source once, concurrently, ignoring leases (one cycle of `nl run-cycle`). Announcement
    /// feeds commit after the instrument lists (see [`ListsFirst`]).
    pub async fn poll_all_once(&self, now: Ts) -> Vec<PollReport> {
        let order = ListsFirst::of(&self.sources);
        let futs = self.sources.iter().map(|s| poll_known(s.as_ref(), &self.ctx, self.counter(s.name()), (&self.known, &order), now));
        futures::future::join_all(futs).await
    }

    /// Polls every source once, concurrently, retrying within the cycle as `policy` allows (one cycle of
    /// `nl run-cycle`; see [`crate::cycle`]). Announcement feeds commit after the instrument lists (see
    /// [`ListsFirst`]), so an announcement of a coin in a list's first snapshot is not a listing.
    ///
    /// `on_done` sees each source's report as that source finishes. When every source failed to resolve
    /// or connect and none got any answer within [`crate::cycle::NO_NETWORK_WINDOW`], polling stops: the
    /// sources not finished yet report a "no network" error (see [`crate::cycle::CycleReports`]).
    pub async fn poll_all_within(&self, now: Ts, policy: crate::cycle::CyclePolicy, mut on_done: impl FnMut(&PollReport)) -> crate::cycle::CycleReports {
        use futures::StreamExt;
        // Remembered bans first, all of them: a source sharing a banned budget must not slip a request
        // through before another source's restore pauses it.
        for s in &self.sources {
            crate::ban::restore(s.as_ref(), &self.ctx).await;
        }
        let reach = nl_adapters::kit::Reachability::new(self.sources.len());
        let order = ListsFirst::of(&self.sources);
        let mut pending: futures::stream::FuturesUnordered<_> = self
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let poll = crate::cycle::poll_with_retries(s.as_ref(), &self.ctx, self.counter(s.name()), (&self.known, &order), now, policy);
                let reach = reach.clone();
                let (source, ctx) = (s.as_ref(), &self.ctx);
                async move {
                    let report = reach.scope(i, poll).await;
                    crate::ban::remember(source, ctx, &mut None).await;
                    (i, report)
                }
            })
            .collect();
        let mut done: Vec<Option<PollReport>> = vec![None; self.sources.len()];
        let offline = reach.all_unreachable();
        let window = tokio::time::sleep(crate::cycle::NO_NETWORK_WINDOW);
        tokio::pin!(offline, window);
        let mut window_open = true;
        let mut no_network = None;
        loop {
            tokio::select! {
                next = pending.next() => match next {
                    Some((i, report)) => {
                        on_done(&report);
                        done[i] = Some(report);
                    }
                    None => break,
                },
                error = &mut offline, if window_open && no_network.is_none() => {
                    no_network = Some(error);
                    break;
                }
                () = &mut window, if window_open => window_open = false,
            }
        }
        drop(pending);
        if no_network.is_none() {
            // Every source gave up before the verdict was noticed: still no network.
            no_network = reach.verdict();
        }
        let reports = self
            .sources
            .iter()
            .zip(done)
            .map(|(s, r)| {
                r.unwrap_or_else(|| {
                    let error = crate::cycle::no_network_error(s.name(), no_network.as_deref().unwrap_or_default());
                    let report = PollReport { source: s.name().to_string(), errors: vec![error], ..PollReport::default() };
                    on_done(&report);
                    report
                })
            })
            .collect();
        crate::cycle::CycleReports { reports, no_network }
    }

    /// Runs until `shutdown` resolves: one task per source, each on its own interval. A source whose task
    /// panics is counted (`panics`, logged as an error) and restarted. The first poll of an announcement
    /// feed commits after every instrument list's first poll (see [`ListsFirst`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let mut by_task = std::collections::HashMap::new();
        let order = ListsFirst::of(&self.sources);
        let spawn = |tasks: &mut tokio::task::JoinSet<()>, source: &Arc<dyn Source>| {
            let (source, ctx, counters, stop) = (Arc::clone(source), self.ctx.clone(), self.counter(source.name()), stop_rx.clone());
            let (known, order) = (Arc::clone(&self.known), order.clone());
            tasks.spawn(async move { run_source(source, ctx, counters, (known, order), stop).await }).id()
        };
        for source in &self.sources {
            by_task.insert(spawn(&mut tasks, source), Arc::clone(source));
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(Err(e)) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let Some(source) = by_task.remove(&e.id()) else { continue };
                    if e.is_panic() {
                        self.counter(source.name()).panics.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(source = source.name(), error = %nl_adapters::kit::quote::quote_error(&e.to_string()), "Source task panicked; restarting it.");
                        by_task.insert(spawn(&mut tasks, &source), source);
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
    }

    fn counter(&self, name: &str) -> Arc<SourceCounters> {
        self.counters.get(name).cloned().unwrap_or_default()
    }
}

async fn run_source(
    source: Arc<dyn Source>,
    ctx: CollectorCtx,
    counters: Arc<SourceCounters>,
    (known, order): (Arc<KnownAssets>, ListsFirst),
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let name = source.name().to_string();
    // Until this source's first poll is done (a list's marks it done for the others when dropped).
    let mut first = Some(order.done_on_drop(&name));
    let mut lease: Option<Lease> = None;
    let mut next_poll = Instant::now();
    let mut wake = Instant::now();
    let mut ban_saved = None;
    crate::ban::restore(source.as_ref(), &ctx).await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep_until(wake) => {}
        }
        if let Some(leases) = &ctx.leases
            && !hold_lease(leases.as_ref(), &name, &mut lease, &counters).await
        {
            // Not ours (or the broker failed): nobody here waits on it; try again after a renew period,
            // never in a tight loop.
            first = None;
            wake = Instant::now() + ctx.lease_renew_every;
            continue;
        }
        if Instant::now() >= next_poll {
            // Flow control: no poll while the pipeline is far behind what the sources already sent.
            tokio::select! {
                _ = stop.changed() => break,
                _ = ctx.bus.wait_for_room() => {}
            }
            // A fetch may wait long on a rate budget; shutdown abandons it (nothing is published yet).
            let now = chrono::Utc::now();
            let fetched = tokio::select! {
                _ = stop.changed() => break,
                f = fetch(source.as_ref(), &ctx, &counters, now) => f,
            };
            if first.is_some() && fetched.is_ok() {
                tokio::select! {
                    _ = stop.changed() => break,
                    () = order.wait_for(source.as_ref()) => {}
                }
            }
            let report = match fetched {
                Ok(outcome) => commit(&name, outcome, &ctx, &counters, Some(&known), now).await,
                Err(report) => report,
            };
            first = None;
            crate::ban::remember(source.as_ref(), &ctx, &mut ban_saved).await;
            next_poll = Instant::now() + source.interval().max(report.retry_after.unwrap_or_default().min(nl_adapters::kit::headers::MAX_VENUE_DELAY));
        }
        // With a lease, wake at least every renew period to keep it alive between polls.
        wake = match &ctx.leases {
            Some(_) => next_poll.min(Instant::now() + ctx.lease_renew_every),
            None => next_poll,
        };
    }
    if let (Some(leases), Some(l)) = (&ctx.leases, lease)
        && let Err(error) = leases.release(l).await
    {
        warn!(source = %name, %error, "Releasing the lease failed; it will expire by TTL.");
    }
}

/// Acquires or renews the lease of `name`. Returns whether this replica holds it now.
async fn hold_lease(leases: &dyn Leases, name: &str, lease: &mut Option<Lease>, counters: &SourceCounters) -> bool {
    match lease {
        Some(l) => match leases.renew(l).await {
            Ok(true) => true,
            Ok(false) => {
                counters.leases_lost.fetch_add(1, Ordering::Relaxed);
                warn!(source = %name, "Lease lost to another replica; not polling.");
                *lease = None;
                false
            }
            Err(error) => {
                warn!(source = %name, %error, "Lease renewal failed; not polling until it succeeds.");
                *lease = None;
                false
            }
        },
        None => match leases.acquire(name).await {
            Ok(Some(l)) => {
                info!(source = %name, revision = l.revision, "Lease acquired; polling this source.");
                *lease = Some(l);
                true
            }
            Ok(None) => false,
            Err(error) => {
                warn!(source = %name, %error, "Lease acquire failed.");
                false
            }
        },
    }
}

/// Polls one source once and commits its outputs: raws and observations published, then state saved.
pub async fn poll_once(source: &dyn Source, ctx: &CollectorCtx, counters: Arc<SourceCounters>, now: Ts) -> PollReport {
    match fetch(source, ctx, &counters, now).await {
        Ok(outcome) => commit(source.name(), outcome, ctx, &counters, None, now).await,
        Err(report) => report,
    }
}

/// [`poll_once`], dropping announced listings of assets `known` records; an announcement feed commits after
/// `order`'s instrument lists are done.
pub(crate) async fn poll_known(source: &dyn Source, ctx: &CollectorCtx, counters: Arc<SourceCounters>, (known, order): (&KnownAssets, &ListsFirst), now: Ts) -> PollReport {
    let _done = order.done_on_drop(source.name());
    match fetch(source, ctx, &counters, now).await {
        Ok(outcome) => {
            order.wait_for(source).await;
            commit(source.name(), outcome, ctx, &counters, Some(known), now).await
        }
        Err(report) => report,
    }
}

/// The part of a poll that may be abandoned at shutdown: load the state, fetch and parse. Nothing is
/// published or saved yet, so dropping it loses nothing (the next poll starts from the same state).
pub(crate) async fn fetch(source: &dyn Source, ctx: &CollectorCtx, counters: &SourceCounters, now: Ts) -> Result<PollOutcome, PollReport> {
    let name = source.name().to_string();
    let state = match ctx.state.load(&name).await {
        Ok(s) => s,
        Err(error) => {
            warn!(source = %name, %error, "Cannot load source state; skipping this poll.");
            return Err(PollReport { source: name, not_committed: Some(error.to_string()), ..PollReport::default() });
        }
    };
    counters.polls.fetch_add(1, Ordering::Relaxed);
    Ok(source.poll(state.as_ref(), now).await)
}

/// Delistings as `asset.delisted` messages.
#[must_use]
pub fn delisting_messages(delistings: &[nl_domain::AssetDelisted], run: &RunIdentity) -> Vec<nl_bus::Message> {
    delistings.iter().map(|d| nl_bus::Message::typed(d.to_envelope(&run.run_id, &run.config_hash))).collect()
}

/// The part of a poll that always runs to the end once started: publish, then save the state.
pub(crate) async fn commit(name: &str, mut outcome: PollOutcome, ctx: &CollectorCtx, counters: &SourceCounters, known: Option<&KnownAssets>, now: Ts) -> PollReport {
    let name = name.to_string();
    if let Some(known) = known {
        known.drop_known(ctx.state.as_ref(), &mut outcome).await;
    }
    let PollOutcome { raws, observations, next_state, errors, delistings } = outcome;
    let mut report = PollReport { source: name.clone(), raws: raws.len(), delisted: delistings.len(), ..PollReport::default() };
    for o in &observations {
        match o.change {
            nl_domain::ChangeKind::New => report.new += 1,
            nl_domain::ChangeKind::Updated => report.updated += 1,
            nl_domain::ChangeKind::Retracted => report.retracted += 1,
        }
    }
    for e in &errors {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        if let PollError::RateLimited { retry_after, .. } = e {
            counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            report.retry_after = report.retry_after.max(Some(*retry_after));
        }
        // Bounded and escaped once here: reports, manifests, `run.completed` and logs all take this string.
        let error = nl_adapters::kit::quote::quote_error(&e.to_string());
        warn!(source = %name, stage = e.stage(), error = %error, "Poll error.");
        report.errors.push(error);
    }
    let msgs = raw_messages(&raws, &ctx.run)
        .into_iter()
        .chain(observation_messages(&observations, &ctx.run))
        .chain(delisting_messages(&delistings, &ctx.run))
        .collect::<Vec<_>>();
    if !msgs.is_empty()
        && let Err(error) = ctx.bus.publish_batch(msgs).await
    {
        counters.publish_failures.fetch_add(1, Ordering::Relaxed);
        warn!(source = %name, %error, "Publishing poll outputs failed; state not advanced, the next poll repeats them.");
        report.not_committed = Some(error.to_string());
        return report;
    }
    counters.raws.fetch_add(raws.len() as u64, Ordering::Relaxed);
    counters.observations.fetch_add(observations.len() as u64, Ordering::Relaxed);
    if let Some(next) = next_state
        && let Err(error) = ctx.state.save(&name, &next).await
    {
        warn!(source = %name, %error, "Saving source state failed; the next poll repeats (deduplicated by event id).");
        report.not_committed = Some(error.to_string());
        return report;
    }
    if errors.is_empty() {
        let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        counters.last_success_ms.store(ms, Ordering::Relaxed);
    }
    report
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
