//! Deterministic Solana risk facts without third parties: the mint account (`getAccountInfo`, `jsonParsed`;
//! reference sources-2 §4d) gives mint authority, freeze authority, supply, decimals and Token-2022
//! extensions; Metaplex metadata (§6) gives name, symbol and `is_mutable`, decoded sequentially by its Borsh
//! length prefixes (strings are `\0`-puffed to fixed lengths).
//!
//! [`mint_security_facts`] maps them onto the provider-independent [`SecurityFacts`]: an authority that is
//! set is a risk, `null` is renounced; metadata that can still be changed is a risk. A missing or non-mint
//! account gives an error, never a pass; a mint without metadata leaves `metadata_mutable` unknown.

use serde_json::Value;

use crate::providers::SecurityFacts;

/// What the mint account says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintFacts {
    /// `spl-token` or `spl-token-2022`.
    pub program: String,
    pub mint_authority: Option<String>,
    pub freeze_authority: Option<String>,
    /// Raw supply (u64 as the RPC's string).
    pub supply: u64,
    pub decimals: u8,
    /// Token-2022 extension names (`transferFeeConfig`, `permanentDelegate`, `tokenMetadata`, ...).
    pub extensions: Vec<String>,
    /// Token-2022 `tokenMetadata` extension: (name, symbol, update authority).
    pub token_metadata: Option<(String, String, Option<String>)>,
}

fn opt_key(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(format!("authority is neither a string nor null: {other}")),
    }
}

/// Parses `getAccountInfo(mint, {encoding: jsonParsed})`'s `result.value`.
///
/// # Errors
/// A message when there is no account (`null`), it is not a parsed SPL mint, or a field is malformed.
pub fn parse_mint_account(value: &Value) -> Result<MintFacts, String> {
    if value.is_null() {
        return Err("no account at this address".into());
    }
    let data = &value["data"];
    let program = data["program"].as_str().ok_or("account data is not jsonParsed (no `program`)")?;
    if !matches!(program, "spl-token" | "spl-token-2022") {
        return Err(format!("account of program `{program}`, not an SPL token mint"));
    }
    if data["parsed"]["type"] != "mint" {
        return Err(format!("parsed account type {} is not `mint`", data["parsed"]["type"]));
    }
    let info = &data["parsed"]["info"];
    let supply = info["supply"].as_str().and_then(|s| s.parse::<u64>().ok()).ok_or("`supply` is not a u64 string")?;
    let decimals = info["decimals"].as_u64().and_then(|d| u8::try_from(d).ok()).ok_or("`decimals` is not a u8")?;
    let mut extensions = Vec::new();
    let mut token_metadata = None;
    for e in info["extensions"].as_array().into_iter().flatten() {
        let name = e["extension"].as_str().unwrap_or("unparsableExtension").to_string();
        if name == "tokenMetadata" {
            let s = &e["state"];
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            token_metadata = Some((text("name"), text("symbol"), s["updateAuthority"].as_str().map(String::from)));
        }
        extensions.push(name);
    }
    Ok(MintFacts {
        program: program.to_string(),
        mint_authority: opt_key(&info["mintAuthority"])?,
        freeze_authority: opt_key(&info["freezeAuthority"])?,
        supply,
        decimals,
        extensions,
        token_metadata,
    })
}

/// Metaplex `Metadata` (the fields nl uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaplexMetadata {
    pub update_authority: String,
    pub mint: String,
    pub name: String,
    pub symbol: String,
    pub uri: String,
    pub is_mutable: bool,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u32(&mut self) -> Option<usize> {
        usize::try_from(u32::from_le_bytes(self.take(4)?.try_into().ok()?)).ok()
    }
    fn key(&mut self) -> Option<String> {
        self.take(32).map(|k| bs58::encode(k).into_string())
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()?;
        std::str::from_utf8(self.take(n)?).ok().map(|s| s.trim_end_matches('\0').to_string())
    }
}

/// Decodes a Metaplex metadata account (`key` = 4, MetadataV1) sequentially; `None` for another account
/// or a truncated one.
#[must_use]
pub fn decode_metaplex(data: &[u8]) -> Option<MetaplexMetadata> {
    let mut c = Cursor { b: data, at: 0 };
    if c.byte()? != 4 {
        return None;
    }
    let (update_authority, mint) = (c.key()?, c.key()?);
    let (name, symbol, uri) = (c.string()?, c.string()?, c.string()?);
    c.take(2)?; // seller_fee_basis_points
    if c.byte()? == 1 {
        let n = c.u32()?;
        c.take(n.checked_mul(34)?)?; // creators: address (32), verified, share
    }
    c.byte()?; // primary_sale_happened
    let is_mutable = c.byte()? == 1;
    Some(MetaplexMetadata { update_authority, mint, name, symbol, uri, is_mutable })
}

/// Parses `getAccountInfo(<metadata PDA>, {encoding: base64})`'s `result.value` for `mint`: `Ok(None)` when
/// there is no account (the mint has no Metaplex metadata), the decoded metadata otherwise.
///
/// # Errors
/// A message when the account is not owned by the Metaplex program, its data is not `[<base64>, "base64"]`,
/// it is not a MetadataV1 account, or it names another mint.
pub fn parse_metadata_account(value: &Value, mint: &str) -> Result<Option<MetaplexMetadata>, String> {
    use base64::Engine as _;
    if value.is_null() {
        return Ok(None);
    }
    let owner = value["owner"].as_str().unwrap_or_default();
    if owner != super::pda::METAPLEX_METADATA {
        return Err(format!("account owned by `{owner}`, not the Metaplex metadata program"));
    }
    let data = match (value["data"][0].as_str(), value["data"][1].as_str()) {
        (Some(d), Some("base64")) => base64::engine::general_purpose::STANDARD.decode(d).map_err(|e| format!("account data is not base64: {e}"))?,
        _ => return Err("account data is not `[<base64>, \"base64\"]`".into()),
    };
    let m = decode_metaplex(&data).ok_or("not a MetadataV1 account (key 4) or truncated")?;
    if m.mint != mint {
        return Err(format!("metadata names mint {}, not {mint}", m.mint));
    }
    Ok(Some(m))
}

/// Whether a token's metadata can still be changed: the Metaplex `is_mutable` flag when the mint has a
/// Metaplex account, else a Token-2022 `tokenMetadata` extension with an update authority; `None` (unknown)
/// when neither says.
#[must_use]
pub fn metadata_mutable(mint: &MintFacts, metaplex: Option<&MetaplexMetadata>) -> Option<bool> {
    metaplex.map(|m| m.is_mutable).or_else(|| mint.token_metadata.as_ref().map(|(_, _, authority)| authority.is_some()))
}

/// The tri-state facts of a mint (and its Metaplex metadata, when read): `mint_authority_enabled` and
/// `is_mintable` = the mint authority is set, `freeze_authority_enabled` = the freeze authority is set,
/// `metadata_mutable` per [`metadata_mutable`].
#[must_use]
pub fn mint_security_facts(m: &MintFacts, metaplex: Option<&MetaplexMetadata>) -> SecurityFacts {
    SecurityFacts {
        mint_authority_enabled: Some(m.mint_authority.is_some()),
        freeze_authority_enabled: Some(m.freeze_authority.is_some()),
        is_mintable: Some(m.mint_authority.is_some()),
        metadata_mutable: metadata_mutable(m, metaplex),
        ..SecurityFacts::default()
    }
}

#[cfg(test)]
#[path = "mint_tests.rs"]
mod tests;
