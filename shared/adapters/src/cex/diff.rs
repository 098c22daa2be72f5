//! Baseline and diff of instrument snapshots, and conversion to `listing.observed` observations. Pure: the
//! caller loads and persists [`KnownSet`] and passes the clock in.
//!
//! Rules: the first snapshot (no known set) is a baseline and reports nothing as new, so existing pairs are
//! never announced on first start. Afterwards only ids never seen before are `New`; a status, raw-status or
//! schedule change, or a re-appearance after removal, is `Updated` (never a second `New`). Removed ids stay in
//! the set, marked removed, for exactly that reason.
//!
//! A baseline instrument's asset (venue + base) is a known asset: nothing about it is reported later, not a
//! status change, not a re-appearance, not a new quote pair for the same base (that pair joins the baseline).
//! An id absent from [`DiffPolicy::delist_after`] consecutive complete snapshots is reported once in
//! [`DiffOutcome::vanished`] (a delisting, never a listing); a shorter absence is a flap.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::json;

use nl_domain::{AssetId, ChangeKind, DomainError, ListingObservation, ObservationKind, Ts};

use super::types::{Announcement, Instrument, InstrumentStatus, Market};

/// What the diff remembers about one instrument id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownEntry {
    pub status: InstrumentStatus,
    #[serde(default)]
    pub raw_status: String,
    pub scheduled_at: Option<Ts>,
    /// When nl first saw the id (the baseline time for pre-existing instruments).
    pub first_seen: Ts,
    /// Absent from the latest complete snapshot.
    #[serde(default)]
    pub removed: bool,
    /// The base asset as the venue spells it (absent in sets saved before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Part of a known asset: in the first snapshot, or a pair of a base that was. Entries saved before
    /// this flag existed count as known, so nothing old is ever reported new.
    #[serde(default = "known_by_default")]
    pub baseline: bool,
    /// Consecutive complete snapshots the id was absent from.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missing: u32,
    /// The contract (`chain`, `address`) a currency lookup linked the instrument's base to when it was
    /// new, so its later observations (a status change, a re-appearance) stay on the linked asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<(String, String)>,
}

fn known_by_default() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How long an instrument may be absent before it counts as delisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffPolicy {
    /// Consecutive complete snapshots without an id before it is reported vanished (at least 1).
    pub delist_after: u32,
}

/// Default of [`DiffPolicy::delist_after`].
pub const DEFAULT_DELIST_AFTER_POLLS: u32 = 3;

impl Default for DiffPolicy {
    fn default() -> Self {
        Self { delist_after: DEFAULT_DELIST_AFTER_POLLS }
    }
}

/// Everything a source has seen, keyed by venue instrument id. Serializable so it survives restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownSet {
    pub entries: BTreeMap<String, KnownEntry>,
}

impl KnownSet {
    /// Number of ids remembered (removed ones included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Result of one diff.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffOutcome {
    /// Ids never seen before (always empty for a baseline).
    pub new: Vec<Instrument>,
    /// Known ids whose status/schedule changed or that re-appeared, with their previous status.
    pub updated: Vec<(Instrument, InstrumentStatus)>,
    /// Ids present before and absent from this complete snapshot.
    pub removed: Vec<String>,
    /// Ids absent from exactly `delist_after` consecutive complete snapshots (reported once).
    pub vanished: Vec<String>,
    /// The set to persist for the next diff.
    pub next: KnownSet,
    /// True when this call established the baseline.
    pub baseline: bool,
}

fn entry(inst: &Instrument, first_seen: Ts, baseline: bool) -> KnownEntry {
    KnownEntry {
        status: inst.status.clone(),
        raw_status: inst.raw_status.clone(),
        scheduled_at: inst.scheduled_at,
        first_seen,
        removed: false,
        base: Some(inst.base.clone()),
        baseline,
        missing: 0,
        link: None,
    }
}

impl KnownSet {
    /// Whether `base` (any quote) belongs to a known asset of this set: one recorded by the baseline.
    #[must_use]
    pub fn is_known_asset(&self, base: &str) -> bool {
        self.entries.values().any(|e| e.baseline && e.base.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(base)))
    }

    /// The contract (`chain`, `address`) an instrument of `base` was linked to, if any.
    #[must_use]
    pub fn link_of(&self, base: &str) -> Option<&(String, String)> {
        self.entries.values().filter(|e| e.base.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(base))).find_map(|e| e.link.as_ref())
    }

    /// Whether an instrument of `base` is listed in the latest snapshot.
    #[must_use]
    pub fn is_listed(&self, base: &str) -> bool {
        self.entries.values().any(|e| !e.removed && e.base.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(base)))
    }

    /// Takes over what `earlier` (a set built from push deltas only) remembers: its entries replace this
    /// set's, so an instrument a push reported new keeps its first-seen time and stays a non-baseline one.
    pub fn absorb(&mut self, earlier: &KnownSet) {
        for (id, e) in &earlier.entries {
            self.entries.insert(id.clone(), e.clone());
        }
    }
}

