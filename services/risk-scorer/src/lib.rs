//! Risk scoring for nl: provider payloads (GoPlus, honeypot.is, rugcheck), parsed by `nl-adapters` into
//! normalized tri-state [`SecurityFacts`], are judged by versioned [`RiskRules`] into a [`RiskEvaluation`]
//! of pass/fail/unknown checks, and turned into an explainable [`ScoreRecord`].
//!
//! Everything here is pure: no I/O and no clock. Callers pass payloads and `now` in, so re-deriving a
//! decision from stored raw events with the same config gives the same result.
//!
//! A provider that failed (error, timeout, 429, unparseable body) simply has no [`ProviderReport`]; every
//! check it would have fed is then `Unknown`, never `Pass`.
//!
//! The I/O lives at the edge: the provider HTTP clients ([`nl_adapters::providers`]), the report
//! [`cache`] and [`service`] (the bus consumer turning `snapshot.recorded` into `risk.evaluated` and
//! `score.computed`).
//!
//! [`SecurityFacts`]: nl_adapters::providers::SecurityFacts
//! [`ProviderReport`]: nl_adapters::providers::ProviderReport
//! [`RiskEvaluation`]: nl_domain::RiskEvaluation
//! [`ScoreRecord`]: nl_domain::ScoreRecord
#![forbid(unsafe_code)]

pub mod cache;
pub mod error;
pub mod math;
pub mod rules;
pub mod score;
pub mod service;
pub mod sources;

pub use error::RiskError;
pub use rules::{RiskRules, VerdictTtl, evaluate, severity_rose};
pub use score::{LogScale, ScoreConfig, score};
pub use service::{
    Clock, Evaluated, HandleError, RiskScorer, RiskScorerConfig, RiskScorerCore, RiskScorerCounts, RiskScorerCtx, RiskScorerStats, RunIdentity,
    ScoreComputed, ServiceClock, ServiceError, build,
};
