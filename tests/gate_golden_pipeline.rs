//! Every golden scenario through the whole event pipeline on `MemoryBus`: `asset.upserted` +
//! `snapshot.recorded` → risk-scorer (providers served by a loopback mock with the scenario's payloads)
//! → `raw.captured`, `risk.evaluated`, `score.computed` → gate → `candidate.*` → ledger. Each asset's
//! latest stored decision must equal the expected decision and reason codes at every step, and
//! `v_assets_candidates` must hold exactly the promoted assets.
//!
//! Clock: the services run on a replay clock at the step's `now`, and a provider response is stamped with
//! the payload's recorded `observed_at` (so `expired_reports` expires as recorded). A step without a
//! snapshot is published as a snapshot with no market values (the enricher had none).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::golden_replay;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use golden_replay::GoldenScenario;
use nl_adapters::providers::{Provider, ProvidersConfig};
use nl_testkit::wait_until;
use nl_bus::{Bus, CancellationToken, MemoryBus, Message, ServiceCtx};
use nl_domain::{AssetId, AssetUpsert, Decision, Envelope, EventType, ObservationKind, Sighting, Snapshot, Ts};
use nl_testkit::provider_mock::{MockResponse, ProviderMock};
use nl_domain::GateDecision;
use nl_gate::GateServiceConfig;
use nl_ledger::{AssetFilter, LedgerConfig, SqliteReader};
use nl_risk_scorer::{Clock, RiskScorerConfig, RiskScorerCtx, RunIdentity};

const WAIT: Duration = Duration::from_secs(20);

/// Replays recorded time: `now` is the step's, a provider response gets its payload's `observed_at`.
#[derive(Default)]
struct ReplayClock {
    now: Mutex<Option<Ts>>,
    received: Mutex<HashMap<(Provider, AssetId), Ts>>,
}

impl Clock for ReplayClock {
    fn now(&self) -> Ts {
        self.now.lock().unwrap().expect("clock set")
    }
    fn received_at(&self, provider: Provider, asset: &AssetId) -> Ts {
        self.received.lock().unwrap().get(&(provider, asset.clone())).copied().unwrap_or_else(|| self.now())
    }
}

fn address(a: &AssetId) -> Option<&str> {
    match a {
        AssetId::Chain { address, .. } => Some(address),
        AssetId::Cex { .. } => None,
    }
}

fn upsert(sc: &GoldenScenario, at: Ts) -> Envelope {
    let a = &sc.asset_id;
    let up = AssetUpsert {
        asset_id: a.clone(),
        symbol: "NEW".into(),
        name: None,
        chain: a.chain_slug().map(String::from),
        address: address(a).map(String::from),
        sighting: Sighting {
            source: "golden".into(),
            venue: "golden".into(),
            kind: if address(a).is_some() { ObservationKind::DexPool } else { ObservationKind::CexInstrument },
            instrument_id: sc.name.clone(),
            status: None,
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: at,
            pair: serde_json::Value::Null,
            url: None,
        },
    };
    Envelope::new(EventType::AssetUpserted, &[&sc.name], at, "run", "golden-v1", serde_json::to_value(&up).unwrap()).with_asset(a.to_string())
}

fn snapshot(sc: &GoldenScenario, step: usize) -> Envelope {
    let st = &sc.steps[step];
    let snap = st.snapshot.as_ref().map_or_else(
        || Snapshot {
            asset_id: sc.asset_id.clone(),
            observed_at: st.now,
            source: "none".into(),
            price_usd: None,
            fdv_usd: None,
            market_cap_usd: None,
            liquidity_usd: None,
            volume_24h_usd: None,
            holders: None,
            age_minutes: None,
            raw_event_id: None,
        },
        |s| s.to_snapshot(&sc.asset_id),
    );
    let mut meta = serde_json::to_value(&snap).unwrap();
    meta["source_count"] = sc.source_count.into();
    Envelope::new(EventType::SnapshotRecorded, &[&sc.name, &step.to_string()], snap.observed_at, "run", "golden-v1", meta).with_asset(sc.asset_id.to_string())
}

async fn publish(bus: &MemoryBus, env: &Envelope) {
    bus.publish(Message::new(env.subject(), env.event_id.0.clone(), env.to_json().unwrap())).await.unwrap();
}

/// Scripts the mock and the clock for one step and publishes its snapshot.
async fn start_step(bus: &MemoryBus, mock: &ProviderMock, clock: &ReplayClock, sc: &GoldenScenario, step: usize) {
    for p in &sc.steps[step].payloads {
        let addr = address(&sc.asset_id).expect("payloads are for on-chain assets");
        mock.set(p.provider, addr, MockResponse::status(p.http_status.unwrap_or(200), p.body_text()));
        clock.received.lock().unwrap().insert((p.provider, sc.asset_id.clone()), p.observed_at);
    }
    publish(bus, &snapshot(sc, step)).await;
}

