//! Transactions of the Solana programs that log no creation event, for [`crate::solana_node`]: pool
//! creations and swaps of Raydium CPMM, Raydium LaunchLab, Meteora DAMM v2 and Meteora DLMM. Each carries
//! its Anchor log line (`Program log: Instruction: <PascalCase name>`) and the instruction itself, with the
//! vendor's account order (see `nl_adapters::dex::solana::instructions` for the sources) and
//! `sha256("global:<name>")[..8]` discriminators ([`IX`]). Account slots the decoders do not read are
//! filled with stand-in keys; the arguments after the discriminator are left out, except LaunchLab's
//! leading `MintParams`.

use nl_adapters::dex::solana::instructions::{METEORA_DAMM_V2, METEORA_DLMM, RAYDIUM_CPMM, RAYDIUM_LAUNCHLAB};

use crate::solana_node::{MockIx, MockTx, TOKEN_PROGRAM, borsh_string, key_bytes, pubkey};

/// `(instruction, sha256("global:<instruction>")[..8])` of the instructions built here.
pub const IX: &[(&str, [u8; 8])] = &[
    ("initialize", [175, 175, 109, 31, 13, 152, 155, 237]),
    ("initialize_with_permission", [63, 55, 254, 65, 49, 178, 89, 121]),
    ("swap_base_input", [143, 190, 90, 218, 196, 30, 51, 222]),
    ("initialize_v2", [67, 153, 175, 39, 218, 16, 38, 32]),
    ("buy_exact_in", [250, 234, 13, 123, 213, 156, 19, 236]),
    ("initialize_pool", [95, 180, 10, 172, 84, 174, 232, 40]),
    ("swap", [248, 198, 158, 145, 225, 117, 135, 200]),
    ("initialize_lb_pair", [45, 154, 237, 210, 221, 15, 166, 92]),
];

fn disc(name: &str) -> Vec<u8> {
    IX.iter().find(|(n, _)| *n == name).map(|(_, d)| d.to_vec()).unwrap_or_default()
}

/// `n` stand-in account keys (tag 0x7a).
fn fillers(n: usize) -> Vec<String> {
    (0..n as u64).map(|i| pubkey(0x7a, i)).collect()
}

/// The log lines of one top-level `program` instruction named `pascal`, with a nested SPL Token call
/// and, for `emit_cpi!` programs, the self-invoke that carries the event.
fn logs(program: &str, pascal: &str, self_cpi: bool) -> Vec<String> {
    let mut l = vec![
        format!("Program {program} invoke [1]"),
        format!("Program log: Instruction: {pascal}"),
        format!("Program {TOKEN_PROGRAM} invoke [2]"),
        "Program log: Instruction: TransferChecked".into(),
        format!("Program {TOKEN_PROGRAM} consumed 6200 of 180000 compute units"),
        format!("Program {TOKEN_PROGRAM} success"),
    ];
    if self_cpi {
        l.extend([
            format!("Program {program} invoke [2]"),
            format!("Program {program} consumed 2000 of 150000 compute units"),
            format!("Program {program} success"),
        ]);
    }
    l.extend([format!("Program {program} consumed 90000 of 200000 compute units"), format!("Program {program} success")]);
    l
}

fn tx(program: &str, signer: &str, block_time: i64, logs: Vec<String>, ix: MockIx, balances: Vec<(String, u8)>) -> MockTx {
    MockTx {
        signature: String::new(),
        slot: 0,
        block_time,
        programs: vec![program.to_string(), TOKEN_PROGRAM.into()],
        logs,
        account_keys: vec![signer.to_string(), program.to_string()],
        balances,
        err: None,
        instructions: vec![ix],
    }
}

fn ix(program: &str, accounts: Vec<String>, data: Vec<u8>) -> MockIx {
    MockIx { program: program.to_string(), accounts, data, inner: false }
}

/// Raydium CPMM `initialize` of `pool` for `mint`/`quote` by `creator`: accounts `creator, amm_config,
/// authority, pool_state, token_0_mint, token_1_mint, lp_mint, …` with the two mints in key order (the
/// program requires `token_0_mint < token_1_mint`); the creator's LP tokens are a new mint in the balances.
#[must_use]
pub fn cpmm_create(mint: &str, quote: &str, pool: &str, creator: &str, block_time: i64) -> MockTx {
    let (t0, t1) = if key_bytes(mint) < key_bytes(quote) { (mint, quote) } else { (quote, mint) };
    let lp = pubkey(0x1b, block_time.unsigned_abs());
    let f = fillers(2);
    let mut accounts = vec![creator.to_string(), f[0].clone(), f[1].clone(), pool.to_string(), t0.to_string(), t1.to_string(), lp.clone()];
    accounts.extend(fillers(13));
    let balances = vec![(lp, 9), (mint.to_string(), 6), (quote.to_string(), 9)];
    tx(RAYDIUM_CPMM, creator, block_time, logs(RAYDIUM_CPMM, "Initialize", false), ix(RAYDIUM_CPMM, accounts, disc("initialize")), balances)
}

/// A Raydium CPMM `swap_base_input` in `pool` by `trader`.
#[must_use]
pub fn cpmm_swap(pool: &str, mint: &str, quote: &str, trader: &str, block_time: i64) -> MockTx {
    let mut accounts = vec![trader.to_string(), pubkey(0x7a, 0), pubkey(0x7a, 1), pool.to_string()];
    accounts.extend(fillers(9));
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(RAYDIUM_CPMM, trader, block_time, logs(RAYDIUM_CPMM, "SwapBaseInput", false), ix(RAYDIUM_CPMM, accounts, disc("swap_base_input")), balances)
}

