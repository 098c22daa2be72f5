//! Every venue, chain and provider nl talks to, in one place: clients, wire models, parsers, recorded
//! `test_data/` and loopback mocks. Services (collector, enricher, risk-scorer) hold their runtime and
//! domain logic; how a venue is asked and how its answer is read lives here, so no service crate has to
//! depend on another one for venue code.
//!
//! * [`kit`]: the plumbing every adapter shares (budgeted HTTP client, backoff, rate-limit headers,
//!   recorded responses, secrets, stats, reconnecting WebSocket);
//! * [`source`]: the contract a pollable source implements ([`Source`], [`PollOutcome`], [`PollError`]);
//! * [`capture`]: what the adapters capture (raws, observations) as bus messages;
//! * [`cex`]: centralized exchanges (instrument lists, announcements, currencies, tickers);
//! * [`dex`]: DEX aggregators (GeckoTerminal, DexScreener) and chains (EVM factory logs, Solana program logs);
//! * [`providers`]: token security providers (GoPlus, honeypot.is, rugcheck) and their normalized facts.
#![forbid(unsafe_code)]

pub mod cex;
pub mod dex;
pub mod kit;
pub mod providers;
pub mod source;

pub use source::{CarriedState, PollError, PollOutcome, Source};
