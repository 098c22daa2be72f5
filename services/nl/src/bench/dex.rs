//! `nl bench dex-evm`'s decode figures: how many factory logs one collector decodes and maps to observations
//! per second. Logs are generated with alloy's ABI encoder (V2/V3/V4 round-robin against the Ethereum
//! default factories), so the figure covers hex parsing, ABI decoding, quote filtering and observation
//! building, without I/O; [`decode_frames_throughput`] adds JSON parsing of the `eth_subscription`
//! frames they arrive in.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U160, U256, aliases::I24, aliases::U24};
use alloy_sol_types::SolEvent;

use nl_adapters::dex::evm::events::{v2, v3, v4};
use nl_adapters::dex::evm::{FactoryRegistry, QuoteSet, RpcLog, WsFrame, decode_log, parse_ws_frame, to_observations};
use nl_adapters::dex::pool::ObservationContext;

/// What a decode run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeBench {
    pub logs: usize,
    pub observations: usize,
    pub elapsed: Duration,
    pub logs_per_sec: f64,
}

fn addr(i: u64, salt: u8) -> Address {
    let mut b = [0u8; 20];
    b[0] = salt;
    b[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(b)
}

fn rpc_log(emitter: &str, data: &alloy_primitives::LogData, i: u64) -> RpcLog {
    RpcLog {
        address: emitter.to_string(),
        topics: data.topics().iter().map(|t| format!("{t:#x}")).collect(),
        data: format!("0x{}", alloy_primitives::hex::encode(&data.data)),
        block_number: Some(1_000 + i),
        block_hash: Some(format!("{:#x}", B256::with_last_byte(1))),
        transaction_hash: Some(format!("{:#x}", B256::with_last_byte(2))),
        transaction_index: Some(0),
        log_index: Some(i),
        removed: false,
        block_timestamp: Some(1_790_000_000 + i),
    }
}

/// `n` factory logs on Ethereum: V2 `PairCreated`, V3 `PoolCreated`, V4 `Initialize`, each pairing a new
/// token with WETH (V4: with native ETH).
#[must_use]
pub fn generate_logs(n: usize) -> Vec<RpcLog> {
    let weth: Address = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".parse().unwrap_or_default();
    (0..n as u64)
        .map(|i| {
            let token = addr(i, 0xaa);
            match i % 3 {
                0 => {
                    let e = v2::PairCreated { token0: token, token1: weth, pair: addr(i, 0xbb), _3: U256::from(i) };
                    rpc_log("0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f", &e.encode_log_data(), i)
                }
                1 => {
                    let e = v3::PoolCreated {
                        token0: token,
                        token1: weth,
                        fee: U24::from(3000),
                        tickSpacing: I24::try_from(60).unwrap_or_default(),
                        pool: addr(i, 0xcc),
                    };
                    rpc_log("0x1f98431c8ad98523631ae4a59f267346ea31f984", &e.encode_log_data(), i)
                }
                _ => {
                    let e = v4::Initialize {
                        id: B256::from(U256::from(i)),
                        currency0: Address::ZERO,
                        currency1: token,
                        fee: U24::from(500),
                        tickSpacing: I24::try_from(10).unwrap_or_default(),
                        hooks: Address::ZERO,
                        sqrtPriceX96: U160::from(1u64 << 40),
                        tick: I24::ZERO,
                    };
                    rpc_log("0x000000000004444c5dc75cb358380d2e3de08a90", &e.encode_log_data(), i)
                }
            }
        })
        .collect()
}

/// The `eth_subscription` notification frame that pushes `log` (reference §3.3 shape).
#[must_use]
pub fn subscription_frame(log: &RpcLog) -> String {
    let q = |n: Option<u64>| n.map(|n| format!("{n:#x}"));
    serde_json::json!({
        "jsonrpc": "2.0",
        "method": "eth_subscription",
        "params": {"subscription": "0x9cef478923ff08bf67fde6c64013158d", "result": {
            "address": log.address, "topics": log.topics, "data": log.data,
            "blockNumber": q(log.block_number), "blockHash": log.block_hash, "transactionHash": log.transaction_hash,
            "transactionIndex": q(log.transaction_index), "logIndex": q(log.log_index), "removed": log.removed,
        }},
    })
    .to_string()
}

/// Decodes and maps `logs` once, timing it.
#[must_use]
pub fn decode_throughput(logs: &[RpcLog]) -> DecodeBench {
    decode_timed(logs, |log| Some(Cow::Borrowed(log)))
}

/// Parses `frames` (`eth_subscription` text) and decodes and maps their logs once, timing it.
#[must_use]
pub fn decode_frames_throughput(frames: &[String]) -> DecodeBench {
    decode_timed(frames, |f| match parse_ws_frame(f) {
        Ok(WsFrame::Log { log, .. }) => Some(Cow::Owned(log)),
        _ => None,
    })
}

fn decode_timed<'a, T>(items: &'a [T], to_log: impl Fn(&'a T) -> Option<Cow<'a, RpcLog>>) -> DecodeBench {
    let Ok(registry) = FactoryRegistry::with_defaults("eth", false) else {
        return DecodeBench { logs: 0, observations: 0, elapsed: Duration::ZERO, logs_per_sec: 0.0 };
    };
    let quotes = QuoteSet::defaults();
    let now = chrono::Utc::now();
    let ctx = ObservationContext { source: "evm_eth".into(), first_observed_at: now, emitted_at: now, raw_event_id: None };
    let start = Instant::now();
    let mut observations = 0;
    for item in items {
        if let Some(pool) = to_log(item).and_then(|log| decode_log(&registry, &log).ok()) {
            observations += to_observations(&pool, &quotes, &ctx).map_or(0, |v| v.len());
        }
    }
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    DecodeBench { logs: items.len(), observations, elapsed, logs_per_sec: items.len() as f64 / secs }
}
