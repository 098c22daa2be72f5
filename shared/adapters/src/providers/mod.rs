//! Token security providers (GoPlus, honeypot.is, rugcheck): the HTTP clients ([`client`]), and per
//! provider a folder with `models.rs` (tolerant wire types), `parse.rs` (wire → [`ProviderReport`]) and
//! `test_data/` (payloads shaped like the recorded samples in the sources reference). Every parser maps to
//! the provider-independent tri-state [`SecurityFacts`] ([`facts`]); the risk-scorer judges them.

pub mod client;
pub mod error;
pub mod facts;
pub mod goplus;
pub mod honeypot;
pub mod rugcheck;
pub(crate) mod wire;

pub use client::{
    ClientError, EVM_CHAIN_IDS, ProviderClients, ProviderConfig, ProviderFetch, ProvidersConfig, evm_chain_id, parse, providers_for, request_path,
};
pub use error::ProviderError;
pub use facts::{Provider, ProviderReport, SecurityFacts};
