//! The events other events cite (snapshots, risk evaluations, asset upserts: those with a
//! [`nl_domain::stored::cited_view`]) that the writer committed recently, by id, so a batch's citations are
//! checked against them instead of being read back from SQLite and rebuilt (`rebuild::envelopes`).
//!
//! Only envelopes that the writer's own transaction inserted go in, and only after it committed: each is
//! then exactly what its stored rows rebuild to (the ledger keeps what it was published as, and the
//! rebuild is tested equal to it), so a hit answers as the read-back would. The cache is bounded
//! ([`CITED_CACHE_ENTRIES`]; the oldest is forgotten first) and owned by the writer task alone. A miss
//! falls back to the read-back. Hits and misses are counted (`nl_ledger_cited_lookups_total`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nl_domain::stored::cited_view;
use nl_domain::{BoundedMap, Envelope};

/// Cited events the writer remembers: a snapshot and an evaluation per listing for several seconds of a
/// pipeline at 2,000 listings/s (a score usually commits within a few batches of what it cites).
pub const CITED_CACHE_ENTRIES: usize = 16_384;

/// Citations looked up in the cache, found or not.
#[derive(Debug, Default)]
pub struct CitedCounts {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

/// Recently committed cited events, by id.
pub(crate) struct CitedCache {
    envs: BoundedMap<String, Arc<Envelope>>,
    counts: Arc<CitedCounts>,
}

impl CitedCache {
    pub(crate) fn new(entries: usize, counts: Arc<CitedCounts>) -> Self {
        Self { envs: BoundedMap::new(entries), counts }
    }

    /// The committed event `id`, when remembered; counted as a hit or a miss.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<Envelope>> {
        let found = self.envs.get(&id.to_string());
        let counter = if found.is_some() { &self.counts.hits } else { &self.counts.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers the envelopes of a committed transaction that it inserted (`inserted[i]` for `envs[i]`)
    /// and that other events may cite.
    pub(crate) fn committed(&mut self, envs: &[Arc<Envelope>], inserted: &[bool]) {
        for (env, _) in envs.iter().zip(inserted).filter(|(e, new)| **new && cited_view(e.kind, &e.meta).is_some()) {
            self.envs.insert(env.event_id.0.clone(), Arc::clone(env));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use nl_domain::EventType;
    use serde_json::json;

    use super::*;

    fn env(kind: EventType, id: &str) -> Arc<Envelope> {
        Arc::new(Envelope::new(kind, &[id], chrono::Utc::now(), "r", "c", json!({"sighting": {"venue": "okx"}, "x": 1})))
    }

    #[test]
    fn remembers_only_inserted_cited_events_and_counts_lookups() {
        let counts = Arc::new(CitedCounts::default());
        let mut c = CitedCache::new(2, Arc::clone(&counts));
        let (snap, risk, dup, score) =
            (env(EventType::SnapshotRecorded, "s"), env(EventType::RiskEvaluated, "r"), env(EventType::RiskEvaluated, "d"), env(EventType::ScoreComputed, "x"));
        c.committed(&[Arc::clone(&snap), Arc::clone(&risk), Arc::clone(&dup), Arc::clone(&score)], &[true, true, false, true]);
        assert!(c.get(snap.event_id.as_str()).is_some() && c.get(risk.event_id.as_str()).is_some());
        assert!(c.get(dup.event_id.as_str()).is_none(), "a duplicate was not inserted by this transaction");
        assert!(c.get(score.event_id.as_str()).is_none(), "scores are never cited");
        let upsert = env(EventType::AssetUpserted, "u");
        c.committed(&[Arc::clone(&upsert)], &[true]);
        assert!(c.get(upsert.event_id.as_str()).is_some() && c.get(snap.event_id.as_str()).is_none(), "bounded: the oldest is forgotten");
        assert_eq!((counts.hits.load(Ordering::Relaxed), counts.misses.load(Ordering::Relaxed)), (3, 3));
    }
}
