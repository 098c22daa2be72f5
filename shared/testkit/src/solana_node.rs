//! A Solana JSON-RPC mock node on `127.0.0.1:0` for the Solana source tests and benchmarks: an in-memory
//! ledger of transactions served over HTTP (`getSignaturesForAddress`, `getTransaction`,
//! `getAccountInfo`) and over WebSocket at `/ws` (`logsSubscribe` with `{"mentions":[program]}`,
//! `logsNotification` pushes), in the shapes of reference sources-2 §4.
//!
//! * Requests are checked like a strict node: `mentions` with exactly one pubkey, `getTransaction`
//!   without `maxSupportedTransactionVersion: 0` answers -32015 (every transaction here is v0),
//!   `getSignaturesForAddress` refuses `processed` and a limit outside 1..=1000. Violations are recorded.
//! * [`SolanaNode::submit`] appends a transaction and pushes its logs to every socket subscribed to a
//!   program it mentions; [`SolanaNode::drop_ws`] cuts every socket, [`SolanaNode::refuse_ws`] refuses
//!   upgrades (so transactions submitted meanwhile are never pushed).
//! * Transactions are built by [`pump_create`], [`pumpswap_graduation`] and [`pump_trade`] with the
//!   reference's log lines and Anchor event layouts (Borsh, discriminators of §5); the Raydium CPMM,
//!   LaunchLab and Meteora DAMM v2 / DLMM ones by [`crate::solana_venues`], with their instructions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use nl_adapters::dex::solana::WSOL_MINT;
use nl_adapters::dex::solana::events::{COMPLETE_EVENT, COMPLETE_PUMP_AMM_MIGRATION_EVENT, CREATE_EVENT, CREATE_POOL_EVENT, PUMP_FUN, PUMP_SWAP, TRADE_EVENT};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// SPL Token program.
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

/// One transaction of the mock ledger.
#[derive(Debug, Clone)]
pub struct MockTx {
    pub signature: String,
    pub slot: u64,
    pub block_time: i64,
    /// Programs the transaction mentions (what `mentions` and `getSignaturesForAddress` match).
    pub programs: Vec<String>,
    pub logs: Vec<String>,
    pub account_keys: Vec<String>,
    /// `(mint, decimals)` of the post token balances.
    pub balances: Vec<(String, u8)>,
    pub err: Option<Value>,
    /// Instructions with data, served `jsonParsed`-style (`programId`, `accounts` as pubkeys, base58
    /// `data`): outer ones in `transaction.message.instructions`, inner ones (CPI) in
    /// `meta.innerInstructions` under outer instruction 0.
    pub instructions: Vec<MockIx>,
}

/// One instruction of a [`MockTx`].
#[derive(Debug, Clone)]
pub struct MockIx {
    pub program: String,
    pub accounts: Vec<String>,
    pub data: Vec<u8>,
    /// Invoked by another instruction (served under `meta.innerInstructions`).
    pub inner: bool,
}

/// A deterministic base58 pubkey from `(tag, n)`.
#[must_use]
pub fn pubkey(tag: u8, n: u64) -> String {
    let mut k = [tag; 32];
    k[..8].copy_from_slice(&n.to_le_bytes());
    k[8] = 0x5a;
    bs58::encode(k).into_string()
}

fn signature(n: u64) -> String {
    let mut s = [7_u8; 64];
    s[..8].copy_from_slice(&n.to_le_bytes());
    bs58::encode(s).into_string()
}

pub(crate) fn borsh_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn key_bytes(k: &str) -> Vec<u8> {
    bs58::decode(k).into_vec().unwrap_or_else(|_| vec![0; 32])
}

