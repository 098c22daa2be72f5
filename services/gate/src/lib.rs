//! The L5 gate: a deterministic decision (`promoted` / `rejected` with reason codes) from a risk
//! evaluation, a score and a market snapshot, and the L6 execution check that stays blocked unless
//! explicitly enabled, armed and confirmed.
//!
//! L5 is final: no function here takes AI output, text descriptions or anything but numeric and flag
//! inputs. There is no order-placing code in nl; L6 only answers "allowed or not" to an external executor.
//!
//! The I/O lives at the edge: [`service`] (the bus consumer of `score.computed`) and [`grpc`] (the `Gate`
//! server).
#![forbid(unsafe_code)]

pub mod changes;
pub mod decide;
pub mod error;
pub mod execution;
pub mod grpc;
pub mod service;

pub use decide::{GateConfig, decide};
pub use error::GateError;
pub use execution::{ExecutionCheck, ExecutionConfig, check_execution};
pub use grpc::{GateGrpc, serve, serve_listener};
pub use service::{DecideError, GateCounts, GateService, GateServiceConfig, GateServiceError, GateStats, build, build_with_reader, decide_envelope};
