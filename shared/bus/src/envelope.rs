//! Envelopes as bus messages: the subject comes from the envelope (`nl.evt.<type>`, raw captures on
//! `nl.raw.<source>`) and the dedup id is the event id, so every producer publishes the same way.

use nl_domain::{Envelope, RawEvent, RunIdentity};

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
