//! GoPlus payload → [`ProviderReport`].

use nl_domain::{Decimal, Ts};

use super::models::{Holder, TokenSecurity, TokenSecurityResponse};
use crate::providers::wire::{count, decimal, flag};
use crate::providers::{Provider, ProviderError, ProviderReport, SecurityFacts};

/// Addresses that hold burned tokens or mean "no owner".
const BURN_ADDRESSES: [&str; 2] = ["0x0000000000000000000000000000000000000000", "0x000000000000000000000000000000000000dead"];

/// Parses a GoPlus `token_security` body for `address`.
///
/// # Errors
/// [`ProviderError::Decode`] for a body that is not the documented envelope, [`ProviderError::ProviderCode`] when
/// `code != 1`, [`ProviderError::MissingToken`] when `result` has no entry for the address.
pub fn parse_token_security(body: &str, address: &str, observed_at: Ts) -> Result<ProviderReport, ProviderError> {
    let provider = Provider::Goplus;
    let resp: TokenSecurityResponse = serde_json::from_str(body).map_err(|e| ProviderError::decode(provider, e, body))?;
    let code = resp.code.unwrap_or_default();
    if code.trim() != "1" {
        // Venue text: quoted, at most 256 characters.
        let (code, message) = (crate::kit::quote::quote(&code), crate::kit::quote::quote(&resp.message.unwrap_or_default()));
        return Err(ProviderError::ProviderCode { provider, code, message });
    }
    let wanted = address.trim().to_ascii_lowercase();
    let entry = resp
        .result
        .and_then(|mut m| m.remove(&wanted).or_else(|| m.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(&wanted)).map(|(_, v)| v)))
        .filter(serde_json::Value::is_object)
        .ok_or(ProviderError::MissingToken { provider, address: wanted })?;
    let token: TokenSecurity = serde_json::from_value(entry).map_err(|e| ProviderError::decode(provider, e, body))?;
    Ok(ProviderReport { provider, observed_at, facts: facts(&token) })
}

fn facts(t: &TokenSecurity) -> SecurityFacts {
    SecurityFacts {
        is_honeypot: flag(t.is_honeypot.as_deref()),
        buy_tax: decimal(t.buy_tax.as_deref()),
        sell_tax: decimal(t.sell_tax.as_deref()),
        is_mintable: flag(t.is_mintable.as_deref()),
        owner_renounced: owner_renounced(t),
        is_proxy: flag(t.is_proxy.as_deref()),
        is_open_source: flag(t.is_open_source.as_deref()),
        holder_count: count(t.holder_count.as_deref()),
        top_holder_pct: top_holder(t.holders.as_deref()),
        lp_locked_pct: lp_locked(t.lp_holders.as_deref()),
        mint_authority_enabled: None,
        freeze_authority_enabled: None,
        creator_honeypot_history: flag(t.honeypot_with_same_creator.as_deref()),
        metadata_mutable: None,
    }
}

/// `owner_address` absent = unknown; `""`, zero or dead = renounced unless ownership can be taken back.
fn owner_renounced(t: &TokenSecurity) -> Option<bool> {
    let owner = t.owner_address.as_deref()?.trim().to_ascii_lowercase();
    if !(owner.is_empty() || BURN_ADDRESSES.contains(&owner.as_str())) {
        return Some(false);
    }
    Some(flag(t.can_take_back_ownership.as_deref()) != Some(true))
}

/// Raw maximum `percent` over the listed holders (contracts and locks included; see [`SecurityFacts`]).
fn top_holder(holders: Option<&[Holder]>) -> Option<Decimal> {
    holders?.iter().filter_map(|h| decimal(h.percent.as_deref())).max()
}

