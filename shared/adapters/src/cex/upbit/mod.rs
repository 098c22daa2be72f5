//! Upbit: `GET /v1/market/all?isDetails=true`, a bare array of `QUOTE-BASE` markets (KRW, BTC and USDT
//! quotes). Every listed market trades; `market_event.warning` (investment warning) is kept as the raw status.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments};
