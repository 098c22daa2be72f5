//! End-to-end: the real `nl run` binary (continuous operation) against loopback venues: `nl_simulator`
//! (OKX, Binance and Gate instrument lists, the OKX announcement feed, GeckoTerminal pools, DexScreener,
//! the risk providers) and a scripted WebSocket venue pushing OKX `instruments` frames to the
//! `okx_instruments_ws` feed (its REST gap fill on the simulator). One-second checkpoints.
//!
//! * listings reach the DB while the process runs: the simulator's pools at once, its next tick's CEX
//!   listings from the poll schedules, and a pushed listing from the WebSocket;
//! * the manifest is rewritten at every checkpoint while running, and SIGTERM ends with exit 0, a
//!   `completed` manifest whose events range covers exactly the run's complete lines, every listing
//!   discovered exactly once, and events.jsonl ending in a complete line;
//! * a second `nl run` is a new run whose range starts where the first ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use nl_testkit::ws_venue::MockWsVenue;
use nl_testkit::wait_until;
use nl_simulator::{Simulator, TokenKind, world::token_address};
use serde_json::Value;
use support::{KEEP, discovered, sim_env};

const T: Duration = Duration::from_secs(60);
const PUSH: &str = "okx_instruments_ws";

/// `sim_env` plus one-second poll intervals and the OKX push feed on `ws_url`.
fn run_env(url: &str, ws_url: &str) -> Vec<(String, String)> {
    let mut env = sim_env(url, &KEEP);
    for name in KEEP.iter().chain(&[PUSH]) {
        env.push((format!("NL_SOURCES__{}__INTERVAL_SECS", name.to_ascii_uppercase()), "1".into()));
    }
    let push = PUSH.to_ascii_uppercase();
    env.extend([
        (format!("NL_SOURCES__{push}__ENABLED"), "true".into()),
        (format!("NL_SOURCES__{push}__BASE_URL"), url.into()),
        (format!("NL_SOURCES__{push}__WS_URL"), ws_url.into()),
        ("NL_DEX__GECKOTERMINAL__INTERVAL_MS".into(), "1000".into()),
        ("NL_DEX__DEXSCREENER__INTERVAL_MS".into(), "1000".into()),
    ]);
    env
}

/// A running `nl run`, killed (SIGKILL) if the test fails before it is stopped.
struct Running(Option<Child>);

impl Running {
    /// SIGTERM, off the async runtime; the exit status.
    async fn sigterm(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        tokio::task::spawn_blocking(move || support::sigterm(&mut child)).await.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            support::sigkill(c);
        }
    }
}

/// Spawns `nl run --checkpoint-secs 1` with stdout and stderr to files under `out`.
fn spawn_run(out: &Path, env: &[(String, String)], tag: &str) -> Running {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = support::nl(out, &env);
    c.args(["run", "--checkpoint-secs", "1"]);
    c.stdout(Stdio::from(std::fs::File::create(out.join(format!("{tag}.stdout"))).unwrap()));
    c.stderr(Stdio::from(std::fs::File::create(out.join(format!("{tag}.stderr"))).unwrap()));
    Running(Some(c.spawn().expect("spawn nl run")))
}

fn logs(out: &Path, tag: &str) -> String {
    let read = |ext: &str| std::fs::read_to_string(out.join(format!("{tag}.{ext}"))).unwrap_or_default();
    format!("--- stdout\n{}--- stderr\n{}", read("stdout"), read("stderr"))
}

/// Every run's manifest, by run id.
fn manifests(out: &Path) -> BTreeMap<String, Value> {
    let Ok(dirs) = std::fs::read_dir(out.join("runs")) else { return BTreeMap::new() };
    dirs.filter_map(|d| {
        let path: PathBuf = d.ok()?.path().join("manifest.json");
        let m: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        Some((m["run_id"].as_str()?.to_string(), m))
    })
    .collect()
}

