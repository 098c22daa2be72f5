//! The ledger service: durable pull consumers on `nl.evt.>` (events) and `nl.raw.>` (verbatim source
//! payloads, consumer `<durable>_raw`), each of which applies each fetched batch in one store call,
//! publishes the derived events the commit produced, hands them to the writer to prune from the outbox
//! with its next transaction (not waited for), and then acks each input.
//!
//! * An undecodable payload is poison: terminated (dead-lettered) with the decode error, never stored.
//! * A meta invalid for its type is stored in `events` and then terminated with the parse error.
//! * A store failure is retried in place (`retry_delay_ms`, `store_attempts` times), then the batch is
//!   stored event by event and only the events that still fail are dead-lettered.
//! * A publish failure leaves the derived events pending in the outbox, which is flushed again before the
//!   next batch (the inputs are acked: their consequences are durable).
//! * On start, pending outbox rows from a previous crash are published first.
//! * A delivered payload is kept verbatim as `events.body` when its row keeps the whole envelope (see `kept`).
//!   Over `MemoryBus` deliveries are typed: the ledger gets the published envelope itself (shared, not
//!   parsed or copied), and JSON is written only for what a row keeps as JSON.
//!
//! The consumer loops are the `nl-bus` handler kernel, one per consumer, with the ledger as a
//! [`BatchHandler`]: a batch is committed in one transaction and answers one outcome per delivery. The
//! kernel fetches (and decodes) the next batch while this one commits, and lingers briefly over a partial
//! batch so a trickle becomes one transaction.
//!
//! Acks stay one per delivery (JetStream `AckPolicy::Explicit`). A cumulative ack (`AckPolicy::All`) was
//! tried and measured, and it loses events: deliveries still outstanding to a killed process, or in
//! flight on a dropped connection, sit at the server until their `ack_wait` runs out, and the next
//! cumulative ack of a later event settles them unstored.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use nl_bus::handler::{DROPPED_HELP, ERRORS_HELP};
use nl_bus::{
    BatchHandler, Bus, CancellationToken, Consumer, ConsumerConfig, ConsumerSpec, ConsumerStats, Item, Message, Outcome, Registry,
    ServiceCtx,
};
use nl_domain::Envelope;
use serde::Serialize;
use tracing::{Span, info, warn};

use crate::config::LedgerConfig;
use crate::error::{LedgerError, Result};
use crate::store::LedgerStore;

/// Event subjects the ledger consumes.
pub const EVENTS_FILTER: &str = "nl.evt.>";
/// Raw payload subjects the ledger consumes (into `raw_events`).
pub const RAW_FILTER: &str = "nl.raw.>";
/// The service's name (its handle spans are `ledger.handle`).
const SERVICE: &str = "ledger";

/// Name of the raw-payload consumer for a ledger whose event consumer is `durable`.
#[must_use]
pub fn raw_durable(durable: &str) -> String {
    format!("{durable}_raw")
}
/// Outbox rows re-published per round.
const OUTBOX_PAGE: u32 = 1000;
/// How long a partial batch waits for more deliveries before it is applied.
const BATCH_LINGER_MS: u64 = 5;

/// Live counters of the service: the kernel's (shared by both consumers; derived events published
/// count as published), plus the store's.
#[derive(Debug, Default)]
pub struct LedgerStats {
    pub consumer: Arc<ConsumerStats>,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub invalid: AtomicU64,
    pub store_errors: AtomicU64,
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
        let c = self.consumer.snapshot();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LedgerCounts {
            received: c.received,
            stored: g(&self.stored),
            duplicates: g(&self.duplicates),
            invalid: g(&self.invalid),
            undecodable: c.undecodable,
            derived_published: c.published,
            store_errors: g(&self.store_errors),
            publish_errors: c.publish_errors,
            settle_errors: c.settle_errors,
        }
    }

    /// The kernel's fixed metric set plus `nl_errors_total{stage="store"}`,
    /// `nl_dropped_total{reason = duplicate | invalid}` and `nl_ledger_stored_total`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        let c = self.snapshot();
        r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", "store")], c.store_errors as f64);
        for (reason, n) in [("duplicate", c.duplicates), ("invalid", c.invalid)] {
            r.counter_set("nl_dropped_total", DROPPED_HELP, &[("reason", reason)], n as f64);
        }
        r.counter_set("nl_ledger_stored_total", "Events committed to the DB.", &[], c.stored as f64);
    }
}

