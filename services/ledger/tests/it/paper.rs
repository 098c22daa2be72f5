//! Paper events applied by the ledger: experiment specs and their status steps, orders with their
//! learning-budget allocation, fills, positions and blocks, read back through `PaperReader`; a paper
//! event whose book tags disagree is kept in `events` as invalid and reaches no table.

use nl_domain::paper::paper_envelope;
use nl_domain::paper_read::{FillQuery, PaperReader};
use nl_domain::{
    BookTags, EventType, ExperimentCreated, ExperimentSpec, ExperimentStatus, ExperimentStatusChanged, OrderFilled, OrderSubmitted, RiskAllocation,
    RunIdentity, Side, TradeBlocked,
};
use nl_domain::Decimal;

use crate::fixtures::at;

pub fn spec() -> ExperimentSpec {
    ExperimentSpec::parse(
        r#"{"spec_id": "e1", "version": 1, "question": "q", "hypothesis": "h",
            "exposure": {"decisions": ["rejected"], "sample_rate": 1, "notional_usd": "10", "take_profit_pct": "10", "stop_loss_pct": "10", "max_hold_minutes": 5},
            "metrics": {"primary": "hit_rate", "success_criterion": {"op": ">", "threshold": 0.5}, "min_trades": 3},
            "risk": {"max_notional_usd": "100", "max_open_positions": 2}}"#,
    )
    .unwrap()
}

fn step(run: &RunIdentity, sha: &str, from: ExperimentStatus, to: ExperimentStatus, minute: u32) -> nl_domain::Envelope {
    let body = ExperimentStatusChanged { tags: BookTags::learning("e1"), from, to, spec_sha256: sha.into(), reason: None, changed_at: at(minute) };
    paper_envelope(EventType::ExperimentStatusChanged, &["e1", from.as_str(), to.as_str(), sha], at(minute), run, None, &body)
}

#[tokio::test]
async fn paper_events_reach_their_tables_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(&dir.path().join("nl.db"))).await.unwrap();
    let run = RunIdentity { run_id: "nl_20260101_000000Z_00000001".into(), config_hash: "c".into() };
    let spec = spec();
    let sha = spec.sha256();
    let created = ExperimentCreated { tags: BookTags::learning("e1"), spec: spec.clone(), spec_sha256: sha.clone(), created_at: at(0) };
    store.apply(vec![paper_envelope(EventType::ExperimentCreated, &["e1"], at(0), &run, None, &created)]).await.unwrap();
    // An illegal step (draft -> running) and a step with another hash change nothing.
    store.apply(vec![step(&run, &sha, ExperimentStatus::Draft, ExperimentStatus::Running, 1), step(&run, "other", ExperimentStatus::Draft, ExperimentStatus::Approved, 1)]).await.unwrap();
    assert_eq!(store.reader().experiment("e1").await.unwrap().unwrap().status, ExperimentStatus::Draft);
    store.apply(vec![step(&run, &sha, ExperimentStatus::Draft, ExperimentStatus::Approved, 2), step(&run, &sha, ExperimentStatus::Approved, ExperimentStatus::Running, 3)]).await.unwrap();
    let e = store.reader().experiment("e1").await.unwrap().unwrap();
    assert_eq!((e.status, e.spec, e.frozen_at.as_deref()), (ExperimentStatus::Running, spec, Some("2026-01-01T00:03:00.000Z")));

    let (order, fill, block) = trades();
    // The same block with its experiment removed: invalid, kept in events only.
    let mut bad = paper_envelope(EventType::TradeBlocked, &["bad"], at(6), &run, Some(&order.asset_id), &block);
    bad.meta["experiment_id"] = serde_json::Value::Null;
    let out = store
        .apply(vec![
            paper_envelope(EventType::OrderSubmitted, &["o1"], at(4), &run, Some(&order.asset_id), &order),
            paper_envelope(EventType::OrderFilled, &["f1"], at(5), &run, Some(&order.asset_id), &fill),
            paper_envelope(EventType::TradeBlocked, &["b1"], at(6), &run, Some(&order.asset_id), &block),
            bad,
        ])
        .await
        .unwrap();
    assert_eq!(out.invalid.len(), 1, "{out:?}");
    assert!(out.invalid[0].error.contains("needs an experiment_id"), "{:?}", out.invalid);
    let trades = store.reader().run_trades(&run.run_id).await.unwrap();
    assert_eq!(trades.orders, vec![order]);
    assert_eq!(trades.fills, vec![fill.clone()]);
    assert_eq!(trades.blocks, vec![block]);
    let learning = store.reader().fills(&FillQuery { learning_book: Some(true), experiment_id: Some("e1".into()), ..FillQuery::default() }).await.unwrap();
    assert_eq!(learning, vec![fill]);
    assert!(store.reader().fills(&FillQuery { learning_book: Some(false), ..FillQuery::default() }).await.unwrap().is_empty());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM risk_allocations WHERE experiment_id = 'e1' AND learning_book = 1").fetch_one(store.reader().pool()).await.unwrap();
    assert_eq!(n, 1);
}

/// An order, its fill and a block of experiment e1's learning book.
pub fn trades() -> (OrderSubmitted, OrderFilled, TradeBlocked) {
    let tags = BookTags::learning("e1");
    let order = OrderSubmitted {
        tags: tags.clone(),
        order_id: "o1".into(),
        position_id: "o1".into(),
        asset_id: "eth:0x00000000000000000000000000000000000000aa".into(),
        side: Side::Buy,
        notional_usd: Decimal::TEN,
        quantity: None,
        intent: "entry".into(),
        signal_event_id: "sig".into(),
        decided_at: at(4),
        risk_allocation: Some(RiskAllocation { budget_day: "2026-01-01".into(), allocated_usd: Decimal::TEN, budget_used_usd: Decimal::TEN, budget_limit_usd: Decimal::ONE_HUNDRED }),
    };
    let fill = OrderFilled {
        tags: tags.clone(),
        order_id: "o1".into(),
        fill_id: "f1".into(),
        asset_id: order.asset_id.clone(),
        side: Side::Buy,
        mark_price: Decimal::ONE,
        price: Decimal::ONE,
        quantity: Decimal::TEN,
        notional_usd: Decimal::TEN,
        fee_usd: Decimal::ZERO,
        tax_usd: Decimal::ZERO,
        gas_usd: Decimal::ZERO,
        slippage_bps: Decimal::ZERO,
        snapshot_event_id: "snap".into(),
        filled_at: at(5),
        fill_model: "snapshot_v1".into(),
        rng_seed: 7,
        assumptions: vec![],
    };
    let block = TradeBlocked { tags: tags.clone(), asset_id: order.asset_id.clone(), side: Side::Buy, signal_event_id: "sig2".into(), reason_codes: vec!["no_learn_window".into()], blocked_at: at(6), order_id: None };
    (order, fill, block)
}
