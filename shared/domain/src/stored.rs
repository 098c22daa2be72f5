//! The stored form of event bodies (invariant 9: store each fact once).
//!
//! On the wire an event may carry copies of its inputs: `score.computed` carries the evaluation and the
//! snapshot it was computed from, so the gate decides from that one event without state. Storage keeps
//! each fact in one place and cites it by event id. This module says, per event type, which keys of a
//! meta are copies and where the original lives, so the ledger (`events`) and the recorder
//! (`events.jsonl`) drop and restore them with one conversion:
//!
//! | type | key | copy of |
//! |---|---|---|
//! | `score.computed` | `snapshot` | the meta of `snapshot.recorded` `inputs[0]`, without its `source_count`, `merge` and `name` |
//! | `score.computed` | `evaluation` | the meta of `risk.evaluated` `inputs[1]` |
//! | `asset.discovered`, `asset.updated` | `sighting` | the `sighting` of the `asset.upserted` `cause_event_id` |
//! | `asset.discovered`, `asset.updated` | `asset.sources_json` | its own `sighting`, as a one-sighting list (the asset's only source) |
//! | `asset.discovered`, `asset.updated` | `sightings` | its own `asset.sources_json`, parsed |
//! | `snapshot.recorded` | `merge.members` | itself (its market view, without `source_count`, `merge` and `name`), when it merged one source |
//!
//! The events log also keeps a risk evaluation's check times once ([`log_form`], listed as `checks.times`);
//! the ledger keeps evaluations in `risk_flags`, whose rows keep the check times once the same way
//! ([`crate::check_times`], `risk_flags.check_times_json`).
//!
//! A stored meta lacks the keys it cites and names them in [`CITED_KEY`] (`"$cited": ["snapshot",
//! "evaluation"]`); [`restore`] puts them back. A store drops a cited key only when it holds the cited event
//! and the copy equals it ([`stored_form`] asks the store through a closure), so restoring gives back,
//! exactly, the meta that was published.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{DomainError, EventType, check_times};

/// The key of a stored meta that lists the keys it dropped (a meta never has it on the wire).
pub const CITED_KEY: &str = "$cited";

/// One key of a meta that copies another event's body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Citation<'a> {
    /// The key in the citing meta.
    pub key: &'static str,
    /// The type of the cited event.
    pub kind: EventType,
    /// The cited event's id.
    pub event_id: &'a str,
    /// The copy, as the citing meta carries it.
    pub copy: &'a Value,
}

/// Where each citing type finds the id of each cited event.
enum Source {
    /// `inputs[i]`.
    Input(usize),
    /// The string at this key.
    Key(&'static str),
}

/// `(key, cited type, where its id is)` for each type that cites.
fn cites(kind: EventType) -> &'static [(&'static str, EventType, Source)] {
    use EventType as T;
    match kind {
        T::ScoreComputed => &[("snapshot", T::SnapshotRecorded, Source::Input(0)), ("evaluation", T::RiskEvaluated, Source::Input(1))],
        T::AssetDiscovered | T::AssetUpdated => &[("sighting", T::AssetUpserted, Source::Key("cause_event_id"))],
        _ => &[],
    }
}

/// The key of a meta that repeats another key of the same meta, parsed: `(copy, source object, source key)`.
fn internal_copy(kind: EventType) -> Option<(&'static str, &'static str, &'static str)> {
    is_asset_change(kind).then_some(("sightings", "asset", "sources_json"))
}

fn is_asset_change(kind: EventType) -> bool {
    matches!(kind, EventType::AssetDiscovered | EventType::AssetUpdated)
}

/// The listed key of an asset change's `asset.sources_json` when it is its own `sighting` as the only one.
const SOURCES_KEY: &str = "asset.sources_json";

/// `asset.sources_json` as the ledger writes it for an asset whose only sighting is `sighting`.
fn one_sighting_sources(sighting: &Value) -> Option<String> {
    let s = crate::Sighting::deserialize(sighting).ok()?;
    serde_json::to_string(&[s]).ok()
}

/// The listed key of a snapshot's `merge.members` when the one member is the snapshot itself.
const MEMBERS_KEY: &str = "merge.members";

