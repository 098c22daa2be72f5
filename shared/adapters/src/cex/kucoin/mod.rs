//! KuCoin: `GET /api/v2/symbols`, `GET /api/v3/announcements` and `GET /api/v3/currencies/{currency}`.

pub mod client;
pub mod models;
pub mod parse;

pub use parse::{VENUE, parse_announcements, parse_currency, parse_instruments};
