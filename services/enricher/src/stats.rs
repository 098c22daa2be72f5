//! The enricher's fixed counter set: `received`, `published`, `errors{stage}`, `dropped{reason}`, and the
//! tracked-set gauge with its shed counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Live counters; cheap to update from any task.
#[derive(Debug, Default)]
pub struct EnricherStats {
    pub received: AtomicU64,
    pub published: AtomicU64,
    /// Published messages the bus already held (redeliveries, re-derivations).
    pub duplicates: AtomicU64,
    pub snapshots: AtomicU64,
    pub rescheduled_snapshots: AtomicU64,
    pub tracked: AtomicU64,
    pub shed_total: AtomicU64,
    errors: [AtomicU64; 4],
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
    pub tracked: u64,
    pub shed_total: u64,
    pub errors: BTreeMap<&'static str, u64>,
    pub dropped: BTreeMap<&'static str, u64>,
}

const STAGES: [(Stage, &str); 4] = [(Stage::Decode, "decode"), (Stage::Fetch, "fetch"), (Stage::Publish, "publish"), (Stage::Settle, "settle")];
const REASONS: [(Dropped, &str); 4] =
    [(Dropped::Undecodable, "undecodable"), (Dropped::UnexpectedType, "unexpected_type"), (Dropped::Shed, "shed"), (Dropped::Expired, "expired")];

impl EnricherStats {
    pub(crate) fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, stage: Stage) {
        let i = STAGES.iter().position(|(s, _)| *s == stage).unwrap_or(0);
        self.errors[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn drop_one(&self, reason: Dropped, n: u64) {
        let i = REASONS.iter().position(|(r, _)| *r == reason).unwrap_or(0);
        self.dropped[i].fetch_add(n, Ordering::Relaxed);
    }

    /// Errors counted at `stage`.
    #[must_use]
    pub fn errors_at(&self, stage: Stage) -> u64 {
        STAGES.iter().position(|(s, _)| *s == stage).map_or(0, |i| self.errors[i].load(Ordering::Relaxed))
    }

    /// Drops counted for `reason`.
    #[must_use]
    pub fn dropped_for(&self, reason: Dropped) -> u64 {
        REASONS.iter().position(|(r, _)| *r == reason).map_or(0, |i| self.dropped[i].load(Ordering::Relaxed))
    }

    /// The current values.
    #[must_use]
    pub fn snapshot(&self) -> EnricherCounts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EnricherCounts {
            received: g(&self.received),
            published: g(&self.published),
            duplicates: g(&self.duplicates),
            snapshots: g(&self.snapshots),
            rescheduled_snapshots: g(&self.rescheduled_snapshots),
            tracked: g(&self.tracked),
            shed_total: g(&self.shed_total),
            errors: STAGES.iter().zip(&self.errors).map(|((_, n), c)| (*n, g(c))).collect(),
            dropped: REASONS.iter().zip(&self.dropped).map(|((_, n), c)| (*n, g(c))).collect(),
        }
    }
}