/// The keys of a `snapshot.recorded` meta that are not part of its market view (the [`crate::Snapshot`] a
/// score carries and a merge lists as a member): the source count, the merge record, the asset's name (the
/// enricher names the asset beside the view) and, in a stored meta, what it dropped.
const NOT_IN_SNAPSHOT_VIEW: &[&str] = &["source_count", "merge", "name", CITED_KEY];

/// A snapshot's market view: what a one-source merge lists as its member.
fn snapshot_view(obj: &Map<String, Value>) -> Value {
    Value::Object(obj.iter().filter(|(k, _)| !NOT_IN_SNAPSHOT_VIEW.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Whether a snapshot's `merge.members` is the snapshot itself, alone.
fn members_are_itself(obj: &Map<String, Value>) -> bool {
    let Some(members) = obj.get("merge").and_then(|m| m.get("members")).and_then(Value::as_array) else { return false };
    members.len() == 1 && members[0] == snapshot_view(obj)
}

/// Whether an asset change's `asset.sources_json` is [`one_sighting_sources`] of its `sighting`.
fn sources_are_the_sighting(obj: &Map<String, Value>) -> bool {
    let Some(sources) = obj.get("asset").and_then(|a| a.get("sources_json")).and_then(Value::as_str) else { return false };
    obj.get("sighting").filter(|s| !s.is_null()).and_then(one_sighting_sources).is_some_and(|s| s == sources)
}

fn cited_id<'a>(meta: &'a Map<String, Value>, source: &Source) -> Option<&'a str> {
    match source {
        Source::Input(i) => meta.get("inputs")?.get(*i)?.as_str(),
        Source::Key(k) => meta.get(*k)?.as_str(),
    }
}

/// The keys of `meta` (of an event of `kind`) that copy another event's body, with the cited ids. A key
/// whose value is `null` copies nothing and is not listed.
#[must_use]
pub fn citations(kind: EventType, meta: &Value) -> Vec<Citation<'_>> {
    let Some(obj) = meta.as_object() else { return Vec::new() };
    cites(kind)
        .iter()
        .filter_map(|(key, cited, source)| {
            let copy = obj.get(*key).filter(|v| !v.is_null())?;
            Some(Citation { key, kind: *cited, event_id: cited_id(obj, source)?, copy })
        })
        .collect()
}

/// What an event of `kind` with `meta` is, when another event cites it; `None` for types never cited.
#[must_use]
pub fn cited_value(kind: EventType, meta: &Value) -> Option<Value> {
    match cited_view(kind, meta)? {
        CitedView::Whole(v) => Some(v.clone()),
        CitedView::Without(obj, keys) => Some(Value::Object(obj.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())),
    }
}

/// Whether `copy` equals the [`cited_value`] of an event of `kind` with `meta` (without building it).
#[must_use]
pub fn is_cited_copy(kind: EventType, meta: &Value, copy: &Value) -> bool {
    match cited_view(kind, meta) {
        Some(CitedView::Whole(v)) => v == copy,
        Some(CitedView::Without(obj, keys)) => copy.as_object().is_some_and(|c| {
            c.len() == obj.len() - keys.iter().filter(|k| obj.contains_key(**k)).count()
                && obj.iter().filter(|(k, _)| !keys.contains(&k.as_str())).all(|(k, v)| c.get(k) == Some(v))
        }),
        None => false,
    }
}

