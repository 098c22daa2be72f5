//! Leases against a real nats-server with three `nl-collector` processes polling one mock venue.
//!
//! Each process gets its own config whose six sources point at `/p<process>/s<source>/...` on the mock, so
//! the mock knows who polled what. Checked: every source is polled by exactly one process; after a SIGKILL
//! of a holder its sources are polled by another within the TTL plus an interval; a holder paused with
//! SIGSTOP past the TTL and resumed after the takeover never polls again; a SIGTERM releases leases at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use nl_testkit::{NatsServer, unique_name, wait_until};
use tokio::time::Instant;

const PROCS: usize = 3;
const SOURCES: usize = 6;
const TTL: Duration = Duration::from_secs(3);
const INTERVAL: Duration = Duration::from_secs(1);
const BODY: &str = r#"{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT","baseCcy":"BTC","quoteCcy":"USDT","state":"live","listTime":"1700000000000"}]}"#;

/// (process, source, arrival).
type Hits = Arc<Mutex<Vec<(usize, usize, Instant)>>>;

async fn record(State(hits): State<Hits>, uri: Uri) -> &'static str {
    // `/p<i>/s<j>/api/v5/public/instruments`
    let mut parts = uri.path().trim_start_matches('/').split('/');
    let p = parts.next().and_then(|s| s.strip_prefix('p')).and_then(|s| s.parse().ok());
    let s = parts.next().and_then(|s| s.strip_prefix('s')).and_then(|s| s.parse().ok());
    if let (Some(p), Some(s)) = (p, s) {
        hits.lock().unwrap().push((p, s, Instant::now()));
    }
    BODY
}

