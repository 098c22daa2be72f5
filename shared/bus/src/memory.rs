//! `MemoryBus`: an in-process bus with the JetStream semantics the services rely on, for embedded mode
//! and tests.
//!
//! One stream of sequenced messages sits behind one `Mutex`; waiters park on a `Notify`. Publishes dedup
//! by id within a window; durable pull consumers track their own cursor, outstanding deliveries and
//! redelivery timers; exhausted or terminated messages are copied to `nl.dlq.<durable>.<subject>`.
//! All timing uses `tokio::time`, so tests can run on a paused clock.
//!
//! The store is bounded: when `max_messages` are retained, messages settled by every durable consumer
//! whose filter matches them are compacted away; if that frees nothing, publish fails with
//! [`BusError::Full`] and the shed is counted ([`MemoryBus::shed_count`]). Messages no consumer matches
//! are retained (a consumer created later must still see them), and dead-letter copies bypass the
//! bound so poison is never lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::dedup::DedupWindow;
use crate::flow::{FlowControl, FlowStats};
use crate::subject::{is_valid_subject, subject_matches};
use crate::{
    Acker, Bus, BusError, ConsumerSpec, ConsumerState, DLQ_PREFIX, Delivery, HDR_DLQ_CONSUMER, HDR_DLQ_REASON, HDR_ORIGINAL_ID, HDR_ORIGINAL_SEQUENCE,
    HDR_ORIGINAL_SUBJECT, Message, PublishAck, Settle, Subscription, dlq_subject,
};

/// Settings of a [`MemoryBus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBusConfig {
    /// How long a message id is remembered for dedup (JetStream's `duplicate_window`).
    pub duplicate_window: Duration,
    /// Bound on retained messages; reaching it triggers compaction, then shedding.
    pub max_messages: usize,
    /// When producers asking [`Bus::wait_for_room`] pause; `None` (the default) never pauses.
    pub flow: Option<FlowControl>,
}

impl Default for MemoryBusConfig {
    fn default() -> Self {
        Self { duplicate_window: Duration::from_secs(120), max_messages: 1_000_000, flow: None }
    }
}

/// The in-process bus. Cloning is cheap and shares the stream.
#[derive(Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new(MemoryBusConfig::default())
    }
}

struct Inner {
    state: Mutex<State>,
    notify: Notify,
    /// Producers paused by flow control park here; woken when a fetch brings the lag within the bound.
    room: Notify,
    config: MemoryBusConfig,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters consistent enough to keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Default)]
struct State {
    last_seq: u64,
    msgs: BTreeMap<u64, Message>,
    dedup: DedupWindow,
    consumers: HashMap<String, Consumer>,
    /// Sequences below this were already examined by compaction.
    compact_cursor: u64,
    dlq_stored: u64,
    shed: u64,
    generations: u64,
    flow: FlowStats,
    acks_since_compact: u32,
}

mod compact;

/// Acks between two incremental compactions: messages every matching consumer settled leave the store
/// (and their encoded JSON with them) within this many acks, not only at a run's checkpoint or the bound.
const COMPACT_EVERY_ACKS: u32 = 512;

struct Consumer {
    spec: ConsumerSpec,
    /// Distinguishes a recreated consumer from the deleted one, so stale settles are ignored.
    generation: u64,
    durable: Arc<str>,
    /// Next stream sequence to consider for a first delivery.
    next_seq: u64,
    /// Stored messages from `next_seq` on that match the filter (kept as messages come and go, so
    /// `consumer_state` does not scan the backlog under the lock).
    unseen: u64,
    /// Delivered and not yet settled (including nak'd ones waiting for their redelivery time).
    pending: BTreeMap<u64, Pending>,
    /// `(when, seq)`: redelivery time of each pending entry.
    timers: BTreeSet<(Instant, u64)>,
    /// When a subscription last asked this consumer for messages (its creation until then).
    last_fetch: Instant,
}

struct Pending {
    delivered: u32,
    deadline: Instant,
    /// Out with a subscriber (ack_wait running) rather than nak'd and waiting.
    out: bool,
}

impl Consumer {
    /// Everything below this sequence that matches the filter is settled.
    fn floor(&self) -> u64 {
        self.pending.first_key_value().map_or(self.next_seq, |(s, _)| (*s).min(self.next_seq))
    }
}

