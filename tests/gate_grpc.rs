//! gRPC `Gate` roundtrips on `127.0.0.1:0` over a real ledger: `Check` returns the ledger's latest
//! decision; `CheckExecution` denies by default and in every combination but the full one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use nl_domain::{AssetId, Decision, Envelope, EventType, GateDecision, Ts};
use nl_gate::{ExecutionConfig, GateGrpc, serve_listener};
use nl_ledger::{LedgerConfig, LedgerStore};
use nl_proto::pb;
use nl_proto::pb::gate_client::GateClient;
use tonic::transport::Channel;

const A: &str = "eth:0x6a3c91e2d55b0f7a8c4e3d21b09f8e7d6c5b5b4a";
const B: &str = "solana:9KTAb8dLcukC7edhDQ7cn5d4gEYkbUrMWeWQLGsCpump";
const TOKEN: &str = "s3cret-confirm";

fn at(s: &str) -> Ts {
    s.parse().unwrap()
}

fn decision(asset: &str, d: Decision, codes: &[&str], when: &str) -> Envelope {
    let g = GateDecision {
        asset_id: AssetId::parse(asset).unwrap(),
        decision: d,
        reason_codes: codes.iter().map(|c| (*c).to_string()).collect(),
        rule_set_version: "risk-rules-v1".into(),
        config_hash: "cfg".into(),
        inputs: vec!["snap".into(), "risk".into(), format!("score-{when}")],
        decided_at: at(when),
    };
    let kind = if d == Decision::Promoted { EventType::CandidatePromoted } else { EventType::CandidateRejected };
    Envelope::new(kind, &[asset, when], g.decided_at, "run", "cfg", serde_json::to_value(&g).unwrap()).with_asset(asset)
}

async fn ledger() -> (LedgerStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(&LedgerConfig::with_db_path(dir.path().join("nl.db"))).await.unwrap();
    store
        .apply(vec![
            decision(A, Decision::Rejected, &["UNKNOWN_AS_FAIL:lp_unlocked"], "2026-10-08T12:00:00Z"),
            decision(A, Decision::Promoted, &["PROMOTED", "PASS:honeypot"], "2026-10-08T12:20:00Z"),
            decision(B, Decision::Rejected, &["HARD_FAIL:mint_authority"], "2026-10-08T12:00:00Z"),
        ])
        .await
        .unwrap();
    (store, dir)
}

async fn client(svc: GateGrpc) -> (GateClient<Channel>, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_listener(listener, svc, async {
        let _ = stopped.await;
    }));
    (GateClient::connect(format!("http://{addr}")).await.unwrap(), stop)
}

async fn exec(c: &mut GateClient<Channel>, asset: &str, token: &str, dry_run: bool) -> pb::CheckExecutionResponse {
    c.check_execution(pb::CheckExecutionRequest { asset_id: asset.into(), confirm_token: token.into(), dry_run }).await.unwrap().into_inner()
}

