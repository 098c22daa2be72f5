//! Factory event ABIs (alloy `sol!`) and their topic0 values as listed in the reference (§3.3).

use alloy_primitives::{B256, b256};

/// Uniswap V2 and its forks (PancakeSwap V2, ...).
pub mod v2 {
    alloy_sol_types::sol! {
        /// `PairCreated(address indexed token0, address indexed token1, address pair, uint256)`;
        /// the trailing word is `allPairsLength`.
        #[derive(Debug, PartialEq, Eq)]
        event PairCreated(address indexed token0, address indexed token1, address pair, uint256);
    }
}

/// Uniswap V3 and PancakeSwap V3.
pub mod v3 {
    alloy_sol_types::sol! {
        /// `PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, int24 tickSpacing, address pool)`.
        #[derive(Debug, PartialEq, Eq)]
        event PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, int24 tickSpacing, address pool);
    }
}

/// Uniswap V4 `PoolManager`.
pub mod v4 {
    alloy_sol_types::sol! {
        /// `Initialize(bytes32 indexed id, address indexed currency0, address indexed currency1, uint24 fee,
        /// int24 tickSpacing, address hooks, uint160 sqrtPriceX96, int24 tick)`.
        #[derive(Debug, PartialEq, Eq)]
        event Initialize(bytes32 indexed id, address indexed currency0, address indexed currency1, uint24 fee, int24 tickSpacing, address hooks, uint160 sqrtPriceX96, int24 tick);
    }
}

/// Aerodrome (Base) basic pools.
pub mod aerodrome {
    alloy_sol_types::sol! {
        /// `PoolCreated(address indexed token0, address indexed token1, bool indexed stable, address pool, uint256)`.
        #[derive(Debug, PartialEq, Eq)]
        event PoolCreated(address indexed token0, address indexed token1, bool indexed stable, address pool, uint256);
    }
}

/// topic0 of V2 `PairCreated` (reference table).
pub const TOPIC_V2_PAIR_CREATED: B256 = b256!("0d3648bd0f6ba80134a33ba9275ac585d9d315f0ad8355cddefde31afa28d0e9");
/// topic0 of V3 `PoolCreated` (reference table).
pub const TOPIC_V3_POOL_CREATED: B256 = b256!("783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118");
/// topic0 of V4 `Initialize` (reference table).
pub const TOPIC_V4_INITIALIZE: B256 = b256!("dd466e674ea557f56295e2d0218a125ea4b4f0f6f3307b95f85e6110838d6438");
/// topic0 of Aerodrome `PoolCreated` (reference table).
pub const TOPIC_AERODROME_POOL_CREATED: B256 = b256!("2128d88d14c80cb081c1252a5acff7a264671bf199ce226b53788fb26065005e");

#[cfg(test)]
mod tests {
    use alloy_sol_types::SolEvent;

    use super::*;

    #[test]
    fn signature_hashes_match_reference_topics() {
        assert_eq!(v2::PairCreated::SIGNATURE_HASH, TOPIC_V2_PAIR_CREATED);
        assert_eq!(v3::PoolCreated::SIGNATURE_HASH, TOPIC_V3_POOL_CREATED);
        assert_eq!(v4::Initialize::SIGNATURE_HASH, TOPIC_V4_INITIALIZE);
        assert_eq!(aerodrome::PoolCreated::SIGNATURE_HASH, TOPIC_AERODROME_POOL_CREATED);
        assert_eq!(v2::PairCreated::SIGNATURE, "PairCreated(address,address,address,uint256)");
        assert_eq!(aerodrome::PoolCreated::SIGNATURE, "PoolCreated(address,address,bool,address,uint256)");
    }
}