pub(crate) fn data_line(bytes: &[u8]) -> String {
    format!("Program data: {}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A pump.fun `create` of `mint` (`name`, `symbol`, creator `creator`) at `block_time`: the 2026-05 IDL
/// `CreateEvent` in `Program data:`, the nested self-invoke, the SPL Token mint init, and the mint's
/// post token balance (6 decimals).
#[must_use]
pub fn pump_create(mint: &str, name: &str, symbol: &str, creator: &str, block_time: i64) -> MockTx {
    let curve = pubkey(0xbc, block_time.unsigned_abs());
    let mut ev = CREATE_EVENT.to_vec();
    for s in [name, symbol, "https://ipfs.io/ipfs/QmMock"] {
        borsh_string(&mut ev, s);
    }
    for k in [mint, curve.as_str(), creator, creator] {
        ev.extend_from_slice(&key_bytes(k));
    }
    ev.extend_from_slice(&block_time.to_le_bytes());
    for v in [1_073_000_000_000_000_u64, 30_000_000_000, 793_100_000_000_000, 1_000_000_000_000_000] {
        ev.extend_from_slice(&v.to_le_bytes());
    }
    ev.extend_from_slice(&key_bytes(TOKEN_PROGRAM));
    ev.extend_from_slice(&[0, 0]);
    ev.extend_from_slice(&[0; 32]);
    ev.extend_from_slice(&30_000_000_000_u64.to_le_bytes());
    let logs = vec![
        format!("Program {PUMP_FUN} invoke [1]"),
        "Program log: Instruction: Create".into(),
        format!("Program {TOKEN_PROGRAM} invoke [2]"),
        "Program log: Instruction: InitializeMint2".into(),
        format!("Program {TOKEN_PROGRAM} consumed 2780 of 179000 compute units"),
        format!("Program {TOKEN_PROGRAM} success"),
        format!("Program {PUMP_FUN} invoke [2]"),
        format!("Program {PUMP_FUN} consumed 2003 of 150000 compute units"),
        format!("Program {PUMP_FUN} success"),
        data_line(&ev),
        format!("Program {PUMP_FUN} consumed 120000 of 200000 compute units"),
        format!("Program {PUMP_FUN} success"),
    ];
    MockTx {
        signature: String::new(),
        slot: 0,
        block_time,
        programs: vec![PUMP_FUN.into(), TOKEN_PROGRAM.into()],
        logs,
        account_keys: vec![creator.to_string(), mint.to_string(), curve, PUMP_FUN.into()],
        balances: vec![(mint.to_string(), 6)],
        err: None,
        instructions: Vec::new(),
    }
}

/// A graduation of `mint`: pump.fun `Migrate` (its `CompleteEvent`-style bookkeeping aside) CPIs into
/// PumpSwap `create_pool`, whose `CreatePoolEvent` names the pool (`pool`) for `mint`/WSOL; then pump.fun's
/// own `CompletePumpAmmMigrationEvent` (vendor IDL layout, 2026-05: SOL-paired) names the same pool.
#[must_use]
pub fn pumpswap_graduation(mint: &str, pool: &str, creator: &str, block_time: i64) -> MockTx {
    let mut ev = CREATE_POOL_EVENT.to_vec();
    ev.extend_from_slice(&block_time.to_le_bytes());
    ev.extend_from_slice(&0_u16.to_le_bytes());
    for k in [creator, mint, WSOL_MINT] {
        ev.extend_from_slice(&key_bytes(k));
    }
    ev.extend_from_slice(&[6, 9]);
    for v in [206_900_000_000_000_u64, 84_990_359_400, 206_900_000_000_000, 84_990_359_400, 100, 4_193_388_886_931, 4_193_388_886_831] {
        ev.extend_from_slice(&v.to_le_bytes());
    }
    ev.push(254);
    for k in [pool.to_string(), pubkey(0x1c, 1), pubkey(0x1d, 1), pubkey(0x1e, 1), creator.to_string()] {
        ev.extend_from_slice(&key_bytes(&k));
    }
    ev.push(0);
    let mut complete = COMPLETE_EVENT.to_vec();
    for k in [creator, mint, pool] {
        complete.extend_from_slice(&key_bytes(k));
    }
    complete.extend_from_slice(&block_time.to_le_bytes());
    let mut migration = COMPLETE_PUMP_AMM_MIGRATION_EVENT.to_vec();
    for k in [creator, mint] {
        migration.extend_from_slice(&key_bytes(k));
    }
    for v in [206_900_000_000_000_u64, 84_990_359_301, 15_000_001] {
        migration.extend_from_slice(&v.to_le_bytes());
    }
    migration.extend_from_slice(&key_bytes(&pubkey(0xbc, 1)));
    migration.extend_from_slice(&block_time.to_le_bytes());
    migration.extend_from_slice(&key_bytes(pool));
    migration.extend_from_slice(&[0; 32]);
    let logs = vec![
        format!("Program {PUMP_FUN} invoke [1]"),
        "Program log: Instruction: Migrate".into(),
        format!("Program {PUMP_SWAP} invoke [2]"),
        "Program log: Instruction: CreatePool".into(),
        data_line(&ev),
        format!("Program {PUMP_SWAP} consumed 90000 of 300000 compute units"),
        format!("Program {PUMP_SWAP} success"),
        data_line(&complete),
        data_line(&migration),
        format!("Program {PUMP_FUN} success"),
    ];
    MockTx {
        signature: String::new(),
        slot: 0,
        block_time,
        programs: vec![PUMP_FUN.into(), PUMP_SWAP.into()],
        logs,
        account_keys: vec![creator.to_string(), pool.to_string(), mint.to_string(), PUMP_SWAP.into()],
        balances: vec![(mint.to_string(), 6), (WSOL_MINT.to_string(), 9)],
        err: None,
        instructions: Vec::new(),
    }
}

/// A pump.fun `buy` of `mint`: mentions pump.fun, launches nothing; its `TradeEvent` (reference sources-2
/// §5a: `mint, sol_amount, token_amount, is_buy, user, timestamp, virtual_sol_reserves,
/// virtual_token_reserves, real_sol_reserves, real_token_reserves, fee_recipient`, then later additions,
/// here 8 trailing bytes) follows the self-invoke, as a create's event does.
#[must_use]
pub fn pump_trade(mint: &str, trader: &str, block_time: i64) -> MockTx {
    let mut ev = TRADE_EVENT.to_vec();
    ev.extend_from_slice(&key_bytes(mint));
    ev.extend_from_slice(&250_000_000_u64.to_le_bytes());
    ev.extend_from_slice(&8_600_000_000_000_u64.to_le_bytes());
    ev.push(1);
    ev.extend_from_slice(&key_bytes(trader));
    ev.extend_from_slice(&block_time.to_le_bytes());
    for v in [30_250_000_000_u64, 1_064_400_000_000_000, 250_000_000, 784_500_000_000_000] {
        ev.extend_from_slice(&v.to_le_bytes());
    }
    ev.extend_from_slice(&key_bytes(&pubkey(0xfe, 1)));
    ev.extend_from_slice(&[0; 8]);
    MockTx {
        signature: String::new(),
        slot: 0,
        block_time,
        programs: vec![PUMP_FUN.into()],
        logs: vec![
            format!("Program {PUMP_FUN} invoke [1]"),
            "Program log: Instruction: Buy".into(),
            format!("Program {PUMP_FUN} invoke [2]"),
            format!("Program {PUMP_FUN} consumed 2003 of 150000 compute units"),
            format!("Program {PUMP_FUN} success"),
            data_line(&ev),
            format!("Program {PUMP_FUN} consumed 40000 of 200000 compute units"),
            format!("Program {PUMP_FUN} success"),
        ],
        account_keys: vec![trader.to_string(), mint.to_string()],
        balances: vec![(mint.to_string(), 6)],
        err: None,
        instructions: Vec::new(),
    }
}

/// What the node holds and saw.
#[derive(Debug, Default)]
pub struct Ledger {
    pub txs: Vec<MockTx>,
    /// `getAccountInfo` answers (`result.value`) by address; absent = `null`.
    pub accounts: HashMap<String, Value>,
    /// When set, `getAccountInfo` answers this JSON-RPC error.
    pub account_error: Option<(i64, String)>,
    /// Signatures whose `getTransaction` answers `null` this many more times.
    pub unindexed: HashMap<String, u32>,
    pub calls: HashMap<String, usize>,
    pub violations: Vec<String>,
    /// Signatures served by `getTransaction`, in order.
    pub fetched: Vec<String>,
    /// The next submitted transaction answers `getTransaction` with `null` this many times.
    pub unindex_next: u32,
}

#[derive(Debug, Clone)]
enum WsCmd {
    Tx(usize),
    Drop,
}

#[derive(Debug)]
struct Shared {
    ledger: Mutex<Ledger>,
    ws: broadcast::Sender<WsCmd>,
    refuse: AtomicBool,
    accepted: AtomicUsize,
    subscribed: AtomicUsize,
    next_sub: AtomicU64,
    next_sig: AtomicU64,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
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
pub struct SolanaNode {
    /// `http://127.0.0.1:<port>` (JSON-RPC over POST).
    pub url: String,
    /// `ws://127.0.0.1:<port>/ws`.
    pub ws_url: String,
    shared: Arc<Shared>,
    _server: Arc<Server>,
}

impl SolanaNode {
    /// Starts an empty node.
    ///
    /// # Errors
    /// When the loopback listener cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        let (ws, _) = broadcast::channel(65_536);
        let shared = Arc::new(Shared {
            ledger: Mutex::new(Ledger::default()),
            ws,
            refuse: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            subscribed: AtomicUsize::new(0),
            next_sub: AtomicU64::new(24_040),
            next_sig: AtomicU64::new(1),
        });
        let app = axum::Router::new().route("/", post(rpc)).route("/ws", get(upgrade)).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url: format!("http://{addr}"), ws_url: format!("ws://{addr}/ws"), shared, _server: Arc::new(Server(task)) })
    }

    /// The ledger, for inspection and direct edits.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.shared.ledger()
    }

    /// Appends `tx` (a fresh signature and the next slot) and pushes it to subscribers of the programs
    /// it mentions; returns its signature.
    pub fn submit(&self, mut tx: MockTx) -> String {
        let n = self.shared.next_sig.fetch_add(1, Ordering::SeqCst);
        tx.signature = signature(n);
        tx.slot = 300_000_000 + n;
        let sig = tx.signature.clone();
        let index = {
            let mut l = self.shared.ledger();
            let times = std::mem::take(&mut l.unindex_next);
            if times > 0 {
                l.unindexed.insert(sig.clone(), times);
            }
            l.txs.push(tx);
            l.txs.len() - 1
        };
        let _ = self.shared.ws.send(WsCmd::Tx(index));
        sig
    }

    /// Makes `getTransaction(signature)` answer `null` `times` more times (not indexed yet).
    pub fn delay_index(&self, signature: &str, times: u32) {
        self.shared.ledger().unindexed.insert(signature.to_string(), times);
    }

    /// Cuts every WebSocket connection without a close frame.
    pub fn drop_ws(&self) {
        let _ = self.shared.ws.send(WsCmd::Drop);
    }

    /// While `refuse` is true, WebSocket upgrades fail with 503.
    pub fn refuse_ws(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Successful `logsSubscribe` calls so far (all connections).
    #[must_use]
    pub fn subscriptions(&self) -> usize {
        self.shared.subscribed.load(Ordering::SeqCst)
    }

    /// WebSocket connections accepted so far.
    #[must_use]
    pub fn ws_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Calls of `method` so far.
    #[must_use]
    pub fn calls(&self, method: &str) -> usize {
        self.shared.ledger().calls.get(method).copied().unwrap_or(0)
    }

    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.shared.ledger().violations.clone()
    }
}

