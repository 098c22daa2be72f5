//! L0's AI job schedule: every `[ai] regime_interval_secs` (default hourly) it publishes one
//! `ai.job.requested {layer: "l2"}` per period, which `ai-dispatch` answers on its shared durable consumer.
//!
//! Periods are aligned to the Unix epoch (an hourly schedule fires at every full hour, whoever runs it), and
//! a period's trigger has a deterministic `event_id` (the layer and the period's start) and `ts` (the
//! period's start, the L2 pack's point in time). So:
//! * **replica-safe:** two orchestrators (or an orchestrator and `nl run`) publish the same message for a
//!   period; the bus drops the second (`Nats-Msg-Id`), and the ledger keeps one row;
//! * **durable:** the timer is not a process's uptime: a (re)started scheduler publishes the period it
//!   starts in at once, so a restart never skips a period, and a period already answered costs no call
//!   (the same pack at the same point in time is the same stored artifact, the same `ai.l2.completed`).

use std::sync::Arc;
use std::time::Duration;

use nl_bus::{Bus, CancellationToken, Clock, Message};
use nl_domain::{Envelope, EventType, RunIdentity, Ts};
use tracing::{info, warn};

/// The start of the period `now` falls in (periods of `every` from the Unix epoch).
#[must_use]
pub fn period_start(now: Ts, every: Duration) -> Ts {
    let secs = i64::try_from(every.as_secs().max(1)).unwrap_or(i64::MAX);
    let start = now.timestamp().div_euclid(secs) * secs;
    chrono::DateTime::from_timestamp(start, 0).unwrap_or(now)
}

/// The trigger of `layer` for the period starting at `start`.
#[must_use]
pub fn job_request(layer: &str, start: Ts, every: Duration, run: &RunIdentity) -> Envelope {
    let at = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let meta = serde_json::json!({"layer": layer, "period_start": at, "period_secs": every.as_secs(), "trigger": "schedule"});
    Envelope::new(EventType::AiJobRequested, &[layer, &at], start, &run.run_id, &run.config_hash, meta).with_source("orchestrator")
}

/// Publishes the L2 trigger of every period from now on, until `stop`; returns how many it published. A
/// failed publish is retried after `every / 60` (at least 1 s) within the same period.
pub async fn run(bus: Arc<dyn Bus>, clock: Arc<dyn Clock>, every: Duration, run: RunIdentity, stop: CancellationToken) -> u64 {
    let every = every.max(Duration::from_secs(1));
    let retry = (every / 60).max(Duration::from_secs(1));
    info!(every_secs = every.as_secs(), "AI job schedule running (L2 market regime).");
    let (mut published, mut last) = (0u64, None);
    loop {
        let now = clock.now();
        let start = period_start(now, every);
        let mut wait = (start + chrono::Duration::from_std(every).unwrap_or_default() - now).to_std().unwrap_or(Duration::ZERO);
        if last != Some(start) {
            let env = job_request("l2", start, every, &run);
            match bus.publish(Message::typed(env)).await {
                Ok(_) => {
                    published += 1;
                    last = Some(start);
                }
                Err(error) => {
                    warn!(%error, "Publishing the scheduled L2 trigger failed; retrying.");
                    wait = wait.min(retry);
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return published,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// The schedule's period when `ai` asks for one: AI active, L2 on, `regime_interval_secs > 0`.
#[must_use]
pub fn every(ai: &nl_ai_dispatch::AiConfig) -> Option<Duration> {
    (ai.active() && ai.layer_on("l2") && ai.regime_interval_secs > 0).then(|| Duration::from_secs(ai.regime_interval_secs))
}

/// Spawns [`run`] on the wall clock when `ai` asks for a schedule.
#[must_use]
pub fn spawn(ai: &nl_ai_dispatch::AiConfig, bus: &Arc<dyn Bus>, run_id: &RunIdentity, stop: &CancellationToken) -> Option<tokio::task::JoinHandle<u64>> {
    let every = every(ai)?;
    Some(tokio::spawn(run(Arc::clone(bus), Arc::new(nl_bus::SystemClock), every, run_id.clone(), stop.clone())))
}
