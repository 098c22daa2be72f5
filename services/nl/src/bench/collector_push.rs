//! Push detection latency: a mock WebSocket venue emits a frame with a new OKX instrument, and the time until
//! its `listing.observed` is published (durably, on a [`MemoryBus`]) is measured, for `nl bench collector`.

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::cex::push::PushKind;
use nl_testkit::ws_venue::MockWsVenue;
use nl_adapters::kit::WsConfig;
use nl_bus::{Bus, ConsumerSpec, MemoryBus};
use nl_domain::{Envelope, EventType};
use tokio::time::Instant;

use nl_collector::push::PushSource;
use nl_collector::{CollectorCtx, MemoryStateStore, RunIdentity, StateStore};

use super::collector::percentile;

const SOURCE: &str = "bench_okx_ws";
/// How long one detection may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(10);

fn frame(ids: &[String]) -> String {
    let rows: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"instType":"SPOT","instId":"{id}","baseCcy":"","quoteCcy":"","listTime":"1790003600000","state":"preopen"}}"#))
        .collect();
    format!(r#"{{"arg":{{"channel":"instruments","instType":"SPOT"}},"data":[{}]}}"#, rows.join(","))
}

/// Runs `n` detections and returns the (p50, p99) latency from the mock venue sending a frame with a new
/// instrument to its `listing.observed` being published.
///
/// # Errors
/// When the mock or bus fails, or a detection takes longer than 10 s.
pub async fn bench_push_detection(n: usize) -> anyhow::Result<(Duration, Duration)> {
    let venue = MockWsVenue::start().await?;
    let bus = Arc::new(MemoryBus::default());
    let state = Arc::new(MemoryStateStore::default());
    let ctx = CollectorCtx {
        bus: bus.clone(),
        state: state.clone(),
        leases: None,
        lease_renew_every: Duration::from_secs(10),
        run: RunIdentity { run_id: "bench".into(), config_hash: "bench".into() },
    };
    let ws = WsConfig { ping_interval_ms: 0, backoff_base_ms: 10, backoff_cap_ms: 100, ..WsConfig::new(venue.url()) };
    let source = Arc::new(PushSource::new(SOURCE, PushKind::OkxInstruments, ws, "bench"));
    let mut sub = bus.subscribe(ConsumerSpec::new("bench_push_detection", EventType::ListingObserved.subject())).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(Arc::clone(&source).run(ctx, stop_rx));
    let result = async {
        if !nl_testkit::wait_until(DEADLINE, || async { venue.live() > 0 }).await {
            anyhow::bail!("timed out after {DEADLINE:?} waiting for the connection");
        }
        // The first push (OKX sends the full list after subscribing) is the baseline.
        venue.send(frame(&["BTC-USDT".to_string()]));
        if !nl_testkit::wait_until(DEADLINE, || async { state.load(SOURCE).await.ok().flatten().is_some() }).await {
            anyhow::bail!("timed out after {DEADLINE:?} waiting for the baseline");
        }
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n {
            let want = format!("NEW{i}-USDT");
            let sent = Instant::now();
            venue.send(frame(std::slice::from_ref(&want)));
            let until = sent + DEADLINE;
            'wait: loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    anyhow::bail!("timed out after {DEADLINE:?} waiting for {want}");
                }
                for d in sub.fetch(16, left).await? {
                    d.ack().await?;
                    let env = Envelope::from_json(&d.message.payload).ok();
                    if env.as_ref().and_then(|e| e.meta.get("instrument_id")).and_then(|v| v.as_str()) == Some(want.as_str()) {
                        latencies.push(sent.elapsed());
                        break 'wait;
                    }
                }
            }
        }
        Ok(latencies)
    }
    .await;
    let _ = stop_tx.send(true);
    let _ = runner.await;
    let mut latencies = result?;
    latencies.sort();
    Ok((percentile(&latencies, 0.50), percentile(&latencies, 0.99)))
}
