//! Alerts and "mark reviewed" beside a continuous `nl run --web` (embedded mode) on the loopback simulator:
//! a webhook sink configured from the environment alerts once on each listing the run discovers, and the
//! dashboard's review POST goes over the run's own bus to its ledger (reviewed_at set) and recorder
//! (events.jsonl), while the run keeps the only write access.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use nl_simulator::{Simulator, TokenKind, world::token_address};
use nl_testkit::wait_until;
use serde_json::Value;
use support::{KEEP, sim_env};

const T: Duration = Duration::from_secs(60);

async fn has_cursor(db: &Path, source: &str) -> bool {
    let Ok(reader) = nl_ledger::SqliteReader::open(db, 1).await else { return false };
    let found = reader.get_cursor(source).await.ok().flatten().is_some();
    reader.pool().close().await;
    found
}

async fn reviewed_at(db: &Path, asset: &str) -> Option<String> {
    let reader = nl_ledger::SqliteReader::open(db, 1).await.ok()?;
    let at: Option<String> = sqlx::query_scalar("SELECT reviewed_at FROM assets WHERE asset_id = ?").bind(asset).fetch_optional(reader.pool()).await.ok().flatten().flatten();
    reader.pool().close().await;
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl_run_alerts_each_discovery_once_and_the_dashboard_marks_reviewed_through_the_run() {
    let sim = Simulator::start().await.unwrap();
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().route("/hook", post(|State(g): State<Arc<Mutex<Vec<Value>>>>, body: String| async move {
        g.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
        "ok"
    })).with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let web_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let url = sim.base_url();
    let mut env = sim_env(&url, &KEEP);
    for name in KEEP {
        env.push((format!("NL_SOURCES__{}__INTERVAL_SECS", name.to_ascii_uppercase()), "1".into()));
    }
    env.extend([
        ("NL_DEX__GECKOTERMINAL__INTERVAL_MS".to_string(), "1000".to_string()),
        ("NL_DEX__DEXSCREENER__INTERVAL_MS".to_string(), "1000".to_string()),
        ("NL_ALERTS__DESK__KIND".to_string(), "webhook".to_string()),
        ("NL_ALERTS__DESK__URL_ENV".to_string(), "DESK_HOOK_URL".to_string()),
        ("NL_ALERTS__DESK__EVENTS".to_string(), r#"["asset.discovered"]"#.to_string()),
        ("NL_ALERTS__DESK__POLL_MS".to_string(), "50".to_string()),
        ("DESK_HOOK_URL".to_string(), hook),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let db = out.join("new_listings.sqlite");
    let pairs: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = support::nl(out, &pairs);
    c.args(["run", "--checkpoint-secs", "1", "--web", &format!("127.0.0.1:{web_port}")]);
    c.stdout(Stdio::null()).stderr(Stdio::from(std::fs::File::create(out.join("run.stderr")).unwrap()));
    let mut run = support::Spawned::from(c.spawn().unwrap());
    let logs = || std::fs::read_to_string(out.join("run.stderr")).unwrap_or_default();

    // Baselines first (nothing is new on a first poll), and the sink's cursor at the ledger's end.
    for source in KEEP.iter().chain(&["geckoterminal"]) {
        assert!(wait_until(T, || has_cursor(&db, source)).await, "{source}\n{}", logs());
    }
    let cursor = out.join("alerts/desk.cursor.json");
    assert!(wait_until(T, || async { cursor.exists() }).await, "{}", logs());

    // Tick 1: one new instrument per list, the announced one and two pools: one alert each.
    assert_eq!(sim.advance(), 1);
    let mut expected: Vec<String> = ["cex:okx:SOKXB", "cex:binance:SBNBB", "cex:gate:SGATB", "cex:okx:SANNB"].into_iter().map(String::from).collect();
    expected.extend([TokenKind::Clean, TokenKind::Honeypot].into_iter().map(|k| format!("eth:{}", token_address(1, k))));
    let alerted = || -> Vec<String> { got.lock().unwrap().iter().map(|b| b["asset_id"].as_str().unwrap_or_default().to_string()).collect() };
    assert!(wait_until(T, || async { expected.iter().all(|a| alerted().contains(a)) }).await, "{:?}\n{}", alerted(), logs());

    // Mark reviewed from the dashboard: 303 back to the asset page once the run's ledger applied it.
    let web = format!("127.0.0.1:{web_port}");
    let (status, body) = tokio::task::spawn_blocking(move || support::webdriver::http(&web, "POST", "/asset/cex:okx:SOKXB/review", &[], None)).await.unwrap();
    assert_eq!(status, 303, "{body}\n{}", logs());
    assert!(reviewed_at(&db, "cex:okx:SOKXB").await.is_some());

    let status = support::sigterm(&mut run);
    assert_eq!(status.code(), Some(0), "{}", logs());
    let counts: BTreeMap<String, usize> = alerted().into_iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a).or_default() += 1;
        m
    });
    assert!(counts.values().all(|n| *n == 1), "one alert per discovery: {counts:?}");
    assert!(got.lock().unwrap().iter().all(|b| b["type"] == "asset.discovered"));
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(events.lines().any(|l| l.contains("\"asset.reviewed\"") && l.contains("cex:okx:SOKXB")), "the recorder mirrored the review");
    assert!(logs().contains("alerts desk:"), "the run reports its sinks at the end: {}", logs());
}
