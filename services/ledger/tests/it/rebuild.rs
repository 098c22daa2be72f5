//! Each fact once: an events row keeps the envelope's columns and only the part of its meta no other row
//! holds, and the read side rebuilds the published envelope from it, equal field for field.

use chrono::TimeZone;
use nl_domain::{Envelope, EventId, EventType, RawEvent, RiskEvaluation, RunIdentity, ScoreComputed, ScoreRecord, Snapshot};
use serde_json::{Value, json};

use crate::fixtures::*;

/// `(meta, body)` of an events row.
async fn kept(t: &TestStore, id: &EventId) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT meta, body FROM events WHERE event_id = ?").bind(id.as_str()).fetch_one(t.store.reader().pool()).await.unwrap()
}

/// A score as the risk-scorer publishes it: citing (and carrying) its snapshot and evaluation.
fn full_score(snap: &Envelope, risk: &Envelope) -> Envelope {
    let snapshot: Snapshot = serde_json::from_value(snap.meta.clone()).unwrap();
    let evaluation: RiskEvaluation = serde_json::from_value(risk.meta.clone()).unwrap();
    let record = ScoreRecord {
        asset_id: snapshot.asset_id.clone(),
        score: dec("61.25"),
        components: vec![],
        reason: "liquidity 5 (+0.0)".into(),
        formula_version: "score-v1".into(),
        computed_at: snapshot.observed_at,
    };
    let sc = ScoreComputed {
        record,
        inputs: vec![snap.event_id.0.clone(), risk.event_id.0.clone()],
        evaluation,
        snapshot: Some(snapshot),
        source_count: 2,
        provider_raw_ids: vec!["r1".into()],
    };
    let asset = snap.asset_id.clone().unwrap();
    env(EventType::ScoreComputed, &[&asset, risk.event_id.as_str()], snap.ts, &asset, sc.to_meta().unwrap()).with_symbol("NEW").with_chain("eth")
}

#[tokio::test]
async fn every_kind_of_row_rebuilds_the_published_envelope() {
    let t = open().await;
    let a = "eth:0x00000000000000000000000000000000000000aa";
    // A capture timed finer than the millisecond its row keeps.
    let observed = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap() + chrono::Duration::nanoseconds(123_456_789);
    let raw = RawEvent::new("goplus", "https://gp.example/x", Some(200), observed, "{\"code\":1}".into(), RUN)
        .to_envelope(&RunIdentity { run_id: RUN.into(), config_hash: CFG.into() });
    let snap = snapshot(a, at(1), Some("5"), "s").with_symbol("NEW").with_chain("eth");
    let risk = risk(a, at(1), 100, "r");
    let plain_score = score("cex:okx:NEW", at(2), "12.5", "p");
    let score = full_score(&snap, &risk);
    let decision = decision(a, at(1), false);
    let up = upsert("cex:okx:NEW", "okx_instruments", "NEW-USDT", Some("live"), at(1));
    let ai = env(EventType::AiL1Completed, &["ai"], at(3), a, json!({"model": "m", "artifact_path": "a/b.json", "tags": ["x"]}));
    let run = Envelope::new(EventType::RunStarted, &["run"], at(0), RUN, CFG, Value::Null).with_source("orchestrator");
    let note = env(EventType::Manual, &["note"], at(4), a, json!({"note": "checked"}));
    let all = vec![raw, snap, risk, score.clone(), plain_score, decision, up, ai, run, note];
    let out = t.store.apply(all.clone()).await.unwrap();
    assert_eq!(out.new.len(), all.len());
    // What the batch derived (the upsert's asset.discovered, the evaluation's risk.flagged), consumed back
    // as the service does.
    let derived = out.derived.clone();
    assert_eq!(derived.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventType::RiskFlagged, EventType::AssetDiscovered]);
    t.store.apply(derived.clone()).await.unwrap();

    let all: Vec<Envelope> = all.into_iter().chain(derived.clone()).collect();
    let ids: Vec<EventId> = all.iter().map(|e| e.event_id.clone()).collect();
    let rebuilt = t.store.reader().envelopes(&ids).await.unwrap();
    assert_eq!(rebuilt.len(), all.len());
    for (r, e) in rebuilt.iter().zip(&all) {
        // As published: the wire form (whose `ts` has milliseconds).
        assert_eq!(*r, Envelope::from_json(&e.to_json().unwrap()).unwrap(), "{} rebuilt", e.kind);
    }

    // What the rows keep: no payload, no typed facts, no copies.
    assert_eq!(kept(&t, &all[0].event_id).await, (Some(json!({"observed_at": "2026-01-01T00:00:01.123456789Z"}).to_string()), None));
    for e in &all[1..3] {
        assert_eq!(kept(&t, &e.event_id).await, (None, None), "{}: the typed row holds it all", e.kind);
    }
    assert_eq!(kept(&t, &score.event_id).await, (Some(json!({"$cited": ["snapshot", "evaluation"]}).to_string()), None));
    let (meta, body) = kept(&t, &derived[1].event_id).await;
    assert!(body.is_none());
    let meta: Value = serde_json::from_str(&meta.unwrap()).unwrap();
    // The one-sighting sources list is rebuilt from the cited sighting, so the asset keeps none.
    assert_eq!(meta["$cited"], json!(["sighting", "asset.sources_json", "sightings"]), "{meta}");
    assert!(meta["asset"].get("sources_json").is_none(), "{meta}");
    let (meta, body) = kept(&t, &all[9].event_id).await;
    assert_eq!((meta, body.map(|b| Envelope::from_json(b.as_bytes()).unwrap())), (None, Some(all[9].clone())), "free-form: whole");
}

