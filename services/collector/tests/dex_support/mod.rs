//! Test support for the DEX source tests: a JSON-RPC mock node on loopback (axum) over an in-memory
//! chain that checks request shapes and can reorg, a bus wrapper that records every publish (duplicates
//! included), and a harness that polls sources through the real collector runtime over `MemoryBus`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, B256, LogData, U256, keccak256};
use alloy_sol_types::SolValue;
use async_trait::async_trait;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use nl_bus::{Bus, BusError, ConsumerSpec, ConsumerState, MemoryBus, Message, PublishAck, Subscription};
use nl_collector::{Collector, CollectorCtx, MemoryStateStore, PollReport, RunIdentity, Source};
use serde_json::{Value, json};

pub mod events {
    alloy_sol_types::sol! {
        event PairCreated(address indexed token0, address indexed token1, address pair, uint256 allPairsLength);
        event PoolCreated(address indexed token0, address indexed token1, uint24 indexed fee, int24 tickSpacing, address pool);
        event Initialize(bytes32 indexed id, address indexed currency0, address indexed currency1, uint24 fee, int24 tickSpacing, address hooks, uint160 sqrtPriceX96, int24 tick);
    }
}

pub const V2_FACTORY: &str = "0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f";
pub const V3_FACTORY: &str = "0x1f98431c8ad98523631ae4a59f267346ea31f984";
pub const V4_POOL_MANAGER: &str = "0x000000000004444c5dc75cb358380d2e3de08a90";
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

#[derive(Debug, Clone)]
pub struct MockLog {
    pub emitter: Address,
    pub data: LogData,
}

/// A V2 `PairCreated` log from the Ethereum Uniswap V2 factory.
pub fn v2_pair(token0: Address, token1: Address, pair: Address) -> MockLog {
    let e = events::PairCreated { token0, token1, pair, allPairsLength: U256::from(1) };
    MockLog { emitter: a(V2_FACTORY), data: alloy_sol_types::SolEvent::encode_log_data(&e) }
}

#[derive(Debug, Clone)]
pub struct MockBlock {
    pub number: u64,
    pub hash: B256,
    pub parent: B256,
    pub timestamp: u64,
    pub logs: Vec<MockLog>,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Raw return hex per selector; a missing selector reverts.
    pub returns: HashMap<&'static str, String>,
}

impl TokenInfo {
    pub fn standard(name: &str, symbol: &str, decimals: u8, supply: u64) -> Self {
        let mut returns = HashMap::new();
        returns.insert("0x06fdde03", hex(&name.to_string().abi_encode()));
        returns.insert("0x95d89b41", hex(&symbol.to_string().abi_encode()));
        returns.insert("0x313ce567", hex(&U256::from(decimals).abi_encode()));
        returns.insert("0x18160ddd", hex(&U256::from(supply).abi_encode()));
        Self { returns }
    }
}

pub fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(b))
}

/// What the node saw and holds.
#[derive(Debug, Default)]
pub struct Chain {
    pub blocks: Vec<MockBlock>,
    /// Largest `toBlock - fromBlock + 1` accepted by `eth_getLogs`.
    pub cap: u64,
    /// Expected `address` filter (lowercase) and `topics[0]` alternatives.
    pub factories: Vec<String>,
    pub topic0s: Vec<String>,
    /// Every `eth_getLogs` range and whether it was served.
    pub ranges: Vec<(u64, u64, bool)>,
    /// Request-shape violations (also answered with -32602).
    pub violations: Vec<String>,
    pub tokens: HashMap<String, TokenInfo>,
    pub salt: u64,
    pub calls: HashMap<String, usize>,
}

impl Chain {
    fn push_block(&mut self, logs: Vec<MockLog>) -> u64 {
        let number = self.blocks.len() as u64;
        let parent = self.blocks.last().map_or(B256::ZERO, |b| b.hash);
        let mut seed = number.to_be_bytes().to_vec();
        seed.extend_from_slice(&self.salt.to_be_bytes());
        let hash = keccak256(&seed);
        self.blocks.push(MockBlock { number, hash, parent, timestamp: 1_790_000_000 + number * 12, logs });
        number
    }

    fn head(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }
}

/// The mock node.
#[derive(Clone)]
pub struct MockNode {
    pub url: String,
    pub chain: Arc<Mutex<Chain>>,
}

impl MockNode {
    /// Starts a node with a genesis block, expecting the Ethereum default factories.
    pub async fn start(cap: u64) -> Self {
        let mut chain = Chain { cap, ..Chain::default() };
        let mut f = vec![V2_FACTORY.to_string(), V3_FACTORY.to_string(), V4_POOL_MANAGER.to_string()];
        f.sort();
        chain.factories = f;
        chain.topic0s = vec![
            "0x0d3648bd0f6ba80134a33ba9275ac585d9d315f0ad8355cddefde31afa28d0e9".into(),
            "0x783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118".into(),
            "0xdd466e674ea557f56295e2d0218a125ea4b4f0f6f3307b95f85e6110838d6438".into(),
        ];
        chain.push_block(Vec::new());
        let chain = Arc::new(Mutex::new(chain));
        let app = axum::Router::new().route("/", post(rpc)).with_state(Arc::clone(&chain));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, chain }
    }

    /// Appends a block holding `logs`; returns its number.
    pub fn mine_with(&self, logs: Vec<MockLog>) -> u64 {
        self.chain.lock().unwrap().push_block(logs)
    }

    /// Appends `n` empty blocks; returns the new head.
    pub fn mine(&self, n: u64) -> u64 {
        let mut c = self.chain.lock().unwrap();
        for _ in 0..n {
            c.push_block(Vec::new());
        }
        c.head()
    }

    /// Replaces the last `k` blocks with `replacement` (new hashes, different logs).
    pub fn reorg(&self, k: usize, replacement: Vec<Vec<MockLog>>) {
        let mut c = self.chain.lock().unwrap();
        let keep = c.blocks.len() - k;
        c.blocks.truncate(keep);
        c.salt += 1;
        for logs in replacement {
            c.push_block(logs);
        }
    }

    pub fn add_token(&self, token: Address, info: TokenInfo) {
        self.chain.lock().unwrap().tokens.insert(lower(&token), info);
    }

    pub fn head(&self) -> u64 {
        self.chain.lock().unwrap().head()
    }

    pub fn ranges(&self) -> Vec<(u64, u64, bool)> {
        self.chain.lock().unwrap().ranges.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.chain.lock().unwrap().violations.clone()
    }
}

