//! Launches of whole transactions: a pump.fun graduation seen through pump.fun's migration event alone
//! (a source watching pump.fun only) and beside PumpSwap's own pool event; a Raydium AMM v4 init with its
//! `ray_log`. The event lines are the verbatim mainnet ones of `events_tests`.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::dex::solana::events::{PUMP_SWAP, RAYDIUM_AMM_V4};

const MIGRATION: &str = "Program data: velduVyU6pR5syl9Y/fz65admv7nJIovNlWDCH2Y954qauspuQDisuwzUMyokBlI9He9bDJYZLBdKpH/XoIk1hamctkkqmJdAAgBqSy8AAAF99HJEwAAAMHh5AAAAAAAMoHGAnbACdz3Aovqgja6G775Z0zt9dicAHfAL5D4BdekM71qAAAAAAdiat/7kUlZ19grEIFCFjyGZe3q4Tdy97klho7bjE4UAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const GRADUATED: &str = "Gu2bpydt5bHVHtko5vvsWH5KQUT3Wxvt6hzYvKdND6ur";
const POOL: &str = "Vptu7kbcUHWNHKSCw1Qn1MhgP9fqKmQnTAzTqETCAs5";

fn tx(logs: Vec<String>, mints: &[(&str, u8)]) -> TxSummary {
    TxSummary {
        signature: None,
        slot: 370_000_000,
        block_time: chrono::DateTime::from_timestamp(1_790_784_420, 0),
        failed: false,
        account_keys: vec!["9C4nRvhhVquCKATjDCx5FKvNS9PNgNqgyWy9AcoDjYv5".into()],
        mints: mints.iter().map(|(m, d)| MintCandidate { mint: (*m).into(), decimals: Some(*d), absent_before: false }).collect(),
        logs,
        instructions: Vec::new(),
    }
}

fn migrate_logs(pumpswap_event: Option<String>) -> Vec<String> {
    let mut logs = vec![format!("Program {PUMP_FUN} invoke [1]"), "Program log: Instruction: MigrateV2".into()];
    if let Some(ev) = pumpswap_event {
        logs.extend([format!("Program {PUMP_SWAP} invoke [2]"), "Program log: Instruction: CreatePool".into(), ev, format!("Program {PUMP_SWAP} success")]);
    }
    logs.extend([MIGRATION.into(), format!("Program {PUMP_FUN} success")]);
    logs
}

