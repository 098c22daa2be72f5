//! In-cycle retries for `nl run-cycle`: a one-shot cycle has no next tick, so a transient failure would
//! blind it. Each source is polled, and polled again when that can help within the cycle:
//!
//! * a 429/418 whose `Retry-After` is at most [`CyclePolicy::max_wait`]: wait it out, then retry once;
//! * an unparseable or truncated body, or an implausible snapshot: up to [`CyclePolicy::retries`] more
//!   polls with jittered backoff (5xx, timeouts and transport errors are already retried inside the HTTP
//!   client, `max_attempts`, with jittered backoff);
//! * a source whose rate budget is (or becomes) paused for longer than `max_wait` (a ban on a shared
//!   provider budget) fails now, by name, with the ban's expiry, instead of stalling the cycle.
//!
//! Every attempt is committed as usual (its raws, failed responses included, are published), so nothing
//! is lost; the report's `errors` are those of the last attempt, earlier ones are in `retried`.
//! `nl run` does not use this: there the next tick is the retry.

use std::sync::Arc;
use std::time::Duration;

use nl_adapters::kit::Backoff;
use nl_adapters::Source;
use nl_domain::Ts;

use crate::known::{KnownAssets, ListsFirst};
use crate::runtime::{CollectorCtx, PollReport, SourceCounters, commit, fetch};

/// Default of [`CyclePolicy::max_wait`], seconds.
pub const DEFAULT_MAX_IN_CYCLE_WAIT_SECS: u64 = 10;

/// How a cycle retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CyclePolicy {
    /// The longest rate-limit wait a cycle sits through (`max_in_cycle_wait_secs`).
    pub max_wait: Duration,
    /// Extra polls after an unparseable body or implausible snapshot.
    pub retries: u32,
    /// Backoff between those polls.
    pub backoff: Backoff,
}

impl Default for CyclePolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_secs(DEFAULT_MAX_IN_CYCLE_WAIT_SECS),
            retries: 2,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(4)),
        }
    }
}

impl CyclePolicy {
    /// The default policy with `max_in_cycle_wait_secs`.
    #[must_use]
    pub fn with_max_wait_secs(secs: u64) -> Self {
        Self { max_wait: Duration::from_secs(secs), ..Self::default() }
    }
}

/// How long into a cycle "every source failed to resolve or connect" means "no network" (the first
/// attempts of every source, an unroutable address's connect timeout included). After that, sources
/// retry as usual.
pub const NO_NETWORK_WINDOW: Duration = Duration::from_secs(30);

/// The reports of a cycle's polls, in source order.
#[derive(Debug, Clone, Default)]
pub struct CycleReports {
    pub reports: Vec<PollReport>,
    /// Set when polling stopped because no source could resolve or connect: the first such error.
    pub no_network: Option<String>,
}

/// The error of a source a "no network" verdict stopped.
pub(crate) fn no_network_error(source: &str, first_error: &str) -> String {
    format!("{source}: no network: every source failed to resolve or connect and none answered ({}); not retrying", nl_adapters::kit::quote::quote(first_error))
}

/// What the last attempt calls for.
enum Next {
    Done,
    Wait(Duration),
}

/// Polls `source` once, retrying within the cycle as `policy` allows (see the module docs). An
/// announcement feed commits only after `order`'s instrument lists are done.
pub(crate) async fn poll_with_retries(
    source: &dyn Source,
    ctx: &CollectorCtx,
    counters: Arc<SourceCounters>,
    (known, order): (&KnownAssets, &ListsFirst),
    now: Ts,
    policy: CyclePolicy,
) -> PollReport {
    let name = source.name();
    let _done = order.done_on_drop(name);
    let mut total = PollReport { source: name.to_string(), ..PollReport::default() };
    let (mut waited_rate_limit, mut retries) = (false, 0);
    loop {
        if let Some(error) = ban_error(source, policy.max_wait) {
            total.errors.push(error);
            return total;
        }
        // Subscribed before the fetch starts, so a ban another source sets meanwhile is seen.
        let pauses = source.budget_pauses();
        let fetched = tokio::select! {
            biased;
            f = fetch(source, ctx, &counters, now) => f,
            () = watch_budget(source, pauses, policy.max_wait) => match ban_error(source, policy.max_wait) {
                Some(error) => {
                    total.errors.push(error);
                    return total;
                }
                None => continue,
            },
        };
        let report = match fetched {
            Ok(outcome) => {
                let reparse = outcome.errors.iter().any(|e| matches!(e, nl_adapters::PollError::Parse { .. } | nl_adapters::PollError::Implausible { .. }));
                order.wait_for(source).await;
                let r = commit(name, outcome, ctx, &counters, Some(known), now).await;
                (r, reparse)
            }
            Err(r) => (r, false),
        };
        let (report, reparse) = report;
        let next = match report.retry_after {
            Some(wait) if report.not_committed.is_none() && !waited_rate_limit && wait <= policy.max_wait => {
                waited_rate_limit = true;
                Next::Wait(wait)
            }
            Some(wait) if wait > policy.max_wait => {
                let mut r = report;
                // First, so the cycle's summary line shows the expiry.
                r.errors.insert(0, format!(
                    "{name}: rate limited until {} ({}s), longer than max_in_cycle_wait_secs = {}; not waiting in this cycle",
                    expiry(wait),
                    wait.as_secs(),
                    policy.max_wait.as_secs()
                ));
                absorb(&mut total, r);
                return total;
            }
            _ if reparse && retries < policy.retries => {
                retries += 1;
                Next::Wait(policy.backoff.delay(retries - 1))
            }
            _ => Next::Done,
        };
        absorb(&mut total, report);
        match next {
            Next::Done => return total,
            Next::Wait(d) => {
                total.retried.append(&mut total.errors);
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// Adds one attempt's counts and outcome to the cycle's report.
fn absorb(total: &mut PollReport, r: PollReport) {
    total.raws += r.raws;
    total.new += r.new;
    total.updated += r.updated;
    total.retracted += r.retracted;
    total.delisted += r.delisted;
    total.retry_after = total.retry_after.max(r.retry_after);
    total.errors = r.errors;
    total.not_committed = r.not_committed;
}

/// Resolves when the source's budget is paused for longer than the cycle may wait (never otherwise): it
/// wakes on each pause the budget announces, not on a timer.
async fn watch_budget(source: &dyn Source, pauses: Option<tokio::sync::watch::Receiver<u64>>, max_wait: Duration) {
    if let Some(mut pauses) = pauses {
        while pauses.changed().await.is_ok() {
            if source.budget_paused_for().is_some_and(|p| p > max_wait) {
                return;
            }
        }
    }
    std::future::pending::<()>().await;
}

/// The error of a source whose rate budget is paused past `max_wait`, naming it and the pause's end.
fn ban_error(source: &dyn Source, max_wait: Duration) -> Option<String> {
    let paused = source.budget_paused_for().filter(|p| *p > max_wait)?;
    Some(format!(
        "{}: rate budget paused until {} ({}s, a ban or Retry-After on its provider), longer than max_in_cycle_wait_secs = {}; not waiting in this cycle",
        source.name(),
        expiry(paused),
        paused.as_secs(),
        max_wait.as_secs()
    ))
}

/// When a wait of `d` from now ends (RFC 3339, seconds).
fn expiry(d: Duration) -> String {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| chrono::Utc::now().checked_add_signed(d))
        .map_or_else(|| "the far future".to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
#[path = "cycle_tests.rs"]
mod tests;
