//! What the kernel counts for every consuming service, and the fixed metric set it exports from it.
//!
//! The counters live in one [`ConsumerStats`] per service (the ledger's two consumers share one), so a
//! service's own counts and its metrics start from the same numbers whatever the service is.

use std::sync::atomic::{AtomicU64, Ordering};

use nl_telemetry::Registry;
use serde::Serialize;

/// Live counters of a consumer, updated by the kernel.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Deliveries fetched.
    pub received: AtomicU64,
    /// Deliveries handled `Done` and acked (or whose ack was attempted) after their outputs were stored.
    pub done: AtomicU64,
    /// Outputs published (including duplicates the bus dropped).
    pub published: AtomicU64,
    /// Published outputs the bus already held (redeliveries, re-derivations).
    pub duplicates: AtomicU64,
    /// Deliveries NAKed: `Retry` outcomes, and `Done` ones whose outputs failed to publish.
    pub retried: AtomicU64,
    /// Deliveries that did not decode, terminated.
    pub undecodable: AtomicU64,
    /// Deliveries handled `Poison`, terminated.
    pub poison: AtomicU64,
    /// Failed `publish_batch` calls.
    pub publish_errors: AtomicU64,
    /// Acks, naks or terms the bus refused (it redelivers; ids make the retry harmless).
    pub settle_errors: AtomicU64,
}

/// A snapshot of [`ConsumerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ConsumerCounts {
    pub received: u64,
    pub done: u64,
    pub published: u64,
    pub duplicates: u64,
    pub retried: u64,
    pub undecodable: u64,
    pub poison: u64,
    pub publish_errors: u64,
    pub settle_errors: u64,
}

/// Help of `nl_received_total`.
pub const RECEIVED_HELP: &str = "Messages (or venue records) received.";
/// Help of `nl_published_total`.
pub const PUBLISHED_HELP: &str = "Outputs published or written.";
/// Help of `nl_errors_total`, for services that add stages of their own.
pub const ERRORS_HELP: &str = "Errors, by stage.";
/// Help of `nl_dropped_total`, for services that add reasons of their own.
pub const DROPPED_HELP: &str = "Inputs dropped on purpose (duplicates, poison, shed), by reason.";

impl ConsumerStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> ConsumerCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConsumerCounts {
            received: g(&self.received),
            done: g(&self.done),
            published: g(&self.published),
            duplicates: g(&self.duplicates),
            retried: g(&self.retried),
            undecodable: g(&self.undecodable),
            poison: g(&self.poison),
            publish_errors: g(&self.publish_errors),
            settle_errors: g(&self.settle_errors),
        }
    }

    /// Writes the fixed per-service set into `r`: `nl_received_total`, `nl_published_total`,
    /// `nl_errors_total{stage = publish | retry | settle}` and `nl_dropped_total{reason = undecodable |
    /// poison}`. A service adds its own stages and reasons with [`ERRORS_HELP`] / [`DROPPED_HELP`].
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        let c = self.snapshot();
        r.counter_set("nl_received_total", RECEIVED_HELP, &[], c.received as f64);
        r.counter_set("nl_published_total", PUBLISHED_HELP, &[], c.published as f64);
        for (stage, n) in [("publish", c.publish_errors), ("retry", c.retried), ("settle", c.settle_errors)] {
            r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", stage)], n as f64);
        }
        for (reason, n) in [("undecodable", c.undecodable), ("poison", c.poison)] {
            r.counter_set("nl_dropped_total", DROPPED_HELP, &[("reason", reason)], n as f64);
        }
    }
}
