//! Mint facts from `getAccountInfo` (`jsonParsed`) and Metaplex metadata decoding.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::dex::evm::rpc::parse_response;

const RENOUNCED: &str = include_str!("test_data/http_get_account_info_mint_json_parsed.json");
const TOKEN_2022: &str = include_str!("test_data/http_get_account_info_mint_2022_json_parsed.json");
const METAPLEX: &str = include_str!("test_data/http_get_account_info_metaplex_base64.json");
const MILLI: &str = "HDLRMKW1FDz2q5Zg778CZx26UgrtnqpUDkNNJHhmVUFr";

fn value(body: &str) -> Value {
    parse_response(body).unwrap()["value"].clone()
}

#[test]
fn renounced_spl_mint() {
    let m = parse_mint_account(&value(RENOUNCED)).unwrap();
    assert_eq!((m.program.as_str(), m.decimals, m.supply), ("spl-token", 6, 999_999_751_292_733));
    assert_eq!((m.mint_authority.clone(), m.freeze_authority.clone()), (None, None));
    let f = mint_security_facts(&m, None);
    assert_eq!((f.mint_authority_enabled, f.freeze_authority_enabled, f.is_mintable), (Some(false), Some(false), Some(false)));
    assert_eq!(f.metadata_mutable, None, "no metadata read: unknown, never a pass");
}

#[test]
fn token_2022_mint_with_authorities_and_metadata() {
    let m = parse_mint_account(&value(TOKEN_2022)).unwrap();
    assert_eq!(m.program, "spl-token-2022");
    assert_eq!(m.mint_authority.as_deref(), Some("TSLvdd1pWpHVjahSpsvCXUbgwsL3JAcvokwaKt1eokM"));
    assert_eq!(m.freeze_authority.as_deref(), Some("9GHvMeJ4ZWuAX6sDGscFL1TBMszx2EehnrcTVUy4MZJQ"));
    assert_eq!(m.extensions, ["metadataPointer", "tokenMetadata"]);
    assert_eq!(m.token_metadata, Some(("Sealy".into(), "SEALY".into(), Some("TSLvdd1pWpHVjahSpsvCXUbgwsL3JAcvokwaKt1eokM".into()))));
    let f = mint_security_facts(&m, None);
    assert_eq!((f.mint_authority_enabled, f.freeze_authority_enabled), (Some(true), Some(true)));
    assert_eq!(f.metadata_mutable, Some(true), "the tokenMetadata extension still has an update authority");
}

#[test]
fn no_account_or_not_a_mint_is_an_error_never_a_pass() {
    assert!(parse_mint_account(&Value::Null).is_err());
    let mut v = value(RENOUNCED);
    v["data"]["parsed"]["type"] = "account".into();
    assert!(parse_mint_account(&v).is_err());
    let mut v = value(RENOUNCED);
    v["data"] = serde_json::json!(["AAAA", "base64"]);
    assert!(parse_mint_account(&v).unwrap_err().contains("jsonParsed"));
    let mut v = value(RENOUNCED);
    v["data"]["parsed"]["info"]["supply"] = 5.into();
    assert!(parse_mint_account(&v).is_err(), "supply is a string in UiMint");
    // An RPC error has no value at all.
    assert!(parse_response(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"Node is behind"}}"#).is_err());
}

/// A MetadataV1 account: puffed strings, `creators`, then the flags.
fn metadata(creators: usize, is_mutable: bool) -> Vec<u8> {
    let mut b = vec![4];
    b.extend_from_slice(&[1; 32]);
    b.extend_from_slice(&[2; 32]);
    for (s, max) in [("Sealy", 32), ("SEALY", 10), ("https://ipfs.io/ipfs/x", 200)] {
        let mut padded = s.as_bytes().to_vec();
        padded.resize(max, 0);
        b.extend_from_slice(&u32::try_from(max).unwrap().to_le_bytes());
        b.extend_from_slice(&padded);
    }
    b.extend_from_slice(&0_u16.to_le_bytes());
    if creators == 0 {
        b.push(0);
    } else {
        b.push(1);
        b.extend_from_slice(&u32::try_from(creators).unwrap().to_le_bytes());
        for _ in 0..creators {
            b.extend_from_slice(&[3; 32]);
            b.extend_from_slice(&[1, 100]);
        }
    }
    b.push(0);
    b.push(u8::from(is_mutable));
    b.extend_from_slice(&[0; 200]);
    b
}

#[test]
fn metaplex_metadata_sequential_decode() {
    let m = decode_metaplex(&metadata(0, true)).unwrap();
    assert_eq!((m.name.as_str(), m.symbol.as_str(), m.uri.as_str(), m.is_mutable), ("Sealy", "SEALY", "https://ipfs.io/ipfs/x", true));
    assert_eq!(m.update_authority, bs58::encode([1_u8; 32]).into_string());
    // is_mutable moves with the creators: one byte past 323 with two creators.
    let two = metadata(2, false);
    assert!(!decode_metaplex(&two).unwrap().is_mutable);
    assert_eq!(two[323 + 4 + 68], 0);
    assert_eq!(decode_metaplex(&two[..300]), None, "truncated");
    let mut other = metadata(0, true);
    other[0] = 5;
    assert_eq!(decode_metaplex(&other), None, "not MetadataV1");
}

#[test]
fn metaplex_account_of_a_mainnet_mint() {
    let m = parse_metadata_account(&value(METAPLEX), MILLI).unwrap().expect("an account");
    assert_eq!((m.name.as_str(), m.symbol.as_str(), m.uri.as_str()), ("MILLIONSY", "MILLI", ""), "puffed with \\0, trimmed");
    assert_eq!(m.update_authority, "3jQRTvpBMQSgMJZcnJjjhDMjHzbUHGg88eadE6km6Qzn");
    assert!(m.is_mutable);
    let renounced = parse_mint_account(&value(RENOUNCED)).unwrap();
    assert_eq!(mint_security_facts(&renounced, Some(&m)).metadata_mutable, Some(true));
    let mut frozen = m.clone();
    frozen.is_mutable = false;
    let t22 = parse_mint_account(&value(TOKEN_2022)).unwrap();
    assert_eq!(metadata_mutable(&t22, Some(&frozen)), Some(false), "Metaplex wins over the extension");
}

#[test]
fn metaplex_account_missing_or_wrong_is_never_a_pass() {
    assert_eq!(parse_metadata_account(&Value::Null, MILLI), Ok(None), "no account: no metadata");
    assert!(parse_metadata_account(&value(METAPLEX), "GPAVdWsSJhoJhE7ZbcWc4ffNHAbBZRP58jujb1empump").unwrap_err().contains("names mint"));
    let mut v = value(METAPLEX);
    v["owner"] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA".into();
    assert!(parse_metadata_account(&v, MILLI).unwrap_err().contains("not the Metaplex"));
    let mut v = value(METAPLEX);
    v["data"] = serde_json::json!(["BQAA", "base64"]);
    assert!(parse_metadata_account(&v, MILLI).is_err(), "not MetadataV1");
    let mut v = value(METAPLEX);
    v["data"] = serde_json::json!({"parsed": {}});
    assert!(parse_metadata_account(&v, MILLI).is_err());
}
