//! The durable cursor of an EVM factory-log source: where the scan resumes, the hash of the last scanned
//! block (to detect reorgs), the learned `eth_getLogs` span, and the pools found in the last
//! `reorg_rewind` blocks (to retract those a reorg removed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::decode::PoolCreated;

/// Most recent pools remembered, whatever their age (bounds the state size).
pub const MAX_RECENT_POOLS: usize = 4_096;

/// State of one chain's scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvmCursor {
    /// The next block to scan; `last_block = next_block - 1` is fully scanned.
    pub next_block: u64,
    /// Hash of `next_block - 1` as it was scanned; `None` before the first scan or right after a rewind.
    pub last_block_hash: Option<String>,
    /// The `eth_getLogs` span that last worked (halved on range-cap errors, regrown after clean polls).
    pub span: u64,
    /// Pools found in recent blocks, keyed by pool address / V4 pool id.
    #[serde(default)]
    pub recent: BTreeMap<String, PoolCreated>,
}

impl EvmCursor {
    /// A cursor that starts scanning at `start`.
    #[must_use]
    pub fn starting_at(start: u64, span: u64) -> Self {
        Self { next_block: start, last_block_hash: None, span, recent: BTreeMap::new() }
    }

    /// The last fully scanned block, if any.
    #[must_use]
    pub fn last_block(&self) -> Option<u64> {
        self.next_block.checked_sub(1)
    }

    /// Forgets pools older than `keep_blocks` behind the cursor, then the oldest beyond
    /// [`MAX_RECENT_POOLS`].
    pub fn prune(&mut self, keep_blocks: u64) {
        let floor = self.next_block.saturating_sub(keep_blocks);
        self.recent.retain(|_, p| p.block_number.is_some_and(|b| b >= floor));
        if self.recent.len() > MAX_RECENT_POOLS {
            let mut by_block: Vec<(u64, String)> = self.recent.iter().map(|(k, p)| (p.block_number.unwrap_or(0), k.clone())).collect();
            by_block.sort();
            let excess = self.recent.len() - MAX_RECENT_POOLS;
            for (_, k) in by_block.into_iter().take(excess) {
                self.recent.remove(&k);
            }
        }
    }

    /// Remembered pools whose block lies in `[from, to]` and whose key is not in `found`: the pools a
    /// reorg removed, once `[from, to]` has been re-scanned.
    #[must_use]
    pub fn vanished(&self, from: u64, to: u64, found: &std::collections::HashSet<String>) -> Vec<String> {
        self.recent
            .iter()
            .filter(|(k, p)| p.block_number.is_some_and(|b| (from..=to).contains(&b)) && !found.contains(*k))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
