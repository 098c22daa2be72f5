//! The message bus: one trait, two implementations with the same semantics.
//!
//! * publish returns only once the message is durable (JetStream PubAck / in-memory store);
//! * messages carry an id (`event_id`) and the bus drops a second publish of the same id within the
//!   dedup window (`Nats-Msg-Id`);
//! * consumers are durable and pull-based; delivery is at-least-once; `ack`/`nak`/`term` are explicit;
//!   an unacked delivery is redelivered after `ack_wait`;
//! * after `max_deliver` failed attempts a message is copied to `nl.dlq.<consumer>.<subject>` and
//!   terminated, so poison is counted and visible, never redelivered forever;
//! * a delivery dropped unsettled is NAKed.
//!
//! On top of the bus sit the pieces every consuming service shares: the [`handler`] kernel (one consumer
//! loop: fetch, decode, handle, publish, then settle) and the [`service`] lifecycle (`build(cfg,
//! ServiceCtx)`, then `run(shutdown)`).
#![forbid(unsafe_code)]

mod dedup;
mod envelope;
pub mod error;
pub mod flow;
pub mod handler;
pub mod lease;
pub mod memory;
pub mod nats;
mod payload;
pub mod service;
mod subject;
pub mod trace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use envelope::{observation_messages, raw_messages};
pub use error::BusError;
pub use flow::{FlowControl, FlowStats};
pub use handler::{BatchHandler, Consumer, ConsumerConfig, ConsumerCounts, ConsumerStats, Handler, Item, Outcome};
pub use lease::{Lease, Leases, MemoryLeases, NatsLeases};
pub use memory::{MemoryBus, MemoryBusConfig};
pub use nats::{NatsBus, NatsConfig};
pub use payload::Payload;
/// The metrics registry a [`Service`] registers its counters with.
pub use nl_telemetry::Registry;
pub use service::{BoxError, Clock, Counts, EnvLookup, Service, ServiceCtx, SystemClock, TokioClock};
pub use subject::subject_matches;
/// The shutdown signal every service's `run` takes.
pub use tokio_util::sync::CancellationToken;
#[doc(hidden)]
pub use async_trait::async_trait;

/// Subject prefix of dead-lettered messages.
pub const DLQ_PREFIX: &str = "nl.dlq";

/// Header on a dead-lettered copy: why it was dead-lettered (`nak: ...`, `term: ...`, `max_deliver exceeded ...`).
pub const HDR_DLQ_REASON: &str = "Nl-Dlq-Reason";
/// Header on a dead-lettered copy: the subject the message was originally published to.
pub const HDR_ORIGINAL_SUBJECT: &str = "Nl-Original-Subject";
/// Header on a dead-lettered copy: the original message id (`Nats-Msg-Id`).
pub const HDR_ORIGINAL_ID: &str = "Nl-Original-Id";
/// Header on a dead-lettered copy: the original stream sequence.
pub const HDR_ORIGINAL_SEQUENCE: &str = "Nl-Original-Sequence";
/// Header on a dead-lettered copy: the durable consumer that gave up.
pub const HDR_DLQ_CONSUMER: &str = "Nl-Dlq-Consumer";

/// A message to publish or a delivered message's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub subject: String,
    /// Dedup id (`Nats-Msg-Id`): the event id.
    pub id: String,
    /// Extra headers, e.g. the W3C `traceparent`.
    pub headers: BTreeMap<String, String>,
    /// Bytes, or a typed envelope (see [`Payload`]): `MemoryBus` carries it as is, `NatsBus` writes its
    /// JSON on publish.
    pub payload: Payload,
}

impl Message {
    #[must_use]
    pub fn new(subject: impl Into<String>, id: impl Into<String>, payload: impl Into<Payload>) -> Self {
        Self { subject: subject.into(), id: id.into(), headers: BTreeMap::new(), payload: payload.into() }
    }
}

/// The bus's answer to a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishAck {
    /// Stream sequence of the stored message (the original's, for a duplicate).
    pub sequence: u64,
    /// True when the id was already stored within the dedup window and this publish was dropped.
    pub duplicate: bool,
}

