//! A launch transaction as nl reports it: which program, which mint, its pool, quote mint, creator, name,
//! symbol and decimals, with slot and block time. The Anchor events in the logs give the exact fields
//! (pump.fun `CreateEvent`, PumpSwap `CreatePoolEvent`). Raydium CPMM, LaunchLab and Meteora DAMM v2 /
//! DLMM log no creation event: their creation instruction in the fetched transaction names pool, mints
//! and creator ([`super::instructions`]). Failing that, the mint is the transaction's new non-quote mint
//! (token balances) and the signature stands for the pool.
//!
//! A PumpSwap or Raydium pool for a mint that already exists (a pump.fun graduation: pump.fun's `Migrate`
//! runs in the same transaction or its `CompletePumpAmmMigrationEvent` names the mint, or the source saw
//! the mint's creation) is reported as an [`ChangeKind::Updated`] of that asset, never as a new one. A
//! source watching pump.fun alone reports the graduation from that event: the same observation (PumpSwap
//! pool, same asset) as PumpSwap's own `CreatePoolEvent` gives, which wins when both are in the logs.
//! Raydium AMM v4's init `ray_log` adds its market, open time and initial amounts to the launch.

use nl_domain::{AssetId, ChangeKind, DomainError, ListingObservation, ObservationKind, Ts};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::events::{DEFAULT_PUBKEY, PUMP_FUN, PUMP_SWAP, RAYDIUM_AMM_V4, RaydiumInit, SolanaEvent, events_in_logs, logged_instruction};
use super::instructions::pool_creations;
use super::parse::{CREATE_PATTERNS, LaunchKind, LogsNotice, MintCandidate, QUOTE_MINTS, TxSummary, WSOL_MINT, detect_launches, new_mints};
use crate::dex::pool::ObservationContext;

/// One launch found in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    pub signature: String,
    pub slot: u64,
    pub block_time: Option<Ts>,
    pub program: String,
    pub dex: String,
    pub kind: LaunchKind,
    pub mint: String,
    /// Pool (or pump.fun bonding curve) account, when the event names it.
    pub pool: Option<String>,
    pub quote_mint: Option<String>,
    pub creator: Option<String>,
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
    /// A pool for a mint that already existed (pump.fun graduation).
    pub graduation: bool,
    /// Raydium AMM v4's init `ray_log`.
    pub raydium_init: Option<RaydiumInit>,
}

/// The quote mint a pump.fun event names: [`DEFAULT_PUBKEY`] (and before 2026-05, none) means SOL.
fn pump_quote(q: Option<String>) -> String {
    q.filter(|q| q != DEFAULT_PUBKEY).unwrap_or_else(|| WSOL_MINT.to_string())
}

fn decimals_of(mints: &[MintCandidate], mint: &str) -> Option<u8> {
    mints.iter().find(|m| m.mint == mint).and_then(|m| m.decimals)
}