enum DeadReason {
    AckWait,
    Nak(String),
    Term(String),
}

impl DeadReason {
    fn text(&self, max_deliver: u32) -> String {
        match self {
            Self::AckWait => format!("max_deliver exceeded ({max_deliver} attempts, ack wait expired)"),
            Self::Nak(r) => format!("max_deliver exceeded ({max_deliver} attempts): nak: {r}"),
            Self::Term(r) => format!("term: {r}"),
        }
    }
}

impl State {
    /// The most messages any consumer that fetched within `active` (at `now`) has not yet been delivered.
    /// A consumer nobody has fetched from for longer is stalled or has no reader: waiting for it cannot help.
    fn lag(&self, now: Instant, active: Duration) -> u64 {
        self.consumers.values().filter(|c| now.saturating_duration_since(c.last_fetch) < active).map(|c| c.unseen).max().unwrap_or(0)
    }

    fn store(&mut self, msg: Message, now: Instant, config: &MemoryBusConfig, bounded: bool) -> Result<PublishAck, BusError> {
        if !is_valid_subject(&msg.subject) {
            return Err(BusError::Publish { subject: msg.subject, reason: "invalid subject".into() });
        }
        self.dedup.expire(now, config.duplicate_window);
        if !msg.id.is_empty()
            && let Some(sequence) = self.dedup.get(&msg.id)
        {
            return Ok(PublishAck { sequence, duplicate: true });
        }
        if bounded && self.msgs.len() >= config.max_messages {
            self.compact();
            if self.msgs.len() >= config.max_messages {
                self.shed += 1;
                return Err(BusError::Full { limit: config.max_messages });
            }
        }
        self.last_seq += 1;
        let sequence = self.last_seq;
        if !msg.id.is_empty() {
            self.dedup.insert(&msg.id, sequence, now);
        }
        if is_dlq(&msg.subject) {
            self.dlq_stored += 1;
        }
        // Every consumer's cursor is at or before the new sequence.
        for c in self.consumers.values_mut() {
            if subject_matches(&c.spec.filter_subject, &msg.subject) {
                c.unseen += 1;
            }
        }
        self.msgs.insert(sequence, msg);
        Ok(PublishAck { sequence, duplicate: false })
    }

    fn dead_letter(&mut self, durable: &str, seq: u64, reason: &str, now: Instant, config: &MemoryBusConfig) {
        let Some(orig) = self.msgs.get(&seq) else { return };
        let mut headers = orig.headers.clone();
        headers.insert(HDR_DLQ_REASON.to_owned(), reason.to_owned());
        headers.insert(HDR_ORIGINAL_SUBJECT.to_owned(), orig.subject.clone());
        headers.insert(HDR_ORIGINAL_ID.to_owned(), orig.id.clone());
        headers.insert(HDR_ORIGINAL_SEQUENCE.to_owned(), seq.to_string());
        headers.insert(HDR_DLQ_CONSUMER.to_owned(), durable.to_owned());
        let copy = Message { subject: dlq_subject(durable, &orig.subject), id: dlq_id(durable, seq), headers, payload: orig.payload.clone() };
        tracing::warn!(durable, seq, reason, "Message dead-lettered.");
        // Unbounded store: dead letters must never be shed; an invalid subject cannot happen here
        // because the original subject was validated on publish.
        if let Err(error) = self.store(copy, now, config, false) {
            tracing::error!(durable, seq, %error, "Storing a dead letter failed.");
        }
    }

    /// Moves ack-wait-exhausted deliveries of every consumer to the DLQ, as the broker does on its own.
    fn sweep_exhausted(&mut self, now: Instant, config: &MemoryBusConfig) {
        let mut dead: Vec<(Arc<str>, u64, u32)> = Vec::new();
        for c in self.consumers.values_mut() {
            let max_deliver = c.spec.max_deliver;
            let expired: Vec<(Instant, u64)> = c.timers.iter().take_while(|(t, _)| *t <= now).copied().collect();
            for (t, seq) in expired {
                if c.pending.get(&seq).is_some_and(|p| p.out && p.delivered >= max_deliver) {
                    c.pending.remove(&seq);
                    c.timers.remove(&(t, seq));
                    dead.push((Arc::clone(&c.durable), seq, max_deliver));
                }
            }
        }
        for (durable, seq, max_deliver) in dead {
            self.dead_letter(&durable, seq, &DeadReason::AckWait.text(max_deliver), now, config);
        }
    }

