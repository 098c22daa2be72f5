//! Tag propagation: over random signal streams, every order, fill, position snapshot, risk allocation,
//! block and event payload carries the tags of its signal (profit: `learning_book = false`, no
//! experiment; learning: `true` and a running experiment's id), and the fill/position of an order carries
//! the order's tags. 0 violations.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::collections::HashMap;

use nl_domain::{Body, BookTags, Envelope, EventType};
use nl_paper::backtest::{self, BacktestInput};
use proptest::prelude::*;
use serde_json::json;
use support::*;

#[derive(Debug, Clone)]
enum Step {
    Decide { asset: u32, promoted: bool, honeypot_reason: bool },
    Snap { asset: u32, price_milli: u32 },
    Risk { asset: u32, honeypot: bool },
    Wait { secs: u16 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u32..6, any::<bool>(), prop::bool::weighted(0.1)).prop_map(|(asset, promoted, honeypot_reason)| Step::Decide { asset, promoted, honeypot_reason }),
        (0u32..6, 200u32..3000).prop_map(|(asset, price_milli)| Step::Snap { asset, price_milli }),
        (0u32..6, prop::bool::weighted(0.1)).prop_map(|(asset, honeypot)| Step::Risk { asset, honeypot }),
        (1u16..4000).prop_map(|secs| Step::Wait { secs }),
    ]
}

fn stream(steps: &[Step]) -> Vec<Envelope> {
    let mut now = 0i64;
    let mut out = Vec::new();
    for s in steps {
        match s {
            Step::Decide { asset: a, promoted, honeypot_reason } => {
                let reasons: &[&str] = if *honeypot_reason { &["HARD_FAIL:honeypot"] } else { &[] };
                out.push(decision(&asset(*a), t(now), *promoted, reasons));
            }
            Step::Snap { asset: a, price_milli } => out.push(snapshot(&asset(*a), t(now), &format!("{}", f64::from(*price_milli) / 1000.0), "400000")),
            Step::Risk { asset: a, honeypot } => out.push(risk(&asset(*a), t(now), *honeypot, "0.02", "0.03")),
            Step::Wait { secs } => now += i64::from(*secs),
        }
        now += 1;
    }
    out
}

/// Every violation of the tag contract in `out`.
fn violations(out: &[Envelope], experiments: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut order_tags: HashMap<String, BookTags> = HashMap::new();
    let ok = |t: &BookTags| t.check().is_ok() && t.experiment_id.as_deref().is_none_or(|e| experiments.contains(&e));
    for e in out {
        let tags = nl_domain::paper::tags_of(e.kind, &e.meta);
        if matches!(e.kind, EventType::OrderSubmitted | EventType::OrderFilled | EventType::PositionUpdated | EventType::TradeBlocked | EventType::LearningGateUpdated) {
            match &tags {
                Some(t) if ok(t) => {}
                other => bad.push(format!("{} {}: tags {other:?}", e.kind, e.event_id)),
            }
        }
        match e.body().unwrap() {
            Body::OrderSubmitted(o) => {
                if o.intent == "entry" {
                    order_tags.insert(o.position_id.clone(), o.tags.clone());
                    if o.tags.learning_book != o.risk_allocation.is_some() {
                        bad.push(format!("order {}: risk allocation only and always on learning entries", o.order_id));
                    }
                } else if order_tags.get(&o.position_id) != Some(&o.tags) {
                    bad.push(format!("exit {} does not carry its position's tags", o.order_id));
                }
                order_tags.insert(o.order_id.clone(), o.tags.clone());
            }
            Body::OrderFilled(f) if order_tags.get(&f.order_id) != Some(&f.tags) => bad.push(format!("fill {} tags differ from its order", f.fill_id)),
            Body::PositionUpdated(p) if order_tags.get(&p.position_id) != Some(&p.tags) => {
                bad.push(format!("position {} tags differ from its entry", p.position_id));
            }
            Body::TradeBlocked(b) => {
                if let Some(id) = &b.order_id
                    && order_tags.get(id) != Some(&b.tags)
                {
                    bad.push(format!("block of order {id} tags differ from the order"));
                }
            }
            _ => {}
        }
    }
    bad
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn tags_survive_from_signal_to_every_record(steps in prop::collection::vec(step(), 1..120), learning in any::<bool>()) {
        let exps = vec![experiment("exp_a", json!([])), experiment("exp_b", json!([{"kind": "utc_window", "start": "10:20", "end": "10:40"}]))];
        let out = backtest::run(&config(learning), &run("bt"), BacktestInput { events: stream(&steps), experiments: exps, ..BacktestInput::default() }).unwrap();
        let v = violations(&out, &["exp_a", "exp_b"]);
        prop_assert!(v.is_empty(), "{v:#?}");
        if !learning {
            prop_assert!(out.iter().filter_map(|e| nl_domain::paper::tags_of(e.kind, &e.meta)).all(|t| !t.learning_book));
        }
    }
}
