//! End-to-end: the real `nl` binary against loopback venues served by `nl_simulator` (OKX, Binance and
//! Gate instrument lists, the OKX announcement feed, GeckoTerminal `new_pools`, DexScreener profiles and
//! pairs, GoPlus/honeypot.is/rugcheck), every other source disabled through env overrides.
//!
//! * `nl run-cycle` twice: manifest identity, row counts equal to the DB, events byte ranges that are
//!   contiguous and disjoint and whose line counts match; the CEX baseline rule (first poll reports
//!   nothing new), then exactly the simulator's new listings;
//! * `nl run-cycle --dry-run` leaves new_listings.sqlite and events.jsonl byte-identical and reports would-be changes;
//! * `nl demo` finishes offline in under a minute with discoveries, promotions and rejections;
//! * `nl preflight` passes on the repo config and fails (exit 1) with L6 armed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::nl_output as nl;
use support::{KEEP, discovered, field, stderr, stdout};

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use nl_simulator::{Simulator, TokenKind, world::token_address};
use serde_json::Value;
use sha2::Digest;

fn manifest(out: &Path, run_id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("runs").join(run_id).join("manifest.json")).unwrap()).unwrap()
}

/// Checks a manifest against the DB and events.jsonl; returns its events range `(start, end)`.
async fn check_manifest(out: &Path, m: &Value, run_id: &str, config_hash: &str) -> (u64, u64) {
    assert_eq!(m["run_id"], run_id);
    assert_eq!(m["config_hash"], config_hash);
    assert_eq!(m["dry_run"], false);
    assert!(m["errors"].as_array().unwrap().is_empty(), "{}", m["errors"]);
    for (table, n) in m["row_counts"].as_object().unwrap() {
        assert_eq!(support::count(&out.join("new_listings.sqlite"), table).await, n.as_i64().unwrap(), "row count of {table}");
    }
    let ev = &m["events"];
    let (start, end, count) = (ev["start"].as_u64().unwrap(), ev["end"].as_u64().unwrap(), ev["count"].as_u64().unwrap());
    let bytes = std::fs::read(out.join("events.jsonl")).unwrap();
    assert_eq!(end, bytes.len() as u64, "the run's range ends at the end of the file");
    let slice = &bytes[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()];
    let lines: Vec<Value> = slice.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, count);
    assert_eq!(slice.iter().filter(|b| **b == b'\n').count() as u64, count, "every event line is complete");
    assert!(count > 0);
    for l in &lines {
        assert_eq!((l["run_id"].as_str(), l["config_hash"].as_str()), (Some(run_id), Some(config_hash)), "{l}");
    }
    (start, end)
}

