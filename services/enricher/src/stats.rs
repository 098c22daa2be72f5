//! The enricher's fixed counter set: `received`, `published`, `errors{stage}`, `dropped{reason}` (the
//! first two and the publish and settle errors kept by the handler kernel), the tracked-set gauge with
//! its shed counter, and the re-snapshots skipped as unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nl_bus::handler::{DROPPED_HELP, ERRORS_HELP};
use nl_bus::{ConsumerStats, Registry};
use serde::Serialize;

/// Where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// An input could not be decoded (then terminated).
    Decode,
    /// A DexScreener or ticker lookup failed (the asset stays tracked and is retried by the schedule).
    Fetch,
    /// Publishing outputs failed (inputs nak'd; scheduled rounds retried).
    Publish,
    /// Acking/naking/terminating an input failed (the bus redelivers).
    Settle,
}

/// Why an input or a tracked asset was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not an envelope, or its meta is not a `ListingObservation`.
    Undecodable,
    /// An envelope of a type other than `listing.observed` / `listing.retracted`.
    UnexpectedType,
    /// Evicted from the full tracked set (load shedding).
    Shed,
    /// Aged out of the schedule.
    Expired,
}

/// Live counters; cheap to update from any task. Received, published, publish and settle errors are the
/// kernel's ([`ConsumerStats`]); the scheduler's publishes count there too.
#[derive(Debug, Default)]
pub struct EnricherStats {
    pub consumer: Arc<ConsumerStats>,
    pub snapshots: AtomicU64,
    pub rescheduled_snapshots: AtomicU64,
    /// Re-snapshots not published because no fact moved beyond the tolerance (see `crate::change`).
    pub unchanged: AtomicU64,
    pub tracked: AtomicU64,
    pub shed_total: AtomicU64,
    /// Launches whose enrichment waits for `enrich_after_secs` (the minimum-activity filter).
    pub deferred: AtomicU64,
    /// Deferred launches enriched early because their source reported them active (`enrich_after_trades`).
    pub activated: AtomicU64,
    /// Deferred launches re-derived from the ledger on start (a restart lost the in-memory schedule).
    pub resumed: AtomicU64,
    /// Decode and fetch errors (publish and settle errors are the kernel's).
    errors: [AtomicU64; 2],
    dropped: [AtomicU64; 4],
}

/// A point-in-time copy of [`EnricherStats`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EnricherCounts {
    pub received: u64,
    pub published: u64,
    pub duplicates: u64,
    pub snapshots: u64,
    pub rescheduled_snapshots: u64,
    pub unchanged: u64,
    pub tracked: u64,
    pub shed_total: u64,
    pub deferred: u64,
    pub activated: u64,
    pub resumed: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub dropped: BTreeMap<&'static str, u64>,
}

const OWN_STAGES: [(Stage, &str); 2] = [(Stage::Decode, "decode"), (Stage::Fetch, "fetch")];
const REASONS: [(Dropped, &str); 4] =
    [(Dropped::Undecodable, "undecodable"), (Dropped::UnexpectedType, "unexpected_type"), (Dropped::Shed, "shed"), (Dropped::Expired, "expired")];

impl EnricherStats {
    pub(crate) fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, stage: Stage) {
        match stage {
            Stage::Publish => Self::add(&self.consumer.publish_errors, 1),
            Stage::Settle => Self::add(&self.consumer.settle_errors, 1),
            Stage::Decode | Stage::Fetch => {
                let i = OWN_STAGES.iter().position(|(s, _)| *s == stage).unwrap_or(0);
                self.errors[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn drop_one(&self, reason: Dropped, n: u64) {
        let i = REASONS.iter().position(|(r, _)| *r == reason).unwrap_or(0);
        self.dropped[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Errors counted at `stage`.
    #[must_use]
    pub fn errors_at(&self, stage: Stage) -> u64 {
        match stage {
            Stage::Publish => self.consumer.publish_errors.load(Ordering::Relaxed),
            Stage::Settle => self.consumer.settle_errors.load(Ordering::Relaxed),
            Stage::Decode | Stage::Fetch => OWN_STAGES.iter().position(|(s, _)| *s == stage).map_or(0, |i| self.errors[i].load(Ordering::Relaxed)),
        }
    }

    /// Drops counted for `reason`.
    #[must_use]
    pub fn dropped_for(&self, reason: Dropped) -> u64 {
        REASONS.iter().position(|(r, _)| *r == reason).map_or(0, |i| self.dropped[i].load(Ordering::Relaxed))
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> EnricherCounts {
        let c = self.consumer.snapshot();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut errors: BTreeMap<&'static str, u64> = OWN_STAGES.iter().zip(&self.errors).map(|((_, n), c)| (*n, g(c))).collect();
        errors.extend([("publish", c.publish_errors), ("settle", c.settle_errors)]);
        EnricherCounts {
            received: c.received,
            published: c.published,
            duplicates: c.duplicates,
            snapshots: g(&self.snapshots),
            rescheduled_snapshots: g(&self.rescheduled_snapshots),
            unchanged: g(&self.unchanged),
            tracked: g(&self.tracked),
            shed_total: g(&self.shed_total),
            deferred: g(&self.deferred),
            activated: g(&self.activated),
            resumed: g(&self.resumed),
            errors,
            dropped: REASONS.iter().zip(&self.dropped).map(|((_, n), c)| (*n, g(c))).collect(),
        }
    }

    /// The kernel's fixed metric set (every undecodable input, foreign types included, counts as
    /// `dropped{reason="undecodable"}`) plus the enricher's own errors and drops, the tracked-set gauge
    /// `nl_enricher_snapshots_total` and `nl_enricher_unchanged_total`.
    #[allow(clippy::cast_precision_loss)]
    pub fn export(&self, r: &Registry) {
        self.consumer.export(r);
        let c = self.snapshot();
        for (_, stage) in OWN_STAGES {
            r.counter_set("nl_errors_total", ERRORS_HELP, &[("stage", stage)], c.errors.get(stage).copied().unwrap_or(0) as f64);
        }
        for reason in ["unexpected_type", "shed", "expired"] {
            r.counter_set("nl_dropped_total", DROPPED_HELP, &[("reason", reason)], c.dropped.get(reason).copied().unwrap_or(0) as f64);
        }
        r.gauge_set("nl_enricher_tracked", "Assets on the refresh schedule.", &[], c.tracked as f64);
        r.counter_set("nl_enricher_snapshots_total", "Market snapshots taken.", &[], c.snapshots as f64);
        r.counter_set("nl_enricher_unchanged_total", "Re-snapshots not published: no fact moved beyond the tolerance.", &[], c.unchanged as f64);
        r.counter_set("nl_enricher_deferred_total", "Launches whose enrichment waited for enrich_after_secs.", &[], c.deferred as f64);
        r.counter_set("nl_enricher_activated_total", "Deferred launches enriched early: their source reported enrich_after_trades trades.", &[], c.activated as f64);
        r.counter_set("nl_enricher_resumed_total", "Deferred launches re-derived from the ledger on start.", &[], c.resumed as f64);
    }
}
