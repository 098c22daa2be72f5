//! `nl bench enrich`: enrich + risk + score + gate per asset over a `MemoryBus`, every provider served
//! on loopback. `n` token sightings (`listing.observed`, one new EVM token each) go in at once; the real
//! enricher looks each up at a loopback DexScreener (`/tokens/v1`, ≤ 30 tokens per call) and publishes the
//! snapshot, the risk-scorer asks loopback GoPlus and honeypot.is (the golden `fine_evm` answers), scores,
//! and the gate decides. Latency is per asset, from its observation's publish to its `candidate.*`
//! decision being seen; throughput is assets decided per second. No ledger in the loop.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use nl_adapters::providers::ProvidersConfig;
use nl_bus::memory::MemoryBusConfig;
use nl_bus::{Bus, ConsumerSpec, MemoryBus, observation_messages};
use nl_domain::{AssetId, ChangeKind, Decision, Envelope, GateDecision, ListingObservation, ObservationKind, RunIdentity};
use nl_enricher::EnricherConfig;
use nl_gate::GateServiceConfig;
use nl_ledger::LedgerConfig;
use nl_recorder::RecorderConfig;
use nl_risk_scorer::RiskScorerConfig;
use nl_runtime::{Extras, ServiceConfigs, Stage, Topology};
use serde_json::{Value, json};

/// The recorded DexScreener pair every served pair is shaped after.
const DS_PAIRS: &str = include_str!("../../../shared/adapters/src/dex/dexscreener/test_data/http_get_latest_dex_pairs.json");
const WETH: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";

/// What one run measured.
#[derive(Debug, Clone)]
pub struct PipelineFigures {
    pub promoted: usize,
    /// Rejections by their reason codes (joined with `,`), most frequent first.
    pub rejected: Vec<(String, usize)>,
    pub per_sec: f64,
    pub p50_micros: f64,
    pub p99_micros: f64,
}

/// Serves `GET /tokens/v1/{chainId}/{a,b,...}` on `127.0.0.1:0`: one pair per asked address, in the
/// recorded pair's shape, 45 minutes old with 52k USD liquidity.
async fn serve_dexscreener() -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let pairs: Value = serde_json::from_str(DS_PAIRS).context("recorded DexScreener pairs")?;
    let template = pairs["pairs"][0].clone();
    let created_ms = (chrono::Utc::now() - chrono::Duration::minutes(45)).timestamp_millis();
    let app = Router::new().route(
        "/tokens/v1/{chain}/{addresses}",
        get(move |Path((chain, addresses)): Path<(String, String)>| {
            let template = template.clone();
            async move {
                let items: Vec<Value> = addresses
                    .split(',')
                    .map(|a| {
                        let mut p = template.clone();
                        p["chainId"] = json!(chain);
                        p["dexId"] = json!("uniswap");
                        p["pairAddress"] = json!(a);
                        p["url"] = json!(format!("https://dexscreener.com/{chain}/{a}"));
                        p["baseToken"] = json!({"address": a, "name": "Bench", "symbol": "BNCH"});
                        p["quoteToken"] = json!({"address": WETH, "name": "Wrapped Ether", "symbol": "WETH"});
                        p["pairCreatedAt"] = json!(created_ms);
                        p
                    })
                    .collect();
                axum::Json(Value::Array(items))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the DexScreener mock")?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "DexScreener mock stopped.");
        }
    });
    Ok((url, task))
}

fn observation(i: usize, at: nl_domain::Ts) -> anyhow::Result<ListingObservation> {
    let asset_id = AssetId::chain("eth", &format!("0x{:040x}", i + 1))?;
    Ok(ListingObservation {
        source: "bench".into(),
        venue: "dexscreener".into(),
        kind: ObservationKind::TokenProfile,
        change: ChangeKind::New,
        instrument_id: asset_id.to_string(),
        asset_id,
        symbol: "BNCH".into(),
        name: None,
        base: None,
        quote: None,
        status: None,
        source_published_at: None,
        scheduled_at: None,
        first_observed_at: at,
        emitted_at: at,
        raw_event_id: None,
        details: Value::Null,
    })
}

/// Runs `n` assets through enricher → risk-scorer → gate and measures each one's latency.
///
/// # Errors
/// A component or mock cannot start, or not every asset is decided within the deadline.
#[allow(clippy::cast_precision_loss)]
pub async fn bench_enrich_risk_gate(n: usize) -> anyhow::Result<PipelineFigures> {
    bench_enrich_risk_gate_with(n, None, None).await
}