/// The built service; [`LedgerService::run`] drives it.
pub struct LedgerService {
    events: Consumer<Committer>,
    raws: Consumer<Committer>,
    store: LedgerStore,
    stats: Arc<LedgerStats>,
    /// Stops both consumers, and the committers' retries: on shutdown, or when either consumer ends.
    stop: CancellationToken,
}

impl std::fmt::Debug for LedgerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerService").field("cfg", &self.events.handler().cfg).finish_non_exhaustive()
    }
}

/// Opens the store (migrating it) and binds the durable consumers `cfg.durable` on `nl.evt.>` and
/// `<durable>_raw` on `nl.raw.>`.
///
/// # Errors
/// The errors of [`LedgerStore::open`]; [`LedgerError::Bus`] when a consumer cannot be bound.
pub async fn build(cfg: LedgerConfig, ctx: ServiceCtx) -> Result<LedgerService> {
    let store = LedgerStore::open(&cfg).await?;
    build_with_store(cfg, store, ctx).await
}

/// Like [`build`] over an already open store (embedded mode shares one store between the service and
/// in-process readers).
///
/// # Errors
/// [`LedgerError::Config`] for a bad config; [`LedgerError::Bus`] when a consumer cannot be bound.
pub async fn build_with_store(cfg: LedgerConfig, store: LedgerStore, ctx: ServiceCtx) -> Result<LedgerService> {
    cfg.validate()?;
    let stats = Arc::new(LedgerStats::default());
    let stop = CancellationToken::new();
    let kernel = |durable: String, filter: &str| {
        ConsumerConfig::new(SERVICE, ConsumerSpec::new(durable, filter), cfg.batch_size, Duration::from_millis(cfg.fetch_wait_ms))
            .with_linger(Duration::from_millis(BATCH_LINGER_MS))
    };
    let committer = |outbox_dirty: bool| Committer {
        cfg: cfg.clone(),
        store: store.clone(),
        bus: Arc::clone(&ctx.bus),
        stats: Arc::clone(&stats),
        outbox_dirty: AtomicBool::new(outbox_dirty),
        stop: stop.clone(),
    };
    // A pending outbox left by a previous crash is flushed by the events consumer, before it fetches.
    let events = Consumer::bind(Arc::clone(&ctx.bus), kernel(cfg.durable.clone(), EVENTS_FILTER), committer(true), Arc::clone(&stats.consumer)).await?;
    let raws = Consumer::bind(Arc::clone(&ctx.bus), kernel(raw_durable(&cfg.durable), RAW_FILTER), committer(false), Arc::clone(&stats.consumer)).await?;
    Ok(LedgerService { events, raws, store, stats, stop })
}

impl LedgerService {
    /// The store handle (for in-process reads and the gRPC server).
    #[must_use]
    pub fn store(&self) -> LedgerStore {
        self.store.clone()
    }

    /// A handle on the live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<LedgerStats> {
        Arc::clone(&self.stats)
    }

    /// Publishes pending outbox rows, then fetches, applies, publishes and settles batches until
    /// `shutdown` is cancelled. The batch in flight when it is gets finished first.
    ///
    /// # Errors
    /// A non-retryable bus error, or the writer task stopping. Retryable failures are logged and retried.
    pub async fn run(self, shutdown: CancellationToken) -> Result<LedgerCounts> {
        let LedgerService { events, raws, stats, stop, .. } = self;
        info!(durable = %events.durable(), db = %events.handler().cfg.db_path.display(), "Ledger running.");
        // Either consumer ending (shutdown or a fatal error) stops the other.
        let events = async {
            let r = match events.handler().flush_outbox_retrying().await {
                Ok(()) => events.run(stop.clone()).await.map(drop),
                Err(error) => Err(error),
            };
            stop.cancel();
            r
        };
        let raws = async {
            let r = raws.run(stop.clone()).await.map(drop);
            stop.cancel();
            r
        };
        let signal = async {
            tokio::select! {
                () = shutdown.cancelled() => stop.cancel(),
                () = stop.cancelled() => {}
            }
        };
        let ((ev, raw), ()) = futures::future::join(futures::future::join(events, raws), signal).await;
        raw?;
        ev?;
        let counts = stats.snapshot();
        info!(?counts, "Ledger stopped.");
        Ok(counts)
    }
}

