//! Anchor events in `Program data: <base64>` log lines (reference sources-2 §5): pump.fun `CreateEvent`,
//! `CompleteEvent`, `TradeEvent` and `CompletePumpAmmMigrationEvent` (its fields from the vendor IDL,
//! pump-fun/pump-public-docs `idl/pump.json`), PumpSwap `CreatePoolEvent`. An event is
//! `sha256("event:<Name>")[..8]` followed by its Borsh fields. Raydium AMM v4's pool-init `ray_log`
//! (`Program log: ray_log: <base64>`, bincode, log type 0: reference §5c) is decoded beside them.
//! The layouts grow at the end over time, so decoding is prefix-tolerant: the fields the
//! reference lists are read in order, trailing bytes are ignored, and fields added later are optional.
//!
//! Each `Program data:` line is attributed to the program on top of the invoke stack, like
//! [`super::parse::detect_launches`] does for `Program log:` lines.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// pump.fun bonding-curve program.
pub const PUMP_FUN: &str = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P";
/// PumpSwap AMM.
pub const PUMP_SWAP: &str = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA";
/// Raydium AMM v4.
pub const RAYDIUM_AMM_V4: &str = "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8";
/// `Pubkey::default()`: pump.fun's `quote_mint` of a SOL-paired coin.
pub const DEFAULT_PUBKEY: &str = "11111111111111111111111111111111";

/// `sha256("event:CreateEvent")[..8]`.
pub const CREATE_EVENT: [u8; 8] = [27, 114, 169, 77, 222, 235, 99, 118];
/// `sha256("event:CompleteEvent")[..8]` (bonding curve complete: graduation).
pub const COMPLETE_EVENT: [u8; 8] = [95, 114, 97, 156, 212, 46, 152, 8];
/// `sha256("event:TradeEvent")[..8]` (a bonding-curve buy or sell).
pub const TRADE_EVENT: [u8; 8] = [189, 219, 127, 211, 78, 230, 97, 238];
/// `sha256("event:CompletePumpAmmMigrationEvent")[..8]` (the curve's liquidity moved into a PumpSwap pool).
pub const COMPLETE_PUMP_AMM_MIGRATION_EVENT: [u8; 8] = [189, 233, 93, 185, 92, 148, 234, 148];
/// `sha256("event:CreatePoolEvent")[..8]`.
pub const CREATE_POOL_EVENT: [u8; 8] = [177, 49, 12, 210, 160, 118, 167, 116];

/// pump.fun `CreateEvent` (fields up to `creator` and `timestamp` are in every version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpCreate {
    pub name: String,
    pub symbol: String,
    pub uri: String,
    pub mint: String,
    pub bonding_curve: String,
    pub user: String,
    pub creator: String,
    /// Unix seconds (the program's clock: the block time).
    pub timestamp: i64,
    /// Added 2025-11; `None` in older events.
    pub token_program: Option<String>,
    /// Added 2026-05; `None` before, [`DEFAULT_PUBKEY`] for SOL-paired coins.
    pub quote_mint: Option<String>,
}

/// pump.fun `CompleteEvent`: the bonding curve of `mint` completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpComplete {
    pub user: String,
    pub mint: String,
    pub bonding_curve: String,
    pub timestamp: i64,
}

/// pump.fun `CompletePumpAmmMigrationEvent` (IDL: `user, mint, mint_amount, sol_amount,
/// pool_migration_fee, bonding_curve, timestamp, pool`, then `quote_mint` since 2026-05): `mint` graduated
/// into the PumpSwap pool `pool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpAmmMigration {
    pub user: String,
    pub mint: String,
    /// Raw token amount moved into the pool.
    pub mint_amount: u64,
    /// Lamports moved into the pool.
    pub sol_amount: u64,
    /// Lamports.
    pub pool_migration_fee: u64,
    pub bonding_curve: String,
    pub timestamp: i64,
    pub pool: String,
    /// Added 2026-05; `None` before, [`DEFAULT_PUBKEY`] for SOL-paired coins.
    pub quote_mint: Option<String>,
}

/// Raydium AMM v4 `InitLog` (`ray_log` type 0, reference §5c; `coin` = base, `pc` = quote). It names no
/// mint: the transaction's token balances do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaydiumInit {
    /// The pool's `open_time` (unix seconds; 0 = open at once).
    pub open_time: u64,
    pub pc_decimals: u8,
    pub coin_decimals: u8,
    pub pc_amount: u64,
    pub coin_amount: u64,
    /// The OpenBook market.
    pub market: String,
}

