//! Token bucket tests under a paused tokio clock (time only moves when every task waits).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::*;
use crate::kit::headers::{Usage, UsageKind};

fn budget(rate: f64, burst: f64) -> Budget {
    Budget::new(BudgetConfig::new(rate, burst)).expect("valid")
}

#[tokio::test(start_paused = true)]
async fn burst_then_steady_rate() {
    let b = budget(2.0, 2.0);
    let t0 = Instant::now();
    b.acquire(1).await;
    b.acquire(1).await;
    assert_eq!(t0.elapsed(), Duration::ZERO);
    b.acquire(1).await;
    let e = t0.elapsed();
    assert!(e >= Duration::from_millis(500) && e < Duration::from_millis(510), "{e:?}");
    b.acquire(2).await;
    let e = t0.elapsed();
    assert!(e >= Duration::from_millis(1500) && e < Duration::from_millis(1520), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn weight_above_burst_is_capped_not_stuck() {
    let b = budget(1.0, 5.0);
    let t0 = Instant::now();
    b.acquire(20).await;
    b.acquire(20).await;
    let e = t0.elapsed();
    assert!(e >= Duration::from_secs(5) && e < Duration::from_millis(5020), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn try_acquire_reports_wait() {
    let b = budget(1.0, 1.0);
    assert_eq!(b.try_acquire(1), Ok(()));
    let wait = b.try_acquire(1).expect_err("empty");
    assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn penalty_blocks_until_deadline_and_restarts_empty() {
    let b = budget(10.0, 10.0);
    let t0 = Instant::now();
    b.penalize_for(Duration::from_secs(10));
    assert!(b.status().paused_for.is_some());
    b.acquire(1).await;
    let e = t0.elapsed();
    // 10 s penalty, then one token at 10/s.
    assert!(e >= Duration::from_millis(10_100) && e < Duration::from_millis(10_120), "{e:?}");
    // A shorter penalty never shortens a longer one.
    b.penalize_until(Instant::now() + Duration::from_secs(30));
    b.penalize_until(Instant::now() + Duration::from_secs(1));
    let paused = b.status().paused_for.expect("paused");
    assert!(paused > Duration::from_secs(29), "{paused:?}");
}

#[tokio::test(start_paused = true)]
async fn waiters_wake_after_penalty_set_while_waiting() {
    let b = Arc::new(budget(1.0, 1.0));
    b.acquire(1).await;
    let t0 = Instant::now();
    let waiter = tokio::spawn({
        let b = Arc::clone(&b);
        async move { b.acquire(1).await }
    });
    tokio::task::yield_now().await;
    b.penalize_for(Duration::from_secs(5));
    waiter.await.expect("join");
    assert!(t0.elapsed() >= Duration::from_secs(6), "{:?}", t0.elapsed());
}

#[tokio::test(start_paused = true)]
async fn concurrent_waiters_share_the_rate() {
    let b = Arc::new(budget(4.0, 1.0));
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let b = Arc::clone(&b);
        set.spawn(async move {
            b.acquire(1).await;
            Instant::now()
        });
    }
    let mut done: Vec<Instant> = set.join_all().await;
    done.sort();
    let last = done.last().copied().expect("five") - t0;
    // 1 immediately, then 4 more at 4/s.
    assert!(last >= Duration::from_secs(1) && last < Duration::from_millis(1020), "{last:?}");
}

#[tokio::test(start_paused = true)]
async fn below_threshold_usage_changes_nothing() {
    let b = budget(10.0, 10.0);
    assert!(!b.slow_down(0.5, Instant::now() + Duration::from_secs(60)));
    assert!(!b.slow_down(f64::NAN, Instant::now() + Duration::from_secs(60)));
    let s = b.status();
    assert_eq!((s.paused_for, s.slowed_for), (None, None));
    assert!((s.tokens - 10.0).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn high_usage_reduces_refill_until_window_reset() {
    let b = budget(10.0, 10.0);
    let t0 = Instant::now();
    // 85 % with threshold 80 %: factor 0.5 * 0.15 / 0.2 = 0.375, burst dropped to 1 token.
    assert!(b.slow_down(0.85, t0 + Duration::from_secs(2)));
    let s = b.status();
    assert!((s.refill_factor - 0.375).abs() < 1e-9, "{s:?}");
    assert!(s.tokens <= 1.0);
    b.acquire(1).await;
    b.acquire(1).await;
    let e = t0.elapsed();
    let expected = Duration::from_secs_f64(1.0 / 3.75);
    assert!(e >= expected && e < expected + Duration::from_millis(10), "{e:?}");
    // After the venue window resets, the full rate is back.
    tokio::time::sleep_until(t0 + Duration::from_secs(3)).await;
    assert!((b.status().refill_factor - 1.0).abs() < 1e-9);
    assert!((b.status().tokens - 10.0).abs() < 1e-6, "{:?}", b.status());
}

#[tokio::test(start_paused = true)]
async fn near_exhausted_venue_window_pauses_until_reset() {
    let b = budget(100.0, 100.0);
    let t0 = Instant::now();
    let usage = Usage { used: 5900, limit: 6000, reset_at: Some(Utc::now() + chrono::Duration::seconds(7)), kind: UsageKind::Binance };
    assert!(b.observe_usage(&usage, Utc::now()));
    assert!(b.status().paused_for.is_some());
    assert!(b.try_acquire(1).is_err());
    b.acquire(1).await;
    let e = t0.elapsed();
    assert!(e >= Duration::from_millis(6900) && e < Duration::from_millis(7100), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn repeated_readings_only_tighten() {
    let b = budget(10.0, 10.0);
    let t0 = Instant::now();
    assert!(b.slow_down(0.9, t0 + Duration::from_secs(10)));
    assert!(b.slow_down(0.82, t0 + Duration::from_secs(5)));
    let s = b.status();
    assert!((s.refill_factor - 0.25).abs() < 1e-9, "{s:?}");
    assert_eq!(s.slowed_for, Some(Duration::from_secs(10)));
}

#[test]
fn config_validation_and_serde() {
    assert!(BudgetConfig::new(0.0, 1.0).validate().is_err());
    assert!(BudgetConfig::new(1.0, 0.5).validate().is_err());
    assert!(BudgetConfig { header_slowdown_threshold: 1.5, ..BudgetConfig::new(1.0, 1.0) }.validate().is_err());
    let cfg: BudgetConfig = serde_json::from_str(r#"{"rate_per_sec":100,"burst":200}"#).expect("parse");
    assert!((cfg.header_slowdown_threshold - 0.8).abs() < f64::EPSILON);
    assert!(serde_json::from_str::<BudgetConfig>(r#"{"rate_per_sec":1,"burst":1,"rps":3}"#).is_err());
}

#[tokio::test(start_paused = true)]
async fn registry_shares_one_bucket_per_provider() {
    let mut cfgs = BTreeMap::new();
    cfgs.insert("binance".to_owned(), BudgetConfig::new(100.0, 20.0));
    let reg = BudgetRegistry::new(cfgs.clone(), BudgetConfig::new(1.0, 1.0)).expect("valid");
    let a = reg.get("binance");
    let b = reg.get("binance");
    assert!(Arc::ptr_eq(&a, &b));
    assert!((a.config().burst - 20.0).abs() < f64::EPSILON);
    let other = reg.get("geckoterminal");
    assert!(!Arc::ptr_eq(&a, &other));
    assert!((other.config().rate_per_sec - 1.0).abs() < f64::EPSILON);
    a.penalize_for(Duration::from_secs(3));
    assert!(b.status().paused_for.is_some());
    assert_eq!(reg.statuses().len(), 2);
    cfgs.insert("bad".to_owned(), BudgetConfig::new(-1.0, 1.0));
    assert!(BudgetRegistry::new(cfgs, BudgetConfig::new(1.0, 1.0)).is_err());
}

#[test]
fn a_venue_cannot_pause_a_budget_past_its_maximum_or_overflow_time() {
    // Retry-After: 18446744073709551615 used to panic in `Instant + Duration`.
    let b = budget(1.0, 1.0);
    b.penalize_for(Duration::MAX);
    let paused = b.status().paused_for.expect("paused");
    assert!(paused <= Duration::from_secs(3600) && paused > Duration::from_secs(3590), "{paused:?}");
    let b = budget(1.0, 1.0);
    b.penalize_until(Instant::now() + Duration::from_secs(10 * 24 * 3600));
    assert!(b.status().paused_for.expect("paused") <= Duration::from_secs(3600));
    let strict = Budget::new(BudgetConfig { max_pause_secs: 5, ..BudgetConfig::new(1.0, 1.0) }).unwrap();
    // What it returns is the pause it holds (capped), not the delay asked for.
    assert_eq!(strict.penalize_for(Duration::from_secs(600)), Duration::from_secs(5));
    let held = strict.penalize_for(Duration::from_secs(1));
    assert!(held > Duration::from_secs(4) && held >= strict.status().paused_for.expect("paused"), "a longer pause held is kept and reported: {held:?}");
    assert!(strict.status().paused_for.expect("paused") <= Duration::from_secs(5));
    assert!(BudgetConfig { max_pause_secs: 0, ..BudgetConfig::new(1.0, 1.0) }.validate().is_err());
}

#[tokio::test(start_paused = true)]
async fn pauses_are_announced_to_subscribers_and_slowing_down_is_not_a_pause() {
    let b = budget(1.0, 1.0);
    let mut pauses = b.pauses();
    assert!(!pauses.has_changed().expect("open"), "nothing announced yet");
    assert!(b.slow_down(0.85, Instant::now() + Duration::from_secs(60)));
    assert!(!pauses.has_changed().expect("open"), "a slowed refill is no pause");
    b.penalize_for(Duration::from_secs(30));
    pauses.changed().await.expect("announced");
    assert!(b.status().paused_for.is_some());
    assert!(b.slow_down(0.99, Instant::now() + Duration::from_secs(120)));
    assert!(pauses.has_changed().expect("open"), "a usage reading at the limit pauses too");
}
