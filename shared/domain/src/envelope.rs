//! The event envelope every bus message and every events.jsonl line carries.

use std::fmt;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{EventType, Ts};

/// Version of the envelope schema (`v`).
pub const SCHEMA_VERSION: u32 = 1;

/// A deterministic event id: the first 128 bits (32 hex digits) of SHA-256 over the event type and its
/// identifying parts, unit-separated. The same content always gives the same id, so a redelivered or
/// re-derived event deduplicates at the bus (`Nats-Msg-Id`), the ledger (`ON CONFLICT`) and the recorder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    /// Derives the id of an event of `kind` identified by `parts` (order matters).
    #[must_use]
    pub fn derive(kind: EventType, parts: &[&str]) -> Self {
        let mut h = Sha256::new();
        h.update(kind.as_str().as_bytes());
        for p in parts {
            h.update([0x1f]);
            h.update(p.as_bytes());
        }
        let digest = h.finalize();
        Self(hex::encode(&digest[..16]))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity stamped on everything a run publishes: its `run_id` and the `config_hash` of the
/// effective config that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunIdentity {
    pub run_id: String,
    pub config_hash: String,
}

/// The envelope. Field names and order are the runbook's event schema; absent values serialize as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: EventId,
    #[serde(with = "ts_millis")]
    pub ts: Ts,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub run_id: String,
    pub config_hash: String,
    pub asset_id: Option<String>,
    pub symbol: Option<String>,
    pub chain: Option<String>,
    pub source: Option<String>,
    pub meta: serde_json::Value,
    pub v: u32,
}

impl Envelope {
    /// A new envelope whose id is derived from `kind` and `id_parts`. Optional fields start empty.
    #[must_use]
    pub fn new(kind: EventType, id_parts: &[&str], ts: Ts, run_id: &str, config_hash: &str, meta: serde_json::Value) -> Self {
        Self {
            event_id: EventId::derive(kind, id_parts),
            ts,
            kind,
            run_id: run_id.to_string(),
            config_hash: config_hash.to_string(),
            asset_id: None,
            symbol: None,
            chain: None,
            source: None,
            meta,
            v: SCHEMA_VERSION,
        }
    }

    #[must_use]
    pub fn with_asset(mut self, asset_id: impl Into<String>) -> Self {
        self.asset_id = Some(asset_id.into());
        self
    }

    #[must_use]
    pub fn with_symbol(mut self, symbol: impl Into<String>) -> Self {
        self.symbol = Some(symbol.into());
        self
    }

    #[must_use]
    pub fn with_chain(mut self, chain: impl Into<String>) -> Self {
        self.chain = Some(chain.into());
        self
    }

    #[must_use]
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The bus subject of this event: `nl.evt.<type>`, except raw captures, which go to
    /// `nl.raw.<source>` so a consumer can take every source's payloads apart from the events.
    #[must_use]
    pub fn subject(&self) -> String {
        match (self.kind, &self.source) {
            (EventType::RawCaptured, Some(source)) => crate::raw_subject(source),
            _ => self.kind.subject(),
        }
    }

    /// Serializes to one JSON line (no trailing newline).
    ///
    /// # Errors
    /// Only if `meta` holds a value serde_json cannot write, which a `Value` never does.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Parses one JSON envelope.
    ///
    /// # Errors
    /// The serde_json error (with line/column) when the bytes are not a valid envelope.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// RFC 3339 with milliseconds and `Z`, e.g. `2026-11-21T20:09:50.123Z`.
pub mod ts_millis {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &Ts, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ts, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&chrono::Utc)).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn id_is_deterministic_and_content_sensitive() {
        let a = EventId::derive(EventType::AssetDiscovered, &["eth:0xabc"]);
        let b = EventId::derive(EventType::AssetDiscovered, &["eth:0xabc"]);
        let c = EventId::derive(EventType::AssetUpdated, &["eth:0xabc"]);
        let d = EventId::derive(EventType::AssetDiscovered, &["eth:0xab", "c"]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d, "part boundaries are part of the identity");
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn json_has_schema_fields_in_order() {
        let ts = chrono::Utc.with_ymd_and_hms(2026, 11, 21, 20, 9, 50).unwrap();
        let e = Envelope::new(EventType::AssetDiscovered, &["x"], ts, "nl_20261121_200950Z_deadbeef", "abc", serde_json::json!({"k": 1}))
            .with_asset("cex:okx:NEW")
            .with_symbol("NEW");
        let s = String::from_utf8(e.to_json().unwrap()).unwrap();
        let keys: Vec<&str> = ["event_id", "ts", "type", "run_id", "config_hash", "asset_id", "symbol", "chain", "source", "meta", "v"].to_vec();
        let mut last = 0;
        for k in keys {
            let pos = s.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("missing {k} in {s}"));
            assert!(pos >= last, "{k} out of order");
            last = pos;
        }
        assert!(s.contains("\"ts\":\"2026-11-21T20:09:50.000Z\""));
        assert!(s.contains("\"type\":\"asset.discovered\""));
        assert_eq!(Envelope::from_json(s.as_bytes()).unwrap(), e);
    }
}
