//! SIGKILL mid-stream: the test binary re-executes itself as a writer child, kills it while it is
//! appending, then checks that reopening repairs the file, that every surviving line parses and every
//! id is there once, and that redelivering everything fills the gap without a duplicate.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use nl_domain::{Envelope, EventType};
use nl_recorder::{EventLog, FsyncPolicy, ReplayFilter, read_events};

/// Set (to the log path) only in the re-executed child.
const CHILD_ENV: &str = "NL_RECORDER_CRASH_CHILD";
/// Events the child would write if never killed: far more than it gets through before the kill.
const TOTAL: u64 = 400_000;
const BATCH: u64 = 1_000;
/// Each child batch re-sends this many events of the previous batch, as a redelivery would.
const OVERLAP: u64 = 50;
/// Batches the parent waits to see reported before it kills the child.
const KILL_AFTER_BATCHES: u64 = 3;

fn event(i: u64) -> Envelope {
    let ts = chrono::Utc.timestamp_millis_opt(1_700_000_000_000 + i as i64).unwrap();
    // Padding makes each batch span many pages, so the kill can land inside one write.
    Envelope::new(
        EventType::ListingObserved,
        &["crash", &i.to_string()],
        ts,
        "nl_20260101_000000Z_00000000",
        "cfg",
        serde_json::json!({ "i": i, "pad": "p".repeat(2_000) }),
    )
    .with_asset(format!("cex:test:T{i}"))
}

/// The child's body: append batches (with overlap) and report each with the file size, until killed.
fn run_writer_child(path: &Path) {
    // No fsync: a process kill keeps the page cache, so syncing would only slow the stream down and
    // make the kill land in fsync rather than in a write.
    let mut log = EventLog::open(path, FsyncPolicy::Never).unwrap();
    let mut out = std::io::stdout().lock();
    let mut next = 0;
    let mut batches = 0u64;
    while next < TOTAL {
        let from = next.saturating_sub(OVERLAP);
        let batch: Vec<_> = (from..(next + BATCH).min(TOTAL)).map(event).collect();
        let outcome = log.append_batch(&batch).unwrap();
        assert_eq!(outcome.written as u64, (next + BATCH).min(TOTAL) - next);
        next += BATCH;
        batches += 1;
        writeln!(out, "BATCH {batches} {}", log.len()).unwrap();
        out.flush().unwrap();
    }
}

/// Entry point of the re-executed child; a no-op in a normal test run.
#[test]
fn crash_child_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_writer_child(Path::new(&path));
    }
}

fn spawn_child(path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        // The test binary is tests/main.rs, so this test is named after its module.
        .args(["--exact", "crash::crash_child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Ids in file order, asserting every line parses.
fn ids_in_file(path: &PathBuf) -> Vec<u64> {
    read_events(path, ReplayFilter::default()).unwrap().map(|r| r.unwrap().meta["i"].as_u64().unwrap()).collect()
}

#[test]
fn sigkill_mid_stream_then_reopen_and_redeliver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/events.jsonl");

    let mut child = spawn_child(&path);
    // Kept open until after the kill, so the child never sees a closed pipe and exits on its own.
    let mut progress = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0;
    let mut reported_len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if progress.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some((n, len)) = line.trim_end().strip_prefix("BATCH ").and_then(|r| r.split_once(' ')) {
            (seen, reported_len) = (n.parse().unwrap(), len.parse().unwrap());
            if seen >= KILL_AFTER_BATCHES {
                break;
            }
        }
    }
    assert!(seen >= KILL_AFTER_BATCHES, "child stopped reporting after {seen} batches");
    // Aim the kill into the next write: wait (bounded) until the file starts growing, then SIGKILL at
    // once. Linux stops a write to a regular file between pages when a fatal signal is pending, so
    // this often leaves a torn tail; either way nothing is finished or cleaned up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&path).unwrap().len() <= reported_len && Instant::now() < deadline {
        std::thread::yield_now();
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have been killed, not have finished: {status:?}");
    drop(progress);
    let size_at_kill = std::fs::metadata(&path).unwrap().len();

    // Reopen: repair (if torn), load ids. The lock died with the child.
    let log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
    let n = log.count();
    assert!(n >= KILL_AFTER_BATCHES * BATCH, "at least the reported batches survive: {n}");
    assert!(n < TOTAL);
    assert!(size_at_kill - log.len() < 4096, "at most the one torn line is cut, never a complete line");
    drop(log);

    let ids = ids_in_file(&path);
    assert_eq!(ids.len() as u64, n);
    assert_eq!(ids, (0..n).collect::<Vec<_>>(), "each id once, in order, no gap");

    // Redeliver everything already written plus a further stretch: only the new ones are written.
    let extra = 3 * BATCH;
    let mut log = EventLog::open(&path, FsyncPolicy::PerBatch).unwrap();
    let mut written = 0;
    let mut duplicates = 0;
    let all: Vec<_> = (0..n + extra).map(event).collect();
    for chunk in all.chunks(BATCH as usize) {
        let out = log.append_batch(chunk).unwrap();
        written += out.written as u64;
        duplicates += out.duplicates as u64;
    }
    assert_eq!((written, duplicates), (extra, n));
    assert_eq!(log.count(), n + extra);
    drop(log);

    let ids = ids_in_file(&path);
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>().len(), ids.len(), "no duplicate line");
    assert_eq!(ids, (0..n + extra).collect::<Vec<_>>());
}
