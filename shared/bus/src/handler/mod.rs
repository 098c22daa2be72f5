//! The handler kernel: what a consuming service implements, and the one loop ([`Consumer`]) that does
//! everything else.
//!
//! A service implements [`Handler`]: it decodes one delivered message and handles it, answering with an
//! [`Outcome`]: `Done(outputs)`, `Retry { after, reason }` or `Poison(reason)`. The kernel fetches batches,
//! opens a handle span per delivery (continuing the publisher's trace), decodes, handles, publishes the
//! batch's outputs and only then acks, naks retries, terminates poison (the bus dead-letters it), and
//! counts it all ([`ConsumerStats`]). No service writes its own fetch/ack loop.
//!
//! A service that must see a whole batch at once (the ledger commits one batch in one transaction, the
//! enricher looks up pairs for many assets per call) implements [`BatchHandler`] instead; every
//! [`Handler`] is a [`BatchHandler`] whose batch method groups deliveries by [`Handler::order_key`] and
//! handles the groups with bounded concurrency ([`handle_each`]).

mod run;
mod stats;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tracing::{Instrument, Span};

use crate::{BusError, Message};

pub use run::{Consumer, ConsumerConfig};
pub use stats::{ConsumerCounts, ConsumerStats, DROPPED_HELP, ERRORS_HELP, PUBLISHED_HELP, RECEIVED_HELP};

/// Bytes of an undecodable payload kept in logs and term reasons.
pub const PREVIEW_BYTES: usize = 200;

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Handled: publish these outputs (possibly none), then ack the delivery.
    Done(Vec<Message>),
    /// Not now: NAK, to be redelivered after `after` (at once when `None`). The bus dead-letters the
    /// delivery once `max_deliver` attempts are used up.
    Retry { after: Option<Duration>, reason: String },
    /// Never: terminate the delivery; the bus dead-letters it with `reason`.
    Poison(String),
}

impl Outcome {
    /// `Retry` with a reason.
    #[must_use]
    pub fn retry(after: Option<Duration>, reason: impl Into<String>) -> Self {
        Self::Retry { after, reason: reason.into() }
    }

    /// `Poison` with a reason.
    #[must_use]
    pub fn poison(reason: impl Into<String>) -> Self {
        Self::Poison(reason.into())
    }
}

/// One decoded delivery of a batch, with the span its handling (and its outputs' trace) belongs to.
#[derive(Debug)]
pub struct Item<I> {
    pub input: I,
    pub span: Span,
}

/// A consuming service's logic for one delivery at a time.
///
/// Deliveries are handled in delivery order when [`concurrency`](Handler::concurrency) is 1 (the
/// default). Above 1, deliveries with the same [`order_key`](Handler::order_key) are still handled in
/// delivery order, one after the other, while different keys (and deliveries without a key) run
/// concurrently, at most `concurrency` at a time. Outcomes, and so outputs, stay in delivery order.
pub trait Handler: Send + Sync + 'static {
    /// A decoded delivery.
    type Input: Send;
    /// A failure that stops the consumer (anything a redelivery could fix is an [`Outcome::Retry`]).
    type Error: From<BusError> + std::error::Error + Send + Sync + 'static;

    /// Decodes a delivered message; may record fields (`asset_id`) on `span`.
    ///
    /// # Errors
    /// Why the message can never be handled: the kernel terminates it (dead-letter) with this reason and
    /// a preview of the payload.
    fn decode(&self, msg: &Message, span: &Span) -> Result<Self::Input, String>;

    /// Deliveries with the same key are handled in delivery order; `None` orders nothing.
    fn order_key<'a>(&self, _input: &'a Self::Input) -> Option<&'a str> {
        None
    }

    /// How many deliveries of a batch may be handled at once (default 1: one at a time, in order).
    fn concurrency(&self) -> usize {
        1
    }

    /// Handles one decoded delivery inside its `span`.
    ///
    /// # Errors
    /// A fatal error: the consumer stops and returns it; the batch's deliveries are NAKed.
    fn handle(&self, input: Self::Input, span: &Span) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// As [`BatchHandler::after_publish`].
    fn after_publish(&self, _published: bool) {}
}

