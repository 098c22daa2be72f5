//! A JSON-RPC mock node on `127.0.0.1:0` for the EVM source tests and benchmarks: an in-memory chain
//! served over HTTP (`eth_blockNumber`, `eth_getBlockByNumber`, `eth_getLogs`, `eth_call`, batches) and
//! over WebSocket at `/ws` (`eth_subscribe("logs")`).
//!
//! * Request shapes are checked like a strict node: hex quantities without leading zeros, the factory
//!   `address` list and `topics: [[topic0s]]`; violations are recorded and answered with `-32602`.
//! * `eth_getLogs` over more than `cap` blocks fails with a range-cap error (`-32005`).
//! * [`MockNode::mine_with`] pushes each new log to every subscribed socket, as a node does when a block
//!   is imported; [`MockNode::reorg`] pushes the dropped blocks' logs again with `"removed": true`, then
//!   the replacement blocks' logs; with [`MockNode::report_removed_in_get_logs`] the dropped logs are also
//!   served by `eth_getLogs` with `"removed": true`.
//! * [`MockNode::drop_ws`] cuts every socket (no close frame); [`MockNode::refuse_ws`] makes upgrades fail
//!   with 503 until turned off, so blocks mined meanwhile are never pushed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use alloy_primitives::{Address, B256, LogData, U256, keccak256};
use alloy_sol_types::{SolEvent, SolValue};
use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use nl_adapters::dex::evm::events::v2;

/// Ethereum Uniswap V2 factory (reference §3.3), lowercase.
pub const ETH_V2_FACTORY: &str = "0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f";
/// Ethereum Uniswap V3 factory, lowercase.
pub const ETH_V3_FACTORY: &str = "0x1f98431c8ad98523631ae4a59f267346ea31f984";
/// Ethereum Uniswap V4 `PoolManager`, lowercase.
pub const ETH_V4_POOL_MANAGER: &str = "0x000000000004444c5dc75cb358380d2e3de08a90";

/// One log as the node stores it: emitter and ABI-encoded topics/data.
#[derive(Debug, Clone)]
pub struct MockLog {
    pub emitter: Address,
    pub data: LogData,
}

impl MockLog {
    /// A V2 `PairCreated` of `token0`/`token1` → `pair` emitted by `factory`.
    #[must_use]
    pub fn v2_pair(factory: Address, token0: Address, token1: Address, pair: Address) -> Self {
        let e = v2::PairCreated { token0, token1, pair, _3: U256::from(1) };
        Self { emitter: factory, data: e.encode_log_data() }
    }
}

/// A block of the mock chain.
#[derive(Debug, Clone)]
pub struct MockBlock {
    pub number: u64,
    pub hash: B256,
    pub parent: B256,
    pub timestamp: u64,
    pub logs: Vec<MockLog>,
}

/// What `eth_call` returns for one token: raw return hex per selector; a missing selector reverts.
#[derive(Debug, Clone, Default)]
pub struct TokenInfo {
    pub returns: HashMap<&'static str, String>,
}

impl TokenInfo {
    /// A standard ERC-20: string name/symbol, `uint8` decimals, `totalSupply`.
    #[must_use]
    pub fn standard(name: &str, symbol: &str, decimals: u8, supply: u64) -> Self {
        let mut returns = HashMap::new();
        returns.insert("0x06fdde03", hex(&name.to_string().abi_encode()));
        returns.insert("0x95d89b41", hex(&symbol.to_string().abi_encode()));
        returns.insert("0x313ce567", hex(&U256::from(decimals).abi_encode()));
        returns.insert("0x18160ddd", hex(&U256::from(supply).abi_encode()));
        Self { returns }
    }
}

/// `0x`-prefixed lowercase hex of `b`.
#[must_use]
pub fn hex(b: &[u8]) -> String {
    format!("0x{}", alloy_primitives::hex::encode(b))
}

fn q(n: u64) -> String {
    format!("{n:#x}")
}

