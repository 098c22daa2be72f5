//! honeypot.is payload → [`ProviderReport`].

use nl_domain::Ts;

use super::models::IsHoneypotResponse;
use crate::providers::wire::{count, flag, percent_to_fraction};
use crate::providers::{Provider, ProviderError, ProviderReport, SecurityFacts};

/// Parses an `IsHoneypot` body. Simulation-derived facts (honeypot, taxes) are only taken when
/// `simulationSuccess` is true; contract facts and holder count do not depend on the simulation.
///
/// # Errors
/// [`ProviderError::Decode`] when the body is not a JSON object of the documented shape (e.g. a 429 text page).
pub fn parse_is_honeypot(body: &str, observed_at: Ts) -> Result<ProviderReport, ProviderError> {
    let provider = Provider::HoneypotIs;
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| ProviderError::decode(provider, e, body))?;
    if !value.is_object() {
        return Err(ProviderError::decode(provider, "expected a JSON object", body));
    }
    let r: IsHoneypotResponse = serde_json::from_value(value).map_err(|e| ProviderError::decode(provider, e, body))?;
    let simulated = flag(r.simulation_success.as_deref()) == Some(true);
    let sim = r.simulation_result.as_ref().filter(|_| simulated);
    let code = r.contract_code.as_ref();
    let facts = SecurityFacts {
        is_honeypot: if simulated { r.honeypot_result.as_ref().and_then(|h| flag(h.is_honeypot.as_deref())) } else { None },
        buy_tax: sim.and_then(|s| percent_to_fraction(s.buy_tax.as_deref())),
        sell_tax: sim.and_then(|s| percent_to_fraction(s.sell_tax.as_deref())),
        is_proxy: code.and_then(|c| flag(c.is_proxy.as_deref())),
        is_open_source: code.and_then(|c| flag(c.open_source.as_deref())),
        holder_count: r.token.as_ref().and_then(|t| count(t.total_holders.as_deref())),
        ..SecurityFacts::default()
    };
    Ok(ProviderReport { provider, observed_at, facts })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use nl_domain::Decimal;

    use super::*;

    const SAMPLE: &str = include_str!("test_data/http_get_is_honeypot.json");
    const HONEYPOT: &str = include_str!("test_data/http_get_is_honeypot_honeypot.json");
    const SIM_FAILED: &str = include_str!("test_data/http_get_is_honeypot_sim_failed.json");

    fn now() -> Ts {
        "2026-10-08T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn parses_reference_sample_and_converts_percent_to_fraction() {
        let f = parse_is_honeypot(SAMPLE, now()).unwrap().facts;
        assert_eq!(f.is_honeypot, Some(false));
        assert_eq!(f.buy_tax, Some(Decimal::ZERO));
        assert_eq!(f.sell_tax, Some(Decimal::from_str("0.03").unwrap()), "3 percent = 0.03");
        assert_eq!(f.is_proxy, Some(false));
        assert_eq!(f.is_open_source, Some(true));
        assert_eq!(f.holder_count, Some(412));
        assert_eq!(f.is_mintable, None, "honeypot.is does not report mintability");
    }

    #[test]
    fn honeypot_is_a_fail_fact() {
        let f = parse_is_honeypot(HONEYPOT, now()).unwrap().facts;
        assert_eq!(f.is_honeypot, Some(true));
        assert_eq!(f.sell_tax, Some(Decimal::ONE));
    }

    #[test]
    fn failed_simulation_is_unknown_not_honeypot() {
        let f = parse_is_honeypot(SIM_FAILED, now()).unwrap().facts;
        assert_eq!(f.is_honeypot, None);
        assert_eq!(f.buy_tax, None);
        assert_eq!(f.sell_tax, None);
        assert_eq!(f.is_open_source, Some(true), "contract facts survive a failed simulation");
    }

    #[test]
    fn rate_limit_page_and_truncated_json_are_errors() {
        for body in ["Too Many Requests", "{\"simulationSuccess\":tr", "[]", ""] {
            assert!(matches!(parse_is_honeypot(body, now()), Err(ProviderError::Decode { .. })), "{body:?}");
        }
    }
}
