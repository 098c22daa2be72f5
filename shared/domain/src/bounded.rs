//! A map holding at most a fixed number of keys, forgetting the oldest-inserted key first: the services'
//! per-asset memories (the merged snapshots, the last decisions, the sources seen) are bounded with it
//! (invariant 8).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A map of at most `max` keys; a new key beyond the bound forgets the oldest-inserted one.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    max: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map holding at most `max` keys (at least one).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), map: HashMap::new(), order: VecDeque::new() }
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    /// The value of `key`; when absent, `make()` is inserted first (forgetting the oldest key when full).
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.max {
                let Some(old) = self.order.pop_front() else { break };
                self.map.remove(&old);
            }
            self.order.push_back(key.clone());
        }
        self.map.entry(key).or_insert_with(make)
    }

    /// Sets `key` to `value` (inserting it as [`Self::get_or_insert_with`] does when absent).
    pub fn insert(&mut self, key: K, value: V) {
        if let Some(v) = self.map.get_mut(&key) {
            *v = value;
            return;
        }
        self.get_or_insert_with(key, || value);
    }

    /// How many keys are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_max_keys_forgetting_the_oldest() {
        let mut m = BoundedMap::new(2);
        *m.get_or_insert_with("a", || 0) += 1;
        *m.get_or_insert_with("b", || 0) += 1;
        *m.get_or_insert_with("a", || 0) += 1;
        assert_eq!((m.get(&"a"), m.len()), (Some(&2), 2), "an existing key is updated in place");
        m.get_or_insert_with("c", || 7);
        assert_eq!((m.get(&"a"), m.get(&"b"), m.get(&"c")), (None, Some(&1), Some(&7)), "a was inserted first");
        m.insert("c", 8);
        m.insert("d", 9);
        assert_eq!((m.get(&"b"), m.get(&"c"), m.get(&"d"), m.len()), (None, Some(&8), Some(&9), 2));
        assert!(!m.is_empty());
    }
}
