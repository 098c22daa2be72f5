//! Crashes and signals leave no run `running`:
//!
//! * `nl run` killed with SIGKILL: the next run finds its `running` row (the recorder's lock proves the
//!   process is gone), records `run.completed` with status `aborted` and the reason, and marks its manifest;
//! * SIGINT during `nl run-cycle`: polling stops, the manifest is written as `interrupted`, the summary is
//!   printed and the exit code is 130;
//! * a deleted DB is not silently re-created beside events.jsonl, `nl rebuild --from-events` restores its
//!   row counts, random bytes in the DB are reported (`status`, `preflight`) and refused, and a clean exit
//!   leaves no WAL content;
//! * a corrupt line inside events.jsonl is quarantined (copied out, blanked in place) with an error exit,
//!   and the next run goes on;
//! * a DB that lost its last commits (WAL removed) is caught up from events.jsonl at the next start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nl_simulator::Simulator;
use serde_json::Value;
use support::{KEEP, sim_env};

async fn run_statuses(db: &Path) -> Vec<(String, String)> {
    let Ok(reader) = nl_ledger::SqliteReader::open(db, 1).await else { return Vec::new() };
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT run_id, status FROM runs ORDER BY started_at").fetch_all(reader.pool()).await.unwrap_or_default();
    reader.pool().close().await;
    rows
}

