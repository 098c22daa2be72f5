//! Provider adapters. Each folder has `models.rs` (tolerant wire types), `parse.rs` (wire → [`ProviderReport`])
//! and `test_data/` (payloads shaped like the recorded samples in the sources reference).
//!
//! [`ProviderReport`]: crate::ProviderReport

pub mod goplus;
pub mod honeypot;
pub mod rugcheck;
pub(crate) mod wire;
