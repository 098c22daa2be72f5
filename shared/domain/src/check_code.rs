//! The closed set of risk check codes. A code travels as its snake_case name (`honeypot`), so configs
//! (`hard_fail`), events and stored rows read the same, and an unknown name is refused where it is read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

macro_rules! check_codes {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        /// One risk check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckCode { $($variant),+ }

        impl CheckCode {
            /// Every code, in evaluation order.
            pub const ALL: &'static [CheckCode] = &[$(CheckCode::$variant),+];

            /// The wire name, e.g. `sell_tax_high`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(CheckCode::$variant => $name),+ }
            }
        }
    };
}

check_codes! {
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
}

impl CheckCode {
    /// The checks that fail an asset outright by default (risk rules' `hard_fail` and the gate's).
    pub const DEFAULT_HARD_FAIL: &'static [CheckCode] =
        &[Self::Honeypot, Self::BuyTaxHigh, Self::SellTaxHigh, Self::Mintable, Self::LpUnlocked, Self::MintAuthority, Self::FreezeAuthority];

    /// Comma-separated list of wire names, for error messages.
    #[must_use]
    pub fn known_list() -> String {
        Self::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for CheckCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s).ok_or_else(|| DomainError::CheckCode(s.to_string()))
    }
}

impl PartialEq<&str> for CheckCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for CheckCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
