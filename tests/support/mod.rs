//! Helpers for the end-to-end tests: run the real `nl` binary against a temp output dir and, where
//! needed, a real nats-server started by `nl_testkit::NatsServer`, or the loopback venues of
//! `nl_simulator` ([`sim_env`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nl_bus::NatsConfig;

pub mod webdriver;

/// The repo's default config file.
pub fn default_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml")
}

/// An `nl` command with `--config` set, outputs under `out_dir`, and `extra` env overrides.
pub fn nl(out_dir: &Path, extra: &[(&str, String)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nl"));
    c.arg("--config").arg(default_config()).env("NL_STORAGE__OUT_DIR", out_dir).env("RUST_LOG", "warn");
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

/// Env overrides that point a child `nl` at this NATS config (same stream name).
/// Listeners bind ephemeral loopback ports, so no test (nor a process a failed test left behind) collides
/// with another on a fixed port.
pub fn nats_env(cfg: &NatsConfig) -> Vec<(&'static str, String)> {
    vec![
        ("NL_BUS__MODE", "nats".to_string()),
        ("NL_NATS__URL", cfg.url.clone()),
        ("NL_NATS__STREAM", cfg.stream.clone()),
        ("NL_SERVE__METRICS_ADDR", "127.0.0.1:0".to_string()),
        ("NL_SERVE__LEDGER_GRPC_ADDR", "127.0.0.1:0".to_string()),
        ("NL_SERVE__GATE_GRPC_ADDR", "127.0.0.1:0".to_string()),
    ]
}

/// A free loopback port, for a listener a child `nl` binds whose address the test must know.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// [`nats_env`] with the ledger's gRPC on a free port, and `[serve] ledger_url` pointing at it (what the
/// ledger's gRPC clients ask); returns the port too.
pub fn nats_env_with_ledger(cfg: &NatsConfig) -> (Vec<(&'static str, String)>, u16) {
    let port = free_port();
    let mut env = nats_env(cfg);
    env.retain(|(k, _)| *k != "NL_SERVE__LEDGER_GRPC_ADDR");
    env.extend([("NL_SERVE__LEDGER_GRPC_ADDR", format!("127.0.0.1:{port}")), ("NL_SERVE__LEDGER_URL", format!("http://127.0.0.1:{port}"))]);
    (env, port)
}

/// Runs `nl demo --cycles 3` (offline, the loopback simulator) into `<tmp>/<name>` and returns that folder,
/// panicking with stderr when it fails.
pub fn demo(tmp: &Path, name: &str) -> PathBuf {
    let out = tmp.join(name);
    let mut c = nl(tmp, &[]);
    c.args(["demo", "--cycles", "3", "--out-dir"]).arg(&out);
    let o = run(c);
    assert!(o.status.success(), "nl demo: {}", stderr(&o));
    out
}

/// Runs to completion and returns the output, panicking with stderr on a spawn failure.
pub fn run(mut c: Command) -> Output {
    c.output().expect("spawn nl")
}

/// A spawned process that is SIGKILLed and reaped when dropped, so a failing test leaves nothing running.
pub struct Spawned(Child);

impl std::ops::Deref for Spawned {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl From<Child> for Spawned {
    fn from(c: Child) -> Self {
        Self(c)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        sigkill(&mut self.0);
    }
}

/// Spawns a long-running `nl` (e.g. `serve ledger`) with piped stderr discarded.
pub fn spawn(mut c: Command) -> Spawned {
    Spawned(c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn nl"))
}

/// Spawns a long-running `nl` whose stdout the test reads (e.g. `nl web`'s address line); stderr discarded.
pub fn spawn_piped(mut c: Command) -> Spawned {
    Spawned(c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn nl"))
}

/// Kills with SIGKILL (std's `Child::kill` on Unix) and reaps.
pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM via the `kill` command and waits for exit.
pub fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    child.wait().expect("wait")
}

/// Count of rows in `table` through a fresh read-only connection (0 when the DB does not exist yet).
pub async fn count(db: &Path, table: &str) -> i64 {
    if !db.exists() {
        return 0;
    }
    let Ok(reader) = nl_ledger::SqliteReader::open(db, 1).await else { return 0 };
    let stats = match reader.stats().await {
        Ok(s) => s,
        Err(_) => return 0,
    };
    reader.pool().close().await;
    stats.tables.iter().find(|(t, _)| t == table).map_or(0, |(_, n)| *n)
}

/// Polled CEX sources the simulator serves; the end-to-end cycle and run tests keep these.
pub const KEEP: [&str; 4] = ["okx_spot", "binance_spot", "gate_pairs", "okx_announcements"];

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Env overrides pointing the `keep` sources, the DEX APIs and the risk providers at `url` (a loopback
/// `nl_simulator`), and disabling every other source.
pub fn sim_env(url: &str, keep: &[&str]) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(default_config()).expect("read the default config");
    let table: toml::Table = text.parse().expect("default config is TOML");
    let mut env = Vec::new();
    for name in table["sources"].as_table().expect("[sources]").keys() {
        let key = name.to_ascii_uppercase();
        if keep.contains(&name.as_str()) {
            env.push((format!("NL_SOURCES__{key}__ENABLED"), "true".into()));
            env.push((format!("NL_SOURCES__{key}__BASE_URL"), url.into()));
        } else {
            env.push((format!("NL_SOURCES__{key}__ENABLED"), "false".into()));
        }
    }
    for name in table["dex"]["evm"].as_table().expect("[dex.evm]").keys() {
        env.push((format!("NL_DEX__EVM__{}__ENABLED", name.to_ascii_uppercase()), "false".into()));
    }
    for (k, v) in [
        ("NL_DEX__GECKOTERMINAL__BASE_URL", url),
        ("NL_DEX__GECKOTERMINAL__NETWORKS", "[\"eth\"]"),
        ("NL_DEX__DEXSCREENER__BASE_URL", url),
        ("NL_DEX__DEXSCREENER__BOOSTS", "false"),
        ("NL_ENRICHER__DEXSCREENER__BASE_URL", url),
        ("NL_RISK_SCORER__PROVIDERS__GOPLUS__BASE_URL", url),
        ("NL_RISK_SCORER__PROVIDERS__HONEYPOT_IS__BASE_URL", url),
        ("NL_RISK_SCORER__PROVIDERS__RUGCHECK__BASE_URL", url),
    ] {
        env.push((k.to_string(), v.to_string()));
    }
    env
}

/// `asset.discovered` asset ids of one run, from the ledger's events table.
pub async fn discovered(db: &Path, run_id: &str) -> BTreeSet<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT asset_id FROM events WHERE type = 'asset.discovered' AND run_id = ?1")
        .bind(run_id)
        .fetch_all(reader.pool())
        .await
        .unwrap();
    reader.pool().close().await;
    rows.into_iter().map(|r| r.0).collect()
}

/// The reason codes of `asset`'s latest gate decision (empty when it has none).
pub async fn latest_reasons(db: &Path, asset: &str) -> Vec<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.unwrap();
    let latest = reader.latest(asset).await.unwrap();
    reader.pool().close().await;
    latest.decision.map(|d| serde_json::from_str(&d.reason_codes_json).unwrap()).unwrap_or_default()
}

/// Runs `nl <args>` with `env` off the async runtime (a loopback simulator keeps serving on it).
pub async fn nl_output(out: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = nl(out, &env);
    c.args(args);
    tokio::task::spawn_blocking(move || run(c)).await.unwrap()
}

/// The first whitespace-separated word after `prefix` on the first line starting with it.
pub fn field<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(prefix)).map_or("", |r| r.split_whitespace().next().unwrap_or(""))
}

/// An ExperimentSpec `id` (JSON) whose exposure takes rejected and promoted listings, with `zones` as its
/// no-learn zones.
pub fn experiment_spec(id: &str, zones: serde_json::Value) -> String {
    serde_json::json!({
        "spec_id": id, "version": 1,
        "question": "Do listings L5 rejected still run up in their first hour?",
        "hypothesis": "Their mean return after fees is above 0.",
        "exposure": {"decisions": ["rejected", "promoted"], "sample_rate": 1.0, "notional_usd": "10",
                     "take_profit_pct": "20", "stop_loss_pct": "20", "max_hold_minutes": 60},
        "metrics": {"primary": "mean_return_pct", "success_criterion": {"op": ">", "threshold": 0.0}, "min_trades": 10},
        "risk": {"max_notional_usd": "500", "max_open_positions": 50},
        "no_learn_zones": zones
    })
    .to_string()
}
