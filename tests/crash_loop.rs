//! Crash loop (#16 acceptance): `nl run` against the loopback simulator is killed with SIGKILL 20 times at
//! random points (startup, mid-poll, mid-drain, mid-checkpoint; the simulator lists more between kills),
//! then a last run is stopped with SIGTERM. Afterwards:
//!
//! * the event ids in events.jsonl equal the ledger's `events` exactly (all but `raw.captured`, which the
//!   recorder does not mirror: raw payloads live in `raw_events`), with 0 duplicate lines;
//! * every asset is discovered exactly once (in the file and in the DB);
//! * no run is left `running`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use nl_simulator::{Simulator, TokenKind, world::token_address};
use support::{KEEP, sim_env};

const KILLS: usize = 20;

/// A small xorshift generator: the kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spawn_run(out: &Path, env: &[(String, String)], tag: usize) -> Child {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = support::nl(out, &env);
    c.args(["run", "--checkpoint-secs", "1"]);
    c.stdout(Stdio::null());
    c.stderr(Stdio::from(std::fs::File::create(out.join(format!("run{tag}.stderr"))).unwrap()));
    c.spawn().expect("spawn nl run")
}

/// `(event_id, type, asset_id)` of every line of events.jsonl.
fn file_events(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "events.jsonl ends in a complete line");
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("event_id"), s("type"), s("asset_id"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_then_sigterm_lose_and_duplicate_nothing() {
    let sim = Simulator::start().await.unwrap();
    let mut env = sim_env(&sim.base_url(), &KEEP);
    for name in KEEP {
        env.push((format!("NL_SOURCES__{}__INTERVAL_SECS", name.to_ascii_uppercase()), "1".into()));
    }
    env.extend([("NL_DEX__GECKOTERMINAL__INTERVAL_MS".into(), "1000".into()), ("NL_DEX__DEXSCREENER__INTERVAL_MS".into(), "1000".into())]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash loop seed {seed}");
    let mut rng = Rng(seed);

    for i in 0..KILLS {
        if i % 4 == 3 {
            sim.advance();
        }
        let mut child = spawn_run(out, &env, i);
        // Anywhere from startup to a few polls and checkpoints in.
        let after = Duration::from_millis(100 + rng.next() % 2400);
        tokio::time::sleep(after).await;
        tokio::task::spawn_blocking(move || support::sigkill(&mut child)).await.unwrap();
    }

    // The last run: let it catch up with the simulator's latest tick, then stop it cleanly.
    let tick = sim.advance();
    let db = out.join("new_listings.sqlite");
    let mut child = spawn_run(out, &env, KILLS);
    let want: BTreeSet<String> = [TokenKind::Clean, TokenKind::Honeypot].into_iter().map(|k| format!("eth:{}", token_address(tick, k))).collect();
    let caught_up = nl_testkit::wait_until(Duration::from_secs(60), || {
        let (db, want) = (db.clone(), want.clone());
        async move {
            let Ok(reader) = nl_ledger::SqliteReader::open(&db, 1).await else { return false };
            let have = reader.asset_ids().await.unwrap_or_default();
            reader.pool().close().await;
            want.is_subset(&have)
        }
    })
    .await;
    let status = tokio::task::spawn_blocking(move || support::sigterm(&mut child)).await.unwrap();
    let stderr = std::fs::read_to_string(out.join(format!("run{KILLS}.stderr"))).unwrap_or_default();
    assert!(caught_up, "seed {seed}: the last run did not discover {want:?}:\n{stderr}");
    assert_eq!(status.code(), Some(0), "seed {seed}:\n{stderr}");

    // events.jsonl and the ledger hold the same events, each once.
    let lines = file_events(&out.join("events.jsonl"));
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _, _) in &lines {
        *per_id.entry(id.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "seed {seed}: duplicate lines {dups:?}");
    let reader = nl_ledger::SqliteReader::open(&db, 1).await.unwrap();
    let ledger: BTreeSet<String> = sqlx::query_scalar("SELECT event_id FROM events WHERE type != 'raw.captured'").fetch_all(reader.pool()).await.unwrap().into_iter().collect();
    let file: BTreeSet<String> = per_id.keys().map(|s| (*s).to_string()).collect();
    let only_file: Vec<_> = file.difference(&ledger).collect();
    let only_db: Vec<_> = ledger.difference(&file).collect();
    let mut db_only_kinds = Vec::new();
    for id in &only_db {
        let row: (String, String, String) =
            sqlx::query_as("SELECT type, run_id, ts FROM events WHERE event_id = ?1").bind(id.as_str()).fetch_one(reader.pool()).await.unwrap();
        db_only_kinds.push(row);
    }
    let runs: Vec<(String, String, Option<String>)> = sqlx::query_as("SELECT run_id, status, started_at FROM runs ORDER BY started_at").fetch_all(reader.pool()).await.unwrap();
    assert!(only_file.is_empty() && only_db.is_empty(), "seed {seed}: only in events.jsonl {only_file:?}; only in the DB {db_only_kinds:?}; runs {runs:?}");

    // Every asset discovered exactly once, in the file and in the DB.
    let mut discovered: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, kind, asset) in &lines {
        if kind == "asset.discovered" {
            *discovered.entry(asset.as_str()).or_default() += 1;
        }
    }
    let assets = reader.asset_ids().await.unwrap();
    assert!(!assets.is_empty());
    for a in &assets {
        assert_eq!(discovered.get(a.as_str()).copied(), Some(1), "seed {seed}: {a} discovered {:?} times", discovered.get(a.as_str()));
    }
    let twice: Vec<(String, i64)> =
        sqlx::query_as("SELECT asset_id, COUNT(*) FROM events WHERE type = 'asset.discovered' GROUP BY asset_id HAVING COUNT(*) > 1").fetch_all(reader.pool()).await.unwrap();
    assert!(twice.is_empty(), "seed {seed}: {twice:?}");

    // No run left running; the killed ones were closed as aborted.
    let by_status: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status").fetch_all(reader.pool()).await.unwrap();
    assert!(!by_status.iter().any(|(s, _)| s == "running"), "seed {seed}: {by_status:?}");
    reader.pool().close().await;
}
