//! Alert sinks against loopback mock receivers (axum), reading a real ledger DB the test commits to:
//! * exactly one message per promoted candidate across a restart of the sink (and a request a crash left
//!   unconfirmed is not sent again);
//! * a Telegram 429 with `parameters.retry_after` is honoured;
//! * a receiver that is down for 30 s loses nothing once it is back, and the failing sink is counted and
//!   shown on the dashboard's sources page meanwhile;
//! * a token named `<script>alert(1)</script>` is escaped in every alert kind;
//! * a sink's filters (`chains`, `min_liquidity_usd`) send only matching alerts and count the rest;
//! * `per_minute` paces a sink (60 a minute: sends at least 1 s apart at the receiver);
//! * an `asset.delisted` alert names the venue, reason, schedule and (escaped) announcement title;
//! * two alert services on one cursor directory: the second refuses to start (lock file, clear error),
//!   in-process and as a second `nl run` process; once the first stops, a new one starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use nl_domain::{Envelope, EventType, Ts};
use nl_web::{AlertBoard, AlertSinkConfig, AlertsService, SinkKind};
use serde_json::{Value, json};
use tokio::time::Instant;

const RUN: &str = "nl_20261207_000000Z_alerts00";
const EVIL: &str = "<script>alert(1)</script>";

/// What the mock receiver got: (arrival, path, body).
type Got = Arc<Mutex<Vec<(Instant, String, Value)>>>;

#[derive(Clone, Default)]
struct Mock {
    got: Got,
    /// Answers given first, in order (status, body); then 200 with `ok`.
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
}