/// Sum of LP shares that are locked (`is_locked = 1`) or held by a burn address, capped at 1. Entries
/// with an unreadable `percent` count as unlocked, so bad data can only lower the figure.
fn lp_locked(lp: Option<&[Holder]>) -> Option<Decimal> {
    let lp = lp?;
    if lp.is_empty() {
        return None;
    }
    let locked: Decimal = lp
        .iter()
        .filter(|h| {
            flag(h.is_locked.as_deref()) == Some(true)
                || h.address.as_deref().is_some_and(|a| BURN_ADDRESSES.contains(&a.trim().to_ascii_lowercase().as_str()))
        })
        .filter_map(|h| decimal(h.percent.as_deref()))
        .sum();
    Some(locked.min(Decimal::ONE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use super::*;

    const WETH: &str = include_str!("test_data/http_get_token_security.json");
    const NEW_TOKEN: &str = include_str!("test_data/http_get_token_security_new_token.json");
    const RATE_LIMITED: &str = include_str!("test_data/http_get_token_security_error.json");

    fn now() -> Ts {
        "2026-10-08T12:00:00Z".parse().unwrap()
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn parses_recorded_weth_sample() {
        let r = parse_token_security(WETH, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", now()).unwrap();
        let f = r.facts;
        assert_eq!(r.provider, Provider::Goplus);
        assert_eq!(f.is_honeypot, Some(false));
        assert_eq!(f.buy_tax, Some(Decimal::ZERO));
        assert_eq!(f.sell_tax, Some(Decimal::ZERO));
        assert_eq!(f.is_mintable, Some(false));
        assert_eq!(f.is_proxy, Some(false));
        assert_eq!(f.is_open_source, Some(true));
        assert_eq!(f.holder_count, Some(3_679_802));
        assert_eq!(f.top_holder_pct, Some(d("0.173900025617813421")));
        assert_eq!(f.creator_honeypot_history, Some(false));
        // The sample has no owner_address and no lp_holders: unknown, not "renounced" or "locked".
        assert_eq!(f.owner_renounced, None);
        assert_eq!(f.lp_locked_pct, None);
    }

    #[test]
    fn parses_new_token_with_owner_and_lp() {
        let r = parse_token_security(NEW_TOKEN, "0x6982508145454ce325ddbe47a25d4ec3d2311933", now()).unwrap();
        assert_eq!(r.facts.owner_renounced, Some(true));
        assert_eq!(r.facts.lp_locked_pct, Some(d("0.9991")));
        assert_eq!(r.facts.sell_tax, Some(d("0.01")));
        assert_eq!(r.facts.buy_tax, None, "empty buy_tax is unknown");
    }

    #[test]
    fn error_code_is_an_error_not_a_pass() {
        let e = parse_token_security(RATE_LIMITED, "0x6982508145454ce325ddbe47a25d4ec3d2311933", now()).unwrap_err();
        assert!(matches!(e, ProviderError::ProviderCode { ref code, .. } if code == "4029"), "{e}");
        assert!(e.is_retryable());
    }

    #[test]
    fn missing_address_and_garbage_are_errors() {
        assert!(matches!(parse_token_security(WETH, "0x0000000000000000000000000000000000000001", now()), Err(ProviderError::MissingToken { .. })));
        assert!(matches!(parse_token_security("{\"code\":1,\"result\":", "0x01", now()), Err(ProviderError::Decode { .. })));
        assert!(matches!(parse_token_security("<html>502</html>", "0x01", now()), Err(ProviderError::Decode { .. })));
        let odd_sibling = r#"{"code":1,"result":{"note":"x","0x01":{"is_honeypot":"1"}}}"#;
        assert_eq!(parse_token_security(odd_sibling, "0x01", now()).unwrap().facts.is_honeypot, Some(true));
    }

    #[test]
    fn owner_and_flags_table() {
        let cases: [(Option<&str>, Option<&str>, Option<bool>); 6] = [
            (None, None, None),
            (Some(""), None, Some(true)),
            (Some("0x0000000000000000000000000000000000000000"), Some("0"), Some(true)),
            (Some("0x000000000000000000000000000000000000dEaD"), None, Some(true)),
            (Some(""), Some("1"), Some(false)),
            (Some("0x4f26ffbe5f04ed43630fdc30a87638d53d0b0876"), Some("0"), Some(false)),
        ];
        for (owner, take_back, want) in cases {
            let t = TokenSecurity { owner_address: owner.map(String::from), can_take_back_ownership: take_back.map(String::from), ..Default::default() };
            assert_eq!(owner_renounced(&t), want, "owner {owner:?} take_back {take_back:?}");
        }
    }

    #[test]
    fn tolerates_numbers_where_strings_are_documented_and_unknown_values() {
        let body = r#"{"code":"1","result":{"0x6982508145454ce325ddbe47a25d4ec3d2311933":{"is_honeypot":0,"sell_tax":0.02,"is_proxy":"","is_mintable":"maybe","holder_count":""}}}"#;
        let f = parse_token_security(body, "0x6982508145454ce325ddbe47a25d4ec3d2311933", now()).unwrap().facts;
        assert_eq!(f.is_honeypot, Some(false));
        assert_eq!(f.sell_tax, Some(d("0.02")));
        assert_eq!(f.is_proxy, None);
        assert_eq!(f.is_mintable, None);
        assert_eq!(f.holder_count, None);
    }
}
