//! Asset identity: one id per token across every source.
//!
//! * on-chain: `<chain>:<address>`; EVM addresses lowercased, Solana base58 kept as-is;
//! * CEX-only: `cex:<venue>:<BASE>` until the venue's currency info links it to a contract.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// How a chain spells addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainFamily {
    Evm,
    Solana,
}

/// Known chain slugs and their family. Other slugs are accepted and classified by address shape.
const KNOWN_CHAINS: &[(&str, ChainFamily)] = &[
    ("eth", ChainFamily::Evm),
    ("base", ChainFamily::Evm),
    ("bsc", ChainFamily::Evm),
    ("arbitrum", ChainFamily::Evm),
    ("polygon", ChainFamily::Evm),
    ("optimism", ChainFamily::Evm),
    ("avax", ChainFamily::Evm),
    ("solana", ChainFamily::Solana),
];

impl ChainFamily {
    /// The family of a known chain slug.
    #[must_use]
    pub fn of_chain(chain: &str) -> Option<Self> {
        KNOWN_CHAINS.iter().find(|(c, _)| *c == chain).map(|(_, f)| *f)
    }
}

/// A validated, normalized asset id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetId {
    /// A token contract or mint on a chain.
    Chain { chain: String, address: String },
    /// A listing known only by its venue and base symbol.
    Cex { venue: String, base: String },
}

impl AssetId {
    /// Builds an on-chain id, normalizing the address for its chain family.
    ///
    /// # Errors
    /// `DomainError::AssetId` when the chain slug or address is malformed.
    pub fn chain(chain: &str, address: &str) -> Result<Self, DomainError> {
        let input = format!("{chain}:{address}");
        let bad = |reason| DomainError::AssetId { input: input.clone(), reason };
        if !is_slug(chain) {
            return Err(bad("chain must be a lowercase slug [a-z0-9_-]"));
        }
        let family = ChainFamily::of_chain(chain).or_else(|| guess_family(address)).ok_or_else(|| bad("address is neither 0x-hex nor base58"))?;
        let address = match family {
            ChainFamily::Evm => {
                if !is_evm_address(address) {
                    return Err(bad("EVM address must be 0x followed by 40 hex digits"));
                }
                address.to_ascii_lowercase()
            }
            ChainFamily::Solana => {
                if !is_base58_pubkey(address) {
                    return Err(bad("Solana address must be 32-44 base58 characters"));
                }
                address.to_string()
            }
        };
        Ok(Self::Chain { chain: chain.to_string(), address })
    }

    /// Builds a CEX-only id. The venue is lowercased and the base uppercased.
    ///
    /// # Errors
    /// `DomainError::AssetId` when either part is empty or has characters outside `[A-Za-z0-9]`.
    pub fn cex(venue: &str, base: &str) -> Result<Self, DomainError> {
        let bad = |reason| DomainError::AssetId { input: format!("cex:{venue}:{base}"), reason };
        let venue = venue.to_ascii_lowercase();
        if !is_slug(&venue) {
            return Err(bad("venue must be a slug [a-z0-9_-]"));
        }
        if base.is_empty() || base.len() > 32 || !base.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("base must be 1-32 ASCII letters or digits"));
        }
        Ok(Self::Cex { venue, base: base.to_ascii_uppercase() })
    }

    /// Parses and normalizes `<chain>:<address>` or `cex:<venue>:<BASE>`.
    ///
    /// # Errors
    /// `DomainError::AssetId` describing the first problem found.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = |reason| DomainError::AssetId { input: s.to_string(), reason };
        let (head, rest) = s.split_once(':').ok_or_else(|| bad("expected <chain>:<address> or cex:<venue>:<BASE>"))?;
        if head == "cex" {
            let (venue, base) = rest.split_once(':').ok_or_else(|| bad("expected cex:<venue>:<BASE>"))?;
            Self::cex(venue, base)
        } else {
            Self::chain(head, rest)
        }
    }

    /// The chain slug, or `None` for CEX-only ids.
    #[must_use]
    pub fn chain_slug(&self) -> Option<&str> {
        match self {
            Self::Chain { chain, .. } => Some(chain),
            Self::Cex { .. } => None,
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_evm_address(s: &str) -> bool {
    s.len() == 42 && (s.starts_with("0x") || s.starts_with("0X")) && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_base58_pubkey(s: &str) -> bool {
    (32..=44).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l'))
}

fn guess_family(address: &str) -> Option<ChainFamily> {
    if is_evm_address(address) {
        Some(ChainFamily::Evm)
    } else if is_base58_pubkey(address) {
        Some(ChainFamily::Solana)
    } else {
        None
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain { chain, address } => write!(f, "{chain}:{address}"),
            Self::Cex { venue, base } => write!(f, "cex:{venue}:{base}"),
        }
    }
}

impl FromStr for AssetId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for AssetId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AssetId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_is_lowercased() {
        let id = AssetId::parse("eth:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2").unwrap();
        assert_eq!(id.to_string(), "eth:0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    }

    #[test]
    fn solana_kept_as_is() {
        let id = AssetId::parse("solana:Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp").unwrap();
        assert_eq!(id.to_string(), "solana:Dc26VNVhXVSZXGmCR92yTMhQx6ZygLz5NLMv9zSyg6Fp");
    }

    #[test]
    fn cex_normalized() {
        assert_eq!(AssetId::parse("cex:OKX:virtual").unwrap().to_string(), "cex:okx:VIRTUAL");
        assert_eq!(AssetId::cex("binance", "1000SATS").unwrap().to_string(), "cex:binance:1000SATS");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "eth", "eth:0x123", "solana:0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "cex:okx", "cex:okx:BT-C", "ETH:0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "solana:O0Il"] {
            assert!(AssetId::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn unknown_chain_classified_by_address() {
        let id = AssetId::parse("linea:0xABCDEFabcdefABCDEFabcdefABCDEFabcdefABCD").unwrap();
        assert_eq!(id.to_string(), "linea:0xabcdefabcdefabcdefabcdefabcdefabcdefabcd");
    }

    #[test]
    fn serde_roundtrip_normalizes() {
        let id: AssetId = serde_json::from_str("\"base:0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"base:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
    }
}
