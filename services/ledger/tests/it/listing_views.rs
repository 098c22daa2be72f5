//! The read models for people (`LedgerReader::listings`, `asset_detail`, `sources`, `runs`, `change_mark`)
//! over a ledger fed real events, in-process and through gRPC `Ledger.View` (the same answers).

use std::sync::Arc;

use nl_domain::views::{ListingQuery, MarketKind};
use nl_domain::{AssetId, Decision, LedgerReader, ReadError};

use crate::fixtures::*;

const A: &str = "cex:okx:AAA";
const B: &str = "cex:okx:BBB";
const C: &str = "cex:okx:CCC";

/// A promoted liquid asset, a rejected one and an unscored one, first seen at minutes 1, 2 and 3.
async fn seeded() -> TestStore {
    let t = open().await;
    t.store
        .apply(vec![
            upsert(A, "okx_instruments", "AAA-USDT", Some("live"), at(1)),
            upsert(B, "okx_instruments", "BBB-USDT", Some("live"), at(2)),
            upsert(C, "okx_announcements", "CCC", None, at(3)),
            snapshot(A, at(4), Some("50000"), "a1"),
            snapshot(A, at(5), Some("60000"), "a2"),
            snapshot(B, at(4), Some("500"), "b1"),
            risk(A, at(5), 0, "ra"),
            risk(B, at(5), 90, "rb"),
            score(A, at(5), "71.5", "ca"),
            score(B, at(5), "3", "cb"),
            decision(A, at(6), true),
            decision(B, at(6), false),
        ])
        .await
        .unwrap();
    t
}

fn ids(rows: &[nl_domain::Listing]) -> Vec<String> {
    rows.iter().map(|l| l.asset_id.to_string()).collect()
}

#[tokio::test]
async fn listings_are_newest_first_with_their_latest_rows_and_filters_narrow_them() {
    let t = seeded().await;
    let r = t.store.reader();
    let all = r.listings(&ListingQuery::default()).await.unwrap();
    assert_eq!(ids(&all), [C, B, A], "newest first");
    let a = &all[2];
    assert_eq!(a.liquidity_usd, Some(dec("60000")), "the latest snapshot");
    assert_eq!(a.score, Some(dec("71.5")));
    assert_eq!(a.decision, Some(Decision::Promoted));
    assert_eq!(a.reason_codes, ["ok"]);
    assert_eq!(a.risk.map(|s| (s.pass, s.fail, s.unknown)), Some((1, 0, 0)));
    assert_eq!((a.kind, a.venues.as_slice(), a.sources.as_slice()), (MarketKind::Cex, &["okx".to_string()][..], &["okx_instruments".to_string()][..]));
    let c = &all[0];
    assert_eq!((c.decision, c.score, c.risk, c.liquidity_usd), (None, None, None, None), "nothing known yet is None, not 0");

    let q = |f: fn(&mut ListingQuery)| {
        let mut q = ListingQuery::default();
        f(&mut q);
        q
    };
    assert_eq!(ids(&r.listings(&q(|q| q.decision = Some(Decision::Promoted))).await.unwrap()), [A]);
    assert_eq!(ids(&r.listings(&q(|q| q.decision = Some(Decision::Rejected))).await.unwrap()), [B]);
    assert_eq!(ids(&r.listings(&q(|q| q.min_liquidity_usd = Some(dec("1000")))).await.unwrap()), [A], "unknown liquidity never qualifies");
    assert_eq!(ids(&r.listings(&q(|q| q.text = Some("bb".into()))).await.unwrap()), [B], "case-insensitive text");
    assert_eq!(ids(&r.listings(&q(|q| q.since = Some(at(2)))).await.unwrap()), [C, B]);
    assert_eq!(ids(&r.listings(&q(|q| q.limit = 1)).await.unwrap()), [C]);
    assert!(r.listings(&q(|q| q.venue = Some("binance".into()))).await.unwrap().is_empty());
    assert_eq!(r.listings(&q(|q| q.venue = Some("okx".into()))).await.unwrap().len(), 3);
    assert!(r.listings(&q(|q| q.kind = Some(MarketKind::Dex))).await.unwrap().is_empty());
    assert!(r.listings(&q(|q| q.chain = Some("solana".into()))).await.unwrap().is_empty());
    // Candidates are v_assets_candidates: promoted and at least candidate_min_liquidity_usd (10000).
    assert_eq!(ids(&r.listings(&q(|q| q.candidates_only = true)).await.unwrap()), [A]);
}