fn manifest(out: &Path, run_id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("runs").join(run_id).join("manifest.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_sigkill_is_marked_aborted_by_the_next_run() {
    let sim = Simulator::start().await.unwrap();
    let env = sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let db = out.join("new_listings.sqlite");
    let pairs: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = support::nl(&out, &pairs);
    c.args(["run", "--checkpoint-secs", "1"]);
    let mut killed = support::spawn(c);
    let running = nl_testkit::wait_until(Duration::from_secs(60), || async { run_statuses(&db).await.iter().any(|(_, s)| s == "running") }).await;
    assert!(running, "nl run recorded its run as running");
    support::sigkill(&mut killed);
    let (victim, _) = run_statuses(&db).await.into_iter().find(|(_, s)| s == "running").unwrap();

    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", support::stdout(&o), support::stderr(&o));
    assert!(support::stderr(&o).contains(&format!("run {victim} was left running by a process that is gone: marked aborted")), "{}", support::stderr(&o));
    let statuses = run_statuses(&db).await;
    assert!(statuses.contains(&(victim.clone(), "aborted".to_string())), "{statuses:?}");
    assert!(!statuses.iter().any(|(_, s)| s == "running"), "no run is left running: {statuses:?}");
    let m = manifest(&out, &victim);
    assert_eq!(m["summary"]["status"], "aborted", "{}", m["summary"]);
    assert!(m["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("process running it is gone")), "{}", m["errors"]);
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(events.lines().any(|l| l.contains("\"run.completed\"") && l.contains(&victim) && l.contains("aborted")), "the abort is an event too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_run_cycle_writes_an_interrupted_manifest_and_the_summary() {
    // A venue that accepts connections and never answers: polling would wait for the whole timeout.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", hang.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hang.accept().await {
            held.push(socket);
        }
    });
    let mut env = sim_env(&url, &["okx_spot"]);
    env.push(("NL_SOURCES__OKX_SPOT__TIMEOUT_MS".into(), "120000".into()));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let pairs: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c: Command = support::nl(&out, &pairs);
    c.arg("run-cycle").stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("polling") {
            let mut line = String::new();
            if err.read_line(&mut line).unwrap() == 0 {
                break;
            }
            seen.push_str(&line);
        }
        Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let o = child.wait_with_output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), seen + &rest)
    })
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "the signal cut the 120 s poll short");
    assert_eq!(code, Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("INTERRUPTED") && stdout.contains("manifest "), "the summary is printed: {stdout}");
    let run_id = support::field(&stdout, "run ").to_string();
    let m = manifest(&out, &run_id);
    assert_eq!(m["summary"]["status"], "interrupted", "{}", m["summary"]);
    assert!(m["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("interrupted")), "{}", m["errors"]);
    let statuses = run_statuses(&out.join("new_listings.sqlite")).await;
    assert_eq!(statuses, vec![(run_id, "interrupted".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_damaged_db_is_never_silently_replaced_and_a_clean_exit_leaves_no_wal() {
    let sim = Simulator::start().await.unwrap();
    let env = sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let db = out.join("new_listings.sqlite");
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let run_id = support::field(&support::stdout(&o), "run ").to_string();

    // Clean exit: the WAL is checkpointed, so new_listings.sqlite alone holds every row.
    assert_eq!(std::fs::metadata(out.join("new_listings.sqlite-wal")).map_or(0, |m| m.len()), 0, "no WAL content left behind");
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(&db, alone.path().join("new_listings.sqlite")).unwrap();
    let m = manifest(&out, &run_id);
    assert_eq!(support::count(&alone.path().join("new_listings.sqlite"), "events").await, m["row_counts"]["events"].as_i64().unwrap());

    // The DB is lost (deleted with its WAL): no fresh DB beside events.jsonl.
    let saved = std::fs::read(&db).unwrap();
    let events = std::fs::read(out.join("events.jsonl")).unwrap();
    for f in ["new_listings.sqlite", "new_listings.sqlite-wal", "new_listings.sqlite-shm"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    for args in [&["run-cycle"][..], &["run", "--checkpoint-secs", "1"]] {
        let o = support::nl_output(&out, &env, args).await;
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", support::stdout(&o));
        assert!(support::stderr(&o).contains("refusing to start a new, empty DB"), "{}", support::stderr(&o));
        assert!(support::stderr(&o).contains("nl rebuild --from-events"), "points to a rebuild: {}", support::stderr(&o));
        assert!(!db.exists(), "no DB was created");
        assert_eq!(std::fs::read(out.join("events.jsonl")).unwrap(), events, "the log is untouched");
    }

    // `nl rebuild --from-events` restores the row counts (source cursors and known instruments are not events).
    let o = support::nl_output(&out, &env, &["rebuild", "--from-events"]).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", support::stdout(&o), support::stderr(&o));
    let original = alone.path().join("new_listings.sqlite");
    // Raw payloads live only in the DB (raw_events), never in the log: everything else comes back.
    for table in m["row_counts"].as_object().unwrap().keys().filter(|t| !["source_cursors", "known_instruments", "raw_events", "events"].contains(&t.as_str())) {
        assert_eq!(support::count(&db, table).await, support::count(&original, table).await, "rows of {table} after the rebuild");
    }
    let raws = support::count(&original, "raw_events").await;
    assert!(raws > 0 && support::count(&db, "events").await > 0);
    assert_eq!(support::count(&db, "events").await, support::count(&original, "events").await - raws, "every event but the raw captures");
    let o = support::nl_output(&out, &env, &["rebuild", "--from-events"]).await;
    assert_eq!(o.status.code(), Some(1), "a DB holding events is never rebuilt over");
    for f in ["new_listings.sqlite", "new_listings.sqlite-wal", "new_listings.sqlite-shm"] {
        let _ = std::fs::remove_file(out.join(f));
    }

    // Random bytes inside the DB: status and preflight report it, a run refuses it.
    let mut damaged = saved.clone();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let end = damaged.len().min(8 * 1024 + 64 * 1024);
    for b in &mut damaged[8 * 1024..end] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[0];
    }
    std::fs::write(&db, &damaged).unwrap();
    // Each says the DB is damaged (not lost) and what to do: move it away, then rebuild it from the log.
    let damaged_advice = |text: &str| {
        assert!(text.contains("is damaged") && text.contains("malformed"), "{text}");
        assert!(text.contains("Move it away") && text.contains("nl rebuild --from-events"), "{text}");
        assert!(!text.contains("holds no events"), "a damaged DB is not a lost one: {text}");
    };
    let o = support::nl_output(&out, &env, &["status"]).await;
    assert_eq!(o.status.code(), Some(1), "{}\n{}", support::stdout(&o), support::stderr(&o));
    assert!(support::stdout(&o).contains("quick_check): FAILED"), "{}\n{}", support::stdout(&o), support::stderr(&o));
    damaged_advice(&support::stdout(&o));
    let o = support::nl_output(&out, &env, &["preflight"]).await;
    assert!(support::stdout(&o).contains("FAIL db integrity"), "{}", support::stdout(&o));
    damaged_advice(&support::stdout(&o));
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", support::stdout(&o));
    damaged_advice(&support::stderr(&o));
    let o = support::nl_output(&out, &env, &["rebuild", "--from-events"]).await;
    assert_eq!(o.status.code(), Some(1), "a damaged DB is not rebuilt over: {}", support::stdout(&o));
    damaged_advice(&support::stderr(&o));
    assert_eq!(std::fs::read(out.join("events.jsonl")).unwrap(), events, "nothing was stored beside a damaged DB");

    // Restored, everything works again.
    std::fs::write(&db, &saved).unwrap();
    let o = support::nl_output(&out, &env, &["status"]).await;
    assert!(o.status.success() && support::stdout(&o).contains("quick_check): ok"), "{}", support::stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_line_inside_events_jsonl_is_quarantined_with_an_error_then_the_next_run_goes_on() {
    let sim = Simulator::start().await.unwrap();
    let env = sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let log = out.join("events.jsonl");
    let before = std::fs::read(&log).unwrap();
    let lines: Vec<&[u8]> = before.split_inclusive(|&b| b == b'\n').collect();
    assert!(lines.len() >= 2, "{} lines", lines.len());

    // The first line (run.started) is damaged on disk (same length, so nothing else moves).
    let at = 0;
    let garbage: Vec<u8> = lines[0].iter().enumerate().map(|(i, &b)| if b == b'\n' { b } else { b"#corrupt"[i % 8] }).collect();
    let mut damaged = before.clone();
    damaged[at..at + garbage.len()].copy_from_slice(&garbage);
    std::fs::write(&log, &damaged).unwrap();

    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "an error exit: {err}");
    assert!(err.contains("1 corrupt line(s)") && err.contains("first at line 1") && err.contains("blanked in place"), "{err}");
    let quarantines: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().contains("events.jsonl.quarantine-")).collect();
    assert_eq!(quarantines.len(), 1, "{quarantines:?}");
    assert_eq!(std::fs::read(&quarantines[0]).unwrap(), garbage, "the corrupt line is kept, byte for byte");
    let after = std::fs::read(&log).unwrap();
    assert_eq!(after.len(), before.len(), "nothing else was cut or moved");
    assert_eq!(after[..at], before[..at]);
    assert_eq!(after[at + garbage.len()..], before[at + garbage.len()..], "every later line keeps its bytes and offset");

    // The next run opens the log, appends after it, and readers skip the blanked line.
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let o = support::nl_output(&out, &env, &["replay-events"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let replayed = support::stdout(&o).lines().filter(|l| !l.trim().is_empty()).count();
    let kept = std::fs::read(&log).unwrap().split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
    assert_eq!(replayed, kept, "every non-blank line replays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_that_lost_its_last_commits_is_caught_up_from_events_jsonl_at_the_next_start() {
    let sim = Simulator::start().await.unwrap();
    let env = sim_env(&sim.base_url(), &KEEP);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let db = out.join("new_listings.sqlite");
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    // A clean exit checkpoints the WAL: this copy is the DB as of the first run.
    let first = std::fs::read(&db).unwrap();
    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    let second = support::field(&support::stdout(&o), "run ").to_string();

    // The second run's commits are lost (as when its WAL is removed after a crash): even its runs row is
    // gone, so nothing in the DB says a run was left running.
    for f in ["new_listings.sqlite-wal", "new_listings.sqlite-shm"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    std::fs::write(&db, &first).unwrap();
    let log_ids = || {
        let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str::<Value>(l).unwrap()["event_id"].as_str().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>()
    };
    let db_ids = |db: std::path::PathBuf| async move {
        let reader = nl_ledger::SqliteReader::open(&db, 1).await.unwrap();
        let ids = reader.mirrored_event_ids().await.unwrap();
        reader.pool().close().await;
        ids
    };
    let missing = log_ids().difference(&db_ids(db.clone()).await).count();
    assert!(missing > 0, "the DB is behind the log");

    let o = support::nl_output(&out, &env, &["run-cycle"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", support::stderr(&o));
    assert!(support::stderr(&o).contains(&format!("after a crash: {missing} events only in events.jsonl applied to the DB")), "{}", support::stderr(&o));
    assert_eq!(db_ids(db.clone()).await, log_ids(), "the DB and the log hold the same events again");
    let statuses = run_statuses(&db).await;
    assert!(statuses.iter().any(|(id, status)| *id == second && status == "completed"), "the lost run is back: {statuses:?}");
}
