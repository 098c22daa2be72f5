//! The engine against the issue's acceptance list: no look-ahead, honeypots, no-learn zones, the profit
//! book unaffected by learning, the same seed giving the same report, and a config without fees refused.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::BTreeMap;

use nl_domain::paper_read::RunTrades;
use nl_domain::{Body, EventType};
use nl_paper::backtest::{self, BacktestInput};
use nl_paper::{Engine, PaperConfig, report};
use serde_json::json;
use support::*;

fn trades(out: &[nl_domain::Envelope]) -> RunTrades {
    let mut t = RunTrades::default();
    for e in out {
        match e.body().unwrap() {
            Body::OrderSubmitted(o) => t.orders.push(*o),
            Body::OrderFilled(f) => t.fills.push(*f),
            Body::PositionUpdated(p) => t.positions.push(*p),
            Body::TradeBlocked(b) => t.blocks.push(*b),
            _ => {}
        }
    }
    t
}

#[test]
fn a_price_gap_fills_at_the_later_snapshot() {
    let a = asset(1);
    let out = backtest::run(
        &config(false),
        &run("bt"),
        BacktestInput {
            events: vec![
                upsert(&a, t(0), None),
                snapshot(&a, t(0), "1", "1000000"),
                decision(&a, t(10), true, &["PROMOTED"]),
                // Before decision + latency (1 s): not usable.
                snapshot(&a, t(10), "1", "1000000"),
                snapshot(&a, t(60), "2", "1000000"),
            ],
            ..BacktestInput::default()
        },
    )
    .unwrap();
    let fills = metas(&out, EventType::OrderFilled);
    assert_eq!(fills.len(), 1, "{out:#?}");
    assert_eq!(fills[0]["mark_price"], json!("2"));
    assert_eq!(fills[0]["filled_at"], json!("2026-12-01T10:01:00Z"));
    assert_eq!(fills[0]["fill_model"], json!("snapshot_v1"));
    assert_eq!(fills[0]["rng_seed"], json!(7));
    assert_eq!(fills[0]["learning_book"], json!(false));
}

#[test]
fn without_a_fresh_price_or_before_the_venue_opens_nothing_fills() {
    let (a, b) = (asset(1), asset(2));
    let out = backtest::run(
        &config(false),
        &run("bt"),
        BacktestInput {
            events: vec![
                upsert(&b, t(0), Some(t(3600))),
                decision(&a, t(0), true, &[]),
                decision(&b, t(0), true, &[]),
                // Beyond max_price_wait_secs (900 s): stale.
                snapshot(&a, t(2000), "1", "1000000"),
                snapshot(&b, t(30), "1", "1000000"),
            ],
            ..BacktestInput::default()
        },
    )
    .unwrap();
    assert!(metas(&out, EventType::OrderFilled).is_empty());
    let blocks = metas(&out, EventType::TradeBlocked);
    let codes: Vec<&serde_json::Value> = blocks.iter().map(|b| &b["reason_codes"]).collect();
    assert!(codes.contains(&&json!(["no_fresh_price"])) && codes.contains(&&json!(["venue_not_open"])), "{blocks:#?}");
}

#[test]
fn a_honeypot_is_never_bought_and_a_held_one_cannot_be_sold() {
    let (a, b) = (asset(1), asset(2));
    let out = backtest::run(
        &config(false),
        &run("bt"),
        BacktestInput {
            events: vec![
                risk(&b, t(0), true, "0", "1"),
                decision(&b, t(1), true, &["PROMOTED"]),
                decision(&a, t(1), true, &["PROMOTED"]),
                snapshot(&a, t(5), "1", "1000000"),
                // Turns out to be a honeypot after the buy: marked to 0, stop-loss exit refused.
                risk(&a, t(20), true, "0", "1"),
                snapshot(&a, t(30), "1", "1000000"),
                snapshot(&a, t(40), "1", "1000000"),
            ],
            ..BacktestInput::default()
        },
    )
    .unwrap();
    let t = trades(&out);
    assert_eq!(t.fills.len(), 1, "only the buy of the asset not yet known as a honeypot");
    assert!(t.blocks.iter().any(|x| x.asset_id == b && x.side == nl_domain::Side::Buy && x.reason_codes == ["honeypot"]), "{:#?}", t.blocks);
    let sells: Vec<_> = t.blocks.iter().filter(|x| x.side == nl_domain::Side::Sell).collect();
    assert_eq!(sells.len(), 1, "{:#?}", t.blocks);
    assert_eq!(sells[0].reason_codes, ["honeypot_unsellable"]);
    let last = t.positions.last().unwrap();
    assert!(last.honeypot && last.status == "open" && last.mark_price.is_zero(), "{last:?}");
    assert!(last.unrealized_pnl_usd < nl_domain::Decimal::ZERO);
}

#[test]
fn a_signal_in_a_no_learn_zone_is_blocked_with_its_tags_and_places_no_order() {
    let a = asset(3);
    let window = json!([{"kind": "utc_window", "start": "09:30", "end": "10:30"}]);
    let out = backtest::run(
        &config(true),
        &run("bt"),
        BacktestInput {
            events: vec![decision(&a, t(0), false, &["SCORE_BELOW_THRESHOLD"]), snapshot(&a, t(5), "1", "1000000")],
            experiments: vec![experiment("zone_test", window)],
            ..BacktestInput::default()
        },
    )
    .unwrap();
    assert!(metas(&out, EventType::OrderSubmitted).is_empty(), "no order inside the zone");
    let blocks = metas(&out, EventType::TradeBlocked);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0]["learning_book"], json!(true));
    assert_eq!(blocks[0]["experiment_id"], json!("zone_test"));
    assert_eq!(blocks[0]["reason_codes"], json!(["no_learn_window"]));
    let gate = metas(&out, EventType::LearningGateUpdated);
    assert_eq!(gate[0]["zones_active"], json!(["no_learn_window"]));
}

