//! Tolerant scalar handling shared by the provider wire types: providers send the same field as a string,
//! a number, a bool or `null` depending on endpoint and version, and `""` means "not known".

use nl_domain::Decimal;
use serde::{Deserialize, Deserializer};

/// Deserializes any JSON scalar into its text form; `null`, arrays and objects become `None`.
/// Used with `#[serde(default, deserialize_with = "loose")]`, so an absent field is `None` too.
pub(crate) fn loose<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`). rugcheck uses `null` to
/// say "authority disabled", which is information, while absence is not.
pub(crate) fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(Some(match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }))
}

/// A `"0"`/`"1"` (or `true`/`false`) flag. `""`, absent and unrecognized values are unknown.
pub(crate) fn flag(s: Option<&str>) -> Option<bool> {
    match s.map(str::trim) {
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    }
}

/// A decimal; `""`, absent and malformed values are unknown (a bad number must not become 0).
pub(crate) fn decimal(s: Option<&str>) -> Option<Decimal> {
    nl_domain::parse_opt_decimal(s).ok().flatten()
}

/// A non-negative count; accepts `"3679802"`, `3679802` and `3679802.0`.
pub(crate) fn count(s: Option<&str>) -> Option<u64> {
    let d = decimal(s)?;
    if d < Decimal::ZERO || d.fract() != Decimal::ZERO {
        return None;
    }
    d.trunc().to_string().parse().ok()
}

/// A percent number (`3` = 3%) as a fraction (`0.03`).
pub(crate) fn percent_to_fraction(s: Option<&str>) -> Option<Decimal> {
    decimal(s).map(|p| (p / Decimal::ONE_HUNDRED).normalize())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_are_tri_state() {
        assert_eq!(flag(Some("1")), Some(true));
        assert_eq!(flag(Some("0")), Some(false));
        assert_eq!(flag(Some("true")), Some(true));
        assert_eq!(flag(Some("")), None);
        assert_eq!(flag(Some("2")), None);
        assert_eq!(flag(None), None);
    }

    #[test]
    fn numbers_never_default_to_zero() {
        assert_eq!(decimal(Some("")), None);
        assert_eq!(decimal(Some("abc")), None);
        assert_eq!(count(Some("3679802")), Some(3_679_802));
        assert_eq!(count(Some("1.5")), None);
        assert_eq!(count(Some("-1")), None);
        assert_eq!(percent_to_fraction(Some("3")).map(|d| d.to_string()), Some("0.03".into()));
    }
}
