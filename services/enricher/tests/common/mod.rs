//! Shared test support: an axum DexScreener mock on 127.0.0.1:0 serving the recorded pairs, an
//! in-process pair fetcher over the same payloads (for paused-clock tests), observations, and bus readers.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nl_bus::observation_messages;
use nl_adapters::dex::dexscreener::client::TokenPairs;
use nl_adapters::dex::dexscreener::{PairFetcher, chain_id_for_chain, parse_pairs};
use nl_testkit::unique_name;
use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, Message, TokioClock};
use nl_domain::{AssetId, ChangeKind, Envelope, ListingObservation, ObservationKind, RawEvent, RunIdentity, Ts};
use nl_enricher::{EnricherConfig, EnricherCtx, EnricherService, EnricherStats};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const PAIRS: &str = include_str!("../../../../shared/adapters/src/dex/dexscreener/test_data/http_get_latest_dex_pairs.json");
pub const TOKENS_V1: &str = include_str!("../../../../shared/adapters/src/dex/dexscreener/test_data/http_get_tokens_v1.json");

/// STONK: two pairs across the payloads (pumpswap with liquidity, meteoradbc without).
pub const STONK: &str = "3Y1SCEJABneLzJ1KL7f6jp5NyP7wxjtqmAy5qKAVpump";
/// KYS: one pumpfun pair without `liquidity`.
pub const KYS: &str = "DppWLLeBgn49Poy15Jqq8vewEEtSrMBQNzKKzYgZpump";
/// STONK's pumpswap `pairCreatedAt` (ms).
pub const STONK_CREATED_MS: i64 = 1_791_632_043_000;

/// The service clock the tests hand in.
pub type Clock = Arc<dyn nl_bus::Clock>;

/// A clock at `base` that follows tokio's (paused) clock.
pub fn tokio_clock(base: Ts) -> Clock {
    Arc::new(TokioClock::starting_at(base))
}

pub fn run() -> RunIdentity {
    RunIdentity { run_id: "nl_20261010_000000Z_deadbeef".into(), config_hash: "cafe".into() }
}

/// Every pair object of both recorded payloads.
pub fn all_pair_values() -> Vec<Value> {
    let env: Value = serde_json::from_str(PAIRS).unwrap();
    let mut v = env["pairs"].as_array().cloned().unwrap_or_default();
    let arr: Value = serde_json::from_str(TOKENS_V1).unwrap();
    v.extend(arr.as_array().cloned().unwrap_or_default());
    v
}

/// The `/tokens/v1` body for `addrs` on DexScreener chain `chain_id`: the recorded pairs whose base token
/// is one of them, as a bare array.
pub fn tokens_v1_body(chain_id: &str, addrs: &[String]) -> String {
    let wanted: HashSet<String> = addrs.iter().map(|a| a.to_ascii_lowercase()).collect();
    let items: Vec<Value> = all_pair_values()
        .into_iter()
        .filter(|p| p["chainId"] == chain_id)
        .filter(|p| p["baseToken"]["address"].as_str().is_some_and(|a| wanted.contains(&a.to_ascii_lowercase())))
        .collect();
    Value::Array(items).to_string()
}

/// The mock DexScreener server.
pub struct Mock {
    pub base_url: String,
    pub hits: Arc<AtomicUsize>,
    /// Status to answer with instead of 200 (0 = normal).
    pub fail_with: Arc<AtomicU16>,
}

#[derive(Clone)]
struct MockState {
    hits: Arc<AtomicUsize>,
    fail_with: Arc<AtomicU16>,
}

async fn tokens_v1(State(st): State<MockState>, Path((chain, addrs)): Path<(String, String)>) -> Response {
    st.hits.fetch_add(1, Ordering::SeqCst);
    let fail = st.fail_with.load(Ordering::SeqCst);
    if fail != 0 {
        let code = StatusCode::from_u16(fail).unwrap();
        return (code, [("retry-after", "1")], "{\"error\":\"rate limited\"}").into_response();
    }
    let addrs: Vec<String> = addrs.split(',').map(str::to_string).collect();
    let body: Value = serde_json::from_str(&tokens_v1_body(&chain, &addrs)).unwrap();
    Json(body).into_response()
}

