//! Detects launches in Solana program logs and extracts the new mint from `getTransaction`.

use nl_domain::{AssetId, ChangeKind, DomainError, ListingObservation, ObservationKind, Ts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::instructions::Ix;
use super::models::{AccountRef, LogsNotification, TransactionField, TransactionResult, WireIx};
use crate::dex::evm::error::RpcError;
use crate::dex::evm::rpc::parse_response;
use crate::dex::pool::ObservationContext;
use crate::dex::wire::ts_from_secs;

/// Wrapped SOL; never a new listing.
pub const WSOL_MINT: &str = "So11111111111111111111111111111111111111112";

/// Quote mints excluded from new-mint candidates: WSOL, USDC, USDT (ids as in the reference's
/// GeckoTerminal sample).
pub const QUOTE_MINTS: &[&str] =
    &[WSOL_MINT, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"];

/// Program ids (reference §3.4) and our DEX names.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P", "pumpfun"),
    ("pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA", "pumpswap"),
    ("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8", "raydium_amm_v4"),
    ("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C", "raydium_cpmm"),
    ("CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK", "raydium_clmm"),
    ("LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj", "raydium_launchlab"),
    ("LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo", "meteora_dlmm"),
    ("cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG", "meteora_damm_v2"),
    ("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc", "orca_whirlpool"),
];

/// What a matched log line means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchKind {
    /// A new token minted by a launchpad (pump.fun create).
    TokenCreate,
    /// A new pool for a (possibly existing) token: AMM init, bonding-curve graduation.
    PoolInit,
}

/// How a log line is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMatch {
    /// The whole line equals this text.
    Exact(&'static str),
    /// The line contains this text.
    Contains(&'static str),
}

impl LogMatch {
    fn matches(self, line: &str) -> bool {
        match self {
            Self::Exact(s) => line.trim_end() == s,
            Self::Contains(s) => line.contains(s),
        }
    }
}

/// One create/initialize convention of one program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatePattern {
    pub program: &'static str,
    pub dex: &'static str,
    pub kind: LaunchKind,
    pub line: LogMatch,
}

/// Community conventions from the reference (not official): pump.fun `Instruction: Create` (and the
/// reported `CreateV2`), Raydium AMM v4 `initialize2`, PumpSwap `create_pool` on graduation. Anchor logs
/// instruction names in PascalCase, so PumpSwap is matched as `CreatePool` and as `create_pool`.
/// Raydium CPMM (`initialize`, `initialize_with_permission`), LaunchLab (`initialize`, `initialize_v2`,
/// `initialize_with_token_2022`), Meteora DAMM v2 (`initialize_pool`, `initialize_customizable_pool`,
/// `initialize_pool_with_dynamic_config`) and DLMM (`initialize_lb_pair`(`2`),
/// `initialize_customizable_permissionless_lb_pair`(`2`)) are matched by the same Anchor convention on
/// their vendor instruction names (not checked against mainnet logs); their pool, mints and creator are
/// read from the creation instruction of the fetched transaction ([`super::instructions`]). Orca and
/// Raydium CLMM have no pattern.
pub const CREATE_PATTERNS: &[CreatePattern] = &[
    CreatePattern {
        program: "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
        dex: "raydium_cpmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: Initialize"),
    },
    CreatePattern {
        program: "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj",
        dex: "raydium_launchlab",
        kind: LaunchKind::TokenCreate,
        line: LogMatch::Exact("Program log: Instruction: Initialize"),
    },
    CreatePattern {
        program: "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj",
        dex: "raydium_launchlab",
        kind: LaunchKind::TokenCreate,
        line: LogMatch::Exact("Program log: Instruction: InitializeV2"),
    },
    CreatePattern {
        program: "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
        dex: "meteora_damm_v2",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializePool"),
    },
    CreatePattern {
        program: "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
        dex: "meteora_damm_v2",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeCustomizablePool"),
    },
    CreatePattern {
        program: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        dex: "meteora_dlmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeLbPair"),
    },
    CreatePattern {
        program: "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
        dex: "raydium_cpmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeWithPermission"),
    },
    CreatePattern {
        program: "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj",
        dex: "raydium_launchlab",
        kind: LaunchKind::TokenCreate,
        line: LogMatch::Exact("Program log: Instruction: InitializeWithToken2022"),
    },
    CreatePattern {
        program: "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
        dex: "meteora_damm_v2",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializePoolWithDynamicConfig"),
    },
    CreatePattern {
        program: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        dex: "meteora_dlmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeLbPair2"),
    },
    CreatePattern {
        program: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        dex: "meteora_dlmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeCustomizablePermissionlessLbPair"),
    },
    CreatePattern {
        program: "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
        dex: "meteora_dlmm",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: InitializeCustomizablePermissionlessLbPair2"),
    },
    CreatePattern {
        program: "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P",
        dex: "pumpfun",
        kind: LaunchKind::TokenCreate,
        line: LogMatch::Exact("Program log: Instruction: Create"),
    },
    CreatePattern {
        program: "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P",
        dex: "pumpfun",
        kind: LaunchKind::TokenCreate,
        line: LogMatch::Exact("Program log: Instruction: CreateV2"),
    },
    CreatePattern {
        program: "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
        dex: "raydium_amm_v4",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Contains("initialize2"),
    },
    CreatePattern {
        program: "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA",
        dex: "pumpswap",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Exact("Program log: Instruction: CreatePool"),
    },
    CreatePattern {
        program: "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA",
        dex: "pumpswap",
        kind: LaunchKind::PoolInit,
        line: LogMatch::Contains("create_pool"),
    },
];

