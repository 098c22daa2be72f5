//! The embedded runtime (L0 in embedded mode): starts services together over one bus, runs cycles and writes
//! their manifests. With the `nl` binary it is the only crate that links service crates; the `orchestrator`
//! service proper (gRPC `Orchestrator`, distributed mode) drives cycles over the bus.
//!
//! * [`cycle`]: one cycle (`nl run-cycle`): every source once, drained, manifest written;
//! * [`continuous`]: continuous operation (`nl run`): sources on their schedules and push feeds until
//!   shutdown, the manifest rewritten at every checkpoint;
//! * [`pipeline`]: the embedded pipeline: every service as a task over one bus, drained by accounting for
//!   in-flight work on every durable consumer (never by sleeping);
//! * [`rederive`]: `nl rederive --from-raw`: the pipeline again from raw_events alone into a scratch DB,
//!   provider lookups answered from their captures ([`recorded`]);
//! * [`rebuild`]: `nl rebuild --from-events`: a new DB from events.jsonl;
//! * [`diff`]: `nl diff-runs`: the decisions that differ between two runs or re-derivations;
//! * [`ai_schedule`]: L0's AI job schedule (one `ai.job.requested` per period, replica-safe);
//! * [`manifest`]: `runs/<run_id>/manifest.json`: identity, effective config, code version, source cursors,
//!   events.jsonl byte range, row counts, events per type, dry-run flag and errors.
#![forbid(unsafe_code)]

pub mod ai_schedule;
pub mod continuous;
pub mod cycle;
pub mod diff;
pub mod ledger_state;
pub mod manifest;
pub mod orchestrator;
pub mod pipeline;
pub mod rebuild;
pub mod recorded;
mod recovery;
pub mod rederive;
pub mod topology;

pub use continuous::{ContinuousConfig, build_run_sources, ContinuousOptions, ContinuousOutcome, run_continuous, run_continuous_on, run_continuous_sources};
pub use cycle::{CycleConfig, build_cycle_sources, CycleOptions, CycleOutcome, WouldChange, run_cycle};
pub use ledger_state::LedgerStateStore;
pub use orchestrator::{Orchestrator, OrchestratorConfig};
pub use manifest::{CodeVersion, EventsRange, RunManifest, code_version};
pub use pipeline::{DrainReport, Pipeline};
pub use topology::{Extras, Recorded, ServiceConfigs, Stage, Topology};
pub use rebuild::{RebuildReport, rebuild_from_events};
pub use rederive::{RederiveOptions, RederiveOutcome, SegmentReport, rederive};
pub use diff::{DecisionDiff, RunDecision, diff_decisions, run_decisions};