/// pump.fun `TradeEvent`: the leading fields (`mint, sol_amount, token_amount, is_buy, user, timestamp`);
/// the reserves, fee recipient and later additions after them are not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpTrade {
    pub mint: String,
    /// Lamports.
    pub sol_amount: u64,
    /// Raw token amount.
    pub token_amount: u64,
    pub is_buy: bool,
    pub user: String,
    /// Unix seconds (the block time).
    pub timestamp: i64,
}

/// PumpSwap `CreatePoolEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PumpSwapPool {
    pub timestamp: i64,
    pub creator: String,
    pub base_mint: String,
    pub quote_mint: String,
    pub base_mint_decimals: u8,
    pub quote_mint_decimals: u8,
    pub pool: String,
    pub lp_mint: String,
    /// Added 2025-05.
    pub coin_creator: Option<String>,
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SolanaEvent {
    PumpCreate(PumpCreate),
    PumpComplete(PumpComplete),
    PumpSwapPool(PumpSwapPool),
    PumpAmmMigration(PumpAmmMigration),
    PumpTrade(PumpTrade),
    RaydiumInit(RaydiumInit),
}

impl SolanaEvent {
    /// Whether the event names a launched mint (a create, a graduation): not a trade, and not Raydium's
    /// init log (its mint is only in the transaction).
    #[must_use]
    pub const fn is_launch(&self) -> bool {
        !matches!(self, Self::PumpTrade(_) | Self::RaydiumInit(_))
    }
}

/// A Borsh reader over an event body.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).and_then(|s| s.try_into().ok()).map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|s| s.try_into().ok()).map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).and_then(|s| s.try_into().ok()).map(i64::from_le_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        let s = self.take(n)?;
        std::str::from_utf8(s).ok().map(|s| s.trim_end_matches('\0').to_string())
    }
    fn pubkey(&mut self) -> Option<String> {
        self.take(32).map(|k| bs58::encode(k).into_string())
    }
}

fn pump_create(r: &mut Reader<'_>) -> Option<PumpCreate> {
    let (name, symbol, uri) = (r.string()?, r.string()?, r.string()?);
    let (mint, bonding_curve, user, creator) = (r.pubkey()?, r.pubkey()?, r.pubkey()?, r.pubkey()?);
    let timestamp = r.i64()?;
    // virtual_token_reserves, virtual_sol_reserves, real_token_reserves, token_total_supply (2025-05).
    let reserves = (0..4).try_for_each(|_| r.u64().map(|_| ()));
    let token_program = reserves.and_then(|()| r.pubkey());
    // is_mayhem_mode (2025-11), is_cashback_enabled (2026-02), quote_mint (2026-05).
    let quote_mint = token_program.as_ref().and_then(|_| {
        r.u8()?;
        r.u8()?;
        r.pubkey()
    });
    Some(PumpCreate { name, symbol, uri, mint, bonding_curve, user, creator, timestamp, token_program, quote_mint })
}

fn pump_complete(r: &mut Reader<'_>) -> Option<PumpComplete> {
    Some(PumpComplete { user: r.pubkey()?, mint: r.pubkey()?, bonding_curve: r.pubkey()?, timestamp: r.i64()? })
}

fn pump_migration(r: &mut Reader<'_>) -> Option<PumpAmmMigration> {
    let (user, mint) = (r.pubkey()?, r.pubkey()?);
    let (mint_amount, sol_amount, pool_migration_fee) = (r.u64()?, r.u64()?, r.u64()?);
    let (bonding_curve, timestamp, pool) = (r.pubkey()?, r.i64()?, r.pubkey()?);
    let quote_mint = r.pubkey();
    Some(PumpAmmMigration { user, mint, mint_amount, sol_amount, pool_migration_fee, bonding_curve, timestamp, pool, quote_mint })
}

/// A `ray_log` payload of type 0 (bincode: fixed-width little-endian integers, the pubkey as 32 bytes);
/// `None` for another type (swaps log `ray_log` too) or a short payload.
#[must_use]
pub fn decode_raydium_init(bytes: &[u8]) -> Option<RaydiumInit> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.u8()? != 0 {
        return None;
    }
    let open_time = r.u64()?;
    let (pc_decimals, coin_decimals) = (r.u8()?, r.u8()?);
    r.u64()?; // pc_lot_size
    r.u64()?; // coin_lot_size
    let (pc_amount, coin_amount, market) = (r.u64()?, r.u64()?, r.pubkey()?);
    Some(RaydiumInit { open_time, pc_decimals, coin_decimals, pc_amount, coin_amount, market })
}

fn pump_trade(r: &mut Reader<'_>) -> Option<PumpTrade> {
    let (mint, sol_amount, token_amount) = (r.pubkey()?, r.u64()?, r.u64()?);
    let is_buy = match r.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    Some(PumpTrade { mint, sol_amount, token_amount, is_buy, user: r.pubkey()?, timestamp: r.i64()? })
}

