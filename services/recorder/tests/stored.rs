//! events.jsonl keeps each fact once: a `score.computed` line cites the snapshot and evaluation lines it
//! copies, an asset change cites its cause's sighting, and `read_published` gives back the published metas.
#![allow(clippy::unwrap_used)]

use chrono::TimeZone;
use nl_domain::{Envelope, EventType};
use nl_recorder::{EventLog, FsyncPolicy, ReplayError, ReplayFilter, read_events, read_published};
use serde_json::{Value, json};

fn env(kind: EventType, tag: &str, meta: Value) -> Envelope {
    let ts = chrono::Utc.timestamp_millis_opt(1_800_000_000_000).unwrap();
    Envelope::new(kind, &[tag], ts, "nl_20270115_080000Z_00000000", "cfg", meta).with_asset("eth:0xab")
}

fn snapshot() -> Envelope {
    env(EventType::SnapshotRecorded, "snap", json!({"asset_id": "eth:0xab", "price_usd": "0.5", "holders": 12, "source_count": 2}))
}

fn risk() -> Envelope {
    env(EventType::RiskEvaluated, "risk", json!({"asset_id": "eth:0xab", "checks": [{"code": "honeypot", "verdict": "pass"}], "severity": 0}))
}

fn score(snap: &Envelope, risk: &Envelope, evaluation: Value) -> Envelope {
    let mut snapshot = snap.meta.clone();
    snapshot.as_object_mut().unwrap().remove("source_count");
    let meta = json!({
        "asset_id": "eth:0xab", "score": "61.5", "inputs": [snap.event_id, risk.event_id],
        "evaluation": evaluation, "snapshot": snapshot, "source_count": 2, "provider_raw_ids": []
    });
    env(EventType::ScoreComputed, &format!("score{evaluation}"), meta)
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_score_line_cites_its_inputs_and_replays_as_published() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let (snap, risk) = (snapshot(), risk());
    let sc = score(&snap, &risk, risk.meta.clone());
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    // Inputs and the score in one batch: the score may cite what the same batch writes before it.
    log.append_batch(&[snap.clone(), risk.clone(), sc.clone()]).unwrap();
    let stored = &lines(&path)[2];
    assert_eq!(stored["meta"]["$cited"], json!(["snapshot", "evaluation"]));
    assert!(stored["meta"].get("evaluation").is_none() && stored["meta"].get("snapshot").is_none());
    assert_eq!(stored["event_id"], json!(sc.event_id), "the envelope is kept as it was");

    let published: Vec<Envelope> = read_published(&path, ReplayFilter::default()).unwrap().map(Result::unwrap).collect();
    assert_eq!(published, vec![snap.clone(), risk.clone(), sc.clone()]);
    // Filtered to the score alone, the cited lines are still found.
    let only = ReplayFilter { types: vec![EventType::ScoreComputed], ..ReplayFilter::default() };
    assert_eq!(read_published(&path, only).unwrap().map(Result::unwrap).collect::<Vec<_>>(), vec![sc]);

    // Reopened, the log still knows what it can cite.
    drop(log);
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    let later = score(&snap, &risk, risk.meta.clone());
    let later = Envelope { event_id: nl_domain::EventId::derive(EventType::ScoreComputed, &["later"]), ..later };
    log.append_batch(std::slice::from_ref(&later)).unwrap();
    assert_eq!(lines(&path)[3]["meta"]["$cited"], json!(["snapshot", "evaluation"]));
    assert_eq!(read_published(&path, ReplayFilter::default()).unwrap().last().unwrap().unwrap(), later);
}

#[test]
fn copies_that_differ_or_are_not_in_the_file_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let (snap, risk) = (snapshot(), risk());
    let other = score(&snap, &risk, json!({"asset_id": "eth:0xab", "checks": [], "severity": 0}));
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    log.append_batch(std::slice::from_ref(&other)).unwrap();
    assert!(lines(&path)[0]["meta"].get("$cited").is_none(), "nothing cited: neither input is in the file");
    log.append_batch(&[snap.clone(), risk.clone(), score(&snap, &risk, json!({"differs": true}))]).unwrap();
    let stored = &lines(&path)[3];
    assert_eq!(stored["meta"]["$cited"], json!(["snapshot"]), "the evaluation differs from the risk line: kept");
    assert_eq!(stored["meta"]["evaluation"], json!({"differs": true}));
    let all: Vec<Envelope> = read_published(&path, ReplayFilter::default()).unwrap().map(Result::unwrap).collect();
    assert_eq!(all[0], other);
    assert_eq!(all[3].meta["snapshot"], score(&snap, &risk, json!(null)).meta["snapshot"]);
}