fn diff_inner(known: Option<&KnownSet>, snapshot: &[Instrument], now: Ts, complete: bool, policy: DiffPolicy) -> DiffOutcome {
    let Some(known) = known else {
        let mut next = KnownSet::default();
        for inst in snapshot {
            next.entries.entry(inst.instrument_id.clone()).or_insert_with(|| entry(inst, now, true));
        }
        return DiffOutcome { new: Vec::new(), updated: Vec::new(), removed: Vec::new(), vanished: Vec::new(), next, baseline: true };
    };
    let mut next = known.clone();
    let mut new = Vec::new();
    let mut updated = Vec::new();
    let mut present = HashSet::new();
    for inst in snapshot {
        if !present.insert(inst.instrument_id.as_str()) {
            continue; // duplicate row in one snapshot: the first wins
        }
        match next.entries.get_mut(&inst.instrument_id) {
            None => {
                // A new quote pair of a known asset is part of that asset, not a listing.
                let known_asset = known.is_known_asset(&inst.base);
                next.entries.insert(inst.instrument_id.clone(), entry(inst, now, known_asset));
                if !known_asset {
                    new.push(inst.clone());
                }
            }
            Some(e) => {
                let changed =
                    e.removed || e.status != inst.status || e.raw_status != inst.raw_status || e.scheduled_at != inst.scheduled_at;
                if changed || e.missing > 0 {
                    if changed && !e.baseline {
                        updated.push((inst.clone(), e.status.clone()));
                    }
                    let link = e.link.take();
                    *e = entry(inst, e.first_seen, e.baseline);
                    e.link = link;
                }
            }
        }
    }
    let mut removed = Vec::new();
    let mut vanished = Vec::new();
    // An empty "complete" snapshot is far more likely a venue glitch than every pair delisted at once.
    if complete && !snapshot.is_empty() {
        for (id, e) in &mut next.entries {
            if present.contains(id.as_str()) {
                continue;
            }
            if !e.removed {
                e.removed = true;
                removed.push(id.clone());
            }
            let limit = policy.delist_after.max(1);
            if e.missing < limit {
                e.missing += 1;
                if e.missing == limit {
                    vanished.push(id.clone());
                }
            }
        }
    }
    DiffOutcome { new, updated, removed, vanished, next, baseline: false }
}

/// Diffs a complete snapshot (a full instrument list) against what is known. `known == None` establishes the
/// baseline: everything is recorded, nothing is reported. An empty snapshot never removes anything.
#[must_use]
pub fn diff(known: Option<&KnownSet>, snapshot: &[Instrument], now: Ts) -> DiffOutcome {
    diff_inner(known, snapshot, now, true, DiffPolicy::default())
}

/// [`diff`] with an explicit delisting policy.
#[must_use]
pub fn diff_with(known: Option<&KnownSet>, snapshot: &[Instrument], now: Ts, policy: DiffPolicy) -> DiffOutcome {
    diff_inner(known, snapshot, now, true, policy)
}

/// Like [`diff`] for a partial update (a push delta): reports new and updated ids but never removals.
#[must_use]
pub fn diff_partial(known: Option<&KnownSet>, delta: &[Instrument], now: Ts) -> DiffOutcome {
    diff_inner(known, delta, now, false, DiffPolicy::default())
}

/// Like [`diff_partial`] for a push delta while no complete list was ever seen (a feed of changes only,
/// such as Binance `!contractInfo`, or a push whose REST gap fill has not succeeded yet). An id not seen
/// before is new only when its own listing time (`scheduled_at`: OKX `listTime`, Binance `ot`) is within
/// `lookback` of `now` or later; an older or undated one is an instrument listed before nl watched,
/// recorded as a known (baseline) one. The first-poll rule of feeds of new things, applied to every delta
/// until a complete list arrives, so a baseline instrument first seen over push is never discovered.
#[must_use]
pub fn diff_unbaselined(known: Option<&KnownSet>, delta: &[Instrument], now: Ts, lookback: chrono::Duration) -> DiffOutcome {
    let mut with_old = known.cloned().unwrap_or_default();
    for inst in delta {
        let recent = inst.scheduled_at.is_some_and(|t| now.signed_duration_since(t) <= lookback);
        if !recent && !with_old.entries.contains_key(&inst.instrument_id) {
            with_old.entries.insert(inst.instrument_id.clone(), entry(inst, now, true));
        }
    }
    let mut out = diff_inner(Some(&with_old), delta, now, false, DiffPolicy::default());
    out.baseline = known.is_none();
    out
}

