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
///
/// Entries are kept small (a window holds over 100,000 ids in a busy run): the key is two `u64` halves,
/// not a `u128` (whose 16-byte alignment padded each queued entry to 48 bytes), and the time an id was
/// stored is milliseconds after the window's first id, not an `Instant`. A queued entry takes 32 bytes
/// and a map slot 24.
#[derive(Default)]
pub(crate) struct DedupWindow {
    seqs: HashMap<Key, u64>,
    /// (stored at, in ms after `base`; key; sequence).
    order: VecDeque<(u64, Key, u64)>,
    base: Option<Instant>,
}

type Key = [u64; 2];

/// The id's 128-bit key: two SipHash-1-3 digests (fixed keys, so stable within and across processes).
fn key(id: &str) -> Key {
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        id.hash(&mut h);
        h.finish()
    };
    [half(0), half(1)]
}

impl DedupWindow {
    /// `at` in milliseconds after the first id (0 before any, or for an earlier time).
    fn millis(&self, at: Instant) -> u64 {
        self.base.map_or(0, |b| u64::try_from(at.saturating_duration_since(b).as_millis()).unwrap_or(u64::MAX))
    }

    /// Forgets the ids stored `window` or longer before `now`.
    pub(crate) fn expire(&mut self, now: Instant, window: Duration) {
        let now_ms = self.millis(now);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        while let Some(&(at, key, seq)) = self.order.front() {
            if now_ms.saturating_sub(at) < window_ms {
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
        self.base.get_or_insert(now);
        let at = self.millis(now);
        self.seqs.insert(key, seq);
        self.order.push_back((at, key, seq));
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

    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<(u64, Key, u64)>(), 32, "a queued entry");
        assert_eq!(std::mem::size_of::<(Key, u64)>(), 24, "a map slot");
    }
}