async fn rpc(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Json<Value> {
    let mut l = shared.ledger();
    Json(one(&mut l, &body))
}

fn reply(l: &mut Ledger, id: Value, result: Result<Value, (i64, String)>) -> Value {
    match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err((code, message)) => {
            if code == -32602 || code == -32015 {
                l.violations.push(message.clone());
            }
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    }
}

fn one(l: &mut Ledger, req: &Value) -> Value {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
    *l.calls.entry(method.clone()).or_default() += 1;
    let params = req.get("params").cloned().unwrap_or(json!([]));
    let result = match method.as_str() {
        "getSignaturesForAddress" => signatures(l, &params),
        "getTransaction" => transaction(l, &params),
        "getAccountInfo" => account(l, &params),
        other => Err((-32601, format!("Method not found: {other}"))),
    };
    reply(l, id, result)
}

fn signatures(l: &Ledger, params: &Value) -> Result<Value, (i64, String)> {
    let address = params[0].as_str().ok_or((-32602, "getSignaturesForAddress: no address".to_string()))?;
    let opts = &params[1];
    let limit = opts.get("limit").and_then(Value::as_u64).unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err((-32602, format!("getSignaturesForAddress: limit {limit} not in 1..=1000")));
    }
    if opts.get("commitment").and_then(Value::as_str) == Some("processed") {
        return Err((-32602, "getSignaturesForAddress: processed commitment is not supported".into()));
    }
    let before = opts.get("before").and_then(Value::as_str);
    let until = opts.get("until").and_then(Value::as_str);
    let mut out = Vec::new();
    let mut started = before.is_none();
    for tx in l.txs.iter().rev().filter(|t| t.programs.iter().any(|p| p == address)) {
        if Some(tx.signature.as_str()) == until {
            break;
        }
        if !started {
            started = Some(tx.signature.as_str()) == before;
            continue;
        }
        out.push(json!({"signature": tx.signature, "slot": tx.slot, "err": tx.err, "memo": null, "blockTime": tx.block_time, "confirmationStatus": "confirmed"}));
        if out.len() as u64 == limit {
            break;
        }
    }
    Ok(Value::Array(out))
}

