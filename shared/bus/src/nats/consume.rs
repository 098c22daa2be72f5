//! The consuming side of [`super::NatsBus`]: pull subscriptions, settling, and dead-lettering.
//!
//! `fetch` issues waiting pull requests for at most `max` messages (expiring with the caller's `wait`)
//! and returns as soon as one message is in, plus whatever else has already arrived. A request stays
//! open across calls until it is fully served or expires. Every request of a subscription replies to
//! one inbox subscription that lives as long as the subscription: a request given up on client-side
//! (its expiry passed without a 408, e.g. because the server received it late) can still deliver, and
//! with a subscription per request that delivery reached an unsubscribed inbox and waited out
//! `ack_wait`. Nothing is prefetched beyond what the caller asked for, except what a lapsed request
//! delivers late. Dropping the subscription NAKs whatever arrived but was not handed out.
//! `no_wait` requests are never used: on 2.9.10 a `no_wait` pull at `max_ack_pending` makes the server
//! redeliver outstanding messages at once (measured: seq 1 delivered 3 times in one fetch).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::jetstream::message::Acker as JsAcker;
use async_nats::{HeaderMap, HeaderValue, StatusCode, Subject};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;
use tokio::time::Instant;

use super::{NATS_MSG_ID, Shared};
use crate::memory::dlq_id;
use crate::{
    Acker, BusError, ConsumerSpec, Delivery, HDR_DLQ_CONSUMER, HDR_DLQ_REASON, HDR_ORIGINAL_ID, HDR_ORIGINAL_SEQUENCE, HDR_ORIGINAL_SUBJECT, Message, Settle,
    Subscription, dlq_subject,
};

/// Longest reason kept in the `Nl-Dlq-Reason` header.
const MAX_REASON_LEN: usize = 512;

/// Copies a stream message to the dead-letter subject, deduplicated per (consumer, sequence).
#[derive(Debug)]
pub struct DlqWriter {
    js: async_nats::jetstream::Context,
    stream: async_nats::jetstream::stream::Stream,
}

impl DlqWriter {
    pub(crate) fn new(js: async_nats::jetstream::Context, stream: async_nats::jetstream::stream::Stream) -> Self {
        Self { js, stream }
    }

    /// Reads stream sequence `seq` and publishes it to `nl.dlq.<durable>.<subject>` with its headers
    /// plus the `Nl-*` dead-letter headers, using `Nats-Msg-Id = dlq-<durable>-<seq>`.
    ///
    /// # Errors
    /// `BusError::Broker` when the original cannot be read, `BusError::Publish` when the copy is not stored.
    pub async fn dead_letter(&self, durable: &str, seq: u64, reason: &str) -> Result<(), BusError> {
        let raw = self.stream.get_raw_message(seq).await.map_err(|e| BusError::Broker(format!("get message {seq}: {e}")))?;
        let original_subject = raw.subject.to_string();
        let mut headers = raw.headers;
        if let Some(id) = headers.get(NATS_MSG_ID).map(|v| v.as_str().to_owned()) {
            headers.insert(HDR_ORIGINAL_ID, id.as_str());
        }
        headers.insert(NATS_MSG_ID, dlq_id(durable, seq).as_str());
        headers.insert(HDR_DLQ_REASON, header_safe(reason));
        headers.insert(HDR_ORIGINAL_SUBJECT, original_subject.as_str());
        headers.insert(HDR_ORIGINAL_SEQUENCE, seq.to_string().as_str());
        headers.insert(HDR_DLQ_CONSUMER, durable);
        let subject = dlq_subject(durable, &original_subject);
        let publish_err = |e: &dyn std::fmt::Display| BusError::Publish { subject: subject.clone(), reason: e.to_string() };
        let ack = self.js.publish_with_headers(subject.clone(), headers, raw.payload).await.map_err(|e| publish_err(&e))?;
        let ack = ack.await.map_err(|e| publish_err(&e))?;
        tracing::warn!(durable, seq, reason, dlq_seq = ack.sequence, duplicate = ack.duplicate, "Message dead-lettered.");
        Ok(())
    }
}

/// A header value cannot hold CR/LF; reasons are free text, so flatten and bound them.
fn header_safe(reason: &str) -> HeaderValue {
    let flat: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_LEN).collect();
    HeaderValue::from_str(&flat).unwrap_or_default()
}

#[derive(Deserialize)]
struct MaxDeliveriesAdvisory {
    consumer: String,
    stream_seq: u64,
    deliveries: u64,
}