/// The launches of one successful transaction. `logs` and `mints` come from `getTransaction` (or, for a
/// pushed notification the node could not serve yet, from the notification alone: then `mints` is empty
/// and only event-bearing launches are found). `known_mint` says whether the source saw a mint created
/// before; `program_filter` keeps launches of the watched programs only.
#[must_use]
pub fn launches_in_tx(tx: &TxSummary, signature: &str, known_mint: &dyn Fn(&str) -> bool, program_filter: &dyn Fn(&str) -> bool) -> Vec<Launch> {
    if tx.failed {
        return Vec::new();
    }
    let notice = LogsNotice { subscription: 0, slot: tx.slot, signature: signature.to_string(), err: None, logs: tx.logs.clone() };
    let events = events_in_logs(&tx.logs);
    let migrated_mints: Vec<&str> =
        events.iter().filter_map(|e| if let SolanaEvent::PumpAmmMigration(m) = e { Some(m.mint.as_str()) } else { None }).collect();
    let migrated = |mint: &str| logged_instruction(&tx.logs, PUMP_FUN, "Migrate") || migrated_mints.contains(&mint);
    let base = |program: &str, dex: &str, kind: LaunchKind, mint: String| Launch {
        signature: signature.to_string(),
        slot: tx.slot,
        block_time: tx.block_time,
        program: program.to_string(),
        dex: dex.to_string(),
        kind,
        decimals: decimals_of(&tx.mints, &mint),
        mint,
        pool: None,
        quote_mint: None,
        creator: None,
        name: None,
        symbol: None,
        graduation: false,
        raydium_init: None,
    };
    let mut out: Vec<Launch> = Vec::new();
    for ev in &events {
        match ev.clone() {
            SolanaEvent::PumpCreate(e) if program_filter(PUMP_FUN) => {
                let mut l = base(PUMP_FUN, "pumpfun", LaunchKind::TokenCreate, e.mint.clone());
                l.block_time = l.block_time.or_else(|| chrono::DateTime::from_timestamp(e.timestamp, 0));
                l.pool = Some(e.bonding_curve);
                l.quote_mint = Some(pump_quote(e.quote_mint));
                (l.creator, l.name, l.symbol) = (Some(e.creator), Some(e.name), Some(e.symbol));
                out.push(l);
            }
            SolanaEvent::PumpSwapPool(p) if program_filter(PUMP_SWAP) => {
                // Both orientations occur: the new token is the side that is not a quote mint.
                let base_is_quote = QUOTE_MINTS.contains(&p.base_mint.as_str());
                let (mint, quote, dec) =
                    if base_is_quote { (p.quote_mint, p.base_mint, p.quote_mint_decimals) } else { (p.base_mint, p.quote_mint, p.base_mint_decimals) };
                let mut l = base(PUMP_SWAP, "pumpswap", LaunchKind::PoolInit, mint);
                l.block_time = l.block_time.or_else(|| chrono::DateTime::from_timestamp(p.timestamp, 0));
                (l.pool, l.quote_mint, l.decimals) = (Some(p.pool), Some(quote), Some(dec));
                l.creator = p.coin_creator.filter(|c| c != DEFAULT_PUBKEY).or(Some(p.creator));
                l.graduation = migrated(&l.mint) || known_mint(&l.mint);
                out.push(l);
            }
            _ => {}
        }
    }
    // pump.fun's migration event: the PumpSwap pool of a graduated mint, unless PumpSwap's event gave it.
    for ev in &events {
        let SolanaEvent::PumpAmmMigration(m) = ev else { continue };
        if !program_filter(PUMP_FUN) || out.iter().any(|l| l.mint == m.mint && l.pool.as_deref() == Some(m.pool.as_str())) {
            continue;
        }
        let mut l = base(PUMP_SWAP, "pumpswap", LaunchKind::PoolInit, m.mint.clone());
        l.block_time = l.block_time.or_else(|| chrono::DateTime::from_timestamp(m.timestamp, 0));
        (l.pool, l.quote_mint, l.graduation) = (Some(m.pool.clone()), Some(pump_quote(m.quote_mint.clone())), true);
        out.push(l);
    }
    // Programs without a decoded event: the pattern says a launch happened, the balances say which mint.
    for e in detect_launches(&notice, CREATE_PATTERNS) {
        if !program_filter(&e.program) || out.iter().any(|l| l.program == e.program) {
            continue;
        }
        // The creation instruction names pool, mints and creator (outer, or inner when created by CPI).
        if let Some(c) = pool_creations(&tx.instructions, &e.program).next() {
            let mut l = base(&e.program, &e.dex, e.kind, c.mint);
            (l.pool, l.quote_mint, l.creator) = (Some(c.pool), Some(c.quote_mint), Some(c.creator));
            if let Some((decimals, name, symbol)) = c.mint_params {
                (l.decimals, l.name, l.symbol) = (Some(decimals), Some(name), Some(symbol));
            }
            l.graduation = e.kind == LaunchKind::PoolInit && (migrated(&l.mint) || known_mint(&l.mint));
            out.push(l);
            continue;
        }
        let Some(m) = new_mints(tx, &[]).into_iter().next() else { continue };
        let mut l = base(&e.program, &e.dex, e.kind, m.mint);
        l.quote_mint = tx.mints.iter().find(|c| QUOTE_MINTS.contains(&c.mint.as_str())).map(|c| c.mint.clone());
        l.creator = tx.account_keys.first().cloned();
        l.graduation = e.kind == LaunchKind::PoolInit && (migrated(&l.mint) || known_mint(&l.mint));
        if e.program == RAYDIUM_AMM_V4 {
            l.raydium_init = events.iter().find_map(|ev| if let SolanaEvent::RaydiumInit(r) = ev { Some(r.clone()) } else { None });
        }
        out.push(l);
    }
    out
}

/// The `listing.observed` of a launch: `solana:<mint>`, instrument = pool (else the signature),
/// `source_published_at` = block time; a graduation is an update.
///
/// # Errors
/// `DomainError::AssetId` when the mint is not a base58 pubkey.
pub fn launch_observation(l: &Launch, ctx: &ObservationContext) -> Result<ListingObservation, DomainError> {
    let mut o = ListingObservation {
        source: ctx.source.clone(),
        venue: l.dex.clone(),
        kind: ObservationKind::DexPool,
        change: if l.graduation { ChangeKind::Updated } else { ChangeKind::New },
        asset_id: AssetId::chain("solana", &l.mint)?,
        symbol: l.symbol.clone().unwrap_or_default(),
        name: l.name.clone(),
        base: Some(l.mint.clone()),
        quote: l.quote_mint.clone(),
        instrument_id: l.pool.clone().unwrap_or_else(|| l.signature.clone()),
        status: None,
        source_published_at: l.block_time,
        scheduled_at: None,
        first_observed_at: ctx.first_observed_at,
        emitted_at: ctx.emitted_at,
        raw_event_id: ctx.raw_event_id.clone(),
        details: json!({
            "chain": "solana", "dex": l.dex, "program": l.program, "kind": l.kind, "signature": l.signature, "slot": l.slot,
            "mint": l.mint, "pool": l.pool, "quote_mint": l.quote_mint, "creator": l.creator, "decimals": l.decimals,
            "graduation": l.graduation,
        }),
    };
    if let Some(init) = &l.raydium_init {
        o.details["raydium_init"] = serde_json::to_value(init).unwrap_or_default();
    }
    Ok(o)
}

#[cfg(test)]
#[path = "launch_tests.rs"]
mod tests;
