//! Fill model `snapshot_v1`: prices a paper order from one market snapshot, no look-ahead (the caller
//! picks the first snapshot at or after decision time plus latency).
//!
//! * **DEX:** a constant-product (Uniswap V2) pool whose reserves are derived from `liquidity_usd`,
//!   assumed split half and half between the token and the quote at the snapshot price; the pool fee
//!   comes off the amount in; the token's buy/sell tax (risk facts) off the tokens; gas per swap.
//! * **CEX:** half the spread on each side, the spread decaying with listing age from
//!   `cex_spread_bps_at_listing` to `cex_spread_bps_floor`; plus the taker fee.
//! * Caps: price impact (DEX) or half-spread (CEX) above `max_impact_pct`, or an order above
//!   `max_participation_pct` of the 24 h volume, is refused with `impact_cap` / `participation_cap`.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::config::{CapsConfig, FeeModel};
use nl_domain::Side;

/// The model's version, carried on every fill.
pub const MODEL_VERSION: &str = "snapshot_v1";

/// What the model needs to know about the market at the fill snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    pub dex: bool,
    pub price: Decimal,
    pub liquidity_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
    pub age_minutes: Option<i64>,
    /// Token taxes as fractions (0.05 = 5 %), from the risk facts; unknown = 0.
    pub buy_tax: Decimal,
    pub sell_tax: Decimal,
}

/// An order to price: a buy spends `notional_usd`; a sell sells `quantity` tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ask {
    Buy { notional_usd: Decimal },
    Sell { quantity: Decimal },
}

impl Ask {
    #[must_use]
    pub fn side(self) -> Side {
        match self {
            Self::Buy { .. } => Side::Buy,
            Self::Sell { .. } => Side::Sell,
        }
    }
}

/// A priced fill.
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    /// Execution price (impact/spread included, fees and taxes apart).
    pub price: Decimal,
    /// Tokens received (buy, after tax) or sold (sell).
    pub quantity: Decimal,
    /// USD spent (buy, before gas) or received (sell, after fee and tax, before gas).
    pub notional_usd: Decimal,
    pub fee_usd: Decimal,
    pub tax_usd: Decimal,
    pub gas_usd: Decimal,
    /// `(price - mark) / mark`, bps, positive = against the trader.
    pub slippage_bps: Decimal,
    pub assumptions: Vec<String>,
}

/// Why an order does not fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoPrice,
    NoLiquidity,
    ImpactCap,
    ParticipationCap,
}

impl Refusal {
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::NoPrice => "no_fresh_price",
            Self::NoLiquidity => "no_liquidity",
            Self::ImpactCap => "impact_cap",
            Self::ParticipationCap => "participation_cap",
        }
    }
}

fn pct(p: Decimal) -> Decimal {
    p / Decimal::ONE_HUNDRED
}

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Rounds money and quantities to 12 decimal places so every fill is reproducible text.
fn r(d: Decimal) -> Decimal {
    d.round_dp(12).normalize()
}

/// Prices `ask` at `m`.
///
/// # Errors
/// The [`Refusal`] naming the missing input or the cap hit.
pub fn price(ask: Ask, m: &Market, fees: &FeeModel, caps: &CapsConfig) -> Result<Priced, Refusal> {
    if m.price <= Decimal::ZERO {
        return Err(Refusal::NoPrice);
    }
    let notional_guess = match ask {
        Ask::Buy { notional_usd } => notional_usd,
        Ask::Sell { quantity } => quantity * m.price,
    };
    if let Some(v) = m.volume_24h_usd.filter(|v| *v > Decimal::ZERO)
        && notional_guess > v * pct(caps.max_participation_pct)
    {
        return Err(Refusal::ParticipationCap);
    }
    if m.dex { dex(ask, m, fees, caps) } else { cex(ask, m, fees, caps) }
}

