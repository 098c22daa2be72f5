//! honeypot.is buy/sell simulation (EVM): `GET /v2/IsHoneypot?address=…&chainID=…`.
//!
//! Taxes are PERCENT numbers (`3` = 3%) and are normalized to fractions. `simulationSuccess: false`
//! means the simulation could not run (often a thin pool): honeypot status and taxes are unknown, not bad.

pub mod models;
pub mod parse;

pub use parse::parse_is_honeypot;
