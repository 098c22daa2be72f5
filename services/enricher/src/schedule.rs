//! The bounded tracked set behind re-snapshots: each tracked asset (on-chain, or a CEX listing with the pair
//! whose ticker gives its market values) has an age and a next due time set by its age tier. When the set
//! is full the oldest-tracked asset is evicted (explicit, counted load shedding); past the configured
//! maximum age an asset stops being tracked.
//!
//! Each entry also keeps the market facts of the asset's last published snapshot and when it was
//! published, so a round can skip a re-snapshot that says nothing new ([`Schedule::unchanged`]).
//!
//! Time is `tokio::time::Instant`, so the schedule runs on a paused clock in tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use nl_adapters::cex::ticker_client::TickerRef;
use nl_domain::{AssetId, Decimal};
use tokio::time::Instant;

use crate::change::MarketFacts;
use crate::config::ScheduleConfig;

#[derive(Debug, Clone)]
struct Entry {
    /// Insertion order: the smallest is the oldest-tracked.
    seq: u64,
    tracked_at: Instant,
    /// The asset's age when it started being tracked.
    age_at_track: Duration,
    /// `None` while a round is re-fetching it.
    next_due: Option<Instant>,
    /// The CEX pair to look up; `None` for on-chain assets.
    pair: Option<TickerRef>,
    /// The facts of the last published snapshot and when it was published.
    published: Option<(MarketFacts, Instant)>,
}

/// What [`Schedule::track`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    /// Newly tracked; `evicted` is the oldest-tracked asset shed to make room.
    Added { evicted: Option<AssetId> },
    /// Already tracked; its schedule is kept.
    Known,
    /// Older than `stop_after`: not tracked.
    TooOld,
}

/// A due asset taken by [`Schedule::take_due`], with its age at the time it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub asset: AssetId,
    /// Age of the asset at the time the round took it.
    pub age: Duration,
    /// The CEX pair to look up; `None` for on-chain assets.
    pub pair: Option<TickerRef>,
}

/// The tracked set. Not thread-safe by itself; the service keeps it behind a mutex and never holds the
/// lock across an await.
#[derive(Debug)]
pub struct Schedule {
    cfg: ScheduleConfig,
    tolerance: Decimal,
    max_tracked: usize,
    entries: HashMap<AssetId, Entry>,
    by_seq: BTreeMap<u64, AssetId>,
    queue: BTreeSet<(Instant, u64)>,
    next_seq: u64,
    shed_total: u64,
    expired_total: u64,
}

impl Schedule {
    /// An empty schedule holding at most `max_tracked` assets (at least one).
    #[must_use]
    pub fn new(cfg: ScheduleConfig, max_tracked: usize) -> Self {
        Self {
            tolerance: cfg.tolerance(),
            cfg,
            max_tracked: max_tracked.max(1),
            entries: HashMap::new(),
            by_seq: BTreeMap::new(),
            queue: BTreeSet::new(),
            next_seq: 0,
            shed_total: 0,
            expired_total: 0,
        }
    }

    /// Starts tracking `asset` (a CEX listing with the `pair` to look up), whose age at `now` is `age`; its
    /// first re-snapshot is one tier interval after `now` (the caller has just taken a snapshot).
    pub fn track(&mut self, asset: AssetId, age: Duration, now: Instant, pair: Option<TickerRef>) -> Tracked {
        if self.entries.contains_key(&asset) {
            return Tracked::Known;
        }
        if age > self.cfg.stop_after() {
            return Tracked::TooOld;
        }
        let evicted = if self.entries.len() >= self.max_tracked { self.evict_oldest() } else { None };
        let seq = self.next_seq;
        self.next_seq += 1;
        let due = now + self.cfg.interval_for(age);
        self.entries.insert(asset.clone(), Entry { seq, tracked_at: now, age_at_track: age, next_due: Some(due), pair, published: None });
        self.by_seq.insert(seq, asset);
        self.queue.insert((due, seq));
        Tracked::Added { evicted }
    }

    fn evict_oldest(&mut self) -> Option<AssetId> {
        let (_, asset) = self.by_seq.pop_first()?;
        self.remove_entry(&asset);
        self.shed_total += 1;
        Some(asset)
    }

    fn remove_entry(&mut self, asset: &AssetId) -> bool {
        let Some(e) = self.entries.remove(asset) else { return false };
        self.by_seq.remove(&e.seq);
        if let Some(due) = e.next_due {
            self.queue.remove(&(due, e.seq));
        }
        true
    }

    /// Stops tracking `asset`; returns whether it was tracked.
    pub fn untrack(&mut self, asset: &AssetId) -> bool {
        self.remove_entry(asset)
    }

