//! Envelopes as bus messages: the subject comes from the envelope (`nl.evt.<type>`, raw captures on
//! `nl.raw.<source>`) and the dedup id is the event id, so every producer (the collector's polls and push
//! feeds, the enricher's and risk-scorer's lookups) publishes a raw or an observation the same way.

use nl_domain::{Envelope, ListingObservation, RawEvent, RunIdentity};

use crate::Message;

impl Message {
    /// The message that publishes `env`.
    ///
    /// # Errors
    /// Only if `env` cannot be written as JSON, which plain data never causes.
    pub fn from_envelope(env: &Envelope) -> Result<Self, serde_json::Error> {
        Ok(Self::new(env.subject(), env.event_id.0.clone(), env.to_json()?))
    }
}

/// Raw captures published by `run`, as `raw.captured` messages (see [`RawEvent::to_envelope`]).
#[must_use]
pub fn raw_messages(raws: &[RawEvent], run: &RunIdentity) -> Vec<Message> {
    raws.iter().filter_map(|r| Message::from_envelope(&r.to_envelope(run)).ok()).collect()
}

/// Observations as `listing.observed` / `listing.retracted` messages, each the start of its own trace (a
/// `collector.observe` root span whose context the message carries downstream).
#[must_use]
pub fn observation_messages(observations: &[ListingObservation], run: &RunIdentity) -> Vec<Message> {
    observations
        .iter()
        .filter_map(|o| {
            let env = o.to_envelope(&run.run_id, &run.config_hash);
            let span = crate::trace::root_span("collector", "observe", env.kind.as_str(), env.asset_id.as_deref().unwrap_or_default());
            Some(Message::from_envelope(&env).ok()?.traced(&span))
        })
        .collect()
}
