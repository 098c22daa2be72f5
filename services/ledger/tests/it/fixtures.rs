//! Builders of test envelopes and a temporary store.

use chrono::TimeZone;
use nl_domain::{
    AssetId, AssetUpsert, Decimal, Decision, Envelope, EventType, GateDecision, ObservationKind, RiskCheck, RiskEvaluation, ScoreRecord,
    Sighting, Snapshot, Ts, Verdict,
};
use nl_ledger::{LedgerConfig, LedgerStore};
use tempfile::TempDir;

pub const RUN: &str = "nl_20260101_000000Z_deadbeef";
pub const CFG: &str = "cfghash";

pub struct TestStore {
    pub store: LedgerStore,
    pub dir: TempDir,
}

impl TestStore {
    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("nl.db")
    }
}

pub async fn open() -> TestStore {
    open_with(|_| {}).await
}

pub async fn open_with(f: impl FnOnce(&mut LedgerConfig)) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = LedgerConfig::with_db_path(dir.path().join("nl.db"));
    f(&mut cfg);
    let store = LedgerStore::open(&cfg).await.unwrap();
    TestStore { store, dir }
}

pub fn at(minute: u32) -> Ts {
    chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(i64::from(minute))
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn env(kind: EventType, parts: &[&str], ts: Ts, asset: &str, meta: serde_json::Value) -> Envelope {
    Envelope::new(kind, parts, ts, RUN, CFG, meta).with_asset(asset).with_source("test")
}

pub fn upsert(asset: &str, source: &str, instrument: &str, status: Option<&str>, ts: Ts) -> Envelope {
    let up = AssetUpsert {
        asset_id: AssetId::parse(asset).unwrap(),
        symbol: "NEW".into(),
        name: Some("New Coin".into()),
        chain: None,
        address: None,
        sighting: Sighting {
            source: source.into(),
            venue: "okx".into(),
            kind: ObservationKind::CexInstrument,
            instrument_id: instrument.into(),
            status: status.map(String::from),
            source_published_at: None,
            scheduled_at: None,
            first_observed_at: ts,
            pair: serde_json::Value::Null,
            url: None,
        },
    };
    let ts_s = ts.to_rfc3339();
    env(EventType::AssetUpserted, &[asset, source, instrument, status.unwrap_or(""), &ts_s], ts, asset, serde_json::to_value(up).unwrap())
}

pub fn snapshot(asset: &str, ts: Ts, liquidity: Option<&str>, tag: &str) -> Envelope {
    let s = Snapshot {
        asset_id: AssetId::parse(asset).unwrap(),
        observed_at: ts,
        source: "dexscreener".into(),
        price_usd: Some(dec("0.000123456789012345678901")),
        fdv_usd: None,
        market_cap_usd: None,
        liquidity_usd: liquidity.map(dec),
        volume_24h_usd: Some(dec("1000")),
        holders: Some(42),
        age_minutes: Some(5),
        raw_event_id: None,
    };
    env(EventType::SnapshotRecorded, &[asset, &ts.to_rfc3339(), tag], ts, asset, serde_json::to_value(s).unwrap())
}

pub fn risk(asset: &str, ts: Ts, severity: u8, tag: &str) -> Envelope {
    let r = RiskEvaluation {
        asset_id: AssetId::parse(asset).unwrap(),
        rule_set_version: "r1".into(),
        evaluated_at: ts,
        checks: vec![RiskCheck {
            code: nl_domain::CheckCode::Honeypot,
            verdict: if severity > 0 { Verdict::Fail } else { Verdict::Pass },
            provider: "goplus".into(),
            observed_at: ts,
            expires_at: ts,
            severity,
            value: None,
            detail: None,
        }],
        severity,
        disagreements: vec![],
    };
    env(EventType::RiskEvaluated, &[asset, &ts.to_rfc3339(), tag], ts, asset, serde_json::to_value(r).unwrap())
}

pub fn score(asset: &str, ts: Ts, value: &str, tag: &str) -> Envelope {
    let s = ScoreRecord {
        asset_id: AssetId::parse(asset).unwrap(),
        score: dec(value),
        components: vec![],
        reason: "test".into(),
        formula_version: "f1".into(),
        computed_at: ts,
    };
    env(EventType::ScoreComputed, &[asset, &ts.to_rfc3339(), tag], ts, asset, serde_json::to_value(s).unwrap())
}

pub fn decision(asset: &str, ts: Ts, promoted: bool) -> Envelope {
    let d = GateDecision {
        asset_id: AssetId::parse(asset).unwrap(),
        decision: if promoted { Decision::Promoted } else { Decision::Rejected },
        reason_codes: vec![if promoted { "ok".into() } else { "liquidity_below_min".into() }],
        rule_set_version: "g1".into(),
        config_hash: CFG.into(),
        inputs: vec!["snap".into()],
        decided_at: ts,
    };
    let kind = if promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
    env(kind, &[asset, &ts.to_rfc3339()], ts, asset, serde_json::to_value(d).unwrap())
}

pub fn review(asset: &str, ts: Ts) -> Envelope {
    env(EventType::AssetReviewed, &[asset, &ts.to_rfc3339()], ts, asset, serde_json::json!({"reviewed_by": "desk"}))
}

pub async fn count(store: &LedgerStore, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(store.reader().pool()).await.unwrap()
}

/// The ledger's gRPC over `store`'s reader on 127.0.0.1:0, stopped by [`GrpcServer::stop`].
pub struct GrpcServer {
    pub channel: tonic::transport::Channel,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), nl_ledger::LedgerError>>,
}

pub async fn grpc_server(store: &LedgerStore) -> GrpcServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nl_ledger::serve_listener(listener, nl_ledger::LedgerGrpc::new(store.reader().clone()), async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    GrpcServer { channel, stop, server }
}

impl GrpcServer {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}
