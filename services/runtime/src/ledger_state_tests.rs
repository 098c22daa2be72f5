#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn entry(status: Value, missing: u32) -> Value {
    json!({"status": status, "raw_status": "x", "scheduled_at": "2026-12-07T10:00:00.123Z", "first_seen": "2026-12-07T09:00:00Z",
           "removed": missing > 0, "base": "NEW", "baseline": false, "missing": missing, "link": ["ethereum", "0xabc"]})
}

fn canonical(v: &Value) -> Value {
    serde_json::to_value(KnownEntry::deserialize(v).unwrap()).unwrap()
}

#[test]
fn a_known_entry_survives_its_row() {
    for status in [json!("Trading"), json!("Halted"), json!({"Other": "SUSPENDED"})] {
        let v = canonical(&entry(status, 2));
        let (id, back) = entry_of(row_of("NEW-USDT", &v).unwrap()).unwrap();
        assert_eq!((id.as_str(), &back), ("NEW-USDT", &v));
    }
}

#[test]
fn only_changed_entries_are_written() {
    let saved: Entries = (0..1000).map(|i| (format!("I{i}"), canonical(&entry(json!("Trading"), 0)))).collect();
    let mut next = saved.clone();
    next.insert("I7".into(), canonical(&entry(json!("Halted"), 0)));
    next.insert("NEW".into(), canonical(&entry(json!("Trading"), 0)));
    next.remove("I9");
    let d = changes(Some(&saved), &next).unwrap();
    let ids: Vec<&str> = d.upserts.iter().map(|r| r.instrument_id.as_str()).collect();
    assert_eq!((ids, d.deletes), (vec!["I7", "NEW"], vec!["I9".to_string()]));
    assert_eq!(d.upserts[0].status, "halted");
    assert!(changes(Some(&next), &next).unwrap().is_empty(), "an unchanged set writes nothing");
    assert_eq!(changes(None, &next).unwrap().upserts.len(), next.len(), "nothing saved yet: every entry");
}

#[test]
fn the_cursor_keeps_everything_but_the_entries() {
    let state = json!({"known": {"entries": {"A": entry(json!("Trading"), 0)}}, "partial": true});
    assert_eq!(cursor_of(&state), json!({"known": {"entries": {}}, "partial": true}));
    assert_eq!(cursor_of(&json!({"seen": [1]})), json!({"seen": [1]}));
}
