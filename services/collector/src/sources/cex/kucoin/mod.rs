//! KuCoin: `GET /api/v2/symbols` and `GET /api/v3/announcements`.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcements, parse_instruments};