/// Converts one instrument into a `listing.observed` observation (`CexContract` for futures, else
/// `CexInstrument`).
///
/// # Errors
/// `DomainError::AssetId` when the venue or base cannot form a `cex:<venue>:<BASE>` id (e.g. non-ASCII base).
pub fn to_observation(
    inst: &Instrument,
    change: ChangeKind,
    source: &str,
    first_observed_at: Ts,
    emitted_at: Ts,
    raw_event_id: Option<String>,
) -> Result<ListingObservation, DomainError> {
    let asset_id = AssetId::cex(&inst.venue, &inst.base)?;
    let kind = if inst.market == Market::Futures { ObservationKind::CexContract } else { ObservationKind::CexInstrument };
    Ok(ListingObservation {
        source: source.to_string(),
        venue: inst.venue.clone(),
        kind,
        change,
        asset_id,
        symbol: inst.base.to_ascii_uppercase(),
        name: None,
        base: Some(inst.base.clone()),
        quote: Some(inst.quote.clone()),
        instrument_id: inst.instrument_id.clone(),
        status: Some(inst.status.label().to_string()),
        source_published_at: inst.source_published_at,
        scheduled_at: inst.scheduled_at,
        first_observed_at,
        emitted_at,
        raw_event_id,
        details: json!({
            "quote": inst.quote,
            "raw_status": inst.raw_status,
            "market": inst.market.label(),
            "venue_details": inst.details,
        }),
    })
}

