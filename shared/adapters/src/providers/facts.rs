//! The normalized, provider-independent view of a token's security facts.
//!
//! Every fact is tri-state: `Some(true)`, `Some(false)` or `None` (unknown). Taxes and percentages are
//! FRACTIONS (`0.05` = 5%) whatever unit the provider used.

use nl_domain::{Decimal, Ts};
use serde::{Deserialize, Serialize};

/// A security data provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// GoPlus token security (EVM).
    Goplus,
    /// honeypot.is buy/sell simulation (EVM).
    HoneypotIs,
    /// rugcheck.xyz token report (Solana).
    Rugcheck,
    /// The configured Solana RPC's own mint account (`getAccountInfo`, `jsonParsed`): mint and freeze
    /// authority, without a third party (`crate::dex::solana::mint`).
    SolanaRpc,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Goplus, Self::HoneypotIs, Self::Rugcheck, Self::SolanaRpc];

    /// The stable name used in checks, configs and events.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Goplus => "goplus",
            Self::HoneypotIs => "honeypot_is",
            Self::Rugcheck => "rugcheck",
            Self::SolanaRpc => "solana_rpc",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Security facts of one token as one provider reported them. `None` = the provider did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityFacts {
    /// The token cannot be sold (GoPlus `is_honeypot`, honeypot.is `honeypotResult.isHoneypot` when the
    /// simulation succeeded).
    pub is_honeypot: Option<bool>,
    /// Buy tax as a fraction (GoPlus `buy_tax`; honeypot.is `simulationResult.buyTax` / 100; rugcheck
    /// Token-2022 `transferFee.pct` / 100).
    pub buy_tax: Option<Decimal>,
    /// Sell tax as a fraction (same sources as `buy_tax`).
    pub sell_tax: Option<Decimal>,
    /// The owner can mint more supply (GoPlus `is_mintable`).
    pub is_mintable: Option<bool>,
    /// No effective owner: GoPlus `owner_address` is `""`, the zero address or the dead address, and
    /// `can_take_back_ownership` is not `"1"`. Absent `owner_address` = unknown.
    pub owner_renounced: Option<bool>,
    /// The token is an upgradeable proxy (GoPlus `is_proxy`, honeypot.is `contractCode.isProxy`).
    pub is_proxy: Option<bool>,
    /// Verified source (GoPlus `is_open_source`, honeypot.is `contractCode.openSource`).
    pub is_open_source: Option<bool>,
    /// Number of holders (GoPlus `holder_count`, honeypot.is `token.totalHolders`, rugcheck `totalHolders`).
    pub holder_count: Option<u64>,
    /// The largest share held by one listed holder, as a fraction. This is the RAW maximum over the
    /// provider's holder list: pools, lockers and contracts are included, because the providers do not
    /// label them consistently. Thresholds must allow for a pool holding a large share.
    pub top_holder_pct: Option<Decimal>,
    /// Share of LP tokens locked or burned, as a fraction (GoPlus `lp_holders[]` with `is_locked = 1` or a
    /// burn address; rugcheck `lpLockedPct` / 100 of the deepest market).
    pub lp_locked_pct: Option<Decimal>,
    /// Solana mint authority still set (rugcheck `mintAuthority`, the mint account's `mintAuthority`; `null` = disabled).
    pub mint_authority_enabled: Option<bool>,
    /// Solana freeze authority still set (rugcheck `freezeAuthority`, the mint account's `freezeAuthority`; `null` = disabled).
    pub freeze_authority_enabled: Option<bool>,
    /// The creator made honeypots before (GoPlus `honeypot_with_same_creator`).
    pub creator_honeypot_history: Option<bool>,
    /// Solana token metadata (name, symbol, URI) can still be changed: Metaplex `is_mutable` (the Solana
    /// RPC's read of the metadata PDA; rugcheck `tokenMeta.mutable`), else a Token-2022 `tokenMetadata`
    /// extension whose `updateAuthority` is set. No metadata = unknown.
    #[serde(default)]
    pub metadata_mutable: Option<bool>,
}

/// A successfully parsed provider answer for one token at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReport {
    pub provider: Provider,
    /// When nl fetched the payload (the raw event's `observed_at`).
    pub observed_at: Ts,
    pub facts: SecurityFacts,
}