/// A consuming service's logic for a whole fetched batch; what [`Consumer`] runs. Every [`Handler`] is
/// one. Batches are handled one at a time, in fetch order: a batch's outputs are published and its
/// deliveries settled before the next batch's [`handle_batch`](BatchHandler::handle_batch) starts.
pub trait BatchHandler: Send + Sync + 'static {
    /// A decoded delivery.
    type Input: Send;
    /// A failure that stops the consumer.
    type Error: From<BusError> + std::error::Error + Send + Sync + 'static;

    /// As [`Handler::decode`]. Runs while the previous batch is still being handled.
    ///
    /// # Errors
    /// As [`Handler::decode`].
    fn decode(&self, msg: &Message, span: &Span) -> Result<Self::Input, String>;

    /// Handles a batch; returns exactly one outcome per item, in item order.
    ///
    /// # Errors
    /// A fatal error: the consumer stops and returns it; the batch's deliveries are NAKed.
    fn handle_batch(&self, items: Vec<Item<Self::Input>>) -> impl Future<Output = Result<Vec<Outcome>, Self::Error>> + Send;

    /// Called after the batch's `Done` outputs were published (`true`) or failed to publish (`false`,
    /// the `Done` deliveries are then NAKed), before those deliveries are settled. Also called with
    /// `true` for a batch whose `Done` deliveries had no outputs.
    fn after_publish(&self, _published: bool) {}

    /// Called after a fetch that brought nothing (the stream is idle).
    ///
    /// # Errors
    /// A fatal error: the consumer stops and returns it.
    fn idle(&self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async { Ok(()) }
    }
}

impl<H: Handler> BatchHandler for H {
    type Input = H::Input;
    type Error = H::Error;

    fn decode(&self, msg: &Message, span: &Span) -> Result<Self::Input, String> {
        Handler::decode(self, msg, span)
    }

    fn handle_batch(&self, items: Vec<Item<Self::Input>>) -> impl Future<Output = Result<Vec<Outcome>, Self::Error>> + Send {
        handle_each(self, items)
    }

    fn after_publish(&self, published: bool) {
        Handler::after_publish(self, published);
    }
}

