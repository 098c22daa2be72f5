//! Serde and conversion helpers shared by the venue `models.rs`/`parse.rs` files: `""` as missing,
//! numbers-or-strings, millisecond/second timestamps, payload excerpts and the decode wrapper.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use nl_domain::Ts;

use super::types::{Instrument, ParseError};

/// Deserializes a string, number or bool as `Some(String)`; `null`, absent, `""` and `"null"` become `None`.
/// Used wherever a venue sends numbers as strings, strings as numbers, or `""` for "not yet known".
pub(crate) fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t == "null" { None } else { Some(t.to_string()) }
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// Deserializes `true`/`false`, `"true"`/`"false"` or `1`/`0`; anything else (including `""`) is `None`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Some(Value::Number(n)) => n.as_i64().map(|v| v != 0),
        _ => None,
    })
}

/// Epoch milliseconds (string or integer text) to a timestamp; `None`, `0`, negatives and junk are `None`.
pub(crate) fn ms_to_ts(v: Option<&str>) -> Option<Ts> {
    let ms = v?.trim().parse::<i64>().ok().filter(|m| *m > 0)?;
    chrono::DateTime::from_timestamp_millis(ms)
}

/// Epoch seconds (string or integer text) to a timestamp; `None`, `0`, negatives and junk are `None`.
pub(crate) fn secs_to_ts(v: Option<&str>) -> Option<Ts> {
    let s = v?.trim().parse::<i64>().ok().filter(|s| *s > 0)?;
    chrono::DateTime::from_timestamp(s, 0)
}

/// A payload excerpt for an error ([`crate::kit::quote::quote`]: bounded, control characters escaped).
pub(crate) fn excerpt(body: &str) -> String {
    crate::kit::quote::quote(body)
}

/// Decodes `body` as `T`, mapping serde errors to [`ParseError::Decode`] with a payload excerpt.
pub(crate) fn decode<T: DeserializeOwned>(venue: &'static str, what: &'static str, body: &str) -> Result<T, ParseError> {
    serde_json::from_str(body).map_err(|e| ParseError::Decode { venue, what, reason: crate::kit::quote::quote(&e.to_string()), excerpt: excerpt(body) })
}

/// A venue error envelope as a [`ParseError::Venue`].
pub(crate) fn venue_error(venue: &'static str, code: impl Into<String>, msg: Option<&str>, body: &str) -> ParseError {
    ParseError::Venue { venue, code: crate::kit::quote::quote(&code.into()), msg: crate::kit::quote::quote(msg.unwrap_or_default()), excerpt: excerpt(body) }
}

/// Splits `BASE<sep>QUOTE` (e.g. `NEW-USDT`, `NEW_USDT`, `NEW/USD`); `None` unless both sides are non-empty.
pub(crate) fn split_pair(id: &str, sep: char) -> Option<(String, String)> {
    let (b, q) = id.split_once(sep)?;
    (!b.is_empty() && !q.is_empty()).then(|| (b.to_string(), q.to_string()))
}

/// Row-level leniency with a format-change alarm: rows lacking id/base/quote are skipped, but if the payload
/// had rows and none were usable, that is an error rather than a silently empty snapshot.
pub(crate) fn require_usable(venue: &'static str, rows: usize, out: Vec<Instrument>, body: &str) -> Result<Vec<Instrument>, ParseError> {
    if rows > 0 && out.is_empty() {
        return Err(ParseError::Invalid {
            venue,
            what: "instrument list",
            reason: format!("none of {rows} rows has an id, base and quote"),
            excerpt: excerpt(body),
        });
    }
    Ok(out)
}

/// The venue's payload envelope (`result`, `data`), which a real answer always carries: a body without it
/// (`{}`) is an error, never an empty list, so it cannot pass for a baseline.
pub(crate) fn require_envelope<T>(venue: &'static str, what: &'static str, key: &str, v: Option<T>, body: &str) -> Result<T, ParseError> {
    v.ok_or_else(|| ParseError::Invalid { venue, what, reason: format!("no `{key}` in the payload"), excerpt: excerpt(body) })
}

/// `Some(s)` unless empty after trimming.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cex::types::EXCERPT_CHARS;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "opt_str")]
        a: Option<String>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    #[test]
    fn empty_string_is_missing_and_numbers_become_text() {
        let p: Probe = serde_json::from_str(r#"{"a":"","b":""}"#).unwrap();
        assert_eq!((p.a, p.b), (None, None));
        let p: Probe = serde_json::from_str(r#"{"a":1733454000000,"b":"true"}"#).unwrap();
        assert_eq!((p.a.as_deref(), p.b), (Some("1733454000000"), Some(true)));
        let p: Probe = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!((p.a, p.b), (None, None));
    }

    #[test]
    fn timestamps() {
        assert_eq!(ms_to_ts(Some("1733454000000")).unwrap().timestamp(), 1_733_454_000);
        assert_eq!(secs_to_ts(Some("1790000000")).unwrap().timestamp(), 1_790_000_000);
        assert!(ms_to_ts(Some("0")).is_none());
        assert!(ms_to_ts(Some("abc")).is_none());
        assert!(secs_to_ts(None).is_none());
    }

    #[test]
    fn excerpt_is_bounded_and_char_safe() {
        let long = "é".repeat(1000);
        // #16: venue text is bounded in bytes (é is two), cut on a character boundary.
        assert_eq!(excerpt(&long).len(), EXCERPT_CHARS);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS / 2);
    }
}
