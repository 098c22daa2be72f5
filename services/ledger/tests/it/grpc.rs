//! A gRPC roundtrip on 127.0.0.1:0.

use std::sync::Arc;

use nl_bus::{Bus, MemoryBus};
use nl_ledger::{LedgerGrpc, serve_listener};
use nl_proto::pb;
use nl_proto::pb::ledger_client::LedgerClient;
use tokio::net::TcpListener;

use crate::fixtures::*;

#[tokio::test]
async fn ledger_grpc_roundtrip() {
    let t = open().await;
    let a = "cex:okx:AAA";
    t.store
        .apply(vec![
            upsert(a, "okx_instruments", "AAA-USDT", Some("live"), at(1)),
            upsert("cex:okx:BBB", "okx_instruments", "BBB-USDT", None, at(1)),
            snapshot(a, at(2), Some("50000"), "s"),
            risk(a, at(2), 20, "r"),
            score(a, at(2), "0.8", "c"),
            decision(a, at(3), true),
        ])
        .await
        .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::default());
    let svc = LedgerGrpc::new(t.store.reader().clone()).with_bus(bus);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_listener(listener, svc, async {
        let _ = stopped.await;
    }));

    let mut client = LedgerClient::connect(format!("http://{addr}")).await.unwrap();
    let asset = client.get_asset(pb::GetAssetRequest { asset_id: a.into() }).await.unwrap().into_inner().asset.unwrap();
    assert_eq!((asset.symbol.as_str(), asset.status.as_str(), asset.kind.as_str()), ("NEW", "live", "cex"));
    let missing = client.get_asset(pb::GetAssetRequest { asset_id: "cex:okx:NOPE".into() }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let page = client
        .list_assets(pb::ListAssetsRequest { filter: pb::AssetFilter::All.into(), page_size: 1, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.assets.len(), 1);
    assert_eq!(page.next_page_token, a);
    let cands = client
        .list_assets(pb::ListAssetsRequest { filter: pb::AssetFilter::Candidates.into(), page_size: 0, page_token: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cands.assets.iter().map(|x| x.asset_id.as_str()).collect::<Vec<_>>(), vec![a]);
    assert!(cands.next_page_token.is_empty());

    let latest = client.get_latest(pb::GetLatestRequest { asset_id: a.into() }).await.unwrap().into_inner();
    assert_eq!(latest.snapshot.unwrap().liquidity_usd.as_deref(), Some("50000"));
    assert_eq!(latest.risk.unwrap().severity, 20);
    assert_eq!(latest.score.unwrap().score, "0.8");
    let d = latest.decision.unwrap().decision.unwrap();
    assert_eq!(d.decision(), pb::Decision::Promoted);
    let domain = nl_domain::GateDecision::try_from(d).unwrap();
    assert_eq!(domain.reason_codes, vec!["ok".to_string()]);
    let empty = client.get_latest(pb::GetLatestRequest { asset_id: "cex:okx:BBB".into() }).await.unwrap().into_inner();
    assert!(empty.snapshot.is_none() && empty.decision.is_none());

    let stats = client.stats(pb::StatsRequest {}).await.unwrap().into_inner();
    let rows = |name: &str| stats.tables.iter().find(|t| t.table == name).map(|t| t.rows);
    assert_eq!(rows("events"), Some(9), "six applied plus the three derived events, stored with their outbox rows");
    assert_eq!(rows("assets"), Some(2));
    assert_eq!(stats.outbox_pending, 3, "two discovered + one risk.flagged, unpublished");
    assert_eq!(stats.dead_letter_count, Some(0));
    assert!(stats.events_by_type.iter().any(|c| c.event_type == "asset.upserted" && c.events == 2));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_ledger_with_a_bearer_token_answers_only_requests_carrying_it() {
    use nl_domain::LedgerReader;
    use nl_proto::auth::{AttachBearer, RequireBearer};
    let t = open().await;
    let a = "cex:okx:AAA";
    t.store.apply(vec![upsert(a, "okx_instruments", "AAA-USDT", Some("live"), at(1)), decision(a, at(3), true)]).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = LedgerGrpc::new(t.store.reader().clone()).with_auth(RequireBearer::new(Some("ledger-tok".into())));
    tokio::spawn(serve_listener(listener, svc, std::future::pending()));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();

    let mut anonymous = LedgerClient::new(channel.clone());
    let refused = anonymous.stats(pb::StatsRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let refused = anonymous.get_asset(pb::GetAssetRequest { asset_id: a.into() }).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let asset = nl_domain::AssetId::parse(a).unwrap();
    let wrong = nl_proto::GrpcLedgerReader::with_auth(channel.clone(), AttachBearer::new(Some("ledger-tok-x"), "V").unwrap());
    assert!(wrong.latest_decision(&asset).await.is_err());
    let reader = nl_proto::GrpcLedgerReader::with_auth(channel, AttachBearer::new(Some("ledger-tok"), "V").unwrap());
    let latest = reader.latest_decision(&asset).await.unwrap();
    assert!(latest.is_some(), "the gate's reader carries the token");
    assert!(wrong.latest_decisions(10).await.is_err());
    assert_eq!(reader.latest_decisions(10).await.unwrap(), latest.into_iter().collect::<Vec<_>>(), "the bulk read answers the same decision");
}

/// `[serve] tls_cert_path`/`tls_key_path` (#16): with a certificate the ledger serves TLS only. A client
/// trusting the CA (`tls_ca_path`) reads over `https://`, the bearer token still required; a plaintext
/// client gets nothing.
#[tokio::test]
async fn a_ledger_with_a_certificate_serves_tls_only_and_still_requires_the_token() {
    use nl_domain::LedgerReader;
    use nl_proto::auth::{AttachBearer, RequireBearer};
    let t = open().await;
    let a = "cex:okx:AAA";
    t.store.apply(vec![upsert(a, "okx_instruments", "AAA-USDT", Some("live"), at(1)), decision(a, at(3), true)]).await.unwrap();
    // A self-signed certificate for `localhost`, made here: it is its own CA.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let tls = nl_proto::tls::server_tls(&path(&cert_path), &path(&key_path)).unwrap();
    assert!(tls.is_some());

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let svc = LedgerGrpc::new(t.store.reader().clone()).with_auth(RequireBearer::new(Some("ledger-tok".into()))).with_tls(tls);
    tokio::spawn(serve_listener(listener, svc, std::future::pending()));

    let asset = nl_domain::AssetId::parse(a).unwrap();
    let https = format!("https://localhost:{port}");
    let channel = nl_proto::tls::endpoint(&https, &path(&cert_path)).unwrap().connect().await.unwrap();
    let reader = nl_proto::GrpcLedgerReader::with_auth(channel.clone(), AttachBearer::new(Some("ledger-tok"), "V").unwrap());
    assert!(reader.latest_decision(&asset).await.unwrap().is_some(), "over TLS, with the token");
    let refused = LedgerClient::new(channel).stats(pb::StatsRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "TLS does not replace the token");

    let plain = tonic::transport::Channel::from_shared(format!("http://localhost:{port}")).unwrap().connect_lazy();
    let plain = nl_proto::GrpcLedgerReader::with_auth(plain, AttachBearer::new(Some("ledger-tok"), "V").unwrap());
    assert!(plain.latest_decision(&asset).await.is_err(), "a plaintext client is not served");
    let other_ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let other_path = dir.path().join("other.pem");
    std::fs::write(&other_path, other_ca.cert.pem()).unwrap();
    assert!(nl_proto::tls::endpoint(&https, &path(&other_path)).unwrap().connect().await.is_err(), "a certificate the client's CA did not sign is refused");
}