/// A durable pull consumer's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// Durable name; consumers with the same name share work and resume where the last one stopped.
    pub durable: String,
    /// One subject filter (NATS wildcards `*` and `>`).
    pub filter_subject: String,
    /// How long a delivery may stay unacked before it is redelivered.
    pub ack_wait: Duration,
    /// Attempts before the message is dead-lettered.
    pub max_deliver: u32,
    /// Bound on deliveries outstanding (unacked) at once.
    pub max_ack_pending: usize,
}

impl ConsumerSpec {
    /// A spec with the defaults services use: 30 s ack wait, 5 attempts, 10,000 outstanding.
    #[must_use]
    pub fn new(durable: impl Into<String>, filter_subject: impl Into<String>) -> Self {
        Self { durable: durable.into(), filter_subject: filter_subject.into(), ack_wait: Duration::from_secs(30), max_deliver: 5, max_ack_pending: 10_000 }
    }

    /// A spec with a service's settings: `ack_wait` in milliseconds, `max_deliver`, and room for at least
    /// one full `batch_size` of outstanding deliveries.
    #[must_use]
    pub fn tuned(durable: impl Into<String>, filter_subject: impl Into<String>, ack_wait_ms: u64, max_deliver: u32, batch_size: usize) -> Self {
        let mut spec = Self::new(durable, filter_subject);
        spec.ack_wait = Duration::from_millis(ack_wait_ms);
        spec.max_deliver = max_deliver;
        spec.max_ack_pending = spec.max_ack_pending.max(batch_size);
        spec
    }

    /// Checks the spec before it reaches a broker: a durable name is one token of `[A-Za-z0-9_-]`, the
    /// filter is a well-formed subject, and the bounds are positive.
    ///
    /// # Errors
    /// `BusError::Consumer` naming the offending field.
    pub fn validate(&self) -> Result<(), BusError> {
        let bad = |reason: &str| Err(BusError::Consumer { durable: self.durable.clone(), reason: reason.to_owned() });
        if self.durable.is_empty() || !self.durable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return bad("durable name must be non-empty [A-Za-z0-9_-]");
        }
        if !subject::is_valid_filter(&self.filter_subject) {
            return bad("filter_subject is not a valid subject filter");
        }
        if self.max_deliver == 0 || self.max_ack_pending == 0 || self.ack_wait.is_zero() {
            return bad("ack_wait, max_deliver and max_ack_pending must be positive");
        }
        Ok(())
    }
}

/// How a delivery is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Processed; never deliver again.
    Ack,
    /// Failed; redeliver after the delay (or at once). On the last allowed attempt this dead-letters instead.
    Nak(Option<Duration>),
    /// Poison: dead-letter now and never redeliver.
    Term,
}

/// Settles one delivery. Implemented per bus.
#[async_trait]
pub trait Acker: Send + Sync {
    /// # Errors
    /// `BusError` when the settlement could not be sent; the message will then be redelivered.
    async fn settle(&self, how: Settle, reason: Option<&str>) -> Result<(), BusError>;
}

/// A delivered message with its attempt count and its settle handle.
///
/// A delivery that is dropped without having been settled is NAKed (redelivered at once, or
/// dead-lettered on its last attempt) instead of waiting out its `ack_wait`: a handler that panics, a
/// consumer that stops on a fatal error, or a batch abandoned at shutdown hands its work back promptly.
/// The NAK is sent from a task spawned on the current tokio runtime; outside a runtime the broker's
/// `ack_wait` redelivers it as before.
pub struct Delivery {
    pub message: Message,
    /// 1 on first delivery.
    pub delivered: u32,
    /// Stream sequence.
    pub sequence: u64,
    acker: Arc<dyn Acker>,
    /// Set once a settle succeeded; a delivery dropped with this unset is NAKed.
    settled: AtomicBool,
}

/// The reason a delivery dropped unsettled is NAKed with.
pub const DROPPED_UNSETTLED: &str = "dropped unsettled";

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("message", &self.message).field("delivered", &self.delivered).field("sequence", &self.sequence).finish_non_exhaustive()
    }
}

impl Delivery {
    #[must_use]
    pub fn new(message: Message, delivered: u32, sequence: u64, acker: Arc<dyn Acker>) -> Self {
        Self { message, delivered, sequence, acker, settled: AtomicBool::new(false) }
    }

