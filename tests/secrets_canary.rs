//! Canary secrets: credentials in URLs (`user:pass@`), an API key from the environment, NATS URL
//! credentials and the L6 confirm token are set to recognisable values, then `nl run-cycle` (debug logs,
//! text and JSON), `status`, `replay-events` and `preflight` run against the loopback simulator. Not one
//! occurrence may appear in stdout, stderr, events.jsonl, the DB files or the manifests. In JSON log mode
//! every stderr line (the progress lines included) is JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::nl_output as nl;
use support::{KEEP, stderr, stdout};

use std::path::Path;

use nl_simulator::Simulator;

const CANARY: &str = "CANARY7f3e";

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

fn occurrences(haystack: &[u8]) -> usize {
    haystack.windows(CANARY.len()).filter(|w| *w == CANARY.as_bytes()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_secrets_appear_in_no_output_log_event_db_or_manifest() {
    let sim = Simulator::start().await.unwrap();
    let base = sim.base_url();
    let with_userinfo = base.replacen("://", &format!("://nl:{CANARY}-basic@"), 1);
    let mut env = support::sim_env(&base, &KEEP);
    env.retain(|(k, _)| k != "NL_SOURCES__OKX_SPOT__BASE_URL");
    env.extend([
        ("NL_SOURCES__OKX_SPOT__BASE_URL".to_owned(), with_userinfo),
        ("NL_SOURCES__BINANCE_SPOT__API_KEY_ENV".to_owned(), "NL_TEST_CANARY_API_KEY".to_owned()),
        ("NL_TEST_CANARY_API_KEY".to_owned(), format!("{CANARY}-apikey")),
        ("NL_NATS__URL".to_owned(), format!("nats://nl:{CANARY}-nats@127.0.0.1:4222")),
        ("NL_EXECUTION_CONFIRM_TOKEN".to_owned(), format!("{CANARY}-confirm")),
        ("RUST_LOG".to_owned(), "debug".to_owned()),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let mut printed = Vec::new();
    for (format, args) in [("text", &["run-cycle"][..]), ("json", &["run-cycle"]), ("text", &["status"]), ("text", &["replay-events"]), ("text", &["preflight"])] {
        let mut env = env.clone();
        env.push(("NL_LOG_FORMAT".to_owned(), format.to_owned()));
        let o = nl(out, &env, args).await;
        if args == ["run-cycle"] {
            assert_eq!(o.status.code(), Some(0), "every source, the one with user info in its URL included, succeeds\n{}\n{}", stdout(&o), stderr(&o));
        }
        if format == "json" {
            for line in stderr(&o).lines() {
                assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "JSON mode: every stderr line is JSON: {line}");
            }
        }
        printed.push((format!("{args:?} ({format}) stdout"), o.stdout));
        printed.push((format!("{args:?} ({format}) stderr"), o.stderr));
    }
    assert!(printed.iter().any(|(what, bytes)| what.contains("stderr") && bytes.len() > 10_000), "debug logs were written");
    let mut leaks: Vec<String> = printed.iter().filter(|(_, b)| occurrences(b) > 0).map(|(what, b)| format!("{what}: {}", occurrences(b))).collect();
    let stored = files(out);
    assert!(stored.iter().any(|p| p.ends_with("manifest.json")) && stored.iter().any(|p| p.ends_with("events.jsonl")), "{stored:?}");
    leaks.extend(stored.iter().map(|p| (p, occurrences(&std::fs::read(p).unwrap()))).filter(|(_, n)| *n > 0).map(|(p, n)| format!("{}: {n}", p.display())));
    assert!(leaks.is_empty(), "canary found in: {leaks:?}");
}
