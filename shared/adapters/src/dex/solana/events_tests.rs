//! Anchor event decoding: the verbatim `CreateEvent` log prefix of the reference, and bodies encoded field by
//! field after the IDL layouts of sources-2 §5 (every version's length).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;

use super::*;

/// The verbatim start of a 2025-06 pump.fun `Program data:` line (reference §5a, "costco").
const COSTCO_PREFIX: &str = "G3KpTd7rY3YGAAAAY29zdGNvBgAAAENPU1RDT0MAAABodHRwczovL2lwZnMuaW8v";

fn key(n: u8) -> [u8; 32] {
    let mut k = [n; 32];
    k[0] = 1;
    k
}

fn b58(k: [u8; 32]) -> String {
    bs58::encode(k).into_string()
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A `CreateEvent` body: `version` 0 = up to `timestamp` (≤2025-04), 1 = + reserves (2025-05),
/// 2 = the 2026-05 IDL in full, 3 = with 9 trailing bytes.
fn create_event(version: u8) -> Vec<u8> {
    let mut b = CREATE_EVENT.to_vec();
    for s in ["Sealy", "SEALY", "https://ipfs.io/ipfs/x"] {
        string(&mut b, s);
    }
    for n in [2, 3, 4, 5] {
        b.extend_from_slice(&key(n));
    }
    b.extend_from_slice(&1_785_435_005_i64.to_le_bytes());
    if version >= 1 {
        for v in [1_u64, 2, 3, 1_000_000_000_000_000] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    if version >= 2 {
        b.extend_from_slice(&key(6));
        b.extend_from_slice(&[0, 1]);
        b.extend_from_slice(&[0; 32]);
        b.extend_from_slice(&30_000_000_000_u64.to_le_bytes());
    }
    if version >= 3 {
        b.extend_from_slice(&[9; 9]);
    }
    b
}

#[test]
fn verbatim_create_prefix_is_a_pump_create_cut_short() {
    let bytes = base64::engine::general_purpose::STANDARD.decode(COSTCO_PREFIX).unwrap();
    assert_eq!(bytes[..8], CREATE_EVENT);
    // The excerpt stops inside the uri: too short for an event, never a half-filled one.
    assert_eq!(decode_event(PUMP_FUN, &bytes), None);
    let mut r = Reader { b: &bytes[8..], at: 0 };
    assert_eq!((r.string().unwrap(), r.string().unwrap()), ("costco".to_string(), "COSTCO".to_string()));
}

#[test]
fn create_event_every_version() {
    for version in 0..=3 {
        let Some(SolanaEvent::PumpCreate(e)) = decode_event(PUMP_FUN, &create_event(version)) else { panic!("version {version}") };
        assert_eq!((e.name.as_str(), e.symbol.as_str()), ("Sealy", "SEALY"));
        assert_eq!((e.mint.clone(), e.bonding_curve.clone(), e.creator.clone()), (b58(key(2)), b58(key(3)), b58(key(5))));
        assert_eq!(e.timestamp, 1_785_435_005);
        assert_eq!(e.token_program.is_some(), version >= 2, "version {version}");
        assert_eq!(e.quote_mint.as_deref(), (version >= 2).then_some(DEFAULT_PUBKEY));
    }
    // The same bytes from another program, or cut inside a fixed field, are not an event.
    assert_eq!(decode_event(PUMP_SWAP, &create_event(2)), None);
    let b = create_event(0);
    assert_eq!(decode_event(PUMP_FUN, &b[..b.len() - 1]), None);
}

#[test]
fn pumpswap_create_pool_and_complete() {
    let mut b = CREATE_POOL_EVENT.to_vec();
    b.extend_from_slice(&1_785_435_005_i64.to_le_bytes());
    b.extend_from_slice(&7_u16.to_le_bytes());
    for n in [2, 3] {
        b.extend_from_slice(&key(n));
    }
    b.extend_from_slice(&bs58::decode(crate::dex::solana::WSOL_MINT).into_vec().unwrap());
    b.extend_from_slice(&[6, 9]);
    for v in 0..7_u64 {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(255);
    for n in [4, 5, 6, 7, 8] {
        b.extend_from_slice(&key(n));
    }
    b.push(0);
    assert_eq!(b.len(), 334, "the 2026-08 sample's length");
    let Some(SolanaEvent::PumpSwapPool(p)) = decode_event(PUMP_SWAP, &b) else { panic!() };
    assert_eq!((p.base_mint.as_str(), p.quote_mint.as_str()), (b58(key(3)).as_str(), crate::dex::solana::WSOL_MINT));
    assert_eq!((p.base_mint_decimals, p.quote_mint_decimals, p.timestamp), (6, 9, 1_785_435_005));
    assert_eq!((p.pool.clone(), p.lp_mint.clone(), p.coin_creator.clone()), (b58(key(4)), b58(key(5)), Some(b58(key(8)))));

    let mut c = COMPLETE_EVENT.to_vec();
    for n in [2, 3, 4] {
        c.extend_from_slice(&key(n));
    }
    c.extend_from_slice(&9_i64.to_le_bytes());
    c.extend_from_slice(&[0; 32]);
    assert_eq!(decode_event(PUMP_FUN, &c), Some(SolanaEvent::PumpComplete(PumpComplete { user: b58(key(2)), mint: b58(key(3)), bonding_curve: b58(key(4)), timestamp: 9 })));
}

#[test]
fn program_data_attributed_by_invoke_stack() {
    let data = base64::engine::general_purpose::STANDARD.encode(create_event(2));
    let logs: Vec<String> = [
        format!("Program {PUMP_FUN} invoke [1]"),
        "Program log: Instruction: Create".into(),
        format!("Program {PUMP_FUN} invoke [2]"),
        format!("Program {PUMP_FUN} consumed 2000 of 190000 compute units"),
        format!("Program {PUMP_FUN} success"),
        format!("Program data: {data}"),
        format!("Program {PUMP_FUN} consumed 90000 of 200000 compute units"),
        format!("Program {PUMP_FUN} success"),
        // Outside pump.fun: the same bytes are not attributed to it.
        format!("Program {RAYDIUM_AMM_V4} invoke [1]"),
        format!("Program data: {data}"),
        "Program data: not base64!".into(),
        format!("Program {RAYDIUM_AMM_V4} success"),
    ]
    .into();
    let events = events_in_logs(&logs);
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], SolanaEvent::PumpCreate(e) if e.symbol == "SEALY"));
    assert!(logged_instruction(&logs, PUMP_FUN, "Create"));
    assert!(!logged_instruction(&logs, RAYDIUM_AMM_V4, "Create"));
}

