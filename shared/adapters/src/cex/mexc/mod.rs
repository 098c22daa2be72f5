//! MEXC: `GET /api/v3/exchangeInfo` (status `"1"` online, `"2"` pause, `"3"` offline).

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_instruments};
