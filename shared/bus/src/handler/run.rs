//! [`Consumer`]: the one consumer loop every service runs.
//!
//! Per batch: fetch up to `batch_size` deliveries (topping a partial batch up for `linger`), open a
//! handle span per delivery, decode (terminating what does not decode), hand the batch to the
//! [`BatchHandler`], then settle by outcome:
//! * `Retry` is NAKed with its delay and `Poison` terminated (the bus dead-letters both when due);
//! * the outputs of every `Done` delivery are published, raw captures (`nl.raw.*`) in one pipelined
//!   `publish_batch` first and everything else in a second one, so no event is stored before a raw it
//!   cites; only then are those deliveries acked. A failed publish NAKs them all, after the error's
//!   `retry_after` or the configured `nak_delay` (event ids make the republish harmless).
//!
//! The next batch is fetched and decoded while the current one is handled (a broker round trip hides
//! behind, say, a SQLite commit), but batches are still handled and settled one at a time, in order. On
//! shutdown the fetch is abandoned and the batch being handled is finished. A fetch error that is
//! retryable is logged and retried; any other stops the consumer.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, warn};

use super::{BatchHandler, ConsumerStats, Item, Outcome, preview};
use crate::trace::{TRACEPARENT, handle_span};
use crate::{Bus, BusError, ConsumerSpec, Delivery, Message, Settle, Subscription};

/// Pause after a retryable fetch error that names no `retry_after`.
pub const FETCH_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How a [`Consumer`] fetches and settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// The service's name: its handle spans are `<service>.handle`.
    pub service: &'static str,
    /// The durable consumer. Its `max_ack_pending` is raised to two batches, the one being handled and
    /// the one being fetched.
    pub spec: ConsumerSpec,
    /// Deliveries per batch.
    pub batch_size: usize,
    /// How long a fetch waits for the first delivery.
    pub fetch_wait: Duration,
    /// How long a partial batch waits for more deliveries before it is handled (zero: not at all). A
    /// trickle then becomes one batch instead of many tiny ones.
    pub linger: Duration,
    /// Redelivery delay after a failed publish whose error names no `retry_after`.
    pub nak_delay: Duration,
}

impl ConsumerConfig {
    /// A config with no linger and a 1 s NAK delay.
    #[must_use]
    pub fn new(service: &'static str, spec: ConsumerSpec, batch_size: usize, fetch_wait: Duration) -> Self {
        Self { service, spec, batch_size: batch_size.max(1), fetch_wait, linger: Duration::ZERO, nak_delay: Duration::from_secs(1) }
    }

    /// Sets [`ConsumerConfig::linger`].
    #[must_use]
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets [`ConsumerConfig::nak_delay`].
    #[must_use]
    pub fn with_nak_delay(mut self, nak_delay: Duration) -> Self {
        self.nak_delay = nak_delay;
        self
    }
}

/// A bound durable consumer driving a [`BatchHandler`].
pub struct Consumer<H> {
    handler: H,
    sub: Box<dyn Subscription>,
    bus: Arc<dyn Bus>,
    cfg: ConsumerConfig,
    stats: Arc<ConsumerStats>,
}

impl<H> std::fmt::Debug for Consumer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// A fetched batch: the deliveries that decoded, with their spans, and their decoded inputs.
struct Fetched<I> {
    deliveries: Vec<(Delivery, Span)>,
    items: Vec<Item<I>>,
}

/// A batch whose handling failed fatally, with its deliveries still unsettled.
struct Failed<E> {
    error: E,
    held: Vec<(Delivery, Span)>,
}

/// The parts of a running consumer both the handling and the fetching side borrow.
struct Parts<'a, H> {
    handler: &'a H,
    bus: &'a dyn Bus,
    cfg: &'a ConsumerConfig,
    stats: &'a ConsumerStats,
}

impl<H: BatchHandler> Consumer<H> {
    /// Binds (creating if needed) the durable consumer of `cfg` on `bus`. `stats` may be shared with
    /// other consumers of the same service.
    ///
    /// # Errors
    /// `BusError` when the consumer cannot be created or bound.
    pub async fn bind(bus: Arc<dyn Bus>, mut cfg: ConsumerConfig, handler: H, stats: Arc<ConsumerStats>) -> Result<Self, BusError> {
        cfg.spec.max_ack_pending = cfg.spec.max_ack_pending.max(2 * cfg.batch_size);
        let sub = bus.subscribe(cfg.spec.clone()).await?;
        Ok(Self { handler, sub, bus, cfg, stats })
    }

