//! Throughput helpers (not tests): [`bench_pipeline`] times the pure evaluate → score → decide over the
//! golden scenarios' parsed inputs; [`bench_risk_gate`] times the event path snapshot → risk-scorer (with
//! loopback provider mocks) → gate over a `MemoryBus`.

use std::time::Instant;

use crate::golden::GoldenFile;

/// The golden scenarios, embedded so the bench needs no files at run time.
const GOLDEN: &str = include_str!("../tests/golden_scenarios.json");

/// Runs evaluate + score + decide `n` times, cycling through every golden step (payload parsing is done
/// once, up front). Returns `(decisions per second, p99 latency in microseconds)`; `(0.0, 0.0)` when
/// `n == 0` or the embedded golden file is unusable (the golden test reports why).
#[must_use]
pub fn bench_pipeline(n: usize) -> (f64, f64) {
    let Ok(file) = GoldenFile::from_json(GOLDEN) else { return (0.0, 0.0) };
    let steps: Vec<_> = file.scenarios.iter().flat_map(|s| (0..s.steps.len()).map(move |i| GoldenFile::step_inputs(s, i))).collect();
    if n == 0 || steps.is_empty() {
        return (0.0, 0.0);
    }
    let mut micros = Vec::with_capacity(n);
    let start = Instant::now();
    for k in 0..n {
        let t = Instant::now();
        let out = file.run_inputs(&steps[k % steps.len()]);
        std::hint::black_box(&out);
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64();
    micros.sort_by(f64::total_cmp);
    let idx = ((micros.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(micros.len() - 1);
    let per_sec = if total > 0.0 { n as f64 / total } else { f64::INFINITY };
    (per_sec, micros[idx])
}

/// Runs `n` distinct EVM assets through the event pipeline over a [`MemoryBus`]: `snapshot.recorded` →
/// risk-scorer (GoPlus and honeypot.is served by a loopback [`ProviderMock`] with the golden `fine_evm`
/// payloads) → `risk.evaluated` + `score.computed` → gate → `candidate.*`. No enricher, no ledger.
///
/// All snapshots are published at once; latency is per asset, from its snapshot's publish to its decision
/// being observed. Returns `(decisions per second, p99 latency in microseconds)`; `(0.0, 0.0)` when
/// `n == 0` or the pipeline could not be set up or stalled (the tests report why).
pub async fn bench_risk_gate(n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    match run_risk_gate(n).await {
        Ok(v) => v,
        Err(error) => {
            tracing::warn!(%error, "bench_risk_gate failed.");
            (0.0, 0.0)
        }
    }
}

/// Serves GoPlus and honeypot.is on `127.0.0.1:0` answering every EVM token with the golden `fine_evm`
/// payloads (GoPlus keyed to the asked address); rugcheck answers 404. For benchmarks of the event path.
///
/// # Errors
/// The golden file lacks the `fine_evm` payloads, or the port cannot be bound.
pub async fn serve_fine_evm_providers() -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), String> {
    use nl_domain::AssetId;
    use nl_adapters::providers::Provider;

    use crate::mock::{MockResponse, ProviderMock};

    let file = GoldenFile::from_json(GOLDEN).map_err(|e| e.to_string())?;
    let fine = file.scenarios.iter().find(|s| s.name == "fine_evm").ok_or("no fine_evm scenario")?;
    let AssetId::Chain { address: fine_addr, .. } = &fine.asset_id else { return Err("fine_evm is not on-chain".into()) };
    let body = |p: Provider| fine.steps[0].payloads.iter().find(|x| x.provider == p).map(crate::golden::GoldenPayload::body_text);
    let goplus = body(Provider::Goplus).ok_or("no goplus payload")?;
    let honeypot = body(Provider::HoneypotIs).ok_or("no honeypot payload")?;
    let fine_addr = fine_addr.clone();
    let mock = ProviderMock::new().with_fallback(move |p, addr| match p {
        Provider::Goplus => Some(MockResponse::ok(goplus.replace(&fine_addr, addr))),
        Provider::HoneypotIs => Some(MockResponse::ok(honeypot.clone())),
        Provider::Rugcheck => None,
    });
    mock.serve().await.map_err(|e| e.to_string())
}

async fn run_risk_gate(n: usize) -> Result<(f64, f64), String> {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, Message, ServiceCtx};
    use nl_domain::{AssetId, Decimal, Envelope, EventType, Snapshot};
    use nl_adapters::providers::ProvidersConfig;
    use nl_risk_scorer::{RiskScorerConfig, RiskScorerCtx, RunIdentity};

    use crate::service::{GateServiceConfig, build as build_gate};

    let (addr, mock_task) = serve_fine_evm_providers().await?;

    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
    let run = RunIdentity { run_id: "nl_bench".into(), config_hash: "bench".into() };
    let rs_cfg = RiskScorerConfig {
        providers: ProvidersConfig::all_at(&format!("http://{addr}")),
        concurrency: 64,
        batch_size: 256,
        fetch_wait_ms: 20,
        ..RiskScorerConfig::default()
    };
    let scorer = nl_risk_scorer::build(rs_cfg, RiskScorerCtx::new(Arc::clone(&bus), run.clone())).await.map_err(|e| e.to_string())?;
    let gate = build_gate(GateServiceConfig { fetch_wait_ms: 20, ..GateServiceConfig::default() }, ServiceCtx::new(Arc::clone(&bus), run.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let mut decisions = bus.subscribe(ConsumerSpec::new("bench-decisions", "nl.evt.candidate.>")).await.map_err(|e| e.to_string())?;
    let stop = CancellationToken::new();
    let scorer_task = tokio::spawn(scorer.run(stop.clone()));
    let gate_task = tokio::spawn(gate.run(stop.clone()));

    let now = chrono::Utc::now();
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(n);
    let start = Instant::now();
    let mut msgs = Vec::with_capacity(n);
    for i in 0..n {
        let asset = AssetId::chain("eth", &format!("0x{:040x}", i + 1)).map_err(|e| e.to_string())?;
        let snap = Snapshot {
            asset_id: asset.clone(),
            observed_at: now,
            source: "bench".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: Some(Decimal::from(52_239)),
            volume_24h_usd: Some(Decimal::from(180_000)),
            holders: None,
            age_minutes: Some(45),
            raw_event_id: None,
        };
        let meta = serde_json::to_value(&snap).map_err(|e| e.to_string())?;
        let env =
            Envelope::new(EventType::SnapshotRecorded, &[&asset.to_string(), "bench"], now, &run.run_id, &run.config_hash, meta).with_asset(asset.to_string());
        msgs.push(Message::new(env.subject(), env.event_id.0.clone(), env.to_json().map_err(|e| e.to_string())?));
        sent.insert(asset.to_string(), Instant::now());
    }
    bus.publish_batch(msgs).await.map_err(|e| e.to_string())?;

    let mut micros = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 50);
    while micros.len() < n && Instant::now() < deadline {
        for d in decisions.fetch(1024, Duration::from_millis(50)).await.map_err(|e| e.to_string())? {
            if let Some(t) = Envelope::from_json(&d.message.payload).ok().and_then(|e| e.asset_id).and_then(|a| sent.remove(&a)) {
                micros.push(t.elapsed().as_secs_f64() * 1e6);
            }
            let _ = d.ack().await;
        }
    }
    let total = start.elapsed().as_secs_f64();
    stop.cancel();
    let _ = scorer_task.await;
    let _ = gate_task.await;
    mock_task.abort();
    if micros.len() < n {
        return Err(format!("only {} of {n} decisions within the deadline", micros.len()));
    }
    micros.sort_by(f64::total_cmp);
    let idx = ((micros.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(micros.len() - 1);
    Ok((n as f64 / total, micros[idx]))
}
