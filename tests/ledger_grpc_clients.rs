//! The `nl` commands that are clients of the ledger's gRPC API in distributed mode, against a real
//! nats-server and a real `nl serve ledger` that requires a bearer token: `nl experiment create` waits until
//! the ledger applied its event by asking the ledger's gRPC (`[serve] ledger_url`), not a DB file on its
//! own machine; `nl list --ledger-url` sends the token and trusts `[serve] tls_ca_path` as the services do,
//! and without the token fails saying what to set; with no DB file on the client side, the paper commands
//! and `nl serve web`'s `/v1` API read experiments, runs, trades and replay inputs over the ledger's gRPC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The env variable `[serve] grpc_token_env` names in these tests.
const TOKEN_VAR: &str = "NL_TEST_LEDGER_TOKEN";
const TOKEN: &str = "s3cret-ledger-token";

/// A running `nl serve ledger` on `out`, its gRPC on `port`, requiring [`TOKEN`].
struct Ledger {
    _proc: support::Spawned,
    out: PathBuf,
    port: u16,
    /// The env of a client with the token: NATS, `[serve] ledger_url`, `grpc_token_env` and the token.
    env: Vec<(&'static str, String)>,
}

impl Ledger {
    async fn start(nats: &nl_bus::NatsConfig, out: &Path, extra: &[(&'static str, String)]) -> Self {
        let (mut env, port) = support::nats_env_with_ledger(nats);
        env.extend([("NL_SERVE__GRPC_TOKEN_ENV", TOKEN_VAR.to_string()), (TOKEN_VAR, TOKEN.to_string())]);
        env.extend(extra.iter().cloned());
        let mut c = support::nl(out, &env);
        c.args(["serve", "ledger"]);
        std::fs::create_dir_all(out).unwrap();
        let log = std::fs::File::create(out.join("ledger.log")).unwrap();
        let proc = support::Spawned::from(c.stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap());
        let serving = || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() };
        assert!(
            nl_testkit::wait_until(Duration::from_secs(60), serving).await,
            "the ledger never served gRPC: {}",
            std::fs::read_to_string(out.join("ledger.log")).unwrap_or_default()
        );
        Self { _proc: proc, out: out.to_path_buf(), port, env }
    }

    /// The ledger's stderr so far, for a failure message.
    fn log(&self) -> String {
        std::fs::read_to_string(self.out.join("ledger.log")).unwrap_or_default()
    }
}

async fn run(c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || support::run(c)).await.unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `nl experiment create` in NATS mode, on a machine whose own DB is empty (the ledger's DB is elsewhere):
/// it publishes `experiment.created` and returns once the ledger's gRPC says the ledger applied it. Waiting
/// on its own DB instead, it would time out (that DB never gets the event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_create_waits_on_the_ledgers_grpc_not_a_local_db() {
    let nats = nl_testkit::NatsServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::start(&nats.bus_config(), &tmp.path().join("ledger"), &[]).await;

    let cli_out = tmp.path().join("cli");
    let mut init = support::nl(&cli_out, &[]);
    init.arg("db-init");
    let o = run(init).await;
    assert!(o.status.success(), "nl db-init: {}", text(&o.stderr));
    let spec = tmp.path().join("grpc-wait.json");
    std::fs::write(&spec, support::experiment_spec("grpc-wait", serde_json::json!([]))).unwrap();

    let mut create = support::nl(&cli_out, &ledger.env);
    create.args(["experiment", "create", "--spec"]).arg(&spec);
    let o = run(create).await;
    assert!(o.status.success(), "nl experiment create: {}\nledger: {}", text(&o.stderr), ledger.log());
    assert!(text(&o.stdout).contains("experiment grpc-wait created"), "{}", text(&o.stdout));

    // The event is in the ledger's DB (it was applied there), not in the client's.
    let show = |out: &Path| {
        let mut c = support::nl(out, &[]);
        c.args(["experiment", "show", "grpc-wait"]);
        c
    };
    let o = run(show(&ledger.out)).await;
    assert!(o.status.success() && text(&o.stdout).contains("\"draft\""), "the ledger's DB: {} {}", text(&o.stdout), text(&o.stderr));
    assert!(!run(show(&cli_out)).await.status.success(), "the client's own DB never got the event");

    // `nl list --ledger-url` sends the token too.
    let o = run(list(&cli_out, &ledger.env, &format!("http://127.0.0.1:{}", ledger.port))).await;
    assert!(o.status.success(), "nl list --ledger-url with the token: {}", text(&o.stderr));
}

fn list(out: &Path, env: &[(&'static str, String)], url: &str) -> std::process::Command {
    let mut c = support::nl(out, env);
    c.args(["list", "--format", "json", "--ledger-url", url]);
    c
}

/// A ledger serving TLS (a self-signed certificate for `localhost`) and requiring a token: `nl list
/// --ledger-url https://...` lists with `[serve] tls_ca_path` and the token; without the token it fails
/// with UNAUTHENTICATED and names `grpc_token_env`; without the CA it fails naming `tls_ca_path`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl_list_sends_the_token_and_trusts_the_tls_ca() {
    let nats = nl_testkit::NatsServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let tls = [("NL_SERVE__TLS_CERT_PATH", path(&cert_path)), ("NL_SERVE__TLS_KEY_PATH", path(&key_path))];
    let ledger = Ledger::start(&nats.bus_config(), &tmp.path().join("ledger"), &tls).await;
    let url = format!("https://localhost:{}", ledger.port);
    let cli = tmp.path().join("cli");
    // The client: the CA (the certificate itself, self-signed) and the token, no server certificate.
    let with = |token: bool, ca: bool| {
        let mut env: Vec<(&'static str, String)> = Vec::new();
        if token {
            env.extend([("NL_SERVE__GRPC_TOKEN_ENV", TOKEN_VAR.to_string()), (TOKEN_VAR, TOKEN.to_string())]);
        }
        if ca {
            env.push(("NL_SERVE__TLS_CA_PATH", path(&cert_path)));
        }
        env
    };

    let o = run(list(&cli, &with(true, true), &url)).await;
    assert!(o.status.success(), "over TLS with the token: {}\nledger: {}", text(&o.stderr), ledger.log());
    assert!(serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).is_ok(), "a listing (JSON array): {}", text(&o.stdout));

    let o = run(list(&cli, &with(false, true), &url)).await;
    let err = text(&o.stderr);
    assert!(!o.status.success(), "without the token: {err}");
    assert!(err.contains("UNAUTHENTICATED") && err.contains("grpc_token_env"), "says the token is missing and where it comes from: {err}");

    let o = run(list(&cli, &with(true, false), &url)).await;
    let err = text(&o.stderr);
    assert!(!o.status.success() && err.contains("tls_ca_path"), "an https URL without a CA names tls_ca_path: {err}");
}

/// NATS mode on a machine with NO ledger DB file: the paper side reads over the ledger's gRPC (with the
/// token). The ledger holds a `nl demo` run; from an empty out dir, `nl experiment create|list`, `nl
/// backtest` (its replay inputs, the experiment and its own trades) and `nl report` read what the ledger
/// stored, and `nl serve web`'s `/v1` API serves the experiments, the backtest's fills and its report.
/// Reading the local DB instead, each would fail (there is none). An unreachable or empty `[serve]
/// ledger_url` fails at once, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_reads_go_over_the_ledgers_grpc_without_a_local_db() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger_out = tmp.path().join("ledger");
    let mut demo = support::nl(tmp.path(), &[]);
    demo.args(["demo", "--cycles", "3", "--out-dir"]).arg(&ledger_out);
    let o = run(demo).await;
    assert!(o.status.success(), "nl demo: {}", text(&o.stderr));
    let nats = nl_testkit::NatsServer::start().await;
    let ledger = Ledger::start(&nats.bus_config(), &ledger_out, &[]).await;

    let cli = tmp.path().join("cli");
    std::fs::create_dir_all(&cli).unwrap();
    let nl = |args: &[&str]| {
        let mut c = support::nl(&cli, &ledger.env);
        c.args(args);
        c
    };
    let spec = tmp.path().join("explore.json");
    std::fs::write(&spec, support::experiment_spec("explore", serde_json::json!([]))).unwrap();
    let o = run(nl(&["experiment", "create", "--spec", spec.to_str().unwrap()])).await;
    assert!(o.status.success(), "nl experiment create: {}\nledger: {}", text(&o.stderr), ledger.log());
    let o = run(nl(&["experiment", "list", "--format", "json"])).await;
    assert!(o.status.success(), "nl experiment list: {}", text(&o.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((listed[0]["experiment_id"].as_str(), listed[0]["status"].as_str()), (Some("explore"), Some("draft")), "{listed}");

    let o = run(nl(&[
        "backtest",
        "--from",
        "2000-01-01T00:00:00Z",
        "--to",
        "2100-01-01T00:00:00Z",
        "--learning-book-enabled",
        "--experiment-id",
        "explore",
        "--format",
        "json",
    ]))
    .await;
    assert!(o.status.success(), "nl backtest: {}\nledger: {}", text(&o.stderr), ledger.log());
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let orders = |r: &serde_json::Value, book: &str| {
        r["groups"].as_array().unwrap().iter().filter(|g| g["book"] == book).map(|g| g["orders"].as_u64().unwrap()).sum::<u64>()
    };
    assert!(orders(&report, "profit") > 0 && orders(&report, "learning") > 0, "the demo's replay inputs and the backtest's own trades: {report}");
    let stderr = text(&o.stderr);
    let bt = stderr.lines().find_map(|l| l.strip_prefix("backtest ")).unwrap_or_else(|| panic!("no run id in {stderr}")).trim().to_string();
    let o = run(nl(&["report", "--run", &bt, "--format", "json"])).await;
    assert!(o.status.success(), "nl report: {}", text(&o.stderr));
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(orders(&again, "learning"), orders(&report, "learning"), "{again}");
    assert!(!cli.join("new_listings.sqlite").exists(), "no DB was created on the client side");

    // A collector replica holds okx_spot's lease (the ledger never learns who: the sources page asks the
    // collectors' lease bucket on NATS).
    let stream = ledger.env.iter().find(|(k, _)| *k == "NL_NATS__STREAM").map(|(_, v)| v.clone()).expect("the ledger's stream");
    let bus = nl_bus::NatsBus::connect(&nl_bus::NatsConfig { stream, ..nats.bus_config() }).await.unwrap();
    let leases = nl_bus::NatsLeases::open(bus.jetstream(), "nl_leases", Duration::from_secs(60), "replica-under-test").await.unwrap();
    let _held = nl_bus::Leases::acquire(&leases, "okx_spot").await.unwrap().expect("a free lease");

    // `nl serve web` on the client side: `/v1` reads over the ledger's gRPC.
    let addr = format!("127.0.0.1:{}", support::free_port());
    let mut env = ledger.env.clone();
    env.push(("NL_WEB__ADDR", addr.clone()));
    let mut web = support::nl(&cli, &env);
    web.args(["serve", "web"]);
    let log = std::fs::File::create(tmp.path().join("web.log")).unwrap();
    let _web = support::Spawned::from(web.stdout(std::process::Stdio::null()).stderr(log).spawn().unwrap());
    let call = |method: &'static str, path: &str, body: Option<&str>| {
        let (addr, path, body) = (addr.clone(), path.to_string(), body.map(String::from));
        async move { tokio::task::spawn_blocking(move || support::webdriver::http(&addr, method, &path, &[], body.as_deref())).await.unwrap() }
    };
    let get = |path: &str| call("GET", path, None);
    let up = || async { tokio::net::TcpStream::connect(addr.as_str()).await.is_ok() && get("/v1/experiments").await.0 == 200 };
    let web_log = || std::fs::read_to_string(tmp.path().join("web.log")).unwrap_or_default();
    assert!(nl_testkit::wait_until(Duration::from_secs(60), up).await, "no /v1 API: {}", web_log());
    let (_, body) = get("/v1/experiments").await;
    assert!(body.contains("\"explore\""), "{body}");
    // The sources page over gRPC: the lease holder, and each demo run's events.jsonl range from the ledger.
    let (status, body) = get("/sources").await;
    assert!(status == 200 && body.contains("<th>lease holder</th>") && body.contains("replica-under-test"), "{status} {body}\n{}", web_log());
    assert_eq!(body.matches("events.jsonl bytes ").count(), 3, "one range per demo run: {body}");
    let (status, body) = get(&format!("/v1/backtests/{bt}")).await;
    assert!(status == 200 && body.contains("\"backtest\""), "the backtest's strategy run: {status} {body}");
    let (status, body) = get(&format!("/v1/reports/{bt}?group_by=book")).await;
    let served: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert!(status == 200 && orders(&served, "learning") == orders(&report, "learning"), "the backtest's trades: {status} {body}\n{}", web_log());
    let fills = |r: &serde_json::Value| r["groups"].as_array().unwrap().iter().map(|g| g["fills"].as_u64().unwrap()).sum::<u64>();
    let (status, body) = get(&format!("/v1/fills?run_id={bt}")).await;
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert!(status == 200 && listed["fills"].as_array().map(Vec::len) == Some(fills(&report) as usize), "the backtest's fills: {status} {body}");
    // A backtest over `/v1`: its replay inputs and its own trades read over the gRPC too.
    let req = r#"{"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "learning_book_enabled": true, "experiment_id": "explore"}"#;
    let (status, body) = call("POST", "/v1/backtests", Some(req)).await;
    assert_eq!(status, 201, "{body}\n{}", web_log());

    // `nl web --ledger-url` mounts the same `/v1` over the gRPC it reads the dashboard from.
    let addr2 = format!("127.0.0.1:{}", support::free_port());
    let url = ledger.env.iter().find(|(k, _)| *k == "NL_SERVE__LEDGER_URL").map(|(_, v)| v.clone()).expect("the ledger's URL");
    let mut viewer = support::nl(&cli, &ledger.env);
    viewer.args(["web", "--addr", &addr2, "--ledger-url", &url]);
    let log2 = std::fs::File::create(tmp.path().join("viewer.log")).unwrap();
    let _viewer = support::Spawned::from(viewer.stdout(std::process::Stdio::null()).stderr(log2).spawn().unwrap());
    let get2 = |path: &str| {
        let (addr, path) = (addr2.clone(), path.to_string());
        async move { tokio::task::spawn_blocking(move || support::webdriver::http(&addr, "GET", &path, &[], None)).await.unwrap() }
    };
    let viewer_up = || async { tokio::net::TcpStream::connect(addr2.as_str()).await.is_ok() && get2("/").await.0 == 200 };
    let viewer_log = || std::fs::read_to_string(tmp.path().join("viewer.log")).unwrap_or_default();
    assert!(nl_testkit::wait_until(Duration::from_secs(60), viewer_up).await, "nl web did not serve: {}", viewer_log());
    let (status, body) = get2("/v1/experiments").await;
    assert!(status == 200 && body.contains("\"explore\""), "nl web --ledger-url serves /v1 over the gRPC: {status} {body}\n{}", viewer_log());
    assert!(!cli.join("new_listings.sqlite").exists(), "still no DB on the client side");

    // An unreachable or empty ledger_url fails at once, naming what to set.
    let closed = format!("http://127.0.0.1:{}", support::free_port());
    for (url, says) in [(closed.as_str(), "ledger_url"), ("", "NL_SERVE__LEDGER_URL")] {
        let mut c = support::nl(&cli, &ledger.env);
        c.env("NL_SERVE__LEDGER_URL", url).args(["experiment", "list"]);
        let o = run(c).await;
        let err = text(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "ledger_url {url:?}: {err}");
    }
}