async fn start_mock(hits: Hits) -> SocketAddr {
    let app = Router::new().fallback(record).with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn config(nats: &str, stream: &str, buckets: &str, proc_ix: usize, mock: SocketAddr) -> String {
    let mut s = format!(
        "[nats]\nurl = \"{nats}\"\nstream = \"{stream}\"\n\n[collector]\nlease_ttl_secs = {}\nowner = \"p{proc_ix}\"\nlease_bucket = \"{buckets}_lease\"\nstate_bucket = \"{buckets}_state\"\n",
        TTL.as_secs()
    );
    for j in 0..SOURCES {
        s.push_str(&format!(
            "\n[sources.s{j}]\nkind = \"okx_spot\"\nbase_url = \"http://{mock}/p{proc_ix}/s{j}\"\ninterval_secs = {}\nprovider = \"mock\"\nrate_per_sec = 100.0\nburst = 100.0\n",
            INTERVAL.as_secs()
        ));
    }
    s
}

/// Kills (SIGKILL) every still-running child on drop, also stopped ones.
struct Procs(Vec<Option<Child>>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

fn snapshot(hits: &Hits) -> Vec<(usize, usize, Instant)> {
    hits.lock().unwrap().clone()
}

/// Source -> processes that polled it at or after `since`.
fn pollers(hits: &[(usize, usize, Instant)], since: Instant) -> BTreeMap<usize, BTreeSet<usize>> {
    let mut m: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (p, s, t) in hits {
        if *t >= since {
            m.entry(*s).or_default().insert(*p);
        }
    }
    m
}

/// The first poll of `source` at or after `since` by a process other than `not`.
fn first_other(hits: &[(usize, usize, Instant)], source: usize, not: usize, since: Instant) -> Option<Instant> {
    hits.iter().filter(|(p, s, t)| *s == source && *p != not && *t >= since).map(|(_, _, t)| *t).min()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_collectors_share_sources_by_lease() {
    let nats = NatsServer::start().await;
    let hits: Hits = Arc::default();
    let mock = start_mock(Arc::clone(&hits)).await;
    let dir = tempfile::tempdir().unwrap();
    let stream = unique_name("NLT");
    let buckets = unique_name("b").to_lowercase();
    let bin = env!("CARGO_BIN_EXE_nl-collector");
    let mut procs = Procs(Vec::new());
    for i in 0..PROCS {
        let path = dir.path().join(format!("p{i}.toml"));
        std::fs::write(&path, config(nats.url(), &stream, &buckets, i, mock)).unwrap();
        let log = std::fs::File::create(dir.path().join(format!("p{i}.log"))).unwrap();
        let child = Command::new(bin).arg(&path).env("RUST_LOG", "info").stdout(Stdio::null()).stderr(log).spawn().unwrap();
        procs.0.push(Some(child));
    }
    let pid = |procs: &Procs, i: usize| procs.0[i].as_ref().unwrap().id();

    // 1. Every source is polled, each by exactly one process.
    let start = Instant::now();
    let all_polled_twice = wait_until(Duration::from_secs(30), || async {
        let h = snapshot(&hits);
        (0..SOURCES).all(|j| h.iter().filter(|(_, s, _)| *s == j).count() >= 2)
    })
    .await;
    assert!(all_polled_twice, "not every source was polled; logs in {}", dir.path().display());
    let owners = pollers(&snapshot(&hits), start);
    for (s, ps) in &owners {
        assert_eq!(ps.len(), 1, "source s{s} polled by {ps:?}");
    }
    let holder_of = |s: usize| *owners[&s].iter().next().unwrap();
    eprintln!("holders: {:?}", (0..SOURCES).map(holder_of).collect::<Vec<_>>());

    // 2. SIGKILL the holder of s0: its sources move to another process within the TTL plus an interval.
    let a = holder_of(0);
    let a_sources: Vec<usize> = (0..SOURCES).filter(|s| holder_of(*s) == a).collect();
    let killed_at = Instant::now();
    procs.0[a].as_mut().unwrap().kill().unwrap();
    procs.0[a].as_mut().unwrap().wait().unwrap();
    procs.0[a] = None;
    let limit = TTL + INTERVAL * 3;
    let moved = wait_until(limit + Duration::from_secs(5), || async {
        let h = snapshot(&hits);
        a_sources.iter().all(|s| first_other(&h, *s, a, killed_at).is_some())
    })
    .await;
    assert!(moved, "sources {a_sources:?} of killed p{a} were not taken over");
    let h = snapshot(&hits);
    let takeover = a_sources.iter().map(|s| first_other(&h, *s, a, killed_at).unwrap() - killed_at).max().unwrap();
    eprintln!("SIGKILL takeover of {} source(s): {takeover:?} (ttl {TTL:?}, interval {INTERVAL:?})", a_sources.len());
    assert!(takeover <= TTL + INTERVAL * 2, "takeover took {takeover:?}");

    // 3. SIGSTOP a holder past the TTL; after the takeover, SIGCONT: it must not poll again.
    let b = (0..PROCS).find(|p| *p != a && owners.values().any(|ps| ps.contains(p))).unwrap_or_else(|| (0..PROCS).find(|p| *p != a).unwrap());
    let c = (0..PROCS).find(|p| *p != a && *p != b).unwrap();
    let h = snapshot(&hits);
    let recent = Instant::now() - INTERVAL * 2;
    let b_sources: Vec<usize> = pollers(&h, recent).into_iter().filter(|(_, ps)| ps.contains(&b)).map(|(s, _)| s).collect();
    signal(pid(&procs, b), "STOP");
    let stopped_at = Instant::now();
    let taken = wait_until(limit + Duration::from_secs(5), || async {
        let h = snapshot(&hits);
        (0..SOURCES).all(|s| first_other(&h, s, b, stopped_at).is_some())
    })
    .await;
    assert!(taken, "p{c} did not take over all sources while p{b} was stopped");
    let h = snapshot(&hits);
    let takeover = b_sources.iter().map(|s| first_other(&h, *s, b, stopped_at).unwrap() - stopped_at).max().unwrap_or_default();
    eprintln!("SIGSTOP takeover of {} source(s): {takeover:?}", b_sources.len());
    signal(pid(&procs, b), "CONT");
    let resumed_at = Instant::now();
    // Evidence instead of a sleep: the new holder polls every source three more times after the resume.
    let later = wait_until(Duration::from_secs(20), || async {
        let h = snapshot(&hits);
        (0..SOURCES).all(|s| h.iter().filter(|(p, src, t)| *src == s && *p == c && *t >= resumed_at).count() >= 3)
    })
    .await;
    assert!(later);
    let after: Vec<_> = snapshot(&hits).into_iter().filter(|(p, _, t)| *p == b && *t >= resumed_at).collect();
    assert!(after.is_empty(), "resumed ex-holder p{b} polled {} time(s) after losing its leases", after.len());

    // 4. SIGTERM the holder: it releases its leases and exits 0; the other process takes over before any TTL.
    signal(pid(&procs, c), "TERM");
    let termed_at = Instant::now();
    let status = tokio::task::spawn_blocking({
        let mut child = procs.0[c].take().unwrap();
        move || child.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "graceful exit, got {status:?}");
    let released = wait_until(TTL * 2, || async {
        let h = snapshot(&hits);
        (0..SOURCES).all(|s| h.iter().any(|(p, src, t)| *src == s && *p == b && *t >= termed_at))
    })
    .await;
    assert!(released, "p{b} did not pick up the released sources");
    let h = snapshot(&hits);
    let pickup = (0..SOURCES).map(|s| h.iter().filter(|(p, src, t)| *src == s && *p == b && *t >= termed_at).map(|(_, _, t)| *t - termed_at).min().unwrap()).max().unwrap();
    eprintln!("SIGTERM release → pickup by p{b}: {pickup:?}");
    assert!(pickup < TTL, "released leases should not wait for the TTL ({pickup:?})");
}
