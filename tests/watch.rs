//! `nl watch` tails the ledger: started after the ledger's current sequence, it prints the new listing
//! and the decision the ledger commits next (with the decision's reasons), as JSON lines or a table whose
//! token text has its control characters replaced, and exits after `--count` events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use nl_domain::{AssetId, Decision, Envelope, EventType, GateDecision, LedgerReader};
use serde_json::Value;

const RUN: &str = "nl_20261207_000000Z_watch000";

/// A new CEX listing and its promotion (the ledger derives `asset.discovered` from the first).
fn listing_and_decision(asset: &str, symbol: &str) -> Vec<Envelope> {
    let ts = chrono::Utc::now();
    let up = nl_testkit::listing_upsert(asset, symbol, ts);
    let d = GateDecision {
        asset_id: AssetId::parse(asset).unwrap(),
        decision: Decision::Promoted,
        reason_codes: vec!["PASS:honeypot".into()],
        rule_set_version: "risk-rules-v1".into(),
        config_hash: "watch".into(),
        inputs: vec![],
        decided_at: ts,
    };
    let promoted = Envelope::new(EventType::CandidatePromoted, &[asset, &ts.to_rfc3339()], ts, RUN, "watch", serde_json::to_value(d).unwrap())
        .with_asset(asset)
        .with_symbol(symbol)
        .with_source("gate");
    vec![nl_testkit::upsert_envelope(&up, RUN), promoted]
}

/// Waits for `child` to exit (it does after `--count` events), then returns its stdout lines.
fn lines_of(mut child: support::Spawned) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "nl watch did not exit after --count events");
        std::thread::sleep(Duration::from_millis(20));
    }
    BufReader::new(stdout).lines().map(Result::unwrap).collect()
}

#[test]
fn watch_prints_new_listings_and_decisions_as_they_are_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let db = out.join("new_listings.sqlite");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = rt.block_on(nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(db.clone()))).unwrap();
    rt.block_on(store.apply(listing_and_decision("cex:okx:OLD1", "OLD1"))).unwrap();
    let mark = rt.block_on(store.reader().change_mark()).unwrap();
    assert!(mark > 0);

    // Started after the current end: the old listing is not printed, the next two events are.
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["watch", "--format", "json", "--count", "2", "--poll-ms", "50", "--after-seq", &mark.to_string(), "--out-dir"]).arg(&out);
    let child = support::spawn_piped(c);
    rt.block_on(store.apply(listing_and_decision("cex:okx:NEW1", "NEW1"))).unwrap();
    let lines = lines_of(child);
    let events: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 2, "{lines:?}");
    assert!(events.iter().all(|e| e["asset_id"] == "cex:okx:NEW1" && e["seq"].as_i64().unwrap() > mark), "{lines:?}");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"asset.discovered") && types.contains(&"candidate.promoted"), "{types:?}");
    let promoted = events.iter().find(|e| e["type"] == "candidate.promoted").unwrap();
    assert_eq!(promoted["reason_codes"], serde_json::json!(["PASS:honeypot"]));

    // The table from the first event: a symbol with an escape sequence prints without it.
    rt.block_on(store.apply(listing_and_decision("cex:okx:ESC1", "ESC\u{1b}[31m1"))).unwrap();
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["watch", "--count", "6", "--poll-ms", "50", "--after-seq", "0", "--type", "asset.discovered", "--type", "candidate.promoted", "--out-dir"]).arg(&out);
    let lines = lines_of(support::spawn_piped(c));
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("promoted") && l.contains("NEW1") && l.contains("PASS:honeypot")), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains('\u{1b}')), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("ESC\u{fffd}[31m1")), "{lines:?}");
}