fn transaction(l: &mut Ledger, params: &Value) -> Result<Value, (i64, String)> {
    let sig = params[0].as_str().unwrap_or_default().to_string();
    if params[1].get("maxSupportedTransactionVersion") != Some(&json!(0)) {
        return Err((
            -32015,
            "Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: \"maxSupportedTransactionVersion\": 0".into(),
        ));
    }
    if let Some(n) = l.unindexed.get_mut(&sig).filter(|n| **n > 0) {
        *n -= 1;
        return Ok(Value::Null);
    }
    let Some(tx) = l.txs.iter().find(|t| t.signature == sig).cloned() else { return Ok(Value::Null) };
    l.fetched.push(sig);
    let keys: Vec<Value> = tx.account_keys.iter().enumerate().map(|(i, k)| json!({"pubkey": k, "signer": i == 0, "writable": i < 2, "source": "transaction"})).collect();
    let post: Vec<Value> = tx
        .balances
        .iter()
        .enumerate()
        .map(|(i, (mint, dec))| json!({"accountIndex": 10 + i, "mint": mint, "owner": tx.account_keys[0], "programId": TOKEN_PROGRAM,
            "uiTokenAmount": {"amount": "1000000", "decimals": dec, "uiAmount": 1.0, "uiAmountString": "1"}}))
        .collect();
    let ix = |i: &MockIx| json!({"programId": i.program, "accounts": i.accounts, "data": bs58::encode(&i.data).into_string(), "stackHeight": if i.inner { json!(2) } else { Value::Null }});
    let outer: Vec<Value> = tx.instructions.iter().filter(|i| !i.inner).map(ix).collect();
    let inner: Vec<Value> = tx.instructions.iter().filter(|i| i.inner).map(ix).collect();
    let inner = if inner.is_empty() { json!([]) } else { json!([{"index": 0, "instructions": inner}]) };
    Ok(json!({
        "slot": tx.slot, "blockTime": tx.block_time, "version": 0,
        "transaction": {"signatures": [tx.signature], "message": {"accountKeys": keys, "instructions": outer, "recentBlockhash": "B7YsL7tnAhMLCZsThdgK2iVEH6gajo6fueSrwtGTGd9K"}},
        "meta": {"err": tx.err, "status": if tx.err.is_some() { json!({"Err": tx.err}) } else { json!({"Ok": null}) }, "fee": 5000,
            "preBalances": [], "postBalances": [], "innerInstructions": inner, "logMessages": tx.logs,
            "preTokenBalances": [], "postTokenBalances": post, "rewards": [], "loadedAddresses": {"writable": [], "readonly": []},
            "computeUnitsConsumed": 120_000}
    }))
}