nl_bus::impl_service!(LedgerService, SERVICE, durables = |s| vec![s.events.durable().to_owned(), s.raws.durable().to_owned()], stats = |s| s.stats());

/// One delivered event: its envelope (shared with the bus and the other consumers), and its payload's
/// JSON where it exists or the row keeps the whole envelope (kept verbatim as `events.body`).
struct Delivered {
    env: Arc<Envelope>,
    body: Option<Bytes>,
}

/// The ledger's [`BatchHandler`] for one consumer: commits a batch in one store call, publishes the
/// derived events the commit produced, and marks them published.
struct Committer {
    cfg: LedgerConfig,
    store: LedgerStore,
    bus: Arc<dyn Bus>,
    stats: Arc<LedgerStats>,
    /// Derived events of an earlier batch (or a previous process) may be waiting in the outbox.
    outbox_dirty: AtomicBool,
    stop: CancellationToken,
}

impl BatchHandler for Committer {
    type Input = Delivered;
    type Error = LedgerError;

    fn decode(&self, msg: &Message, span: &Span) -> std::result::Result<Delivered, String> {
        let env = nl_bus::handler::decode_envelope(msg, span)?;
        let body = match msg.payload.encoded() {
            Some(json) => Some(json.clone()),
            None if crate::kept::form(env.kind) == crate::kept::Form::Whole => Some(msg.payload.to_bytes()),
            None => None,
        };
        Ok(Delivered { env, body })
    }

    /// Flushes a dirty outbox, then applies the batch, publishes the derived events and answers: `Done`
    /// for what is stored, `Poison` for a meta invalid for its type (stored in `events`, then
    /// terminated) and for an event whose store keeps failing.
    ///
    /// A failed store is retried here (the next batch waits) rather than nak'd: a database that is
    /// briefly unavailable must not dead-letter events. After `store_attempts` failed stores of the
    /// whole batch, its envelopes are stored one by one and only those that still fail are poison. A
    /// shutdown during the retries hands the batch back (`Retry`).
    async fn handle_batch(&self, items: Vec<Item<Delivered>>) -> Result<Vec<Outcome>> {
        self.flush_outbox_retrying().await?;
        let mut envs = Vec::with_capacity(items.len());
        let mut bodies = Vec::with_capacity(items.len());
        let mut by_asset: HashMap<String, Span> = HashMap::new();
        for Item { input: Delivered { env, body }, span } in items {
            if let Some(asset) = &env.asset_id {
                by_asset.insert(asset.clone(), span);
            }
            envs.push(env);
            bodies.push(body);
        }
        let ids: Vec<String> = envs.iter().map(|e| e.event_id.to_string()).collect();
        let Some(stored) = self.store_retrying(envs, &bodies).await? else {
            return Ok(ids.iter().map(|_| Outcome::retry(None, "ledger stopping during store retries")).collect());
        };
        let Stored { outcome, failed } = stored;
        LedgerStats::add(&self.stats.stored, outcome.new.len());
        LedgerStats::add(&self.stats.duplicates, outcome.duplicates.len());
        self.stats.progress.notify_waiters();

        // Derived events are committed in the outbox, so the inputs may be acked even if this publish
        // fails: the outbox is flushed (with retries) before the next batch, and again on start.
        if let Err(error) = self.publish_derived(outcome.derived, &by_asset).await {
            ConsumerStats::add(&self.stats.consumer.publish_errors, 1);
            self.outbox_dirty.store(true, Ordering::Relaxed);
            if !error.is_retryable() {
                return Err(error);
            }
            warn!(%error, "Publishing derived events failed; they stay in the outbox for the next flush.");
        }

        let invalid: HashMap<&str, &str> = outcome.invalid.iter().map(|i| (i.event_id.as_str(), i.error.as_str())).collect();
        Ok(ids
            .iter()
            .map(|id| {
                if let Some(error) = failed.get(id.as_str()) {
                    Outcome::poison(format!("ledger store failed: {error}"))
                } else if let Some(error) = invalid.get(id.as_str()) {
                    // Kept in `events`; the kernel logs and terminates it.
                    LedgerStats::add(&self.stats.invalid, 1);
                    Outcome::poison(format!("invalid meta: {error}"))
                } else {
                    Outcome::Done(Vec::new())
                }
            })
            .collect())
    }

