//! The enricher: turns `listing.observed` / `listing.retracted` into `asset.upserted` and
//! `snapshot.recorded`, and keeps a bounded set of young on-chain assets re-snapshotted on an age-tiered
//! schedule. It works from events only; every provider response it uses is published as `raw.captured`.
//!
//! * [`config`]: `[enricher]` settings;
//! * [`normalize`]: observation → asset upsert (pure);
//! * [`snapshot`]: snapshots from carried pool data, DexScreener pairs, CEX listing times or the listed
//!   pair's ticker (pure);
//! * [`schedule`]: the bounded tracked set with its age tiers;
//! * [`change`]: whether a re-snapshot moved beyond the tolerance (unchanged ones are not published);
//! * [`merge`]: one market view per asset from every source's snapshots (pure);
//! * `round`: the rounds that gather each asset's snapshots into one merged `snapshot.recorded`;
//! * [`fetch`]: the pair source trait (DexScreener);
//! * [`service`]: `build(cfg, ctx) → run(shutdown)`, the re-snapshot rounds;
//! * `batch`: the consumer's batch handler (observations → upserts, snapshots, raw captures);
//! * [`stats`]: the counters.
#![forbid(unsafe_code)]

mod batch;
pub mod change;
pub mod config;
pub mod error;
pub mod merge;
pub mod normalize;
mod resume;
mod round;
pub mod schedule;
pub mod service;
pub mod snapshot;
pub mod stats;

pub use config::{DexScreenerEnrichConfig, EnricherConfig, ScheduleConfig, Tier};
pub use error::EnricherError;
pub use normalize::{normalize, upsert_event_id};
pub use round::RoundControl;
pub use schedule::Schedule;
pub use service::{EnricherCtx, EnricherService, LISTING_FILTER, build};
pub use snapshot::snapshot_event_id;
pub use stats::{EnricherCounts, EnricherStats};
