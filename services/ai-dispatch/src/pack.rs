//! Evidence packs: what a layer may look at, point in time (only items at or before the trigger's
//! timestamp), canonical JSON with an id on every item, hashed (`input_sha256`). Untrusted text (names,
//! symbols, descriptions) is kept apart from facts, cleaned here and datamarked only when the prompt is
//! rendered, so the hash does not depend on the per-call marker.

use std::collections::BTreeMap;

use nl_domain::Ts;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// `e1`, `e2`, … in pack order: what red flags and findings cite.
    pub id: String,
    pub kind: String,
    /// When the fact was true or observed; items without a time are facts of the trigger itself.
    pub ts: Option<Ts>,
    /// The event (or row) the item came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_event_id: Option<String>,
    pub facts: Value,
    /// Attacker-controllable text, cleaned ([`crate::sanitize::clean`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub text: BTreeMap<String, String>,
}

/// The pack one call sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pack {
    pub layer: String,
    /// The trigger's timestamp: no item is newer.
    pub as_of: Ts,
    pub subject: Option<String>,
    pub items: Vec<Item>,
}

/// Builds a pack, dropping what is newer than `as_of` and numbering the rest.
#[derive(Debug)]
pub struct PackBuilder {
    pack: Pack,
    max_chars: usize,
    max_items: usize,
}

impl PackBuilder {
    #[must_use]
    pub fn new(layer: &str, as_of: Ts, subject: Option<String>, max_chars: usize) -> Self {
        Self { pack: Pack { layer: layer.into(), as_of, subject, items: Vec::new() }, max_chars, max_items: 200 }
    }

    /// At most `n` items.
    #[must_use]
    pub fn with_max_items(mut self, n: usize) -> Self {
        self.max_items = n;
        self
    }

    /// Adds an item unless it is newer than the trigger (or the pack is full); returns its id.
    pub fn push(&mut self, kind: &str, ts: Option<Ts>, source_event_id: Option<String>, facts: Value, text: &[(&str, Option<&str>)]) -> Option<String> {
        if ts.is_some_and(|t| t > self.pack.as_of) || self.pack.items.len() >= self.max_items {
            return None;
        }
        let id = format!("e{}", self.pack.items.len() + 1);
        let text = text
            .iter()
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), crate::sanitize::clean(v, self.max_chars))))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        self.pack.items.push(Item { id: id.clone(), kind: kind.into(), ts, source_event_id, facts, text });
        Some(id)
    }

    #[must_use]
    pub fn finish(self) -> Pack {
        self.pack
    }
}

impl Pack {
    /// The pack as a JSON value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// `input_sha256`: SHA-256 of the canonical JSON.
    #[must_use]
    pub fn sha256(&self) -> String {
        canonical::hash(&self.to_value())
    }

    /// Whether `id` names an item.
    #[must_use]
    pub fn has_id(&self, id: &str) -> bool {
        self.items.iter().any(|i| i.id == id)
    }

    /// Every item newer than `as_of` (always empty for a built pack; what tests assert).
    #[must_use]
    pub fn newer_than_trigger(&self) -> Vec<&Item> {
        self.items.iter().filter(|i| i.ts.is_some_and(|t| t > self.as_of)).collect()
    }

    /// The pack as the model sees it: canonical JSON facts, every untrusted text datamarked with `marker`.
    #[must_use]
    pub fn render(&self, marker: &str) -> String {
        let mut v = self.to_value();
        if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(Value::Object(text)) = item.get_mut("text") {
                    for t in text.values_mut() {
                        if let Value::String(s) = t {
                            *s = crate::sanitize::datamark(s, marker);
                        }
                    }
                }
            }
        }
        canonical::to_string(&v)
    }

    /// Every string a reply may quote as an address or a number: all facts and texts, flattened.
    #[must_use]
    pub fn haystack(&self) -> String {
        canonical::to_string(&self.to_value())
    }
}

/// Addresses (`0x…` hex of 40 hex digits, base58-looking words of 32–44 characters) and numbers of two
/// or more digits in `text` that do not occur in `haystack`: what a reply must not invent.
#[must_use]
pub fn invented(text: &str, haystack: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')) {
        let word = word.trim_matches('.');
        let is_evm = word.len() == 42 && word.starts_with("0x") && word[2..].chars().all(|c| c.is_ascii_hexdigit());
        let is_b58 = (32..=44).contains(&word.len()) && word.chars().all(|c| c.is_ascii_alphanumeric() && !"0OIl".contains(c));
        let digits: String = word.chars().filter(char::is_ascii_digit).collect();
        let is_number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit() || c == '.') && digits.len() >= 2;
        if is_evm || is_b58 {
            if !haystack.to_lowercase().contains(&word.to_lowercase()) {
                out.push(word.to_owned());
            }
        } else if is_number && !haystack.contains(word) && !haystack.contains(digits.trim_start_matches('0')) {
            out.push(word.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{Duration, TimeZone, Utc};
    use serde_json::json;

    use super::*;

    #[test]
    fn drops_items_newer_than_the_trigger_and_hashes_canonically() {
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        let mut b = PackBuilder::new("l1", t, Some("eth:0xab".into()), 50);
        assert_eq!(b.push("asset", Some(t), None, json!({"b":1,"a":2}), &[("name", Some("Evil\u{200B} Token"))]).as_deref(), Some("e1"));
        assert_eq!(b.push("snapshot", Some(t + Duration::seconds(1)), None, json!({}), &[]), None);
        let p = b.finish();
        assert!(p.newer_than_trigger().is_empty() && p.items.len() == 1);
        assert_eq!(p.items[0].text["name"], "Evil Token");
        assert_eq!(p.sha256(), p.clone().sha256());
        assert!(p.render("abc").contains("Evil^abc^Token"));
    }

    #[test]
    fn invented_addresses_and_numbers_are_found() {
        let hay = r#"{"liquidity":"250000.0","address":"0x0000000000000000000000000000515100000001"}"#;
        assert!(invented("liquidity 250000 at 0x0000000000000000000000000000515100000001", hay).is_empty());
        assert_eq!(invented("send to 0x1111111111111111111111111111111111111111", hay), vec!["0x1111111111111111111111111111111111111111"]);
        assert_eq!(invented("price 98765", hay), vec!["98765"]);
        assert!(invented("a 1 b", hay).is_empty());
    }
}