/// A [`Handler`]'s batch: one [`Handler::handle`] per item, grouped by order key with bounded
/// concurrency (see [`Handler`]). Outcomes come back in item order.
///
/// # Errors
/// The first fatal error of a `handle`; the remaining items are not handled.
pub async fn handle_each<H: Handler + ?Sized>(h: &H, items: Vec<Item<H::Input>>) -> Result<Vec<Outcome>, H::Error> {
    let limit = h.concurrency().max(1);
    if limit == 1 {
        let mut out = Vec::with_capacity(items.len());
        for Item { input, span } in items {
            out.push(h.handle(input, &span).instrument(span.clone()).await?);
        }
        return Ok(out);
    }
    let n = items.len();
    let mut groups: Vec<Vec<(usize, Item<H::Input>)>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.into_iter().enumerate() {
        let group = match h.order_key(&item.input) {
            Some(key) => *by_key.entry(key.to_owned()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        groups[group].push((i, item));
    }
    let mut running = futures::stream::iter(groups)
        .map(|group| async move {
            let mut done = Vec::with_capacity(group.len());
            for (i, Item { input, span }) in group {
                done.push((i, h.handle(input, &span).instrument(span.clone()).await?));
            }
            Ok::<_, H::Error>(done)
        })
        .buffer_unordered(limit);
    let mut slots: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();
    while let Some(done) = running.next().await {
        for (i, outcome) in done? {
            slots[i] = Some(outcome);
        }
    }
    // Every index was filled by its group; the fallback only guards the invariant.
    Ok(slots.into_iter().map(|o| o.unwrap_or_else(|| Outcome::retry(None, "not handled"))).collect())
}

/// A delivered message as an envelope, recording its `asset_id` on the handling span: what most handlers
/// decode. A typed payload (embedded mode) is handed over as is, shared, with no parse and no copy; bytes
/// (NATS) are parsed. The error names what went wrong (the kernel adds a payload preview when it
/// terminates it).
///
/// # Errors
/// The serde error when the payload is not an envelope.
pub fn decode_envelope(msg: &Message, span: &Span) -> Result<std::sync::Arc<nl_domain::Envelope>, String> {
    let env = msg.payload.to_envelope().map_err(|e| format!("undecodable envelope: {e}"))?;
    if let Some(asset) = &env.asset_id {
        span.record("asset_id", asset.as_str());
    }
    Ok(env)
}

/// The first [`PREVIEW_BYTES`] of a payload as text (lossy), with `...` when cut.
#[must_use]
pub fn preview(payload: &[u8]) -> String {
    let cut = &payload[..payload.len().min(PREVIEW_BYTES)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if payload.len() > PREVIEW_BYTES {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;

    /// Records the order inputs were handled in; inputs are `(key, n)`.
    struct Recording {
        concurrency: usize,
        seen: Mutex<Vec<(String, u32)>>,
    }

    impl Handler for Recording {
        type Input = (String, u32);
        type Error = BusError;

        fn decode(&self, _msg: &Message, _span: &Span) -> Result<Self::Input, String> {
            Err("unused".into())
        }

        fn order_key<'a>(&self, input: &'a Self::Input) -> Option<&'a str> {
            Some(&input.0)
        }

        fn concurrency(&self) -> usize {
            self.concurrency
        }

        async fn handle(&self, input: Self::Input, _span: &Span) -> Result<Outcome, BusError> {
            // Later inputs of a key finish sooner, so only the kernel's grouping keeps them in order.
            tokio::time::sleep(Duration::from_millis(u64::from(10 - input.1))).await;
            self.seen.lock().unwrap().push(input.clone());
            Ok(Outcome::Done(vec![Message::new("nl.out", format!("{}-{}", input.0, input.1), "")]))
        }
    }

    fn items(inputs: &[(&str, u32)]) -> Vec<Item<(String, u32)>> {
        inputs.iter().map(|(k, n)| Item { input: ((*k).to_owned(), *n), span: Span::none() }).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn same_key_in_order_outcomes_in_item_order() {
        let h = Recording { concurrency: 4, seen: Mutex::default() };
        let t0 = tokio::time::Instant::now();
        let out = handle_each(&h, items(&[("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)])).await.unwrap();
        let ids: Vec<String> = out
            .iter()
            .map(|o| match o {
                Outcome::Done(m) => m[0].id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["a-1", "b-1", "a-2", "c-1", "a-3", "b-2"]);
        let seen = h.seen.lock().unwrap().clone();
        let of = |k: &str| seen.iter().filter(|(key, _)| key == k).map(|(_, n)| *n).collect::<Vec<_>>();
        assert_eq!((of("a"), of("b")), (vec![1, 2, 3], vec![1, 2]));
        // One at a time would take 9+8+7 (a) + 9+8 (b) + 9 (c) = 50 ms; concurrently, as long as key a.
        assert_eq!(t0.elapsed(), Duration::from_millis(24), "different keys ran concurrently");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_one_handles_in_delivery_order() {
        let h = Recording { concurrency: 1, seen: Mutex::default() };
        handle_each(&h, items(&[("b", 1), ("a", 1), ("b", 2)])).await.unwrap();
        assert_eq!(*h.seen.lock().unwrap(), [("b".to_owned(), 1), ("a".to_owned(), 1), ("b".to_owned(), 2)]);
    }

    #[test]
    fn preview_is_bounded() {
        assert_eq!(preview(b"abc"), "abc");
        assert_eq!(preview(&[b'x'; 1000]).len(), PREVIEW_BYTES + 3);
    }
}