/// What the node holds and saw.
#[derive(Debug, Default)]
pub struct Chain {
    pub blocks: Vec<MockBlock>,
    /// Largest `toBlock - fromBlock + 1` accepted by `eth_getLogs`.
    pub cap: u64,
    /// Expected `address` filter (lowercase, sorted) and `topics[0]` alternatives (sorted).
    pub factories: Vec<String>,
    pub topic0s: Vec<String>,
    /// Every `eth_getLogs` range and whether it was served.
    pub ranges: Vec<(u64, u64, bool)>,
    /// Request-shape violations (also answered with -32602).
    pub violations: Vec<String>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Calls per method (HTTP and WebSocket).
    pub calls: HashMap<String, usize>,
    /// Logs of blocks a reorg dropped, served by `eth_getLogs` with `removed: true` when `report_removed`.
    pub ghosts: Vec<(MockBlock, usize)>,
    pub report_removed: bool,
    salt: u64,
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
        self.blocks.len().saturating_sub(1) as u64
    }

    /// Whether `log` matches the subscribed/queried filter (a factory emitter and a tracked topic0).
    fn matches(&self, log: &MockLog) -> bool {
        let t0 = log.data.topics().first().map(|t| format!("{t:#x}")).unwrap_or_default();
        self.factories.contains(&format!("{:#x}", log.emitter)) && self.topic0s.contains(&t0)
    }

    /// Checks a log filter's `address` and `topics` against the expected factories and topic0s.
    fn check_filter(&self, f: &Value) -> Result<(), String> {
        let mut addrs: Vec<String> =
            f["address"].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_ascii_lowercase)).collect()).unwrap_or_default();
        addrs.sort();
        if addrs != self.factories {
            return Err(format!("address filter {addrs:?} != factories {:?}", self.factories));
        }
        let mut topics: Vec<String> = f["topics"][0].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
        topics.sort();
        if topics != self.topic0s || f["topics"].as_array().map(Vec::len) != Some(1) {
            return Err(format!("topics filter {} is not [[topic0s]]", f["topics"]));
        }
        Ok(())
    }
}

/// A log object exactly as `eth_getLogs` and `eth_subscribe` send it.
fn log_json(b: &MockBlock, i: usize, removed: bool) -> Value {
    let l = &b.logs[i];
    let tx = keccak256([b.hash.as_slice(), &(i as u64).to_be_bytes()].concat());
    json!({
        "address": format!("{:#x}", l.emitter),
        "topics": l.data.topics().iter().map(|t| format!("{t:#x}")).collect::<Vec<_>>(),
        "data": hex(&l.data.data),
        "blockNumber": q(b.number),
        "blockHash": format!("{:#x}", b.hash),
        "transactionHash": format!("{tx:#x}"),
        "transactionIndex": q(i as u64),
        "logIndex": q(i as u64),
        "removed": removed,
    })
}

#[derive(Debug, Clone)]
enum WsCmd {
    /// A log object to push to subscribed sockets.
    Log(Value),
    Drop,
}

#[derive(Debug)]
struct Shared {
    chain: Mutex<Chain>,
    ws: broadcast::Sender<WsCmd>,
    refuse: AtomicBool,
    accepted: AtomicUsize,
    subscribed: AtomicUsize,
    next_sub: AtomicUsize,
}