    /// The durable consumer's name.
    #[must_use]
    pub fn durable(&self) -> &str {
        &self.cfg.spec.durable
    }

    /// The handler.
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The live counters.
    #[must_use]
    pub fn stats(&self) -> Arc<ConsumerStats> {
        Arc::clone(&self.stats)
    }

    /// Consumes until `shutdown` is cancelled (finishing the batch being handled) and returns the
    /// handler.
    ///
    /// # Errors
    /// A fatal error of the handler, or a fetch error that is not retryable. The deliveries in hand are
    /// then NAKed (dropped unsettled).
    pub async fn run(self, shutdown: CancellationToken) -> Result<H, H::Error> {
        let Self { handler, mut sub, bus, cfg, stats } = self;
        let parts = Parts { handler: &handler, bus: bus.as_ref(), cfg: &cfg, stats: &stats };
        debug!(service = cfg.service, durable = %cfg.spec.durable, "Consuming.");
        let mut current: Option<Fetched<H::Input>> = None;
        loop {
            let handling = async {
                match current.take() {
                    Some(batch) => parts.process(batch).await,
                    None => Ok(()),
                }
            };
            let fetching = async {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => None,
                    fetched = parts.fetch(&mut *sub) => Some(fetched),
                }
            };
            // A fatal handling error abandons the fetch at once; the failed batch is handed back (NAKed on
            // drop) only once the subscription is closed, so it cannot land in this consumer's last pull.
            let fetched = match futures::future::try_join(handling, async { Ok(fetching.await) }).await {
                Ok(((), fetched)) => fetched,
                Err(Failed { error, held }) => {
                    drop(sub);
                    drop(held);
                    return Err(error);
                }
            };
            match fetched {
                None => break,
                Some(Ok(Some(batch))) => current = Some(batch),
                Some(Ok(None)) => handler.idle().await?,
                Some(Err(error)) if error.is_retryable() => {
                    warn!(service = cfg.service, %error, "Fetch failed; retrying.");
                    let pause = error.retry_after().unwrap_or(FETCH_RETRY_PAUSE);
                    tokio::select! {
                        biased;
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Some(Err(error)) => return Err(error.into()),
            }
        }
        debug!(service = cfg.service, counts = ?stats.snapshot(), "Stopped consuming.");
        Ok(handler)
    }
}

impl<H: BatchHandler> Parts<'_, H> {
    /// The next batch, decoded; `None` when nothing came within `fetch_wait`.
    async fn fetch(&self, sub: &mut (dyn Subscription + 'static)) -> Result<Option<Fetched<H::Input>>, BusError> {
        let max = self.cfg.batch_size;
        let mut batch = sub.fetch(max, self.cfg.fetch_wait).await?;
        if batch.is_empty() {
            return Ok(None);
        }
        if !self.cfg.linger.is_zero() {
            // A fetch error here ends the linger: the deliveries in hand are still handled.
            while batch.len() < max {
                match sub.fetch(max - batch.len(), self.cfg.linger).await {
                    Ok(more) if !more.is_empty() => batch.extend(more),
                    _ => break,
                }
            }
        }
        ConsumerStats::add(&self.stats.received, batch.len());
        let mut out = Fetched { deliveries: Vec::with_capacity(batch.len()), items: Vec::with_capacity(batch.len()) };
        for d in batch {
            let span = handle_span(self.cfg.service, &d.message);
            match self.handler.decode(&d.message, &span) {
                Ok(input) => {
                    out.items.push(Item { input, span: span.clone() });
                    out.deliveries.push((d, span));
                }
                Err(reason) => {
                    ConsumerStats::add(&self.stats.undecodable, 1);
                    let preview = preview(&d.message.payload);
                    span.in_scope(
                        || warn!(subject = %d.message.subject, sequence = d.sequence, %reason, payload = %preview, "Undecodable input; terminating."),
                    );
                    let reason = format!("{reason}; payload starts {preview}");
                    self.settled(d.term(&reason).instrument(span).await, d.sequence);
                }
            }
        }
        Ok(Some(out))
    }

    /// Handles one batch, publishes its outputs and settles every delivery.
    async fn process(&self, batch: Fetched<H::Input>) -> Result<(), Failed<H::Error>> {
        let Fetched { deliveries, items } = batch;
        if items.is_empty() {
            return Ok(());
        }
        let mut outcomes = match self.handler.handle_batch(items).await {
            Ok(outcomes) => outcomes,
            Err(error) => return Err(Failed { error, held: deliveries }),
        };
        if outcomes.len() != deliveries.len() {
            warn!(
                service = self.cfg.service,
                outcomes = outcomes.len(),
                deliveries = deliveries.len(),
                "Handler broke the one-outcome-per-delivery rule; retrying the rest."
            );
            outcomes.resize_with(deliveries.len(), || Outcome::retry(None, "handler returned no outcome"));
        }
        let mut done = Vec::with_capacity(deliveries.len());
        let mut other: Vec<(Delivery, Span, Settle, String)> = Vec::new();
        let (mut raws, mut events) = (Vec::new(), Vec::new());
        for ((d, span), outcome) in deliveries.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Done(outputs) => {
                    for m in outputs {
                        let m = if m.headers.contains_key(TRACEPARENT) { m } else { m.traced(&span) };
                        if m.subject.starts_with("nl.raw.") { raws.push(m) } else { events.push(m) }
                    }
                    done.push((d, span));
                }
                Outcome::Retry { after, reason } => {
                    ConsumerStats::add(&self.stats.retried, 1);
                    span.in_scope(|| debug!(sequence = d.sequence, %reason, "Retry; nak'ing."));
                    other.push((d, span, Settle::Nak(after), reason));
                }
                Outcome::Poison(reason) => {
                    ConsumerStats::add(&self.stats.poison, 1);
                    span.in_scope(|| warn!(subject = %d.message.subject, sequence = d.sequence, %reason, "Poison; terminating."));
                    other.push((d, span, Settle::Term, reason));
                }
            }
        }
        // Settles one by one: each is a quick hand-off to the bus (no broker round trip to wait for), and
        // joining thousands of them costs more than it saves.
        for (d, span, how, reason) in &other {
            self.settled(d.settle(*how, Some(reason)).instrument(span.clone()).await, d.sequence);
        }
        if done.is_empty() {
            return Ok(());
        }
        match self.publish(raws, events).await {
            Ok(()) => {
                self.handler.after_publish(true);
                ConsumerStats::add(&self.stats.done, done.len());
                for (d, span) in &done {
                    self.settled(d.ack().instrument(span.clone()).await, d.sequence);
                }
            }
            Err(error) => {
                self.handler.after_publish(false);
                ConsumerStats::add(&self.stats.publish_errors, 1);
                ConsumerStats::add(&self.stats.retried, done.len());
                warn!(service = self.cfg.service, deliveries = done.len(), %error, "Publishing outputs failed; the batch will be redelivered.");
                let delay = error.retry_after().unwrap_or(self.cfg.nak_delay);
                let reason = format!("{} publish failed: {error}", self.cfg.service);
                for (d, span) in &done {
                    self.settled(d.nak(Some(delay), &reason).instrument(span.clone()).await, d.sequence);
                }
            }
        }
        Ok(())
    }

    /// Publishes raw captures, then (once they are all stored) the other outputs.
    async fn publish(&self, raws: Vec<Message>, events: Vec<Message>) -> Result<(), BusError> {
        for msgs in [raws, events] {
            if msgs.is_empty() {
                continue;
            }
            let acks = self.bus.publish_batch(msgs).await?;
            ConsumerStats::add(&self.stats.published, acks.len());
            ConsumerStats::add(&self.stats.duplicates, acks.iter().filter(|a| a.duplicate).count());
        }
        Ok(())
    }

    fn settled(&self, settled: Result<(), BusError>, sequence: u64) {
        if let Err(error) = settled {
            ConsumerStats::add(&self.stats.settle_errors, 1);
            warn!(service = self.cfg.service, %error, sequence, "Settle failed; the bus will redeliver.");
        }
    }
}