/// The [`cited_value`] of an event, borrowed from its meta; serializes as that value.
#[derive(Debug, Clone, Copy)]
pub enum CitedView<'a> {
    Whole(&'a Value),
    /// An object without some keys.
    Without(&'a Map<String, Value>, &'static [&'static str]),
}

/// The [`cited_value`] of an event of `kind` with `meta`, borrowed.
#[must_use]
pub fn cited_view(kind: EventType, meta: &Value) -> Option<CitedView<'_>> {
    match kind {
        // A score carries the snapshot's market view only (see [`NOT_IN_SNAPSHOT_VIEW`]).
        EventType::SnapshotRecorded => Some(CitedView::Without(meta.as_object()?, NOT_IN_SNAPSHOT_VIEW)),
        EventType::RiskEvaluated => Some(CitedView::Whole(meta)),
        EventType::AssetUpserted => meta.get("sighting").map(CitedView::Whole),
        _ => None,
    }
}

impl serde::Serialize for CitedView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Whole(v) => v.serialize(s),
            Self::Without(obj, keys) => {
                let mut m = s.serialize_map(None)?;
                for (k, v) in obj.iter().filter(|(k, _)| !keys.contains(&k.as_str())) {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

/// The value `copy` repeats inside `meta`, parsed.
fn internal_source(meta: &Map<String, Value>, object: &str, key: &str) -> Option<Value> {
    serde_json::from_str(meta.get(object)?.get(key)?.as_str()?).ok()
}

/// The stored form of `meta` (of an event of `kind`): without the citations `holds` confirms (the store
/// holds the cited event and its [`cited_value`] equals the copy) and without internal copies, the dropped
/// keys listed under [`CITED_KEY`]. `None` when nothing can be dropped: store `meta` as it is.
#[must_use]
pub fn stored_form(kind: EventType, meta: &Value, mut holds: impl FnMut(&Citation<'_>) -> bool) -> Option<Value> {
    let obj = meta.as_object().filter(|o| !o.contains_key(CITED_KEY))?;
    let mut dropped: Vec<&str> = citations(kind, meta).iter().filter(|c| holds(c)).map(|c| c.key).collect();
    // Restored in this order: the cited sighting, the sources list from it, the parsed list from that.
    let sources = is_asset_change(kind) && !obj.contains_key(SOURCES_KEY) && sources_are_the_sighting(obj);
    if sources {
        dropped.push(SOURCES_KEY);
    }
    if let Some((copy, object, key)) = internal_copy(kind)
        && obj.get(copy).is_some_and(|v| Some(v) == internal_source(obj, object, key).as_ref())
    {
        dropped.push(copy);
    }
    let members = kind == EventType::SnapshotRecorded && !obj.contains_key(MEMBERS_KEY) && members_are_itself(obj);
    if members {
        dropped.push(MEMBERS_KEY);
    }
    if dropped.is_empty() {
        return None;
    }
    let mut stored: Map<String, Value> = obj.iter().filter(|(k, _)| !dropped.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    if sources && let Some(Value::Object(asset)) = stored.get_mut("asset") {
        asset.remove("sources_json");
    }
    if members && let Some(Value::Object(merge)) = stored.get_mut("merge") {
        merge.remove("members");
    }
    stored.insert(CITED_KEY.to_string(), Value::from(dropped));
    Some(Value::Object(stored))
}

/// The events log's form of `meta` (of an event of `kind`): its [`stored_form`], and for a risk evaluation its
/// checks' provider times kept once (`"$times"`, listed as `checks.times`; see `check_times`). The ledger
/// keeps evaluations in `risk_flags` (check times once per row, in its own column) and does not use this form. `None`: write `meta` as it is.
#[must_use]
pub fn log_form(kind: EventType, meta: &Value, holds: impl FnMut(&Citation<'_>) -> bool) -> Option<Value> {
    if kind != EventType::RiskEvaluated {
        return stored_form(kind, meta, holds);
    }
    let obj = meta.as_object().filter(|o| !o.contains_key(CITED_KEY) && !o.contains_key(check_times::TIMES_KEY))?;
    let checks = obj.get("checks")?.as_array().filter(|c| !c.is_empty())?;
    let (checks, times) = check_times::compact(checks)?;
    let mut stored = obj.clone();
    stored.insert("checks".to_string(), Value::Array(checks));
    stored.insert(check_times::TIMES_KEY.to_string(), Value::Array(times));
    stored.insert(CITED_KEY.to_string(), Value::from(vec![check_times::CHECK_TIMES_KEY]));
    Some(Value::Object(stored))
}

/// The [`cited_value`] of an event whose meta is `stored` in a [`stored_form`] or [`log_form`]. Cited events
/// only drop copies of themselves, so nothing else is looked up.
#[must_use]
pub fn stored_cited_value(kind: EventType, stored: &Value) -> Option<Value> {
    if !stored.as_object().is_some_and(|o| o.contains_key(CITED_KEY)) {
        return cited_value(kind, stored);
    }
    let mut meta = stored.clone();
    restore(kind, &mut meta, |_, _| None).ok()?;
    cited_value(kind, &meta)
}

/// The events a stored meta (of an event of `kind`) cites for the keys it dropped: `(type, id)`.
#[must_use]
pub fn cited_events(kind: EventType, stored: &Value) -> Vec<(EventType, &str)> {
    let Some(obj) = stored.as_object() else { return Vec::new() };
    let listed: Vec<&str> = obj.get(CITED_KEY).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    cites(kind).iter().filter(|(k, ..)| listed.contains(k)).filter_map(|(_, cited, source)| Some((*cited, cited_id(obj, source)?))).collect()
}

/// Puts back what [`stored_form`] dropped from `stored` (of an event of `kind`) and removes [`CITED_KEY`];
/// a meta without it is left as it is. `lookup(kind, id)` gives the [`cited_value`] of a cited event.
///
/// # Errors
/// [`DomainError::Cited`] when a cited event is unknown to `lookup`, or a listed key is not one this type
/// cites.
pub fn restore(kind: EventType, stored: &mut Value, mut lookup: impl FnMut(EventType, &str) -> Option<Value>) -> Result<(), DomainError> {
    let Some(obj) = stored.as_object_mut() else { return Ok(()) };
    let Some(listed) = obj.remove(CITED_KEY) else { return Ok(()) };
    let bad = |key: &str, id: &str| DomainError::Cited { kind, key: key.to_string(), event_id: id.to_string() };
    for key in listed.as_array().into_iter().flatten() {
        let key = key.as_str().unwrap_or_default();
        let value = if let Some((_, cited, source)) = cites(kind).iter().find(|(k, ..)| *k == key) {
            let id = cited_id(obj, source).unwrap_or_default().to_string();
            lookup(*cited, &id).ok_or_else(|| bad(key, &id))?
        } else if let Some((_, object, from)) = internal_copy(kind).filter(|(copy, ..)| *copy == key) {
            internal_source(obj, object, from).ok_or_else(|| bad(key, ""))?
        } else if key == SOURCES_KEY && is_asset_change(kind) {
            let sources = obj.get("sighting").and_then(one_sighting_sources).ok_or_else(|| bad(key, ""))?;
            match obj.get_mut("asset") {
                Some(Value::Object(asset)) => asset.insert("sources_json".to_string(), Value::String(sources)),
                _ => return Err(bad(key, "")),
            };
            continue;
        } else if key == check_times::CHECK_TIMES_KEY && kind == EventType::RiskEvaluated {
            let times = obj.remove(check_times::TIMES_KEY).ok_or_else(|| bad(key, ""))?;
            obj.get_mut("checks").and_then(|checks| check_times::expand(checks, &times)).ok_or_else(|| bad(key, ""))?;
            continue;
        } else if key == MEMBERS_KEY && kind == EventType::SnapshotRecorded {
            let view = snapshot_view(obj);
            match obj.get_mut("merge") {
                Some(Value::Object(merge)) => merge.insert("members".to_string(), Value::Array(vec![view])),
                _ => return Err(bad(key, "")),
            };
            continue;
        } else {
            return Err(bad(key, ""));
        };
        obj.insert(key.to_string(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn score() -> Value {
        json!({"score": "1", "inputs": ["snap1", "risk1"], "snapshot": {"asset_id": "a", "price_usd": "2"}, "evaluation": {"checks": []}, "source_count": 1})
    }

    fn lookup(kind: EventType, id: &str) -> Option<Value> {
        match (kind, id) {
            (EventType::SnapshotRecorded, "snap1") => cited_value(kind, &json!({"asset_id": "a", "price_usd": "2", "source_count": 3})),
            (EventType::RiskEvaluated, "risk1") => cited_value(kind, &json!({"checks": []})),
            (EventType::AssetUpserted, "up1") => cited_value(kind, &json!({"asset_id": "a", "sighting": {"source": "s"}})),
            _ => None,
        }
    }

    #[test]
    fn a_score_cites_its_snapshot_and_evaluation_and_restores_exactly() {
        let meta = score();
        let cites: Vec<_> = citations(EventType::ScoreComputed, &meta).iter().map(|c| (c.key, c.kind, c.event_id)).collect();
        assert_eq!(cites, vec![("snapshot", EventType::SnapshotRecorded, "snap1"), ("evaluation", EventType::RiskEvaluated, "risk1")]);
        let mut stored = stored_form(EventType::ScoreComputed, &meta, |c| lookup(c.kind, c.event_id).as_ref() == Some(c.copy)).unwrap();
        assert_eq!(stored, json!({"score": "1", "inputs": ["snap1", "risk1"], "source_count": 1, "$cited": ["snapshot", "evaluation"]}));
        assert_eq!(cited_events(EventType::ScoreComputed, &stored), vec![(EventType::SnapshotRecorded, "snap1"), (EventType::RiskEvaluated, "risk1")]);
        restore(EventType::ScoreComputed, &mut stored, lookup).unwrap();
        assert_eq!(stored, meta);
    }

    #[test]
    fn only_confirmed_copies_are_dropped() {
        let mut meta = score();
        meta["evaluation"] = json!({"checks": ["differs"]});
        let mut stored = stored_form(EventType::ScoreComputed, &meta, |c| lookup(c.kind, c.event_id).as_ref() == Some(c.copy)).unwrap();
        assert_eq!(stored["$cited"], json!(["snapshot"]));
        assert_eq!(stored["evaluation"], meta["evaluation"]);
        restore(EventType::ScoreComputed, &mut stored, lookup).unwrap();
        assert_eq!(stored, meta);
        assert_eq!(stored_form(EventType::ScoreComputed, &meta, |_| false), None, "nothing confirmed: stored as is");
        let plain = json!({"score": "1"});
        assert_eq!(stored_form(EventType::ScoreComputed, &plain, |_| true), None);
        let mut same = plain.clone();
        restore(EventType::ScoreComputed, &mut same, |_, _| None).unwrap();
        assert_eq!(same, plain, "a meta without $cited is left alone");
    }

    #[test]
    fn asset_changes_cite_the_cause_sighting_and_drop_the_parsed_sources() {
        let meta = json!({
            "asset": {"asset_id": "a", "sources_json": "[{\"source\":\"s\"}]"},
            "sightings": [{"source": "s"}],
            "sighting": {"source": "s"},
            "cause_event_id": "up1",
        });
        let mut stored = stored_form(EventType::AssetDiscovered, &meta, |c| lookup(c.kind, c.event_id).as_ref() == Some(c.copy)).unwrap();
        assert_eq!(stored["$cited"], json!(["sighting", "sightings"]));
        assert!(stored.get("sightings").is_none() && stored.get("sighting").is_none());
        restore(EventType::AssetDiscovered, &mut stored, lookup).unwrap();
        assert_eq!(stored, meta);
    }

    fn real_sighting(instrument: &str) -> Value {
        json!({
            "first_observed_at": "2026-12-07T11:18:39.796Z", "instrument_id": instrument, "kind": "dex_pool",
            "pair": {"dex": "uniswap_v2", "pool": instrument, "quote": "WETH"}, "scheduled_at": null, "source": "geckoterminal",
            "source_published_at": "2026-12-07T10:43:39Z", "status": null, "venue": "uniswap_v2",
        })
    }

    fn sources(sightings: &[Value]) -> String {
        let typed: Vec<crate::Sighting> = sightings.iter().map(|s| serde_json::from_value(s.clone()).unwrap()).collect();
        serde_json::to_string(&typed).unwrap()
    }

    #[test]
    fn a_single_source_asset_keeps_its_sources_list_once_as_the_cited_sighting() {
        let up = json!({"asset_id": "a", "sighting": real_sighting("0xpool")});
        let lookup = |kind: EventType, id: &str| (kind == EventType::AssetUpserted && id == "up1").then(|| cited_value(kind, &up)).flatten();
        let one = sources(&[real_sighting("0xpool")]);
        let meta = json!({
            "asset": {"asset_id": "a", "sources_json": one, "symbol": "A"},
            "sightings": [real_sighting("0xpool")],
            "sighting": real_sighting("0xpool"),
            "cause_event_id": "up1",
        });
        for held in [true, false] {
            let mut stored = stored_form(EventType::AssetDiscovered, &meta, |c| held && lookup(c.kind, c.event_id).as_ref() == Some(c.copy)).unwrap();
            let listed = if held { json!(["sighting", "asset.sources_json", "sightings"]) } else { json!(["asset.sources_json", "sightings"]) };
            assert_eq!(stored["$cited"], listed);
            assert_eq!(stored["asset"], json!({"asset_id": "a", "symbol": "A"}), "the sources list is not stored");
            assert_eq!(stored.get("sighting").is_some(), !held);
            restore(EventType::AssetDiscovered, &mut stored, lookup).unwrap();
            assert_eq!(stored, meta, "restored exactly (cited: {held})");
        }

        // Two sightings, or a list not written the way the ledger writes it: kept as they are.
        let two = sources(&[real_sighting("0xother"), real_sighting("0xpool")]);
        let spaced = one.replace(",", ", ");
        for sources_json in [two, spaced] {
            let mut meta = meta.clone();
            meta["asset"]["sources_json"] = json!(sources_json);
            meta["sightings"] = serde_json::from_str(&sources_json).unwrap();
            let mut stored = stored_form(EventType::AssetUpdated, &meta, |c| lookup(c.kind, c.event_id).as_ref() == Some(c.copy)).unwrap();
            assert_eq!(stored["$cited"], json!(["sighting", "sightings"]));
            assert_eq!(stored["asset"]["sources_json"], json!(sources_json));
            restore(EventType::AssetUpdated, &mut stored, lookup).unwrap();
            assert_eq!(stored, meta);
        }
    }

    #[test]
    fn a_one_source_snapshot_does_not_store_itself_as_its_merge_member() {
        let view = json!({"asset_id": "a", "observed_at": "t1", "price_usd": "2", "raw_event_id": "r", "source": "geckoterminal"});
        let mut meta = view.clone();
        meta["source_count"] = json!(1);
        meta["merge"] = json!({"members": [view], "provenance": {"price_usd": "geckoterminal"}});
        let mut stored = stored_form(EventType::SnapshotRecorded, &meta, |_| true).unwrap();
        assert_eq!(stored["$cited"], json!(["merge.members"]));
        assert_eq!(stored["merge"], json!({"provenance": {"price_usd": "geckoterminal"}}));
        // A score citing the stored snapshot sees the same market view as one citing the published one.
        assert_eq!(cited_value(EventType::SnapshotRecorded, &stored), cited_value(EventType::SnapshotRecorded, &meta));
        assert!(is_cited_copy(EventType::SnapshotRecorded, &stored, &view));
        restore(EventType::SnapshotRecorded, &mut stored, |_, _| None).unwrap();
        assert_eq!(stored, meta);

        // The enricher names the asset beside the view: the name is not part of the member, nor of a score's copy.
        let mut named = meta.clone();
        named["name"] = json!("Simulated A");
        let mut stored = stored_form(EventType::SnapshotRecorded, &named, |_| true).unwrap();
        assert_eq!(stored["$cited"], json!(["merge.members"]), "{stored}");
        assert!(is_cited_copy(EventType::SnapshotRecorded, &stored, &view));
        assert!(is_cited_copy(EventType::SnapshotRecorded, &named, &view), "a score's snapshot copy cites a named snapshot");
        restore(EventType::SnapshotRecorded, &mut stored, |_, _| None).unwrap();
        assert_eq!(stored, named);

        // Two members, or one that differs from the merged view (an older time): kept.
        let mut two = meta.clone();
        two["merge"]["members"] = json!([view, {"source": "dexscreener"}]);
        let mut older = meta.clone();
        older["merge"]["members"][0]["observed_at"] = json!("t0");
        for m in [two, older] {
            assert_eq!(stored_form(EventType::SnapshotRecorded, &m, |_| true), None, "{m}");
        }
    }

    #[test]
    fn cited_copies_compare_and_serialize_without_copying() {
        let snap = json!({"asset_id": "a", "price_usd": "2", "source_count": 3});
        assert!(is_cited_copy(EventType::SnapshotRecorded, &snap, &json!({"asset_id": "a", "price_usd": "2"})));
        assert!(!is_cited_copy(EventType::SnapshotRecorded, &snap, &json!({"asset_id": "a"})));
        assert!(!is_cited_copy(EventType::SnapshotRecorded, &snap, &json!({"asset_id": "a", "price_usd": "2", "x": 1})));
        let plain = json!({"asset_id": "a", "price_usd": "2"});
        assert!(is_cited_copy(EventType::SnapshotRecorded, &plain, &plain));
        assert!(!is_cited_copy(EventType::ScoreComputed, &plain, &plain), "never cited");
        let view = cited_view(EventType::SnapshotRecorded, &snap).unwrap();
        assert_eq!(serde_json::to_value(view).unwrap(), cited_value(EventType::SnapshotRecorded, &snap).unwrap());
    }

    fn check(code: &str, at: &str, value: Value, detail: Value) -> Value {
        json!({"code": code, "verdict": "pass", "provider": "goplus", "observed_at": at, "expires_at": format!("{at}+15m"), "severity": 0, "value": value, "detail": detail})
    }

    #[test]
    fn the_log_keeps_an_evaluations_check_times_once_and_restores_them_exactly() {
        let checks = vec![
            check("low_liquidity", "t1", json!("250000"), Value::Null),
            check("honeypot", "t2", json!(false), json!("goplus=false")),
            check("mintable", "t2", Value::Null, json!("goplus: fact not reported")),
            check("proxy", "t1", json!(true), json!("goplus=true")),
        ];
        let meta = json!({"asset_id": "a", "rule_set_version": "risk-rules-v1", "evaluated_at": "t0", "checks": checks, "severity": 0, "disagreements": []});
        let mut stored = log_form(EventType::RiskEvaluated, &meta, |_| true).unwrap();
        assert_eq!(stored["$cited"], json!(["checks.times"]));
        assert_eq!(stored["$times"], json!([["t1", "t1+15m"], ["t2", "t2+15m"]]));
        assert_eq!(stored["checks"][0], json!({"code": "low_liquidity", "verdict": "pass", "provider": "goplus", "severity": 0, "value": "250000"}));
        assert_eq!(stored["checks"][2]["t"], json!(1));
        assert!(stored.to_string().len() < meta.to_string().len());
        assert!(cited_events(EventType::RiskEvaluated, &stored).is_empty(), "nothing outside the line is cited");
        assert_eq!(stored_cited_value(EventType::RiskEvaluated, &stored), cited_value(EventType::RiskEvaluated, &meta), "a score's copy still compares");
        restore(EventType::RiskEvaluated, &mut stored, |_, _| None).unwrap();
        assert_eq!(stored, meta);
        assert_eq!(stored_form(EventType::RiskEvaluated, &meta, |_| true), None, "the ledger's form keeps the checks");

        // Checks that compacting could not restore exactly are written as they are.
        let mut no_detail = meta.clone();
        no_detail["checks"][1].as_object_mut().unwrap().remove("detail");
        let mut named_t = meta.clone();
        named_t["checks"][0]["t"] = json!(0);
        let mut untimed = meta.clone();
        untimed["checks"][3]["expires_at"] = Value::Null;
        let mut empty = meta.clone();
        empty["checks"] = json!([]);
        for m in [no_detail, named_t, untimed, empty] {
            assert_eq!(log_form(EventType::RiskEvaluated, &m, |_| true), None, "{m}");
        }
        let mut broken = log_form(EventType::RiskEvaluated, &meta, |_| true).unwrap();
        broken["checks"][2]["t"] = json!(7);
        assert!(restore(EventType::RiskEvaluated, &mut broken, |_, _| None).is_err());
    }

    #[test]
    fn a_missing_cited_event_is_an_error() {
        let mut stored = json!({"inputs": ["gone", "risk1"], "$cited": ["snapshot"]});
        let err = restore(EventType::ScoreComputed, &mut stored, lookup).unwrap_err();
        assert!(err.to_string().contains("snapshot") && err.to_string().contains("gone"), "{err}");
        let mut bogus = json!({"$cited": ["nope"]});
        assert!(restore(EventType::ScoreComputed, &mut bogus, lookup).is_err());
    }
}