#[tokio::test]
async fn check_returns_the_ledgers_latest_decision() {
    let (store, _dir) = ledger().await;
    let (mut c, _stop) = client(GateGrpc::new(Arc::new(store.reader().clone()), ExecutionConfig::default())).await;

    let a = c.check(pb::CheckRequest { asset_id: A.into() }).await.unwrap().into_inner().decision.unwrap();
    let a = GateDecision::try_from(a).unwrap();
    assert_eq!((a.decision, a.reason_codes.as_slice()), (Decision::Promoted, ["PROMOTED".to_string(), "PASS:honeypot".to_string()].as_slice()));
    assert_eq!(a.decided_at, at("2026-10-08T12:20:00Z"), "the later decision wins");
    assert_eq!(a.inputs.len(), 3);
    let b = GateDecision::try_from(c.check(pb::CheckRequest { asset_id: B.into() }).await.unwrap().into_inner().decision.unwrap()).unwrap();
    assert_eq!((b.decision, b.reason_codes), (Decision::Rejected, vec!["HARD_FAIL:mint_authority".to_string()]));
    // Asset ids are normalized before lookup (EVM addresses are case-insensitive).
    assert!(c.check(pb::CheckRequest { asset_id: A.to_ascii_uppercase().replace("ETH:", "eth:") }).await.is_ok());
    let missing = c.check(pb::CheckRequest { asset_id: "cex:okx:NOPE".into() }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let bad = c.check(pb::CheckRequest { asset_id: "not an id".into() }).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn execution_is_denied_by_default() {
    let (store, _dir) = ledger().await;
    let svc = GateGrpc::new(Arc::new(store.reader().clone()), ExecutionConfig::default()).with_env(|_| Some(TOKEN.to_string()));
    let (mut c, _stop) = client(svc).await;
    let r = exec(&mut c, A, TOKEN, false).await;
    assert!(!r.allowed);
    assert_eq!(r.reasons, ["EXECUTION_DISABLED", "NOT_ARMED"], "everything else holds, the defaults alone deny");
    assert_eq!(r.decision.unwrap().asset_id, A);
}

#[tokio::test]
async fn execution_needs_every_condition() {
    let (store, _dir) = ledger().await;
    let reader = Arc::new(store.reader().clone());
    let full = ExecutionConfig { enabled: true, armed: true, confirm_token_env: "NL_TEST_CONFIRM".into() };
    let token_env = |k: &str| (k == "NL_TEST_CONFIRM").then(|| TOKEN.to_string());
    let (mut c, _s1) = client(GateGrpc::new(reader.clone(), full.clone()).with_env(token_env)).await;

    let ok = exec(&mut c, A, TOKEN, false).await;
    assert!(ok.allowed && ok.reasons.is_empty(), "{:?}", ok.reasons);
    for (asset, token, dry, want) in [
        (A, "s3cret-confirX", false, vec!["CONFIRM_TOKEN_MISMATCH"]),
        (A, "", false, vec!["CONFIRM_TOKEN_MISMATCH"]),
        (A, TOKEN, true, vec!["DRY_RUN"]),
        (B, TOKEN, false, vec!["NOT_PROMOTED"]),
        ("cex:okx:NOPE", TOKEN, false, vec!["NOT_PROMOTED"]),
    ] {
        let r = exec(&mut c, asset, token, dry).await;
        assert!(!r.allowed, "{asset} {token} {dry}");
        assert_eq!(r.reasons, want, "{asset} {token} {dry}");
    }

    let (mut not_armed, _s2) = client(GateGrpc::new(reader.clone(), ExecutionConfig { armed: false, ..full.clone() }).with_env(token_env)).await;
    assert_eq!(exec(&mut not_armed, A, TOKEN, false).await.reasons, ["NOT_ARMED"]);
    let (mut disabled, _s3) = client(GateGrpc::new(reader.clone(), ExecutionConfig { enabled: false, ..full.clone() }).with_env(token_env)).await;
    assert_eq!(exec(&mut disabled, A, TOKEN, false).await.reasons, ["EXECUTION_DISABLED"]);
    let (mut no_env, _s4) = client(GateGrpc::new(reader.clone(), full.clone()).with_env(|_| None)).await;
    assert_eq!(exec(&mut no_env, A, TOKEN, false).await.reasons, ["CONFIRM_TOKEN_ENV_UNSET"]);

    // The default lookup reads the real process environment: name a variable every test process has.
    let path = std::env::var("PATH").expect("PATH is set");
    let real = ExecutionConfig { confirm_token_env: "PATH".into(), ..full };
    let (mut env_client, _s5) = client(GateGrpc::new(reader, real)).await;
    assert!(exec(&mut env_client, A, &path, false).await.allowed);
    assert_eq!(exec(&mut env_client, A, TOKEN, false).await.reasons, ["CONFIRM_TOKEN_MISMATCH"]);
}

#[tokio::test]
async fn execution_check_is_no_token_oracle_while_disabled_or_not_armed() {
    let (store, _dir) = ledger().await;
    let reader = Arc::new(store.reader().clone());
    let token_env = |k: &str| (k == "NL_TEST_CONFIRM").then(|| TOKEN.to_string());
    for (enabled, armed) in [(false, false), (true, false), (false, true)] {
        let cfg = ExecutionConfig { enabled, armed, confirm_token_env: "NL_TEST_CONFIRM".into() };
        let (mut c, _stop) = client(GateGrpc::new(reader.clone(), cfg).with_env(token_env)).await;
        let right = exec(&mut c, A, TOKEN, false).await;
        let wrong = exec(&mut c, A, "s3cret-confirX", false).await;
        assert_eq!(right, wrong, "enabled={enabled} armed={armed}: the answer must not depend on the presented token");
        assert!(!right.reasons.iter().any(|r| r == "CONFIRM_TOKEN_MISMATCH"), "{:?}", right.reasons);
    }
}

#[tokio::test]
async fn a_gate_with_a_bearer_token_refuses_requests_without_it() {
    use nl_proto::auth::{AttachBearer, RequireBearer};
    let (store, _dir) = ledger().await;
    let svc = GateGrpc::new(Arc::new(store.reader().clone()), ExecutionConfig::default()).with_auth(RequireBearer::new(Some("grpc-tok".into())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_listener(listener, svc, std::future::pending()));
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut c = GateClient::new(channel.clone());
    for call in [c.check(pb::CheckRequest { asset_id: A.into() }).await.map(|_| ()), c.check_execution(pb::CheckExecutionRequest { asset_id: A.into(), ..Default::default() }).await.map(|_| ())] {
        assert_eq!(call.unwrap_err().code(), tonic::Code::Unauthenticated);
    }
    let mut wrong = GateClient::with_interceptor(channel.clone(), AttachBearer::new(Some("grpc-tok2"), "V").unwrap());
    assert_eq!(wrong.check(pb::CheckRequest { asset_id: A.into() }).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let mut authed = GateClient::with_interceptor(channel, AttachBearer::new(Some("grpc-tok"), "V").unwrap());
    assert!(authed.check(pb::CheckRequest { asset_id: A.into() }).await.is_ok());
}