/// Listens for `MAX_DELIVERIES` advisories of every consumer of `stream` and dead-letters the message.
/// This catches messages whose last attempt timed out (no nak, so our settle path never saw it).
pub(super) async fn spawn_advisory_listener(client: &async_nats::Client, stream: &str, dlq: Arc<DlqWriter>) -> Result<tokio::task::JoinHandle<()>, BusError> {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.*");
    let mut sub = client.subscribe(subject.clone()).await.map_err(|e| BusError::Connect(format!("subscribe {subject}: {e}")))?;
    // The SUB must reach the server before any consumer can exhaust a message.
    client.flush().await.map_err(|e| BusError::Connect(format!("flush: {e}")))?;
    Ok(tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let adv: MaxDeliveriesAdvisory = match serde_json::from_slice(&msg.payload) {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(%error, "Unreadable MAX_DELIVERIES advisory ignored.");
                    continue;
                }
            };
            let reason = format!("max_deliver exceeded ({} attempts, ack wait expired)", adv.deliveries);
            if let Err(error) = dlq.dead_letter(&adv.consumer, adv.stream_seq, &reason).await {
                tracing::error!(consumer = %adv.consumer, seq = adv.stream_seq, %error, "Dead-lettering an exhausted message failed.");
            }
        }
    }))
}

/// A bound durable pull consumer.
pub(super) struct NatsSubscription {
    shared: Arc<Shared>,
    consumer: PullConsumer,
    durable: Arc<str>,
    max_deliver: u32,
    /// Every pull request of this subscription replies to `<inbox>.<n>`, all caught by this one
    /// subscription, which lives as long as the subscription does. A request given up on (presumed
    /// expired) may still deliver; what it delivers lands here and a later fetch hands it out.
    replies: async_nats::Subscriber,
    inbox: String,
    /// Pull requests sent so far (numbers their reply subjects).
    pulls: u64,
    /// The request in progress, if any.
    open: Option<Pull>,
}

/// A pull request in progress.
struct Pull {
    reply: Subject,
    /// Messages it may still deliver.
    owed: usize,
    /// When it is presumed expired at the server (its status may never come).
    stale_at: Instant,
}

impl NatsSubscription {
    pub(super) async fn new(shared: Arc<Shared>, consumer: PullConsumer, spec: &ConsumerSpec) -> Result<Self, BusError> {
        let inbox = shared.client.new_inbox();
        let replies = shared
            .client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| BusError::Broker(format!("consumer {}: subscribe to its inbox: {e}", spec.durable)))?;
        let durable = Arc::from(spec.durable.as_str());
        Ok(Self { shared, consumer, durable, max_deliver: spec.max_deliver, replies, inbox, pulls: 0, open: None })
    }

    fn err(&self, reason: impl std::fmt::Display) -> BusError {
        BusError::Consumer { durable: self.durable.to_string(), reason: reason.to_string() }
    }

    /// A failed pull. A consumer that is gone (deleted, no responders) is not retryable: the service
    /// restarts and binds it again. Anything else (a timeout, a dropped connection) is a passing broker
    /// condition, retried by the caller.
    fn pull_err(&self, e: &dyn std::fmt::Display) -> BusError {
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        if ["deleted", "no responders", "not found", "404"].iter().any(|gone| lower.contains(gone)) {
            self.err(format!("pull: {text}"))
        } else {
            BusError::Broker(format!("consumer {}: pull: {text}", self.durable))
        }
    }

    fn to_delivery(&self, msg: async_nats::jetstream::Message) -> Result<Delivery, BusError> {
        let (delivered, sequence) = {
            let info = msg.info().map_err(|e| self.err(format!("bad delivery metadata: {e}")))?;
            (u32::try_from(info.delivered).unwrap_or(u32::MAX), info.stream_sequence)
        };
        let (msg, acker) = msg.split();
        let (id, headers) = from_headers(msg.headers.as_ref());
        let message = Message { subject: msg.subject.to_string(), id, headers, payload: msg.payload.into() };
        let acker =
            NatsAcker { acker, shared: Arc::clone(&self.shared), durable: Arc::clone(&self.durable), seq: sequence, delivered, max_deliver: self.max_deliver };
        Ok(Delivery::new(message, delivered, sequence, Arc::new(acker)))
    }
}

fn from_headers(h: Option<&HeaderMap>) -> (String, std::collections::BTreeMap<String, String>) {
    let mut id = String::new();
    let mut out = std::collections::BTreeMap::new();
    for (name, values) in h.into_iter().flat_map(HeaderMap::iter) {
        let Some(value) = values.last() else { continue };
        if AsRef::<str>::as_ref(name) == NATS_MSG_ID {
            value.as_str().clone_into(&mut id);
        } else {
            out.insert(name.to_string(), value.as_str().to_owned());
        }
    }
    (id, out)
}

impl NatsSubscription {
    /// Sends a pull request for `max` messages expiring at `deadline` (at least [`MIN_EXPIRES`] away).
    async fn pull(&mut self, max: usize, deadline: Instant) -> Result<(), BusError> {
        self.pulls += 1;
        let reply = Subject::from(format!("{}.{}", self.inbox, self.pulls));
        let expires = deadline.saturating_duration_since(Instant::now()).max(MIN_EXPIRES);
        let request = BatchConfig { batch: max, expires: Some(expires), ..BatchConfig::default() };
        self.consumer.request_batch(request, reply.clone()).await.map_err(|e| self.pull_err(&e))?;
        self.open = Some(Pull { reply, owed: max, stale_at: Instant::now() + expires + EXPIRY_GRACE });
        Ok(())
    }

