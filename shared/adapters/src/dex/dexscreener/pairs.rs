//! Where pair data comes from: [`PairFetcher`], implemented by the DexScreener client (and by recorded
//! answers in re-derivation, and fakes in tests). One call covers at most
//! [`MAX_TOKENS_PER_CALL`](super::MAX_TOKENS_PER_CALL) addresses of one chain, so every pool it returns was
//! parsed from its single successful response, and a snapshot can point at that raw.

use async_trait::async_trait;

use super::client::{DexScreenerClient, TokenPairs};

/// Looks up the pairs of up to [`MAX_TOKENS_PER_CALL`](super::MAX_TOKENS_PER_CALL) token addresses on one chain.
#[async_trait]
pub trait PairFetcher: Send + Sync {
    /// Pairs of `addrs` on `chain` (our slug). Never fails as a whole: every response (errors included)
    /// is in `raws`, failures in `errors`.
    async fn fetch_pairs(&self, chain: &str, addrs: &[String]) -> TokenPairs;
}

#[async_trait]
impl PairFetcher for DexScreenerClient {
    async fn fetch_pairs(&self, chain: &str, addrs: &[String]) -> TokenPairs {
        self.fetch_pairs_for_tokens(chain, addrs).await
    }
}
