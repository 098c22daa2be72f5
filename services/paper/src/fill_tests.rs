#![allow(clippy::unwrap_used)]

use super::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fees() -> FeeModel {
    FeeModel {
        dex_pool_fee_pct: d("0.3"),
        dex_gas_usd: d("0.5"),
        cex_taker_fee_pct: d("0.1"),
        cex_spread_bps_at_listing: d("200"),
        cex_spread_bps_floor: d("20"),
        cex_spread_half_life_minutes: 60,
    }
}

fn dex(buy_tax: &str, sell_tax: &str) -> Market {
    Market { dex: true, price: d("0.5"), liquidity_usd: Some(d("20000")), volume_24h_usd: None, age_minutes: Some(3), buy_tax: d(buy_tax), sell_tax: d(sell_tax) }
}

fn close(a: Decimal, b: &str) {
    let diff = (a - d(b)).abs();
    assert!(diff < d("0.000000001"), "{a} != {b}");
}

/// Reference vectors from Uniswap V2's `getAmountOut` (amountIn·997·reserveOut / (reserveIn·1000 +
/// amountIn·997)), computed apart with Python's decimal module at 40 digits.
#[test]
fn v2_buy_matches_the_reference_vector() {
    let p = price(Ask::Buy { notional_usd: d("100") }, &dex("0.05", "0"), &fees(), &CapsConfig::default()).unwrap();
    close(p.quantity, "187.560026535441646781587571908");
    close(p.price, "0.504985");
    close(p.slippage_bps, "99.7");
    close(p.fee_usd, "0.3");
    // Tax: 5 % of the tokens out, at the execution price (= 5 % of the 99.7 USD that went in).
    close(p.tax_usd, "4.985");
    assert_eq!(p.gas_usd, d("0.5"));
}

#[test]
fn v2_sell_with_tax_matches_the_reference_vector() {
    let p = price(Ask::Sell { quantity: d("150") }, &dex("0", "0.10"), &fees(), &CapsConfig::default()).unwrap();
    close(p.notional_usd, "66.847632147554991793974500107");
    close(p.fee_usd, "0.199797700967481511215467610");
    close(p.price, "0.496647628507573876334740501");
    close(p.slippage_bps, "67.047429848522473305189967717");
}

#[test]
fn caps_refuse_large_orders() {
    let caps = CapsConfig::default();
    // 1000 USD into a 10 000 USD quote reserve moves the price ~10 %: above the 5 % cap.
    assert_eq!(price(Ask::Buy { notional_usd: d("1000") }, &dex("0", "0"), &fees(), &caps), Err(Refusal::ImpactCap));
    let mut m = dex("0", "0");
    m.volume_24h_usd = Some(d("500"));
    assert_eq!(price(Ask::Buy { notional_usd: d("100") }, &m, &fees(), &caps), Err(Refusal::ParticipationCap));
    m.liquidity_usd = None;
    m.volume_24h_usd = None;
    assert_eq!(price(Ask::Buy { notional_usd: d("100") }, &m, &fees(), &caps), Err(Refusal::NoLiquidity));
}

#[test]
fn cex_spread_decays_with_age_and_taker_fee_applies() {
    let f = fees();
    assert_eq!(cex_spread_bps(&f, Some(0)), d("200"));
    assert_eq!(cex_spread_bps(&f, Some(60)), d("110"));
    assert!(cex_spread_bps(&f, Some(6000)) < d("20.0001"));
    let m = Market { dex: false, price: d("2"), liquidity_usd: None, volume_24h_usd: None, age_minutes: Some(60), buy_tax: d("0"), sell_tax: d("0") };
    let p = price(Ask::Buy { notional_usd: d("100") }, &m, &f, &CapsConfig::default()).unwrap();
    // Half of 110 bps above the mark; 0.1 % taker fee off the notional.
    assert_eq!(p.price, d("2.011"));
    assert_eq!(p.fee_usd, d("0.1"));
    close(p.quantity, "49.676777722526");
    assert_eq!(p.slippage_bps, d("55"));
}