impl Shared {
    fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The running node; the server stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct MockNode {
    /// `http://127.0.0.1:<port>` (JSON-RPC over POST).
    pub url: String,
    /// `ws://127.0.0.1:<port>/ws`.
    pub ws_url: String,
    shared: Arc<Shared>,
    _server: Arc<Server>,
}

impl MockNode {
    /// Starts a node with a genesis block, expecting the Ethereum default factories (Uniswap V2, V3, V4)
    /// and their topics.
    ///
    /// # Errors
    /// When the loopback listener cannot be bound.
    pub async fn start(cap: u64) -> std::io::Result<Self> {
        let mut factories: Vec<String> = [ETH_V2_FACTORY, ETH_V3_FACTORY, ETH_V4_POOL_MANAGER].map(String::from).to_vec();
        factories.sort();
        // topic0 of V2 PairCreated, V3 PoolCreated, V4 Initialize (reference §3.3), written out rather than
        // derived from our registry so the node checks the client independently.
        let mut topic0s: Vec<String> = [
            "0x0d3648bd0f6ba80134a33ba9275ac585d9d315f0ad8355cddefde31afa28d0e9",
            "0x783cca1c0412dd0d695e784568c96da2e9c22ff989357a2e8b1d9b2b4e6b7118",
            "0xdd466e674ea557f56295e2d0218a125ea4b4f0f6f3307b95f85e6110838d6438",
        ]
        .map(String::from)
        .to_vec();
        topic0s.sort();
        let mut chain = Chain { cap, factories, topic0s, ..Chain::default() };
        chain.push_block(Vec::new());
        let (ws, _) = broadcast::channel(65_536);
        let shared = Arc::new(Shared {
            chain: Mutex::new(chain),
            ws,
            refuse: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            subscribed: AtomicUsize::new(0),
            next_sub: AtomicUsize::new(1),
        });
        let app = axum::Router::new().route("/", post(rpc)).route("/ws", get(upgrade)).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url: format!("http://{addr}"), ws_url: format!("ws://{addr}/ws"), shared, _server: Arc::new(Server(task)) })
    }

    /// The chain, for inspection and direct edits.
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        self.shared.chain()
    }

    /// Appends a block holding `logs` and pushes the matching ones to subscribers; returns its number.
    pub fn mine_with(&self, logs: Vec<MockLog>) -> u64 {
        let mut c = self.shared.chain();
        let n = c.push_block(logs);
        self.push_block_logs(&c, n, false);
        n
    }

    /// Appends `n` empty blocks; returns the new head.
    pub fn mine(&self, n: u64) -> u64 {
        let mut c = self.shared.chain();
        for _ in 0..n {
            c.push_block(Vec::new());
        }
        c.head()
    }

    /// Replaces the last `k` blocks with `replacement` (new hashes, different logs). Subscribers get the
    /// dropped logs again with `removed: true`, then the new ones.
    pub fn reorg(&self, k: usize, replacement: Vec<Vec<MockLog>>) {
        let mut c = self.shared.chain();
        let keep = c.blocks.len().saturating_sub(k);
        let dropped = c.blocks.split_off(keep);
        for b in &dropped {
            let matching: Vec<usize> = (0..b.logs.len()).filter(|i| c.matches(&b.logs[*i])).collect();
            for i in matching {
                let _ = self.shared.ws.send(WsCmd::Log(log_json(b, i, true)));
                if c.report_removed {
                    c.ghosts.push((b.clone(), i));
                }
            }
        }
        c.salt += 1;
        for logs in replacement {
            let n = c.push_block(logs);
            self.push_block_logs(&c, n, false);
        }
    }

    fn push_block_logs(&self, c: &Chain, n: u64, removed: bool) {
        let Some(b) = usize::try_from(n).ok().and_then(|n| c.blocks.get(n)) else { return };
        for i in (0..b.logs.len()).filter(|i| c.matches(&b.logs[*i])) {
            let _ = self.shared.ws.send(WsCmd::Log(log_json(b, i, removed)));
        }
    }

    /// From now on, `eth_getLogs` also returns logs of reorged-out blocks, with `removed: true`.
    pub fn report_removed_in_get_logs(&self) {
        self.shared.chain().report_removed = true;
    }

    /// Cuts every WebSocket connection without a close frame.
    pub fn drop_ws(&self) {
        let _ = self.shared.ws.send(WsCmd::Drop);
    }

    /// While `refuse` is true, WebSocket upgrades fail with 503.
    pub fn refuse_ws(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// WebSocket connections accepted so far.
    #[must_use]
    pub fn ws_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Successful `eth_subscribe("logs")` calls so far (all connections).
    #[must_use]
    pub fn subscriptions(&self) -> usize {
        self.shared.subscribed.load(Ordering::SeqCst)
    }

    pub fn add_token(&self, token: Address, info: TokenInfo) {
        self.shared.chain().tokens.insert(format!("{token:#x}"), info);
    }

    #[must_use]
    pub fn head(&self) -> u64 {
        self.shared.chain().head()
    }

    #[must_use]
    pub fn ranges(&self) -> Vec<(u64, u64, bool)> {
        self.shared.chain().ranges.clone()
    }

    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.shared.chain().violations.clone()
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

async fn rpc(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Json<Value> {
    let mut c = shared.chain();
    match body {
        Value::Array(reqs) => Json(Value::Array(reqs.iter().map(|r| one(&mut c, r)).collect())),
        req => Json(one(&mut c, &req)),
    }
}

fn reply(c: &mut Chain, id: Value, result: Result<Value, (i64, String)>) -> Value {
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
    reply(c, id, result)
}

fn block(c: &Chain, params: &Value) -> Result<Value, (i64, String)> {
    let tag = &params[0];
    let n = if tag == "latest" { c.head() } else { qty(tag, "block").map_err(|e| (-32602, e))? };
    if params[1] != json!(false) {
        return Err((-32602, "getBlockByNumber: full transactions requested".into()));
    }
    Ok(usize::try_from(n).ok().and_then(|n| c.blocks.get(n)).map_or(
        Value::Null,
        |b| json!({"number": q(b.number), "hash": format!("{:#x}", b.hash), "parentHash": format!("{:#x}", b.parent), "timestamp": q(b.timestamp)}),
    ))
}

fn logs(c: &mut Chain, params: &Value) -> Result<Value, (i64, String)> {
    let f = &params[0];
    let from = qty(&f["fromBlock"], "fromBlock").map_err(|e| (-32602, e))?;
    let to = qty(&f["toBlock"], "toBlock").map_err(|e| (-32602, e))?;
    c.check_filter(f).map_err(|e| (-32602, e))?;
    if to < from {
        return Err((-32602, format!("toBlock {to} < fromBlock {from}")));
    }
    if to - from + 1 > c.cap {
        c.ranges.push((from, to, false));
        return Err((-32005, "query returned more than 10000 results".into()));
    }
    c.ranges.push((from, to, true));
    let in_range = |b: &MockBlock| (from..=to).contains(&b.number);
    let mut out: Vec<Value> = c.ghosts.iter().filter(|(b, _)| in_range(b)).map(|(b, i)| log_json(b, *i, true)).collect();
    for b in c.blocks.iter().filter(|b| in_range(b)) {
        out.extend((0..b.logs.len()).filter(|i| c.matches(&b.logs[*i])).map(|i| log_json(b, i, false)));
    }
    Ok(Value::Array(out))
}

fn call(c: &Chain, params: &Value) -> Result<Value, (i64, String)> {
    let to = params[0]["to"].as_str().unwrap_or_default().to_ascii_lowercase();
    let data = params[0]["data"].as_str().unwrap_or_default();
    c.tokens.get(&to).and_then(|t| t.returns.get(data)).map(|r| json!(r)).ok_or((3, "execution reverted".into()))
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    if shared.refuse.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |socket| session(socket, shared))
}

/// One WebSocket connection: answers `eth_subscribe("logs")` and forwards pushed logs once subscribed.
async fn session(mut socket: WebSocket, shared: Arc<Shared>) {
    let mut rx = shared.ws.subscribe();
    shared.accepted.fetch_add(1, Ordering::SeqCst);
    let mut subscription: Option<String> = None;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Ok(WsCmd::Log(log)) => {
                    let Some(sub) = &subscription else { continue };
                    let frame = json!({"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub, "result": log}});
                    if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Ok(WsCmd::Drop) | Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let answer = ws_request(&shared, t.as_str(), &mut subscription);
                    if socket.send(Message::Text(answer.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
}

fn ws_request(shared: &Shared, text: &str, subscription: &mut Option<String>) -> Value {
    let mut c = shared.chain();
    let Ok(req) = serde_json::from_str::<Value>(text) else {
        return json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "parse error"}});
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
    if method != "eth_subscribe" {
        return one(&mut c, &req);
    }
    *c.calls.entry(method).or_default() += 1;
    let params = &req["params"];
    let result = if params[0] != "logs" {
        Err((-32602, format!("unsupported subscription {}", params[0])))
    } else {
        c.check_filter(&params[1]).map_err(|e| (-32602, e)).map(|()| {
            let n = shared.next_sub.fetch_add(1, Ordering::SeqCst) as u128;
            let sub = format!("{:#034x}", n | (0x9cef_4789_u128 << 96));
            *subscription = Some(sub.clone());
            shared.subscribed.fetch_add(1, Ordering::SeqCst);
            json!(sub)
        })
    };
    reply(&mut c, id, result)
}
