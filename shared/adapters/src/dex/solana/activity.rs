//! The minimum-activity trigger (#20): pump.fun `TradeEvent`s counted per young mint, so the enricher can
//! enrich a launch once it traded `trades` times instead of waiting for its time trigger.
//!
//! A mint is counted from its `CreateEvent` (seen in a pushed notification or a fetched transaction) for
//! `window_secs` of block time: after that the enricher's time trigger (`[enricher] enrich_after_secs`)
//! has taken it anyway. When the `trades`-th trade lands and the mint's create observation is published,
//! the source reports it once as a [`ListingObservation`] with `change: updated` and
//! `details.activity = {"trades": N}` ([`nl_domain::ListingActivity`]). The set is part of the durable
//! cursor and bounded (oldest created first out).
//!
//! A trade can be handled before its mint's create: a backfill pages newest first and a long gap spans
//! polls (the trades in one, the create in the next), and after a reconnect a pushed trade can beat its
//! create, still in the gap the backfill pages. Such trades are held in [`EarlyTrades`] (durable too, bounded: oldest-held mint
//! first out, at most the trigger's count of block times per mint) and counted when the create is tracked.
//! Each trade is handled once either way: its signature is marked done when it is held.

use std::collections::{HashMap, VecDeque};

use nl_domain::{ACTIVITY_KEY, AssetId, ChangeKind, DomainError, ListingActivity, ListingObservation, ObservationKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::events::{PUMP_FUN, PumpCreate};
use crate::dex::pool::ObservationContext;

/// When a young mint is reported active: at `trades` trades within `window_secs` of its creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityTrigger {
    pub trades: u32,
    pub window_secs: u64,
}

/// Most young mints counted at once (beyond it the oldest-tracked is dropped; its time trigger still runs).
pub const MAX_YOUNG: usize = 10_000;

/// One counted mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Young {
    pub mint: String,
    /// The bonding curve: the create observation's instrument.
    pub pool: String,
    pub symbol: String,
    /// Block time of the create (unix seconds).
    pub created: i64,
    pub trades: u32,
    /// The create observation was published (only then is activity reported).
    pub published: bool,
    /// Activity was reported.
    pub fired: bool,
}

/// The counted mints, in tracking order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Young>", into = "Vec<Young>")]
pub struct Activity {
    order: VecDeque<String>,
    by_mint: HashMap<String, Young>,
}

impl From<Vec<Young>> for Activity {
    fn from(v: Vec<Young>) -> Self {
        let mut a = Self::default();
        for y in v {
            a.order.push_back(y.mint.clone());
            a.by_mint.insert(y.mint.clone(), y);
        }
        a
    }
}

impl From<Activity> for Vec<Young> {
    fn from(mut a: Activity) -> Self {
        a.order.into_iter().filter_map(|m| a.by_mint.remove(&m)).collect()
    }
}