    /// The earliest due time, if anything is scheduled.
    #[must_use]
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.first().map(|(t, _)| *t)
    }

    /// Takes up to `max` assets due at `now`, earliest first. They stay tracked, unscheduled until
    /// [`Schedule::reschedule`].
    pub fn take_due(&mut self, now: Instant, max: usize) -> Vec<Due> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(&(due, seq)) = self.queue.first() else { break };
            if due > now {
                break;
            }
            self.queue.pop_first();
            let Some(asset) = self.by_seq.get(&seq).cloned() else { continue };
            if let Some(e) = self.entries.get_mut(&asset) {
                e.next_due = None;
                let age = e.age_at_track + now.saturating_duration_since(e.tracked_at);
                out.push(Due { asset, age, pair: e.pair.clone() });
            }
        }
        out
    }

    /// Schedules the next re-snapshot of `asset` one tier interval after `at` (the time its round was
    /// taken), or stops tracking it when that would be past `stop_after`. Returns whether it is still
    /// tracked. An asset evicted meanwhile stays gone.
    pub fn reschedule(&mut self, asset: &AssetId, at: Instant) -> bool {
        let stop_after = self.cfg.stop_after();
        let Some(e) = self.entries.get_mut(asset) else { return false };
        let age = e.age_at_track + at.saturating_duration_since(e.tracked_at);
        let due = at + self.cfg.interval_for(age);
        let age_then = e.age_at_track + due.saturating_duration_since(e.tracked_at);
        if age_then > stop_after {
            self.remove_entry(asset);
            self.expired_total += 1;
            return false;
        }
        if let Some(old) = e.next_due.replace(due) {
            self.queue.remove(&(old, e.seq));
        }
        self.queue.insert((due, e.seq));
        true
    }

    /// Moves the next re-snapshot of a tracked `asset` to `due` (a deferred launch's first enrichment);
    /// returns whether it is tracked.
    pub fn defer(&mut self, asset: &AssetId, due: Instant) -> bool {
        let Some(e) = self.entries.get_mut(asset) else { return false };
        if let Some(old) = e.next_due.replace(due) {
            self.queue.remove(&(old, e.seq));
        }
        self.queue.insert((due, e.seq));
        true
    }

    /// Whether a snapshot of `asset` was ever published (a deferred launch has none until enriched).
    #[must_use]
    pub fn was_published(&self, asset: &AssetId) -> bool {
        self.entries.get(asset).is_some_and(|e| e.published.is_some())
    }

    /// Records that a snapshot of `asset` with `facts` was published at `at` (ignored when untracked).
    pub fn published(&mut self, asset: &AssetId, facts: MarketFacts, at: Instant) {
        if let Some(e) = self.entries.get_mut(asset) {
            e.published = Some((facts, at));
        }
    }

    /// Whether a re-snapshot of `asset` with `facts` at `now` says nothing new: the asset has a published
    /// snapshot less than `max_quiet_secs` old and no fact moved beyond the tolerance since.
    #[must_use]
    pub fn unchanged(&self, asset: &AssetId, facts: &MarketFacts, now: Instant) -> bool {
        let Some((last, at)) = self.entries.get(asset).and_then(|e| e.published.as_ref()) else { return false };
        now.saturating_duration_since(*at) < self.cfg.max_quiet() && !facts.moved_from(last, self.tolerance)
    }

    /// Tracked assets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `asset` is tracked.
    #[must_use]
    pub fn contains(&self, asset: &AssetId) -> bool {
        self.entries.contains_key(asset)
    }

    /// Assets evicted because the set was full.
    #[must_use]
    pub fn shed_total(&self) -> u64 {
        self.shed_total
    }

    /// Assets that aged out.
    #[must_use]
    pub fn expired_total(&self) -> u64 {
        self.expired_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> AssetId {
        AssetId::parse(&format!("eth:0x{:040x}", n)).expect("id")
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn full_set_evicts_oldest_tracked_and_counts() {
        let now = Instant::now();
        let mut s = Schedule::new(ScheduleConfig::default(), 2);
        assert_eq!(s.track(id(1), MIN, now, None), Tracked::Added { evicted: None });
        assert_eq!(s.track(id(2), MIN, now, None), Tracked::Added { evicted: None });
        assert_eq!(s.track(id(1), MIN, now, None), Tracked::Known, "re-observing does not reorder");
        assert_eq!(s.track(id(3), MIN, now, None), Tracked::Added { evicted: Some(id(1)) });
        assert_eq!(s.track(id(4), MIN, now, None), Tracked::Added { evicted: Some(id(2)) });
        assert_eq!((s.len(), s.shed_total()), (2, 2));
        assert!(s.contains(&id(3)) && s.contains(&id(4)));
        assert_eq!(s.take_due(now + MIN, 10).len(), 2, "evicted entries left no timers behind");
    }

    #[test]
    fn tiers_drive_due_times_and_old_assets_age_out() {
        let t0 = Instant::now();
        let mut s = Schedule::new(ScheduleConfig::default(), 10);
        s.track(id(1), 59 * MIN, t0, None);
        assert_eq!(s.next_due(), Some(t0 + MIN));
        assert!(s.take_due(t0 + MIN - Duration::from_millis(1), 10).is_empty());
        let due = s.take_due(t0 + MIN, 10);
        assert_eq!(due, vec![Due { asset: id(1), age: 60 * MIN, pair: None }]);
        assert_eq!(s.next_due(), None, "in flight");
        assert!(s.reschedule(&id(1), t0 + MIN));
        assert_eq!(s.next_due(), Some(t0 + 6 * MIN), "60 min old: every 300 s");

        assert_eq!(s.track(id(2), 7 * 24 * 60 * MIN + MIN, t0, None), Tracked::TooOld);
        s.track(id(3), (7 * 24 * 60 - 90) * MIN, t0, None);
        let t1 = t0 + 60 * MIN;
        assert!(s.take_due(t1, 10).iter().any(|d| d.asset == id(3)));
        assert!(!s.reschedule(&id(3), t1), "the next one would be past 7 days");
        assert!(!s.contains(&id(3)));
        assert_eq!(s.expired_total(), 1);
    }

    #[test]
    fn take_due_is_bounded_and_earliest_first() {
        let t0 = Instant::now();
        let mut s = Schedule::new(ScheduleConfig::default(), 10);
        s.track(id(1), 2 * 60 * MIN, t0, None);
        s.track(id(2), MIN, t0, None);
        let due = s.take_due(t0 + 10 * MIN, 1);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].asset, id(2));
        assert_eq!(s.take_due(t0 + 10 * MIN, 5).len(), 1);
    }
}
