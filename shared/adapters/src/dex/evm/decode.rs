//! Decodes factory logs into [`PoolCreated`] with alloy's ABI decoder.

use std::str::FromStr;

use alloy_primitives::{Address, B256};
use alloy_sol_types::SolEvent;
use nl_domain::Ts;
use serde::{Deserialize, Serialize};

use super::error::DecodeError;
use super::events::{aerodrome, v2, v3, v4};
use super::registry::{FactoryKind, FactoryRegistry};
use super::rpc::RpcLog;

/// The zero address: V4 uses it for the chain's native currency (ETH, BNB).
pub const NATIVE_CURRENCY: &str = "0x0000000000000000000000000000000000000000";

/// A pool (or V4 pool id) created by a registered factory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCreated {
    pub chain: String,
    pub dex: String,
    pub kind: FactoryKind,
    /// Emitter (factory / `PoolManager`), lowercase.
    pub factory: String,
    /// Lowercase `0x` addresses; [`NATIVE_CURRENCY`] for native ETH/BNB in V4.
    pub token0: String,
    pub token1: String,
    /// Pool address, or for V4 the 32-byte pool id (`0x` + 64 hex).
    pub pool: String,
    /// Fee in hundredths of a bip (V3, V4).
    pub fee: Option<u32>,
    pub tick_spacing: Option<i32>,
    /// V4 hooks contract.
    pub hooks: Option<String>,
    /// Aerodrome stable/volatile.
    pub stable: Option<bool>,
    pub block_number: Option<u64>,
    pub block_hash: Option<String>,
    pub tx_hash: Option<String>,
    pub log_index: Option<u64>,
    /// Reorged out: emit a retraction.
    pub removed: bool,
    /// Block time when the provider sent `blockTimestamp` (or the caller filled it from the header).
    pub block_time: Option<Ts>,
}

impl PoolCreated {
    /// True when `token` is the V4 native-currency placeholder.
    #[must_use]
    pub fn is_native(token: &str) -> bool {
        token == NATIVE_CURRENCY
    }
}

fn lower(a: &Address) -> String {
    format!("{a:#x}")
}

/// Decodes one log of a registered factory.
///
/// # Errors
/// [`DecodeError::UnknownEmitter`] / [`DecodeError::UnexpectedTopic`] for logs that are not pool creations
/// we track (see [`DecodeError::is_foreign`]); `Hex` / `Abi` for malformed logs.
pub fn decode_log(registry: &FactoryRegistry, log: &RpcLog) -> Result<PoolCreated, DecodeError> {
    let factory = registry.lookup(&log.address).ok_or_else(|| DecodeError::UnknownEmitter(crate::kit::quote::quote(&log.address.to_ascii_lowercase())))?;
    let topics = log
        .topics
        .iter()
        .map(|t| B256::from_str(t).map_err(|_| DecodeError::Hex { field: "topics", value: crate::kit::quote::quote(t) }))
        .collect::<Result<Vec<_>, _>>()?;
    let data = alloy_primitives::hex::decode(&log.data)
        .map_err(|_| DecodeError::Hex { field: "data", value: log.data.chars().take(80).collect() })?;
    let topic0 = topics.first().copied().unwrap_or_default();
    if topic0 != factory.kind.topic0() {
        return Err(DecodeError::UnexpectedTopic { emitter: factory.address.clone(), kind: factory.kind, topic0: format!("{topic0:#x}") });
    }
    let abi = |event: &'static str| move |e: alloy_sol_types::Error| DecodeError::Abi { event, reason: crate::kit::quote::quote(&e.to_string()) };
    let mut out = PoolCreated {
        chain: registry.chain().to_string(),
        dex: factory.dex.clone(),
        kind: factory.kind,
        factory: factory.address.clone(),
        token0: String::new(),
        token1: String::new(),
        pool: String::new(),
        fee: None,
        tick_spacing: None,
        hooks: None,
        stable: None,
        block_number: log.block_number,
        block_hash: log.block_hash.clone(),
        tx_hash: log.transaction_hash.clone(),
        log_index: log.log_index,
        removed: log.removed,
        block_time: log.block_time(),
    };
    match factory.kind {
        FactoryKind::V2 => {
            let e = v2::PairCreated::decode_raw_log(topics, &data).map_err(abi("PairCreated"))?;
            out.token0 = lower(&e.token0);
            out.token1 = lower(&e.token1);
            out.pool = lower(&e.pair);
        }
        FactoryKind::V3 => {
            let e = v3::PoolCreated::decode_raw_log(topics, &data).map_err(abi("PoolCreated"))?;
            out.token0 = lower(&e.token0);
            out.token1 = lower(&e.token1);
            out.pool = lower(&e.pool);
            out.fee = Some(e.fee.to::<u32>());
            out.tick_spacing = Some(e.tickSpacing.as_i32());
        }
        FactoryKind::V4 => {
            let e = v4::Initialize::decode_raw_log(topics, &data).map_err(abi("Initialize"))?;
            out.token0 = lower(&e.currency0);
            out.token1 = lower(&e.currency1);
            out.pool = format!("{:#x}", e.id);
            out.fee = Some(e.fee.to::<u32>());
            out.tick_spacing = Some(e.tickSpacing.as_i32());
            out.hooks = Some(lower(&e.hooks));
        }
        FactoryKind::Aerodrome => {
            let e = aerodrome::PoolCreated::decode_raw_log(topics, &data).map_err(abi("PoolCreated"))?;
            out.token0 = lower(&e.token0);
            out.token1 = lower(&e.token1);
            out.pool = lower(&e.pool);
            out.stable = Some(e.stable);
        }
    }
    Ok(out)
}
