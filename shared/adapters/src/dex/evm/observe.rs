//! Turns a decoded [`PoolCreated`] into `listing.observed` / `listing.retracted` observations.

use nl_domain::{AssetId, ChangeKind, DomainError, ListingObservation, ObservationKind};
use serde_json::json;

use super::decode::PoolCreated;
use super::quotes::{QuoteSet, new_tokens};
use crate::dex::pool::ObservationContext;

/// One observation per new token of the pool (see [`new_tokens`]). `instrument_id` is the pool address
/// (V4: pool id); `change` is `Retracted` for a reorged-out (`removed`) log, else `New`. The symbol is
/// unknown from a log and left empty until ERC-20 metadata is fetched.
///
/// # Errors
/// `DomainError::AssetId` when a token address is malformed for the chain.
pub fn to_observations(pool: &PoolCreated, quotes: &QuoteSet, ctx: &ObservationContext) -> Result<Vec<ListingObservation>, DomainError> {
    let change = if pool.removed { ChangeKind::Retracted } else { ChangeKind::New };
    new_tokens(pool, quotes)
        .into_iter()
        .map(|token| {
            let other = if token == pool.token0 { &pool.token1 } else { &pool.token0 };
            Ok(ListingObservation {
                source: ctx.source.clone(),
                venue: pool.dex.clone(),
                kind: ObservationKind::DexPool,
                change,
                asset_id: AssetId::chain(&pool.chain, &token)?,
                symbol: String::new(),
                name: None,
                base: Some(token.clone()),
                quote: Some(other.clone()),
                instrument_id: pool.pool.clone(),
                status: None,
                source_published_at: pool.block_time,
                scheduled_at: None,
                first_observed_at: ctx.first_observed_at,
                emitted_at: ctx.emitted_at,
                raw_event_id: ctx.raw_event_id.clone(),
                details: json!({
                    "dex": pool.dex,
                    "kind": pool.kind,
                    "factory": pool.factory,
                    "pair": pool.pool,
                    "token0": pool.token0,
                    "token1": pool.token1,
                    "fee": pool.fee,
                    "tick_spacing": pool.tick_spacing,
                    "hooks": pool.hooks,
                    "stable": pool.stable,
                    "block": pool.block_number,
                    "block_hash": pool.block_hash,
                    "tx_hash": pool.tx_hash,
                    "log_index": pool.log_index,
                    "removed": pool.removed,
                }),
            })
        })
        .collect()
}
