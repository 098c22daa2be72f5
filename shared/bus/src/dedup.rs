//! The dedup window of [`crate::MemoryBus`]: which message ids were stored in the last `duplicate_window`.
//!
//! An id is remembered as a fixed-size 128-bit hash, not as a string: the window of a busy run holds over
//! 100,000 ids, and each string cost its own allocation. Two different ids share a hash with probability
//! about n² / 2¹²⁹ (below 10⁻²⁸ for a million ids), so a false duplicate is not a practical concern.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// Ids stored within the window, oldest first, with the sequence each was stored at.
#[derive(Default)]
pub(crate) struct DedupWindow {
    seqs: HashMap<u128, u64>,
    order: VecDeque<(Instant, u128, u64)>,
}

/// The id's 128-bit key: two SipHash-1-3 digests (fixed keys, so stable within and across processes).
fn key(id: &str) -> u128 {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        id.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

impl DedupWindow {
    /// Forgets the ids stored `window` or longer before `now`.
    pub(crate) fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(at, key, seq)) = self.order.front() {
            if now.saturating_duration_since(at) < window {
                break;
            }
            self.order.pop_front();
            if self.seqs.get(&key) == Some(&seq) {
                self.seqs.remove(&key);
            }
        }
    }

    /// The sequence `id` was stored at, if it is in the window.
    pub(crate) fn get(&self, id: &str) -> Option<u64> {
        self.seqs.get(&key(id)).copied()
    }

    /// Remembers `id` as stored at `seq` at `now`.
    pub(crate) fn insert(&mut self, id: &str, seq: u64, now: Instant) {
        let key = key(id);
        self.seqs.insert(key, seq);
        self.order.push_back((now, key, seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_hash_and_expires_in_order() {
        let t0 = Instant::now();
        let mut w = DedupWindow::default();
        w.insert("a", 1, t0);
        w.insert("b", 2, t0 + Duration::from_secs(1));
        assert_eq!((w.get("a"), w.get("b"), w.get("c")), (Some(1), Some(2), None));
        assert_ne!(key("a"), key("b"));
        assert_eq!(key("a"), key("a"), "stable");
        w.expire(t0 + Duration::from_millis(1500), Duration::from_secs(1));
        assert_eq!((w.get("a"), w.get("b")), (None, Some(2)), "only the older id left the window");
        assert_eq!((w.seqs.len(), w.order.len()), (1, 1));
    }
}