/// Raydium LaunchLab `initialize_v2` of `mint` (`name`, `symbol`, 6 decimals) on the bonding curve `pool`
/// against `quote`: accounts `payer, creator, global_config, platform_config, authority, pool_state,
/// base_mint, quote_mint, …`, data `MintParams { decimals, name, symbol, uri }` first.
#[must_use]
pub fn launchlab_create(mint: &str, name: &str, symbol: &str, quote: &str, pool: &str, creator: &str, block_time: i64) -> MockTx {
    let f = fillers(3);
    let mut accounts =
        vec![creator.to_string(), creator.to_string(), f[0].clone(), f[1].clone(), f[2].clone(), pool.to_string(), mint.to_string(), quote.to_string()];
    accounts.extend(fillers(10));
    let mut data = disc("initialize_v2");
    data.push(6);
    for s in [name, symbol, "https://ipfs.io/ipfs/QmMockLaunchLab"] {
        borsh_string(&mut data, s);
    }
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(RAYDIUM_LAUNCHLAB, creator, block_time, logs(RAYDIUM_LAUNCHLAB, "InitializeV2", true), ix(RAYDIUM_LAUNCHLAB, accounts, data), balances)
}

/// A Raydium LaunchLab `buy_exact_in` on the bonding curve `pool` by `trader`.
#[must_use]
pub fn launchlab_buy(pool: &str, mint: &str, quote: &str, trader: &str, block_time: i64) -> MockTx {
    let mut accounts = vec![trader.to_string(), pubkey(0x7a, 0), pubkey(0x7a, 1), pubkey(0x7a, 2), pool.to_string()];
    accounts.extend(fillers(10));
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(RAYDIUM_LAUNCHLAB, trader, block_time, logs(RAYDIUM_LAUNCHLAB, "BuyExactIn", true), ix(RAYDIUM_LAUNCHLAB, accounts, disc("buy_exact_in")), balances)
}

/// Meteora DAMM v2 `initialize_pool` of `pool` for `mint` (token A) / `quote` (token B): accounts
/// `creator, position_nft_mint, position_nft_account, payer, config, pool_authority, pool, position,
/// token_a_mint, token_b_mint, …`; the position NFT (0 decimals) is a new mint in the balances too.
#[must_use]
pub fn damm_v2_create(mint: &str, quote: &str, pool: &str, creator: &str, block_time: i64) -> MockTx {
    let nft = pubkey(0x1f, block_time.unsigned_abs());
    let f = fillers(4);
    let mut accounts = vec![
        creator.to_string(),
        nft.clone(),
        f[0].clone(),
        creator.to_string(),
        f[1].clone(),
        f[2].clone(),
        pool.to_string(),
        f[3].clone(),
        mint.to_string(),
        quote.to_string(),
    ];
    accounts.extend(fillers(10));
    let balances = vec![(nft, 0), (mint.to_string(), 6), (quote.to_string(), 9)];
    tx(METEORA_DAMM_V2, creator, block_time, logs(METEORA_DAMM_V2, "InitializePool", true), ix(METEORA_DAMM_V2, accounts, disc("initialize_pool")), balances)
}

/// A Meteora DAMM v2 `swap` in `pool` by `trader` (accounts `pool_authority, pool, …`).
#[must_use]
pub fn damm_v2_swap(pool: &str, mint: &str, quote: &str, trader: &str, block_time: i64) -> MockTx {
    let mut accounts = vec![pubkey(0x7a, 0), pool.to_string()];
    accounts.extend(fillers(12));
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(METEORA_DAMM_V2, trader, block_time, logs(METEORA_DAMM_V2, "Swap", true), ix(METEORA_DAMM_V2, accounts, disc("swap")), balances)
}

/// Meteora DLMM `initialize_lb_pair` of the pair `pool` for `mint` (X) / `quote` (Y) funded by `creator`:
/// accounts `lb_pair, bin_array_bitmap_extension, token_mint_x, token_mint_y, reserve_x, reserve_y,
/// oracle, preset_parameter, funder, …`.
#[must_use]
pub fn dlmm_create(mint: &str, quote: &str, pool: &str, creator: &str, block_time: i64) -> MockTx {
    let f = fillers(5);
    let mut accounts =
        vec![pool.to_string(), f[0].clone(), mint.to_string(), quote.to_string(), f[1].clone(), f[2].clone(), f[3].clone(), f[4].clone(), creator.to_string()];
    accounts.extend(fillers(5));
    // A new pair holds no tokens yet: the reserves are created empty.
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(METEORA_DLMM, creator, block_time, logs(METEORA_DLMM, "InitializeLbPair", true), ix(METEORA_DLMM, accounts, disc("initialize_lb_pair")), balances)
}

/// A Meteora DLMM `swap` in the pair `pool` by `trader` (accounts `lb_pair, …`).
#[must_use]
pub fn dlmm_swap(pool: &str, mint: &str, quote: &str, trader: &str, block_time: i64) -> MockTx {
    let mut accounts = vec![pool.to_string()];
    accounts.extend(fillers(14));
    let balances = vec![(mint.to_string(), 6), (quote.to_string(), 9)];
    tx(METEORA_DLMM, trader, block_time, logs(METEORA_DLMM, "Swap", true), ix(METEORA_DLMM, accounts, disc("swap")), balances)
}
