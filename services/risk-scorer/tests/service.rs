//! The risk-scorer service over `MemoryBus` against axum mocks of GoPlus, honeypot.is and rugcheck on
//! `127.0.0.1:0`, serving the golden payloads of `shared/testkit/data/golden_scenarios.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use nl_adapters::providers::ProvidersConfig;
use nl_testkit::wait_until;
use nl_bus::{Bus, CancellationToken, ConsumerSpec, Delivery, MemoryBus, Message, Subscription};
use nl_domain::{AssetId, Envelope, EventType, RawEvent, RiskEvaluation, Snapshot, Ts, Verdict};
use nl_risk_scorer::{Clock, RiskScorerConfig, RiskScorerCtx, RunIdentity, ScoreComputed};
use serde_json::Value;

const GOLDEN: &str = nl_testkit::golden::GOLDEN_SCENARIOS;
const WAIT: Duration = Duration::from_secs(10);

fn now() -> Ts {
    "2026-10-08T12:00:00Z".parse().unwrap()
}

struct FixedClock(Ts);

impl Clock for FixedClock {
    fn now(&self) -> Ts {
        self.0
    }
}

/// `(provider, lowercased address) → (status, body)`.
type Script = Arc<Mutex<HashMap<(String, String), (u16, String)>>>;

fn answer(script: &Script, provider: &str, address: &str) -> axum::response::Response {
    let hit = script.lock().unwrap().get(&(provider.to_string(), address.to_ascii_lowercase())).cloned();
    match hit {
        Some((status, body)) => {
            let mut r = (StatusCode::from_u16(status).unwrap(), body).into_response();
            if status == 429 {
                r.headers_mut().insert("retry-after", 0.into());
            }
            r
        }
        None => (StatusCode::NOT_FOUND, "unknown").into_response(),
    }
}