/// One `New` observation per coin an announcement names (kind `CexAnnouncement`, instrument id
/// `<announcement id>:<SYMBOL>`). Coins whose symbol cannot form an asset id are skipped.
#[must_use]
pub fn announcement_observations(
    ann: &Announcement,
    source: &str,
    first_observed_at: Ts,
    emitted_at: Ts,
    raw_event_id: Option<&str>,
) -> Vec<ListingObservation> {
    ann.coins
        .iter()
        .filter_map(|coin| {
            let asset_id = AssetId::cex(&ann.venue, &coin.symbol).ok()?;
            let quotes: Vec<&str> = ann.pairs.iter().filter(|(b, _)| *b == coin.symbol).map(|(_, q)| q.as_str()).collect();
            Some(ListingObservation {
                source: source.to_string(),
                venue: ann.venue.clone(),
                kind: ObservationKind::CexAnnouncement,
                change: ChangeKind::New,
                asset_id,
                symbol: coin.symbol.clone(),
                name: coin.name.clone(),
                base: Some(coin.symbol.clone()),
                quote: (quotes.len() == 1).then(|| quotes[0].to_string()),
                instrument_id: format!("{}:{}", ann.id, coin.symbol),
                status: Some(ann.action.label().to_string()),
                source_published_at: ann.published_at,
                scheduled_at: None,
                first_observed_at,
                emitted_at,
                raw_event_id: raw_event_id.map(str::to_string),
                details: json!({
                    "announcement_id": ann.id,
                    "title": ann.title,
                    "url": ann.url,
                    "action": ann.action.label(),
                    "markets": ann.markets.iter().map(|m| m.label()).collect::<Vec<_>>(),
                    "quotes": quotes,
                    "coins_in_title": ann.coins.len(),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> Ts {
        chrono::Utc.timestamp_opt(1_790_000_000 + s, 0).single().unwrap()
    }

    fn inst(id: &str, base: &str, status: InstrumentStatus, raw: &str) -> Instrument {
        Instrument {
            venue: "binance".into(),
            instrument_id: id.into(),
            base: base.into(),
            quote: "USDT".into(),
            market: Market::Spot,
            status,
            raw_status: raw.into(),
            scheduled_at: None,
            source_published_at: None,
            details: json!({}),
        }
    }

    fn snap() -> Vec<Instrument> {
        vec![inst("BTCUSDT", "BTC", InstrumentStatus::Trading, "TRADING"), inst("ETHUSDT", "ETH", InstrumentStatus::Trading, "TRADING")]
    }

    #[test]
    fn baseline_reports_nothing() {
        let out = diff(None, &snap(), t(0));
        assert!(out.baseline && out.new.is_empty() && out.updated.is_empty() && out.removed.is_empty());
        assert_eq!(out.next.len(), 2);
    }

    #[test]
    fn new_after_baseline_exactly_once() {
        let base = diff(None, &snap(), t(0)).next;
        let mut s = snap();
        s.push(inst("NEWUSDT", "NEW", InstrumentStatus::Halted, "BREAK"));
        let out = diff(Some(&base), &s, t(60));
        assert_eq!(out.new.len(), 1);
        assert_eq!(out.new[0].instrument_id, "NEWUSDT");
        assert!(out.updated.is_empty());
        let again = diff(Some(&out.next), &s, t(120));
        assert!(again.new.is_empty() && again.updated.is_empty());
        assert_eq!(again.next.entries["NEWUSDT"].first_seen, t(60));
    }

    /// The baseline plus `NEWUSDT` (status `raw`), listed after it: a known set where NEW is not known.
    fn with_new_listing(status: InstrumentStatus, raw: &str) -> (KnownSet, Vec<Instrument>) {
        let base = diff(None, &snap(), t(0)).next;
        let mut s = snap();
        s.push(inst("NEWUSDT", "NEW", status, raw));
        let out = diff(Some(&base), &s, t(30));
        assert_eq!(out.new.len(), 1);
        (out.next, s)
    }

    #[test]
    fn break_to_trading_flap_is_updated() {
        let (k, mut s) = with_new_listing(InstrumentStatus::Halted, "BREAK");
        s[2] = inst("NEWUSDT", "NEW", InstrumentStatus::Trading, "TRADING");
        let out = diff(Some(&k), &s, t(60));
        assert!(out.new.is_empty());
        assert_eq!(out.updated.len(), 1);
        assert_eq!(out.updated[0].1, InstrumentStatus::Halted);
        s[2] = inst("NEWUSDT", "NEW", InstrumentStatus::Halted, "BREAK");
        let back = diff(Some(&out.next), &s, t(120));
        assert!(back.new.is_empty());
        assert_eq!(back.updated.len(), 1);
    }

    #[test]
    fn schedule_change_is_updated() {
        let (k, mut s) = with_new_listing(InstrumentStatus::PreTrading, "PENDING");
        s[2].scheduled_at = Some(t(3600));
        let out = diff(Some(&k), &s, t(40));
        assert_eq!(out.updated.len(), 1);
    }

    #[test]
    fn removal_then_reappearance_is_updated_not_new() {
        let (k, s) = with_new_listing(InstrumentStatus::Trading, "TRADING");
        let out = diff(Some(&k), &s[..2], t(60));
        assert_eq!(out.removed, vec!["NEWUSDT".to_string()]);
        assert!(out.next.entries["NEWUSDT"].removed);
        let back = diff(Some(&out.next), &s, t(120));
        assert!(back.new.is_empty());
        assert_eq!(back.updated.len(), 1);
        assert_eq!(back.updated[0].0.instrument_id, "NEWUSDT");
        assert!(!back.next.entries["NEWUSDT"].removed);
        assert_eq!(back.next.entries["NEWUSDT"].first_seen, t(30));
    }

    #[test]
    fn nothing_about_a_baseline_asset_is_reported() {
        let k = diff(None, &snap(), t(0)).next;
        // Status flap both ways: recorded, not reported.
        let mut s = snap();
        s[1] = inst("ETHUSDT", "ETH", InstrumentStatus::Halted, "BREAK");
        let out = diff(Some(&k), &s, t(60));
        assert!(out.new.is_empty() && out.updated.is_empty());
        assert_eq!(out.next.entries["ETHUSDT"].status, InstrumentStatus::Halted);
        let out = diff(Some(&out.next), &snap(), t(120));
        assert!(out.new.is_empty() && out.updated.is_empty());
        // Vanish and come back.
        let gone = diff(Some(&out.next), &snap()[..1], t(180));
        let back = diff(Some(&gone.next), &snap(), t(240));
        assert!(back.new.is_empty() && back.updated.is_empty() && back.vanished.is_empty());
        // A new quote pair of a known base joins the baseline: not new, and its own flaps stay quiet.
        let mut s = snap();
        let mut eth_usdc = inst("ETHUSDC", "ETH", InstrumentStatus::Trading, "TRADING");
        eth_usdc.quote = "USDC".into();
        s.push(eth_usdc.clone());
        let pair = diff(Some(&back.next), &s, t(300));
        assert!(pair.new.is_empty() && pair.updated.is_empty());
        assert!(pair.next.entries["ETHUSDC"].baseline);
        s[2].status = InstrumentStatus::Halted;
        assert!(diff(Some(&pair.next), &s, t(360)).updated.is_empty());
    }

    #[test]
    fn gone_for_n_polls_is_vanished_once() {
        let k = diff(None, &snap(), t(0)).next;
        let policy = DiffPolicy { delist_after: 3 };
        let only_btc = &snap()[..1];
        let mut state = k;
        for poll in 1..=2 {
            let out = diff_with(Some(&state), only_btc, t(60 * poll), policy);
            assert!(out.vanished.is_empty(), "poll {poll}: a shorter absence is a flap");
            state = out.next;
        }
        let third = diff_with(Some(&state), only_btc, t(180), policy);
        assert_eq!(third.vanished, vec!["ETHUSDT".to_string()]);
        let fourth = diff_with(Some(&third.next), only_btc, t(240), policy);
        assert!(fourth.vanished.is_empty(), "reported once");
        // Back: the count restarts.
        let back = diff_with(Some(&fourth.next), &snap(), t(300), policy);
        assert_eq!(back.next.entries["ETHUSDT"].missing, 0);
        // A flap (gone once, back) never reaches the limit.
        let gone = diff_with(Some(&back.next), only_btc, t(360), policy);
        let again = diff_with(Some(&gone.next), &snap(), t(420), policy);
        assert!(gone.vanished.is_empty() && again.vanished.is_empty() && again.next.entries["ETHUSDT"].missing == 0);
    }

    #[test]
    fn legacy_entries_count_as_known() {
        let legacy: KnownEntry = serde_json::from_value(json!({"status": "Trading", "scheduled_at": null, "first_seen": t(0)})).unwrap();
        assert!(legacy.baseline && legacy.missing == 0 && legacy.base.is_none());
    }

    #[test]
    fn empty_snapshot_and_partial_deltas_never_remove() {
        let k = diff(None, &snap(), t(0)).next;
        let out = diff(Some(&k), &[], t(60));
        assert!(out.removed.is_empty() && out.next == k);
        let delta = vec![inst("NEWUSDT", "NEW", InstrumentStatus::PreTrading, "preopen")];
        let out = diff_partial(Some(&k), &delta, t(60));
        assert_eq!(out.new.len(), 1);
        assert!(out.removed.is_empty());
    }

    #[test]
    fn restart_with_persisted_set_reports_nothing() {
        let mut s = snap();
        let k = diff(None, &s, t(0)).next;
        s.push(inst("NEWUSDT", "NEW", InstrumentStatus::Trading, "TRADING"));
        let k = diff(Some(&k), &s, t(60)).next;
        let stored = serde_json::to_string(&k).unwrap();
        let restored: KnownSet = serde_json::from_str(&stored).unwrap();
        assert_eq!(restored, k);
        let out = diff(Some(&restored), &s, t(3600));
        assert!(!out.baseline && out.new.is_empty() && out.updated.is_empty() && out.removed.is_empty());
    }

    #[test]
    fn observations() {
        let mut i = inst("NEW-USDT", "new", InstrumentStatus::PreTrading, "preopen");
        i.venue = "okx".into();
        i.scheduled_at = Some(t(3600));
        let o = to_observation(&i, ChangeKind::New, "okx_instruments", t(0), t(1), Some("raw-1".into())).unwrap();
        assert_eq!(o.asset_id.to_string(), "cex:okx:NEW");
        assert_eq!((o.symbol.as_str(), o.kind, o.status.as_deref()), ("NEW", ObservationKind::CexInstrument, Some("pre_trading")));
        assert_eq!(o.details["raw_status"], "preopen");
        assert_eq!(o.scheduled_at, Some(t(3600)));
        i.market = Market::Futures;
        assert_eq!(to_observation(&i, ChangeKind::Updated, "s", t(0), t(1), None).unwrap().kind, ObservationKind::CexContract);
        i.base = "恶俗企鹅".into();
        assert!(to_observation(&i, ChangeKind::New, "s", t(0), t(1), None).is_err());

        let ann = Announcement::from_title(
            "binance",
            "abc".into(),
            "Binance Will List Amp (AMP) and PlayDapp (PLA)".into(),
            Some("https://www.binance.com/en/support/announcement/abc".into()),
            Some(t(-30)),
        );
        let obs = announcement_observations(&ann, "binance_cms", t(0), t(1), None);
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[1].instrument_id, "abc:PLA");
        assert_eq!(obs[1].kind, ObservationKind::CexAnnouncement);
        assert_eq!(obs[1].source_published_at, Some(t(-30)));
        assert_eq!(obs[0].name.as_deref(), Some("Amp"));
        assert_eq!(obs[0].details["action"], "listing");
        assert_eq!(obs[0].details["markets"], json!(["spot"]));
    }
}