#[test]
fn an_asset_change_cites_its_cause_and_the_parsed_sources() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let sighting = json!({"source": "geckoterminal", "instrument_id": "0xpool", "pair": {"dex": "uniswap_v2"}});
    let up = env(EventType::AssetUpserted, "up", json!({"asset_id": "eth:0xab", "symbol": "AB", "sighting": sighting}));
    let sources = serde_json::to_string(&json!([sighting])).unwrap();
    let discovered = env(
        EventType::AssetDiscovered,
        "disc",
        json!({"asset": {"asset_id": "eth:0xab", "sources_json": sources}, "sightings": [sighting], "sighting": sighting, "cause_event_id": up.event_id}),
    );
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    log.append_batch(&[up.clone(), discovered.clone()]).unwrap();
    let stored = &lines(&path)[1];
    assert_eq!(stored["meta"]["$cited"], json!(["sighting", "sightings"]));
    let all: Vec<Envelope> = read_published(&path, ReplayFilter::default()).unwrap().map(Result::unwrap).collect();
    assert_eq!(all, vec![up, discovered]);
}

#[test]
fn a_cited_line_cut_from_the_file_is_a_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let (snap, risk) = (snapshot(), risk());
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    log.append_batch(&[snap.clone(), risk.clone(), score(&snap, &risk, risk.meta.clone())]).unwrap();
    drop(log);
    // Someone keeps only the score line: it is still an envelope, but its citations cannot be restored.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{}\n", text.lines().last().unwrap())).unwrap();
    assert!(read_events(&path, ReplayFilter::default()).unwrap().all(|r| r.is_ok()));
    let got: Vec<_> = read_published(&path, ReplayFilter::default()).unwrap().collect();
    assert!(matches!(&got[..], [Err(e @ ReplayError::Restore { .. })] if e.is_line_error()), "{got:?}");
}

/// A risk evaluation as the risk-scorer publishes it: each check with its provider report's times.
fn timed_risk() -> Envelope {
    let check = |code: &str, at: &str, value: Value, detail: Value| {
        json!({"code": code, "verdict": "pass", "provider": "goplus", "observed_at": at, "expires_at": "2027-01-15T08:15:00.000Z",
               "severity": 0, "value": value, "detail": detail})
    };
    let checks = vec![
        check("low_liquidity", "2027-01-15T08:00:00.000Z", json!("250000"), Value::Null),
        check("honeypot", "2027-01-15T08:00:00.100Z", json!(false), json!("goplus=false")),
        check("mintable", "2027-01-15T08:00:00.100Z", Value::Null, json!("goplus: fact not reported")),
    ];
    env(EventType::RiskEvaluated, "timed", json!({"asset_id": "eth:0xab", "rule_set_version": "risk-rules-v1", "checks": checks, "severity": 0, "disagreements": []}))
}

#[test]
fn an_evaluation_line_keeps_its_check_times_once_and_is_still_cited_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let (snap, risk) = (snapshot(), timed_risk());
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    log.append_batch(&[snap.clone(), risk.clone(), score(&snap, &risk, risk.meta.clone())]).unwrap();
    let stored = &lines(&path)[1];
    assert_eq!(stored["meta"]["$cited"], json!(["checks.times"]));
    assert_eq!(stored["meta"]["$times"].as_array().unwrap().len(), 2, "{stored}");
    assert!(stored["meta"]["checks"][0].get("observed_at").is_none() && stored["meta"]["checks"][0].get("detail").is_none());
    assert_eq!(lines(&path)[2]["meta"]["$cited"], json!(["snapshot", "evaluation"]));

    // Reopened, the log compares a later score's copy with the published evaluation, not with its line.
    drop(log);
    let mut log = EventLog::open(&path, FsyncPolicy::Never).unwrap();
    let later = Envelope { event_id: nl_domain::EventId::derive(EventType::ScoreComputed, &["later"]), ..score(&snap, &risk, risk.meta.clone()) };
    log.append_batch(std::slice::from_ref(&later)).unwrap();
    assert_eq!(lines(&path)[3]["meta"]["$cited"], json!(["snapshot", "evaluation"]));
    let all: Vec<Envelope> = read_published(&path, ReplayFilter::default()).unwrap().map(Result::unwrap).collect();
    assert_eq!(all[1], risk, "the evaluation replays as published");
    assert_eq!(all[3], later, "and so does the score citing it");
}
