//! `ai-dispatch`: the optional AI layers L1–L4, which annotate and never decide. L1 researches an asset
//! (on `asset.discovered`, light, and `candidate.promoted`, deep), L2 labels the market regime (hourly and
//! on `run.completed`), L3 drafts strategy hypotheses as ExperimentSpecs (status `draft`), L4 critiques
//! governance after deterministic checks. Any OpenAI-compatible chat-completions endpoint is the backend;
//! with none configured, AI is off.
//!
//! Every call sees a point-in-time evidence pack ([`pack`]), untrusted text cleaned and datamarked
//! ([`sanitize`]), no tools; every reply is validated here ([`schema`]) and a bad one is an abstention.
//! Results are content-addressed artifacts ([`artifact`]) that answer the same call again without a
//! model (and `nl rederive` with zero calls). Budgets are reserved before each call ([`budget`]).
//!
//! L5 is final: the gate crate does not depend on this one (`scripts/check-deps.py` checks it).
#![forbid(unsafe_code)]

pub mod artifact;
pub mod budget;
pub mod canonical;
pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod governance;
pub mod layers;
pub mod pack;
pub mod sanitize;
pub mod schema;
pub mod service;
pub mod shape;

pub use config::{AiConfig, BudgetConfig, Dialect, MarkerMode};
pub use engine::{Engine, Job};
pub use error::AiError;
pub use layers::{Layer, Prompt};
pub use service::{AiCounts, AiCtx, AiService, build};