    /// Takes up to `max` deliveries for `durable`: due redeliveries first, then new messages.
    /// Returns the earliest future timer, so an empty-handed fetch knows when to look again.
    fn collect(&mut self, inner: &Arc<Inner>, durable: &str, max: usize, now: Instant, out: &mut Vec<Delivery>) -> Result<Option<Instant>, BusError> {
        let mut dead: Vec<(u64, DeadReason)> = Vec::new();
        let State { msgs, consumers, .. } = self;
        let c = consumers.get_mut(durable).ok_or_else(|| BusError::NotFound(format!("consumer {durable}")))?;
        let max_deliver = c.spec.max_deliver;
        let ack_wait = c.spec.ack_wait;
        while out.len() < max {
            let Some(&(deadline, seq)) = c.timers.first() else { break };
            if deadline > now {
                break;
            }
            c.timers.pop_first();
            let Some(p) = c.pending.get_mut(&seq) else { continue };
            if p.out && p.delivered >= max_deliver {
                c.pending.remove(&seq);
                dead.push((seq, DeadReason::AckWait));
                continue;
            }
            let Some(m) = msgs.get(&seq) else {
                c.pending.remove(&seq);
                continue;
            };
            p.delivered += 1;
            p.out = true;
            p.deadline = now + ack_wait;
            let (attempt, deadline) = (p.delivered, p.deadline);
            c.timers.insert((deadline, seq));
            out.push(delivery(inner, c, m, attempt, seq));
        }
        if out.len() < max && c.pending.len() < c.spec.max_ack_pending {
            for (&seq, m) in msgs.range(c.next_seq..) {
                if out.len() >= max || c.pending.len() >= c.spec.max_ack_pending {
                    break;
                }
                c.next_seq = seq + 1;
                if !subject_matches(&c.spec.filter_subject, &m.subject) {
                    continue;
                }
                c.unseen = c.unseen.saturating_sub(1);
                let deadline = now + ack_wait;
                c.pending.insert(seq, Pending { delivered: 1, deadline, out: true });
                c.timers.insert((deadline, seq));
                out.push(delivery(inner, c, m, 1, seq));
            }
        }
        let next_timer = c.timers.first().map(|(t, _)| *t);
        let name = Arc::clone(&c.durable);
        for (seq, why) in dead {
            self.dead_letter(&name, seq, &why.text(max_deliver), now, &inner.config);
        }
        Ok(next_timer)
    }

    /// Applies a settle; returns whether waiters should look again.
    fn settle(&mut self, target: &AckTarget, how: Settle, reason: Option<&str>, now: Instant, config: &MemoryBusConfig) -> bool {
        let Some(c) = self.consumers.get_mut(&*target.durable) else { return false };
        if c.generation != target.generation {
            return false;
        }
        let seq = target.seq;
        let reason = reason.unwrap_or("unspecified");
        let dead = match how {
            Settle::Ack => {
                let Some(p) = c.pending.remove(&seq) else { return false };
                c.timers.remove(&(p.deadline, seq));
                // Only a full consumer has fetchers waiting on an ack.
                let wake = c.pending.len() + 1 >= c.spec.max_ack_pending;
                self.acks_since_compact += 1;
                if self.acks_since_compact >= COMPACT_EVERY_ACKS {
                    self.acks_since_compact = 0;
                    self.compact();
                }
                return wake;
            }
            Settle::Nak(delay) => {
                let Some(p) = c.pending.get_mut(&seq) else { return false };
                if p.delivered != target.attempt || !p.out {
                    return false;
                }
                if p.delivered >= c.spec.max_deliver {
                    DeadReason::Nak(reason.to_owned())
                } else {
                    c.timers.remove(&(p.deadline, seq));
                    p.out = false;
                    p.deadline = now + delay.unwrap_or(Duration::ZERO);
                    c.timers.insert((p.deadline, seq));
                    return true;
                }
            }
            Settle::Term => DeadReason::Term(reason.to_owned()),
        };
        let Some(p) = c.pending.remove(&seq) else { return false };
        c.timers.remove(&(p.deadline, seq));
        let max_deliver = c.spec.max_deliver;
        let durable = Arc::clone(&c.durable);
        self.dead_letter(&durable, seq, &dead.text(max_deliver), now, config);
        true
    }
}

