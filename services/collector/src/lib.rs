//! The collector: turns venue endpoints, push feeds and chain logs into verbatim `raw.captured` payloads
//! and parsed `listing.observed` events.
//!
//! Venue clients, parsers and the [`Source`](nl_adapters::Source) contract live in `nl-adapters`.
//!
//! * [`runtime`]: polling, durable publishing, state, leases;
//! * [`state`]: where sources keep their cursors;
//! * [`known`]: assets a venue's baseline made known (announcements naming them are not listings);
//! * [`cycle`]: in-cycle retries of `nl run-cycle`.
#![forbid(unsafe_code)]

pub mod ban;
pub mod cycle;
pub mod known;
pub mod runtime;
pub mod state;

pub use cycle::{CyclePolicy, CycleReports};
pub use runtime::{Collector, CollectorCtx, PollReport, RunIdentity, SourceCounters, delisting_messages, poll_once};
pub use state::{MemoryStateStore, StateError, StateStore};

pub mod push;
pub mod serve;
pub mod state_nats;