pub async fn start_mock() -> Mock {
    let hits = Arc::new(AtomicUsize::new(0));
    let fail_with = Arc::new(AtomicU16::new(0));
    let app = axum::Router::new()
        .route("/tokens/v1/{chain}/{addrs}", get(tokens_v1))
        .with_state(MockState { hits: Arc::clone(&hits), fail_with: Arc::clone(&fail_with) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Mock { base_url: format!("http://{addr}"), hits, fail_with }
}

/// An in-process pair fetcher over the recorded payloads (no I/O, so it runs on a paused clock). Records
/// the size of every call.
pub struct StaticPairs {
    pub clock: Clock,
    pub calls: Mutex<Vec<usize>>,
}

impl StaticPairs {
    pub fn new(clock: Clock) -> Arc<Self> {
        Arc::new(Self { clock, calls: Mutex::new(Vec::new()) })
    }

    pub fn calls(&self) -> Vec<usize> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl PairFetcher for StaticPairs {
    async fn fetch_pairs(&self, chain: &str, addrs: &[String]) -> TokenPairs {
        self.calls.lock().unwrap().push(addrs.len());
        let chain_id = chain_id_for_chain(chain);
        let body = tokens_v1_body(&chain_id, addrs);
        let endpoint = format!("http://static/tokens/v1/{chain_id}/{}", addrs.join(","));
        let raw = RawEvent::new("dexscreener_pairs", &endpoint, Some(200), self.clock.now(), body.clone(), &run().run_id);
        let pools = parse_pairs(&body).unwrap().pools;
        TokenPairs { pools, raws: vec![raw], errors: Vec::new() }
    }
}

/// A DEX observation of `address` on `chain` with no market data of its own (like a factory log).
pub fn dex_obs(chain: &str, address: &str, at: Ts) -> ListingObservation {
    ListingObservation {
        source: format!("evm_{chain}"),
        venue: "pumpswap".into(),
        kind: ObservationKind::DexPool,
        change: ChangeKind::New,
        asset_id: AssetId::chain(chain, address).unwrap(),
        symbol: String::new(),
        name: None,
        base: Some(address.into()),
        quote: Some("So11111111111111111111111111111111111111112".into()),
        instrument_id: format!("pool-{address}"),
        status: None,
        source_published_at: None,
        scheduled_at: None,
        first_observed_at: at,
        emitted_at: at,
        raw_event_id: Some("collector-raw".into()),
        details: json!({"dex": "pumpswap", "pool": format!("pool-{address}")}),
    }
}

/// A CEX instrument observation.
pub fn cex_obs(venue: &str, base: &str, at: Ts, scheduled: Option<Ts>) -> ListingObservation {
    ListingObservation {
        source: format!("{venue}_instruments"),
        venue: venue.into(),
        kind: ObservationKind::CexInstrument,
        change: ChangeKind::New,
        asset_id: AssetId::cex(venue, base).unwrap(),
        symbol: base.into(),
        name: None,
        base: Some(base.into()),
        quote: Some("USDT".into()),
        instrument_id: format!("{base}-USDT"),
        status: Some("preopen".into()),
        source_published_at: Some(at),
        scheduled_at: scheduled,
        first_observed_at: at,
        emitted_at: at,
        raw_event_id: None,
        details: Value::Null,
    }
}

pub async fn publish(bus: &MemoryBus, obs: &[ListingObservation]) {
    bus.publish_batch(observation_messages(obs, &run())).await.unwrap();
}

/// Publishes `obs` again under a fresh message id, as a redelivery after the dedup window would arrive.
pub async fn republish(bus: &MemoryBus, obs: &ListingObservation) {
    let mut msgs = observation_messages(std::slice::from_ref(obs), &run());
    for m in &mut msgs {
        m.id = format!("{}-again", m.id);
    }
    bus.publish_batch(msgs).await.unwrap();
}

pub async fn publish_raw_bytes(bus: &MemoryBus, subject: &str, payload: &'static [u8]) {
    bus.publish(Message::new(subject, unique_name("junk"), payload)).await.unwrap();
}

/// Every envelope stored under `filter`, read through a throwaway consumer.
pub async fn read_all(bus: &MemoryBus, filter: &str) -> Vec<Envelope> {
    let mut sub = bus.subscribe(ConsumerSpec::new(unique_name("reader"), filter)).await.unwrap();
    let mut out = Vec::new();
    loop {
        let batch = sub.fetch(1000, Duration::from_millis(20)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for d in batch {
            out.push(Envelope::from_json(&d.message.payload).unwrap());
            d.ack().await.unwrap();
        }
    }
    out
}

/// A running service and the handle that stops it.
pub struct Running {
    pub stats: Arc<EnricherStats>,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap();
    }
}

pub async fn start(cfg: EnricherConfig, ctx: EnricherCtx) -> Running {
    let svc: EnricherService = nl_enricher::build(cfg, ctx).await.unwrap();
    let stats = svc.stats();
    let stop = CancellationToken::new();
    let shutdown = stop.clone();
    let handle = tokio::spawn(async move {
        svc.run(shutdown).await.unwrap();
    });
    Running { stats, stop, handle }
}

pub fn ctx(bus: &MemoryBus) -> EnricherCtx {
    EnricherCtx::new(Arc::new(bus.clone()), run())
}

pub fn config_for(mock: &Mock) -> EnricherConfig {
    let mut cfg = EnricherConfig { fetch_wait_ms: 50, ..EnricherConfig::default() };
    cfg.dexscreener.base_url = mock.base_url.clone();
    cfg
}

pub fn ts_ms(ms: i64) -> Ts {
    chrono::DateTime::from_timestamp_millis(ms).unwrap()
}