fn account(l: &Ledger, params: &Value) -> Result<Value, (i64, String)> {
    if let Some((code, msg)) = &l.account_error {
        return Err((*code, msg.clone()));
    }
    let address = params[0].as_str().unwrap_or_default();
    let value = l.accounts.get(address).cloned().unwrap_or(Value::Null);
    // A stored account answers in its own encoding: `[<base64>, "base64"]` data or `jsonParsed` (a mint).
    let encoding = params[1].get("encoding").and_then(Value::as_str);
    let served = if value["data"].is_array() { "base64" } else { "jsonParsed" };
    if !matches!(encoding, Some("jsonParsed" | "base64")) || (!value.is_null() && encoding != Some(served)) {
        return Err((-32602, format!("getAccountInfo({address}): this test node serves it as {served}, asked {encoding:?}")));
    }
    Ok(json!({"context": {"slot": 300_000_000, "apiVersion": "2.2.0"}, "value": value}))
}

/// The `result.value` of an account owned by `owner` holding `data`, as `getAccountInfo(.., {encoding:
/// base64})` answers it (reference sources-2 §4d field set; `data` = `[<base64>, "base64"]`).
#[must_use]
pub fn base64_account(owner: &str, data: &[u8]) -> Value {
    json!({"data": [base64::engine::general_purpose::STANDARD.encode(data), "base64"], "executable": false, "lamports": 5_616_720,
        "owner": owner, "rentEpoch": u64::MAX, "space": data.len()})
}

