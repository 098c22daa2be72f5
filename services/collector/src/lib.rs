//! The collector: turns venue endpoints, push feeds and chain logs into verbatim `raw.captured` payloads
//! and parsed `listing.observed` events.
//!
//! Venue clients, parsers and the [`Source`](nl_adapters::Source) contract live in `nl-adapters`.
//!
//! * [`runtime`]: polling, durable publishing, state, leases;
//! * [`state`]: where sources keep their cursors.
#![forbid(unsafe_code)]

pub mod runtime;
pub mod state;

pub use runtime::{Collector, CollectorCtx, PollReport, RunIdentity, SourceCounters, poll_once};
pub use state::{MemoryStateStore, StateError, StateStore};

pub mod push;
pub mod serve;
pub mod state_nats;