fn dex(ask: Ask, m: &Market, fees: &FeeModel, caps: &CapsConfig) -> Result<Priced, Refusal> {
    let liq = m.liquidity_usd.filter(|l| *l > Decimal::ZERO).ok_or(Refusal::NoLiquidity)?;
    let rq = liq / Decimal::TWO; // quote reserve, USD
    let rb = rq / m.price; // token reserve
    let f = pct(fees.dex_pool_fee_pct);
    let assumptions = vec![
        format!("reserves from liquidity_usd {liq}: quote {} USD, token {} at price {}", r(rq), r(rb), m.price),
        format!("pool fee {}%, buy tax {}, sell tax {}, gas {} USD", fees.dex_pool_fee_pct, m.buy_tax, m.sell_tax, fees.dex_gas_usd),
    ];
    match ask {
        Ask::Buy { notional_usd: n } => {
            let x = n * (Decimal::ONE - f);
            let out = rb * x / (rq + x);
            let exec = x / out;
            let impact = exec / m.price - Decimal::ONE;
            if impact > pct(caps.max_impact_pct) {
                return Err(Refusal::ImpactCap);
            }
            let received = out * (Decimal::ONE - m.buy_tax);
            Ok(Priced {
                price: r(exec),
                quantity: r(received),
                notional_usd: r(n),
                fee_usd: r(n * f),
                tax_usd: r((out - received) * exec),
                gas_usd: r(fees.dex_gas_usd),
                slippage_bps: r(impact * BPS),
                assumptions,
            })
        }
        Ask::Sell { quantity: q } => {
            let q_in = q * (Decimal::ONE - m.sell_tax);
            let gross = rq * q_in / (rb + q_in); // no fee
            let exec = gross / q_in;
            let impact = Decimal::ONE - exec / m.price;
            if impact > pct(caps.max_impact_pct) {
                return Err(Refusal::ImpactCap);
            }
            let x = q_in * (Decimal::ONE - f);
            let received = rq * x / (rb + x);
            Ok(Priced {
                price: r(exec),
                quantity: r(q),
                notional_usd: r(received),
                fee_usd: r(gross - received),
                tax_usd: r((q - q_in) * exec),
                gas_usd: r(fees.dex_gas_usd),
                slippage_bps: r(impact * BPS),
                assumptions,
            })
        }
    }
}

/// The CEX spread at `age_minutes` (unknown age: at listing), bps.
#[must_use]
pub fn cex_spread_bps(fees: &FeeModel, age_minutes: Option<i64>) -> Decimal {
    let age = age_minutes.unwrap_or(0).max(0);
    let half_life = f64::from(fees.cex_spread_half_life_minutes.max(1));
    #[allow(clippy::cast_precision_loss)]
    let decay = 0.5f64.powf(age as f64 / half_life);
    let span = (fees.cex_spread_bps_at_listing - fees.cex_spread_bps_floor).to_f64().unwrap_or(0.0);
    let extra = Decimal::from_f64_retain(span * decay).unwrap_or(Decimal::ZERO).round_dp(4);
    fees.cex_spread_bps_floor + extra
}

fn cex(ask: Ask, m: &Market, fees: &FeeModel, caps: &CapsConfig) -> Result<Priced, Refusal> {
    let spread = cex_spread_bps(fees, m.age_minutes);
    let half = spread / Decimal::TWO / BPS;
    if half > pct(caps.max_impact_pct) {
        return Err(Refusal::ImpactCap);
    }
    let taker = pct(fees.cex_taker_fee_pct);
    let assumptions = vec![format!("spread {spread} bps at age {:?} min, taker fee {}%", m.age_minutes, fees.cex_taker_fee_pct)];
    match ask {
        Ask::Buy { notional_usd: n } => {
            let exec = m.price * (Decimal::ONE + half);
            let fee = n * taker;
            Ok(Priced {
                price: r(exec),
                quantity: r((n - fee) / exec),
                notional_usd: r(n),
                fee_usd: r(fee),
                tax_usd: Decimal::ZERO,
                gas_usd: Decimal::ZERO,
                slippage_bps: r(half * BPS),
                assumptions,
            })
        }
        Ask::Sell { quantity: q } => {
            let exec = m.price * (Decimal::ONE - half);
            let gross = q * exec;
            let fee = gross * taker;
            Ok(Priced {
                price: r(exec),
                quantity: r(q),
                notional_usd: r(gross - fee),
                fee_usd: r(fee),
                tax_usd: Decimal::ZERO,
                gas_usd: Decimal::ZERO,
                slippage_bps: r(half * BPS),
                assumptions,
            })
        }
    }
}

#[cfg(test)]
#[path = "fill_tests.rs"]
mod tests;