    /// Settles the delivery `how`, with `reason` for a NAK or a term (kept in the dead letter).
    ///
    /// # Errors
    /// See [`Acker::settle`]. A delivery whose settle failed is still NAKed when dropped.
    pub async fn settle(&self, how: Settle, reason: Option<&str>) -> Result<(), BusError> {
        self.acker.settle(how, reason).await?;
        self.settled.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// # Errors
    /// See [`Acker::settle`].
    pub async fn ack(&self) -> Result<(), BusError> {
        self.settle(Settle::Ack, None).await
    }

    /// # Errors
    /// See [`Acker::settle`].
    pub async fn nak(&self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        self.settle(Settle::Nak(delay), Some(reason)).await
    }

    /// # Errors
    /// See [`Acker::settle`].
    pub async fn term(&self, reason: &str) -> Result<(), BusError> {
        self.settle(Settle::Term, Some(reason)).await
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if self.settled.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (acker, sequence) = (Arc::clone(&self.acker), self.sequence);
        runtime.spawn(async move {
            if let Err(error) = acker.settle(Settle::Nak(None), Some(DROPPED_UNSETTLED)).await {
                tracing::debug!(sequence, %error, "NAK of a delivery dropped unsettled failed; its ack wait will redeliver it.");
            }
        });
    }
}

/// A bound durable consumer.
#[async_trait]
pub trait Subscription: Send {
    /// Waits up to `wait` for up to `max` deliveries. An empty vec means nothing arrived in time.
    ///
    /// # Errors
    /// `BusError` on connection or consumer failure.
    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;
}

/// Counters of a consumer, as the broker sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Messages matching the filter not yet delivered.
    pub num_pending: u64,
    /// Delivered and not yet settled.
    pub num_ack_pending: u64,
    /// Messages delivered more than once.
    pub num_redelivered: u64,
}

/// The bus.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes one message and waits until it is durable.
    ///
    /// # Errors
    /// `BusError` when the message was not stored (it may be retried with the same id safely).
    async fn publish(&self, msg: Message) -> Result<PublishAck, BusError>;

    /// Publishes many messages, pipelined through a bounded in-flight window, and waits for all acks.
    /// Acks are returned in input order.
    ///
    /// # Errors
    /// `BusError` at the first failed publish; earlier ones may be stored (ids make retry safe).
    async fn publish_batch(&self, msgs: Vec<Message>) -> Result<Vec<PublishAck>, BusError>;

    /// Binds to (creating if needed) the durable consumer `spec.durable`.
    ///
    /// # Errors
    /// `BusError` when the consumer cannot be created or its spec conflicts with an existing one.
    async fn subscribe(&self, spec: ConsumerSpec) -> Result<Box<dyn Subscription>, BusError>;

    /// The broker's view of a durable consumer.
    ///
    /// # Errors
    /// `BusError::NotFound` for an unknown consumer.
    async fn consumer_state(&self, durable: &str) -> Result<ConsumerState, BusError>;

    /// Deletes a durable consumer (its state is lost; messages stay in the stream).
    ///
    /// # Errors
    /// `BusError::NotFound` for an unknown consumer.
    async fn delete_consumer(&self, durable: &str) -> Result<(), BusError>;

    /// Number of messages stored under `nl.dlq.>`.
    ///
    /// # Errors
    /// `BusError` on broker failure.
    async fn dead_letter_count(&self) -> Result<u64, BusError>;

    /// Flow control: waits, a bounded time, while the bus asks producers to slow down; returns how long
    /// it waited. Producers at the pipeline's edge (sources, re-snapshot rounds) call it before they
    /// produce. Only a [`MemoryBus`] configured with a [`FlowControl`] ever waits (see [`flow`]); a NATS
    /// stream has its own limits, so the default returns at once.
    async fn wait_for_room(&self) -> Duration {
        Duration::ZERO
    }
}

/// The dead-letter subject for a message of `subject` that consumer `durable` gave up on.
#[must_use]
pub fn dlq_subject(durable: &str, subject: &str) -> String {
    format!("{DLQ_PREFIX}.{durable}.{subject}")
}