async fn receive(State(m): State<Mock>, uri: axum::http::Uri, body: String) -> impl IntoResponse {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    m.got.lock().unwrap().push((Instant::now(), uri.path().to_string(), v));
    let (status, text) = m.script.lock().unwrap().pop_front().unwrap_or((200, r#"{"ok":true,"result":{"message_id":1}}"#.into()));
    (StatusCode::from_u16(status).unwrap(), [("content-type", "application/json")], text)
}

/// Serves the mock on `listener` until the test ends.
fn serve_mock(listener: tokio::net::TcpListener, m: &Mock) {
    let app = Router::new().fallback(post(receive)).with_state(m.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
}

async fn mock() -> (Mock, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let m = Mock::default();
    serve_mock(listener, &m);
    (m, addr)
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sink(kind: SinkKind, var: &str) -> AlertSinkConfig {
    let mut c: AlertSinkConfig = toml::from_str(&format!("kind = \"{}\"", kind.as_str())).unwrap();
    if kind == SinkKind::Telegram {
        c.bot_token_env = Some(var.into());
        c.chat_id = Some("-1001234567890".into());
    } else {
        c.url_env = Some(var.into());
    }
    c.poll_ms = 20;
    c.per_minute = Some(6000);
    c.backoff_base_ms = 50;
    c.backoff_cap_ms = 1000;
    c.timeout_ms = 2000;
    c
}

struct Db {
    store: nl_ledger::LedgerStore,
    reader: Arc<nl_ledger::SqliteReader>,
}

/// One sink per `(name, kind)` at the mock at `addr` (Telegram through its `api_base`), each passed through
/// `adjust`, and the env holding their URLs.
fn sinks_at(addr: SocketAddr, kinds: &[(&str, SinkKind)], adjust: impl Fn(&mut AlertSinkConfig)) -> (BTreeMap<String, AlertSinkConfig>, BTreeMap<String, String>) {
    let mut sinks = BTreeMap::new();
    let mut env = BTreeMap::new();
    for &(name, kind) in kinds {
        let var = format!("{}_URL", name.to_uppercase());
        let mut c = sink(kind, &var);
        adjust(&mut c);
        if kind == SinkKind::Telegram {
            c.api_base = Some(format!("http://{addr}"));
            env.insert(var, "42:TOKEN".to_string());
        } else {
            env.insert(var, format!("http://{addr}/{name}"));
        }
        sinks.insert(name.to_string(), c);
    }
    (sinks, env)
}

async fn db(dir: &Path) -> Db {
    let path = dir.join("new_listings.sqlite");
    let store = nl_ledger::LedgerStore::open(&nl_ledger::LedgerConfig::with_db_path(path.clone())).await.unwrap();
    let reader = Arc::new(nl_ledger::SqliteReader::open(&path, 2).await.unwrap());
    Db { store, reader }
}

/// A CEX listing, a liquid snapshot and its promotion; returns the promotion's event id.
async fn promote(db: &Db, asset: &str, symbol: &str, name: &str) -> String {
    let ts: Ts = chrono::Utc::now();
    let mut up = nl_testkit::listing_upsert(asset, symbol, ts);
    up.name = Some(name.into());
    let (snap, d) = nl_testkit::liquid_promotion(asset, ts, &["PASS:honeypot", "<b>bold</b>"], "alerts");
    let e = |kind, meta| Envelope::new(kind, &[asset, &ts.to_rfc3339()], ts, RUN, "alerts", meta).with_asset(asset).with_source("okx_spot");
    let promoted = e(EventType::CandidatePromoted, serde_json::to_value(d).unwrap());
    let id = promoted.event_id.0.clone();
    db.store.apply(vec![nl_testkit::upsert_envelope(&up, RUN), e(EventType::SnapshotRecorded, serde_json::to_value(snap).unwrap()), promoted]).await.unwrap();
    id
}

/// Builds and starts the sinks; returns their board, stop token and task.
fn start(
    sinks: BTreeMap<String, AlertSinkConfig>,
    dir: &Path,
    env: BTreeMap<String, String>,
    reader: Arc<nl_ledger::SqliteReader>,
) -> (Arc<AlertBoard>, nl_bus::CancellationToken, tokio::task::JoinHandle<Vec<nl_web::alerts::SinkSnapshot>>) {
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::default());
    let mut ctx = nl_bus::ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: RUN.into(), config_hash: "alerts".into() });
    ctx.env = Arc::new(move |k: &str| env.get(k).cloned());
    let svc = AlertsService::build(&sinks, dir.join("alerts"), &ctx, reader).unwrap();
    let board = svc.board();
    let stop = nl_bus::CancellationToken::new();
    let task = tokio::spawn(svc.serve(stop.clone()));
    (board, stop, task)
}

fn ids(got: &Got) -> Vec<String> {
    got.lock().unwrap().iter().map(|(_, _, b)| b["event_id"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_message_per_promoted_candidate_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let env: BTreeMap<String, String> = [("HOOK_URL".to_string(), format!("http://{addr}/hook"))].into();
    let sinks: BTreeMap<String, AlertSinkConfig> = [("desk".to_string(), sink(SinkKind::Webhook, "HOOK_URL"))].into();

    let (board, stop, task) = start(sinks.clone(), tmp.path(), env.clone(), db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("desk").is_some_and(|s| s.state == "running")).await;
    let mut want = Vec::new();
    for i in 0..3 {
        want.push(promote(&db, &format!("cex:okx:AA{i}"), &format!("AA{i}"), "first batch").await);
    }
    wait_until("3 alerts", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 3).await;
    stop.cancel();
    task.await.unwrap();

    // While the sink is down two more are promoted; the restarted sink sends those and nothing else.
    for i in 0..2 {
        want.push(promote(&db, &format!("cex:okx:BB{i}"), &format!("BB{i}"), "while down").await);
    }
    let (board, stop, task) = start(sinks.clone(), tmp.path(), env.clone(), db.reader.clone());
    wait_until("5 alerts", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 5).await;
    // One more after the restart: sinks deliver in commit order, so a double of an earlier one would have
    // arrived before it.
    want.push(promote(&db, "cex:okx:CC0", "CC0", "after restart").await);
    wait_until("6 alerts", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 6).await;
    stop.cancel();
    let snaps = task.await.unwrap();
    assert_eq!(ids(&m.got), want, "one message per promotion, in order, none twice");
    assert_eq!(snaps[0].sent, 3);
    assert_eq!(board.get("desk").unwrap().failures, 0);

    // A crash during a request leaves its outcome unknown: the restarted sink does not send it again.
    let cursor_path = tmp.path().join("alerts/desk.cursor.json");
    let mut cursor: Value = serde_json::from_slice(&std::fs::read(&cursor_path).unwrap()).unwrap();
    let next = promote(&db, "cex:okx:DD0", "DD0", "in flight at the crash").await;
    let seq = nl_domain::LedgerReader::change_mark(&*db.reader).await.unwrap();
    cursor["in_flight"] = json!({"seq": seq, "event_id": next});
    std::fs::write(&cursor_path, serde_json::to_vec(&cursor).unwrap()).unwrap();
    let (board, stop, task) = start(sinks.clone(), tmp.path(), env.clone(), db.reader.clone());
    let last = promote(&db, "cex:okx:EE0", "EE0", "after the crash").await;
    wait_until("the alert after the crash", Duration::from_secs(10), || ids(&m.got).contains(&last)).await;
    stop.cancel();
    task.await.unwrap();
    assert!(!ids(&m.got).contains(&next), "the unconfirmed one was sent again");
    assert_eq!(board.get("desk").unwrap().unconfirmed, 1);
    assert_eq!(m.got.lock().unwrap().len(), 7);

    // The skipped event stays counted and named after another (clean) restart: the cursor keeps it.
    let (board, stop, task) = start(sinks, tmp.path(), env, db.reader.clone());
    wait_until("the sink to start again", Duration::from_secs(10), || board.get("desk").is_some_and(|s| s.state == "running")).await;
    stop.cancel();
    task.await.unwrap();
    let desk = board.get("desk").unwrap();
    assert_eq!(desk.unconfirmed, 1, "still counted after a restart");
    assert!(desk.last_error.as_deref().is_some_and(|e| e.contains(&next) && e.contains("unconfirmed")), "{:?}", desk.last_error);
    let stored: Value = serde_json::from_slice(&std::fs::read(&cursor_path).unwrap()).unwrap();
    assert_eq!((stored["unconfirmed"].as_u64(), stored["last_unconfirmed"]["event_id"].as_str()), (Some(1), Some(next.as_str())));
    assert_eq!(m.got.lock().unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_retry_after_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    // The 429 shape of sources-2.md §7a; the backoff alone would retry after at most 50 ms.
    m.script.lock().unwrap().push_back((429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#.into()));
    let mut cfg = sink(SinkKind::Telegram, "TG_TOKEN");
    cfg.api_base = Some(format!("http://{addr}"));
    let env: BTreeMap<String, String> = [("TG_TOKEN".to_string(), "123456:ABC-test".to_string())].into();
    let (board, stop, task) = start([("tg".to_string(), cfg)].into(), tmp.path(), env, db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("tg").is_some_and(|s| s.state == "running")).await;
    promote(&db, "cex:okx:TG0", "TG0", "telegram").await;
    wait_until("the retry", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 2).await;
    wait_until("the alert counted", Duration::from_secs(5), || board.get("tg").is_some_and(|s| s.sent == 1)).await;
    stop.cancel();
    task.await.unwrap();
    let got = m.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 429, one delivery");
    let gap = got[1].0 - got[0].0;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}, before retry_after = 2 s");
    assert_eq!(got[0].1, "/bot123456:ABC-test/sendMessage");
    assert_eq!(got[1].2["chat_id"], "-1001234567890");
    assert_eq!(got[1].2["parse_mode"], "HTML");
    let s = board.get("tg").unwrap();
    assert_eq!((s.rate_limited, s.sent, s.failures), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_30s_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    // A port with nothing listening: every request is refused until the receiver comes up on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env: BTreeMap<String, String> = [("SLACK_URL".to_string(), format!("http://127.0.0.1:{port}/services/T0/B0/x"))].into();
    let mut cfg = sink(SinkKind::Slack, "SLACK_URL");
    cfg.max_attempts = 3;
    cfg.backoff_cap_ms = 2000;
    let (board, stop, task) = start([("slack".to_string(), cfg)].into(), tmp.path(), env, db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("slack").is_some_and(|s| s.state == "running")).await;
    let down_since = Instant::now();
    for i in 0..3 {
        promote(&db, &format!("cex:okx:DN{i}"), &format!("DN{i}"), "sent while down").await;
    }
    wait_until("failures to be counted", Duration::from_secs(20), || board.get("slack").is_some_and(|s| s.failures >= 1 && s.state == "failing")).await;

    // The failing sink shows on the dashboard's sources page.
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::default());
    let ctx = nl_bus::ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: RUN.into(), config_hash: "alerts".into() });
    let web_cfg = nl_web::WebConfig { addr: "127.0.0.1:0".parse().unwrap(), ..nl_web::WebConfig::default() };
    let web = nl_web::WebService::bind(web_cfg, &ctx, db.reader.clone()).await.unwrap().with_alerts(board.clone());
    let web_addr = web.local_addr().unwrap().to_string();
    let web_stop = nl_bus::CancellationToken::new();
    let web_task = tokio::spawn(web.serve(web_stop.clone()));
    let page = tokio::task::spawn_blocking(move || support::webdriver::http(&web_addr, "GET", "/sources", &[], None)).await.unwrap();
    assert_eq!(page.0, 200);
    assert!(page.1.contains("Alert sinks") && page.1.contains(r#"data-sink="slack""#) && page.1.contains("failing"), "{}", page.1);
    web_stop.cancel();
    web_task.await.unwrap().unwrap();

    // The outage lasts 30 s; then the receiver comes back on the same port.
    tokio::time::sleep_until(down_since + Duration::from_secs(30)).await;
    let failures_while_down = board.get("slack").unwrap().failures;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let m = Mock::default();
    serve_mock(listener, &m);
    wait_until("the 3 alerts after the outage", Duration::from_secs(20), || m.got.lock().unwrap().len() >= 3).await;
    wait_until("the sink running again", Duration::from_secs(5), || board.get("slack").is_some_and(|s| s.state == "running" && s.sent == 3)).await;
    stop.cancel();
    task.await.unwrap();
    let texts: Vec<String> = m.got.lock().unwrap().iter().map(|(_, _, b)| b["text"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    for (i, t) in texts.iter().enumerate() {
        assert!(t.contains(&format!("`DN{i}`")), "alert {i} out of order or missing: {t}");
    }
    assert!(failures_while_down >= 2, "a 30 s outage with a 2 s cap fails several rounds: {failures_while_down}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_token_name_is_escaped_in_every_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let kinds = [("hook", SinkKind::Webhook), ("slack", SinkKind::Slack), ("discord", SinkKind::Discord), ("tg", SinkKind::Telegram)];
    let (sinks, env) = sinks_at(addr, &kinds, |_| {});
    let (board, stop, task) = start(sinks, tmp.path(), env, db.reader.clone());
    wait_until("4 sinks running", Duration::from_secs(10), || board.snapshot().iter().all(|s| s.state == "running")).await;
    promote(&db, "cex:okx:EVIL", EVIL, "<img src=x onerror=alert(2)>").await;
    wait_until("4 alerts", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 4).await;
    stop.cancel();
    task.await.unwrap();
    let got: BTreeMap<String, Value> = m.got.lock().unwrap().iter().map(|(_, p, b)| (p.clone(), b.clone())).collect();

    let tg = got["/bot42:TOKEN/sendMessage"]["text"].as_str().unwrap();
    assert!(tg.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && tg.contains("&lt;img src=x onerror=alert(2)&gt;"), "{tg}");
    assert!(tg.contains("&lt;b&gt;bold&lt;/b&gt;"), "reason codes escaped too: {tg}");
    assert!(!tg.contains("<script") && !tg.contains("<img") && !tg.contains("<b>bold"), "{tg}");

    let slack = got["/slack"]["text"].as_str().unwrap();
    assert!(slack.contains("`&lt;script&gt;alert(1)&lt;/script&gt;`"), "{slack}");
    assert!(!slack.contains('<') && !slack.contains('>'), "{slack}");

    let discord = &got["/discord"];
    let content = discord["content"].as_str().unwrap();
    assert!(content.contains(r"\<script\>alert\(1\)\</script\>"), "{content}");
    assert!(!content.contains("<script>") && !content.contains("(1)"), "{content}");
    assert_eq!(discord["allowed_mentions"], json!({"parse": []}));

    // The generic webhook carries the name as data: a JSON string equal to the name, nothing interpreted.
    let hook = &got["/hook"];
    assert_eq!(hook["symbol"], EVIL);
    assert_eq!(hook["type"], "candidate.promoted");
    assert_eq!(hook["liquidity_usd"], "50000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_alert_processes_on_one_cursor_directory_are_locked_against_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let env: BTreeMap<String, String> = [("HOOK_URL".to_string(), format!("http://{addr}/hook"))].into();
    let sinks: BTreeMap<String, AlertSinkConfig> = [("desk".to_string(), sink(SinkKind::Webhook, "HOOK_URL"))].into();
    let (board, stop, task) = start(sinks.clone(), tmp.path(), env.clone(), db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("desk").is_some_and(|s| s.state == "running")).await;

    // A second service on the same directory (the OS lock conflicts between open files, so in-process
    // shows it as well as another process would).
    let bus: Arc<dyn nl_bus::Bus> = Arc::new(nl_bus::MemoryBus::default());
    let mut ctx = nl_bus::ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: RUN.into(), config_hash: "alerts".into() });
    let e2 = env.clone();
    ctx.env = Arc::new(move |k: &str| e2.get(k).cloned());
    let err = AlertsService::build(&sinks, tmp.path().join("alerts"), &ctx, db.reader.clone()).unwrap_err();
    assert!(matches!(err, nl_web::WebError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("alerts.lock") && err.to_string().contains("another alert process"), "{err}");

    // Another `nl` process with the same sink on the same out dir (`nl run` starts its sinks before it
    // polls anything) refuses to start, naming the lock.
    // Its sources point at a closed loopback port, and it is killed after 60 s should it run after all.
    let mut run_env = support::sim_env("http://127.0.0.1:9", &[]);
    run_env.extend([("NL_ALERTS__DESK__KIND".into(), "webhook".into()), ("NL_ALERTS__DESK__URL_ENV".into(), "HOOK_URL".into()), ("HOOK_URL".into(), format!("http://{addr}/hook"))]);
    let pairs: Vec<(&str, String)> = run_env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut c = support::nl(tmp.path(), &pairs);
    c.args(["run", "--checkpoint-secs", "1"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let o = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().unwrap();
        let end = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = support::stderr(&o);
    assert!(o.status.code().is_some_and(|c| c != 0) && stderr.contains("alerts.lock"), "{:?}\n{}\n{stderr}", o.status, support::stdout(&o));

    // Only the first one alerts; once it stopped (its lock released), a new one starts on the directory.
    let id = promote(&db, "cex:okx:LK0", "LK0", "locked").await;
    wait_until("the alert", Duration::from_secs(10), || ids(&m.got).contains(&id)).await;
    stop.cancel();
    task.await.unwrap();
    let (board, stop, task) = start(sinks, tmp.path(), env, db.reader.clone());
    wait_until("the new sink to start", Duration::from_secs(10), || board.get("desk").is_some_and(|s| s.state == "running")).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(ids(&m.got), vec![id], "one message, from one process");
}

/// Like [`promote`], with the snapshot's liquidity set to `liquidity_usd`.
async fn promote_with_liquidity(db: &Db, asset: &str, symbol: &str, liquidity_usd: i64) -> String {
    let ts: Ts = chrono::Utc::now();
    let up = nl_testkit::listing_upsert(asset, symbol, ts);
    let (mut snap, d) = nl_testkit::liquid_promotion(asset, ts, &["PROMOTED"], "alerts");
    snap.liquidity_usd = Some(nl_domain::Decimal::new(liquidity_usd, 0));
    let e = |kind, meta| Envelope::new(kind, &[asset, &ts.to_rfc3339()], ts, RUN, "alerts", meta).with_asset(asset).with_source("geckoterminal");
    let promoted = e(EventType::CandidatePromoted, serde_json::to_value(d).unwrap());
    let id = promoted.event_id.0.clone();
    db.store.apply(vec![nl_testkit::upsert_envelope(&up, RUN), e(EventType::SnapshotRecorded, serde_json::to_value(snap).unwrap()), promoted]).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_with_chain_and_liquidity_filters_sends_only_matching_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let env: BTreeMap<String, String> = [("HOOK_URL".to_string(), format!("http://{addr}/hook"))].into();
    let mut cfg = sink(SinkKind::Webhook, "HOOK_URL");
    cfg.chains = vec!["ETH".into()];
    cfg.min_liquidity_usd = Some(40_000.0);
    let (board, stop, task) = start([("eth_liquid".to_string(), cfg)].into(), tmp.path(), env, db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("eth_liquid").is_some_and(|s| s.state == "running")).await;

    let eth = |n: u32| format!("eth:0x{n:040x}");
    let pass1 = promote_with_liquidity(&db, &eth(1), "ETHOK1", 50_000).await;
    promote(&db, "cex:okx:NOCHAIN", "NOCHAIN", "a CEX listing has no chain").await;
    promote_with_liquidity(&db, &eth(2), "ETHTHIN", 10_000).await;
    promote_with_liquidity(&db, &format!("bsc:0x{:040x}", 3), "BSCOK", 90_000).await;
    // Sinks work in commit order: once this one arrives, every earlier event has been judged.
    let pass2 = promote_with_liquidity(&db, &eth(4), "ETHOK2", 40_000).await;
    wait_until("the last matching alert", Duration::from_secs(10), || ids(&m.got).contains(&pass2)).await;
    wait_until("the count of filtered alerts", Duration::from_secs(5), || board.get("eth_liquid").is_some_and(|s| s.sent == 2)).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(ids(&m.got), vec![pass1, pass2], "only eth listings with at least $40k liquidity");
    let syms: Vec<String> = m.got.lock().unwrap().iter().map(|(_, _, b)| b["symbol"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(syms, ["ETHOK1", "ETHOK2"]);
    let s = board.get("eth_liquid").unwrap();
    assert_eq!((s.sent, s.filtered, s.failures), (2, 3, 0), "no chain, thin liquidity and the bsc listing are filtered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_minute_paces_each_sink() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let env: BTreeMap<String, String> = [("HOOK_URL".to_string(), format!("http://{addr}/paced"))].into();
    let mut cfg = sink(SinkKind::Webhook, "HOOK_URL");
    cfg.per_minute = Some(60);
    let (board, stop, task) = start([("paced".to_string(), cfg)].into(), tmp.path(), env, db.reader.clone());
    wait_until("the sink to start", Duration::from_secs(10), || board.get("paced").is_some_and(|s| s.state == "running")).await;
    // Three promotions committed at once: without pacing they would arrive milliseconds apart.
    let mut want = Vec::new();
    for i in 0..3 {
        want.push(promote(&db, &format!("cex:okx:PC{i}"), &format!("PC{i}"), "paced").await);
    }
    wait_until("3 paced alerts", Duration::from_secs(15), || m.got.lock().unwrap().len() >= 3).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(ids(&m.got), want);
    let at: Vec<Instant> = m.got.lock().unwrap().iter().map(|(t, _, _)| *t).collect();
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        println!("per_minute = 60: {gap:?} between two sends");
        assert!(gap >= Duration::from_millis(990), "two sends {gap:?} apart at per_minute = 60");
        assert!(gap < Duration::from_secs(5), "paced, not stuck: {gap:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delisting_alert_names_the_venue_reason_and_schedule_once_per_coin() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db(tmp.path()).await;
    let (m, addr) = mock().await;
    let (sinks, env) = sinks_at(addr, &[("hook", SinkKind::Webhook), ("tg", SinkKind::Telegram)], |c| c.events = vec!["asset.delisted".into()]);
    let (board, stop, task) = start(sinks, tmp.path(), env, db.reader.clone());
    wait_until("2 sinks running", Duration::from_secs(10), || board.snapshot().iter().all(|s| s.state == "running")).await;
    // The promotion is not followed by these sinks; the delisting is.
    promote(&db, "cex:okx:DLST", "DLST", "Delisted Token").await;
    let ts: Ts = chrono::Utc::now();
    let delisted = nl_domain::AssetDelisted {
        asset_id: "cex:okx:DLST".into(),
        symbol: "DLST".into(),
        venue: "okx".into(),
        source: "okx_announcements".into(),
        reason: "announcement".into(),
        scheduled_at: Some(ts + chrono::Duration::days(3)),
        announcement_id: Some("okx-ann-1".into()),
        title: Some("OKX to delist DLST <b>spot</b> pairs".into()),
        instruments: vec!["DLST-USDT".into()],
        observed_at: ts,
        raw_event_id: None,
    };
    let env_ = delisted.to_envelope(RUN, "alerts");
    let id = env_.event_id.0.clone();
    db.store.apply(vec![env_]).await.unwrap();
    wait_until("2 delisting alerts", Duration::from_secs(10), || m.got.lock().unwrap().len() >= 2).await;
    // The same coin gone from the list later is a second `asset.delisted` (reason `vanished`): no second
    // message. Another coin's delisting after it shows the sinks went past it.
    let vanished = nl_domain::AssetDelisted { reason: "vanished".into(), scheduled_at: None, announcement_id: None, title: None, observed_at: ts + chrono::Duration::days(3), ..delisted.clone() };
    let other = nl_domain::AssetDelisted { asset_id: "cex:okx:DLS2".into(), symbol: "DLS2".into(), ..vanished.clone() };
    db.store.apply(vec![vanished.to_envelope(RUN, "alerts"), other.to_envelope(RUN, "alerts")]).await.unwrap();
    wait_until("DLS2's alerts", Duration::from_secs(10), || m.got.lock().unwrap().iter().filter(|(_, _, b)| b.to_string().contains("DLS2")).count() >= 2).await;
    stop.cancel();
    task.await.unwrap();
    let all = m.got.lock().unwrap().clone();
    assert_eq!(all.len(), 4, "one delisting message per coin and sink: {all:?}");
    let got: BTreeMap<String, Value> = m.got.lock().unwrap().iter().take(2).map(|(_, p, b)| (p.clone(), b.clone())).collect();
    assert_eq!(got.len(), 2, "one message per sink, none for the promotion: {got:?}");

    let hook = &got["/hook"];
    assert_eq!((hook["type"].as_str(), hook["event_id"].as_str(), hook["symbol"].as_str()), (Some("asset.delisted"), Some(id.as_str()), Some("DLST")));
    let detail = hook["detail"].as_str().unwrap();
    let when = ts + chrono::Duration::days(3);
    for want in ["venue okx", "reason announcement", &format!("scheduled_at {}", when.format("%Y-%m-%d")), "title OKX to delist DLST <b>spot</b> pairs"] {
        assert!(detail.contains(want), "webhook detail lacks {want:?}: {detail}");
    }
    let tg = got["/bot42:TOKEN/sendMessage"]["text"].as_str().unwrap();
    assert!(tg.contains("Delisting") && tg.contains("DLST") && tg.contains("reason announcement"), "{tg}");
    assert!(tg.contains("&lt;b&gt;spot&lt;/b&gt;") && !tg.contains("<b>spot"), "the venue's title is escaped: {tg}");
}
