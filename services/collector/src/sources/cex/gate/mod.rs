//! Gate: `GET /api/v4/spot/currency_pairs` (bare array; `buy_start` gives the go-live time).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments};
