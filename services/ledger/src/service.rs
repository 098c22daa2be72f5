//! The ledger service: durable pull consumers on `nl.evt.>` (events) and `nl.raw.>` (verbatim source
//! payloads, consumer `<durable>_raw`), each of which applies each fetched batch in one store call,
//! publishes the derived events the commit produced, marks them published, and then acks each input.
//!
//! * An undecodable payload is poison: terminated (dead-lettered) with the decode error, never stored.
//! * A meta invalid for its type is stored in `events` and then terminated with the parse error.
//! * A store failure is retried in place (`retry_delay_ms`, `store_attempts` times), then the batch is
//!   stored event by event and only the events that still fail are dead-lettered.
//! * A publish failure leaves the derived events pending in the outbox, which is flushed again before the
//!   next batch (the inputs are acked: their consequences are durable).
//! * On start, pending outbox rows from a previous crash are published first.
//! * A delivered payload is kept verbatim as `events.body` when its row keeps the whole envelope (see `kept`).
//!
//! Acks stay one per delivery (JetStream `AckPolicy::Explicit`). A cumulative ack (`AckPolicy::All`) was
//! tried and measured, and it loses events: deliveries still outstanding to a killed process, or in
//! flight on a dropped connection, sit at the server until their `ack_wait` runs out, and the next
//! cumulative ack of a later event settles them unstored.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nl_bus::{Bus, ConsumerSpec, Delivery, Message, Subscription};
use nl_domain::Envelope;
use serde::Serialize;
use tokio::sync::watch;
use tracing::{Span, info, warn};

use crate::config::LedgerConfig;
use crate::error::{LedgerError, Result};
use crate::store::LedgerStore;

/// Event subjects the ledger consumes.
pub const EVENTS_FILTER: &str = "nl.evt.>";
/// Raw payload subjects the ledger consumes (into `raw_events`).
pub const RAW_FILTER: &str = "nl.raw.>";

/// Name of the raw-payload consumer for a ledger whose event consumer is `durable`.
#[must_use]
pub fn raw_durable(durable: &str) -> String {
    format!("{durable}_raw")
}
/// Outbox rows re-published per round.
const OUTBOX_PAGE: u32 = 1000;
/// How long a partial batch waits for more deliveries before it is applied.
const BATCH_LINGER_MS: u64 = 5;
/// Bytes of an undecodable payload kept in logs and term reasons.
const PREVIEW_BYTES: usize = 200;

/// Live counters of the service.
#[derive(Debug, Default)]
pub struct LedgerStats {
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub invalid: AtomicU64,
    pub undecodable: AtomicU64,
    pub derived_published: AtomicU64,
    pub store_errors: AtomicU64,
    pub publish_errors: AtomicU64,
    pub settle_errors: AtomicU64,
    /// Notified (all waiters) after each batch's `stored`/`duplicates` counts are added, so a reader can
    /// wait for progress instead of polling the counters.
    pub progress: tokio::sync::Notify,
}

/// A snapshot of [`LedgerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LedgerCounts {
    pub received: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub undecodable: u64,
    pub derived_published: u64,
    pub store_errors: u64,
    pub publish_errors: u64,
    pub settle_errors: u64,
}

impl LedgerStats {
    fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> LedgerCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LedgerCounts {
            received: g(&self.received),
            stored: g(&self.stored),
            duplicates: g(&self.duplicates),
            invalid: g(&self.invalid),
            undecodable: g(&self.undecodable),
            derived_published: g(&self.derived_published),
            store_errors: g(&self.store_errors),
            publish_errors: g(&self.publish_errors),
            settle_errors: g(&self.settle_errors),
        }
    }
}

/// The built service; [`LedgerService::run`] drives it.
pub struct LedgerService {
    worker: Worker,
    sub: Box<dyn Subscription>,
    raw_worker: Worker,
    raw_sub: Box<dyn Subscription>,
}