fn recorded_stream() -> Vec<nl_domain::Envelope> {
    let mut ev = Vec::new();
    for n in 0..12u32 {
        let a = asset(100 + n);
        let base = i64::from(n) * 300;
        ev.push(upsert(&a, t(base), None));
        ev.push(snapshot(&a, t(base), "1", "500000"));
        ev.push(decision(&a, t(base + 1), n % 3 != 0, &[]));
        for k in 1..8i64 {
            let price = if n % 2 == 0 { format!("1.{}", k * 5) } else { format!("0.{}", 99 - k * 4) };
            ev.push(snapshot(&a, t(base + k * 120), &price, "500000"));
        }
    }
    ev
}

fn backtest(learning: bool, seed: u64) -> Vec<nl_domain::Envelope> {
    let mut cfg = config(learning);
    cfg.rng = seed;
    backtest::run(&cfg, &run(if learning { "bt_l" } else { "bt_p" }), BacktestInput { events: recorded_stream(), experiments: vec![experiment("explore", json!([]))], ..BacktestInput::default() }).unwrap()
}

#[test]
fn the_profit_book_is_byte_identical_with_learning_disabled_or_enabled() {
    let profit = |out: &[nl_domain::Envelope]| -> Vec<u8> {
        let t = trades(out);
        let mut bytes = Vec::new();
        for o in t.orders.iter().filter(|o| !o.tags.learning_book) {
            bytes.extend(serde_json::to_vec(o).unwrap());
        }
        for f in t.fills.iter().filter(|o| !o.tags.learning_book) {
            bytes.extend(serde_json::to_vec(f).unwrap());
        }
        for p in t.positions.iter().filter(|o| !o.tags.learning_book) {
            bytes.extend(serde_json::to_vec(p).unwrap());
        }
        bytes
    };
    let (off, on) = (backtest(false, 7), backtest(true, 7));
    assert!(trades(&on).orders.iter().any(|o| o.tags.learning_book), "learning traded");
    assert!(!trades(&off).orders.iter().any(|o| o.tags.learning_book));
    assert!(trades(&off).fills.len() > 4, "the profit book traded");
    assert_eq!(profit(&off), profit(&on));
    let specs = BTreeMap::new();
    let by = vec!["book".to_string()];
    let r_off = report::compute("r", &trades(&off), &specs, &by, 7);
    let r_on = report::compute("r", &trades(&on), &specs, &by, 7);
    assert_eq!(serde_json::to_string(&r_off.groups[1]).unwrap(), serde_json::to_string(&r_on.groups[1]).unwrap(), "profit PnL the same");
    assert_eq!(r_on.groups[1].book, "profit");
    assert_ne!(r_on.groups[0].orders, 0, "learning PnL reported apart");
}

#[test]
fn the_same_seed_gives_a_byte_identical_report() {
    let specs: BTreeMap<_, _> = [("explore".to_string(), experiment("explore", json!([])).spec)].into();
    let by = report::parse_group_by("book,experiment_id,reason_code").unwrap();
    let render = |seed| {
        let out = backtest(true, seed);
        let r = report::compute("r", &trades(&out), &specs, &by, seed);
        (serde_json::to_string(&r).unwrap(), r.to_table(), r.to_csv())
    };
    let a = render(11);
    assert_eq!(a, render(11));
    assert!(a.1.contains("explore") && a.1.contains("insufficient sample") || a.1.contains("pass") || a.1.contains("fail"), "{}", a.1);
    assert!(a.0.contains("ci95_low"), "{}", a.0);
}

#[test]
fn a_config_without_a_fee_model_is_refused() {
    let err = Engine::new(PaperConfig::default(), run("x")).err().unwrap().to_string();
    assert!(err.contains("[paper.fees] is not configured"), "{err}");
}

#[test]
fn a_snapshot_that_changes_no_mark_emits_no_position_update() {
    let a = asset(1);
    let out = backtest::run(
        &config(false),
        &run("bt"),
        BacktestInput {
            events: vec![
                upsert(&a, t(0), None),
                decision(&a, t(10), true, &["PROMOTED"]),
                snapshot(&a, t(60), "2", "1000000"),
                // The same price three times: the position is marked, nothing changed, nothing emitted.
                snapshot(&a, t(120), "2", "1000000"),
                snapshot(&a, t(180), "2", "1000000"),
                snapshot(&a, t(240), "2.1", "1000000"),
                snapshot(&a, t(300), "2.1", "1000000"),
            ],
            ..BacktestInput::default()
        },
    )
    .unwrap();
    let marks: Vec<_> = metas(&out, EventType::PositionUpdated).iter().map(|p| (p["status"].clone(), p["mark_price"].clone(), p["at"].clone())).collect();
    assert_eq!(
        marks,
        [(json!("open"), json!("2"), json!("2026-12-01T10:01:00Z")), (json!("open"), json!("2.1"), json!("2026-12-01T10:04:00Z"))],
        "the fill's position, then only the changed mark"
    );
}
