//! [`Payload`]: what a [`crate::Message`] carries, either bytes or a shared typed envelope.
//!
//! In embedded mode every hop is in one process, so a producer hands the bus its [`Envelope`] as is
//! ([`crate::Message::typed`]) and each consumer gets the same `Arc<Envelope>` back: `MemoryBus` never
//! serializes, and no consumer parses. JSON is written only where bytes are needed (a NATS publish, an
//! `events` row or an events.jsonl line that keeps the envelope whole), at most once per message: the
//! encoding is cached and shared by every clone of the payload (every delivery of the message). A NATS
//! delivery arrives as bytes and is parsed once, by the consumer that decodes it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use nl_domain::Envelope;

/// A message's content: bytes, or an envelope whose JSON is written lazily, once.
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Bytes(Bytes),
    Typed { env: Arc<Envelope>, json: Arc<OnceLock<Bytes>> },
}

impl Payload {
    /// A typed payload carrying `env`; its JSON is written on first need.
    #[must_use]
    pub fn typed(env: impl Into<Arc<Envelope>>) -> Self {
        Self(Repr::Typed { env: env.into(), json: Arc::new(OnceLock::new()) })
    }

    /// The envelope of a typed payload (`None` for bytes).
    #[must_use]
    pub fn envelope(&self) -> Option<&Arc<Envelope>> {
        match &self.0 {
            Repr::Typed { env, .. } => Some(env),
            Repr::Bytes(_) => None,
        }
    }

    /// The envelope: shared as is when typed (no copy, no parse), parsed when bytes.
    ///
    /// # Errors
    /// The serde error when the bytes are not an envelope.
    pub fn to_envelope(&self) -> Result<Arc<Envelope>, serde_json::Error> {
        match &self.0 {
            Repr::Typed { env, .. } => Ok(Arc::clone(env)),
            Repr::Bytes(b) => Envelope::from_json(b).map(Arc::new),
        }
    }

    /// Whether this payload is a typed envelope.
    #[must_use]
    pub fn is_typed(&self) -> bool {
        matches!(self.0, Repr::Typed { .. })
    }

    /// The bytes if they exist already (bytes, or a typed payload whose JSON was written), without
    /// writing any.
    #[must_use]
    pub fn encoded(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Bytes(b) => Some(b),
            Repr::Typed { json, .. } => json.get(),
        }
    }

    /// The bytes, writing (and caching, for every clone) the envelope's JSON on first call.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        match &self.0 {
            Repr::Bytes(b) => b,
            Repr::Typed { env, json } => json.get_or_init(|| encode(env)),
        }
    }

    /// The bytes, as [`Payload::as_bytes`] (a cheap reference-counted copy).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        self.as_bytes().clone()
    }
}

/// An envelope's JSON. Writing an envelope cannot fail (its fields are strings, numbers and a
/// `serde_json::Value`); should serde ever refuse, the payload is empty and the consumer that decodes it
/// terminates it as undecodable, so it is dead-lettered and counted, not silently lost.
fn encode(env: &Envelope) -> Bytes {
    match env.to_json() {
        Ok(json) => Bytes::from(json),
        Err(error) => {
            tracing::error!(event_id = %env.event_id, %error, "An envelope could not be written as JSON.");
            Bytes::new()
        }
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Payload {
    /// Typed payloads compare as envelopes; otherwise as bytes.
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Typed { env: a, .. }, Repr::Typed { env: b, .. }) => Arc::ptr_eq(a, b) || a == b,
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Bytes(b) => fmt::Debug::fmt(b, f),
            Repr::Typed { env, .. } => write!(f, "Envelope({} {})", env.kind, env.event_id),
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self(Repr::Bytes(Bytes::new()))
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Self(Repr::Bytes(b))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(b: Vec<u8>) -> Self {
        Self(Repr::Bytes(b.into()))
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Self(Repr::Bytes(s.into()))
    }
}

impl From<&'static str> for Payload {
    fn from(s: &'static str) -> Self {
        Self(Repr::Bytes(Bytes::from_static(s.as_bytes())))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(s: &'static [u8]) -> Self {
        Self(Repr::Bytes(Bytes::from_static(s)))
    }
}

impl From<Payload> for Bytes {
    fn from(p: Payload) -> Self {
        match p.0 {
            Repr::Bytes(b) => b,
            Repr::Typed { env, json } => json.get_or_init(|| encode(&env)).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use nl_domain::EventType;

    use super::*;

    fn env() -> Envelope {
        let ts = chrono::Utc.with_ymd_and_hms(2026, 11, 21, 20, 9, 50).unwrap();
        Envelope::new(EventType::Manual, &["x"], ts, "nl_20261121_200950Z_deadbeef", "cfg", serde_json::json!({"note": "hi", "n": [1, 2]}))
            .with_asset("cex:okx:NEW")
    }

    #[test]
    fn typed_shares_the_envelope_and_writes_json_once() {
        let p = Payload::typed(env());
        assert!(p.is_typed());
        assert!(p.encoded().is_none(), "nothing written until asked");
        let clone = p.clone();
        let (a, b) = (p.to_envelope().unwrap(), clone.to_envelope().unwrap());
        assert!(Arc::ptr_eq(&a, &b), "clones hand out the same envelope, no copy");
        let bytes = clone.to_bytes();
        assert_eq!(&bytes[..], &env().to_json().unwrap()[..], "the JSON is the envelope's");
        let cached = p.encoded().expect("written once, visible to every clone");
        assert_eq!(cached.as_ptr(), bytes.as_ptr(), "the same buffer, not a second encoding");
        assert_eq!(Envelope::from_json(&p).unwrap(), env(), "the bytes parse back to the envelope");
    }

    #[test]
    fn bytes_parse_into_an_envelope() {
        let json = env().to_json().unwrap();
        let p = Payload::from(json.clone());
        assert!(!p.is_typed() && p.envelope().is_none());
        assert_eq!(p.encoded().map(|b| b.to_vec()), Some(json.clone()));
        assert_eq!(*p.to_envelope().unwrap(), env());
        assert!(Payload::from("not json").to_envelope().is_err());
        assert_eq!(Bytes::from(Payload::typed(env())), Bytes::from(json));
    }

    #[test]
    fn equality_and_debug() {
        let typed = Payload::typed(env());
        assert_eq!(typed, Payload::typed(env()), "equal envelopes");
        assert_eq!(typed, Payload::from(env().to_json().unwrap()), "a typed payload equals its JSON");
        assert_ne!(typed, Payload::from("other"));
        assert_eq!(&Payload::from("abc")[..], b"abc");
        assert!(format!("{typed:?}").starts_with("Envelope(manual.note "), "{typed:?}");
        assert_eq!(format!("{:?}", Payload::from("abc")), "b\"abc\"");
    }
}