/// Everything but the subscription (which is `Send` but not `Sync`), so `&Worker` may cross awaits.
struct Worker {
    cfg: LedgerConfig,
    store: LedgerStore,
    bus: Arc<dyn Bus>,
    stats: Arc<LedgerStats>,
    outbox_dirty: bool,
}

impl std::fmt::Debug for LedgerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerService").field("cfg", &self.worker.cfg).finish_non_exhaustive()
    }
}

/// Opens the store (migrating it) and binds the durable consumer `cfg.durable` on `nl.evt.>`.
///
/// # Errors
/// The errors of [`LedgerStore::open`]; [`LedgerError::Bus`] when the consumer cannot be bound.
pub async fn build(cfg: LedgerConfig, bus: Arc<dyn Bus>) -> Result<LedgerService> {
    let store = LedgerStore::open(&cfg).await?;
    build_with_store(cfg, store, bus).await
}

/// Like [`build`] over an already open store (embedded mode shares one store between the service and
/// in-process readers).
///
/// # Errors
/// [`LedgerError::Config`] for a bad config; [`LedgerError::Bus`] when the consumer cannot be bound.
pub async fn build_with_store(cfg: LedgerConfig, store: LedgerStore, bus: Arc<dyn Bus>) -> Result<LedgerService> {
    cfg.validate()?;
    let mut spec = ConsumerSpec::new(cfg.durable.clone(), EVENTS_FILTER);
    // One batch committing while the next is fetched.
    spec.max_ack_pending = spec.max_ack_pending.max(2 * cfg.batch_size);
    let sub = bus.subscribe(spec.clone()).await?;
    let raw_sub = bus.subscribe(ConsumerSpec { durable: raw_durable(&cfg.durable), filter_subject: RAW_FILTER.into(), ..spec }).await?;
    let stats = Arc::new(LedgerStats::default());
    let raw_worker = Worker { cfg: cfg.clone(), store: store.clone(), bus: Arc::clone(&bus), stats: Arc::clone(&stats), outbox_dirty: false };
    Ok(LedgerService { worker: Worker { cfg, store, bus, stats, outbox_dirty: true }, sub, raw_worker, raw_sub })
}

impl LedgerService {
    /// The store handle (for in-process reads and the gRPC server).
    #[must_use]
    pub fn store(&self) -> LedgerStore {
        self.worker.store.clone()
    }

    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<LedgerStats> {
        Arc::clone(&self.worker.stats)
    }

    /// Publishes pending outbox rows, then fetches, applies, publishes and settles batches until
    /// `shutdown` completes. The batch in flight when it does is finished first.
    ///
    /// # Errors
    /// A non-retryable bus error, or the writer task stopping. Retryable failures are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<LedgerCounts> {
        let LedgerService { mut worker, mut sub, mut raw_worker, mut raw_sub } = self;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // Either worker ending (shutdown or a fatal error) stops the other.
        let stop_tx = &stop_tx;
        let events = async {
            let r = worker.run(&mut *sub, stop_rx.clone()).await;
            let _ = stop_tx.send(true);
            r
        };
        let raws = async {
            let r = raw_worker.run(&mut *raw_sub, stop_rx.clone()).await;
            let _ = stop_tx.send(true);
            r
        };
        let signal = async {
            tokio::select! {
                () = shutdown => {}
                () = stopped(stop_rx.clone()) => {}
            }
            let _ = stop_tx.send(true);
        };
        let ((ev, raw), ()) = futures::future::join(futures::future::join(events, raws), signal).await;
        raw?;
        ev
    }
}