fn delivery(inner: &Arc<Inner>, c: &Consumer, m: &Message, attempt: u32, seq: u64) -> Delivery {
    let acker = MemoryAcker { inner: Arc::clone(inner), target: AckTarget { durable: Arc::clone(&c.durable), generation: c.generation, seq, attempt } };
    Delivery::new(m.clone(), attempt, seq, Arc::new(acker))
}

fn is_dlq(subject: &str) -> bool {
    subject.strip_prefix(DLQ_PREFIX).is_some_and(|rest| rest.starts_with('.'))
}

/// The dedup id of the dead-letter copy of stream sequence `seq` given up by `durable`.
pub(crate) fn dlq_id(durable: &str, seq: u64) -> String {
    format!("dlq-{durable}-{seq}")
}

impl MemoryBus {
    /// A bus with the given settings.
    #[must_use]
    pub fn new(config: MemoryBusConfig) -> Self {
        let state = Mutex::new(State { compact_cursor: 1, ..State::default() });
        Self { inner: Arc::new(Inner { state, notify: Notify::new(), room: Notify::new(), config }) }
    }

    /// Publishes refused because the store was full (explicit, counted shedding).
    #[must_use]
    pub fn shed_count(&self) -> u64 {
        self.inner.lock().shed
    }

    /// What flow control did so far.
    #[must_use]
    pub fn flow_stats(&self) -> FlowStats {
        self.inner.lock().flow
    }

    /// The most messages any consumer has not yet been delivered (what flow control bounds).
    #[must_use]
    pub fn lag(&self) -> u64 {
        self.inner.lock().lag(Instant::now(), Duration::MAX)
    }

    /// Messages currently retained.
    #[must_use]
    pub fn retained(&self) -> usize {
        self.inner.lock().msgs.len()
    }

    /// Compacts now: drops every message that all consumers matching it have settled, also above the
    /// slowest consumer's floor (at the bound only the part below that floor goes, lazily); returns the
    /// messages retained.
    #[must_use = "the retained count tells whether compaction freed anything"]
    pub fn compact(&self) -> usize {
        let mut st = self.inner.lock();
        st.compact_settled();
        st.msgs.len()
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, msg: Message) -> Result<PublishAck, BusError> {
        let ack = self.inner.lock().store(msg, Instant::now(), &self.inner.config, true)?;
        if !ack.duplicate {
            self.inner.notify.notify_waiters();
        }
        Ok(ack)
    }

    async fn publish_batch(&self, msgs: Vec<Message>) -> Result<Vec<PublishAck>, BusError> {
        let mut acks = Vec::with_capacity(msgs.len());
        let result = {
            let mut st = self.inner.lock();
            let now = Instant::now();
            msgs.into_iter().try_for_each(|m| st.store(m, now, &self.inner.config, true).map(|a| acks.push(a)))
        };
        if !acks.is_empty() {
            self.inner.notify.notify_waiters();
        }
        result.map(|()| acks)
    }

    async fn subscribe(&self, spec: ConsumerSpec) -> Result<Box<dyn Subscription>, BusError> {
        spec.validate()?;
        let mut st = self.inner.lock();
        let durable = if let Some(c) = st.consumers.get_mut(&spec.durable) {
            if c.spec.filter_subject != spec.filter_subject {
                return Err(BusError::Consumer {
                    durable: spec.durable,
                    reason: format!("exists with filter {} (asked for {})", c.spec.filter_subject, spec.filter_subject),
                });
            }
            c.spec = spec;
            Arc::clone(&c.durable)
        } else {
            st.generations += 1;
            let next_seq = st.msgs.first_key_value().map_or(st.last_seq + 1, |(s, _)| *s);
            let durable: Arc<str> = Arc::from(spec.durable.as_str());
            let unseen = st.msgs.range(next_seq..).filter(|(_, m)| subject_matches(&spec.filter_subject, &m.subject)).count() as u64;
            let c = Consumer {
                spec,
                generation: st.generations,
                durable: Arc::clone(&durable),
                next_seq,
                unseen,
                pending: BTreeMap::new(),
                timers: BTreeSet::new(),
                last_fetch: Instant::now(),
            };
            st.consumers.insert(durable.to_string(), c);
            // A new filter may match messages compaction skipped as unmatched: look at them again.
            st.compact_cursor = 1;
            durable
        };
        Ok(Box::new(MemorySubscription { inner: Arc::clone(&self.inner), durable }))
    }

