//! The `nl` commands that are clients of the ledger's gRPC API in distributed mode, against a real
//! nats-server and a real `nl serve ledger` that requires a bearer token: `nl experiment create` waits until
//! the ledger applied its event by asking the ledger's gRPC (`[serve] ledger_url`), not a DB file on its
//! own machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

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
    assert!(
        o.status.success(),
        "nl experiment create: {}\nledger: {}",
        text(&o.stderr),
        std::fs::read_to_string(ledger.out.join("ledger.log")).unwrap_or_default()
    );
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
    let _ = ledger.port;
}
