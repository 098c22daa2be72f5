//! Bus messages of what the adapters capture: verbatim raw payloads as `raw.captured` on `nl.raw.<source>`,
//! and parsed observations as `listing.observed` / `listing.retracted`. Every service that fetches from a
//! venue (the collector's polls and push feeds, the enricher's lookups) publishes through these, so a raw
//! or an observation has the same envelope and event id whoever captured it.

use nl_bus::Message;
use nl_domain::{Envelope, EventType, ListingObservation, RawEvent, RunIdentity};

/// Subject of raw payloads of `source`.
#[must_use]
pub fn raw_subject(source: &str) -> String {
    format!("nl.raw.{source}")
}

/// Raw payloads as `raw.captured` envelopes on `nl.raw.<source>`.
#[must_use]
pub fn raw_messages(raws: &[RawEvent], run: &RunIdentity) -> Vec<Message> {
    raws.iter()
        .filter_map(|r| {
            let mut meta = serde_json::to_value(r).ok()?;
            if r.run_id.is_empty() {
                // Sources built without a run (e.g. long-lived pollers) get the publishing run's id.
                meta["run_id"] = serde_json::Value::String(run.run_id.clone());
            }
            let mut env = Envelope::new(EventType::RawCaptured, &[&r.raw_id], r.observed_at, &run.run_id, &run.config_hash, meta).with_source(r.source.clone());
            env.event_id = nl_domain::EventId(r.raw_id.clone());
            let body = env.to_json().ok()?;
            Some(Message::new(raw_subject(&r.source), r.raw_id.clone(), body))
        })
        .collect()
}

/// Observations as `listing.observed` / `listing.retracted` envelopes, each the start of its own trace
/// (a `collector.observe` root span whose context the message carries downstream).
#[must_use]
pub fn observation_messages(observations: &[ListingObservation], run: &RunIdentity) -> Vec<Message> {
    observations
        .iter()
        .filter_map(|o| {
            let env = o.to_envelope(&run.run_id, &run.config_hash);
            let body = env.to_json().ok()?;
            let span = nl_bus::trace::root_span("collector", "observe", env.kind.as_str(), env.asset_id.as_deref().unwrap_or_default());
            Some(Message::new(env.subject(), env.event_id.0.clone(), body).traced(&span))
        })
        .collect()
}