fn qty(v: &Value, what: &str) -> Result<u64, String> {
    let s = v.as_str().ok_or_else(|| format!("{what}: not a string: {v}"))?;
    let digits = s.strip_prefix("0x").ok_or_else(|| format!("{what}: no 0x prefix: {s}"))?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return Err(format!("{what}: leading zeros or empty: {s}"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("{what}: not hex: {s}"))
}

fn q(n: u64) -> String {
    format!("{n:#x}")
}

async fn rpc(State(chain): State<Arc<Mutex<Chain>>>, Json(body): Json<Value>) -> Json<Value> {
    let mut c = chain.lock().unwrap();
    match body {
        Value::Array(reqs) => Json(Value::Array(reqs.iter().map(|r| one(&mut c, r)).collect())),
        req => Json(one(&mut c, &req)),
    }
}

fn one(c: &mut Chain, req: &Value) -> Value {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
    *c.calls.entry(method.clone()).or_default() += 1;
    let params = req.get("params").cloned().unwrap_or(json!([]));
    let result = match method.as_str() {
        "eth_blockNumber" => Ok(json!(q(c.head()))),
        "eth_getBlockByNumber" => block(c, &params),
        "eth_getLogs" => logs(c, &params),
        "eth_call" => call(c, &params),
        other => Err((-32601, format!("method {other} not found"))),
    };
    match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err((code, message)) => {
            if code == -32602 {
                c.violations.push(message.clone());
            }
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    }
}

fn block(c: &Chain, params: &Value) -> Result<Value, (i64, String)> {
    let tag = &params[0];
    let n = if tag == "latest" { c.head() } else { qty(tag, "block").map_err(|e| (-32602, e))? };
    if params[1] != json!(false) {
        return Err((-32602, "getBlockByNumber: full transactions requested".into()));
    }
    Ok(c.blocks.get(n as usize).map_or(Value::Null, |b| {
        json!({"number": q(b.number), "hash": format!("{:#x}", b.hash), "parentHash": format!("{:#x}", b.parent), "timestamp": q(b.timestamp)})
    }))
}

fn logs(c: &mut Chain, params: &Value) -> Result<Value, (i64, String)> {
    let f = &params[0];
    let from = qty(&f["fromBlock"], "fromBlock").map_err(|e| (-32602, e))?;
    let to = qty(&f["toBlock"], "toBlock").map_err(|e| (-32602, e))?;
    let mut addrs: Vec<String> = f["address"].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_ascii_lowercase)).collect()).unwrap_or_default();
    addrs.sort();
    if addrs != c.factories {
        return Err((-32602, format!("address filter {addrs:?} != factories {:?}", c.factories)));
    }
    let mut topics: Vec<String> = f["topics"][0].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
    topics.sort();
    let mut want = c.topic0s.clone();
    want.sort();
    if topics != want || f["topics"].as_array().map(Vec::len) != Some(1) {
        return Err((-32602, format!("topics filter {} is not [[topic0s]]", f["topics"])));
    }
    if to < from {
        return Err((-32602, format!("toBlock {to} < fromBlock {from}")));
    }
    if to - from + 1 > c.cap {
        c.ranges.push((from, to, false));
        return Err((-32005, "query returned more than 10000 results".into()));
    }
    c.ranges.push((from, to, true));
    let mut out = Vec::new();
    for b in c.blocks.iter().filter(|b| (from..=to).contains(&b.number)) {
        for (i, l) in b.logs.iter().enumerate() {
            let em = lower(&l.emitter);
            let t0 = l.data.topics().first().map(|t| format!("{t:#x}")).unwrap_or_default();
            if !c.factories.contains(&em) || !c.topic0s.contains(&t0) {
                continue;
            }
            let tx = keccak256([b.hash.as_slice(), &(i as u64).to_be_bytes()].concat());
            out.push(json!({
                "address": em,
                "topics": l.data.topics().iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>(),
                "data": hex(&l.data.data),
                "blockNumber": q(b.number),
                "blockHash": format!("{:#x}", b.hash),
                "transactionHash": format!("{tx:#x}"),
                "transactionIndex": q(i as u64),
                "logIndex": q(i as u64),
                "removed": false,
            }));
        }
    }
    Ok(Value::Array(out))
}

fn call(c: &Chain, params: &Value) -> Result<Value, (i64, String)> {
    let to = params[0]["to"].as_str().unwrap_or_default().to_ascii_lowercase();
    let data = params[0]["data"].as_str().unwrap_or_default();
    c.tokens.get(&to).and_then(|t| t.returns.get(data)).map(|r| json!(r)).ok_or((3, "execution reverted".into()))
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
