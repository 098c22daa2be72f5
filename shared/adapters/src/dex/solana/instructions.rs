//! Pool-creation instructions of the programs that emit no creation event in their logs, decoded from a
//! `getTransaction` result (outer and inner instructions: a pool may be created by CPI, e.g. a launchpad
//! migration). Raydium CPMM has no creation event at all; Raydium LaunchLab, Meteora DAMM v2 and DLMM
//! emit theirs by self-CPI (`emit_cpi!`), so no `Program data:` line carries it. The instruction's
//! accounts name the pool, both mints and the creator, in the vendor's account order:
//!
//! * Raydium CPMM (raydium-io/raydium-cp-swap `instructions/initialize*.rs`): `initialize` = `creator,
//!   amm_config, authority, pool_state, token_0_mint, token_1_mint, …`; `initialize_with_permission` =
//!   `payer, creator, amm_config, authority, pool_state, token_0_mint, token_1_mint, …`.
//! * Raydium LaunchLab (raydium-io/raydium-cpi `launch-cpi/src/context.rs`): `initialize`,
//!   `initialize_v2`, `initialize_with_token_2022` = `payer, creator, global_config, platform_config,
//!   authority, pool_state, base_mint, quote_mint, …`, data `MintParams { decimals: u8, name, symbol, uri }`
//!   (Borsh strings) first.
//! * Meteora DAMM v2 (MeteoraAg/damm-v2 `instructions/initialize_pool/`): `initialize_pool` = `creator,
//!   position_nft_mint, position_nft_account, payer, config, pool_authority, pool, position, token_a_mint,
//!   token_b_mint, …`; `initialize_customizable_pool` has no `config` (pool 5, mints 7/8);
//!   `initialize_pool_with_dynamic_config` adds `pool_creator_authority, config` (pool 7, mints 9/10).
//! * Meteora DLMM (MeteoraAg/dlmm-sdk `idls/dlmm.json`): `initialize_lb_pair`, `initialize_lb_pair2`,
//!   `initialize_customizable_permissionless_lb_pair`(`2`) = `lb_pair, bin_array_bitmap_extension,
//!   token_mint_x, token_mint_y, …`, the `funder` (creator) 9th.
//!
//! Instructions are told apart by their Anchor discriminator, `sha256("global:<name>")[..8]`.

use sha2::{Digest, Sha256};

use super::parse::QUOTE_MINTS;

/// Raydium CPMM.
pub const RAYDIUM_CPMM: &str = "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C";
/// Raydium LaunchLab.
pub const RAYDIUM_LAUNCHLAB: &str = "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj";
/// Meteora DAMM v2.
pub const METEORA_DAMM_V2: &str = "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG";
/// Meteora DLMM.
pub const METEORA_DLMM: &str = "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo";

/// One instruction of a transaction (outer or inner), accounts resolved to pubkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ix {
    pub program: String,
    pub accounts: Vec<String>,
    pub data: Vec<u8>,
}

/// Where a creation instruction keeps its fields: account indices, and whether its data starts with
/// LaunchLab's `MintParams`.
#[derive(Debug, Clone, Copy)]
struct Layout {
    program: &'static str,
    name: &'static str,
    pool: usize,
    /// `(a, b)`: token_0/token_1, base/quote, token_a/token_b, x/y.
    mints: (usize, usize),
    creator: usize,
    /// The first mint is the launched one (LaunchLab's base), whatever the quote.
    first_is_base: bool,
    mint_params: bool,
}

const fn layout(program: &'static str, name: &'static str, pool: usize, mints: (usize, usize), creator: usize) -> Layout {
    Layout { program, name, pool, mints, creator, first_is_base: false, mint_params: false }
}

const fn launchlab(name: &'static str) -> Layout {
    Layout { program: RAYDIUM_LAUNCHLAB, name, pool: 5, mints: (6, 7), creator: 1, first_is_base: true, mint_params: true }
}

const LAYOUTS: &[Layout] = &[
    layout(RAYDIUM_CPMM, "initialize", 3, (4, 5), 0),
    layout(RAYDIUM_CPMM, "initialize_with_permission", 4, (5, 6), 1),
    launchlab("initialize"),
    launchlab("initialize_v2"),
    launchlab("initialize_with_token_2022"),
    layout(METEORA_DAMM_V2, "initialize_pool", 6, (8, 9), 0),
    layout(METEORA_DAMM_V2, "initialize_customizable_pool", 5, (7, 8), 0),
    layout(METEORA_DAMM_V2, "initialize_pool_with_dynamic_config", 7, (9, 10), 0),
    layout(METEORA_DLMM, "initialize_lb_pair", 0, (2, 3), 8),
    layout(METEORA_DLMM, "initialize_lb_pair2", 0, (2, 3), 8),
    layout(METEORA_DLMM, "initialize_customizable_permissionless_lb_pair", 0, (2, 3), 8),
    layout(METEORA_DLMM, "initialize_customizable_permissionless_lb_pair2", 0, (2, 3), 8),
];

/// `sha256("global:<name>")[..8]`: an Anchor instruction's discriminator.
#[must_use]
pub fn anchor_ix(name: &str) -> [u8; 8] {
    let h = Sha256::digest(format!("global:{name}").as_bytes());
    let mut d = [0; 8];
    d.copy_from_slice(&h[..8]);
    d
}

/// A pool created by an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCreation {
    pub program: String,
    /// The instruction's name (snake case, as in the vendor source).
    pub instruction: &'static str,
    pub pool: String,
    /// The launched token: the side that is not a quote mint (LaunchLab: its base mint).
    pub mint: String,
    pub quote_mint: String,
    pub creator: String,
    /// LaunchLab's `MintParams`: `(decimals, name, symbol)`.
    pub mint_params: Option<(u8, String, String)>,
}

