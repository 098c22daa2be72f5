//! Exact decimal parsing for prices and amounts. Venues send decimals as strings (often with more digits
//! than any float holds), sometimes as `""` for "not yet known". Never f64.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::DomainError;

/// Parses a venue decimal string exactly. Scientific notation (`1e-5`) is accepted. Digits beyond the
/// 28 significant digits `Decimal` holds are rounded half-even; a magnitude beyond `Decimal::MAX` is an error.
///
/// # Errors
/// `DomainError::Decimal` for empty, non-numeric or out-of-range input.
pub fn parse_decimal(s: &str) -> Result<Decimal, DomainError> {
    let t = s.trim();
    let err = |reason: &str| DomainError::Decimal { input: truncate(s), reason: reason.to_string() };
    if t.is_empty() {
        return Err(err("empty"));
    }
    if t.contains(['e', 'E']) {
        return Decimal::from_scientific(t).map_err(|e| err(&e.to_string()));
    }
    match Decimal::from_str_exact(t) {
        Ok(d) => Ok(d),
        Err(_) => {
            // Too many fractional digits: round to what Decimal can hold instead of failing.
            let (int_part, frac) = t.split_once('.').ok_or_else(|| err("not a decimal or out of range"))?;
            if !frac.chars().all(|c| c.is_ascii_digit()) {
                return Err(err("not a decimal"));
            }
            let int_digits = int_part.trim_start_matches(['-', '+']).trim_start_matches('0').len();
            let keep = 28usize.saturating_sub(int_digits.max(1));
            let cut = &frac[..frac.len().min(keep + 1)];
            let d = Decimal::from_str(&format!("{int_part}.{cut}")).map_err(|e| err(&e.to_string()))?;
            Ok(d.round_dp(u32::try_from(keep).unwrap_or(0)).normalize())
        }
    }
}

/// Like [`parse_decimal`] but maps `None`, `""` and `"null"` to `Ok(None)`: missing is missing, never 0.
///
/// # Errors
/// As [`parse_decimal`] for present, non-empty input.
pub fn parse_opt_decimal(s: Option<&str>) -> Result<Option<Decimal>, DomainError> {
    match s.map(str::trim) {
        None | Some("") | Some("null") => Ok(None),
        Some(v) => parse_decimal(v).map(Some),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_long_geckoterminal_price_by_rounding() {
        let d = parse_decimal("0.00064639970207511160434279649555068601151690732614425298332800122").unwrap();
        assert!(d.to_string().starts_with("0.000646399702075111604342796"));
    }

    #[test]
    fn parses_plain_and_scientific() {
        assert_eq!(parse_decimal("824.6826942").unwrap().to_string(), "824.6826942");
        assert_eq!(parse_decimal("1e-5").unwrap().to_string(), "0.00001");
        assert_eq!(parse_decimal("900000000000000000000").unwrap().to_string(), "900000000000000000000");
    }

    #[test]
    fn empty_is_missing_not_zero() {
        assert_eq!(parse_opt_decimal(Some("")).unwrap(), None);
        assert_eq!(parse_opt_decimal(None).unwrap(), None);
        assert!(parse_decimal("").is_err());
        assert!(parse_decimal("abc").is_err());
        assert!(parse_decimal("1.2.3").is_err());
    }
}