impl Activity {
    /// Mints counted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_mint.len()
    }

    /// True when nothing is counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_mint.is_empty()
    }

    /// Whether `mint` is counted.
    #[must_use]
    pub fn contains(&self, mint: &str) -> bool {
        self.by_mint.contains_key(mint)
    }

    /// The counted entry of `mint`.
    #[must_use]
    pub fn get(&self, mint: &str) -> Option<&Young> {
        self.by_mint.get(mint)
    }

    /// Starts counting the mint of `create` (no-op when it is counted already).
    pub fn track(&mut self, create: &PumpCreate) {
        if self.by_mint.contains_key(&create.mint) {
            return;
        }
        let young = Young {
            mint: create.mint.clone(),
            pool: create.bonding_curve.clone(),
            symbol: create.symbol.clone(),
            created: create.timestamp,
            trades: 0,
            published: false,
            fired: false,
        };
        self.order.push_back(young.mint.clone());
        self.by_mint.insert(young.mint.clone(), young);
        while self.order.len() > MAX_YOUNG {
            if let Some(old) = self.order.pop_front() {
                self.by_mint.remove(&old);
            }
        }
    }

    /// Drops the oldest-tracked mints created more than `window_secs` before `now` (unix seconds); a mint
    /// tracked out of order is past its window for [`Activity::trade`] anyway and leaves with the bound.
    pub fn expire(&mut self, now: i64, window_secs: u64) {
        let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
        while let Some(m) = self.order.front() {
            if self.by_mint.get(m).is_some_and(|y| now.saturating_sub(y.created) <= window) {
                break;
            }
            if let Some(m) = self.order.pop_front() {
                self.by_mint.remove(&m);
            }
        }
    }

    /// Counts one trade of `mint` at block time `at`; the entry when this trade makes a published mint
    /// active (reported once).
    pub fn trade(&mut self, mint: &str, at: i64, trigger: ActivityTrigger) -> Option<Young> {
        let window = i64::try_from(trigger.window_secs).unwrap_or(i64::MAX);
        let y = self.by_mint.get_mut(mint)?;
        if y.fired || at.saturating_sub(y.created) > window {
            return None;
        }
        y.trades = y.trades.saturating_add(1);
        Self::fire(y, trigger)
    }

    /// Marks the create of `mint` published; the entry when it had already traded enough.
    pub fn published(&mut self, mint: &str, trigger: ActivityTrigger) -> Option<Young> {
        let y = self.by_mint.get_mut(mint)?;
        y.published = true;
        Self::fire(y, trigger)
    }

    fn fire(y: &mut Young, trigger: ActivityTrigger) -> Option<Young> {
        if y.published && !y.fired && y.trades >= trigger.trades.max(1) {
            y.fired = true;
            return Some(y.clone());
        }
        None
    }
}

/// Most mints whose trades are held before their create (beyond it the oldest-held mint is dropped).
pub const MAX_EARLY: usize = 10_000;

/// Block times held per mint: enough to reach any trigger up to this many trades.
const MAX_EARLY_PER_MINT: usize = 1_024;

/// The held trades of one mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Early {
    pub mint: String,
    /// Block times (unix seconds) of the earliest trades held.
    pub at: Vec<i64>,
}

/// Trades of mints whose create was not seen yet, in holding order. See the module doc.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Early>", into = "Vec<Early>")]
pub struct EarlyTrades {
    /// Mints in holding order; may hold a mint already taken (skipped when it reaches the front).
    order: VecDeque<String>,
    by_mint: HashMap<String, Vec<i64>>,
}

impl From<Vec<Early>> for EarlyTrades {
    fn from(v: Vec<Early>) -> Self {
        let mut e = Self::default();
        for x in v {
            e.order.push_back(x.mint.clone());
            e.by_mint.insert(x.mint, x.at);
        }
        e
    }
}

impl From<EarlyTrades> for Vec<Early> {
    fn from(mut e: EarlyTrades) -> Self {
        e.order.into_iter().filter_map(|m| e.by_mint.remove(&m).map(|at| Early { mint: m, at })).collect()
    }
}

impl EarlyTrades {
    /// Mints held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_mint.len()
    }

    /// True when nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_mint.is_empty()
    }

    /// Holds one trade of `mint` at block time `at`, keeping the earliest `trigger.trades` block times (the
    /// ones that can count within the window of a create before them).
    pub fn hold(&mut self, mint: &str, at: i64, trigger: ActivityTrigger) {
        let keep = usize::try_from(trigger.trades.max(1)).unwrap_or(usize::MAX).min(MAX_EARLY_PER_MINT);
        if let Some(v) = self.by_mint.get_mut(mint) {
            if v.len() < keep {
                v.push(at);
            } else if let Some(latest) = v.iter_mut().max()
                && at < *latest
            {
                *latest = at;
            }
            return;
        }
        self.order.push_back(mint.to_string());
        self.by_mint.insert(mint.to_string(), vec![at]);
        while self.order.len() > MAX_EARLY {
            if let Some(old) = self.order.pop_front() {
                self.by_mint.remove(&old);
            }
        }
    }

    /// Takes the held trades of `mint` (its create is seen).
    pub fn take(&mut self, mint: &str) -> Vec<i64> {
        self.by_mint.remove(mint).unwrap_or_default()
    }
}