fn pumpswap_pool(r: &mut Reader<'_>) -> Option<PumpSwapPool> {
    let timestamp = r.i64()?;
    r.u16()?; // index
    let (creator, base_mint, quote_mint) = (r.pubkey()?, r.pubkey()?, r.pubkey()?);
    let (base_mint_decimals, quote_mint_decimals) = (r.u8()?, r.u8()?);
    // base_amount_in, quote_amount_in, pool_base_amount, pool_quote_amount, minimum_liquidity,
    // initial_liquidity, lp_token_amount_out.
    for _ in 0..7 {
        r.u64()?;
    }
    r.u8()?; // pool_bump
    let (pool, lp_mint) = (r.pubkey()?, r.pubkey()?);
    r.pubkey()?; // user_base_token_account
    r.pubkey()?; // user_quote_token_account
    let coin_creator = r.pubkey();
    Some(PumpSwapPool { timestamp, creator, base_mint, quote_mint, base_mint_decimals, quote_mint_decimals, pool, lp_mint, coin_creator })
}

/// Decodes one event body (discriminator included) of `program`; `None` for another event or a body too
/// short for the fields every version has.
#[must_use]
pub fn decode_event(program: &str, bytes: &[u8]) -> Option<SolanaEvent> {
    let (disc, body) = bytes.split_at_checked(8)?;
    let mut r = Reader { b: body, at: 0 };
    match (program, <[u8; 8]>::try_from(disc).ok()?) {
        (PUMP_FUN, CREATE_EVENT) => pump_create(&mut r).map(SolanaEvent::PumpCreate),
        (PUMP_FUN, COMPLETE_EVENT) => pump_complete(&mut r).map(SolanaEvent::PumpComplete),
        (PUMP_FUN, TRADE_EVENT) => pump_trade(&mut r).map(SolanaEvent::PumpTrade),
        (PUMP_FUN, COMPLETE_PUMP_AMM_MIGRATION_EVENT) => pump_migration(&mut r).map(SolanaEvent::PumpAmmMigration),
        (PUMP_SWAP, CREATE_POOL_EVENT) => pumpswap_pool(&mut r).map(SolanaEvent::PumpSwapPool),
        _ => None,
    }
}

/// The program on top of the invoke stack for each log line (`None` outside any invoke), the line's
/// `Program` bookkeeping excluded.
pub fn attribute_lines(logs: &[String]) -> Vec<(Option<&str>, &str)> {
    let mut stack: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(logs.len());
    for line in logs {
        if let Some(rest) = line.strip_prefix("Program ") {
            let mut words = rest.split_whitespace();
            let first = words.next().unwrap_or_default();
            match words.next() {
                Some("invoke") => {
                    stack.push(first);
                    continue;
                }
                Some("success" | "failed:" | "failed") => {
                    stack.pop();
                    continue;
                }
                // `Program X consumed N of M compute units`: bookkeeping, the frame stays.
                Some("consumed") => continue,
                _ => {}
            }
        }
        out.push((stack.last().copied(), line.as_str()));
    }
    out
}

/// Every event decoded from the `Program data:` lines of `logs` (and Raydium AMM v4's init `ray_log`), in
/// log order (trades included). Lines that are not base64 or not a known event are skipped.
#[must_use]
pub fn events_in_logs(logs: &[String]) -> Vec<SolanaEvent> {
    let b64 = base64::engine::general_purpose::STANDARD;
    attribute_lines(logs)
        .into_iter()
        .filter_map(|(program, line)| {
            let program = program?;
            if let Some(data) = line.strip_prefix("Program data: ") {
                return decode_event(program, &b64.decode(data.trim()).ok()?);
            }
            let data = line.strip_prefix("Program log: ray_log: ").filter(|_| program == RAYDIUM_AMM_V4)?;
            decode_raydium_init(&b64.decode(data.trim()).ok()?).map(SolanaEvent::RaydiumInit)
        })
        .collect()
}

/// Whether `logs` hold a launch event (anything but a trade): what makes a pushed notification worth a
/// `getTransaction`.
#[must_use]
pub fn has_launch_event(logs: &[String]) -> bool {
    events_in_logs(logs).iter().any(SolanaEvent::is_launch)
}

/// Whether `program` logged `Program log: Instruction: <name>` in `logs` (e.g. pump.fun `Migrate`).
#[must_use]
pub fn logged_instruction(logs: &[String], program: &str, name: &str) -> bool {
    let want = format!("Program log: Instruction: {name}");
    attribute_lines(logs).into_iter().any(|(p, line)| p == Some(program) && line.trim_end() == want)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