#[tokio::test]
async fn a_copy_that_differs_from_the_stored_event_is_kept() {
    let t = open().await;
    let a = "eth:0x00000000000000000000000000000000000000bb";
    let (snap, risk) = (snapshot(a, at(1), Some("5"), "s"), risk(a, at(1), 0, "r"));
    t.store.apply(vec![snap.clone(), risk.clone()]).await.unwrap();
    let mut score = full_score(&snap, &risk);
    score.meta["evaluation"]["severity"] = json!(7);
    // The cited snapshot is stored in an earlier batch, and found there.
    t.store.apply(vec![score.clone()]).await.unwrap();
    let (meta, _) = kept(&t, &score.event_id).await;
    let meta: Value = serde_json::from_str(&meta.unwrap()).unwrap();
    assert_eq!(meta["$cited"], json!(["snapshot"]));
    assert_eq!(meta["evaluation"], score.meta["evaluation"]);
    assert_eq!(t.store.reader().envelopes(&[score.event_id.clone()]).await.unwrap(), vec![score]);
}

#[tokio::test]
async fn a_raw_copied_before_its_capture_is_applied_rebuilds_from_the_stored_row() {
    let t = open().await;
    let run = RunIdentity { run_id: RUN.into(), config_hash: CFG.into() };
    let raw = RawEvent::new("goplus", "https://gp.example/x", Some(200), at(1), "{}".into(), "nl_original");
    t.store.apply(vec![raw.to_envelope(&run)]).await.unwrap();
    // The same capture again under another run id, as a re-derivation republishes it: its raw_events row
    // is the one already there; the events row keeps the difference.
    let db = t.db();
    let other = tempfile::tempdir().unwrap();
    let copy = other.path().join("nl.db");
    nl_ledger::copy_raws(&db, &copy, &["nl_original"]).await.unwrap();
    let cfg = nl_ledger::LedgerConfig::with_db_path(&copy);
    let store = nl_ledger::LedgerStore::open(&cfg).await.unwrap();
    let mut again = raw.clone();
    again.run_id = RUN.into();
    let env = again.to_envelope(&run);
    assert_eq!(store.apply(vec![env.clone()]).await.unwrap().new.len(), 1);
    let (meta,): (Option<String>,) =
        sqlx::query_as("SELECT meta FROM events WHERE event_id = ?").bind(env.event_id.as_str()).fetch_one(store.reader().pool()).await.unwrap();
    assert_eq!(meta, Some(json!({"run_id": RUN}).to_string()));
    assert_eq!(store.reader().envelopes(std::slice::from_ref(&env.event_id)).await.unwrap(), vec![env]);
}

#[tokio::test]
async fn keys_the_columns_cannot_hold_stay_in_the_residual() {
    let t = open().await;
    let mut odd = score("cex:okx:NEW", at(2), "12.5", "odd");
    odd.meta["source_count"] = json!("two");
    odd.meta["extra"] = json!({"k": [1, 2]});
    let out = t.store.apply(vec![odd.clone()]).await.unwrap();
    assert!(out.invalid.is_empty(), "a valid ScoreRecord with odd extras is stored: {:?}", out.invalid);
    let (meta, body) = kept(&t, &odd.event_id).await;
    assert_eq!((meta, body), (Some(json!({"extra": {"k": [1, 2]}, "source_count": "two"}).to_string()), None));
    assert_eq!(t.store.reader().envelopes(std::slice::from_ref(&odd.event_id)).await.unwrap(), vec![odd]);
}