/// A parsed `logsNotification`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsNotice {
    pub subscription: u64,
    pub slot: u64,
    pub signature: String,
    /// The transaction error, `None` on success.
    pub err: Option<Value>,
    pub logs: Vec<String>,
}

/// Parses one `logsNotification` frame.
///
/// # Errors
/// `RpcError::Json` when the frame is malformed, `RpcError::Shape` for another method.
pub fn parse_logs_notification(text: &str) -> Result<LogsNotice, RpcError> {
    let n: LogsNotification = serde_json::from_str(text).map_err(|e| RpcError::json(&e, text))?;
    if n.method != "logsNotification" {
        return Err(RpcError::Shape(format!("method {:?} is not logsNotification", n.method)));
    }
    let r = n.params.result;
    Ok(LogsNotice {
        subscription: n.params.subscription,
        slot: r.context.slot,
        signature: r.value.signature,
        err: r.value.err.filter(|e| !e.is_null()),
        logs: r.value.logs,
    })
}

/// A create/initialize seen in a transaction's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchEvent {
    pub signature: String,
    pub slot: u64,
    pub program: String,
    pub dex: String,
    pub kind: LaunchKind,
    /// The log line that matched.
    pub line: String,
}

/// Finds launches in a successful transaction's logs. Each `Program log:` line is attributed to the
/// program on top of the invoke stack (`Program <id> invoke [n]` … `success`/`failed`), so a pattern
/// only matches inside its own program. Failed transactions yield nothing. One event per
/// (program, kind).
#[must_use]
pub fn detect_launches(notice: &LogsNotice, patterns: &[CreatePattern]) -> Vec<LaunchEvent> {
    if notice.err.is_some() {
        return Vec::new();
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut out: Vec<LaunchEvent> = Vec::new();
    for line in &notice.logs {
        if let Some(rest) = line.strip_prefix("Program ") {
            let mut words = rest.split_whitespace();
            let first = words.next().unwrap_or_default();
            match words.next() {
                Some("invoke") => {
                    stack.push(first);
                    continue;
                }
                Some("success") | Some("failed:") | Some("failed") => {
                    stack.pop();
                    continue;
                }
                _ => {}
            }
        }
        let Some(&program) = stack.last() else { continue };
        for p in patterns.iter().filter(|p| p.program == program && p.line.matches(line)) {
            if !out.iter().any(|e| e.program == p.program && e.kind == p.kind) {
                out.push(LaunchEvent {
                    signature: notice.signature.clone(),
                    slot: notice.slot,
                    program: p.program.to_string(),
                    dex: p.dex.to_string(),
                    kind: p.kind,
                    line: line.clone(),
                });
            }
        }
    }
    out
}

/// A mint in the transaction's post token balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintCandidate {
    pub mint: String,
    pub decimals: Option<u8>,
    /// Not in `preTokenBalances`: the mint (or at least its first account) appeared in this transaction.
    pub absent_before: bool,
}

/// The parts of a `getTransaction` result we use.
#[derive(Debug, Clone, PartialEq)]
pub struct TxSummary {
    pub signature: Option<String>,
    pub slot: u64,
    pub block_time: Option<Ts>,
    pub failed: bool,
    /// Static keys then lookup-table keys (writable, readonly), i.e. in account-index order.
    pub account_keys: Vec<String>,
    /// Distinct post-balance mints, in first-seen order.
    pub mints: Vec<MintCandidate>,
    pub logs: Vec<String>,
    /// Outer instructions, then the inner ones, with data (not `jsonParsed`-decoded ones).
    pub instructions: Vec<Ix>,
}

/// An instruction of the wire, its program and accounts resolved against `keys` (for `json` encoding).
fn resolve_ix(ix: &WireIx, keys: &[String]) -> Option<Ix> {
    let key = |r: &AccountRef| match r {
        AccountRef::Key(k) => Some(k.clone()),
        AccountRef::Index(i) => keys.get(*i).cloned(),
    };
    let program = ix.program_id.clone().or_else(|| keys.get(ix.program_id_index?).cloned())?;
    let data = bs58::decode(ix.data.as_deref()?).into_vec().ok()?;
    Some(Ix { program, accounts: ix.accounts.iter().map(key).collect::<Option<_>>()?, data })
}

