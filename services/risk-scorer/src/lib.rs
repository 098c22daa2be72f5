//! Risk scoring for nl: provider payloads (GoPlus, honeypot.is, rugcheck) are parsed into normalized
//! tri-state [`SecurityFacts`], judged by versioned [`RiskRules`] into a [`RiskEvaluation`] of
//! pass/fail/unknown checks, and turned into an explainable [`ScoreRecord`].
//!
//! Everything here is pure: no I/O and no clock. Callers pass payloads and `now` in, so re-deriving a
//! decision from stored raw events with the same config gives the same result.
//!
//! A provider that failed (error, timeout, 429, unparseable body) simply has no [`ProviderReport`]; every
//! check it would have fed is then `Unknown`, never `Pass`.
#![forbid(unsafe_code)]

pub mod error;
pub mod facts;
pub mod math;
pub mod providers;
pub mod rules;
pub mod score;

pub use error::RiskError;
pub use facts::{Provider, ProviderReport, SecurityFacts};
pub use rules::{CHECK_CODES, RiskRules, VerdictTtl, effective_age_minutes, evaluate, severity_rose};
pub use score::{LogScale, ScoreConfig, score};