    /// Reads one reply: a message goes to `raw`. A status only ends the request in progress when it is
    /// that request's (its subject is the request's reply subject); a message counts against it either
    /// way. `Ok(true)`: the server refused the request (409, e.g. max waiting requests), back off.
    fn on_reply(&mut self, msg: async_nats::Message, raw: &mut Vec<async_nats::jetstream::Message>) -> Result<bool, BusError> {
        let status = msg.status.unwrap_or(StatusCode::OK);
        if status == StatusCode::OK {
            if let Some(open) = self.open.as_mut() {
                open.owed = open.owed.saturating_sub(1);
                if open.owed == 0 {
                    self.open = None;
                }
            }
            raw.push(async_nats::jetstream::Message { message: msg, context: self.shared.js.clone() });
            return Ok(false);
        }
        if status == StatusCode::IDLE_HEARTBEAT || self.open.as_ref().is_none_or(|open| open.reply != msg.subject) {
            return Ok(false);
        }
        // The request in progress ran out: expired (408), nothing to deliver (404) or refused.
        self.open = None;
        if status == StatusCode::TIMEOUT || status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        let text = format!("{status}, {:?}", msg.description);
        if status == StatusCode::REQUEST_TERMINATED {
            tracing::debug!(durable = %self.durable, error = %text, "Pull refused; backing off.");
            return Ok(true);
        }
        Err(self.pull_err(&text))
    }

    /// Takes the replies that have already arrived, until `raw` holds `max` messages.
    fn take_ready(&mut self, raw: &mut Vec<async_nats::jetstream::Message>, max: usize) -> Result<(), BusError> {
        while raw.len() < max {
            let Some(Some(msg)) = self.replies.next().now_or_never() else { break };
            self.on_reply(msg, raw)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Subscription for NatsSubscription {
    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let max = max.max(1);
        let deadline = Instant::now() + wait;
        let mut raw = Vec::new();
        self.take_ready(&mut raw, max)?;
        // Wait for the first message, asking for more if no request is in progress.
        while raw.is_empty() {
            let stale_at = match &self.open {
                Some(open) => open.stale_at,
                None => {
                    self.pull(max, deadline).await?;
                    continue;
                }
            };
            match tokio::time::timeout_at(deadline.min(stale_at), self.replies.next()).await {
                Err(_) if Instant::now() >= deadline => return Ok(Vec::new()),
                // The server let the request lapse without a 408 (seen on 2.9.10 at max_ack_pending):
                // ask again. Should it deliver after all, that lands in the inbox all the same.
                Err(_) => self.open = None,
                Ok(None) => return Err(self.err("its inbox subscription closed")),
                Ok(Some(msg)) => {
                    if self.on_reply(msg, &mut raw)? {
                        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_millis(100))).await;
                    }
                }
            }
            if raw.is_empty() && Instant::now() >= deadline {
                return Ok(Vec::new());
            }
        }
        // Then take whatever else has already arrived.
        self.take_ready(&mut raw, max)?;
        raw.into_iter().map(|m| self.to_delivery(m)).collect()
    }
}

impl Drop for NatsSubscription {
    /// What arrived but was never handed out is NAKed (through a dropped [`Delivery`]), so it is
    /// redelivered now rather than after `ack_wait`.
    fn drop(&mut self) {
        while let Some(Some(msg)) = self.replies.next().now_or_never() {
            if msg.status.is_none_or(|s| s == StatusCode::OK) {
                drop(self.to_delivery(async_nats::jetstream::Message { message: msg, context: self.shared.js.clone() }));
            }
        }
    }
}

/// Shortest expiry of a pull request.
const MIN_EXPIRES: Duration = Duration::from_millis(10);
/// How long past its expiry a request may still deliver (server receipt lag) before it is given up.
const EXPIRY_GRACE: Duration = Duration::from_millis(100);

struct NatsAcker {
    acker: JsAcker,
    shared: Arc<Shared>,
    durable: Arc<str>,
    seq: u64,
    delivered: u32,
    max_deliver: u32,
}

impl NatsAcker {
    async fn send(&self, kind: AckKind) -> Result<(), BusError> {
        let res = if self.shared.config.double_ack { self.acker.double_ack_with(kind).await } else { self.acker.ack_with(kind).await };
        res.map_err(|e| BusError::Settle(format!("{}/{}: {e}", self.durable, self.seq)))
    }

    async fn dead_letter(&self, reason: &str) -> Result<(), BusError> {
        self.shared.dlq.dead_letter(&self.durable, self.seq, reason).await?;
        self.send(AckKind::Term).await
    }
}

#[async_trait]
impl Acker for NatsAcker {
    async fn settle(&self, how: Settle, reason: Option<&str>) -> Result<(), BusError> {
        let reason = reason.unwrap_or("unspecified");
        match how {
            Settle::Ack => self.send(AckKind::Ack).await,
            Settle::Nak(delay) if self.delivered < self.max_deliver => self.send(AckKind::Nak(delay)).await,
            Settle::Nak(_) => self.dead_letter(&format!("max_deliver exceeded ({} attempts): nak: {reason}", self.delivered)).await,
            Settle::Term => self.dead_letter(&format!("term: {reason}")).await,
        }
    }
}