/// The activity observation of `y`: an update of `solana:<mint>` on its bonding curve, dated by the
/// launch's block time (so the enricher ages it from the launch), with `details.activity`.
///
/// # Errors
/// `DomainError::AssetId` when the mint is not a base58 pubkey.
pub fn activity_observation(y: &Young, signature: &str, slot: u64, ctx: &ObservationContext) -> Result<ListingObservation, DomainError> {
    let mut details = json!({
        "chain": "solana", "dex": "pumpfun", "program": PUMP_FUN, "kind": "activity", "mint": y.mint, "pool": y.pool,
        "signature": signature, "slot": slot,
    });
    details[ACTIVITY_KEY] = serde_json::to_value(ListingActivity { trades: y.trades }).unwrap_or_default();
    Ok(ListingObservation {
        source: ctx.source.clone(),
        venue: "pumpfun".into(),
        kind: ObservationKind::DexPool,
        change: ChangeKind::Updated,
        asset_id: AssetId::chain("solana", &y.mint)?,
        symbol: y.symbol.clone(),
        name: None,
        base: Some(y.mint.clone()),
        quote: None,
        instrument_id: y.pool.clone(),
        status: None,
        source_published_at: chrono::DateTime::from_timestamp(y.created, 0),
        scheduled_at: None,
        first_observed_at: ctx.first_observed_at,
        emitted_at: ctx.emitted_at,
        raw_event_id: ctx.raw_event_id.clone(),
        details,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn create(mint: &str, at: i64) -> PumpCreate {
        PumpCreate {
            name: "N".into(),
            symbol: "S".into(),
            uri: String::new(),
            mint: mint.into(),
            bonding_curve: format!("{mint}-curve"),
            user: "u".into(),
            creator: "c".into(),
            timestamp: at,
            token_program: None,
            quote_mint: None,
        }
    }

    const T: ActivityTrigger = ActivityTrigger { trades: 3, window_secs: 60 };

    #[test]
    fn fires_once_at_the_threshold_on_a_published_create() {
        let mut a = Activity::default();
        a.track(&create("m", 100));
        assert_eq!(a.trade("m", 101, T), None);
        assert_eq!(a.trade("m", 102, T), None);
        assert_eq!(a.trade("m", 103, T), None, "3 trades but the create is not published yet");
        let y = a.published("m", T).expect("fires when the create is out");
        assert_eq!((y.trades, y.pool.as_str(), y.created), (3, "m-curve", 100));
        assert_eq!(a.trade("m", 104, T), None, "once");
        assert_eq!(a.trade("other", 104, T), None, "a mint not created since nl watched is not counted");
    }

    #[test]
    fn the_window_and_the_bound_limit_counting_and_the_set_round_trips() {
        let mut a = Activity::default();
        a.track(&create("m", 100));
        a.published("m", T);
        for t in [101, 102, 161] {
            a.trade("m", t, T);
        }
        assert_eq!(a.get("m").unwrap().trades, 2, "a trade past the window does not count");
        a.track(&create("n", 150));
        a.expire(161, 60);
        assert_eq!((a.get("m"), a.len()), (None, 1), "expired");
        a.expire(161, 60);
        assert!(a.get("n").is_some(), "within its window");
        let back: Activity = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        for i in 0..=MAX_YOUNG {
            a.track(&create(&format!("x{i}"), 150));
        }
        assert_eq!(a.len(), MAX_YOUNG);
        assert!(a.get("n").is_none(), "the oldest-tracked went first");
    }

    #[test]
    fn early_trades_keep_the_earliest_times_round_trip_and_are_bounded() {
        let mut e = EarlyTrades::default();
        for at in [105, 101, 104, 102] {
            e.hold("m", at, T);
        }
        let back: EarlyTrades = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        let mut at = e.take("m");
        at.sort_unstable();
        assert_eq!(at, vec![101, 102, 104], "the trigger's 3 earliest");
        assert!(e.is_empty() && e.take("m").is_empty(), "taken once");
        for i in 0..=MAX_EARLY {
            e.hold(&format!("x{i}"), 1, T);
        }
        assert_eq!(e.len(), MAX_EARLY);
        assert!(e.take("x0").is_empty(), "the oldest-held went first");
    }
}