#[tokio::test]
async fn asset_detail_has_history_latest_rows_and_a_timeline_in_pipeline_order() {
    let t = seeded().await;
    let d = t.store.reader().asset_detail(&AssetId::parse(A).unwrap()).await.unwrap().unwrap();
    assert_eq!(d.listing.symbol, "NEW");
    assert_eq!(d.sightings.len(), 1);
    let liq: Vec<_> = d.snapshots.iter().map(|s| s.liquidity_usd).collect();
    assert_eq!(liq, [Some(dec("50000")), Some(dec("60000"))], "snapshot history oldest first");
    assert_eq!(d.risk.as_ref().map(|r| r.rule_set_version.as_str()), Some("r1"));
    assert!(d.risk_event_id.is_some());
    assert_eq!(d.score.as_ref().map(|s| s.score), Some(dec("71.5")));
    let g = d.decision.as_ref().unwrap();
    assert_eq!((g.decision, g.config_hash.as_str(), g.rule_set_version.as_str()), (Decision::Promoted, CFG, "g1"));
    let kinds: Vec<_> = d.timeline.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["listing.observed", "snapshot.recorded", "snapshot.recorded", "risk.evaluated", "score.computed", "candidate.promoted"]);
    assert!(t.store.reader().asset_detail(&AssetId::parse("cex:okx:NOPE").unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn change_mark_moves_with_every_commit() {
    let t = seeded().await;
    let r = t.store.reader();
    let before = r.change_mark().await.unwrap();
    assert!(before > 0);
    t.store.apply(vec![upsert("cex:okx:DDD", "okx_instruments", "DDD-USDT", None, at(9))]).await.unwrap();
    assert!(r.change_mark().await.unwrap() > before);
    assert!(r.runs(10).await.unwrap().is_empty(), "no run events applied");
    assert!(r.sources().await.unwrap().is_empty(), "no raw captures applied");
}

#[tokio::test]
async fn grpc_view_answers_what_the_sqlite_reader_answers() {
    let t = seeded().await;
    let server = grpc_server(&t.store).await;
    let grpc: Arc<dyn LedgerReader> = Arc::new(nl_proto::GrpcLedgerReader::new(server.channel.clone()));
    let local: Arc<dyn LedgerReader> = Arc::new(t.store.reader().clone());

    let q = ListingQuery { decision: Some(Decision::Promoted), ..ListingQuery::default() };
    assert_eq!(grpc.listings(&q).await.unwrap(), local.listings(&q).await.unwrap());
    assert_eq!(grpc.listings(&ListingQuery::default()).await.unwrap(), local.listings(&ListingQuery::default()).await.unwrap());
    let a = AssetId::parse(A).unwrap();
    assert_eq!(grpc.asset_detail(&a).await.unwrap(), local.asset_detail(&a).await.unwrap());
    assert_eq!(grpc.asset_detail(&AssetId::parse("cex:okx:NOPE").unwrap()).await.unwrap(), None);
    assert_eq!(grpc.change_mark().await.unwrap(), local.change_mark().await.unwrap());
    assert_eq!(grpc.sources().await.unwrap(), local.sources().await.unwrap());
    assert_eq!(grpc.runs(5).await.unwrap(), local.runs(5).await.unwrap());
    let day = at(0) - chrono::Duration::days(1);
    assert_eq!(grpc.ai_tokens_since(day).await.unwrap(), local.ai_tokens_since(day).await.unwrap());
    assert_eq!(grpc.ai_usage_since(day).await.unwrap(), local.ai_usage_since(day).await.unwrap());
    assert_eq!(grpc.ai_layers_answered("t").await.unwrap(), local.ai_layers_answered("t").await.unwrap());
    // Which events the ledger applied: asked over gRPC in chunks, as more ids than one request may carry.
    let applied: Vec<String> = sqlx::query_scalar("SELECT event_id FROM events ORDER BY seq LIMIT 2").fetch_all(t.store.reader().pool()).await.unwrap();
    assert_eq!(applied.len(), 2);
    let mut ids: Vec<String> = (0..nl_domain::read::STORED_EVENT_IDS_PER_REQUEST + 500).map(|i| format!("never-published-{i}")).collect();
    ids.insert(1, applied[0].clone());
    ids.push(applied[1].clone());
    let stored = grpc.stored_event_ids(&ids).await.unwrap();
    assert_eq!(stored, local.stored_event_ids(&ids).await.unwrap());
    assert_eq!(stored, applied.iter().cloned().collect(), "exactly the applied ones, from both chunks");

    // An unknown view is the caller's error, named.
    let mut client = nl_proto::pb::ledger_client::LedgerClient::new(server.channel.clone());
    let err = client.view(nl_proto::pb::ViewRequest { view: "everything".into(), query_json: String::new() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("listings, asset_detail"), "{}", err.message());
    let too_many = serde_json::to_string(&ids).unwrap();
    let err = client.view(nl_proto::pb::ViewRequest { view: "stored_event_ids".into(), query_json: too_many }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "one request carries at most STORED_EVENT_IDS_PER_REQUEST ids");

    server.stop().await;
    // With the server gone, reads are Unavailable (retryable), not Corrupt.
    assert!(matches!(grpc.change_mark().await, Err(ReadError::Unavailable(_))));
}

/// A run's manifest file (events.jsonl byte range, code version), recorded when the runtime writes it,
/// reaches the runs view in-process and over gRPC; `run.completed` leaves it alone.
#[tokio::test]
async fn a_recorded_run_manifest_reaches_the_runs_view_over_grpc_too() {
    let t = open().await;
    let m = serde_json::json!({"run_id": RUN, "events": {"path": "out/events.jsonl", "start": 120, "end": 4567, "count": 9},
                               "code_version": {"crate_version": "0.1.0", "git_commit": "abc"}});
    assert!(!t.store.record_run_manifest(RUN, &m).await.unwrap(), "no row before run.started: nothing recorded");
    let started = nl_domain::Envelope::new(nl_domain::EventType::RunStarted, &[RUN, "start"], at(0), RUN, CFG, serde_json::json!({"dry_run": false}));
    t.store.apply(vec![started]).await.unwrap();
    assert!(t.store.record_run_manifest(RUN, &m).await.unwrap());
    let summary = serde_json::json!({"status": "completed", "summary": {"dead_letters": 0}});
    t.store.apply(vec![nl_domain::Envelope::new(nl_domain::EventType::RunCompleted, &[RUN, "done"], at(9), RUN, CFG, summary.clone())]).await.unwrap();
    let local = t.store.reader().runs(5).await.unwrap();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].run_manifest.as_ref(), Some(&m));
    assert_eq!(local[0].manifest, summary, "the run.completed summary stays in `manifest`");
    let server = grpc_server(&t.store).await;
    let grpc = nl_proto::GrpcLedgerReader::new(server.channel.clone());
    assert_eq!(grpc.runs(5).await.unwrap(), local);
}
