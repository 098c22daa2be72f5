//! rugcheck.xyz token report (Solana): full `/v1/tokens/{mint}/report` and `/report/summary`.
//!
//! `mintAuthority`/`freezeAuthority` set to `null` means the authority is disabled. `risks[]` carries
//! `{name, value, description, score, level}` with `level` in `info|warn|danger`; a higher `score` is riskier.

pub mod models;
pub mod parse;

pub use parse::parse_report;
