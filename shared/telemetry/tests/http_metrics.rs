//! The `/metrics`, `/healthz` and `/readyz` endpoint over a real socket, and (when Debian's `prometheus`
//! binary is installed) a real Prometheus scraping it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use nl_telemetry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `(status, body)` of a plain HTTP/1.0 GET (no client crate needed).
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).context("no status line")?.parse()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Polls `cond` until it returns true or `timeout` passes.
async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
    }
}

fn service_registry() -> Arc<Registry> {
    let r = Arc::new(Registry::new());
    r.on_scrape(|r| {
        r.counter_set("nl_received_total", "Messages received.", &[("service", "test")], 3.0);
        r.counter_set("nl_published_total", "Messages published.", &[("service", "test")], 2.0);
        r.counter_set("nl_errors_total", "Errors by stage.", &[("service", "test"), ("stage", "publish")], 0.0);
        r.counter_set("nl_dropped_total", "Drops by reason.", &[("service", "test"), ("reason", "undecodable")], 1.0);
        r.gauge_set("nl_consumer_pending", "Pending.", &[("durable", "test")], 0.0);
    });
    r
}

async fn start(registry: Arc<Registry>, ready: Arc<AtomicBool>) -> anyhow::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(nl_telemetry::serve_listener(listener, registry, ready, async move {
        let _ = rx.await;
    }));
    Ok((addr, tx))
}

#[tokio::test]
async fn metrics_health_and_readiness() -> anyhow::Result<()> {
    let ready = Arc::new(AtomicBool::new(false));
    let (addr, _stop) = start(service_registry(), Arc::clone(&ready)).await?;
    assert_eq!(get(addr, "/healthz").await?.0, 200);
    assert_eq!(get(addr, "/readyz").await?.0, 503);
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get(addr, "/readyz").await?.0, 200);
    let (status, body) = get(addr, "/metrics").await?;
    assert_eq!(status, 200);
    for name in ["nl_received_total", "nl_published_total", "nl_errors_total{", "nl_dropped_total{", "nl_consumer_pending{"] {
        assert!(body.contains(name), "{name} missing from:\n{body}");
    }
    assert_eq!(get(addr, "/nope").await?.0, 404);
    Ok(())
}

#[tokio::test]
async fn prometheus_scrapes_the_endpoint() -> anyhow::Result<()> {
    let bin = Path::new("/usr/bin/prometheus");
    if !bin.exists() {
        println!("skipped: /usr/bin/prometheus is not installed (apt-get install prometheus)");
        return Ok(());
    }
    let (target, _stop) = start(service_registry(), Arc::new(AtomicBool::new(true))).await?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nl\n    static_configs:\n      - targets: ['{target}']\n"),
    )?;
    let web: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let mut child = tokio::process::Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting prometheus")?;
    let found = wait_until(Duration::from_secs(60), || async {
        match get(web, "/api/v1/query?query=nl_received_total").await {
            Ok((200, body)) => body.contains("\"result\":[{"),
            _ => false,
        }
    })
    .await;
    let _ = child.kill().await;
    assert!(found, "prometheus never returned nl_received_total");
    Ok(())
}