/// As [`bench_enrich_risk_gate`], with the AI stage beside the pipeline when `ai` is given (its config and
/// artifact dir): it consumes the same decisions (L1 deep on every promotion) on the same bus.
///
/// # Errors
/// As [`bench_enrich_risk_gate`].
#[allow(clippy::cast_precision_loss)]
pub async fn bench_enrich_risk_gate_with(
    n: usize,
    with_ai: Option<(nl_ai_dispatch::AiConfig, std::path::PathBuf)>,
    score_threshold: Option<nl_domain::Decimal>,
) -> anyhow::Result<PipelineFigures> {
    anyhow::ensure!(n > 0, "--events must be at least 1");
    let (ds_url, ds_task) = serve_dexscreener().await?;
    let (risk_addr, risk_task) = nl_testkit::golden::serve_fine_evm_providers().await.map_err(anyhow::Error::msg)?;
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new(MemoryBusConfig { max_messages: n.saturating_mul(16).max(10_000), ..MemoryBusConfig::default() }));
    let run = RunIdentity { run_id: "nl_bench".into(), config_hash: "bench".into() };

    let mut ecfg = EnricherConfig { batch_size: 256, fetch_wait_ms: 20, ..EnricherConfig::default() };
    ecfg.schedule.enabled = false;
    (ecfg.dexscreener.base_url, ecfg.dexscreener.calls_per_min) = (ds_url, 1e9);
    let rs_cfg = RiskScorerConfig {
        providers: ProvidersConfig::all_at(&format!("http://{risk_addr}")),
        concurrency: 64,
        batch_size: 256,
        fetch_wait_ms: 20,
        ..RiskScorerConfig::default()
    };
    let mut gate = GateServiceConfig { fetch_wait_ms: 20, ..GateServiceConfig::default() };
    if let Some(t) = score_threshold {
        gate.gate.score_threshold = t;
    }
    let (ledger, recorder, venue_urls) = (LedgerConfig::default(), RecorderConfig::default(), BTreeMap::new());
    let (ai, ai_dir) = with_ai.clone().unwrap_or_default();
    let cfgs = ServiceConfigs { enricher: &ecfg, risk_scorer: &rs_cfg, gate: &gate, ledger: &ledger, recorder: &recorder, ai: &ai, venue_urls: &venue_urls };
    let mut stages = vec![Stage::Enricher, Stage::RiskScorer, Stage::Gate];
    if with_ai.is_some() {
        stages.push(Stage::AiDispatch);
    }
    let extras = Extras { ai_out_dir: Some(ai_dir), ..Extras::default() };
    let pipeline = Topology::of(&stages).start(cfgs, &bus, &run, &extras).await?;
    let mut decisions = bus.subscribe(ConsumerSpec::new("bench-decisions", "nl.evt.candidate.>")).await?;

    let now = chrono::Utc::now();
    let observations = (0..n).map(|i| observation(i, now)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut pending: HashMap<String, Instant> = HashMap::with_capacity(n);
    let start = Instant::now();
    for chunk in observations.chunks(4096) {
        let at = Instant::now();
        pending.extend(chunk.iter().map(|o| (o.asset_id.to_string(), at)));
        bus.publish_batch(observation_messages(chunk, &run)).await.context("publishing observations")?;
    }

    let mut micros = Vec::with_capacity(n);
    let (mut promoted, mut rejected) = (0, HashMap::<String, usize>::new());
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 20);
    while micros.len() < n && Instant::now() < deadline {
        for d in decisions.fetch(1024, Duration::from_millis(50)).await? {
            let decided = Envelope::from_json(&d.message.payload).ok().and_then(|e| serde_json::from_value::<GateDecision>(e.meta).ok());
            if let Some(dec) = decided
                && let Some(t) = pending.remove(&dec.asset_id.to_string())
            {
                micros.push(t.elapsed().as_secs_f64() * 1e6);
                match dec.decision {
                    Decision::Promoted => promoted += 1,
                    Decision::Rejected => *rejected.entry(dec.reason_codes.join(",")).or_default() += 1,
                }
            }
            let _ = d.ack().await;
        }
    }
    let total = start.elapsed().as_secs_f64();
    let failed = pipeline.stop().await;
    anyhow::ensure!(failed.is_empty(), "services failed during the bench: {}", failed.join("; "));
    ds_task.abort();
    risk_task.abort();
    if micros.len() < n {
        bail!("only {} of {n} assets were decided within the deadline", micros.len());
    }
    micros.sort_by(f64::total_cmp);
    let pct = |q: f64| micros[((micros.len() as f64 * q).ceil() as usize).saturating_sub(1).min(micros.len() - 1)];
    let mut rejected: Vec<(String, usize)> = rejected.into_iter().collect();
    rejected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(PipelineFigures { promoted, rejected, per_sec: n as f64 / total.max(1e-9), p50_micros: pct(0.50), p99_micros: pct(0.99) })
}