    /// An idle moment is when a dirty outbox gets flushed.
    async fn idle(&self) -> Result<()> {
        self.flush_outbox_retrying().await
    }
}

/// What [`Committer::store_retrying`] stored: the outcome, and the ids whose store kept failing, with
/// the last error.
struct Stored {
    outcome: crate::ApplyOutcome,
    failed: HashMap<String, String>,
}

impl Committer {
    /// Publishes a dirty outbox, retrying retryable failures after a pause until it is clean or the
    /// ledger stops.
    ///
    /// # Errors
    /// A non-retryable failure.
    async fn flush_outbox_retrying(&self) -> Result<()> {
        while self.outbox_dirty.load(Ordering::Relaxed) {
            match self.flush_outbox().await {
                Ok(n) => {
                    self.outbox_dirty.store(false, Ordering::Relaxed);
                    if n > 0 {
                        info!(published = n, "Re-published pending outbox events.");
                    }
                }
                Err(error) => {
                    ConsumerStats::add(&self.stats.consumer.publish_errors, 1);
                    warn!(%error, "Outbox flush failed; will retry.");
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    if !self.pause(error.retry_after().unwrap_or(Duration::from_secs(1))).await {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
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
                let ids = pending.iter().map(|e| e.event_id.clone()).collect();
            self.publish(pending, &HashMap::new()).await?;
            // Pruned now, not with a later transaction: the next page is read from the outbox.
            self.store.mark_published(ids).await?;
        }
    }

    /// Publishes derived events, each carrying the trace of the input of its asset in `spans`, and hands
    /// them to the writer to prune from the outbox with its next transaction (nobody waits for that).
    async fn publish_derived(&self, events: Vec<Envelope>, spans: &HashMap<String, Span>) -> Result<()> {
        let ids = events.iter().map(|e| e.event_id.clone()).collect();
        self.publish(events, spans).await?;
        self.store.published(ids).await
    }

    /// Publishes events, each carrying the trace of the input of its asset in `spans`.
    async fn publish(&self, events: Vec<Envelope>, spans: &HashMap<String, Span>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len();
        let msgs: Vec<Message> = events
            .into_iter()
            .map(|e| {
                let span = e.asset_id.as_ref().and_then(|a| spans.get(a)).cloned();
                let msg = Message::typed(e);
                match span {
                    Some(span) => msg.traced(&span),
                    None => msg,
                }
            })
            .collect();
        self.bus.publish_batch(msgs).await?;
        ConsumerStats::add(&self.stats.consumer.published, n);
        Ok(())
    }

    /// Stores the batch, retrying whole-batch failures `store_attempts` times, then one envelope at a
    /// time, naming in `failed` those that still fail. `None` when the ledger stops during the retries.
    async fn store_retrying(&self, envs: Vec<Arc<Envelope>>, bodies: &[Option<Bytes>]) -> Result<Option<Stored>> {
        for attempt in 1..=self.cfg.store_attempts {
            // Shared envelopes: a retry hands the same ones over again, no copy and no parse.
            match self.store.apply_encoded(envs.clone(), bodies.to_vec()).await {
                Ok(outcome) => return Ok(Some(Stored { outcome, failed: HashMap::new() })),
                Err(LedgerError::WriterGone) => return Err(LedgerError::WriterGone),
                Err(error) => {
                    LedgerStats::add(&self.stats.store_errors, 1);
                    warn!(%error, attempt, batch = bodies.len(), "Store failed; retrying the batch.");
                    if !self.pause(Duration::from_millis(self.cfg.retry_delay_ms)).await {
                        return Ok(None);
                    }
                }
            }
        }
        let mut outcome = crate::ApplyOutcome::default();
        let mut failed = HashMap::new();
        for (env, body) in envs.into_iter().zip(bodies) {
            let id = env.event_id.to_string();
            match self.store.apply_encoded(vec![env], vec![body.clone()]).await {
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
                    failed.insert(id, error.to_string());
                }
            }
        }
        Ok(Some(Stored { outcome, failed }))
    }

    /// Waits `pause`; false when the ledger stops first.
    async fn pause(&self, pause: Duration) -> bool {
        tokio::select! {
            biased;
            () = self.stop.cancelled() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}
