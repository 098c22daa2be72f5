//! A paper session (the service over MemoryBus) and a backtest of the same events emit the same payloads,
//! field by field, learning tags included: one engine, only the data source differs.
#![allow(clippy::unwrap_used)]

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use nl_bus::{Bus, ConsumerSpec, MemoryBus, MemoryBusConfig, Message, ServiceCtx};
use nl_domain::{Envelope, EventType};
use nl_paper::Engine;
use serde_json::json;
use support::*;

fn inputs() -> Vec<Envelope> {
    let mut ev = Vec::new();
    for n in 0..6u32 {
        let a = asset(500 + n);
        let base = i64::from(n) * 400;
        ev.push(upsert(&a, t(base), None));
        ev.push(snapshot(&a, t(base), "1", "500000"));
        ev.push(decision(&a, t(base + 1), n % 2 == 0, &[]));
        for k in 1..6i64 {
            ev.push(snapshot(&a, t(base + k * 90), &format!("1.{}", k * 7), "500000"));
        }
    }
    ev
}

fn paper_kind(k: EventType) -> bool {
    matches!(k, EventType::OrderSubmitted | EventType::OrderFilled | EventType::PositionUpdated | EventType::TradeBlocked | EventType::LearningGateUpdated)
}

#[tokio::test]
async fn session_and_backtest_payloads_match_field_by_field() {
    let exps = || vec![experiment("shape", json!([]))];
    // What a backtest's engine emits for these events (before the session-end flush).
    let mut engine = Engine::new(config(true), run("bt")).unwrap();
    for e in exps() {
        engine.add_experiment(e);
    }
    let expected: Vec<(EventType, serde_json::Value)> = inputs().iter().flat_map(|e| engine.on_event(e)).map(|e| (e.kind, e.meta)).collect();
    assert!(expected.iter().any(|(_, m)| m["learning_book"] == true) && expected.iter().any(|(_, m)| m["learning_book"] == false));

    let mem = MemoryBus::new(MemoryBusConfig::default());
    let bus: Arc<dyn Bus> = Arc::new(mem);
    let mut watch = bus.subscribe(ConsumerSpec::new("watch", "nl.evt.>")).await.unwrap();
    let svc = nl_paper::service::build(config(true), ServiceCtx::new(Arc::clone(&bus), run("session")), exps()).await.unwrap();
    let stop = nl_bus::CancellationToken::new();
    let task = tokio::spawn(svc.run(stop.clone()));
    for e in inputs() {
        bus.publish(Message::new(e.subject(), e.event_id.0.clone(), e.to_json().unwrap())).await.unwrap();
    }
    let mut got: Vec<(EventType, serde_json::Value)> = Vec::new();
    let start = Instant::now();
    while got.len() < expected.len() {
        assert!(start.elapsed() < Duration::from_secs(30), "the session emitted {} of {} events", got.len(), expected.len());
        for d in watch.fetch(256, Duration::from_millis(100)).await.unwrap() {
            let env = Envelope::from_json(&d.message.payload).unwrap();
            if paper_kind(env.kind) && env.run_id == "session" {
                got.push((env.kind, env.meta));
            }
            d.ack().await.unwrap();
        }
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(got.len(), expected.len());
    for ((gk, gm), (ek, em)) in got.iter().zip(&expected) {
        assert_eq!(gk, ek);
        let (go, eo) = (gm.as_object().unwrap(), em.as_object().unwrap());
        assert_eq!(go.keys().collect::<Vec<_>>(), eo.keys().collect::<Vec<_>>(), "{gk}: same fields");
        for field in ["learning_book", "experiment_id"] {
            assert_eq!(go.get(field), eo.get(field), "{gk}: {field}");
        }
        assert_eq!(gm, em, "{gk}: same payload");
    }
}
