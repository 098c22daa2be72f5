//! The learning book's smoke test (seed 004, issue #18), end to end with the `nl` binary: `nl demo` fills a
//! DB from the loopback simulator; `nl web` serves the `/v1` ops API over it; then
//! 1. a draft ExperimentSpec is created over the API (a bad one gets 400 with the field path);
//! 2. it is approved and set running, and a paper session with learning enabled is started;
//! 3. `order.submitted` appears with `learning_book = true` and the experiment id;
//! 4. a signal inside a no-learn zone gives `trade.blocked` with reason codes (and no order);
//! 5. a backtest of the run reports learning PnL apart from profit PnL.
//!
//! `nl preflight` still shows L6 blocked afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::webdriver::http;

/// Paper events of `kind` in events.jsonl.
fn events(out: &std::path::Path, kind: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("events.jsonl")).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|e| e["type"] == kind).collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn learning_book_smoke_over_the_ops_api() {
    let tmp = tempfile::tempdir().unwrap();
    let out = support::demo(tmp.path(), "demo");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut web = support::nl(&out, &[]);
    web.args(["web", "--addr", &addr]);
    let _web = support::spawn(web);
    wait_for("the web server", || std::net::TcpStream::connect(&addr).is_ok());

    // 1. A bad spec is refused with its field path; a good one is stored as a draft.
    let bad = support::experiment_spec("bad", json!([])).replace("\"sample_rate\":1.0", "\"sample_rate\":7");
    let (status, body) = http(&addr, "POST", "/v1/experiments", &[], Some(&bad));
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["path"], "exposure.sample_rate", "{body}");
    for (id, zones) in [("explore", json!([])), ("zoned", json!([{"kind": "utc_window", "start": "00:00", "end": "23:59"}]))] {
        let (status, body) = http(&addr, "POST", "/v1/experiments", &[], Some(&support::experiment_spec(id, zones)));
        assert_eq!(status, 201, "{body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["status"], "draft");
        // 2. Approve and run it (an illegal step is a conflict).
        let (status, _) = http(&addr, "PATCH", &format!("/v1/experiments/{id}/status"), &[], Some(r#"{"status":"completed"}"#));
        assert_eq!(status, 409);
        for step in ["approved", "running"] {
            let (status, body) = http(&addr, "PATCH", &format!("/v1/experiments/{id}/status"), &[], Some(&format!(r#"{{"status":"{step}"}}"#)));
            assert_eq!(status, 200, "{body}");
        }
    }
    let (status, body) = http(&addr, "POST", "/v1/paper-sessions", &[], Some(r#"{"learning_book_enabled": true, "from": "2000-01-01T00:00:00Z"}"#));
    assert_eq!(status, 201, "{body}");
    let session = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_string();

    // 3. A learning order with its tags.
    wait_for("a learning order.submitted", || {
        events(&out, "order.submitted").iter().any(|e| e["run_id"] == session.as_str() && e["meta"]["learning_book"] == true && e["meta"]["experiment_id"] == "explore")
    });
    // 4. The zoned experiment's signals are blocked with reason codes and place no order.
    wait_for("a no-learn-zone block", || {
        events(&out, "trade.blocked").iter().any(|e| {
            e["run_id"] == session.as_str()
                && e["meta"]["learning_book"] == true
                && e["meta"]["experiment_id"] == "zoned"
                && e["meta"]["reason_codes"].as_array().unwrap().contains(&json!("no_learn_window"))
        })
    });
    assert!(!events(&out, "order.submitted").iter().any(|e| e["meta"]["experiment_id"] == "zoned"), "no order inside the zone");
    let (status, body) = http(&addr, "POST", &format!("/v1/paper-sessions/{session}/stop"), &[], None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&addr, "GET", "/v1/fills?learning_book=maybe", &[], None);
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["path"].clone()), (400, json!("learning_book")), "{body}");

    // 5. A backtest of the recorded events: learning PnL apart from profit PnL.
    let (status, body) = http(&addr, "POST", "/v1/backtests", &[], Some(r#"{"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "learning_book_enabled": true, "experiment_id": "explore"}"#));
    assert_eq!(status, 201, "{body}");
    let bt = serde_json::from_str::<Value>(&body).unwrap()["run_id"].as_str().unwrap().to_string();
    let (status, body) = http(&addr, "GET", &format!("/v1/reports/{bt}?group_by=book,experiment_id,reason_code"), &[], None);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let groups = report["groups"].as_array().unwrap();
    let books: Vec<(&str, &Value)> = groups.iter().map(|g| (g["book"].as_str().unwrap(), &g["experiment_id"])).collect();
    assert!(books.contains(&("profit", &Value::Null)) && books.contains(&("learning", &json!("explore"))), "{books:?}");
    let learning = groups.iter().find(|g| g["book"] == "learning").unwrap();
    assert!(learning["orders"].as_u64().unwrap() > 0, "{learning}");
    assert!(learning["primary"]["verdict"].is_string(), "{learning}");
    let (status, body) = http(&addr, "GET", "/v1/openapi.json", &[], None);
    assert_eq!(status, 200);
    assert!(body.contains("/v1/paper-sessions/{id}/stop"));

    // L6 stays blocked.
    let mut pre = support::nl(&out, &[]);
    pre.arg("preflight");
    let o = support::run(pre);
    let text = String::from_utf8_lossy(&o.stdout);
    let l6 = text.lines().find(|l| l.contains("L6 blocked")).unwrap_or_else(|| panic!("no L6 line in {text}"));
    assert!(l6.contains("PASS") || l6.contains("ok"), "{l6}");
}

/// Creates and approves a draft over `addr`'s `/v1` API, and checks that what the API reads back (through
/// the ledger, the only writer) reflects each step at once.
fn create_and_approve(addr: &str, id: &str) {
    let (status, body) = http(addr, "POST", "/v1/experiments", &[], Some(&support::experiment_spec(id, json!([]))));
    assert_eq!(status, 201, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["status"], "draft", "{body}");
    let (status, body) = http(addr, "PATCH", &format!("/v1/experiments/{id}/status"), &[], Some(r#"{"status":"approved"}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["status"], "approved", "{body}");
    let (status, body) = http(addr, "GET", "/v1/experiments", &[], None);
    assert_eq!(status, 200, "{body}");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["experiments"].as_array().unwrap().iter().any(|e| e["experiment_id"] == id), "{body}");
    let (status, body) = http(addr, "GET", "/v1/openapi.json", &[], None);
    assert_eq!(status, 200, "{body}");
}

/// `nl run --web ADDR` serves the `/v1` ops API beside the running pipeline: its writes go on the run's
/// bus, so the run's ledger applies them and its recorder logs them (sources point at a closed loopback
/// port: nothing is fetched).
#[test]
fn run_web_serves_the_ops_api_through_the_runs_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let env = support::sim_env("http://127.0.0.1:9", &[]);
    let pairs: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut run = support::nl(out, &pairs);
    run.args(["run", "--checkpoint-secs", "1", "--web", &addr]);
    let _run = support::spawn(run);
    wait_for("the web server", || std::net::TcpStream::connect(&addr).is_ok());
    create_and_approve(&addr, "explore");
    wait_for("experiment.created in the run's events.jsonl", || !events(out, "experiment.created").is_empty());
    assert_eq!(events(out, "experiment.status_changed").len(), 1);
}

/// `nl serve web` serves the `/v1` ops API in distributed mode: reads over the ledger's gRPC, writes
/// published on NATS and applied by the ledger (tests/ledger_grpc_clients.rs does it without a shared DB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_web_serves_the_ops_api_over_nats() {
    let server = nl_testkit::NatsServer::start().await;
    let cfg = server.bus_config();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_path_buf();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ledger_port, web_port) = (free(), free());
    let addr = format!("127.0.0.1:{web_port}");
    let mut env = support::nats_env(&cfg);
    env.extend([
        ("NL_SERVE__LEDGER_GRPC_ADDR", format!("127.0.0.1:{ledger_port}")),
        ("NL_SERVE__LEDGER_URL", format!("http://127.0.0.1:{ledger_port}")),
        ("NL_WEB__ADDR", addr.clone()),
    ]);
    let spawn = |what: &str| {
        let mut c = support::nl(&out, &env);
        c.args(["serve", what]);
        let log = std::fs::File::create(out.join(format!("{what}.log"))).unwrap();
        support::Spawned::from(c.stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap())
    };
    let _ledger = spawn("ledger");
    // `nl serve web` connects to the ledger's gRPC API when it starts.
    let serving = || async { tokio::net::TcpStream::connect(("127.0.0.1", ledger_port)).await.is_ok() };
    assert!(nl_testkit::wait_until(Duration::from_secs(60), serving).await, "the ledger never served gRPC");
    let _web = spawn("web");
    let logs = out.clone();
    let logs = move || ["ledger", "web"].map(|w| std::fs::read_to_string(logs.join(format!("{w}.log"))).unwrap_or_default()).join("\n---\n");
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "the web server never listened:\n{}", logs());
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_for("the /v1 API", || http(&addr, "GET", "/v1/experiments", &[], None).0 == 200);
        create_and_approve(&addr, "distributed");
        // The dashboard's learning-book page reads through the same PaperReader (the ledger's gRPC here).
        let (status, page) = http(&addr, "GET", "/learning", &[], None);
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(r#"data-experiment="distributed""#) && page.contains(r#"class="badge approved""#), "{page}");
    })
    .await
    .unwrap();
}

/// `nl backtest` with `[bus] mode = "nats"` publishes its events for `nl serve ledger` to apply and reports
/// only once the ledger applied them, so its report holds its own trades; its spec is a YAML file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl_backtest_over_nats_reports_its_own_trades_from_a_yaml_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let out = support::demo(tmp.path(), "demo");

    let server = nl_testkit::NatsServer::start().await;
    // `nl backtest` reads over the ledger's gRPC and asks it whether it applied what was published; an
    // unreachable ledger fails it at once, so wait until the ledger serves.
    let (env, port) = support::nats_env_with_ledger(&server.bus_config());
    let mut ledger = support::nl(&out, &env);
    ledger.args(["serve", "ledger"]);
    let _ledger = support::spawn(ledger);
    let serving = || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() };
    assert!(nl_testkit::wait_until(Duration::from_secs(60), serving).await, "the ledger never served gRPC");

    let yaml = tmp.path().join("explore.yaml");
    std::fs::write(
        &yaml,
        r#"# The learning book's spec, as YAML.
spec_id: explore
version: 1
question: Do listings L5 rejected still run up in their first hour?
hypothesis: Their mean return after fees is above 0.
exposure:
  decisions: [rejected, promoted]
  sample_rate: 1.0
  notional_usd: "10"
  take_profit_pct: "20"
  stop_loss_pct: "20"
  max_hold_minutes: 60
metrics:
  primary: mean_return_pct
  success_criterion: {op: ">", threshold: 0.0}
  min_trades: 10
risk: {max_notional_usd: "500", max_open_positions: 50}
no_learn_zones: []
"#,
    )
    .unwrap();
    let mut bt = support::nl(&out, &env);
    bt.args(["backtest", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--learning-book-enabled", "--format", "json", "--experiment-spec-path"]).arg(&yaml);
    let o = tokio::task::spawn_blocking(move || support::run(bt)).await.unwrap();
    assert!(o.status.success(), "nl backtest: {}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = report["groups"].as_array().unwrap();
    let orders = |book: &str| groups.iter().filter(|g| g["book"] == book).map(|g| g["orders"].as_u64().unwrap()).sum::<u64>();
    assert!(orders("profit") > 0 && orders("learning") > 0, "the report holds the backtest's own trades: {report}");
    assert!(groups.iter().any(|g| g["book"] == "learning" && g["experiment_id"] == "explore"), "{report}");
}
