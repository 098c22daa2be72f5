//! Known assets across sources: a venue's instrument-list baseline makes every asset in it known, so a
//! listing announcement of that venue naming one of them is not a new listing, nor is an instrument of
//! another list of that venue (a perpetual, a push feed) on that base, and a delisting announcement
//! of a coin whose listing was linked to its contract is the contract asset's. The instrument-list sources'
//! saved states are the record (they survive restarts).

use std::collections::{BTreeMap, BTreeSet};
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
    /// recorded as known (its baseline), and every instrument sighting (new, updated or retracted) whose
    /// base another same-venue list recorded as known: nothing about a known asset is a listing, and a new
    /// market for it (a perpetual of a spot-known coin) is not one either (issue #15). The ledger would make
    /// any sighting of an asset it has no row for a discovery, so such instrument sightings are dropped, not
    /// downgraded. Puts each delisting of a
    /// coin whose listing was linked to its contract on the contract's asset.
    pub async fn drop_known(&self, state: &dyn StateStore, outcome: &mut PollOutcome) {
        let venues = outcome.observations.iter().filter(|o| is_checked(o)).map(|o| o.venue.as_str());
        let venues = venues.chain(outcome.delistings.iter().filter(|d| d.asset_id.starts_with("cex:")).map(|d| d.venue.as_str()));
        let sets = self.sets(state, venues.map(str::to_string).collect()).await;
        retain_unknown(&sets, &mut outcome.observations);
        for d in outcome.delistings.iter_mut().filter(|d| d.asset_id.starts_with("cex:")) {
            let link = sets.get(d.venue.as_str()).and_then(|ss| ss.iter().find_map(|(_, k)| k.link_of(&d.symbol)));
            if let Some(id) = link.and_then(|(chain, address)| nl_domain::AssetId::chain(chain, address).ok()) {
                debug!(source = %d.source, asset = %id, "Delisting of a linked listing; on its contract's asset.");
                d.asset_id = id.to_string();
            }
        }
    }

    /// [`drop_known`](Self::drop_known) over a push frame's observations.
    pub async fn drop_known_observations(&self, state: &dyn StateStore, observations: &mut Vec<nl_domain::ListingObservation>) {
        let venues = observations.iter().filter(|o| is_checked(o)).map(|o| o.venue.clone()).collect();
        retain_unknown(&self.sets(state, venues).await, observations);
    }

    /// The known sets of `venues`' instrument lists (only those: nobody else's state is read).
    async fn sets(&self, state: &dyn StateStore, venues: BTreeSet<String>) -> BTreeMap<String, Vec<(String, KnownSet)>> {
        let mut sets: BTreeMap<String, Vec<(String, KnownSet)>> = BTreeMap::new();
        for (venue, names) in self.by_venue.iter().filter(|(v, _)| venues.contains(*v)) {
            for name in names {
                match state.load(name).await {
                    Ok(Some(s)) => sets.entry(venue.clone()).or_default().extend(known_set_of(&s).map(|k| (name.clone(), k))),
                    Ok(None) => {}
                    Err(error) => warn!(source = %name, %error, "Cannot read the known assets of this venue; announcements are not checked against them."),
                }
            }
        }
        sets
    }
}

/// Keeps the observations that are neither announced listings of a known asset nor instruments of a base
/// another list of the venue knows.
fn retain_unknown(sets: &BTreeMap<String, Vec<(String, KnownSet)>>, observations: &mut Vec<nl_domain::ListingObservation>) {
    observations.retain(|o| {
        let Some(lists) = sets.get(o.venue.as_str()) else { return true };
        if is_announced_listing(o) && lists.iter().any(|(_, k)| k.is_known_asset(&o.symbol)) {
            debug!(source = %o.source, asset = %o.asset_id, "Announcement names a known asset; not a listing.");
            return false;
        }
        // The sighting's own list decided already (its diff knows its baseline); the others are checked here.
        let base = o.base.as_deref().unwrap_or(&o.symbol);
        if is_instrument(o) && lists.iter().any(|(name, k)| *name != o.source && k.is_known_asset(base)) {
            debug!(source = %o.source, asset = %o.asset_id, instrument = %o.instrument_id, "New market of an asset another list of the venue knows; not a listing.");
            return false;
        }
        true
    });
}

fn is_announced_listing(o: &nl_domain::ListingObservation) -> bool {
    o.kind == ObservationKind::CexAnnouncement && o.change == ChangeKind::New
}

fn is_instrument(o: &nl_domain::ListingObservation) -> bool {
    matches!(o.kind, ObservationKind::CexInstrument | ObservationKind::CexContract)
}

/// Whether `o` is checked against the venue's known assets.
fn is_checked(o: &nl_domain::ListingObservation) -> bool {
    is_announced_listing(o) || is_instrument(o)
}

/// Orders one round of polls (a `run-cycle`, or the first poll of each source in `nl run`): the other
/// sources (announcement feeds) commit only after every instrument list's poll finished, so an
/// announcement of a coin in a list's first snapshot is checked against that list's saved baseline, not
/// raced past it (issue #15). Fetches still run concurrently; only the commit waits.
#[derive(Debug, Clone)]
pub struct ListsFirst {
    pending: Arc<tokio::sync::watch::Sender<BTreeSet<String>>>,
}

impl ListsFirst {
    /// The instrument lists among `sources` are pending.
    #[must_use]
    pub fn of(sources: &[Arc<dyn Source>]) -> Self {
        let lists = sources.iter().filter(|s| s.known_assets_venue().is_some()).map(|s| s.name().to_string()).collect();
        Self { pending: Arc::new(tokio::sync::watch::Sender::new(lists)) }
    }

    /// Marks `source` done (idempotent; a no-op for a source that is not a pending list).
    pub fn done(&self, source: &str) {
        self.pending.send_if_modified(|p| p.remove(source));
    }

    /// A guard that marks `source` done when dropped (finished, failed, abandoned or panicked alike).
    #[must_use]
    pub fn done_on_drop(&self, source: &str) -> ListDone {
        ListDone { order: self.clone(), source: source.to_string() }
    }

    /// Resolves once every list is done; at once for a list itself (it never waits on the others).
    pub async fn wait_for(&self, source: &dyn Source) {
        if source.known_assets_venue().is_some() {
            return;
        }
        let mut rx = self.pending.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(BTreeSet::is_empty).await;
    }
}

/// Marks a list done when dropped (see [`ListsFirst::done_on_drop`]).
#[derive(Debug)]
pub struct ListDone {
    order: ListsFirst,
    source: String,
}

impl Drop for ListDone {
    fn drop(&mut self) {
        self.order.done(&self.source);
    }
}
