//! Deterministic decimal helpers: a base-10 logarithm computed only with `Decimal` arithmetic (no
//! floating point, so results are bit-identical on every platform) and human-readable number formatting.

use nl_domain::Decimal;

/// Decimal places kept from [`log10`]. Rounding to a fixed precision keeps downstream sums stable.
pub const LOG_DP: u32 = 6;

/// Binary digits of the fractional part computed by [`log10`]; 2^-24 is far below `10^-LOG_DP`.
const LOG_BITS: u32 = 24;

/// Decimal places the mantissa keeps between squarings. An error δ in the mantissa at bit k moves the
/// result by about δ·2^-k, so 12 places bound the total error near 1e-12, far below `10^-LOG_DP`; and a
/// product of two 12-place numbers fits `Decimal` exactly, which keeps each step cheap.
const MANTISSA_DP: u32 = 12;

/// Base-10 logarithm of a positive decimal, rounded to [`LOG_DP`] places. `None` for `x <= 0`.
///
/// Method: scale `x` to a mantissa `m` in `[1, 10)` and count the decimal exponent (the integer part);
/// then extract the fractional part bit by bit: squaring `m` doubles its logarithm, and whenever the
/// square reaches 10 the next bit is 1 and `m` is divided by 10. Only multiplication and division by 10
/// are used (with the mantissa rounded to [`MANTISSA_DP`] places), so the result is reproducible bit for bit.
#[must_use]
pub fn log10(x: Decimal) -> Option<Decimal> {
    if x <= Decimal::ZERO {
        return None;
    }
    let ten = Decimal::TEN;
    // Multiplying by 0.1 and 0.5 is exact and much cheaper than `Decimal` division.
    let tenth = Decimal::new(1, 1);
    let half = Decimal::new(5, 1);
    let mut m = x;
    let mut int_part: i64 = 0;
    while m >= ten {
        m *= tenth;
        int_part += 1;
    }
    while m < Decimal::ONE {
        m *= ten;
        int_part -= 1;
    }
    m = m.round_dp(MANTISSA_DP);
    let mut frac = Decimal::ZERO;
    let mut bit = half;
    for _ in 0..LOG_BITS {
        m = m.checked_mul(m)?;
        if m >= ten {
            m *= tenth;
            frac += bit;
        }
        m = m.round_dp(MANTISSA_DP);
        bit *= half;
    }
    Some((Decimal::from(int_part) + frac).round_dp(LOG_DP))
}

/// Formats a non-negative amount with thousands separators and no decimals: `52239.4` → `52,239`.
#[must_use]
pub fn thousands(x: Decimal) -> String {
    let rounded = x.round_dp(0);
    let negative = rounded < Decimal::ZERO;
    let digits = rounded.abs().trunc().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if negative { format!("-{out}") } else { out }
}

/// Formats a signed contribution with one decimal and an explicit sign: `+18.0`, `-5.0`.
#[must_use]
pub fn signed1(x: Decimal) -> String {
    let r = x.round_dp(1);
    let s = format!("{:.1}", r);
    if r >= Decimal::ZERO { format!("+{s}") } else { s }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn log10_matches_known_values() {
        for (x, want) in [("1", "0"), ("10", "1"), ("1000", "3"), ("0.01", "-2"), ("2", "0.30103"), ("52239", "4.717995"), ("3", "0.477121"), ("999999", "5.999999")] {
            let got = log10(d(x)).unwrap();
            assert!((got - d(want)).abs() <= d("0.000001"), "log10({x}) = {got}, want {want}");
        }
        assert_eq!(log10(Decimal::ZERO), None);
        assert_eq!(log10(d("-1")), None);
    }

    #[test]
    fn log10_is_monotonic_on_a_grid() {
        let mut prev = log10(Decimal::ONE).unwrap();
        for i in 2..2000 {
            let cur = log10(Decimal::from(i)).unwrap();
            assert!(cur >= prev, "log10 not monotonic at {i}");
            prev = cur;
        }
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(d("52239.4")), "52,239");
        assert_eq!(thousands(d("999")), "999");
        assert_eq!(thousands(d("1000000")), "1,000,000");
        assert_eq!(signed1(d("18")), "+18.0");
        assert_eq!(signed1(d("-5")), "-5.0");
        assert_eq!(signed1(d("0")), "+0.0");
    }
}
