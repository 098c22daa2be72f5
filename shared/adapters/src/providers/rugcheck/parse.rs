//! rugcheck payload → [`ProviderReport`].

use nl_domain::{Decimal, Ts};

use super::models::{Market, Report, Risk};
use crate::providers::wire::{count, decimal, percent_to_fraction};
use crate::providers::{Provider, ProviderError, ProviderReport, SecurityFacts};

/// Parses a rugcheck full report or report summary.
///
/// Authorities: the explicit `mintAuthority`/`freezeAuthority` (top level, then `token.*`) wins; `null` =
/// disabled. When neither is present (summary endpoint) but a `risks` array is, rugcheck's own risk list
/// decides: a risk named "… Mint Authority …" / "… Freeze Authority …" = enabled, none = disabled.
/// LP lock: the summary's `lpLockedPct`, else the `lpLockedPct` of the deepest market (largest
/// `baseUSD + quoteUSD`). Taxes: Token-2022 `transferFee.pct` applies to buys and sells alike.
///
/// # Errors
/// [`ProviderError::Decode`] when the body is not a JSON object of the documented shape.
pub fn parse_report(body: &str, observed_at: Ts) -> Result<ProviderReport, ProviderError> {
    let provider = Provider::Rugcheck;
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| ProviderError::decode(provider, e, body))?;
    if !value.is_object() {
        return Err(ProviderError::decode(provider, "expected a JSON object", body));
    }
    let r: Report = serde_json::from_value(value).map_err(|e| ProviderError::decode(provider, e, body))?;
    let token = r.token.as_ref();
    let fee = r.transfer_fee.as_ref().and_then(|f| percent_to_fraction(f.pct.as_deref()));
    let facts = SecurityFacts {
        buy_tax: fee,
        sell_tax: fee,
        holder_count: count(r.total_holders.as_deref()),
        top_holder_pct: r.top_holders.as_ref().and_then(|h| h.iter().filter_map(|h| percent_to_fraction(h.pct.as_deref())).max()),
        lp_locked_pct: percent_to_fraction(r.lp_locked_pct.as_deref()).or_else(|| deepest_market_lock(r.markets.as_deref())),
        mint_authority_enabled: authority(r.mint_authority.as_ref(), token.and_then(|t| t.mint_authority.as_ref()), r.risks.as_deref(), "mint authority"),
        freeze_authority_enabled: authority(r.freeze_authority.as_ref(), token.and_then(|t| t.freeze_authority.as_ref()), r.risks.as_deref(), "freeze authority"),
        metadata_mutable: r.token_meta.as_ref().and_then(|m| m.mutable),
        ..SecurityFacts::default()
    };
    Ok(ProviderReport { provider, observed_at, facts })
}

fn authority(top: Option<&Option<String>>, nested: Option<&Option<String>>, risks: Option<&[Risk]>, risk_phrase: &str) -> Option<bool> {
    match top.or(nested) {
        Some(None) => Some(false),
        Some(Some(key)) if key.trim().is_empty() => None,
        Some(Some(_)) => Some(true),
        None => risks.map(|rs| rs.iter().any(|r| r.name.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains(risk_phrase)))),
    }
}

fn deepest_market_lock(markets: Option<&[Market]>) -> Option<Decimal> {
    markets?
        .iter()
        .filter_map(|m| {
            let lp = m.lp.as_ref()?;
            let depth = decimal(lp.base_usd.as_deref()).unwrap_or_default() + decimal(lp.quote_usd.as_deref()).unwrap_or_default();
            Some((depth, percent_to_fraction(lp.lp_locked_pct.as_deref())?))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, locked)| locked.min(Decimal::ONE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use super::*;

    const FULL: &str = include_str!("test_data/http_get_report.json");
    const SUMMARY: &str = include_str!("test_data/http_get_report_summary.json");

    fn now() -> Ts {
        "2026-10-08T12:00:00Z".parse().unwrap()
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn parses_recorded_full_report() {
        let f = parse_report(FULL, now()).unwrap().facts;
        assert_eq!(f.mint_authority_enabled, Some(false), "null = disabled");
        assert_eq!(f.freeze_authority_enabled, Some(false));
        assert_eq!(f.holder_count, Some(10_903));
        assert_eq!(f.top_holder_pct, Some(d("0.0880277890195699")));
        assert_eq!(f.lp_locked_pct, Some(Decimal::ONE));
        assert_eq!(f.sell_tax, Some(Decimal::ZERO));
        assert_eq!(f.is_honeypot, None, "rugcheck does not simulate sells");
        assert_eq!(f.metadata_mutable, Some(false), "tokenMeta.mutable");
        let mutable = FULL.replace("\"mutable\":false", "\"mutable\":true");
        assert_eq!(parse_report(&mutable, now()).unwrap().facts.metadata_mutable, Some(true));
        let odd = FULL.replace("\"mutable\":false", "\"mutable\":\"no\"");
        assert_eq!(parse_report(&odd, now()).unwrap().facts.metadata_mutable, None, "not a bool: unknown");
    }

    #[test]
    fn summary_risk_list_decides_authorities() {
        let f = parse_report(SUMMARY, now()).unwrap().facts;
        assert_eq!(f.mint_authority_enabled, Some(true));
        assert_eq!(f.freeze_authority_enabled, Some(false));
        assert_eq!(f.lp_locked_pct, Some(Decimal::ZERO));
        assert_eq!(f.holder_count, None);
    }

    #[test]
    fn authority_table() {
        let key = Some("BFtnjgkbiVnihLoPY87x7hCiEBenCD6zJCHtpdacZw5A".to_string());
        let mint_risk = [Risk { name: Some("Mint Authority still enabled".into()), ..Default::default() }];
        type Case<'a> = (Option<Option<String>>, Option<Option<String>>, Option<&'a [Risk]>, Option<bool>);
        let cases: [Case<'_>; 6] = [
            (Some(None), None, None, Some(false)),
            (Some(key.clone()), None, None, Some(true)),
            (None, Some(key.clone()), None, Some(true)),
            (None, None, None, None),
            (None, None, Some(&mint_risk), Some(true)),
            (None, None, Some(&[]), Some(false)),
        ];
        for (top, nested, risks, want) in cases {
            assert_eq!(authority(top.as_ref(), nested.as_ref(), risks, "mint authority"), want, "{top:?} {nested:?}");
        }
    }

    #[test]
    fn absent_everything_is_unknown() {
        let f = parse_report("{}", now()).unwrap().facts;
        assert_eq!(f, SecurityFacts::default());
        assert!(matches!(parse_report("rate limited", now()), Err(ProviderError::Decode { .. })));
        assert!(matches!(parse_report("null", now()), Err(ProviderError::Decode { .. })));
    }
}
