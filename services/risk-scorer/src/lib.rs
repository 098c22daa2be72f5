//! Risk scoring for nl: provider payloads (GoPlus, honeypot.is, rugcheck) are parsed into normalized
//! tri-state [`SecurityFacts`], judged by versioned [`RiskRules`] into a [`RiskEvaluation`] of
//! pass/fail/unknown checks, and turned into an explainable [`ScoreRecord`].
//!
//! Everything here is pure: no I/O and no clock. Callers pass payloads and `now` in, so re-deriving a
//! decision from stored raw events with the same config gives the same result.
//!
//! A provider that failed (error, timeout, 429, unparseable body) simply has no [`ProviderReport`]; every
//! check it would have fed is then `Unknown`, never `Pass`.
//!
//! The I/O lives at the edge: [`clients`] (provider HTTP clients and the report cache) and [`service`]
//! (the bus consumer turning `snapshot.recorded` into `risk.evaluated` and `score.computed`).
#![forbid(unsafe_code)]

pub mod clients;
pub mod error;
pub mod facts;
pub mod math;
pub mod providers;
pub mod rules;
pub mod score;
pub mod service;

pub use error::RiskError;
pub use facts::{Provider, ProviderReport, SecurityFacts};
pub use rules::{CHECK_CODES, RiskRules, VerdictTtl, effective_age_minutes, evaluate, severity_rose};
pub use score::{LogScale, ScoreConfig, score};
pub use service::{
    Clock, Evaluated, HandleError, RiskScorer, RiskScorerConfig, RiskScorerCore, RiskScorerCounts, RiskScorerCtx, RiskScorerStats, RunIdentity,
    ScoreComputed, ServiceClock, ServiceError, build,
};
