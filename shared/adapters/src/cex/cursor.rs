//! Announcement cursor: which announcements were already handled, so a poll, a duplicate push or a restart
//! never alerts the same article twice, and a first start does not alert the whole back catalogue.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use nl_domain::Ts;

use super::types::Announcement;

/// Default number of announcement ids remembered per source.
pub const DEFAULT_CAPACITY: usize = 2000;

/// A bounded, insertion-ordered set of announcement ids; the oldest id is evicted beyond `capacity`.
/// Serializes as `{capacity, ids}` (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SeenRepr", into = "SeenRepr")]
pub struct SeenAnnouncements {
    capacity: usize,
    order: VecDeque<String>,
    index: HashSet<String>,
}

#[derive(Serialize, Deserialize)]
struct SeenRepr {
    capacity: usize,
    ids: Vec<String>,
}

impl From<SeenRepr> for SeenAnnouncements {
    fn from(r: SeenRepr) -> Self {
        let mut s = Self::new(r.capacity);
        for id in r.ids {
            s.insert(id);
        }
        s
    }
}

impl From<SeenAnnouncements> for SeenRepr {
    fn from(s: SeenAnnouncements) -> Self {
        Self { capacity: s.capacity, ids: s.order.into_iter().collect() }
    }
}

impl Default for SeenAnnouncements {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl SeenAnnouncements {
    /// An empty set keeping at most `capacity` ids (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), order: VecDeque::new(), index: HashSet::new() }
    }

    /// Whether `id` is remembered.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains(id)
    }

    /// Remembers `id`; returns false if it was already known. Evicts the oldest id beyond capacity.
    pub fn insert(&mut self, id: String) -> bool {
        if self.index.contains(&id) {
            return false;
        }
        self.index.insert(id.clone());
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.index.remove(&old);
            }
        }
        true
    }

    /// Number of ids remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// How announcements are selected for alerting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncementPolicy {
    /// Ids remembered per source.
    pub capacity: usize,
    /// On the first run (no cursor yet), announcements published within this window are still reported.
    /// Afterwards every unseen announcement is reported whatever its age: articles published while nl was
    /// down are listings it must not lose (issue #15).
    pub baseline_lookback: chrono::Duration,
}

impl Default for AnnouncementPolicy {
    fn default() -> Self {
        Self { capacity: DEFAULT_CAPACITY, baseline_lookback: chrono::Duration::minutes(10) }
    }
}

/// Result of [`select_new_announcements`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnnouncementSelection {
    /// Announcements to alert, in input order.
    pub new: Vec<Announcement>,
    /// Cursor to persist.
    pub next: SeenAnnouncements,
    /// True when this call established the baseline.
    pub baseline: bool,
}

/// Picks the announcements not seen before. With no cursor (first run) every id is recorded and only those
/// published within `policy.baseline_lookback` of `now` are reported; undated ones are not. Afterwards every
/// id not seen before is reported, whatever its age (downtime backfill). Ids repeated within one batch are
/// reported once.
#[must_use]
pub fn select_new_announcements(
    seen: Option<&SeenAnnouncements>,
    batch: &[Announcement],
    now: Ts,
    policy: &AnnouncementPolicy,
) -> AnnouncementSelection {
    let baseline = seen.is_none();
    let mut next = seen.cloned().unwrap_or_else(|| SeenAnnouncements::new(policy.capacity));
    let recent = |a: &Announcement| a.published_at.is_some_and(|p| now - p <= policy.baseline_lookback);
    let mut new = Vec::new();
    for a in batch {
        if !next.insert(a.id.clone()) {
            continue;
        }
        if !baseline || recent(a) {
            new.push(a.clone());
        }
    }
    AnnouncementSelection { new, next, baseline }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(s: i64) -> Ts {
        chrono::Utc.timestamp_opt(1_790_000_000 + s, 0).single().unwrap()
    }

    fn ann(id: &str, published: Option<Ts>) -> Announcement {
        Announcement::from_title("binance", id.into(), "Binance Will List Gnosis (GNO)".into(), None, published)
    }

    #[test]
    fn first_run_reports_only_recent() {
        let batch = vec![ann("a", Some(t(-60))), ann("b", Some(t(-86_400))), ann("c", None)];
        let sel = select_new_announcements(None, &batch, t(0), &AnnouncementPolicy::default());
        assert!(sel.baseline);
        assert_eq!(sel.new.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(sel.next.len(), 3);
    }

    #[test]
    fn afterwards_only_unseen_and_duplicates_once() {
        let p = AnnouncementPolicy::default();
        let first = select_new_announcements(None, &[ann("a", Some(t(-86_400)))], t(0), &p);
        let batch = vec![ann("a", Some(t(-86_400))), ann("d", Some(t(10))), ann("d", Some(t(10))), ann("undated", None)];
        let sel = select_new_announcements(Some(&first.next), &batch, t(20), &p);
        assert_eq!(sel.new.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["d", "undated"]);
        assert!(sel.next.contains("undated"));
    }

    /// Issue #15: after the first poll everything not yet seen is new, whatever its age, so an article
    /// published during four days of downtime is still reported (the first poll's lookback alone is bounded).
    #[test]
    fn after_the_baseline_an_unseen_article_of_any_age_is_new() {
        let p = AnnouncementPolicy::default();
        let first = select_new_announcements(None, &[ann("a", Some(t(-60)))], t(0), &p);
        let batch = vec![ann("a", Some(t(-60))), ann("four-days", Some(t(-4 * 86_400))), ann("month", Some(t(-30 * 86_400)))];
        let sel = select_new_announcements(Some(&first.next), &batch, t(20), &p);
        assert_eq!(sel.new.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["four-days", "month"]);
        let fresh = select_new_announcements(None, &batch, t(20), &p);
        assert_eq!(fresh.new.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a"], "the first poll keeps its lookback");
    }

    #[test]
    fn restart_never_realerts() {
        let p = AnnouncementPolicy { capacity: 2000, baseline_lookback: Duration::minutes(10) };
        let batch = vec![ann("a", Some(t(-60))), ann("b", Some(t(-30)))];
        let first = select_new_announcements(None, &batch, t(0), &p);
        assert_eq!(first.new.len(), 2);
        let stored = serde_json::to_string(&first.next).unwrap();
        let restored: SeenAnnouncements = serde_json::from_str(&stored).unwrap();
        assert_eq!(restored, first.next);
        let again = select_new_announcements(Some(&restored), &batch, t(5), &p);
        assert!(again.new.is_empty() && !again.baseline);
    }

    #[test]
    fn bounded_eviction() {
        let mut s = SeenAnnouncements::new(2);
        assert!(s.insert("a".into()) && s.insert("b".into()) && s.insert("c".into()));
        assert!(!s.contains("a") && s.contains("b") && s.contains("c"));
        assert!(!s.insert("c".into()));
        assert_eq!(s.len(), 2);
    }
}