async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    if shared.refuse.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |socket| session(socket, shared))
}

/// One WebSocket connection: answers `logsSubscribe` and pushes the logs of every new transaction that
/// mentions a subscribed program (one notification per subscription, as a node does).
async fn session(mut socket: WebSocket, shared: Arc<Shared>) {
    let mut rx = shared.ws.subscribe();
    shared.accepted.fetch_add(1, Ordering::SeqCst);
    let mut subs: Vec<(u64, String)> = Vec::new();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Ok(WsCmd::Tx(i)) => {
                    let Some(tx) = shared.ledger().txs.get(i).cloned() else { continue };
                    for (sub, program) in &subs {
                        if !tx.programs.contains(program) {
                            continue;
                        }
                        let frame = json!({"jsonrpc": "2.0", "method": "logsNotification", "params": {"result": {
                            "context": {"slot": tx.slot}, "value": {"signature": tx.signature, "err": tx.err, "logs": tx.logs}}, "subscription": sub}});
                        if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(WsCmd::Drop) | Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let answer = ws_request(&shared, t.as_str(), &mut subs);
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

fn ws_request(shared: &Shared, text: &str, subs: &mut Vec<(u64, String)>) -> Value {
    let mut l = shared.ledger();
    let Ok(req) = serde_json::from_str::<Value>(text) else {
        return json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}});
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    if req.get("method").and_then(Value::as_str) != Some("logsSubscribe") {
        return one(&mut l, &req);
    }
    *l.calls.entry("logsSubscribe".into()).or_default() += 1;
    let mentions = req["params"][0]["mentions"].as_array().cloned().unwrap_or_default();
    let result = match (mentions.len(), mentions.first().and_then(Value::as_str)) {
        (1, Some(program)) => {
            let sub = shared.next_sub.fetch_add(1, Ordering::SeqCst);
            subs.push((sub, program.to_string()));
            shared.subscribed.fetch_add(1, Ordering::SeqCst);
            Ok(json!(sub))
        }
        (n, _) => Err((-32602, format!("Invalid Request: Only 1 address supported, got {n}"))),
    };
    reply(&mut l, id, result)
}
