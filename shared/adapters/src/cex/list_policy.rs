//! When a complete instrument list is not taken at face value: a delisting after `delist_after` absent
//! snapshots, an outage (empty, or shrunk past `max_shrink_fraction`), and a list that was partial until
//! now (more new assets at once than `max_new_assets` and than were listed).

use super::diff::{DiffPolicy, KnownSet};
use super::types::Instrument;

/// When an instrument list counts as a delisting or an outage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListPolicy {
    /// Delisting after this many consecutive complete snapshots without an instrument.
    pub diff: DiffPolicy,
    /// A snapshot with fewer than `(1 - max_shrink_fraction)` of the listed instruments is an outage.
    pub max_shrink_fraction: f64,
    /// A snapshot adding more new assets than this, and more than were listed before, becomes the baseline
    /// ([`ListPolicy::mass_listing`]).
    pub max_new_assets: usize,
}

/// Default of [`ListPolicy::max_shrink_fraction`].
pub const DEFAULT_MAX_SHRINK_FRACTION: f64 = 0.5;
/// Default of [`ListPolicy::max_new_assets`]. Venues list a handful of coins at a time.
pub const DEFAULT_MAX_NEW_ASSETS: usize = 50;

impl Default for ListPolicy {
    fn default() -> Self {
        Self { diff: DiffPolicy::default(), max_shrink_fraction: DEFAULT_MAX_SHRINK_FRACTION, max_new_assets: DEFAULT_MAX_NEW_ASSETS }
    }
}

impl ListPolicy {
    /// Why `snapshot` is not a plausible full list given `known` (`None` when it is): empty, or shrunk by
    /// more than the allowed fraction of the instruments listed before.
    #[must_use]
    pub fn implausible(&self, known: Option<&KnownSet>, snapshot: usize) -> Option<String> {
        let listed = known.map_or(0, |k| k.entries.values().filter(|e| !e.removed).count());
        if snapshot == 0 {
            return Some(match known {
                None => "empty first snapshot; not taken as the baseline".to_string(),
                Some(_) => format!("empty snapshot ({listed} instruments listed before)"),
            });
        }
        #[allow(clippy::cast_precision_loss)]
        let floor = listed as f64 * (1.0 - self.max_shrink_fraction.clamp(0.0, 1.0));
        #[allow(clippy::cast_precision_loss)]
        let shrunk = (snapshot as f64) < floor;
        shrunk.then(|| format!("{snapshot} instruments, down from {listed} (more than {:.0} % fewer)", self.max_shrink_fraction * 100.0))
    }
}

impl ListPolicy {
    /// Why the `new` instruments of a snapshot diffed against `known` are no batch of listings (`None` when
    /// they may be): they add more new assets (bases not listed before) than [`Self::max_new_assets`] and
    /// more than were listed before, as when every earlier list was partial (a first snapshot of 1 of 2000
    /// instruments). Such a snapshot is taken as the baseline: the old coins it shows are not new.
    #[must_use]
    pub fn mass_listing(&self, known: &KnownSet, new: &[Instrument]) -> Option<String> {
        let upper = |b: &str| b.to_ascii_uppercase();
        if new.len() <= self.max_new_assets {
            return None;
        }
        let listed: std::collections::BTreeSet<String> =
            known.entries.values().filter(|e| !e.removed).filter_map(|e| e.base.as_deref()).map(upper).collect();
        let fresh: std::collections::BTreeSet<String> = new.iter().map(|i| upper(&i.base)).filter(|b| !listed.contains(b)).collect();
        (fresh.len() > self.max_new_assets.max(listed.len())).then(|| {
            format!(
                "{} new assets at once against {} listed before (more than max_new_assets = {} and than the list held): \
                 an earlier list was partial, so this one is taken as the baseline and none of them is reported new",
                fresh.len(),
                listed.len(),
                self.max_new_assets
            )
        })
    }
}