/// Waits until every `(scenario, step)` has a stored decision taken at the step's `now`, then compares.
async fn check_step(reader: &SqliteReader, todo: &[(&GoldenScenario, usize)]) -> Vec<String> {
    let done = wait_until(WAIT, || async {
        for (sc, step) in todo {
            let latest = reader.latest(&sc.asset_id.to_string()).await.unwrap();
            let Some(row) = latest.decision else { return false };
            if GateDecision::try_from(row).unwrap().decided_at != sc.steps[*step].now {
                return false;
            }
        }
        true
    })
    .await;
    assert!(done, "not every scenario reached a decision in time");
    let mut failures = Vec::new();
    for (sc, step) in todo {
        let d = GateDecision::try_from(reader.latest(&sc.asset_id.to_string()).await.unwrap().decision.unwrap()).unwrap();
        let want = &sc.steps[*step].expected;
        if (d.decision, &d.reason_codes) != (want.decision, &want.reason_codes) {
            failures
                .push(format!("{} step {step}: got {:?} {:?}\n  expected {:?} {:?}", sc.name, d.decision, d.reason_codes, want.decision, want.reason_codes));
        }
        assert_eq!(d.inputs.len(), 3, "snapshot, risk and score event ids");
        assert_eq!(d.config_hash, "golden-v1");
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn golden_scenarios_through_the_event_pipeline() {
    let file = golden_replay::load().unwrap();
    let mock = ProviderMock::new();
    let (addr, mock_task) = mock.serve().await.unwrap();
    let clock = Arc::new(ReplayClock::default());
    let bus = MemoryBus::default();
    let dynbus: Arc<dyn Bus> = Arc::new(bus.clone());
    let run = RunIdentity { run_id: "nl_golden".into(), config_hash: file.config_hash.clone() };

    let dir = tempfile::tempdir().unwrap();
    let ledger_cfg = LedgerConfig { fetch_wait_ms: 20, ..LedgerConfig::with_db_path(dir.path().join("nl.db")) };
    let ledger = nl_ledger::build(ledger_cfg, ServiceCtx::new(Arc::clone(&dynbus), run.clone())).await.unwrap();
    let reader = ledger.store().reader().clone();
    let rs_cfg = RiskScorerConfig {
        rules: file.rules.clone(),
        score: file.score.clone(),
        providers: ProvidersConfig::all_at(&format!("http://{addr}")),
        fetch_wait_ms: 20,
        ..RiskScorerConfig::default()
    };
    let ctx = RiskScorerCtx::new(Arc::clone(&dynbus), run.clone()).with_clock(clock.clone());
    let scorer = nl_risk_scorer::build(rs_cfg, ctx).await.unwrap();
    let gate_cfg = GateServiceConfig { gate: file.gate.clone(), fetch_wait_ms: 20, ..GateServiceConfig::default() };
    let gate = nl_gate::build(gate_cfg, ServiceCtx::new(Arc::clone(&dynbus), run)).await.unwrap();

    let stop = CancellationToken::new();
    let tasks = (
        tokio::spawn(ledger.run(stop.clone())),
        tokio::spawn(scorer.run(stop.clone())),
        tokio::spawn(gate.run(stop.clone())),
    );

    let max_steps = file.scenarios.iter().map(|s| s.steps.len()).max().unwrap();
    let mut failures = Vec::new();
    for step in 0..max_steps {
        let todo: Vec<(&GoldenScenario, usize)> = file.scenarios.iter().filter(|s| s.steps.len() > step).map(|s| (s, step)).collect();
        let nows: BTreeSet<Ts> = todo.iter().map(|(s, i)| s.steps[*i].now).collect();
        // Steps sharing a `now` run together on one clock; the golden file has one `now` per step index.
        for now in nows {
            *clock.now.lock().unwrap() = Some(now);
            let batch: Vec<_> = todo.iter().filter(|(s, i)| s.steps[*i].now == now).copied().collect();
            for (sc, i) in &batch {
                if *i == 0 {
                    publish(&bus, &upsert(sc, now)).await;
                }
                start_step(&bus, &mock, &clock, sc, *i).await;
            }
            failures.extend(check_step(&reader, &batch).await);
        }
    }
    assert!(failures.is_empty(), "{} pipeline mismatches:\n{}", failures.len(), failures.join("\n"));

    let promoted: BTreeSet<String> =
        file.scenarios.iter().filter(|s| s.steps.last().is_some_and(|st| st.expected.decision == Decision::Promoted)).map(|s| s.asset_id.to_string()).collect();
    let candidates: BTreeSet<String> = reader.list_assets(AssetFilter::Candidates, 0, None).await.unwrap().assets.into_iter().map(|a| a.asset_id).collect();
    assert_eq!(candidates, promoted, "v_assets_candidates holds exactly the promoted assets");
    assert!(promoted.len() >= 5, "the golden file promotes several assets");

    // Every recorded payload was fetched once and captured as a raw event, error bodies included.
    let payloads: usize = file.scenarios.iter().flat_map(|s| &s.steps).map(|st| st.payloads.len()).sum();
    let mut raws = bus.subscribe(nl_bus::ConsumerSpec::new("t-raw", "nl.raw.>")).await.unwrap();
    let mut n_raw = 0;
    // Held unacked: a delivery dropped unsettled would be NAKed and counted again.
    let mut held = Vec::new();
    loop {
        let got = raws.fetch(1000, Duration::from_millis(50)).await.unwrap();
        if got.is_empty() {
            break;
        }
        n_raw += got.len();
        held.extend(got);
    }
    assert_eq!(n_raw, payloads);
    stop.cancel();
    let (l, r, g) = tasks;
    l.await.unwrap().unwrap();
    let rs = r.await.unwrap().unwrap();
    let gc = g.await.unwrap().unwrap();
    let steps: usize = file.scenarios.iter().map(|s| s.steps.len()).sum();
    assert_eq!(rs.evaluated as usize, steps);
    assert_eq!((gc.promoted + gc.rejected) as usize, steps);
    assert_eq!((rs.poison, gc.poison), (0, 0));
    mock_task.abort();
}

type GateTask = tokio::task::JoinHandle<Result<nl_gate::GateCounts, nl_gate::GateServiceError>>;

/// A real ledger on a temporary SQLite file, consuming a MemoryBus, for the gate-restart tests.
struct LedgerRig {
    bus: MemoryBus,
    dynbus: Arc<dyn Bus>,
    run: RunIdentity,
    reader: SqliteReader,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl LedgerRig {
    async fn start(run_id: &str) -> Self {
        let bus = MemoryBus::default();
        let dynbus: Arc<dyn Bus> = Arc::new(bus.clone());
        let run = RunIdentity { run_id: run_id.into(), config_hash: "cfg".into() };
        let dir = tempfile::tempdir().unwrap();
        let ledger_cfg = LedgerConfig { fetch_wait_ms: 20, ..LedgerConfig::with_db_path(dir.path().join("nl.db")) };
        let ledger = nl_ledger::build(ledger_cfg, ServiceCtx::new(Arc::clone(&dynbus), run.clone())).await.unwrap();
        let reader = ledger.store().reader().clone();
        let stop = CancellationToken::new();
        let run_ledger = ledger.run(stop.clone());
        let task = tokio::spawn(async move {
            run_ledger.await.unwrap();
        });
        Self { bus, dynbus, run, reader, stop, task, _dir: dir }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// A gate remembering at most `memory` assets, reading the ledger through `reader`, running until its
/// token is cancelled.
async fn start_gate(bus: &Arc<dyn Bus>, run: &RunIdentity, reader: &SqliteReader, memory: usize) -> (Arc<nl_gate::GateStats>, CancellationToken, GateTask) {
    let cfg = GateServiceConfig { fetch_wait_ms: 20, max_remembered_assets: memory, ..GateServiceConfig::default() };
    let shared: Arc<dyn nl_domain::LedgerReader> = Arc::new(reader.clone());
    let g = nl_gate::build_with_reader(cfg, ServiceCtx::new(Arc::clone(bus), run.clone()), Some(shared)).await.unwrap();
    let (stats, stop) = (g.stats(), CancellationToken::new());
    (stats, stop.clone(), tokio::spawn(g.run(stop)))
}

/// "An unchanged decision is not re-emitted" holds across a gate restart (#15): the restarted gate reads
/// the asset's latest decision back from the ledger (its `LedgerReader`), so the same promotion on a new
/// score is not emitted again, while a changed decision still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_decision_is_not_emitted_again_after_a_gate_restart() {
    let rig = LedgerRig::start("nl_gate_restart").await;
    let (bus, dynbus, run, reader) = (&rig.bus, &rig.dynbus, &rig.run, &rig.reader);
    let gate = || start_gate(&dynbus, &run, &reader, GateServiceConfig::default().max_remembered_assets);
    let a = AssetId::parse("eth:0x6982508145454ce325ddbe47a25d4ec3d2311933").unwrap();
    let t0: Ts = "2026-10-08T12:00:00Z".parse().unwrap();
    let decisions = || async {
        let kinds: Vec<String> = sqlx::query_scalar("SELECT type FROM events WHERE type LIKE 'candidate.%' ORDER BY ts").fetch_all(reader.pool()).await.unwrap();
        kinds
    };

    let (stats, stop, task) = gate().await;
    publish(&bus, &nl_testkit::score_computed(&a, t0, 90)).await;
    assert!(wait_until(WAIT, || async { decisions().await.len() == 1 }).await, "the first promotion is stored");
    stop.cancel();
    assert_eq!(task.await.unwrap().unwrap().promoted, 1);
    drop(stats);

    // Restart: a new gate process on the same durable; the asset is promoted again on a newer score.
    let (stats, stop, task) = gate().await;
    publish(&bus, &nl_testkit::score_computed(&a, t0 + chrono::Duration::minutes(5), 95)).await;
    assert!(wait_until(WAIT, || async { stats.snapshot().unchanged == 1 }).await, "{:?}", stats.snapshot());
    // A changed decision is still emitted.
    publish(&bus, &nl_testkit::score_computed(&a, t0 + chrono::Duration::minutes(10), 5)).await;
    assert!(wait_until(WAIT, || async { decisions().await.len() == 2 }).await, "{:?}", stats.snapshot());
    assert_eq!(decisions().await, ["candidate.promoted", "candidate.rejected"], "the unchanged promotion was not emitted again");
    stop.cancel();
    let counts = task.await.unwrap().unwrap();
    assert_eq!((counts.promoted, counts.rejected, counts.unchanged), (0, 1, 1));
    rig.stop().await;
}

/// A restarted gate loads the ledger's latest decisions in bulk once, and then asks the ledger about one
/// asset only when the bulk set may have missed it (#15): with room for every decided asset, new assets
/// and known ones cost no per-asset read; with a memory smaller than the ledger's decided assets, an asset
/// outside the bulk set is read per asset, and its unchanged decision is still not emitted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gate_loads_the_latest_decisions_in_bulk_and_asks_per_asset_only_past_its_memory() {
    let rig = LedgerRig::start("nl_gate_bulk").await;
    let (bus, dynbus, run, reader) = (&rig.bus, &rig.dynbus, &rig.run, &rig.reader);
    let assets: Vec<AssetId> = (0..4).map(|i| AssetId::parse(&format!("cex:okx:BULK{i}")).unwrap()).collect();
    let t0: Ts = "2026-10-08T12:00:00Z".parse().unwrap();
    let at = |min: i64| t0 + chrono::Duration::minutes(min);
    let stored = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE type LIKE 'candidate.%'").fetch_one(reader.pool()).await.unwrap();
        n
    };

    // Four assets promoted, the first one decided earliest.
    let (_, stop, task) = start_gate(&dynbus, &run, &reader, 100).await;
    for (i, a) in (0..).zip(&assets) {
        publish(&bus, &nl_testkit::score_computed(a, at(i), 90)).await;
    }
    assert!(wait_until(WAIT, || async { stored().await == 4 }).await, "the four promotions are stored");
    stop.cancel();
    assert_eq!(task.await.unwrap().unwrap().promoted, 4);

    // Room for all: the same promotions are unchanged and a new asset is decided, with no per-asset read.
    let (stats, stop, task) = start_gate(&dynbus, &run, &reader, 100).await;
    let new = AssetId::parse("cex:okx:BULKNEW").unwrap();
    for (i, a) in (10..).zip(assets.iter().chain([&new])) {
        publish(&bus, &nl_testkit::score_computed(a, at(i), 95)).await;
    }
    assert!(wait_until(WAIT, || async { stats.snapshot().received == 5 }).await, "{:?}", stats.snapshot());
    stop.cancel();
    let counts = task.await.unwrap().unwrap();
    assert_eq!((counts.promoted, counts.unchanged), (1, 4), "{counts:?}");
    assert_eq!((counts.bulk_reads, counts.asset_reads), (1, 0), "{counts:?}");
    assert!(wait_until(WAIT, || async { stored().await == 5 }).await, "the new asset's promotion is stored");

    // Room for two of the five decided assets: the bulk set holds the two most recently decided, so the
    // first asset is read per asset, and its unchanged promotion is still not emitted.
    let (stats, stop, task) = start_gate(&dynbus, &run, &reader, 2).await;
    publish(&bus, &nl_testkit::score_computed(&assets[0], at(20), 99)).await;
    assert!(wait_until(WAIT, || async { stats.snapshot().received == 1 }).await, "{:?}", stats.snapshot());
    stop.cancel();
    let counts = task.await.unwrap().unwrap();
    assert_eq!((counts.promoted, counts.unchanged, counts.bulk_reads, counts.asset_reads), (0, 1, 1, 1), "{counts:?}");
    rig.stop().await;
}
