//! DexScreener: pair lists (`/latest/dex/pairs|tokens` envelope, bare-array `/tokens/v1` and
//! `/token-pairs/v1`), token profiles and boosts. Used for enrichment (the enricher's pair lookups go
//! through [`PairFetcher`]); profiles are paid listings, not a discovery source.

pub mod client;
pub mod error;
pub mod models;
pub mod naming;
pub mod pairs;
pub mod parse;

pub use error::DexScreenerError;
pub use pairs::PairFetcher;
pub use parse::{
    CHAINS, MAX_TOKENS_PER_CALL, PairsPage, TokenBoost, TokenProfile, TokenProfileLink, chain_for_chain_id, chain_id_for_chain,
    parse_pairs, parse_token_boosts, parse_token_profiles, token_batches, tokens_v1_path,
};
