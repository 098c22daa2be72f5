//! Bybit: v5 `market/instruments-info?category=spot` and `announcements/index`.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcements, parse_instruments};
