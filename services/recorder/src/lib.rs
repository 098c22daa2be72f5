//! The recorder: mirrors every `nl.evt.>` event into an append-only `events.jsonl`, each `event_id`
//! exactly once, and reads it back for `nl replay-events` and re-derivation.
//!
//! * [`log`] — [`EventLog`], the single writer: torn-tail repair on open, dedup by id, one write and
//!   one fsync per batch.
//! * [`replay`] — [`read_events`], a streaming, filtering reader, and [`read_published`], which also
//!   restores what the log stored as citations.
//! * [`service`] — [`Recorder`], the bus consumer that acks only after the batch is durable.
#![forbid(unsafe_code)]

pub mod error;
mod lines;
pub mod log;
mod quarantine;
pub mod replay;
pub mod service;

pub use error::RecorderError;
pub use log::{AppendOutcome, Appendable, DEFAULT_EVENTS_PATH, EventLog, FsyncPolicy};
pub use replay::{EventReader, Published, ReplayError, ReplayFilter, last_event_id, read_events, read_published};
pub use service::{FsyncConfig, Recorder, RecorderConfig, RecorderCounts, RecorderStats, build};