/// Parses a `getTransaction` response body; `Ok(None)` when the result is `null` (not found yet).
///
/// # Errors
/// `RpcError::Rpc` for an error object, `RpcError::Json` for a malformed result.
pub fn parse_get_transaction(body: &str) -> Result<Option<TxSummary>, RpcError> {
    let result = parse_response(body)?;
    if result.is_null() {
        return Ok(None);
    }
    let tx: TransactionResult = serde_json::from_value(result).map_err(|e| RpcError::json(&e, body))?;
    let meta = tx.meta.unwrap_or_default();
    let (signature, mut account_keys, outer) = match tx.transaction {
        TransactionField::Json(j) => {
            (j.signatures.first().cloned(), j.message.account_keys.iter().map(|k| k.pubkey().to_string()).collect(), j.message.instructions)
        }
        TransactionField::Encoded(_) => (None, Vec::new(), Vec::new()),
    };
    if let Some(loaded) = &meta.loaded_addresses {
        account_keys.extend(loaded.writable.iter().chain(&loaded.readonly).cloned());
    }
    let inner = meta.inner_instructions.iter().flatten().flat_map(|i| &i.instructions);
    let wire = outer.iter().chain(inner).filter_map(|ix| serde_json::from_value::<WireIx>(ix.clone()).ok());
    let instructions: Vec<Ix> = wire.filter_map(|ix| resolve_ix(&ix, &account_keys)).collect();
    let pre: Vec<&str> = meta.pre_token_balances.iter().flatten().map(|b| b.mint.as_str()).collect();
    let mut mints: Vec<MintCandidate> = Vec::new();
    for b in meta.post_token_balances.iter().flatten() {
        if b.mint.is_empty() || mints.iter().any(|m| m.mint == b.mint) {
            continue;
        }
        mints.push(MintCandidate {
            mint: b.mint.clone(),
            decimals: b.ui_token_amount.as_ref().and_then(|u| u.decimals),
            absent_before: !pre.contains(&b.mint.as_str()),
        });
    }
    Ok(Some(TxSummary {
        signature,
        slot: tx.slot,
        block_time: tx.block_time.and_then(ts_from_secs),
        failed: meta.err.is_some_and(|e| !e.is_null()),
        account_keys,
        mints,
        logs: meta.log_messages.unwrap_or_default(),
        instructions,
    }))
}

/// The new-listing candidates of a transaction: post-balance mints that are not quotes (WSOL, USDC,
/// USDT, plus `extra_quotes`). Mints absent before the transaction come first.
#[must_use]
pub fn new_mints(tx: &TxSummary, extra_quotes: &[&str]) -> Vec<MintCandidate> {
    let mut out: Vec<MintCandidate> =
        tx.mints.iter().filter(|m| !QUOTE_MINTS.contains(&m.mint.as_str()) && !extra_quotes.contains(&m.mint.as_str())).cloned().collect();
    out.sort_by_key(|m| !m.absent_before);
    out
}

/// `DexPool` observations for a launch: one per mint, `instrument_id` = transaction signature (the pool
/// account is not known from logs), `source_published_at` = block time.
///
/// # Errors
/// `DomainError::AssetId` when a mint is not a base58 pubkey.
pub fn launch_observations(
    event: &LaunchEvent,
    mints: &[MintCandidate],
    block_time: Option<Ts>,
    ctx: &ObservationContext,
) -> Result<Vec<ListingObservation>, DomainError> {
    mints
        .iter()
        .map(|m| {
            Ok(ListingObservation {
                source: ctx.source.clone(),
                venue: event.dex.clone(),
                kind: ObservationKind::DexPool,
                change: ChangeKind::New,
                asset_id: AssetId::chain("solana", &m.mint)?,
                symbol: String::new(),
                name: None,
                base: Some(m.mint.clone()),
                quote: None,
                instrument_id: event.signature.clone(),
                status: None,
                source_published_at: block_time,
                scheduled_at: None,
                first_observed_at: ctx.first_observed_at,
                emitted_at: ctx.emitted_at,
                raw_event_id: ctx.raw_event_id.clone(),
                details: json!({
                    "dex": event.dex, "program": event.program, "kind": event.kind, "signature": event.signature,
                    "slot": event.slot, "decimals": m.decimals, "absent_before": m.absent_before,
                }),
            })
        })
        .collect()
}

/// `logsSubscribe` for one program (`mentions` takes exactly one pubkey).
#[must_use]
pub fn logs_subscribe_request(id: u64, program: &str, commitment: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"logsSubscribe","params":[{"mentions":[program]},{"commitment":commitment}]})
}

/// `getTransaction` with `jsonParsed` encoding and `maxSupportedTransactionVersion: 0`.
#[must_use]
pub fn get_transaction_request(id: u64, signature: &str, commitment: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"getTransaction","params":[signature,{"encoding":"jsonParsed","maxSupportedTransactionVersion":0,"commitment":commitment}]})
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
