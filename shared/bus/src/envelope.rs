//! Envelopes as bus messages: the subject comes from the envelope (`nl.evt.<type>`, raw captures on
//! `nl.raw.<source>`) and the dedup id is the event id, so every producer (the collector's polls and push
//! feeds, the enricher's and risk-scorer's lookups) publishes a raw or an observation the same way.
//! The message carries the envelope typed ([`crate::Payload`]): no JSON is written to publish it.

use std::sync::Arc;

use nl_domain::{Envelope, ListingObservation, RawEvent, RunIdentity};

use crate::{Message, Payload};

impl Message {
    /// The message that publishes `env`, carrying it typed: `MemoryBus` hands consumers this very
    /// envelope; `NatsBus` writes its JSON once, on publish.
    #[must_use]
    pub fn typed(env: impl Into<Arc<Envelope>>) -> Self {
        let env = env.into();
        Self::new(env.subject(), env.event_id.0.clone(), Payload::typed(env))
    }
}

/// Raw captures published by `run`, as `raw.captured` messages (see [`RawEvent::to_envelope`]).
#[must_use]
pub fn raw_messages(raws: &[RawEvent], run: &RunIdentity) -> Vec<Message> {
    raws.iter().map(|r| Message::typed(r.to_envelope(run))).collect()
}

/// Observations as `listing.observed` / `listing.retracted` messages, each the start of its own trace (a
/// `collector.observe` root span whose context the message carries downstream).
#[must_use]
pub fn observation_messages(observations: &[ListingObservation], run: &RunIdentity) -> Vec<Message> {
    observations
        .iter()
        .map(|o| {
            let env = o.to_envelope(&run.run_id, &run.config_hash);
            let span = crate::trace::root_span("collector", "observe", env.kind.as_str(), env.asset_id.as_deref().unwrap_or_default());
            Message::typed(env).traced(&span)
        })
        .collect()
}