fn sha256_file(p: &Path) -> String {
    std::fs::read(p).map(|b| hex::encode(sha2::Sha256::digest(b))).unwrap_or_else(|_| "missing".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cycle_twice_then_dry_run_against_simulated_venues() {
    let sim = Simulator::start().await.unwrap();
    let env = support::sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();

    // Cycle 1: the CEX lists are baselined and the tick-0 pools, created 45 minutes before (outside the
    // first poll's 10-minute lookback), are recorded as known: nothing is new.
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let s1 = stdout(&o);
    let (run1, hash) = (field(&s1, "run ").to_string(), field(&s1, "config_hash ").to_string());
    assert!(run1.starts_with("nl_") && hash.len() == 64, "{s1}");
    let m1 = manifest(out, &run1);
    let (start1, end1) = check_manifest(out, &m1, &run1, &hash).await;
    assert_eq!(start1, 0);
    assert_eq!(discovered(&out.join("new_listings.sqlite"), &run1).await, BTreeSet::new(), "first cycle: every list and feed baselined");
    for src in KEEP {
        assert!(!m1["source_versions"][src].is_null(), "cursor of {src}: {}", m1["source_versions"]);
    }

    // Cycle 2: every venue lists one more instrument and two more pools appear.
    assert_eq!(sim.advance(), 1);
    let o = nl(out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let s2 = stdout(&o);
    let run2 = field(&s2, "run ").to_string();
    assert_ne!(run1, run2);
    assert_eq!(field(&s2, "config_hash "), hash, "same config, same hash");
    let m2 = manifest(out, &run2);
    let (start2, _) = check_manifest(out, &m2, &run2, &hash).await;
    assert_eq!(start2, end1, "the second run's range starts where the first ended");
    // One new instrument per list, the announced one, and the two new pools.
    let mut expected: BTreeSet<String> = ["cex:okx:SOKXB", "cex:binance:SBNBB", "cex:gate:SGATB", "cex:okx:SANNB"].into_iter().map(String::from).collect();
    expected.extend([TokenKind::Clean, TokenKind::Honeypot].into_iter().map(|k| format!("eth:{}", token_address(1, k))));
    let got = discovered(&out.join("new_listings.sqlite"), &run2).await;
    assert_eq!(got, expected, "second cycle reports exactly the new listings");
    assert!(s2.contains(&format!("new assets discovered: {}", got.len())), "{s2}");
    // Issue 15: every discovered asset reached a decision, Binance's and the Gate listing linked to a
    // contract with no pool included (rejected with NO_MARKET_DATA).
    assert_eq!(field(&s2, "undecided assets: "), "0", "{s2}");
    assert_eq!(m2["summary"]["undecided"], 0, "{}", m2["summary"]);
    let binance = support::latest_reasons(&out.join("new_listings.sqlite"), "cex:binance:SBNBB").await;
    assert!(binance.first().is_some_and(|r| r == "NO_MARKET_DATA"), "{binance:?}");

    // Dry run at tick 2: nothing written to the DB or events.jsonl; would-be changes reported.
    sim.advance();
    let (db, events) = (out.join("new_listings.sqlite"), out.join("events.jsonl"));
    let before = (sha256_file(&db), sha256_file(&events), sha256_file(&out.join("new_listings.sqlite-wal")));
    let o = nl(out, &env, &["run-cycle", "--dry-run"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let after = (sha256_file(&db), sha256_file(&events), sha256_file(&out.join("new_listings.sqlite-wal")));
    assert_eq!(before, after, "dry run leaves new_listings.sqlite and events.jsonl byte-identical");
    let s3 = stdout(&o);
    let would: usize = field(&s3, "new assets would be discovered: ").parse().unwrap();
    assert!(would >= 5, "{s3}");
    assert!(s3.contains(&format!("eth:{}", token_address(2, TokenKind::Clean))), "{s3}");
    let run3 = field(&s3, "run ").to_string();
    assert_eq!(manifest(out, &run3)["dry_run"], true);
}

#[test]
fn demo_discovers_promotes_and_rejects_offline_in_under_a_minute() {
    let tmp = tempfile::tempdir().unwrap();
    let demo_out = tmp.path().join("demo");
    let mut c = support::nl(tmp.path(), &[]);
    c.args(["demo", "--cycles", "3", "--out-dir"]).arg(&demo_out);
    let t0 = Instant::now();
    let o = support::run(c);
    let took = t0.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(took < Duration::from_secs(60), "demo took {took:?}");
    let s = stdout(&o);
    let summary = s.lines().find(|l| l.starts_with("summary:")).unwrap_or_else(|| panic!("{s}"));
    let n = |word: &str| -> u64 { summary.split(word).nth(1).and_then(|r| r.split_whitespace().next()).and_then(|x| x.parse().ok()).unwrap_or(0) };
    assert!(n("discoveries") >= 1 && n("promotions") >= 1 && n("rejections") >= 1, "{s}");
    assert_eq!(s.lines().filter(|l| l.starts_with("cycle ")).count(), 3, "{s}");
    assert!(demo_out.join("new_listings.sqlite").exists() && demo_out.join("events.jsonl").exists());
    // Issue 15: each promotion and rejection says why, in words and codes; no asset is left undecided.
    let promoted: Vec<&str> = s.lines().filter(|l| l.trim_start().starts_with("promoted ")).collect();
    assert!(promoted.iter().any(|l| l.contains("(promoted: PROMOTED, score ") && l.contains("liquidity $")), "{s}");
    let rejected: Vec<&str> = s.lines().filter(|l| l.trim_start().starts_with("rejected ")).collect();
    assert!(rejected.iter().any(|l| l.contains("(rejected: HARD_FAIL:honeypot") && l.contains("honeypot failed (-35.0)")), "{s}");
    assert!(rejected.iter().any(|l| l.contains("(rejected: NO_MARKET_DATA")), "{s}");
    assert!(rejected.iter().all(|l| l.contains("(rejected: ") && l.contains(", score ")), "{s}");
    assert_eq!(field(&s, "undecided assets: "), "0", "{s}");
    let mut c = support::nl(&demo_out, &[]);
    c.arg("status");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("undecided assets: 0 "), "{}", stdout(&o));

    // Issue 15: one decision per asset per cycle, from one merged view; a source disagreement is recorded.
    let db = demo_out.join("new_listings.sqlite");
    let query = |sql: &'static str| -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let reader = nl_ledger::SqliteReader::open(&db, 1).await.unwrap();
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(reader.pool()).await.unwrap();
            reader.pool().close().await;
            rows
        })
    };
    let twice = query("SELECT asset_id || ' ' || run_id FROM gate_decisions GROUP BY asset_id, run_id HAVING COUNT(*) > 1");
    assert!(twice.is_empty(), "an asset decided more than once in a cycle: {twice:?}");
    let snapshots_twice = query("SELECT asset_id || ' ' || run_id FROM market_snapshots GROUP BY asset_id, run_id HAVING COUNT(*) > 1");
    assert!(snapshots_twice.is_empty(), "one merged snapshot per asset and cycle: {snapshots_twice:?}");
    let merged = query("SELECT source FROM market_snapshots WHERE source LIKE '%+%'");
    assert!(!merged.is_empty(), "some asset was seen by two market sources and merged");
    let disagreements = query("SELECT disagreements_json FROM risk_flags WHERE disagreements_json LIKE '%source_disagreement%'");
    assert!(!disagreements.is_empty(), "the honeypot's GeckoTerminal and DexScreener prices disagree");
}

#[test]
fn preflight_passes_on_repo_config_and_fails_when_l6_is_armed() {
    let tmp = tempfile::tempdir().unwrap();
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let mut c = support::nl(tmp.path(), &[]);
    c.arg("preflight").arg("--readme").arg(&readme);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().filter(|l| l.starts_with("PASS ") || l.starts_with("WARN ")).count(), 8, "{}", stdout(&o));
    assert!(stdout(&o).lines().any(|l| l.starts_with("PASS sources build")), "{}", stdout(&o));
    // The test's NL_STORAGE__OUT_DIR changes the effective config: preflight names it.
    assert!(stdout(&o).lines().any(|l| l.starts_with("WARN config recorded") && l.contains("NL_STORAGE__OUT_DIR")), "{}", stdout(&o));
    assert!(!tmp.path().join("new_listings.sqlite").exists() && !tmp.path().join("events.jsonl").exists(), "preflight creates no output files");

    let mut c = support::nl(tmp.path(), &[("NL_GATE__EXECUTION__ENABLED", "true".into()), ("NL_GATE__EXECUTION__ARMED", "true".into())]);
    c.arg("preflight").arg("--readme").arg(&readme);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).lines().any(|l| l.starts_with("FAIL L6 blocked")), "{}", stdout(&o));
}
