//! ERC-20 metadata over `eth_call`: request builders and tolerant decoding of `name`, `symbol`,
//! `decimals` and `totalSupply` results. Oddities become flags, not errors, so risk rules can see them.

use alloy_primitives::U256;
use alloy_sol_types::{SolType, sol_data};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::MetaError;
use super::rpc::{BlockTag, eth_call_request};

/// `name()` selector.
pub const SELECTOR_NAME: &str = "0x06fdde03";
/// `symbol()` selector.
pub const SELECTOR_SYMBOL: &str = "0x95d89b41";
/// `decimals()` selector.
pub const SELECTOR_DECIMALS: &str = "0x313ce567";
/// `totalSupply()` selector.
pub const SELECTOR_TOTAL_SUPPLY: &str = "0x18160ddd";

/// Decimals above this are flagged as absurd (real tokens use 0–18, a few up to 24–36).
pub const MAX_SANE_DECIMALS: u8 = 36;
/// Longer names/symbols are cut and flagged.
pub const MAX_TEXT_CHARS: usize = 128;

/// Metadata of one token. `None` means unknown (the call failed or returned nothing usable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMeta {
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
    /// Raw integer supply as a decimal string (not scaled by decimals).
    pub total_supply: Option<String>,
    /// e.g. `symbol_bytes32`, `name_reverted`, `decimals_absurd`, `total_supply_zero`.
    pub flags: Vec<String>,
}

/// How one `eth_call` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome<'a> {
    /// The `result` hex (may be `0x`).
    Returned(&'a str),
    /// A JSON-RPC error (typically `execution reverted`) or no answer.
    Failed,
}

/// The four `eth_call` requests, ids `first_id..first_id+4` in the order name, symbol, decimals, totalSupply.
#[must_use]
pub fn metadata_requests(first_id: u64, token: &str, block: BlockTag) -> [Value; 4] {
    [
        eth_call_request(first_id, token, SELECTOR_NAME, block),
        eth_call_request(first_id + 1, token, SELECTOR_SYMBOL, block),
        eth_call_request(first_id + 2, token, SELECTOR_DECIMALS, block),
        eth_call_request(first_id + 3, token, SELECTOR_TOTAL_SUPPLY, block),
    ]
}

fn hex_bytes(hex: &str) -> Result<Vec<u8>, MetaError> {
    let bytes = alloy_primitives::hex::decode(hex.trim()).map_err(|_| MetaError::Hex(hex.chars().take(80).collect()))?;
    if bytes.is_empty() { Err(MetaError::Empty) } else { Ok(bytes) }
}

/// Decodes a `string` return, falling back to a right-padded `bytes32` (legacy tokens such as MKR).
/// NUL padding and surrounding whitespace are stripped; invalid UTF-8 is replaced.
///
/// # Errors
/// `MetaError::Empty` for `0x`, `Hex` for non-hex, `Malformed` when neither encoding fits.
pub fn decode_string_or_bytes32(hex: &str) -> Result<String, MetaError> {
    decode_text(hex).map(|(s, _)| s)
}

/// Like [`decode_string_or_bytes32`], also telling whether the bytes32 fallback was used.
fn decode_text(hex: &str) -> Result<(String, bool), MetaError> {
    let bytes = hex_bytes(hex)?;
    if bytes.len() >= 64
        && let Ok(b) = <sol_data::Bytes as SolType>::abi_decode(&bytes)
    {
        return Ok((clean(&b), false));
    }
    if bytes.len() == 32 {
        return Ok((clean(&bytes), true));
    }
    Err(MetaError::Malformed(format!("{} bytes, neither ABI string nor bytes32", bytes.len())))
}

fn clean(b: &[u8]) -> String {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&b[..end]).chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string()
}

/// Decodes a `uint256` return as a decimal string.
///
/// # Errors
/// `MetaError::Empty` for `0x`, `Hex` for non-hex, `Malformed` for fewer than 32 bytes.
pub fn decode_uint256(hex: &str) -> Result<U256, MetaError> {
    let bytes = hex_bytes(hex)?;
    let word = bytes.get(..32).ok_or_else(|| MetaError::Malformed(format!("{} bytes, need 32", bytes.len())))?;
    Ok(U256::from_be_slice(word))
}

/// Decodes a `decimals()` (`uint8`) return.
///
/// # Errors
/// As [`decode_uint256`], plus `OutOfRange` above 255.
pub fn decode_uint8_decimals(hex: &str) -> Result<u8, MetaError> {
    let v = decode_uint256(hex)?;
    u8::try_from(v).map_err(|_| MetaError::OutOfRange(v.to_string()))
}

fn failure_flag(field: &str, e: &MetaError) -> String {
    match e {
        MetaError::Empty => format!("{field}_empty"),
        MetaError::OutOfRange(_) => format!("{field}_out_of_range"),
        MetaError::Hex(_) | MetaError::Malformed(_) => format!("{field}_malformed"),
    }
}

/// Assembles [`TokenMeta`] from the four call outcomes, flagging reverts, empty results, bytes32
/// symbols, absurd decimals and zero supply.
#[must_use]
pub fn token_meta(name: CallOutcome<'_>, symbol: CallOutcome<'_>, decimals: CallOutcome<'_>, total_supply: CallOutcome<'_>) -> TokenMeta {
    let mut meta = TokenMeta::default();
    let flags = &mut meta.flags;
    let text = |field: &str, outcome: CallOutcome<'_>, flags: &mut Vec<String>| -> Option<String> {
        match outcome {
            CallOutcome::Failed => {
                flags.push(format!("{field}_reverted"));
                None
            }
            CallOutcome::Returned(hex) => match decode_text(hex) {
                Ok((s, bytes32)) => {
                    if bytes32 {
                        flags.push(format!("{field}_bytes32"));
                    }
                    if s.is_empty() {
                        flags.push(format!("{field}_blank"));
                        return None;
                    }
                    if s.chars().count() > MAX_TEXT_CHARS {
                        flags.push(format!("{field}_too_long"));
                        return Some(s.chars().take(MAX_TEXT_CHARS).collect());
                    }
                    Some(s)
                }
                Err(e) => {
                    flags.push(failure_flag(field, &e));
                    None
                }
            },
        }
    };
    meta.name = text("name", name, flags);
    meta.symbol = text("symbol", symbol, flags);
    meta.decimals = match decimals {
        CallOutcome::Failed => {
            flags.push("decimals_reverted".into());
            None
        }
        CallOutcome::Returned(hex) => match decode_uint8_decimals(hex) {
            Ok(d) => {
                if d > MAX_SANE_DECIMALS {
                    flags.push("decimals_absurd".into());
                }
                Some(d)
            }
            Err(e) => {
                flags.push(failure_flag("decimals", &e));
                None
            }
        },
    };
    meta.total_supply = match total_supply {
        CallOutcome::Failed => {
            flags.push("total_supply_reverted".into());
            None
        }
        CallOutcome::Returned(hex) => match decode_uint256(hex) {
            Ok(v) => {
                if v.is_zero() {
                    flags.push("total_supply_zero".into());
                }
                Some(v.to_string())
            }
            Err(e) => {
                flags.push(failure_flag("total_supply", &e));
                None
            }
        },
    };
    meta
}