/// A `TradeEvent` body: the six leading fields, then `tail` more bytes (reserves, fee recipient, ...).
fn trade_event(is_buy: u8, tail: usize) -> Vec<u8> {
    let mut b = TRADE_EVENT.to_vec();
    b.extend_from_slice(&key(7));
    b.extend_from_slice(&250_000_000_u64.to_le_bytes());
    b.extend_from_slice(&8_600_000_u64.to_le_bytes());
    b.push(is_buy);
    b.extend_from_slice(&key(8));
    b.extend_from_slice(&1_790_000_101_i64.to_le_bytes());
    b.extend(std::iter::repeat_n(9, tail));
    b
}

#[test]
fn trade_event_leading_fields_whatever_follows() {
    // The log prefix the reference lists for TradeEvent lines.
    assert!(base64::engine::general_purpose::STANDARD.encode(trade_event(1, 0)).starts_with("vdt/007mYe"));
    for tail in [0, 32 + 32, 200] {
        let Some(SolanaEvent::PumpTrade(t)) = decode_event(PUMP_FUN, &trade_event(1, tail)) else { panic!("tail {tail}") };
        assert_eq!((t.mint, t.user), (b58(key(7)), b58(key(8))));
        assert_eq!((t.sol_amount, t.token_amount, t.is_buy, t.timestamp), (250_000_000, 8_600_000, true, 1_790_000_101));
    }
    let Some(SolanaEvent::PumpTrade(sell)) = decode_event(PUMP_FUN, &trade_event(0, 8)) else { panic!() };
    assert!(!sell.is_buy);
    assert_eq!(decode_event(PUMP_FUN, &trade_event(2, 8)), None, "a bool is 0 or 1");
    let short = trade_event(1, 0);
    assert_eq!(decode_event(PUMP_FUN, &short[..short.len() - 1]), None, "cut inside timestamp");
    assert_eq!(decode_event(PUMP_SWAP, &trade_event(1, 0)), None, "another program's data");
    assert!(!SolanaEvent::PumpTrade(sell).is_launch());
}
