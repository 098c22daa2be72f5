//! Domain model of nl. Pure data and validation: no I/O, no clocks; callers pass time in.
#![forbid(unsafe_code)]

pub mod asset_id;
pub mod bounded;
pub mod check_code;
pub mod check_times;
pub mod decimal;
pub mod envelope;
pub mod error;
pub mod event_type;
pub mod events;
pub mod injection;
pub mod experiment;
mod experiment_schema;
pub mod paper;
pub mod paper_read;
pub mod paper_ops;
pub mod paper_report;
pub mod observation;
pub mod read;
pub mod records;
pub mod redact;
pub mod secret;
mod wire_enum;
pub mod stored;
pub mod views;

pub use asset_id::{AssetId, ChainFamily};
pub use bounded::BoundedMap;
pub use check_code::CheckCode;
pub use decimal::{parse_decimal, parse_opt_decimal};
pub use envelope::{Envelope, EventId, RunIdentity, SCHEMA_VERSION};
pub use error::DomainError;
pub use event_type::EventType;
pub use experiment::{ExperimentSpec, ExperimentStatus, NoLearnZone, SpecError};
pub use paper::{BookTags, ExperimentCreated, ExperimentStatusChanged, LearningGateUpdated, OrderFilled, OrderSubmitted, PositionUpdated, RiskAllocation, Side, StrategyRun, TradeBlocked};
pub use events::{AiMeta, AssetChanged, AssetDelisted, AssetReviewed, Body, RiskFlagged, RunMeta, ScoreComputed, SnapshotRecorded};
pub use observation::{ACTIVITY_KEY, ChangeKind, ListingActivity, ListingObservation, ObservationKind};
pub use read::{LedgerReader, ReadError};
pub use views::{AiNote, AiUsage, AssetDetail, EventFeedQuery, FeedEvent, Listing, ListingQuery, MarketKind, RiskSummary, RunSummary, SourceHealth, TimelineEntry};
pub use records::{
    AssetUpsert, BASE_DECIMALS_KEY, Decision, GateDecision, PAYLOAD_BASE64, RawEvent, not_utf8_error, raw_subject, RiskCheck, RiskEvaluation, ScoreComponent, ScoreRecord, Sighting, Snapshot, Verdict,
};
pub use rust_decimal::Decimal;

/// Timestamps are UTC everywhere.
pub type Ts = chrono::DateTime<chrono::Utc>;
