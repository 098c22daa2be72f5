//! MemoryBus compaction: dropping messages every matching consumer has settled, so the store (and the
//! encoded JSON it holds) does not grow with a run.

use super::{Consumer, State, is_dlq};
use crate::subject::subject_matches;

impl State {
    /// Drops messages that every matching consumer has settled. Incremental: each sequence is examined
    /// once, so calling this on every publish at the bound stays amortised O(1).
    pub(super) fn compact(&mut self) {
        let Some(floor) = self.consumers.values().map(Consumer::floor).min() else { return };
        if floor <= self.compact_cursor {
            return;
        }
        let consumers = &self.consumers;
        let done: Vec<u64> = self
            .msgs
            .range(self.compact_cursor..floor)
            .filter(|(_, m)| consumers.values().any(|c| subject_matches(&c.spec.filter_subject, &m.subject)))
            .map(|(s, _)| *s)
            .collect();
        self.remove_settled(done);
        self.compact_cursor = floor;
    }

    /// [`Self::compact`], then also drops the settled messages above the slowest consumer's floor: each one
    /// whose every matching consumer has moved past it and holds no pending delivery of it. One consumer
    /// with an old delivery outstanding (the enricher holding an asset for its round) no longer keeps every
    /// later message of every subject. Costs a scan of what is retained above that floor, so it runs
    /// from [`super::MemoryBus::compact`] (a run's checkpoint), not on every publish at the bound.
    pub(super) fn compact_settled(&mut self) {
        self.compact();
        let Some(top) = self.consumers.values().map(|c| c.next_seq).max() else { return };
        let consumers = &self.consumers;
        let done: Vec<u64> = self
            .msgs
            .range(self.compact_cursor..top)
            .filter(|(seq, m)| {
                let mut matching = consumers.values().filter(|c| subject_matches(&c.spec.filter_subject, &m.subject)).peekable();
                matching.peek().is_some() && matching.all(|c| **seq < c.next_seq && !c.pending.contains_key(seq))
            })
            .map(|(s, _)| *s)
            .collect();
        self.remove_settled(done);
    }

    /// Drops the given (settled) messages, keeping the dead-letter count in step.
    fn remove_settled(&mut self, seqs: Vec<u64>) {
        for seq in seqs {
            if let Some(m) = self.msgs.remove(&seq)
                && is_dlq(&m.subject)
            {
                self.dlq_stored = self.dlq_stored.saturating_sub(1);
            }
        }
    }
}
