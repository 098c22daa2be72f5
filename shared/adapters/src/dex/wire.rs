//! Small helpers shared by the DEX wire models: `""` as missing, JSON numbers as exact decimals.

use nl_domain::{Decimal, DomainError, Ts, parse_decimal, parse_opt_decimal};

/// `None` for absent, `""` or whitespace-only strings.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// An optional decimal string (`null`, absent and `""` are missing, never 0).
pub(crate) fn opt_dec(s: Option<&String>) -> Result<Option<Decimal>, DomainError> {
    parse_opt_decimal(s.map(String::as_str))
}

/// A JSON number converted exactly from its shortest textual form (never through arithmetic on f64).
pub(crate) fn num_dec(n: Option<&serde_json::Number>) -> Result<Option<Decimal>, DomainError> {
    n.map(|n| parse_decimal(&n.to_string())).transpose()
}

/// Unix milliseconds to a timestamp; out-of-range values are missing.
pub(crate) fn ts_from_millis(ms: i64) -> Option<Ts> {
    chrono::DateTime::from_timestamp_millis(ms)
}

/// Unix seconds to a timestamp; out-of-range values are missing.
pub(crate) fn ts_from_secs(secs: i64) -> Option<Ts> {
    chrono::DateTime::from_timestamp(secs, 0)
}

/// A payload excerpt for an error ([`crate::kit::quote::quote`]: bounded, control characters escaped).
pub(crate) use crate::kit::quote::quote as truncate;

/// Deserializes `null` as the type's default (empty map/vec), for collections that may be `null`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}