impl Worker {
    async fn run(&mut self, sub: &mut (dyn Subscription + 'static), stop: watch::Receiver<bool>) -> Result<LedgerCounts> {
        let mut shutdown = Box::pin(stopped(stop.clone()));
        let wait = Duration::from_millis(self.cfg.fetch_wait_ms);
        let batch_size = self.cfg.batch_size;
        let mut pending: Option<Decoded> = None;
        info!(durable = %self.cfg.durable, db = %self.cfg.db_path.display(), "Ledger running.");
        loop {
            if self.outbox_dirty {
                match self.flush_outbox().await {
                    Ok(n) => {
                        self.outbox_dirty = false;
                        if n > 0 {
                            info!(published = n, "Re-published pending outbox events.");
                        }
                    }
                    Err(error) => {
                        LedgerStats::add(&self.stats.publish_errors, 1);
                        warn!(%error, "Outbox flush failed; will retry before the next batch.");
                        if !error.is_retryable() {
                            return Err(error);
                        }
                        let pause = error.retry_after().unwrap_or(Duration::from_secs(1));
                        tokio::select! {
                            biased;
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(pause) => continue,
                        }
                    }
                }
            }
            // Fetch the next batch while the previous one commits, so the broker round trip and the
            // SQLite transaction overlap. Batches are still applied and settled one at a time, in order.
            // Decoding happens on the fetch side too, so it overlaps the previous batch's transaction.
            let stats = Arc::clone(&self.stats);
            let handle = async {
                match pending.take() {
                    Some(batch) => self.handle(batch, &mut Box::pin(stopped(stop.clone()))).await,
                    None => Ok(()),
                }
            };
            let fetch = async {
                tokio::select! {
                    biased;
                    () = &mut shutdown => None,
                    r = fetch_batch(sub, batch_size, wait) => Some(match r {
                        Ok(batch) => Ok(decode(batch, &stats).await),
                        Err(e) => Err(e),
                    }),
                }
            };
            let (handled, fetched) = futures::future::join(handle, fetch).await;
            handled?;
            let Some(fetched) = fetched else { break };
            match fetched {
                Ok(batch) if batch.envs.is_empty() => {}
                Ok(batch) => pending = Some(batch),
                Err(error) if error.is_retryable() => {
                    warn!(%error, "Fetch failed; retrying.");
                    let pause = error.retry_after().unwrap_or(Duration::from_secs(1));
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
        // The batch fetched when shutdown came is finished, not stranded until its ack wait runs out.
        if let Some(batch) = pending.take() {
            self.handle(batch, &mut Box::pin(stopped(stop.clone()))).await?;
        }
        let counts = self.stats.snapshot();
        info!(?counts, "Ledger stopped.");
        Ok(counts)
    }

    /// Publishes every pending outbox row and marks it published. Returns how many.
    async fn flush_outbox(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let pending = self.store.pending_outbox(OUTBOX_PAGE).await?;
            if pending.is_empty() {
                return Ok(total);
            }
            total += pending.len();
            self.publish(pending, &HashMap::new()).await?;
        }
    }

    /// Publishes derived events, each carrying the trace of the input of its asset in `spans`.
    async fn publish(&self, events: Vec<Envelope>, spans: &HashMap<String, Span>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let msgs = events
            .iter()
            .map(|e| {
                let msg = Message::new(e.subject(), e.event_id.as_str(), e.to_json()?);
                Ok(match e.asset_id.as_ref().and_then(|a| spans.get(a)) {
                    Some(span) => msg.traced(span),
                    None => msg,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.bus.publish_batch(msgs).await?;
        let n = events.len();
        self.store.mark_published(events.into_iter().map(|e| e.event_id).collect()).await?;
        LedgerStats::add(&self.stats.derived_published, n);
        Ok(())
    }

    /// Applies one decoded batch, publishes the derived events, then settles the batch.
    ///
    /// A failed store is retried here (the fetch of the next batch waits) rather than nak'd: a database
    /// that is briefly unavailable must not dead-letter events. After `store_attempts` failed stores of
    /// the whole batch, its envelopes are stored one by one and only those that still fail are
    /// dead-lettered. A shutdown during the retries leaves the batch unacked, to be redelivered.
    async fn handle(&mut self, batch: Decoded, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> Result<()> {
        let Decoded { deliveries: decoded, envs, spans } = batch;
        if envs.is_empty() {
            return Ok(());
        }
        let by_asset: HashMap<String, Span> = envs.iter().zip(&spans).filter_map(|(e, s)| Some((e.asset_id.clone()?, s.clone()))).collect();
        let Some(stored) = self.store_retrying(envs, &decoded, shutdown).await? else { return Ok(()) };
        let outcome = stored.outcome;
        LedgerStats::add(&self.stats.stored, outcome.new.len());
        LedgerStats::add(&self.stats.duplicates, outcome.duplicates.len());
        self.stats.progress.notify_waiters();

        // Derived events are committed in the outbox, so the inputs may be acked even if this publish
        // fails: the outbox is flushed (with retries) before the next batch, and again on start.
        if let Err(error) = self.publish(outcome.derived, &by_asset).await {
            LedgerStats::add(&self.stats.publish_errors, 1);
            self.outbox_dirty = true;
            if !error.is_retryable() {
                return Err(error);
            }
            warn!(%error, "Publishing derived events failed; they stay in the outbox for the next flush.");
        }

        let invalid: HashMap<&str, &str> = outcome.invalid.iter().map(|i| (i.event_id.as_str(), i.error.as_str())).collect();
        for ((d, id), span) in decoded.iter().zip(&stored.ids).zip(&spans) {
            if stored.failed.contains(id.as_str()) {
                continue;
            }
            match invalid.get(id.as_str()) {
                Some(error) => {
                    LedgerStats::add(&self.stats.invalid, 1);
                    span.in_scope(|| warn!(event_id = %id, subject = %d.message.subject, %error, "Invalid meta; kept in events, terminating."));
                    settle(&self.stats, d.term(&format!("invalid meta: {error}")).await);
                }
                None => settle(&self.stats, d.ack().await),
            }
        }
        Ok(())
    }

    /// Stores the batch, retrying whole-batch failures `store_attempts` times, then one envelope at a
    /// time, dead-lettering (and naming in `failed`) those that still fail. `None` on shutdown.
    async fn store_retrying(&self, envs: Vec<Envelope>, decoded: &[Delivery], shutdown: &mut (impl Future<Output = ()> + Unpin)) -> Result<Option<Stored>> {
        let ids: Vec<String> = envs.iter().map(|e| e.event_id.to_string()).collect();
        let mut envs = Some(envs);
        for attempt in 1..=self.cfg.store_attempts {
            // A failed apply consumed its envelopes; decode them again from the deliveries.
            let batch = envs.take().map_or_else(|| redecode(decoded), Ok)?;
            match self.store.apply_encoded(batch, bodies(decoded)).await {
                Ok(outcome) => return Ok(Some(Stored { outcome, ids, failed: HashSet::new() })),
                Err(LedgerError::WriterGone) => return Err(LedgerError::WriterGone),
                Err(error) => {
                    LedgerStats::add(&self.stats.store_errors, 1);
                    warn!(%error, attempt, batch = decoded.len(), "Store failed; retrying the batch.");
                    if !self.pause(shutdown).await {
                        return Ok(None);
                    }
                }
            }
        }
        let mut outcome = crate::ApplyOutcome::default();
        let mut failed = HashSet::new();
        for (env, d) in redecode(decoded)?.into_iter().zip(decoded) {
            let id = env.event_id.to_string();
            match self.store.apply_encoded(vec![env], vec![Some(d.message.payload.clone())]).await {
                Ok(one) => {
                    outcome.new.extend(one.new);
                    outcome.duplicates.extend(one.duplicates);
                    outcome.invalid.extend(one.invalid);
                    outcome.derived.extend(one.derived);
                }
                Err(LedgerError::WriterGone) => return Err(LedgerError::WriterGone),
                Err(error) => {
                    LedgerStats::add(&self.stats.store_errors, 1);
                    warn!(%error, event_id = %id, "Store keeps failing for this event; dead-lettering it.");
                    settle(&self.stats, d.term(&format!("ledger store failed: {error}")).await);
                    failed.insert(id);
                }
            }
        }
        Ok(Some(Stored { outcome, ids, failed }))
    }

    /// Waits `retry_delay_ms`; false when shutdown came first.
    async fn pause(&self, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> bool {
        tokio::select! {
            biased;
            () = shutdown => false,
            () = tokio::time::sleep(Duration::from_millis(self.cfg.retry_delay_ms)) => true,
        }
    }
}

/// Fetches up to `batch_size` deliveries, waiting up to `wait` for the first, then tops a partial batch up
/// with whatever arrives within a short linger, so a trickle of deliveries becomes one group-committed
/// transaction instead of many tiny ones. A fetch error after the first delivery ends the linger (the
/// deliveries in hand are still handled; unfetched ones stay on the broker).
async fn fetch_batch(sub: &mut (dyn Subscription + 'static), batch_size: usize, wait: Duration) -> std::result::Result<Vec<Delivery>, nl_bus::BusError> {
    let mut batch = sub.fetch(batch_size, wait).await?;
    if batch.is_empty() {
        return Ok(batch);
    }
    let linger = Duration::from_millis(BATCH_LINGER_MS);
    while batch.len() < batch_size {
        match sub.fetch(batch_size - batch.len(), linger).await {
            Ok(more) if !more.is_empty() => batch.extend(more),
            _ => break,
        }
    }
    Ok(batch)
}

/// A fetched batch, decoded: the deliveries whose envelope decoded, those envelopes, and one span per
/// delivery, open until it is settled (a batch commits many traces at once). Undecodable deliveries were
/// already terminated.
struct Decoded {
    deliveries: Vec<Delivery>,
    envs: Vec<Envelope>,
    spans: Vec<Span>,
}

/// Decodes a fetched batch, dead-lettering (terminating) what does not decode as an envelope.
async fn decode(batch: Vec<Delivery>, stats: &LedgerStats) -> Decoded {
    LedgerStats::add(&stats.received, batch.len());
    let mut out = Decoded { deliveries: Vec::with_capacity(batch.len()), envs: Vec::with_capacity(batch.len()), spans: Vec::with_capacity(batch.len()) };
    for d in batch {
        let span = nl_bus::trace::handle_span("ledger", &d.message);
        match Envelope::from_json(&d.message.payload) {
            Ok(env) => {
                if let Some(asset) = &env.asset_id {
                    span.record("asset_id", asset.as_str());
                }
                out.envs.push(env);
                out.deliveries.push(d);
                out.spans.push(span);
            }
            Err(error) => {
                LedgerStats::add(&stats.undecodable, 1);
                let preview = preview(&d.message.payload);
                span.in_scope(|| warn!(subject = %d.message.subject, sequence = d.sequence, %error, payload = %preview, "Undecodable event; terminating."));
                settle(stats, d.term(&format!("undecodable envelope: {error}; payload starts {preview}")).await);
            }
        }
    }
    out
}

/// Counts and logs a failed settle (the bus redelivers the delivery).
fn settle(stats: &LedgerStats, res: std::result::Result<(), nl_bus::BusError>) {
    if let Err(error) = res {
        LedgerStats::add(&stats.settle_errors, 1);
        warn!(%error, "Settling a delivery failed; the bus will redeliver it.");
    }
}

/// Completes once `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// What [`Worker::store_retrying`] stored: the outcome, the batch's ids in delivery order, and the ids
/// dead-lettered because their store kept failing.
struct Stored {
    outcome: crate::ApplyOutcome,
    ids: Vec<String>,
    failed: HashSet<String>,
}

/// The delivered JSON of each delivery, kept verbatim as `events.body` where the whole envelope is kept.
fn bodies(decoded: &[Delivery]) -> Vec<Option<bytes::Bytes>> {
    decoded.iter().map(|d| Some(d.message.payload.clone())).collect()
}

/// The envelopes of deliveries that decoded once (so they decode again).
fn redecode(decoded: &[Delivery]) -> Result<Vec<Envelope>> {
    decoded
        .iter()
        .map(|d| Envelope::from_json(&d.message.payload).map_err(|e| LedgerError::Corrupt(format!("envelope decoded once, not twice: {e}"))))
        .collect()
}

fn preview(payload: &[u8]) -> String {
    let end = payload.len().min(PREVIEW_BYTES);
    String::from_utf8_lossy(&payload[..end]).into_owned()
}
