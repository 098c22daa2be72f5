//! The ledger: the only process that writes the SQLite database.
//!
//! * [`LedgerStore`]: a single writer task (one connection, WAL) fed by a bounded command channel,
//!   group-committing idempotent multi-row inserts; history-dependent events (`asset.discovered`,
//!   `asset.updated`, `risk.flagged`) are derived in the same transaction into an outbox.
//! * [`SqliteReader`]: queries over a separate read-only pool.
//! * [`service`]: the bus consumer (`Config → build → run(shutdown)`), acking only after commit and
//!   after derived events are published.
//! * [`grpc`]: the `nl.v1.Ledger` read API.
#![forbid(unsafe_code)]

mod apply;
mod checkpoint;
pub mod config;
pub mod db;
pub mod error;
pub mod footprint;
pub mod grpc;
mod insert;
mod kept;
pub mod known;
mod merge;
mod paper;
pub mod paper_read;
pub mod paper_views;
pub mod read;
mod rebuild;
pub mod rows;
mod runs;
pub mod tags;
pub mod service;
pub mod store;
mod typed;
pub mod views;
mod writer;

pub use apply::{ApplyOutcome, InvalidEvent};
pub use config::LedgerConfig;
pub use db::MIGRATOR;
pub use error::LedgerError;
pub use footprint::{Footprint, TableBytes, footprint};
pub use insert::exec_chunked;
pub use grpc::{LedgerGrpc, serve, serve_listener};
pub use known::{KnownChanges, KnownInstrumentRow};
pub use merge::DEFAULT_STATUS;
pub use read::SqliteReader;
pub use runs::{ALL_RUNS, RunDecision, RunResults, copy_raws};
pub use rows::{AssetFilter, AssetPage, AssetRow, DecisionRow, Latest, RawRow, RiskRow, ScoreRow, SnapshotRow, Stats};
pub use service::{LedgerCounts, LedgerService, LedgerStats, build, build_with_store};
pub use store::LedgerStore;