async fn mock(script: Script) -> String {
    type Q = Query<HashMap<String, String>>;
    let app = Router::new()
        .route(
            "/api/v1/token_security/{chain}",
            get(|State(s): State<Script>, Path(_c): Path<String>, Query(q): Q| async move { answer(&s, "goplus", &q["contract_addresses"]) }),
        )
        .route("/v2/IsHoneypot", get(|State(s): State<Script>, Query(q): Q| async move { answer(&s, "honeypot_is", &q["address"]) }))
        .route("/v1/tokens/{mint}/report", get(|State(s): State<Script>, Path(m): Path<String>| async move { answer(&s, "rugcheck", &m) }))
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A golden scenario's asset and step-0 payloads as `(provider, body text)`.
fn golden(name: &str) -> (AssetId, Vec<(String, String)>) {
    let file: Value = serde_json::from_str(GOLDEN).unwrap();
    let sc = file["scenarios"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
    let payloads = sc["steps"][0]["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["provider"].as_str().unwrap().to_string(), p["body"].as_str().map_or_else(|| p["body"].to_string(), String::from)))
        .collect();
    (AssetId::parse(sc["asset_id"].as_str().unwrap()).unwrap(), payloads)
}

fn address(a: &AssetId) -> String {
    match a {
        AssetId::Chain { address, .. } => address.clone(),
        AssetId::Cex { .. } => unreachable!("on-chain scenarios only"),
    }
}

fn script_golden(script: &Script, name: &str) -> AssetId {
    let (asset, payloads) = golden(name);
    for (p, body) in payloads {
        script.lock().unwrap().insert((p, address(&asset).to_ascii_lowercase()), (200, body));
    }
    asset
}

fn snapshot_env(asset: &AssetId, source_count: Option<u32>) -> Envelope {
    let snap = Snapshot {
        asset_id: asset.clone(),
        observed_at: "2026-10-08T11:59:00Z".parse().unwrap(),
        source: "geckoterminal".into(),
        price_usd: None,
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: Some("52239.41".parse().unwrap()),
        volume_24h_usd: Some("180000".parse().unwrap()),
        holders: None,
        age_minutes: Some(45),
        raw_event_id: None,
    };
    let mut meta = serde_json::to_value(&snap).unwrap();
    if let Some(n) = source_count {
        meta["source_count"] = n.into();
    }
    Envelope::new(EventType::SnapshotRecorded, &[&asset.to_string(), "11:59"], snap.observed_at, "run", "cfg", meta).with_asset(asset.to_string())
}

async fn publish(bus: &MemoryBus, env: &Envelope, id: &str) {
    bus.publish(Message::new(env.subject(), id, env.to_json().unwrap())).await.unwrap();
}

struct Harness {
    bus: MemoryBus,
    script: Script,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<nl_risk_scorer::RiskScorerCounts, nl_risk_scorer::ServiceError>>,
    core: Arc<nl_risk_scorer::RiskScorerCore>,
}

async fn start(cache_ttl: u64) -> Harness {
    let script: Script = Arc::default();
    let base = mock(Arc::clone(&script)).await;
    let bus = MemoryBus::default();
    let cfg =
        RiskScorerConfig { providers: ProvidersConfig::all_at(&base), fetch_wait_ms: 20, report_cache_ttl_secs: cache_ttl, ..RiskScorerConfig::default() };
    let ctx =
        RiskScorerCtx::new(Arc::new(bus.clone()), RunIdentity { run_id: "run".into(), config_hash: "cfg".into() }).with_clock(Arc::new(FixedClock(now())));
    let svc = nl_risk_scorer::build(cfg, ctx).await.unwrap();
    let core = svc.core();
    let stop = CancellationToken::new();
    let task = tokio::spawn(svc.run(stop.clone()));
    Harness { bus, script, stop, task, core }
}

impl Harness {
    async fn stop(self) -> nl_risk_scorer::RiskScorerCounts {
        self.stop.cancel();
        self.task.await.unwrap().unwrap()
    }
}

/// Collects deliveries of one subject filter until `n` arrived.
async fn collect(bus: &MemoryBus, durable: &str, filter: &str, n: usize) -> Vec<Delivery> {
    let sub: Box<dyn Subscription> = bus.subscribe(ConsumerSpec::new(durable, filter)).await.unwrap();
    let sub = Arc::new(tokio::sync::Mutex::new(sub));
    let got = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let ok = wait_until(WAIT, || {
        let (sub, got) = (Arc::clone(&sub), Arc::clone(&got));
        async move {
            let batch = sub.lock().await.fetch(100, Duration::from_millis(10)).await.unwrap();
            let mut g = got.lock().await;
            g.extend(batch);
            g.len() >= n
        }
    })
    .await;
    let got = std::mem::take(&mut *got.lock().await);
    assert!(ok, "{filter}: expected {n}, got {}", got.len());
    got
}

fn env_of(d: &Delivery) -> Envelope {
    Envelope::from_json(&d.message.payload).unwrap()
}

#[tokio::test]
async fn snapshots_yield_raw_captures_then_risk_and_score() {
    let h = start(300).await;
    let evm = script_golden(&h.script, "fine_evm");
    let sol = script_golden(&h.script, "solana_fine");
    let (evm_snap, sol_snap) = (snapshot_env(&evm, Some(2)), snapshot_env(&sol, None));
    publish(&h.bus, &evm_snap, evm_snap.event_id.as_str()).await;
    publish(&h.bus, &sol_snap, sol_snap.event_id.as_str()).await;

    let raws = collect(&h.bus, "t-raw", "nl.raw.>", 3).await;
    let risks = collect(&h.bus, "t-risk", "nl.evt.risk.evaluated", 2).await;
    let scores = collect(&h.bus, "t-score", "nl.evt.score.computed", 2).await;
    let mut sources: Vec<String> = raws.iter().map(|d| env_of(d).source.unwrap()).collect();
    sources.sort();
    assert_eq!(sources, ["goplus", "honeypot_is", "rugcheck"]);
    for r in &raws {
        let raw: RawEvent = serde_json::from_value(env_of(r).meta).unwrap();
        assert_eq!((raw.http_status, raw.parse_error.as_deref(), raw.observed_at), (Some(200), None, now()));
        assert_eq!(r.message.subject, format!("nl.raw.{}", raw.source));
    }

    for (snap, want_sources) in [(&evm_snap, 2), (&sol_snap, 1)] {
        let asset = snap.asset_id.clone().unwrap();
        let risk = risks.iter().find(|d| env_of(d).asset_id.as_deref() == Some(&asset)).unwrap();
        let score = scores.iter().find(|d| env_of(d).asset_id.as_deref() == Some(&asset)).unwrap();
        let addr = asset.split_once(':').unwrap().1.to_string();
        let raw_seqs: Vec<u64> =
            raws.iter().filter(|d| serde_json::from_value::<RawEvent>(env_of(d).meta).unwrap().endpoint.contains(&addr)).map(|d| d.sequence).collect();
        assert_eq!(raw_seqs.len(), want_sources as usize);
        assert!(raw_seqs.iter().all(|s| *s < risk.sequence), "raw captures are published before the events that used them");
        let eval: RiskEvaluation = serde_json::from_value(env_of(risk).meta).unwrap();
        assert!(eval.checks.iter().all(|c| c.verdict == Verdict::Pass), "{:?}", eval.checks);
        let sc = ScoreComputed::from_meta(&env_of(score).meta).unwrap();
        assert_eq!(sc.inputs, vec![snap.event_id.0.clone(), env_of(risk).event_id.0.clone()]);
        assert_eq!(sc.evaluation, eval);
        assert_eq!(sc.snapshot.as_ref().map(|s| s.asset_id.to_string()), Some(asset.clone()));
        assert_eq!(sc.source_count, want_sources);
        assert_eq!(sc.provider_raw_ids.len(), if want_sources == 2 { 2 } else { 1 });
        assert_eq!(sc.record.computed_at, now());
    }
    let ok = wait_until(WAIT, || async { h.bus.consumer_state("risk-scorer").await.is_ok_and(|s| s.num_ack_pending == 0 && s.num_pending == 0) }).await;
    assert!(ok, "snapshots are acked after publishing");
    let counts = h.stop().await;
    assert_eq!((counts.evaluated, counts.provider_fetches, counts.provider_failures), (2, 3, 0));
}

#[tokio::test]
async fn rate_limited_provider_leaves_its_checks_unknown() {
    let h = start(300).await;
    let asset = script_golden(&h.script, "fine_evm");
    h.script.lock().unwrap().insert(("goplus".into(), address(&asset)), (429, "Too Many Requests".into()));
    let snap = snapshot_env(&asset, None);
    publish(&h.bus, &snap, snap.event_id.as_str()).await;

    let raws = collect(&h.bus, "t-raw", "nl.raw.>", 2).await;
    let limited: RawEvent = raws.iter().map(|d| serde_json::from_value::<RawEvent>(env_of(d).meta).unwrap()).find(|r| r.source == "goplus").unwrap();
    assert_eq!(limited.http_status, Some(429));
    assert_eq!(limited.payload, "Too Many Requests", "the error body is kept verbatim");
    assert!(limited.parse_error.is_some());
    let risk = collect(&h.bus, "t-risk", "nl.evt.risk.evaluated", 1).await;
    let eval: RiskEvaluation = serde_json::from_value(env_of(&risk[0]).meta).unwrap();
    let verdict = |code: &str| eval.checks.iter().find(|c| c.code == code).map(|c| c.verdict);
    for goplus_only in ["mintable", "owner_not_renounced", "lp_unlocked", "creator_honeypot_history", "holder_concentration"] {
        assert_eq!(verdict(goplus_only), Some(Verdict::Unknown), "{goplus_only} is unknown while GoPlus is rate limited, never pass");
    }
    assert_eq!(verdict("honeypot"), Some(Verdict::Pass), "honeypot.is still answered");
    let counts = h.stop().await;
    assert_eq!(counts.provider_failures, 1);
}

#[tokio::test]
async fn redelivered_snapshot_gives_the_same_event_ids() {
    // A zero cache TTL forces a refetch, so the second pass really asks the providers again.
    let h = start(0).await;
    let asset = script_golden(&h.script, "fine_evm");
    let snap = snapshot_env(&asset, Some(2));
    let first = h.core.evaluate_envelope(&snap).await.unwrap();
    let again = h.core.evaluate_envelope(&snap).await.unwrap();
    assert_eq!(first.risk.event_id, again.risk.event_id);
    assert_eq!(first.score.event_id, again.score.event_id);
    assert_eq!(first.score.to_json().unwrap(), again.score.to_json().unwrap(), "same inputs, same bytes");

    // Through the bus: the same snapshot delivered twice (a redelivery after the dedup window looks like
    // a second message) is processed twice and publishes each derived id once.
    publish(&h.bus, &snap, "snap-1").await;
    publish(&h.bus, &snap, "snap-1-redelivered").await;
    let ok = wait_until(WAIT, || async { h.core.stats().snapshot().evaluated >= 4 }).await;
    assert!(ok);
    let risks = collect(&h.bus, "t-risk", "nl.evt.risk.evaluated", 1).await;
    assert_eq!(risks.len(), 1, "the bus deduplicated the second risk.evaluated");
    assert_eq!(env_of(&risks[0]).event_id, first.risk.event_id);
    h.stop().await;
}

#[tokio::test]
async fn undecodable_snapshot_is_dead_lettered() {
    let h = start(300).await;
    h.bus.publish(Message::new("nl.evt.snapshot.recorded", "junk", "not json")).await.unwrap();
    let ok = wait_until(WAIT, || async { h.bus.dead_letter_count().await.unwrap_or(0) == 1 }).await;
    assert!(ok, "poison is terminated, not redelivered forever");
    assert_eq!(h.stop().await.poison, 1);
}