async fn has_cursor(db: &Path, source: &str) -> bool {
    let Ok(reader) = nl_ledger::SqliteReader::open(db, 1).await else { return false };
    let found = reader.get_cursor(source).await.ok().flatten().is_some();
    reader.pool().close().await;
    found
}

/// Whether every asset of `want` was discovered in `run_id`.
async fn has_all(db: &Path, run_id: &str, want: &[String]) -> bool {
    if !db.exists() {
        return false;
    }
    let got = discovered(db, run_id).await;
    want.iter().all(|a| got.contains(a))
}

/// `asset_id -> number of asset.discovered events` in the ledger.
async fn discovery_counts(db: &Path) -> BTreeMap<String, i64> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT asset_id, COUNT(*) FROM events WHERE type = 'asset.discovered' GROUP BY asset_id").fetch_all(reader.pool()).await.unwrap();
    reader.pool().close().await;
    rows.into_iter().collect()
}

fn okx_push_frame(inst_id: &str) -> String {
    format!(
        r#"{{"arg":{{"channel":"instruments","instType":"SPOT"}},"data":[{{"instType":"SPOT","instId":"{inst_id}","baseCcy":"","quoteCcy":"","state":"live","listTime":"1790003600000"}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl_run_polls_pushes_checkpoints_and_drains_on_sigterm() {
    let sim = Simulator::start().await.unwrap();
    let ws = MockWsVenue::start().await.unwrap();
    let env = run_env(&sim.base_url(), &ws.url());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let db = out.join("new_listings.sqlite");
    let child = spawn_run(out, &env, "run1");

    // The manifest exists from the start; the run id is read from it.
    assert!(wait_until(T, || async { manifests(out).len() == 1 }).await, "{}", logs(out, "run1"));
    let run1 = manifests(out).into_keys().next().unwrap();
    assert_eq!(manifests(out)[&run1]["summary"]["status"], "running");

    // Tick 0: every source has its baseline (the push feed's from its gap fill; the tick-0 pools, created
    // 45 minutes earlier, are outside the first poll's lookback: known, not new) and the push feed is connected.
    let tick0: Vec<String> = [TokenKind::Clean, TokenKind::Honeypot].into_iter().map(|k| format!("eth:{}", token_address(0, k))).collect();
    for source in KEEP.iter().chain(&[PUSH, "geckoterminal"]) {
        assert!(wait_until(T, || has_cursor(&db, source)).await, "{source}\n{}", logs(out, "run1"));
    }
    assert!(wait_until(T, || async { ws.live() == 1 }).await, "{}", logs(out, "run1"));

    // Tick 1: the poll schedules pick up one new instrument per list, the announced one and two pools.
    assert_eq!(sim.advance(), 1);
    let mut expected: Vec<String> = ["cex:okx:SOKXB", "cex:binance:SBNBB", "cex:gate:SGATB", "cex:okx:SANNB"].into_iter().map(String::from).collect();
    expected.extend([TokenKind::Clean, TokenKind::Honeypot].into_iter().map(|k| format!("eth:{}", token_address(1, k))));
    assert!(wait_until(T, || has_all(&db, &run1, &expected)).await, "{:?}\n{}", discovered(&db, &run1).await, logs(out, "run1"));

    // A listing pushed over the WebSocket.
    assert_eq!(ws.send(okx_push_frame("PUSHX-USDT")), 1);
    let pushed = vec!["cex:okx:PUSHX".to_string()];
    assert!(wait_until(T, || has_all(&db, &run1, &pushed)).await, "{:?}\n{}", discovered(&db, &run1).await, logs(out, "run1"));

    // Checkpoints rewrite the manifest while running.
    assert!(wait_until(T, || async { manifests(out)[&run1]["summary"]["checkpoints"].as_u64().unwrap_or(0) >= 2 }).await, "{}", logs(out, "run1"));
    let running = manifests(out)[&run1].clone();
    assert_eq!(running["summary"]["status"], "running");

    // SIGTERM: sources stop, the pipeline drains, the final manifest is written, exit 0.
    let status = child.sigterm().await;
    assert_eq!(status.code(), Some(0), "{}", logs(out, "run1"));
    let stdout = std::fs::read_to_string(out.join("run1.stdout")).unwrap();
    assert!(stdout.starts_with(&format!("run {run1} (completed)")), "{}", logs(out, "run1"));

    let m1 = manifests(out)[&run1].clone();
    assert_eq!(m1["summary"]["status"], "completed");
    assert!(m1["errors"].as_array().unwrap().is_empty(), "{}", m1["errors"]);
    assert!(m1["summary"]["checkpoints"].as_u64().unwrap() >= running["summary"]["checkpoints"].as_u64().unwrap());
    assert_eq!(m1["summary"]["bus_retained"], 0, "everything settled is compacted away: memory follows in-flight work, not the run's age");
    let events = std::fs::read(out.join("events.jsonl")).unwrap();
    assert_eq!(events.last(), Some(&b'\n'), "events.jsonl ends with a complete line");
    let (start1, end1) = check_range(&m1, &events, &run1);
    assert_eq!((start1, end1), (0, events.len() as u64), "the only run so far covers the whole file");
    assert!(running["events"]["end"].as_u64().unwrap() <= end1, "checkpoint ranges only grow");
    for (table, n) in m1["row_counts"].as_object().unwrap() {
        assert_eq!(support::count(&db, table).await, n.as_i64().unwrap(), "row count of {table}");
    }
    assert!(!m1["source_versions"][PUSH].is_null(), "the push feed's cursor is recorded: {}", m1["source_versions"]);

    // Every listing is in the DB exactly once (polled and pushed OKX listings included).
    let counts = discovery_counts(&db).await;
    for a in expected.iter().chain(&pushed) {
        assert_eq!(counts.get(a), Some(&1), "{a}: {counts:?}");
    }
    for a in &tick0 {
        assert_eq!(counts.get(a), None, "a pool older than the first poll's lookback is known: {counts:?}");
    }
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let lines_discovered = events
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|e| e["type"] == "asset.discovered")
        .count();
    assert_eq!(lines_discovered, counts.len(), "events.jsonl has each discovery once too");

    // A second run: a new run id, its range starting where the first ended.
    let child = spawn_run(out, &env, "run2");
    assert!(wait_until(T, || async { manifests(out).len() == 2 }).await, "{}", logs(out, "run2"));
    let run2 = manifests(out).into_keys().find(|r| *r != run1).unwrap();
    assert!(wait_until(T, || async { manifests(out)[&run2]["summary"]["checkpoints"].as_u64().unwrap_or(0) >= 1 }).await, "{}", logs(out, "run2"));
    let status = child.sigterm().await;
    assert_eq!(status.code(), Some(0), "{}", logs(out, "run2"));
    let m2 = manifests(out)[&run2].clone();
    let events = std::fs::read(out.join("events.jsonl")).unwrap();
    let (start2, end2) = check_range(&m2, &events, &run2);
    assert_eq!((start2, end2), (end1, events.len() as u64), "contiguous and disjoint with the first run");
    assert_eq!(manifests(out)[&run1], m1, "the first run's manifest is not touched by the second");
}

/// Checks a manifest's events range against events.jsonl: whole lines, its count, every line of the run.
fn check_range(m: &Value, events: &[u8], run_id: &str) -> (u64, u64) {
    let ev = &m["events"];
    let (start, end, count) = (ev["start"].as_u64().unwrap(), ev["end"].as_u64().unwrap(), ev["count"].as_u64().unwrap());
    let slice = &events[usize::try_from(start).unwrap()..usize::try_from(end).unwrap()];
    assert!(count > 0);
    assert_eq!(slice.iter().filter(|b| **b == b'\n').count() as u64, count, "the count is the range's lines");
    assert_eq!(slice.last(), Some(&b'\n'), "the range ends at a line end");
    for l in slice.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e: Value = serde_json::from_slice(l).unwrap();
        assert_eq!(e["run_id"], run_id, "{e}");
    }
    (start, end)
}
