//! Known assets across sources: a venue's instrument-list baseline makes every asset in it known, so a
//! listing announcement of that venue naming one of them is not a new listing. The instrument-list
//! sources' saved states are the record (they survive restarts).

use std::collections::BTreeMap;
use std::sync::Arc;

use nl_adapters::cex::KnownSet;
use nl_adapters::cex::poll::known_set_of;
use nl_adapters::{PollOutcome, Source};
use nl_domain::{ChangeKind, ObservationKind};
use tracing::{debug, warn};

use crate::state::StateStore;

/// Which sources record the known assets of each venue.
#[derive(Debug, Clone, Default)]
pub struct KnownAssets {
    by_venue: BTreeMap<String, Vec<String>>,
}

impl KnownAssets {
    /// The instrument-list sources among `sources`, by venue.
    #[must_use]
    pub fn of(sources: &[Arc<dyn Source>]) -> Self {
        let mut by_venue: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in sources {
            if let Some(venue) = s.known_assets_venue() {
                by_venue.entry(venue.to_string()).or_default().push(s.name().to_string());
            }
        }
        Self { by_venue }
    }

    /// Drops the `New` announcement sightings in `outcome` whose coin a same-venue instrument list
    /// recorded as known (its baseline). Nothing about a known asset is a listing.
    pub async fn drop_known(&self, state: &dyn StateStore, outcome: &mut PollOutcome) {
        self.drop_known_observations(state, &mut outcome.observations).await;
    }

    /// [`drop_known`](Self::drop_known) over a push frame's observations.
    pub async fn drop_known_observations(&self, state: &dyn StateStore, observations: &mut Vec<nl_domain::ListingObservation>) {
        // Only the venues the announced listings name: their lists' states are read, nobody else's.
        let venues: std::collections::BTreeSet<&str> = observations.iter().filter(|o| is_announced_listing(o)).map(|o| o.venue.as_str()).collect();
        let mut states: BTreeMap<&str, Vec<KnownSet>> = BTreeMap::new();
        for (venue, names) in self.by_venue.iter().filter(|(v, _)| venues.contains(v.as_str())) {
            for name in names {
                match state.load(name).await {
                    Ok(Some(s)) => states.entry(venue.as_str()).or_default().extend(known_set_of(&s)),
                    Ok(None) => {}
                    Err(error) => warn!(source = %name, %error, "Cannot read the known assets of this venue; announcements are not checked against them."),
                }
            }
        }
        observations.retain(|o| {
            let known = is_announced_listing(o)
                && states.get(o.venue.as_str()).is_some_and(|ss| ss.iter().any(|k| k.is_known_asset(&o.symbol)));
            if known {
                debug!(source = %o.source, asset = %o.asset_id, "Announcement names a known asset; not a listing.");
            }
            !known
        });
    }
}

fn is_announced_listing(o: &nl_domain::ListingObservation) -> bool {
    o.kind == ObservationKind::CexAnnouncement && o.change == ChangeKind::New
}
