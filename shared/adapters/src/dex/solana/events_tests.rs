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

/// A verbatim mainnet `CompletePumpAmmMigrationEvent` line (2026-09-30, a `MigrateV2` of `Gu2b…D6ur`, kept in a
/// public repo's test): 200 bytes, exactly the 2026-05 IDL (`quote_mint` = `Pubkey::default()`: SOL).
const MIGRATION: &str = "Program data: velduVyU6pR5syl9Y/fz65admv7nJIovNlWDCH2Y954qauspuQDisuwzUMyokBlI9He9bDJYZLBdKpH/XoIk1hamctkkqmJdAAgBqSy8AAAF99HJEwAAAMHh5AAAAAAAMoHGAnbACdz3Aovqgja6G775Z0zt9dicAHfAL5D4BdekM71qAAAAAAdiat/7kUlZ19grEIFCFjyGZe3q4Tdy97klho7bjE4UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn verbatim_migration_event_names_the_graduated_mint_and_its_pool() {
    let bytes = base64::engine::general_purpose::STANDARD.decode(MIGRATION.trim_start_matches("Program data: ")).unwrap();
    assert_eq!((bytes.len(), &bytes[..8]), (200, &COMPLETE_PUMP_AMM_MIGRATION_EVENT[..]));
    let Some(SolanaEvent::PumpAmmMigration(m)) = decode_event(PUMP_FUN, &bytes) else { panic!() };
    assert_eq!(m.mint, "Gu2bpydt5bHVHtko5vvsWH5KQUT3Wxvt6hzYvKdND6ur");
    assert_eq!(m.pool, "Vptu7kbcUHWNHKSCw1Qn1MhgP9fqKmQnTAzTqETCAs5");
    assert_eq!((m.user.as_str(), m.bonding_curve.as_str()), ("9C4nRvhhVquCKATjDCx5FKvNS9PNgNqgyWy9AcoDjYv5", "4QAA7r2scMU7GynKpo34U2XDKtgJ8r8rJEaBRFVFzaia"));
    assert_eq!((m.mint_amount, m.sol_amount, m.pool_migration_fee, m.timestamp), (206_900_000_000_000, 84_990_359_301, 15_000_001, 1_790_784_420));
    assert_eq!(m.quote_mint.as_deref(), Some(DEFAULT_PUBKEY));
    assert!(SolanaEvent::PumpAmmMigration(m).is_launch());
    // Before 2026-05 the event ended at `pool`; cut inside `pool` it is no event.
    let Some(SolanaEvent::PumpAmmMigration(old)) = decode_event(PUMP_FUN, &bytes[..168]) else { panic!() };
    assert_eq!((old.pool.as_str(), old.quote_mint), ("Vptu7kbcUHWNHKSCw1Qn1MhgP9fqKmQnTAzTqETCAs5", None));
    assert_eq!(decode_event(PUMP_FUN, &bytes[..167]), None);
    assert_eq!(decode_event(PUMP_SWAP, &bytes), None, "another program's data");
}

/// Verbatim Raydium AMM v4 `ray_log`s: a pool init (mainnet slot 309 997 280, a pump.fun coin migrated to
/// Raydium: coin = WSOL, pc = the coin, as recorded in a public repo's `transactionNotification` fixture),
/// and a swap's (log type 3, from another public repo's test).
const RAY_INIT: &str = "Program log: ray_log: AAAAAAAAAAAABglkAAAAAAAAAICWmAAAAAAAAAgBqSy8AACrIxZlEgAAAFnM0QDR0E2khV5PwCZ9TkffBACX+24K5sZlyqyK+ldc";
const RAY_SWAP: &str = "Program log: ray_log: A6ltDwAAAAAAD9EBAAAAAAABAAAAAAAAAP96";

#[test]
fn verbatim_raydium_init_log_decodes_and_a_swap_log_is_not_an_init() {
    let logs: Vec<String> = [
        format!("Program {RAYDIUM_AMM_V4} invoke [1]"),
        "Program log: initialize2: InitializeInstruction2 { nonce: 254, open_time: 0, init_pc_amount: 206900000000000, init_coin_amount: 79005361067 }".into(),
        RAY_SWAP.into(),
        RAY_INIT.into(),
        format!("Program {RAYDIUM_AMM_V4} success"),
        // Outside Raydium: not attributed to it.
        format!("Program {PUMP_FUN} invoke [1]"),
        RAY_INIT.into(),
        format!("Program {PUMP_FUN} success"),
    ]
    .into();
    let events = events_in_logs(&logs);
    let want = RaydiumInit {
        open_time: 0,
        pc_decimals: 6,
        coin_decimals: 9,
        pc_amount: 206_900_000_000_000,
        coin_amount: 79_005_361_067,
        market: "73YRhKkJWdatUwJiwj5SdxWc9Wi2KXWJWqUtCFu2JxBd".into(),
    };
    assert_eq!(events, vec![SolanaEvent::RaydiumInit(want.clone())], "the swap's ray_log and the foreign line are skipped");
    assert!(!events[0].is_launch(), "it names no mint");
    assert!(!has_launch_event(&logs));
    let bytes = base64::engine::general_purpose::STANDARD.decode(RAY_INIT.trim_start_matches("Program log: ray_log: ")).unwrap();
    assert_eq!(decode_raydium_init(&bytes), Some(want));
    assert_eq!(decode_raydium_init(&bytes[..74]), None, "cut inside the market");
}
