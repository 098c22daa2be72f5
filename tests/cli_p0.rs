//! P0 exit criteria through the real binary on a fresh output dir: `nl db-init` creates the five runbook
//! tables and five views; `nl events append` appends one event; `nl replay-events --from-ts` prints it
//! back; migrations down to zero leave an empty schema and up again works; bad input fails in one line.

use crate::support;

use std::path::Path;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn nl(out: &Path, args: &[&str]) -> std::process::Output {
    let mut c = support::nl(out, &[]);
    c.args(args);
    support::run(c)
}

/// Tables, views, indexes and triggers other than SQLite's and sqlx's own bookkeeping.
fn user_objects(db: &Path) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let reader = nl_ledger::SqliteReader::open(db, 1).await.expect("open");
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx_migrations%'")
            .fetch_all(reader.pool())
            .await
            .expect("query");
        rows.into_iter().map(|r| r.0).collect()
    })
}

#[test]
fn p0_db_init_append_replay_and_migrations_roundtrip() {
    let out = tempfile::tempdir().expect("tmp");
    let o = nl(out.path(), &["db-init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for t in ["raw_events", "assets", "market_snapshots", "risk_flags", "listing_scores"] {
        assert!(s.contains(t), "table {t} missing: {s}");
    }
    for v in ["v_latest_snapshot", "v_latest_risk", "v_latest_score", "v_assets_new", "v_assets_candidates"] {
        assert!(s.contains(v), "view {v} missing: {s}");
    }

    let o = nl(out.path(), &["events", "append", "--type", "manual.note", "--asset-id", "cex:okx:NEW", "--meta", r#"{"note":"p0"}"#]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(id.len(), 32, "prints the event id: {}", stdout(&o));
    let file = std::fs::read_to_string(out.path().join("events.jsonl")).expect("events.jsonl");
    assert_eq!(file.lines().count(), 1);

    let o = nl(out.path(), &["replay-events", "--path", out.path().join("events.jsonl").to_str().unwrap_or_default(), "--from-ts", "2020-01-01T00:00:00Z"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&id) && stdout(&o).contains("\"type\":\"manual.note\""), "{}", stdout(&o));
    let o = nl(out.path(), &["replay-events", "--from-ts", "2999-01-01T00:00:00Z"]);
    assert!(o.status.success());
    assert!(stdout(&o).is_empty(), "the filter drops later-than events: {}", stdout(&o));

    let o = nl(out.path(), &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("manual.note"), "{}", stdout(&o));

    let o = nl(out.path(), &["db-init", "--down-to", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let left = user_objects(&out.path().join("new_listings.sqlite"));
    assert!(left.is_empty(), "schema not empty after down to 0: {left:?}");
    let o = nl(out.path(), &["db-init"]);
    assert!(o.status.success(), "up again: {}", stderr(&o));
    assert!(stdout(&o).contains("v_assets_candidates"));
}

#[test]
fn bad_input_fails_fast_in_one_line() {
    let out = tempfile::tempdir().expect("tmp");
    for (args, needle, code) in [
        (vec!["events", "append", "--type", "asset.bogus", "--asset-id", "cex:okx:NEW"], "unknown event type", 1),
        (vec!["events", "append", "--type", "manual.note", "--asset-id", "eth:0x12"], "--asset-id", 1),
        (vec!["events", "append", "--type", "manual.note", "--asset-id", "cex:okx:NEW", "--meta", "[1]"], "JSON object", 1),
        (vec!["replay-events", "--from-ts", "yesterday"], "RFC 3339", 1),
        (vec!["run", "--checkpoint-secs", "0"], "checkpoint_secs", 1),
        (vec!["frobnicate"], "unrecognized subcommand", 2),
    ] {
        let o = nl(out.path(), &args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one error line expected, got {err}");
        assert!(lines[0].contains(needle), "{args:?}: {err}");
    }
    let mut c = support::nl(out.path(), &[("NL_LEDGER__BATCHSIZE", "3".to_string())]);
    c.arg("status");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("NL_LEDGER__BATCHSIZE") && stderr(&o).contains("batchsize"), "{}", stderr(&o));
    // `nl run` is the embedded mode: with the NATS bus configured it refuses and names the alternative.
    let mut c = support::nl(out.path(), &[("NL_BUS__MODE", "nats".to_string())]);
    c.arg("run");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nl serve <service>"), "{}", stderr(&o));
    assert!(!out.path().join("runs").exists(), "nothing started");
}

#[test]
fn argument_errors_print_clap_whole_message_and_bare_nl_prints_help() {
    let out = tempfile::tempdir().expect("tmp");
    let o = nl(out.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "bare nl is a usage error");
    assert!(stderr(&o).contains("Usage: nl") && stderr(&o).contains("run-cycle"), "the help, with the commands: {}", stderr(&o));
    let o = nl(out.path(), &["run-cycl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'run-cycle'") && stderr(&o).contains("Usage:"), "did-you-mean and usage: {}", stderr(&o));
    let o = nl(out.path(), &["bench", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("possible values"), "the possible values: {}", stderr(&o));
    // An override naming a source the config does not have says so and names the near ones.
    let mut c = support::nl(out.path(), &[("NL_SOURCES__BINANCE__ENABLED", "false".to_string())]);
    c.arg("status");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("there is no [sources.binance]") && stderr(&o).contains("binance_spot"), "{}", stderr(&o));
}

#[test]
fn replay_to_a_closed_pipe_exits_quietly() {
    use std::io::Read;
    let out = tempfile::tempdir().expect("tmp");
    let o = nl(out.path(), &["events", "append", "--type", "manual.note", "--asset-id", "cex:okx:NEW"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Grow the file well past a pipe buffer, so the writer is still writing when the reader goes away.
    let path = out.path().join("events.jsonl");
    let line = std::fs::read_to_string(&path).expect("events.jsonl");
    std::fs::write(&path, line.repeat(2000)).expect("grow events.jsonl");
    let mut c = support::nl(out.path(), &[]);
    c.args(["replay-events"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn nl");
    let mut first = [0u8; 64];
    child.stdout.take().expect("stdout").read_exact(&mut first).expect("some output");
    // stdout is dropped here: the reader went away, as `| head -c 64` does.
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(0), "closed pipe is not an error: {}", stderr(&o));
    assert!(!stderr(&o).contains("error") && !stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// #16 (an operator's first hour): `nl demo` without `--out-dir` writes under the configured out dir
/// (`NL_STORAGE__OUT_DIR`), never under the current directory, and ends by saying how to look at it.
#[test]
fn demo_honours_the_configured_out_dir_and_says_how_to_look() {
    let out = tempfile::tempdir().expect("tmp");
    let cwd = tempfile::tempdir().expect("tmp");
    let mut c = support::nl(out.path(), &[]);
    c.current_dir(cwd.path()).args(["demo", "--cycles", "1"]);
    let o = support::run(c);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(std::fs::read_dir(cwd.path()).expect("cwd").count(), 0, "nothing is written under the current directory");
    let demos: Vec<_> = std::fs::read_dir(out.path().join("demo")).expect("<out_dir>/demo").map(|e| e.expect("entry").path()).collect();
    assert_eq!(demos.len(), 1, "{demos:?}");
    let dir = &demos[0];
    assert!(dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("demo_")), "{dir:?}");
    assert!(dir.join("new_listings.sqlite").exists() && dir.join("events.jsonl").exists(), "{dir:?}");
    let s = stdout(&o);
    assert!(s.contains(&format!("outputs: {}", dir.display())), "{s}");
    let look = s.split("look at the results:").nth(1).unwrap_or_else(|| panic!("no pointer to the results: {s}"));
    assert!(look.contains(&format!("NL_STORAGE__OUT_DIR={} nl status", dir.display())) && look.contains("v_assets_new"), "{look}");
    // The dashboard and the terminal views come first; raw SQL is the last resort.
    let first = look.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    assert!(first.trim_start().starts_with(&format!("nl web --out-dir {}", dir.display())), "{look}");
    assert!(look.contains(&format!("nl list --out-dir {}", dir.display())) && look.contains(&format!("nl show --out-dir {} ", dir.display())), "{look}");
    let sql = look.find("sqlite3").unwrap_or(0);
    assert!(look.find("nl list").is_some_and(|l| l < sql), "sqlite3 only after the nl views: {look}");
}

/// #16 (closed ports): a gRPC API (Ledger, Gate, Orchestrator) bound to a non-loopback address without a
/// token is refused before anything starts, as the dashboard is, naming the setting to add.
#[test]
fn grpc_off_loopback_without_a_token_is_refused() {
    let out = tempfile::tempdir().expect("tmp");
    for (service, key) in [("ledger", "NL_SERVE__LEDGER_GRPC_ADDR"), ("gate", "NL_SERVE__GATE_GRPC_ADDR"), ("orchestrator", "NL_ORCHESTRATOR__GRPC_ADDR")] {
        let mut c = support::nl(out.path(), &[(key, "0.0.0.0:0".to_string()), ("NL_SERVE__GRPC_TOKEN_ENV", String::new())]);
        c.args(["serve", service]);
        let o = support::run(c);
        assert_eq!(o.status.code(), Some(1), "{service}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("0.0.0.0:0 is not loopback") && err.contains(key), "{service}: {err}");
        assert!(err.contains("grpc_token_env") && err.contains("NL_SERVE__GRPC_TOKEN_ENV"), "{service}: names what to set: {err}");
    }
}

/// #16 (an operator's first hour): a TOML mistake is shown as toml renders it, on several lines (not one
/// line of literal `\n`s); run outside the repository, a missing config says where it looked and how to
/// name another, and preflight says it once; `demo --help` names the real default folder.
#[test]
fn config_errors_read_like_the_operator_needs_them() {
    let out = tempfile::tempdir().expect("tmp");
    let bad = out.path().join("bad.toml");
    std::fs::write(&bad, "[storage\nout_dir = 1\n").expect("write");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nl"));
    c.env("NL_STORAGE__OUT_DIR", out.path()).env("RUST_LOG", "warn").arg("--config").arg(&bad).arg("status");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains("\\n"), "no escaped newlines: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 4, "multi-line, as toml renders it: {err}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains("TOML parse error at line 1"), "{err}");
    assert!(lines.iter().any(|l| l.trim_start().starts_with("1 | [storage")) && lines.iter().any(|l| l.trim_end().ends_with('^')), "{err}");

    // Outside the repository: the relative default config is not there.
    let cwd = tempfile::tempdir().expect("tmp");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nl"));
    c.current_dir(cwd.path()).env_remove("NL_CONFIG").env("NL_STORAGE__OUT_DIR", out.path()).env("RUST_LOG", "warn").arg("status");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("config/default.toml not found") && err.contains("--config PATH") && err.contains("NL_CONFIG=PATH"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nl"));
    c.current_dir(cwd.path()).env_remove("NL_CONFIG").env("NL_STORAGE__OUT_DIR", out.path()).env("RUST_LOG", "warn").arg("preflight");
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1));
    let s = stdout(&o);
    assert_eq!(s.matches("NL_CONFIG=PATH").count(), 1, "the missing config is said once: {s}");
    assert!(!s.contains("os error 2"), "{s}");
    assert!(s.contains("--readme PATH"), "{s}");

    let o = nl(out.path(), &["demo", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("<out_dir>/demo/") && !stdout(&o).contains("under out/demo/"), "{}", stdout(&o));
}

/// #16: preflight builds the enabled sources as run-cycle does, so a setting run-cycle refuses (here a
/// zero body cap) fails preflight too, naming the source and the setting, instead of "all checks passed".
#[test]
fn preflight_refuses_what_run_cycle_refuses() {
    let out = tempfile::tempdir().expect("tmp");
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let mut c = support::nl(out.path(), &[("NL_SOURCES__OKX_SPOT__MAX_BODY_BYTES", "0".to_string())]);
    c.arg("preflight").arg("--readme").arg(&readme);
    let o = support::run(c);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let s = stdout(&o);
    let line = s.lines().find(|l| l.starts_with("FAIL sources build")).unwrap_or_else(|| panic!("no failing sources check: {s}"));
    assert!(line.contains("okx_spot") && line.contains("max_body_bytes"), "{line}");
}
