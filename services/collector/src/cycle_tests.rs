#![allow(clippy::unwrap_used, clippy::expect_used)]
//! In-cycle retries on tokio's paused clock, with a scripted source (no network, no real waiting).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use nl_adapters::{PollError, PollOutcome};
use nl_bus::MemoryBus;
use nl_domain::RawEvent;
use tokio::time::Instant;

use super::*;
use crate::runtime::RunIdentity;
use crate::state::MemoryStateStore;

/// What one scripted poll does.
enum Step {
    Ok,
    RateLimited(Duration),
    Unparseable,
    /// Never finishes (waiting on a rate budget another source paused).
    Stuck,
}

struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    polls: AtomicU32,
    paused_until: Mutex<Option<Instant>>,
    pauses: tokio::sync::watch::Sender<u64>,
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Self {
        Self { steps: Mutex::new(steps.into()), polls: AtomicU32::new(0), paused_until: Mutex::new(None), pauses: tokio::sync::watch::Sender::new(0) }
    }

    fn pause_for(&self, d: Duration) {
        *self.paused_until.lock().unwrap() = Some(Instant::now() + d);
        self.pauses.send_modify(|n| *n += 1);
    }
}

fn raw(status: u16, body: &str) -> RawEvent {
    RawEvent::new("scripted", "http://127.0.0.1/list", Some(status), chrono::Utc::now(), body.to_string(), "r")
}

#[async_trait]
impl Source for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn budget_paused_for(&self) -> Option<Duration> {
        let until = (*self.paused_until.lock().unwrap())?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }
    fn budget_pauses(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.pauses.subscribe())
    }
    async fn poll(&self, _state: Option<&serde_json::Value>, _now: Ts) -> PollOutcome {
        let n = self.polls.fetch_add(1, Ordering::SeqCst);
        let step = self.steps.lock().unwrap().pop_front().unwrap_or(Step::Ok);
        let mut out = PollOutcome::default();
        match step {
            Step::Ok => {
                out.raws.push(raw(200, &format!("[{n}]")));
                out.next_state = Some(serde_json::json!({"polls": n + 1}));
            }
            Step::RateLimited(retry_after) => {
                self.pause_for(retry_after);
                out.raws.push(raw(429, &format!("slow down {n}")));
                out.errors.push(PollError::RateLimited { source_name: "scripted".into(), retry_after });
            }
            Step::Unparseable => {
                let mut r = raw(200, &format!("[{{\"truncated\": {n}"));
                r.parse_error = Some("EOF while parsing".into());
                out.raws.push(r);
                out.errors.push(PollError::Parse { source_name: "scripted".into(), message: "EOF while parsing".into() });
            }
            Step::Stuck => std::future::pending::<()>().await,
        }
        out
    }
}

fn ctx() -> (CollectorCtx, MemoryBus) {
    let bus = MemoryBus::default();
    let ctx = CollectorCtx {
        bus: Arc::new(bus.clone()),
        state: Arc::new(MemoryStateStore::default()),
        leases: None,
        lease_renew_every: Duration::from_secs(5),
        run: RunIdentity { run_id: "r".into(), config_hash: "c".into() },
    };
    (ctx, bus)
}

async fn run(source: &Scripted) -> (PollReport, Duration) {
    let (ctx, _bus) = ctx();
    let start = Instant::now();
    let report = poll_with_retries(source, &ctx, Arc::default(), (&KnownAssets::default(), &crate::known::ListsFirst::of(&[])), chrono::Utc::now(), CyclePolicy::default()).await;
    (report, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_short_retry_after_is_waited_out_then_retried_once() {
    let s = Scripted::new(vec![Step::RateLimited(Duration::from_secs(2)), Step::Ok]);
    let (r, took) = run(&s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!(s.polls.load(Ordering::SeqCst), 2);
    assert_eq!(r.raws, 2, "the 429 response is kept too");
    assert_eq!(r.retried.len(), 1, "{r:?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(3), "waited the Retry-After: {took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_second_rate_limit_is_not_retried_again() {
    let s = Scripted::new(vec![Step::RateLimited(Duration::from_secs(2)), Step::RateLimited(Duration::from_secs(2)), Step::Ok]);
    let (r, _) = run(&s).await;
    assert_eq!(s.polls.load(Ordering::SeqCst), 2, "one retry, no storm");
    assert!(!r.ok() && r.errors[0].contains("scripted"), "fails by name: {r:?}");
}

#[tokio::test(start_paused = true)]
async fn an_unparseable_body_is_retried_twice_with_backoff() {
    let s = Scripted::new(vec![Step::Unparseable, Step::Unparseable, Step::Ok]);
    let (r, took) = run(&s).await;
    assert!(r.ok(), "{r:?}");
    assert_eq!((s.polls.load(Ordering::SeqCst), r.raws, r.retried.len()), (3, 3, 2));
    assert!(took >= Duration::from_millis(250 + 500), "jittered backoff between attempts: {took:?}");

    let s = Scripted::new(vec![Step::Unparseable, Step::Unparseable, Step::Unparseable, Step::Ok]);
    let (r, _) = run(&s).await;
    assert_eq!(s.polls.load(Ordering::SeqCst), 3, "retries used up");
    assert!(!r.ok() && r.errors.iter().any(|e| e.starts_with("scripted: parse failed")), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_fails_now_with_its_expiry() {
    let s = Scripted::new(vec![Step::RateLimited(Duration::from_secs(600)), Step::Ok]);
    let (r, took) = run(&s).await;
    assert_eq!(s.polls.load(Ordering::SeqCst), 1);
    assert!(took < Duration::from_secs(1), "{took:?}");
    let msg = r.errors.first().unwrap();
    assert!(msg.starts_with("scripted: rate limited until ") && msg.contains("(600s)") && msg.contains("max_in_cycle_wait_secs = 10"), "{msg}");
}

#[tokio::test(start_paused = true)]
async fn a_ban_on_the_shared_budget_fails_the_source_now() {
    // Paused before the cycle: no request at all.
    let s = Scripted::new(vec![Step::Ok]);
    s.pause_for(Duration::from_secs(600));
    let (r, took) = run(&s).await;
    assert_eq!(s.polls.load(Ordering::SeqCst), 0);
    assert!(took < Duration::from_secs(1));
    assert!(r.errors[0].starts_with("scripted: rate budget paused until ") && r.errors[0].contains("(600s"), "{r:?}");

    // Paused by another source while this one waits on the budget: abandoned as soon as the pause is announced.
    let s = Arc::new(Scripted::new(vec![Step::Stuck]));
    let banner = Arc::clone(&s);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        banner.pause_for(Duration::from_secs(600));
    });
    let (r, took) = run(&s).await;
    assert!(took < Duration::from_secs(2), "the cycle does not sit out the ban: {took:?}");
    assert!(!r.ok() && r.errors[0].contains("rate budget paused until"), "{r:?}");
}
