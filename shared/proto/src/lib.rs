//! Generated gRPC contracts of nl (`nl.v1`: Ledger, Gate, Orchestrator) and their conversions to and
//! from domain types. Generated types stay at this edge; the domain crate never sees them.
#![forbid(unsafe_code)]

pub mod auth;
pub mod convert;
mod paper_reader;
mod reader;
pub mod tls;

/// Code generated from `proto/nl/v1/*.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("nl.v1");
}

pub use convert::ConvertError;
pub use reader::GrpcLedgerReader;