    async fn consumer_state(&self, durable: &str) -> Result<ConsumerState, BusError> {
        let mut st = self.inner.lock();
        st.sweep_exhausted(Instant::now(), &self.inner.config);
        let c = st.consumers.get(durable).ok_or_else(|| BusError::NotFound(format!("consumer {durable}")))?;
        Ok(ConsumerState {
            num_pending: c.unseen,
            num_ack_pending: c.pending.len() as u64,
            num_redelivered: c.pending.values().filter(|p| p.delivered > 1).count() as u64,
        })
    }

    async fn delete_consumer(&self, durable: &str) -> Result<(), BusError> {
        let removed = self.inner.lock().consumers.remove(durable);
        self.inner.notify.notify_waiters();
        self.inner.room.notify_waiters();
        removed.map(drop).ok_or_else(|| BusError::NotFound(format!("consumer {durable}")))
    }

    async fn dead_letter_count(&self) -> Result<u64, BusError> {
        let mut st = self.inner.lock();
        st.sweep_exhausted(Instant::now(), &self.inner.config);
        Ok(st.dlq_stored)
    }

    async fn wait_for_room(&self) -> Duration {
        let Some(flow) = self.inner.config.flow else { return Duration::ZERO };
        let started = Instant::now();
        let deadline = started + flow.max_pause;
        let mut paused = false;
        let timed_out = loop {
            let room = self.inner.room.notified();
            tokio::pin!(room);
            {
                let st = self.inner.lock();
                // Registered under the lock, so a fetch after this check cannot be missed.
                room.as_mut().enable();
                if st.lag(Instant::now(), flow.max_pause) <= flow.max_lag {
                    break false;
                }
            }
            paused = true;
            tokio::select! {
                () = &mut room => {}
                () = tokio::time::sleep_until(deadline) => break true,
            }
        };
        if !paused {
            return Duration::ZERO;
        }
        let waited = started.elapsed();
        {
            let mut st = self.inner.lock();
            st.flow.paused += 1;
            st.flow.timed_out += u64::from(timed_out);
            st.flow.paused_for += waited;
        }
        waited
    }
}

struct MemorySubscription {
    inner: Arc<Inner>,
    durable: Arc<str>,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn fetch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let until = Instant::now() + wait;
        let max = max.max(1);
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            let next_timer = {
                let mut st = self.inner.lock();
                // Registered under the lock, so a publish after this check cannot be missed.
                notified.as_mut().enable();
                if let Some(c) = st.consumers.get_mut(&*self.durable) {
                    c.last_fetch = Instant::now();
                }
                let mut out = Vec::new();
                let next = st.collect(&self.inner, &self.durable, max, Instant::now(), &mut out)?;
                if !out.is_empty() {
                    if self.inner.config.flow.is_some_and(|f| st.lag(Instant::now(), f.max_pause) <= f.max_lag) {
                        self.inner.room.notify_waiters();
                    }
                    return Ok(out);
                }
                next
            };
            if Instant::now() >= until {
                return Ok(Vec::new());
            }
            let wake = next_timer.map_or(until, |t| t.min(until));
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

#[derive(Debug)]
struct AckTarget {
    durable: Arc<str>,
    generation: u64,
    seq: u64,
    attempt: u32,
}

struct MemoryAcker {
    inner: Arc<Inner>,
    target: AckTarget,
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn settle(&self, how: Settle, reason: Option<&str>) -> Result<(), BusError> {
        let wake = self.inner.lock().settle(&self.target, how, reason, Instant::now(), &self.inner.config);
        if wake {
            self.inner.notify.notify_waiters();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlq_subjects_are_recognised() {
        assert!(is_dlq("nl.dlq.c.nl.x"));
        assert!(!is_dlq("nl.dlqx.c"));
        assert!(!is_dlq("nl.listing"));
        assert_eq!(dlq_id("ledger", 7), "dlq-ledger-7");
    }
}