fn borsh_string(b: &[u8], at: &mut usize) -> Option<String> {
    let n = usize::try_from(u32::from_le_bytes(b.get(*at..*at + 4)?.try_into().ok()?)).ok()?;
    let s = b.get(*at + 4..(*at + 4).checked_add(n)?)?;
    *at += 4 + n;
    String::from_utf8(s.to_vec()).ok()
}

fn mint_params(data: &[u8]) -> Option<(u8, String, String)> {
    let decimals = *data.get(8)?;
    let mut at = 9;
    let (name, symbol) = (borsh_string(data, &mut at)?, borsh_string(data, &mut at)?);
    Some((decimals, name, symbol))
}

/// The pool an instruction creates, when it is one of the creation instructions above with enough
/// accounts.
#[must_use]
pub fn pool_creation(ix: &Ix) -> Option<PoolCreation> {
    let disc = ix.data.get(..8)?;
    let l = LAYOUTS.iter().find(|l| l.program == ix.program && anchor_ix(l.name) == disc)?;
    let acct = |i: usize| ix.accounts.get(i).cloned();
    let (a, b) = (acct(l.mints.0)?, acct(l.mints.1)?);
    let a_is_quote = !l.first_is_base && QUOTE_MINTS.contains(&a.as_str()) && !QUOTE_MINTS.contains(&b.as_str());
    let (mint, quote_mint) = if a_is_quote { (b, a) } else { (a, b) };
    Some(PoolCreation {
        program: ix.program.clone(),
        instruction: l.name,
        pool: acct(l.pool)?,
        mint,
        quote_mint,
        creator: acct(l.creator)?,
        mint_params: if l.mint_params { mint_params(&ix.data) } else { None },
    })
}

/// The pools created by `program` in `ixs` (outer and inner), in order.
pub fn pool_creations<'a>(ixs: &'a [Ix], program: &'a str) -> impl Iterator<Item = PoolCreation> + 'a {
    ixs.iter().filter(move |ix| ix.program == program).filter_map(pool_creation)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The DLMM IDL (MeteoraAg/dlmm-sdk `idls/dlmm.json`, v0.12.0) lists its discriminators; ours agree.
    #[test]
    fn discriminators_match_the_dlmm_idl() {
        assert_eq!(anchor_ix("initialize_lb_pair"), [45, 154, 237, 210, 221, 15, 166, 92]);
        assert_eq!(anchor_ix("initialize_lb_pair2"), [73, 59, 36, 120, 237, 83, 108, 198]);
        assert_eq!(anchor_ix("initialize_customizable_permissionless_lb_pair"), [46, 39, 41, 135, 111, 183, 200, 64]);
        assert_eq!(anchor_ix("initialize_customizable_permissionless_lb_pair2"), [243, 73, 129, 126, 51, 19, 241, 107]);
        assert_eq!(anchor_ix("swap"), [248, 198, 158, 145, 225, 117, 135, 200]);
    }

    #[test]
    fn the_quote_side_is_never_the_launched_mint_except_launchlab_base() {
        let keys: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
        let mut accounts = keys.clone();
        accounts[4] = super::super::WSOL_MINT.into();
        let ix = Ix { program: RAYDIUM_CPMM.into(), accounts, data: anchor_ix("initialize").to_vec() };
        let c = pool_creation(&ix).unwrap();
        assert_eq!((c.pool.as_str(), c.mint.as_str(), c.quote_mint.as_str(), c.creator.as_str()), ("k3", "k5", super::super::WSOL_MINT, "k0"));
        let swap = Ix { data: anchor_ix("swap_base_input").to_vec(), ..ix.clone() };
        assert_eq!(pool_creation(&swap), None);
        let short = Ix { accounts: keys[..5].to_vec(), ..ix };
        assert_eq!(pool_creation(&short), None, "too few accounts");
    }

    /// A CPMM pool created by CPI (`initialize_with_permission` as an inner instruction), in `json`
    /// encoding: program and accounts are indices into the account keys (lookup-table keys last).
    #[test]
    fn an_inner_creation_in_json_encoding_is_resolved_through_the_account_keys() {
        let keys: Vec<String> = (0..8).map(|i| bs58::encode([i as u8 + 1; 32]).into_string()).collect();
        let data = bs58::encode(anchor_ix("initialize_with_permission")).into_string();
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {"slot": 5, "blockTime": 1_790_000_000,
            "transaction": {"signatures": ["s"], "message": {"accountKeys": [keys[0], keys[1], keys[2], RAYDIUM_CPMM],
                "instructions": [{"programIdIndex": 2, "accounts": [0], "data": "3Bxs4Bc3VYuGVB19", "stackHeight": null}]}},
            "meta": {"err": null, "loadedAddresses": {"writable": [keys[3], keys[4]], "readonly": [super::super::WSOL_MINT]},
                "innerInstructions": [{"index": 0, "instructions": [
                    {"programIdIndex": 3, "accounts": [0, 1, 2, 2, 4, 6, 5], "data": data, "stackHeight": 2}]}]}}});
        let tx = super::super::parse_get_transaction(&body.to_string()).unwrap().unwrap();
        assert_eq!(tx.instructions.len(), 2);
        // Account index 4 is the first loaded (lookup-table) key: keys[3].
        let c = pool_creations(&tx.instructions, RAYDIUM_CPMM).next().unwrap();
        assert_eq!(c.instruction, "initialize_with_permission");
        assert_eq!((c.pool, c.mint, c.quote_mint, c.creator), (keys[3].clone(), keys[4].clone(), super::super::WSOL_MINT.to_string(), keys[1].clone()));
    }
}
