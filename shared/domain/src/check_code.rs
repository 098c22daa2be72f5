//! The closed set of risk check codes. A code travels as its snake_case name (`honeypot`), so configs
//! (`hard_fail`), events and stored rows read the same, and an unknown name is refused where it is read.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// One risk check.
    CheckCode, crate::DomainError::CheckCode, {
        LowLiquidity => "low_liquidity",
        LowHolders => "low_holders",
        VeryNewContract => "very_new_contract",
        Honeypot => "honeypot",
        BuyTaxHigh => "buy_tax_high",
        SellTaxHigh => "sell_tax_high",
        Mintable => "mintable",
        OwnerNotRenounced => "owner_not_renounced",
        Proxy => "proxy",
        NotOpenSource => "not_open_source",
        HolderConcentration => "holder_concentration",
        LpUnlocked => "lp_unlocked",
        MintAuthority => "mint_authority",
        FreezeAuthority => "freeze_authority",
        CreatorHoneypotHistory => "creator_honeypot_history",
        ProviderDisagreement => "provider_disagreement",
        SourceDisagreement => "source_disagreement",
        MetadataInjection => "metadata_injection",
        MetadataMutable => "metadata_mutable",
    }
}

impl CheckCode {
    /// The checks that fail an asset outright by default (risk rules' `hard_fail` and the gate's).
    pub const DEFAULT_HARD_FAIL: &'static [CheckCode] =
        &[Self::Honeypot, Self::BuyTaxHigh, Self::SellTaxHigh, Self::Mintable, Self::LpUnlocked, Self::MintAuthority, Self::FreezeAuthority, Self::MetadataInjection];
}

impl PartialEq<&str> for CheckCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_unknown_names_are_refused() {
        for c in CheckCode::ALL {
            assert_eq!(c.as_str().parse::<CheckCode>().unwrap(), *c);
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        let err = serde_json::from_str::<CheckCode>("\"ai_says_ok\"").unwrap_err().to_string();
        assert!(err.contains("ai_says_ok") && err.contains("honeypot"), "{err}");
        assert!(CheckCode::Honeypot == "honeypot");
    }
}
