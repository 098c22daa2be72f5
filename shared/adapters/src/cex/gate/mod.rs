//! Gate: `GET /api/v4/spot/currency_pairs` (bare array; `buy_start` gives the go-live time) and
//! `GET /api/v4/spot/currencies/{currency}` (chains and contracts of a currency).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_currency, parse_instruments};
