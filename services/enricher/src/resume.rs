//! Deferred launches across a restart (`enrich_after_secs`, #20). A deferred launch is discovered at once
//! (its upsert is published and its delivery acked) and waits for its first enrichment in the in-memory
//! schedule only, so a restart would lose it: never snapshotted, never decided. On start the enricher
//! re-derives them from the ledger instead: the on-chain listings first seen within twice
//! `enrich_after_secs` that have no snapshot, risk evaluation or decision yet are tracked again, each due
//! `enrich_after_secs` after its birth (the source's time, else nl's first sighting), or now when that
//! passed while the enricher was down.

use std::time::Duration;

use nl_domain::views::{Listing, MAX_LISTING_LIMIT};
use nl_domain::{AssetId, ListingQuery};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::schedule::Tracked;
use crate::service::Core;
use crate::stats::{EnricherStats, Stage};

/// A listing the enricher never enriched: on-chain, without market values, risk or decision.
fn never_enriched(l: &Listing) -> bool {
    matches!(l.asset_id, AssetId::Chain { .. }) && l.decision.is_none() && l.risk.is_none() && l.price_usd.is_none() && l.liquidity_usd.is_none()
}

impl Core {
    /// Tracks again the launches a previous run deferred and never enriched (see the module doc). A ledger
    /// that cannot answer is logged and counted; the enricher runs on without them.
    pub(crate) async fn resume_deferred(&self) {
        let Some(ledger) = &self.ledger else { return };
        if self.cfg.enrich_after_secs == 0 || !self.tracking() {
            return;
        }
        let wait = Duration::from_secs(self.cfg.enrich_after_secs);
        let now_ts = self.clock.now();
        let horizon = chrono::Duration::from_std(wait.saturating_mul(2)).unwrap_or(chrono::Duration::MAX);
        let query = ListingQuery { since: now_ts.checked_sub_signed(horizon), limit: MAX_LISTING_LIMIT, ..ListingQuery::default() };
        let rows = match ledger.listings(&query).await {
            Ok(rows) => rows,
            Err(error) => {
                self.stats.error(Stage::Fetch);
                warn!(%error, "Cannot read the ledger; launches deferred before the restart are not resumed.");
                return;
            }
        };
        let now = Instant::now();
        let mut resumed = 0;
        {
            let mut sched = self.schedule();
            for l in rows.iter().filter(|l| never_enriched(l)) {
                let age = (now_ts - l.source_published_at.unwrap_or(l.first_seen_at)).to_std().unwrap_or_default();
                if let Tracked::Added { .. } = sched.track(l.asset_id.clone(), age, now, None) {
                    sched.defer(&l.asset_id, now + wait.saturating_sub(age));
                    resumed += 1;
                }
            }
            self.stats.tracked.store(sched.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        EnricherStats::add(&self.stats.resumed, resumed);
        if resumed > 0 {
            info!(resumed, "Launches deferred before the restart resumed from the ledger.");
            self.wake.notify_one();
        }
    }
}
