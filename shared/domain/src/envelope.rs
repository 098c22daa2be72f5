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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

    /// Serializes to one JSON line (no trailing newline), in a buffer of its own length.
    ///
    /// serde_json grows its buffer by doubling, so up to half of it is spare; a payload kept as bus
    /// message `Bytes` keeps the whole allocation (and mimalloc does not shrink a block in place until
    /// it is less than half used). `nl run` at 10,000 assets held about 145 MB of envelope payloads at
    /// its peak; an exact copy costs one memcpy of the line.
    ///
    /// # Errors
    /// Only if `meta` holds a value serde_json cannot write, which a `Value` never does.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let v = serde_json::to_vec(self)?;
        Ok(if v.capacity() - v.len() > v.len() / 8 { v.as_slice().to_vec() } else { v })
    }

    /// Serializes to one JSON line with `meta` in place of this envelope's (a stored form, see
    /// [`crate::stored`]), without copying the envelope.
    ///
    /// # Errors
    /// As [`Envelope::to_json`].
    pub fn to_json_with_meta(&self, meta: &serde_json::Value) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.with_meta(meta))
    }

    fn with_meta<'a>(&'a self, meta: &'a serde_json::Value) -> EnvelopeRef<'a> {
        EnvelopeRef {
            event_id: &self.event_id,
            ts: &self.ts,
            kind: self.kind,
            run_id: &self.run_id,
            config_hash: &self.config_hash,
            asset_id: self.asset_id.as_deref(),
            symbol: self.symbol.as_deref(),
            chain: self.chain.as_deref(),
            source: self.source.as_deref(),
            meta,
            v: self.v,
        }
    }

    /// Parses one JSON envelope.
    ///
    /// # Errors
    /// The serde_json error (with line/column) when the bytes are not a valid envelope.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The one serialized layout of an envelope, borrowed (so a stored form can swap `meta` without a copy).
#[derive(Serialize)]
struct EnvelopeRef<'a> {
    event_id: &'a EventId,
    #[serde(serialize_with = "ts_ref")]
    ts: &'a Ts,
    #[serde(rename = "type")]
    kind: EventType,
    run_id: &'a str,
    config_hash: &'a str,
    asset_id: Option<&'a str>,
    symbol: Option<&'a str>,
    chain: Option<&'a str>,
    source: Option<&'a str>,
    meta: &'a serde_json::Value,
    v: u32,
}

fn ts_ref<S: serde::Serializer>(ts: &&Ts, s: S) -> Result<S::Ok, S::Error> {
    ts_millis::serialize(ts, s)
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_meta(&self.meta).serialize(s)
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
        let json = e.to_json().unwrap();
        assert!(json.capacity() - json.len() <= json.len() / 8, "no spare half buffer: {} of {}", json.len(), json.capacity());
        let s = String::from_utf8(json).unwrap();
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
