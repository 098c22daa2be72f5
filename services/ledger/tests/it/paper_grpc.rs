//! The paper views of `Ledger.View` on 127.0.0.1:0, read through the gRPC client (`nl_proto`'s
//! `PaperReader` and `ReplayReader`): every answer equals what the same reads give on the DB, run trades
//! and replay inputs come in bounded pages, and a bad query is INVALID_ARGUMENT.

use nl_domain::paper::paper_envelope;
use nl_domain::paper_read::{FillQuery, PaperReader, ReplayReader};
use nl_domain::{BookTags, Decimal, EventType, ExperimentCreated, PositionUpdated, RunIdentity, StrategyRun};
use nl_proto::pb;
use nl_proto::pb::ledger_client::LedgerClient;

use crate::fixtures::*;
use crate::paper::{spec, trades};

async fn view(client: &mut LedgerClient<tonic::transport::Channel>, view: &str, query: serde_json::Value) -> Result<serde_json::Value, tonic::Status> {
    let r = client.view(pb::ViewRequest { view: view.into(), query_json: query.to_string() }).await?;
    Ok(serde_json::from_str(&r.into_inner().json).unwrap())
}

#[tokio::test]
async fn paper_views_over_grpc_answer_what_the_db_holds() {
    let t = open().await;
    let run = RunIdentity { run_id: "nl_20260101_000000Z_00000002".into(), config_hash: "c".into() };
    let spec = spec();
    let sha = spec.sha256();
    let created = ExperimentCreated { tags: BookTags::learning("e1"), spec, spec_sha256: sha.clone(), created_at: at(0) };
    let started = StrategyRun {
        mode: "backtest".into(),
        settings: serde_json::json!({"rng_seed": 7}),
        experiment_ids: vec!["e1".into()],
        started_at: at(0),
        ended_at: None,
        source_run_id: Some(RUN.into()),
    };
    let (order, fill, block) = trades();
    let position = PositionUpdated {
        tags: order.tags.clone(),
        position_id: "o1".into(),
        asset_id: order.asset_id.clone(),
        status: "open".into(),
        quantity: Decimal::TEN,
        entry_notional_usd: Decimal::TEN,
        avg_entry_price: Decimal::ONE,
        mark_price: Decimal::ONE,
        unrealized_pnl_usd: Decimal::ZERO,
        realized_pnl_usd: Decimal::ZERO,
        fees_usd: Decimal::ZERO,
        honeypot: false,
        at: at(5),
    };
    let a = "cex:okx:AAA";
    // Replay inputs committed out of time order: the snapshot at minute 2 before the upsert at minute 1.
    t.store.apply(vec![snapshot(a, at(2), Some("100"), "s"), upsert(a, "okx_instruments", "AAA-USDT", None, at(1)), decision(a, at(3), true)]).await.unwrap();
    let asset = Some(order.asset_id.as_str());
    t.store
        .apply(vec![
            paper_envelope(EventType::ExperimentCreated, &["e1"], at(0), &run, None, &created),
            paper_envelope(EventType::StrategyRunStarted, &[&run.run_id], at(0), &run, None, &started),
            paper_envelope(EventType::OrderSubmitted, &["o1"], at(4), &run, asset, &order),
            paper_envelope(EventType::OrderFilled, &["f1"], at(5), &run, asset, &fill),
            paper_envelope(EventType::PositionUpdated, &["p1"], at(5), &run, asset, &position),
            paper_envelope(EventType::TradeBlocked, &["b1"], at(6), &run, asset, &block),
        ])
        .await
        .unwrap();

    let server = grpc_server(&t.store).await;
    let channel = server.channel.clone();
    let grpc = nl_proto::GrpcLedgerReader::new(channel.clone());
    let db = t.store.reader();

    // Every PaperReader read: the same over gRPC as on the DB, and what was stored.
    let exps = grpc.experiments().await.unwrap();
    assert_eq!(exps, db.experiments().await.unwrap());
    assert_eq!((exps.len(), exps[0].spec_sha256.as_str()), (1, sha.as_str()));
    assert_eq!(grpc.experiment("e1").await.unwrap(), db.experiment("e1").await.unwrap());
    assert_eq!(grpc.experiment("nope").await.unwrap(), None);
    let runs = grpc.strategy_runs(Some("backtest")).await.unwrap();
    assert_eq!(runs, db.strategy_runs(Some("backtest")).await.unwrap());
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), vec![run.run_id.as_str()]);
    assert!(grpc.strategy_runs(Some("paper")).await.unwrap().is_empty());
    assert_eq!(grpc.strategy_run(&run.run_id).await.unwrap().unwrap().settings["rng_seed"], 7);
    let fq = FillQuery { learning_book: Some(true), experiment_id: Some("e1".into()), ..FillQuery::default() };
    assert_eq!(grpc.fills(&fq).await.unwrap(), vec![fill.clone()]);
    let traded = grpc.run_trades(&run.run_id).await.unwrap();
    assert_eq!(traded, db.run_trades(&run.run_id).await.unwrap());
    assert_eq!((traded.orders, traded.fills, traded.positions, traded.blocks), (vec![order], vec![fill], vec![position], vec![block]));

    // Replay inputs: in time order (the upsert first although committed second), as the DB's read.
    let replay = grpc.replay_inputs(Some(RUN), None, None).await.unwrap();
    assert_eq!(replay, ReplayReader::replay_inputs(db, Some(RUN), None, None).await.unwrap());
    let kinds: Vec<EventType> = replay.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventType::AssetUpserted, EventType::SnapshotRecorded, EventType::CandidatePromoted]);
    let window = grpc.replay_inputs(None, Some("2026-01-01T00:02:00.000Z"), Some("2026-01-01T00:03:00.000Z")).await.unwrap();
    assert_eq!(window.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventType::SnapshotRecorded]);
    let (followed, last) = grpc.replay_inputs_after(0, None, 100).await.unwrap();
    assert_eq!((followed.clone(), last), ReplayReader::replay_inputs_after(db, 0, None, 100).await.unwrap());
    assert!(followed.iter().any(|e| e.kind == EventType::ExperimentCreated), "a session follows experiment events too");

    // Bounded pages: a limit of 1 answers one record and where the next page starts.
    let mut client = LedgerClient::new(channel);
    let page = view(&mut client, "run_trades", serde_json::json!({"run_id": run.run_id, "after": 0, "limit": 1})).await.unwrap();
    assert_eq!(page["trades"]["orders"].as_array().unwrap().len(), 1);
    assert!(page["next"].as_i64().unwrap() > 0, "{page}");
    let page = view(&mut client, "replay_inputs", serde_json::json!({"run_id": RUN, "after": 0, "limit": 2})).await.unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["events"][0]["ts"], "2026-01-01T00:02:00.000Z", "commit order within a page, with the stored ts");
    let rest = view(&mut client, "replay_inputs", serde_json::json!({"run_id": RUN, "after": page["next"], "limit": 2})).await.unwrap();
    assert_eq!((rest["events"].as_array().unwrap().len(), &rest["next"]), (1, &serde_json::Value::Null));
    let bad = view(&mut client, "run_trades", serde_json::json!({"nope": 1})).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let unknown = view(&mut client, "paper_things", serde_json::Value::Null).await.unwrap_err();
    assert!(unknown.message().contains("run_trades") && unknown.message().contains("replay_inputs"), "{}", unknown.message());

    server.stop().await;
}
