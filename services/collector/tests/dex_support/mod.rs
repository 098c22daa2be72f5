//! Test support for the DEX source tests: the library's loopback JSON-RPC mock node (HTTP + WebSocket,
//! re-exported), log builders, a bus wrapper that records every publish (duplicates included), and a
//! harness that polls sources through the real collector runtime over `MemoryBus`.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::Address;
use async_trait::async_trait;
use nl_bus::{Bus, BusError, ConsumerSpec, ConsumerState, MemoryBus, Message, PublishAck, Subscription};
pub use nl_testkit::evm_node::{
    ETH_V2_FACTORY as V2_FACTORY, ETH_V3_FACTORY as V3_FACTORY, ETH_V4_POOL_MANAGER as V4_POOL_MANAGER, MockLog, MockNode, TokenInfo,
};
use nl_adapters::Source;
use nl_collector::{Collector, CollectorCtx, MemoryStateStore, PollReport, RunIdentity};
use serde_json::Value;

pub mod events {
    alloy_sol_types::sol! {
        event PairCreated(address indexed token0, address indexed token1, address pair, uint256 allPairsLength);
        event PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, int24 tickSpacing, address pool);
        event Initialize(bytes32 indexed id, address indexed currency0, address indexed currency1, uint24 fee, int24 tickSpacing, address hooks, uint160 sqrtPriceX96, int24 tick);
    }
}

pub const WETH: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
pub const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

/// A deterministic address `0x<salt>000…<i>`.
pub fn addr(salt: u8, i: u64) -> Address {
    let mut b = [0u8; 20];
    b[0] = salt;
    b[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(b)
}

pub fn a(s: &str) -> Address {
    s.parse().unwrap()
}

pub fn lower(a: &Address) -> String {
    format!("{a:#x}")
}

/// A V2 `PairCreated` log from the Ethereum Uniswap V2 factory.
pub fn v2_pair(token0: Address, token1: Address, pair: Address) -> MockLog {
    MockLog::v2_pair(a(V2_FACTORY), token0, token1, pair)
}

/// A bus that records every publish (duplicates included) and delegates to `MemoryBus`.
#[derive(Default)]
pub struct RecordingBus {
    pub inner: MemoryBus,
    pub published: Mutex<Vec<Message>>,
}

impl RecordingBus {
    /// Payloads of messages on `subject`, as JSON envelopes.
    pub fn on(&self, subject: &str) -> Vec<Value> {
        self.published.lock().unwrap().iter().filter(|m| m.subject == subject).map(|m| serde_json::from_slice(&m.payload).unwrap()).collect()
    }

    pub fn observed(&self) -> Vec<Value> {
        self.on("nl.evt.listing.observed")
    }

    pub fn retracted(&self) -> Vec<Value> {
        self.on("nl.evt.listing.retracted")
    }

    /// Raw envelopes of `source`.
    pub fn raws(&self, source: &str) -> Vec<Value> {
        self.on(&format!("nl.raw.{source}"))
    }
}

#[async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, msg: Message) -> Result<PublishAck, BusError> {
        self.published.lock().unwrap().push(msg.clone());
        self.inner.publish(msg).await
    }
    async fn publish_batch(&self, msgs: Vec<Message>) -> Result<Vec<PublishAck>, BusError> {
        self.published.lock().unwrap().extend(msgs.iter().cloned());
        self.inner.publish_batch(msgs).await
    }
    async fn subscribe(&self, spec: ConsumerSpec) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe(spec).await
    }
    async fn consumer_state(&self, durable: &str) -> Result<ConsumerState, BusError> {
        self.inner.consumer_state(durable).await
    }
    async fn delete_consumer(&self, durable: &str) -> Result<(), BusError> {
        self.inner.delete_consumer(durable).await
    }
    async fn dead_letter_count(&self) -> Result<u64, BusError> {
        self.inner.dead_letter_count().await
    }
}

/// Bus + durable state shared across collector restarts.
pub struct Harness {
    pub bus: Arc<RecordingBus>,
    pub state: Arc<MemoryStateStore>,
}

impl Harness {
    pub fn new() -> Self {
        Self { bus: Arc::new(RecordingBus::default()), state: Arc::new(MemoryStateStore::default()) }
    }

    pub fn ctx(&self) -> CollectorCtx {
        CollectorCtx {
            bus: Arc::clone(&self.bus) as Arc<dyn Bus>,
            state: Arc::clone(&self.state) as Arc<dyn nl_collector::StateStore>,
            leases: None,
            lease_renew_every: Duration::from_secs(10),
            run: RunIdentity { run_id: "nl_20260101_000000Z_deadbeef".into(), config_hash: "test".into() },
        }
    }

    /// One poll of `source` through the collector runtime (publish, then save state).
    pub async fn poll(&self, source: Arc<dyn Source>) -> PollReport {
        let c = Collector::new(vec![source], self.ctx());
        c.poll_all_once(chrono::Utc::now()).await.remove(0)
    }

    pub async fn state_of(&self, source: &str) -> Option<Value> {
        nl_collector::StateStore::load(self.state.as_ref(), source).await.unwrap()
    }
}

/// `meta` (the observation) of an envelope.
pub fn meta(env: &Value) -> &Value {
    &env["meta"]
}
