//! Test support shared by every crate's tests and by `nl bench`: a throwaway `nats-server` per test
//! ([`NatsServer`]), a condition waiter ([`wait_until`]), unique names, a test [`ServiceCtx`], the bus
//! [`contract`] suite both bus implementations must pass, and scripted loopback counterparts: a CEX venue
//! over HTTP ([`cex_venue`]) and WebSocket ([`ws_venue`]), an EVM node ([`evm_node`]), a Solana node ([`solana_node`]) and the risk
//! providers ([`provider_mock`]); the [`golden`] scenarios as data; and [`bench_envelopes`], bulk events.
//!
//! It is its own crate so production crates do not ship it: crates take it as a dev-dependency (the `nl`
//! binary links it for `nl bench`). Helpers panic with a clear message instead of returning errors, which
//! is what a test wants.

pub mod cex_venue;
pub mod contract;
mod envelopes;
pub mod evm_node;
pub mod fake_llm;
pub mod golden;
pub mod provider_mock;
pub mod solana_node;
pub mod solana_venues;
pub mod ws_venue;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nl_bus::{Bus, NatsConfig, ServiceCtx};

pub use envelopes::{bench_envelopes, liquid_promotion, listing_upsert, score_computed, upsert_envelope};

/// Env variable that overrides where the `nats-server` binary is.
pub const NATS_SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";

/// How long a server may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A `nats-server -js` on a random loopback port with its store in a temp dir; killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    url: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server with JetStream and no auth.
    ///
    /// # Panics
    /// When `nats-server` is not installed or does not come up within 15 s.
    pub async fn start() -> Self {
        Self::try_start(None).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server with an extra config file, e.g. `authorization { user: nl, password: s3cret }`.
    /// Listen address, port and JetStream come from the command line and override the file.
    ///
    /// # Panics
    /// As [`NatsServer::start`], or when the config is rejected.
    pub async fn start_with_config(config: &str) -> Self {
        Self::try_start(Some(config)).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server, reporting failures instead of panicking.
    ///
    /// # Errors
    /// A message naming the cause: binary missing, spawn failure, or startup timeout (with the log tail).
    pub async fn try_start(config: Option<&str>) -> Result<Self, String> {
        let bin = find_nats_server()
            .ok_or_else(|| format!("nats-server not found on PATH (apt-get install nats-server, or set {NATS_SERVER_BIN_ENV} to its path)"))?;
        let dir = tempfile::Builder::new().prefix("nl-nats-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let mut cmd = Command::new(&bin);
        if let Some(text) = config {
            let path = dir.path().join("nats.conf");
            std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
            cmd.arg("-c").arg(path);
        }
        cmd.args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"]).arg(dir.path().join("js"));
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| format!("spawning {}: {e}", bin.display()))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            return Err("nats-server stderr not captured".into());
        };
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<u16>();
        let log_w = Arc::clone(&log);
        // The server logs to stderr; keep draining it for the server's whole life so it never blocks.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut port = None;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if port.is_none()
                    && let Some(rest) = line.split("Listening for client connections on ").nth(1)
                {
                    port = rest.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok());
                }
                if line.contains("Server is ready")
                    && let (Some(p), Some(tx)) = (port, tx.take())
                {
                    let _ = tx.send(p);
                }
                if let Ok(mut l) = log_w.lock()
                    && l.len() < 200
                {
                    l.push(line);
                }
            }
        });
        let port = match tokio::time::timeout(START_TIMEOUT, rx).await {
            Ok(Ok(port)) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                return Err(format!("nats-server did not become ready within {START_TIMEOUT:?}; log:\n{tail}"));
            }
        };
        let server = Self { child, url: format!("nats://127.0.0.1:{port}"), port, dir };
        let addr = format!("127.0.0.1:{port}");
        let reachable = wait_until(START_TIMEOUT, || async { tokio::net::TcpStream::connect(&addr).await.is_ok() }).await;
        if !reachable {
            return Err(format!("nats-server said ready but {addr} refuses connections"));
        }
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temp dir (store under `js/`).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A bus config pointing at this server with a unique stream name.
    #[must_use]
    pub fn bus_config(&self) -> NatsConfig {
        NatsConfig { url: self.url.clone(), stream: unique_name("NL"), ..NatsConfig::default() }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nats_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(NATS_SERVER_BIN_ENV).map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")]).map(|d| d.join("nats-server")).find(|p| p.is_file())
}

/// Polls `cond` (every 10 ms, backing off to 100 ms) until it holds or `timeout` passes; returns
/// whether it held. Works on a paused tokio clock too (the polling sleeps auto-advance it).
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut step = Duration::from_millis(10);
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(step).await;
        step = (step * 2).min(Duration::from_millis(100));
    }
}

/// A [`ServiceCtx`] over `bus` for tests: a fixed run identity, the wall clock, the process environment.
#[must_use]
pub fn service_ctx(bus: Arc<dyn Bus>) -> ServiceCtx {
    ServiceCtx::new(bus, nl_domain::RunIdentity { run_id: "nl_20260101_000000Z_00000000".into(), config_hash: "test".into() })
}

/// A name unique within this process and very likely across processes: `<prefix>_<pid>_<n>_<nanos>`,
/// made of characters valid in stream, consumer and subject tokens.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos:x}", std::process::id())
}
