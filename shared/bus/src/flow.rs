//! Flow control of [`crate::MemoryBus`]: producers at the edge of the pipeline (sources, the enricher's
//! re-snapshot rounds) ask [`crate::Bus::wait_for_room`] before they produce, and pause while the slowest
//! consumer is more than [`FlowControl::max_lag`] messages behind.
//!
//! Without it, an embedded run whose sources outpace its slowest consumer (the ledger, writing SQLite)
//! keeps every message that consumer has not reached, with their JSON, and the allocator keeps the
//! high-water mark after the consumer catches up. With it, the backlog stays near `max_lag` and the
//! sources poll at the pace the pipeline persists. A pause is bounded by [`FlowControl::max_pause`]: a
//! consumer that stopped fetching slows the producers down but never stops them (the store's own bound,
//! `max_messages`, still sheds explicitly).

use std::time::Duration;

/// When producers pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowControl {
    /// A producer pauses while some consumer has more than this many matching messages not yet
    /// delivered to it.
    pub max_lag: u64,
    /// Longest single pause; past it the producer goes on (counted in [`FlowStats::timed_out`]).
    pub max_pause: Duration,
}

/// What flow control did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Producer waits that paused (the lag was above the bound when asked).
    pub paused: u64,
    /// Pauses that ended at `max_pause` rather than because the consumers caught up.
    pub timed_out: u64,
    /// Total time producers spent paused.
    pub paused_for: Duration,
}
