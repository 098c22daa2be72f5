//! The gate service over `MemoryBus`: decisions are emitted only when they change (issue 15).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use nl_bus::{Bus, CancellationToken, ConsumerSpec, MemoryBus, Message, ServiceCtx};
use nl_domain::{AssetId, Envelope, GateDecision, RunIdentity, Ts};
use nl_gate::GateServiceConfig;
use nl_testkit::wait_until;

const WAIT: Duration = Duration::from_secs(10);

fn at(min: i64) -> Ts {
    "2026-10-08T12:00:00Z".parse::<Ts>().unwrap() + chrono::Duration::minutes(min)
}

/// A `score.computed` of `asset` at minute `min` scoring `score`, on a snapshot with enough liquidity and age.
fn score_event(asset: &AssetId, min: i64, score: i64) -> Envelope {
    nl_testkit::score_computed(asset, at(min), score)
}

#[tokio::test]
async fn an_unchanged_decision_is_not_emitted_again() {
    let bus = MemoryBus::default();
    let run = RunIdentity { run_id: "run".into(), config_hash: "cfg".into() };
    let cfg = GateServiceConfig { fetch_wait_ms: 20, ..GateServiceConfig::default() };
    let gate = nl_gate::build(cfg, ServiceCtx::new(Arc::new(bus.clone()), run)).await.unwrap();
    let stats = gate.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(gate.run(stop.clone()));

    let a = AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap();
    let b = AssetId::parse("cex:okx:NEWX").unwrap();
    // a: promoted, promoted again on a new snapshot (not re-emitted), rejected, rejected alike (not
    // re-emitted), promoted again. b: promoted once.
    let events = [score_event(&a, 0, 60), score_event(&b, 0, 70), score_event(&a, 1, 75), score_event(&a, 2, 10), score_event(&a, 3, 20), score_event(&a, 4, 90)];
    for e in &events {
        bus.publish(Message::new(e.subject(), e.event_id.as_str(), e.to_json().unwrap())).await.unwrap();
    }
    assert!(wait_until(WAIT, || async { stats.snapshot().received == 6 && stats.snapshot().promoted + stats.snapshot().rejected == 4 }).await, "{:?}", stats.snapshot());
    let mut sub = bus.subscribe(ConsumerSpec::new("t", "nl.evt.candidate.>")).await.unwrap();
    let got: Vec<GateDecision> = sub
        .fetch(100, Duration::from_millis(50))
        .await
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(Envelope::from_json(&d.message.payload).unwrap().meta).unwrap())
        .collect();
    let of_a: Vec<(nl_domain::Decision, Ts)> = got.iter().filter(|d| d.asset_id == a).map(|d| (d.decision, d.decided_at)).collect();
    use nl_domain::Decision::{Promoted, Rejected};
    assert_eq!(of_a, vec![(Promoted, at(0)), (Rejected, at(2)), (Promoted, at(4))]);
    assert_eq!(got.iter().filter(|d| d.asset_id == b).count(), 1);
    let counts = stats.snapshot();
    assert_eq!((counts.promoted, counts.rejected, counts.unchanged), (3, 1, 2));
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// A ledger that cannot be reached: every read (one asset's, or the bulk load) fails and is counted.
#[derive(Default)]
struct DownLedger(std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl nl_domain::LedgerReader for DownLedger {
    async fn latest_decision(&self, _: &AssetId) -> Result<Option<GateDecision>, nl_domain::ReadError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(nl_domain::ReadError::Unavailable("connection refused".into()))
    }
    async fn latest_decisions(&self, _: u32) -> Result<Vec<GateDecision>, nl_domain::ReadError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(nl_domain::ReadError::Unavailable("connection refused".into()))
    }
    async fn listings(&self, _: &nl_domain::ListingQuery) -> Result<Vec<nl_domain::Listing>, nl_domain::ReadError> {
        Err(nl_domain::ReadError::Unavailable("down".into()))
    }
    async fn asset_detail(&self, _: &AssetId) -> Result<Option<nl_domain::AssetDetail>, nl_domain::ReadError> {
        Err(nl_domain::ReadError::Unavailable("down".into()))
    }
    async fn sources(&self) -> Result<Vec<nl_domain::SourceHealth>, nl_domain::ReadError> {
        Err(nl_domain::ReadError::Unavailable("down".into()))
    }
    async fn runs(&self, _: u32) -> Result<Vec<nl_domain::RunSummary>, nl_domain::ReadError> {
        Err(nl_domain::ReadError::Unavailable("down".into()))
    }
    async fn change_mark(&self) -> Result<i64, nl_domain::ReadError> {
        Err(nl_domain::ReadError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn an_unreachable_ledger_is_asked_once_per_pause_and_every_decision_is_still_emitted() {
    let bus = MemoryBus::default();
    let run = RunIdentity { run_id: "run".into(), config_hash: "cfg".into() };
    let cfg = GateServiceConfig { fetch_wait_ms: 20, ..GateServiceConfig::default() };
    let ledger = Arc::new(DownLedger::default());
    let reader: Arc<dyn nl_domain::LedgerReader> = ledger.clone();
    let gate = nl_gate::build_with_reader(cfg, ServiceCtx::new(Arc::new(bus.clone()), run), Some(reader)).await.unwrap();
    let stats = gate.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(gate.run(stop.clone()));

    let assets: Vec<AssetId> = (0..5).map(|i| AssetId::parse(&format!("cex:okx:NEW{i}")).unwrap()).collect();
    for a in &assets {
        let e = score_event(a, 0, 70);
        bus.publish(Message::new(e.subject(), e.event_id.as_str(), e.to_json().unwrap())).await.unwrap();
    }
    assert!(wait_until(WAIT, || async { stats.snapshot().promoted == 5 }).await, "{:?}", stats.snapshot());
    // The first failed read (the bulk load of the latest decisions) pauses seeding: the other four
    // decisions do not wait on the ledger again.
    assert_eq!(ledger.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    stop.cancel();
    task.await.unwrap().unwrap();
}
