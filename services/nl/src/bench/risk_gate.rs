//! `nl bench risk-gate`: snapshot → risk-scorer → gate over a `MemoryBus`, with the risk providers on
//! loopback; decisions/s and the per-asset p99 latency.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nl_adapters::providers::ProvidersConfig;
use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, Message, ServiceCtx};
use nl_domain::{AssetId, Decimal, Envelope, EventType, Snapshot};
use nl_gate::GateServiceConfig;
use nl_risk_scorer::{RiskScorerConfig, RiskScorerCtx, RunIdentity};
use nl_testkit::golden::serve_fine_evm_providers;

/// Runs `n` distinct EVM assets through the event pipeline over a [`MemoryBus`]: `snapshot.recorded` →
/// risk-scorer (GoPlus and honeypot.is served on loopback with the golden `fine_evm` payloads) →
/// `risk.evaluated` + `score.computed` → gate → `candidate.*`. No enricher, no ledger.
///
/// All snapshots are published at once; latency is per asset, from its snapshot's publish to its decision
/// being observed. Returns `(decisions per second, p99 latency in microseconds)`.
///
/// # Errors
/// When the pipeline cannot be set up, or not every decision arrives within the deadline.
pub async fn bench_risk_gate(n: usize) -> anyhow::Result<(f64, f64)> {
    let (addr, mock_task) = serve_fine_evm_providers().await.map_err(anyhow::Error::msg)?;

    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
    let run = RunIdentity { run_id: "nl_bench".into(), config_hash: "bench".into() };
    let rs_cfg = RiskScorerConfig {
        providers: ProvidersConfig::all_at(&format!("http://{addr}")),
        concurrency: 64,
        batch_size: 256,
        fetch_wait_ms: 20,
        ..RiskScorerConfig::default()
    };
    let scorer = nl_risk_scorer::build(rs_cfg, RiskScorerCtx::new(Arc::clone(&bus), run.clone())).await?;
    let gate = nl_gate::build(GateServiceConfig { fetch_wait_ms: 20, ..GateServiceConfig::default() }, ServiceCtx::new(Arc::clone(&bus), run.clone())).await?;
    let mut decisions = bus.subscribe(ConsumerSpec::new("bench-decisions", "nl.evt.candidate.>")).await?;
    let stop = CancellationToken::new();
    let scorer_task = tokio::spawn(scorer.run(stop.clone()));
    let gate_task = tokio::spawn(gate.run(stop.clone()));

    let now = chrono::Utc::now();
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(n);
    let start = Instant::now();
    let mut msgs = Vec::with_capacity(n);
    for i in 0..n {
        let asset = AssetId::chain("eth", &format!("0x{:040x}", i + 1))?;
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
        let meta = serde_json::to_value(&snap)?;
        let env =
            Envelope::new(EventType::SnapshotRecorded, &[&asset.to_string(), "bench"], now, &run.run_id, &run.config_hash, meta).with_asset(asset.to_string());
        msgs.push(Message::new(env.subject(), env.event_id.0.clone(), env.to_json()?));
        sent.insert(asset.to_string(), Instant::now());
    }
    bus.publish_batch(msgs).await?;

    let mut micros = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 50);
    while micros.len() < n && Instant::now() < deadline {
        for d in decisions.fetch(1024, Duration::from_millis(50)).await? {
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
        anyhow::bail!("only {} of {n} decisions within the deadline", micros.len());
    }
    micros.sort_by(f64::total_cmp);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let idx = ((micros.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(micros.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    Ok((n as f64 / total, micros[idx]))
}