/// A PumpSwap `CreatePoolEvent` body (reference §5b layout) for `GRADUATED`/WSOL in `POOL`.
fn create_pool_line() -> String {
    use base64::Engine as _;
    let key = |k: &str| bs58::decode(k).into_vec().unwrap();
    let mut b = super::super::events::CREATE_POOL_EVENT.to_vec();
    b.extend_from_slice(&1_790_784_420_i64.to_le_bytes());
    b.extend_from_slice(&0_u16.to_le_bytes());
    for k in ["9C4nRvhhVquCKATjDCx5FKvNS9PNgNqgyWy9AcoDjYv5", GRADUATED, WSOL_MINT] {
        b.extend(key(k));
    }
    b.extend_from_slice(&[6, 9]);
    for v in [206_900_000_000_000_u64, 84_990_359_301, 206_900_000_000_000, 84_990_359_301, 100, 1, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(255);
    for k in [POOL, WSOL_MINT, WSOL_MINT, WSOL_MINT, "9C4nRvhhVquCKATjDCx5FKvNS9PNgNqgyWy9AcoDjYv5"] {
        b.extend(key(k));
    }
    b.push(0);
    format!("Program data: {}", base64::engine::general_purpose::STANDARD.encode(b))
}

#[test]
fn a_graduation_seen_through_pump_fun_alone_is_an_update_of_the_mint_on_its_pumpswap_pool() {
    let t = tx(migrate_logs(None), &[(GRADUATED, 6), (WSOL_MINT, 9)]);
    let only_pump = |p: &str| p == PUMP_FUN;
    let got = launches_in_tx(&t, "sig", &|_| false, &only_pump);
    assert_eq!(got.len(), 1, "{got:#?}");
    let l = &got[0];
    assert_eq!((l.mint.as_str(), l.pool.as_deref(), l.dex.as_str(), l.program.as_str()), (GRADUATED, Some(POOL), "pumpswap", PUMP_SWAP));
    assert_eq!((l.kind, l.graduation, l.quote_mint.as_deref(), l.decimals), (LaunchKind::PoolInit, true, Some(WSOL_MINT), Some(6)));
    let ctx = ObservationContext { source: "solana_test".into(), first_observed_at: chrono::Utc::now(), emitted_at: chrono::Utc::now(), raw_event_id: None };
    let o = launch_observation(l, &ctx).unwrap();
    assert_eq!((o.change, o.asset_id.to_string(), o.instrument_id.as_str()), (ChangeKind::Updated, format!("solana:{GRADUATED}"), POOL));
    assert!(launches_in_tx(&t, "sig", &|_| false, &|p| p == PUMP_SWAP).is_empty(), "a PumpSwap-only source needs PumpSwap's own event");

    // With PumpSwap's event in the logs too, one launch: the same observation, from PumpSwap's event.
    let both = tx(migrate_logs(Some(create_pool_line())), &[(GRADUATED, 6), (WSOL_MINT, 9)]);
    for filter in [&only_pump as &dyn Fn(&str) -> bool, &|_: &str| true, &|p: &str| p == PUMP_SWAP] {
        let got = launches_in_tx(&both, "sig", &|_| false, filter);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!((got[0].mint.as_str(), got[0].pool.as_deref(), got[0].graduation), (GRADUATED, Some(POOL), true), "MigrateV2's event says it graduated");
        assert_eq!(launch_observation(&got[0], &ctx).unwrap().asset_id, o.asset_id);
    }
}

#[test]
fn a_raydium_init_carries_its_ray_log() {
    let coin = "6R1fgmz8v7ndGvN7RTuJjMNSRNBZwuUVH27Bixe6pump";
    let logs = vec![
        format!("Program {RAYDIUM_AMM_V4} invoke [1]"),
        "Program log: initialize2: InitializeInstruction2 { nonce: 254, open_time: 0, init_pc_amount: 206900000000000, init_coin_amount: 79005361067 }".into(),
        "Program log: ray_log: AAAAAAAAAAAABglkAAAAAAAAAICWmAAAAAAAAAgBqSy8AACrIxZlEgAAAFnM0QDR0E2khV5PwCZ9TkffBACX+24K5sZlyqyK+ldc".into(),
        format!("Program {RAYDIUM_AMM_V4} success"),
    ];
    let got = launches_in_tx(&tx(logs, &[(WSOL_MINT, 9), (coin, 6)]), "sig", &|_| false, &|p| p == RAYDIUM_AMM_V4);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].mint.as_str(), got[0].quote_mint.as_deref(), got[0].decimals), (coin, Some(WSOL_MINT), Some(6)));
    let init = got[0].raydium_init.clone().unwrap();
    assert_eq!((init.market.as_str(), init.pc_amount, init.coin_amount), ("73YRhKkJWdatUwJiwj5SdxWc9Wi2KXWJWqUtCFu2JxBd", 206_900_000_000_000, 79_005_361_067));
    let ctx = ObservationContext { source: "solana_test".into(), first_observed_at: chrono::Utc::now(), emitted_at: chrono::Utc::now(), raw_event_id: None };
    let o = launch_observation(&got[0], &ctx).unwrap();
    assert_eq!(o.details["raydium_init"]["market"], "73YRhKkJWdatUwJiwj5SdxWc9Wi2KXWJWqUtCFu2JxBd");
    assert_eq!(o.change, ChangeKind::New);
}
